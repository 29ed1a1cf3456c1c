"""Placeholder: being built (issue 5)."""

import streamlit as st

st.title("Deal")
st.info("This screen is being built.")
