"""Sign-in screen: sign in, or create an account (with a new workspace, or through an invitation)."""

from __future__ import annotations

import streamlit as st

from lib.auth.passwords import MIN_LENGTH
from lib.workspaces import invitation_preview
from ui import session
from ui.forms import FieldSlots, attempt
from lib.text import md_escape

rt = session.runtime()
auth = session.auth_service(rt)
invite_token = st.query_params.get("invite")
invite = invitation_preview(rt.db, invite_token) if invite_token else None

left, middle, right = st.columns([1, 2, 1])
with middle:
    st.title(":material/handshake: Relata CRM")
    if flash := st.session_state.pop("flash", None):
        st.info(flash)
    if invite_token:
        if invite and invite["usable"]:
            offer = (f"**{md_escape(invite['workspace_name'])}** invites you to its customer portal, to follow your "
                     "requests and keep your details up to date." if invite["role"] == "portal" else
                     f"You are invited to join **{md_escape(invite['workspace_name'])}** as {invite['role']}.")
            st.success(f"{offer} Create your account below, or sign in if you already have one.",
                       icon=":material/mail:")
        else:
            st.warning("This invitation link is not valid any more. Ask for a new one.", icon=":material/link_off:")
            invite_token = None

    sign_in_tab, sign_up_tab = st.tabs(["Sign in", "Create account"], default="Create account" if invite_token else None)

    with sign_in_tab:
        with st.form("sign_in_form"):
            slots = FieldSlots()
            email = st.text_input("Email", key="signin_email", autocomplete="email")
            slots.under("email")
            password = st.text_input("Password", type="password", key="signin_password", autocomplete="current-password")
            slots.under("password")
            if st.form_submit_button("Sign in", type="primary", key="signin_submit", width="stretch"):
                with st.spinner("Checking…"):
                    signed = attempt(lambda: auth.sign_in(email, password), slots)
                if signed:
                    session.remember(signed)
                    st.rerun()

    with sign_up_tab:
        with st.form("sign_up_form"):
            slots = FieldSlots()
            name = st.text_input("Your name", key="signup_name", autocomplete="name")
            slots.under("display_name")
            new_email = st.text_input(
                "Email", key="signup_email", autocomplete="email",
                value=invite["email"] if invite and invite["email"] else "",
            )
            slots.under("email")
            new_password = st.text_input(
                "Password", type="password", key="signup_password", autocomplete="new-password",
                help=f"At least {MIN_LENGTH} characters, mixing letters with a digit or symbol.",
            )
            slots.under("password")
            workspace_name = None
            if not invite_token:
                workspace_name = st.text_input(
                    "Business name", key="signup_workspace", placeholder="e.g. Harbour Bikes",
                    help="Your workspace: everything your team shares. You become its owner.",
                )
                slots.under("workspace_name")
            slots.under("invite")
            label = "Join workspace" if invite_token and invite["role"] != "portal" else "Create account"
            if st.form_submit_button(label, type="primary", key="signup_submit", width="stretch"):
                with st.spinner("Creating your account…"):
                    signed = attempt(
                        lambda: auth.sign_up(new_email, new_password, name, workspace_name, invite_token), slots
                    )
                if signed:
                    session.remember(signed)
                    st.query_params.pop("invite", None)
                    st.session_state.flash = "Welcome to Relata!"
                    st.rerun()
