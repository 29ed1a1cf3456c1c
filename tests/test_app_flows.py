"""UI flows with Streamlit's AppTest, on the real embedded database."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import workspaces
from tests.conftest import PASSWORD, unique_email

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def fresh_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def sign_up(at: AppTest, email: str, workspace: str | None = "Harbour Bikes", password: str = PASSWORD) -> AppTest:
    at.text_input(key="signup_name").input("Ann Example")
    at.text_input(key="signup_email").input(email)
    at.text_input(key="signup_password").input(password)
    if workspace is not None:
        at.text_input(key="signup_workspace").input(workspace)
    return at.button(key="signup_submit").click().run()


def sign_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="signin_email").input(email)
    at.text_input(key="signin_password").input(password)
    return at.button(key="signin_submit").click().run()


def test_sign_up_lands_on_home():
    at = sign_up(fresh_app(), unique_email("ann"))
    assert not at.exception
    assert at.title[0].value == "Harbour Bikes"
    assert "Get started" in texts(at)
    assert at.session_state.user.email.startswith("ann")


def test_sign_up_errors_stay_beside_fields_and_keep_input():
    at = sign_up(fresh_app(), "not-an-email", workspace="", password="short")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "valid email" in errors and "at least 10" in errors and "workspace name" in errors
    assert at.text_input(key="signup_email").value == "not-an-email"
    assert "user" not in at.session_state


def test_wrong_password_shows_error_and_no_session(factory):
    user, _ = factory.owner()
    at = sign_in(fresh_app(), user.email, "wrong password 1")
    assert "Wrong email or password." in [e.value for e in at.error]
    assert "user" not in at.session_state
    at = sign_in(fresh_app(), "nobody-" + user.email, "wrong password 1")
    assert "Wrong email or password." in [e.value for e in at.error]


def test_lockout_after_five_failures(factory):
    user, _ = factory.owner()
    at = fresh_app()
    for _ in range(5):
        at = sign_in(at, user.email, "wrong password 1")
    at = sign_in(at, user.email)  # the right password, but locked
    assert any("Try again in" in e.value for e in at.error)
    assert "user" not in at.session_state


def test_sign_in_then_sign_out(factory):
    user, _ = factory.owner("Sign Out Co")
    at = sign_in(fresh_app(), user.email)
    assert at.title[0].value == "Sign Out Co"
    at = at.button(key="sign_out").click().run()
    assert "user" not in at.session_state
    assert at.button(key="signin_submit")


def test_invitation_accepted_with_right_role(factory, db):
    owner, ws = factory.owner("Invite Co")
    token = workspaces.invite(db, owner.claims, ws, "agent")
    at = fresh_app(invite=token)
    assert "invited to join **Invite Co** as agent" in texts(at)
    at.text_input(key="signup_name").input("Gus Agent")
    at.text_input(key="signup_email").input(unique_email("gus"))
    at.text_input(key="signup_password").input(PASSWORD)
    at = at.button(key="signup_submit").click().run()
    assert not at.exception
    assert at.title[0].value == "Invite Co"
    assert "Your role: agent" in texts(at)


def test_signed_in_user_accepts_invitation_link(factory, db):
    owner, ws = factory.owner("Second Co")
    other, _ = factory.owner("Own Co")
    token = workspaces.invite(db, owner.claims, ws, "manager")
    at = sign_in(fresh_app(invite=token), other.email)
    at = at.button(key="accept_invite").click().run()
    assert at.title[0].value == "Second Co"
    assert "Your role: manager" in texts(at)
    assert at.selectbox(key="workspace_picker")  # two workspaces now: the switcher shows


def test_viewer_sees_no_edit_controls(factory):
    owner, ws = factory.owner("Viewer Co")
    viewer = factory.member(owner, ws, "viewer")
    at = sign_in(fresh_app(), viewer.email)
    at.switch_page("views/settings.py").run()
    assert not at.exception
    keys = {w.key for w in at.button} | {w.key for w in at.text_input} | {w.key for w in at.selectbox}
    assert "workspace_save" not in keys and "invite_submit" not in keys and "member_save" not in keys
    assert at.text_input(key="workspace_name_readonly").disabled


def test_owner_invites_from_settings_and_sees_link(factory):
    owner, _ = factory.owner("Link Co")
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/settings.py").run()
    at.selectbox(key="invite_role").select("viewer")
    at = at.button(key="invite_submit").click().run()
    assert not at.exception
    assert "?invite=" in at.code[0].value


def test_rename_conflict_shows_both_versions(factory, db):
    owner, ws = factory.owner("Conflict Co")
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/settings.py").run()
    workspaces.rename(db, owner.claims, ws, "Renamed Elsewhere", 1)
    at.text_input(key="workspace_name").input("My Name")
    at = at.button(key="workspace_save").click().run()
    warning = " ".join(w.value for w in at.warning)
    assert "Renamed Elsewhere" in warning and "My Name" in warning


@pytest.mark.parametrize("query", [{}, {"customer": "42"}])
def test_deep_link_query_survives_sign_in(factory, query):
    user, _ = factory.owner()
    at = fresh_app(**query)
    at = sign_in(at, user.email)
    assert dict(at.query_params) == {k: [v] for k, v in query.items()} or dict(at.query_params) == query


def test_unreachable_database_shows_a_page_not_a_traceback(monkeypatch):
    from ui import session

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/relata")
    session.runtime.clear()
    try:
        at = fresh_app()
        assert not at.exception
        assert at.title[0].value == "Relata cannot start"
        assert "Cannot reach the database at 127.0.0.1:1/relata" in at.error[0].value
        assert "secret" not in texts(at)
    finally:
        monkeypatch.delenv("DATABASE_URL")
        session.runtime.clear()


def test_idle_session_is_signed_out(factory):
    user, _ = factory.owner("Idle Co")
    at = sign_in(fresh_app(), user.email)
    assert at.title[0].value == "Idle Co"
    at.session_state.last_active = at.session_state.last_active - 9 * 3600
    at.run()
    assert "user" not in at.session_state
    assert "signed out after a long time" in texts(at)
