"""Who is signed in, in this browser session: Streamlit glue around lib.auth (UI layer only).

The signed-in user lives in `st.session_state`; a cookie holding a random session token brings
them back after a browser reload (checked against the database, which also ends idle sessions).
A Supabase client holds one user's session, so it lives in `st.session_state` too, never in a
module global or `st.cache_resource`.
"""

from __future__ import annotations

import time

import streamlit as st

from lib.auth.adapters import AuthUser, LocalAuth, SupabaseAuth
from lib.auth.service import AuthService, SignedIn
from lib.config import load_settings
from lib.runtime import Runtime, open_runtime
from lib.workspaces import Membership, my_workspaces

COOKIE = "relata_session"
TOUCH_EVERY_S = 300  # how often an active browser session refreshes its last-seen time


@st.cache_resource(show_spinner="Starting the database…")
def runtime() -> Runtime:
    """The process-wide database runtime: the same for every user, so it may be cached."""
    return open_runtime(load_settings())


def auth_service(rt: Runtime) -> AuthService:
    if rt.settings.mode == "supabase":
        if "supabase_client" not in st.session_state:
            from supabase import create_client

            st.session_state.supabase_client = create_client(
                rt.settings.supabase_url, rt.settings.supabase_anon_key
            )
        adapter = SupabaseAuth(rt.db, st.session_state.supabase_client)
    else:
        adapter = LocalAuth(rt.db)
    return AuthService(rt.db, adapter, rt.settings.session_idle_hours)


def _set_cookie(token: str, max_age: int) -> None:
    # The token is our own URL-safe base64, never user text, so it is safe inside the script.
    # Set from JavaScript, so it cannot be HttpOnly; the database ends idle and signed-out sessions.
    secure = "; Secure" if (st.context.url or "").startswith("https://") else ""
    st.html(
        f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age={max_age}; SameSite=Lax{secure}';</script>",
        unsafe_allow_javascript=True,
    )


def remember(signed: SignedIn) -> None:
    """Make `signed` the user of this browser session and keep it across reloads."""
    st.session_state.user = signed.user
    st.session_state.session_token = signed.session_token
    st.session_state.last_active = st.session_state.last_touch = time.time()
    st.session_state.pending_cookie = signed.session_token
    if signed.workspace_id:
        st.session_state.workspace_id = signed.workspace_id


def forget(rt: Runtime, message: str | None = None) -> None:
    """Sign out here and in the database, and drop the cookie."""
    auth_service(rt).sign_out(st.session_state.get("session_token"))
    for key in ("user", "session_token", "workspace_id", "last_active", "last_touch", "supabase_client"):
        st.session_state.pop(key, None)
    st.session_state.pending_cookie = ""
    if message:
        st.session_state.flash = message


def flush_cookie() -> None:
    """Write (or clear) the session cookie decided during this run."""
    token = st.session_state.pop("pending_cookie", None)
    if token is not None:
        _set_cookie(token, 60 * 60 * 24 * 30 if token else 0)


def current_user(rt: Runtime) -> AuthUser | None:
    """The signed-in user, restored from the cookie if needed; None after idle expiry."""
    now = time.time()
    idle_s = rt.settings.session_idle_hours * 3600
    user = st.session_state.get("user")
    if user is not None:
        if now - st.session_state.get("last_active", now) > idle_s:
            forget(rt, "You were signed out after a long time without activity. Sign in again.")
            return None
        if now - st.session_state.get("last_touch", 0) > TOUCH_EVERY_S:
            if auth_service(rt).resume(st.session_state.get("session_token")) is None:
                forget(rt, "Your session ended. Sign in again.")
                return None
            st.session_state.last_touch = now
        st.session_state.last_active = now
        return user
    # After a sign-out the old cookie is still in this connection's headers, but its
    # session has ended in the database, so it no longer resumes.
    token = st.context.cookies.get(COOKIE)
    restored = auth_service(rt).resume(token) if isinstance(token, str) and token else None
    if restored is None:
        return None
    st.session_state.user = restored
    st.session_state.session_token = token
    st.session_state.last_active = st.session_state.last_touch = now
    return restored


def memberships(rt: Runtime, user: AuthUser) -> list[Membership]:
    """The user's workspaces, read once per run by app.py and kept for the page it runs."""
    st.session_state.memberships = my_workspaces(rt.db, user.claims)
    return st.session_state.memberships


def page_context() -> tuple[Runtime, AuthUser, list[Membership], Membership | None]:
    """What app.py established for this run: runtime, user, their workspaces, the active one."""
    options = st.session_state.memberships
    return runtime(), st.session_state.user, options, active_workspace(options)


def active_workspace(options: list[Membership]) -> Membership | None:
    """The workspace this session works in: the chosen one if still a member, else the first."""
    chosen = st.session_state.get("workspace_id")
    for membership in options:
        if membership.workspace_id == chosen:
            return membership
    if options:
        st.session_state.workspace_id = options[0].workspace_id
        return options[0]
    return None
