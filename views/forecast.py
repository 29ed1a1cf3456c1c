"""Placeholder: being built (issue 5)."""

import streamlit as st

st.title("Forecast")
st.info("This screen is being built.")
