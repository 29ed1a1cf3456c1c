"""Invitation links (`?invite=<token>`): making one, and offering one opened by someone already
signed in (accept it or not)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from lib import workspaces
from lib.text import md_escape
from ui.forms import attempt


def invite_link(token: str) -> str:
    """The app's own address with ?invite=…, keeping any path prefix it is served under."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    base_path = parts.path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, base_path, f"invite={token}", ""))


def offer_invitation(rt, user) -> None:
    """Show the invitation in the URL, if any, with Accept and Not now."""
    invite_token = st.query_params.get("invite")
    if invite_token:
        invite = workspaces.invitation_preview(rt.db, invite_token)
        with st.container(border=True):
            if invite and invite["usable"]:
                name = md_escape(invite["workspace_name"])
                st.markdown(f":material/mail: **{name}** invites you to its customer portal."
                            if invite["role"] == "portal" else
                            f":material/mail: You are invited to join **{name}** as {invite['role']}.")
                accept, dismiss = st.columns(2)
                if accept.button("Accept invitation", type="primary", key="accept_invite"):
                    joined = attempt(lambda: workspaces.accept_invitation(rt.db, user.claims, invite_token))
                    if joined:
                        st.session_state.workspace_id = joined
                        st.session_state.flash = f"You joined {md_escape(invite['workspace_name'])}."
                        st.query_params.pop("invite", None)
                        st.rerun()
                if dismiss.button("Not now", key="dismiss_invite"):
                    st.query_params.pop("invite", None)
                    st.rerun()
            else:
                st.warning("This invitation link is not valid any more. Ask for a new one.")
                if st.button("Close", key="dismiss_invite"):
                    st.query_params.pop("invite", None)
                    st.rerun()
