"""The page shown instead of the app when Relata cannot start: what is wrong and what to do."""

from __future__ import annotations

import streamlit as st

from lib.config import ConfigError
from lib.embedded_pg import StartupError


def show_startup_error(exc: StartupError | ConfigError) -> None:
    st.title("Relata cannot start")
    if isinstance(exc, StartupError):
        st.error(exc.title, icon=":material/database:")
        st.info(exc.hint, icon=":material/lightbulb:")
        if exc.detail:
            with st.expander("Technical details"):
                st.code(exc.detail, language=None)
    else:
        st.error(str(exc), icon=":material/settings:")
        st.info(
            "Settings come from environment variables or `.streamlit/secrets.toml`. "
            "Fix the setting and reload this page.",
            icon=":material/lightbulb:",
        )
    st.button("Try again", icon=":material/refresh:", key="retry_startup")
