"""Placeholder: being built (issue 4)."""

import streamlit as st

st.title("import_customers")
st.info("This screen is being built.")
