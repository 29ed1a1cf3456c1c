"""Streamlit helpers shared by app.py and the pages: session, forms, start-up errors. No SQL here."""
