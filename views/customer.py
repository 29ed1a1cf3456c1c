"""Placeholder: being built (issue 4)."""

import streamlit as st

st.title("duplicates")
st.info("This screen is being built.")
