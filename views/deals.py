"""Placeholder: being built (issue 5)."""

import streamlit as st

st.title("Deals")
st.info("This screen is being built.")
