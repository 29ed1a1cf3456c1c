"""lib.auth.service with the local adapter, and the invitation / membership rules of lib.workspaces.

Everything runs against the session's real database. Each sign-up costs one bcrypt hash, so
users are shared per module where a test does not change them in a way another test would see;
tests that lock, sign out or change passwords use users of their own.
"""

from __future__ import annotations

import hashlib
import statistics
import time

import pytest

from lib import workspaces
from lib.auth.service import WRONG_CREDENTIALS
from lib.errors import ConflictError, FormErrors, UserError
from tests.conftest import PASSWORD, unique_email

WRONG = "wrong horse 42"


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def team(factory):
    """A workspace with an owner, an admin and a viewer (not changed by the tests)."""
    owner, ws = factory.owner("Team Ltd")
    admin = factory.member(owner, ws, "admin")
    viewer = factory.member(owner, ws, "viewer")
    return {"owner": owner, "ws": ws, "admin": admin, "viewer": viewer}


@pytest.fixture(scope="module")
def outsider(factory):
    """A signed-up user with a workspace of their own, to try invitation links with."""
    user, _ = factory.owner("Outsider Co")
    return user


def membership(db, user, ws) -> str | None:
    return next((m.role for m in workspaces.my_workspaces(db, user.claims) if m.workspace_id == ws), None)


# -- sign-up ------------------------------------------------------------------------------------


def test_sign_up_creates_user_profile_workspace_and_audit(auth, admin_conn):
    email = unique_email("Signup")  # capital letter: stored lower-cased
    signed = auth.sign_up(email, PASSWORD, "  Sam   Signup ", "Sam's Shop")
    user = admin_conn.execute(
        "select id, email, encrypted_password, aud, role, email_confirmed_at, raw_user_meta_data"
        " from auth.users where id = %s",
        [signed.user.id],
    ).fetchone()
    assert user["email"] == email.lower() == signed.user.email
    assert user["encrypted_password"][:4] in ("$2a$", "$2b$")
    assert PASSWORD not in user["encrypted_password"]
    assert (user["aud"], user["role"]) == ("authenticated", "authenticated")
    assert user["email_confirmed_at"] is not None
    assert user["raw_user_meta_data"] == {"display_name": "Sam Signup"}

    profile = admin_conn.execute(
        "select display_name, email from public.profiles where id = %s", [signed.user.id]
    ).fetchone()
    assert profile == {"display_name": "Sam Signup", "email": email.lower()}

    ws = admin_conn.execute(
        "select w.name, w.created_by, m.role from public.workspaces w"
        " join public.workspace_members m on m.workspace_id = w.id where w.id = %s",
        [signed.workspace_id],
    ).fetchall()
    assert ws == [{"name": "Sam's Shop", "created_by": user["id"], "role": "owner"}]

    audit = admin_conn.execute(
        "select table_name, action, changed_by from public.audit_log where workspace_id = %s order by id",
        [signed.workspace_id],
    ).fetchall()
    assert {"table_name": "workspaces", "action": "insert", "changed_by": user["id"]} in audit
    assert {"table_name": "workspace_members", "action": "insert", "changed_by": user["id"]} in audit

    assert auth.resume(signed.session_token) == signed.user


@pytest.mark.parametrize(
    "password, why",
    [
        ("short1!", "at least"),
        ("onlyletterslong", "digit or symbol"),
        ("1234567890", "digit or symbol"),
        ("{email}", "email address"),
        ("{local}", "email address"),
    ],
)
def test_password_rules(auth, admin_conn, password, why):
    email = unique_email("rules")
    password = password.format(email=email, local=email.split("@")[0])
    with pytest.raises(FormErrors) as caught:
        auth.sign_up(email, password, "Rita Rules", "Rules Inc")
    assert set(caught.value.errors) == {"password"}
    assert why in caught.value.errors["password"]
    assert admin_conn.execute("select count(*) as n from auth.users where email = %s", [email]).fetchone()["n"] == 0


def test_sign_up_form_errors_name_every_field(auth):
    with pytest.raises(FormErrors) as caught:
        auth.sign_up("not-an-email", "x", " ", "")
    assert set(caught.value.errors) == {"email", "display_name", "workspace_name", "password"}


def test_duplicate_email(auth, team, admin_conn):
    email = team["owner"].email
    with pytest.raises(UserError, match="already exists") as caught:
        auth.sign_up(email.upper(), PASSWORD, "Copy Cat", "Copy Co")
    assert not isinstance(caught.value, FormErrors)
    assert admin_conn.execute(
        "select count(*) as n from public.workspaces where name = 'Copy Co'"
    ).fetchone()["n"] == 0


