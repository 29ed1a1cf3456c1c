"""Public page for a tracked link in an email (`?click=<token>`, no sign-in).

Records the click (lib.email_clicks, as service_role) and offers the original address: Streamlit
cannot answer with an HTTP redirect. Reloading the page in the same session records nothing new.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from lib import email_clicks
from lib.errors import UserError
from lib.text import md_escape
from ui import session

rt = session.runtime()
token = st.query_params.get("click", "")

left, middle, right = st.columns([1, 2, 1])
with middle:
    recorded = st.session_state.setdefault("clicked_links", {})
    if token not in recorded:
        try:
            recorded[token] = email_clicks.record_click(rt.db, token)
        except UserError as exc:
            st.title("Link not valid")
            st.error(str(exc), icon=":material/link_off:")
            st.stop()
    url = recorded[token]
    st.title("Continue")
    st.markdown(f"This link from the email leads to **{md_escape(urlsplit(url).netloc)}**.")
    st.link_button("Continue", url, type="primary", icon=":material/open_in_new:")
    st.caption(md_escape(url))
