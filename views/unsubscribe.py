"""Public unsubscribe page (`?unsubscribe=<token>`, no sign-in): confirm, then consent is cleared.

app.py runs this page before the sign-in gate; everything it does goes through lib.unsubscribe
(service_role: the visitor is nobody's session).
"""

from __future__ import annotations

import streamlit as st

from lib import unsubscribe
from lib.errors import UserError
from lib.text import md_escape
from ui import session

rt = session.runtime()
token = st.query_params.get("unsubscribe", "")

left, middle, right = st.columns([1, 2, 1])
with middle:
    st.title("Unsubscribe")
    done = st.session_state.get("unsubscribed_token") == token
    try:
        info = unsubscribe.preview(rt.db, token)
    except UserError as exc:
        st.error(str(exc), icon=":material/link_off:")
        st.stop()
    who, where = md_escape(info["email"]), md_escape(info["workspace_name"])
    if done or info["already"]:
        st.success(f"{who} is unsubscribed: {where} will not send you marketing emails any more.",
                   icon=":material/check_circle:")
        st.stop()
    st.markdown(f"Unsubscribe **{who}** from the emails of **{where}**?")
    st.caption("You will stop receiving marketing emails from them. Messages about your own orders "
               "or requests may still reach you.")
    if st.button("Unsubscribe", type="primary", key="unsubscribe_confirm", icon=":material/unsubscribe:"):
        try:
            unsubscribe.unsubscribe(rt.db, token)
        except UserError as exc:
            st.error(str(exc), icon=":material/link_off:")
            st.stop()
        st.session_state.unsubscribed_token = token
        st.rerun()