# -- sign-in ------------------------------------------------------------------------------------


def test_sign_in_needs_both_fields(auth):
    with pytest.raises(FormErrors) as caught:
        auth.sign_in("  ", "")
    assert set(caught.value.errors) == {"email", "password"}


def test_wrong_password_and_unknown_email_look_the_same(auth, factory, admin_conn):
    user, _ = factory.owner("Timing Ltd")
    unknown = unique_email("nobody")
    assert auth.sign_in(user.email, PASSWORD).user == user  # warm up both paths
    wrong_times, unknown_times, messages = [], [], set()
    try:
        for _ in range(4):  # fewer than 5 failures per email: no lockout in between
            for email, times in ((user.email, wrong_times), (unknown, unknown_times)):
                start = time.perf_counter()
                with pytest.raises(UserError) as caught:
                    auth.sign_in(email, WRONG)
                times.append(time.perf_counter() - start)
                messages.add(str(caught.value))
    finally:
        admin_conn.execute("delete from private.sign_in_failures where email = any(%s)", [[user.email, unknown]])
    assert messages == {WRONG_CREDENTIALS}
    ratio = statistics.median(wrong_times) / statistics.median(unknown_times)
    assert 0.5 < ratio < 2, (wrong_times, unknown_times)


def test_lockout_after_five_failures(auth, factory, team):
    user, _ = factory.owner("Locked Ltd")
    for _ in range(5):
        with pytest.raises(UserError, match=WRONG_CREDENTIALS):
            auth.sign_in(user.email, WRONG)
    with pytest.raises(UserError, match="Try again in") as caught:
        auth.sign_in(user.email, PASSWORD)
    assert "minute" in str(caught.value)
    with pytest.raises(UserError, match="Try again in"):
        auth.sign_in(f"  {user.email.upper()} ", PASSWORD)  # same email, other spelling
    assert auth.locked_until(user.email) is not None
    # Other emails are not affected.
    assert auth.locked_until(team["viewer"].email) is None
    assert auth.sign_in(team["viewer"].email, PASSWORD).user == team["viewer"]


def test_a_success_resets_the_failure_count(auth, factory):
    user, _ = factory.owner("Reset Ltd")
    for _round in range(2):
        for _ in range(4):
            with pytest.raises(UserError, match=WRONG_CREDENTIALS):
                auth.sign_in(user.email, WRONG)
        assert auth.sign_in(user.email, PASSWORD).user == user  # 8 failures in all, never 5 in a row


# -- sessions -----------------------------------------------------------------------------------


def test_sessions_resume_and_sign_out(auth, factory):
    signed = auth.sign_up(unique_email("session"), PASSWORD, "Sid Session", "Session Ltd")
    assert auth.resume(signed.session_token) == signed.user
    assert auth.resume(signed.session_token) == signed.user  # resuming does not use it up
    assert auth.resume(None) is None
    assert auth.resume("not-a-token") is None
    second = auth.sign_in(signed.user.email, PASSWORD)
    auth.sign_out(signed.session_token)
    assert auth.resume(signed.session_token) is None
    assert auth.resume(second.session_token) == signed.user  # other browsers stay signed in
    auth.sign_out(None)  # harmless


def test_idle_sessions_end(auth, team, admin_conn):
    user = team["admin"]
    idle = auth.sign_in(user.email, PASSWORD)
    recent = auth.sign_in(user.email, PASSWORD)
    admin_conn.execute(
        "update private.app_sessions set last_seen_at = now() - interval '9 hours' where token_hash = %s",
        [sha256_hex(idle.session_token)],
    )
    admin_conn.execute(
        "update private.app_sessions set last_seen_at = now() - interval '7 hours' where token_hash = %s",
        [sha256_hex(recent.session_token)],
    )
    assert auth.resume(idle.session_token) is None
    assert auth.resume(recent.session_token) == user
    row = admin_conn.execute(
        "select last_seen_at > now() - interval '1 minute' as touched from private.app_sessions"
        " where token_hash = %s",
        [sha256_hex(recent.session_token)],
    ).fetchone()
    assert row["touched"], "resuming marks the session as used"


def test_session_tokens_are_stored_hashed(auth, team, admin_conn):
    signed = auth.sign_in(team["viewer"].email, PASSWORD)
    assert admin_conn.execute(
        "select count(*) as n from private.app_sessions where token_hash = %s", [signed.session_token]
    ).fetchone()["n"] == 0
    assert admin_conn.execute(
        "select user_id::text from private.app_sessions where token_hash = %s", [sha256_hex(signed.session_token)]
    ).fetchone()["user_id"] == team["viewer"].id


