"""Rules that close privilege and information leaks around members, profiles, audit and sign-in."""

from __future__ import annotations

import psycopg
import pytest

from lib import workspaces
from lib.config import Settings
from lib.embedded_pg import StartupError
from lib.errors import FormErrors, UserError
from lib.runtime import open_runtime
from tests.conftest import PASSWORD, unique_email


def test_admin_cannot_write_someone_into_a_workspace(factory, db):
    owner, ws = factory.owner()
    admin = factory.member(owner, ws, "admin")
    stranger, _ = factory.owner()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_user(admin.claims) as conn:
            conn.execute(
                "insert into public.workspace_members (workspace_id, user_id, role) values (%s, %s, 'agent')",
                [ws, stranger.id],
            )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_user(admin.claims) as conn:
            conn.execute("update public.workspace_members set user_id = %s where user_id = %s", [stranger.id, admin.id])


def test_profile_email_is_not_user_editable_and_follows_auth(factory, db, admin_conn):
    user, _ = factory.owner()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_user(user.claims) as conn:
            conn.execute("update public.profiles set email = 'boss@example.com' where id = %s", [user.id])
    with db.as_user(user.claims) as conn:
        conn.execute("update public.profiles set display_name = 'New Name' where id = %s", [user.id])
    new_email = unique_email("moved")
    admin_conn.execute("update auth.users set email = %s where id = %s", [new_email, user.id])
    assert admin_conn.execute("select email from public.profiles where id = %s", [user.id]).fetchone()["email"] == new_email


def test_authenticated_can_truncate_nothing(admin_conn):
    rows = admin_conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p')"
        " and (has_table_privilege('authenticated', c.oid, 'TRUNCATE')"
        "   or has_table_privilege('authenticated', c.oid, 'TRIGGER'))"
    ).fetchall()
    assert rows == [], f"revoke truncate, trigger from authenticated on: {[r['relname'] for r in rows]}"


def test_viewers_do_not_see_invitation_audit_rows(factory, db):
    owner, ws = factory.owner()
    viewer = factory.member(owner, ws, "viewer")
    workspaces.invite(db, owner.claims, ws, "agent", unique_email("secret-invitee"))
    with db.as_user(viewer.claims) as conn:
        tables = {r["table_name"] for r in conn.execute("select table_name from public.audit_log where workspace_id = %s", [ws])}
    with db.as_user(owner.claims) as conn:
        owner_tables = {r["table_name"] for r in conn.execute("select table_name from public.audit_log where workspace_id = %s", [ws])}
    assert "invitations" in owner_tables and "invitations" not in tables


def test_anon_cannot_clear_failures_for_an_email(db):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_anon() as conn:
            conn.execute("select private.clear_sign_in_failures()")


def test_current_password_check_is_throttled(auth, factory):
    user, _ = factory.owner()
    for _ in range(5):
        with pytest.raises(FormErrors):
            auth.change_password(user, "wrong password 1", "fresh pass 123", "fresh pass 123")
    with pytest.raises(UserError, match="Try again in"):
        auth.change_password(user, PASSWORD, "fresh pass 123", "fresh pass 123")


def test_password_change_ends_other_sessions(auth, factory):
    user, _ = factory.owner()
    here = auth.sign_in(user.email, PASSWORD)
    elsewhere = auth.sign_in(user.email, PASSWORD)
    auth.change_password(user, PASSWORD, "fresh pass 123", "fresh pass 123", keep_session=here.session_token)
    assert auth.resume(here.session_token) == user
    assert auth.resume(elsewhere.session_token) is None


@pytest.mark.parametrize("url", [
    "postgresql://someone:s3cretpw@127.0.0.1:1/relata",
    "postgresq://someone:s3cretpw@127.0.0.1/db",
    "postgresql://someone:s3cretpw%zz@127.0.0.1/db",
])
def test_startup_errors_never_show_the_password(url, tmp_path):
    with pytest.raises(StartupError) as caught:
        open_runtime(Settings(data_dir=tmp_path, database_url=url))
    shown = f"{caught.value.title} {caught.value.hint} {caught.value.detail}"
    assert "s3cretpw" not in shown