def test_change_password(auth, factory):
    user, _ = factory.owner("Password Ltd")
    new = "battery staple 7"
    with pytest.raises(FormErrors) as caught:
        auth.change_password(user, WRONG, new, new)
    assert set(caught.value.errors) == {"current"}
    with pytest.raises(FormErrors) as caught:
        auth.change_password(user, PASSWORD, new, new + "x")
    assert "confirm" in caught.value.errors
    with pytest.raises(FormErrors) as caught:
        auth.change_password(user, PASSWORD, "short", "short")
    assert "new" in caught.value.errors
    with pytest.raises(FormErrors) as caught:
        auth.change_password(user, PASSWORD, PASSWORD, PASSWORD)
    assert "new" in caught.value.errors

    auth.change_password(user, PASSWORD, new, new)
    assert auth.sign_in(user.email, new).user == user
    with pytest.raises(UserError, match=WRONG_CREDENTIALS):
        auth.sign_in(user.email, PASSWORD)


# -- invitations --------------------------------------------------------------------------------


def test_accepting_an_invitation_gives_its_role(auth, db, team):
    token = workspaces.invite(db, team["owner"].claims, team["ws"], "manager")
    preview = workspaces.invitation_preview(db, token)
    assert preview["workspace_name"] == "Team Ltd" and preview["role"] == "manager" and preview["usable"]
    signed = auth.sign_up(unique_email("invited"), PASSWORD, "Ivy Invited", invite_token=token)
    assert signed.workspace_id == team["ws"]
    mine = workspaces.my_workspaces(db, signed.user.claims)
    assert [(m.workspace_id, m.role) for m in mine] == [(team["ws"], "manager")]  # no workspace of their own
    assert workspaces.invitation_preview(db, token)["usable"] is False


def test_an_invitation_works_once(auth, db, team, outsider):
    token = workspaces.invite(db, team["owner"].claims, team["ws"], "agent")
    first = auth.sign_up(unique_email("once"), PASSWORD, "Otto Once", invite_token=token).user
    assert membership(db, first, team["ws"]) == "agent"
    with pytest.raises(UserError, match="already been used"):
        workspaces.accept_invitation(db, outsider.claims, token)
    assert membership(db, outsider, team["ws"]) is None
    with pytest.raises(FormErrors) as caught:
        auth.sign_up(unique_email("twice"), PASSWORD, "Tina Twice", invite_token=token)
    assert "invite" in caught.value.errors


def test_an_expired_invitation_is_refused(db, team, outsider, admin_conn):
    token = workspaces.invite(db, team["owner"].claims, team["ws"], "agent")
    admin_conn.execute(
        "update public.invitations set expires_at = now() - interval '1 day' where token_hash = %s",
        [sha256_hex(token)],
    )
    with pytest.raises(UserError, match="expired"):
        workspaces.accept_invitation(db, outsider.claims, token)
    assert membership(db, outsider, team["ws"]) is None
    assert workspaces.invitation_preview(db, token)["usable"] is False


def test_a_revoked_or_unknown_invitation_is_refused(db, team, outsider, admin_conn):
    token = workspaces.invite(db, team["owner"].claims, team["ws"], "agent")
    invitation_id = admin_conn.execute(
        "select id from public.invitations where token_hash = %s", [sha256_hex(token)]
    ).fetchone()["id"]
    assert invitation_id in [i["id"] for i in workspaces.invitations(db, team["owner"].claims, team["ws"])]
    workspaces.revoke_invitation(db, team["owner"].claims, invitation_id)
    assert invitation_id not in [i["id"] for i in workspaces.invitations(db, team["owner"].claims, team["ws"])]
    with pytest.raises(UserError, match="not valid"):
        workspaces.accept_invitation(db, outsider.claims, token)
    with pytest.raises(UserError, match="not valid"):
        workspaces.accept_invitation(db, outsider.claims, "made-up-token")
    assert workspaces.invitation_preview(db, "made-up-token") is None


def test_an_email_bound_invitation_refuses_other_emails(auth, db, team, outsider):
    invitee = unique_email("bound")
    token = workspaces.invite(db, team["owner"].claims, team["ws"], "viewer", email=invitee.upper())
    assert workspaces.invitation_preview(db, token)["email"] == invitee
    with pytest.raises(UserError, match="another email"):
        workspaces.accept_invitation(db, outsider.claims, token)
    with pytest.raises(FormErrors) as caught:
        auth.sign_up(unique_email("notbound"), PASSWORD, "Nora Wrong", invite_token=token)
    assert invitee in caught.value.errors["email"]
    signed = auth.sign_up(invitee, PASSWORD, "Bea Bound", invite_token=token)
    assert membership(db, signed.user, team["ws"]) == "viewer"


def test_who_may_invite(db, team):
    with pytest.raises(UserError, match="Only owners and admins"):
        workspaces.invite(db, team["viewer"].claims, team["ws"], "agent")
    assert workspaces.invite(db, team["admin"].claims, team["ws"], "agent")
    with pytest.raises(FormErrors) as caught:
        workspaces.invite(db, team["owner"].claims, team["ws"], "owner")
    assert "role" in caught.value.errors
    with pytest.raises(FormErrors) as caught:
        workspaces.invite(db, team["owner"].claims, team["ws"], "agent", email="not an email")
    assert "email" in caught.value.errors


# -- members and roles --------------------------------------------------------------------------


def member_row(db, owner, ws, user) -> dict:
    return next(m for m in workspaces.members(db, owner.claims, ws) if str(m["user_id"]) == user.id)


def test_an_admin_cannot_make_or_unmake_owners(db, team):
    viewer = member_row(db, team["owner"], team["ws"], team["viewer"])
    with pytest.raises(UserError, match="Only owners"):
        workspaces.set_member_role(db, team["admin"].claims, viewer["id"], "owner", viewer["version"])
    owner = member_row(db, team["owner"], team["ws"], team["owner"])
    with pytest.raises(UserError):
        workspaces.set_member_role(db, team["admin"].claims, owner["id"], "viewer", owner["version"])
    with pytest.raises(UserError):
        workspaces.remove_member(db, team["admin"].claims, owner["id"], owner["version"])
    assert member_row(db, team["owner"], team["ws"], team["viewer"])["role"] == "viewer"
    assert member_row(db, team["owner"], team["ws"], team["owner"])["role"] == "owner"


def test_a_viewer_cannot_change_roles(db, team):
    admin = member_row(db, team["owner"], team["ws"], team["admin"])
    with pytest.raises(UserError):
        workspaces.set_member_role(db, team["viewer"].claims, admin["id"], "viewer", admin["version"])
    assert member_row(db, team["owner"], team["ws"], team["admin"])["role"] == "admin"


def test_the_last_owner_cannot_leave_or_step_down(db, factory):
    owner, ws = factory.owner("Solo Ltd")
    me = member_row(db, owner, ws, owner)
    with pytest.raises(UserError, match="at least one owner"):
        workspaces.remove_member(db, owner.claims, me["id"], me["version"])
    with pytest.raises(UserError, match="at least one owner"):
        workspaces.set_member_role(db, owner.claims, me["id"], "admin", me["version"])
    assert member_row(db, owner, ws, owner)["role"] == "owner"

    # With a second owner, the first may step down.
    second = factory.member(owner, ws, "owner")
    workspaces.set_member_role(db, owner.claims, me["id"], "admin", me["version"])
    assert member_row(db, second, ws, owner)["role"] == "admin"


def test_stale_role_change_is_a_conflict(db, team, factory):
    agent = factory.member(team["owner"], team["ws"], "agent")
    row = member_row(db, team["owner"], team["ws"], agent)
    workspaces.set_member_role(db, team["owner"].claims, row["id"], "manager", row["version"])
    with pytest.raises(ConflictError):
        workspaces.set_member_role(db, team["admin"].claims, row["id"], "viewer", row["version"])
    assert member_row(db, team["owner"], team["ws"], agent)["role"] == "manager"


# -- workspace rename ---------------------------------------------------------------------------


def test_rename_with_a_stale_version_is_a_conflict(db, factory):
    owner, ws = factory.owner("Before Ltd")
    version = workspaces.overview(db, owner.claims, ws)["version"]
    assert workspaces.rename(db, owner.claims, ws, "  After   Ltd ", version) == version + 1
    with pytest.raises(ConflictError) as caught:
        workspaces.rename(db, owner.claims, ws, "Mine Ltd", version)
    assert "After Ltd" in str(caught.value)
    assert caught.value.current == {"name": "After Ltd", "version": version + 1}
    with pytest.raises(FormErrors) as caught:
        workspaces.rename(db, owner.claims, ws, "   ", version + 1)
    assert "name" in caught.value.errors
    assert workspaces.overview(db, owner.claims, ws)["name"] == "After Ltd"


def test_a_viewer_cannot_rename(db, team):
    version = workspaces.overview(db, team["viewer"].claims, team["ws"])["version"]
    with pytest.raises(UserError, match="Only owners and admins") as caught:
        workspaces.rename(db, team["viewer"].claims, team["ws"], "Hijacked", version)
    assert not isinstance(caught.value, ConflictError)
    assert workspaces.overview(db, team["owner"].claims, team["ws"])["name"] == "Team Ltd"
