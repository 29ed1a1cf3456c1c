"""Supabase mode: sign-in through the real supabase-py against a fake GoTrue, and the database path
(SUPABASE_DB_URL: no local bootstrap, migrations recorded where the Supabase CLI records them)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from supabase import create_client

from lib.auth.adapters import SupabaseAuth
from lib.auth.service import AuthService
from lib.config import Settings
from lib.errors import FormErrors, UserError
from lib.migrations import discover, migrate
from lib.runtime import open_runtime
from lib.workspaces import my_workspaces
from tests.conftest import PASSWORD, unique_email
from tests.fake_gotrue import FakeGoTrue

FAKE_ANON_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl"


@pytest.fixture
def gotrue(db):
    fake = FakeGoTrue(db)
    yield fake
    fake.close()


def service(db, gotrue) -> AuthService:
    # One client per browser session, as the UI keeps it in st.session_state.
    return AuthService(db, SupabaseAuth(db, create_client(gotrue.url, FAKE_ANON_KEY)))


def test_sign_up_sign_in_change_password_sign_out(db, gotrue):
    email = unique_email("supa")
    signed = service(db, gotrue).sign_up(email, PASSWORD, "Sue Pabase", "Supa Shop")
    assert [m.name for m in my_workspaces(db, signed.user.claims)] == ["Supa Shop"]
    assert "POST /auth/v1/signup" in gotrue.calls

    svc = service(db, gotrue)
    with pytest.raises(UserError, match="Wrong email or password"):
        svc.sign_in(email, "wrong password 9")
    again = svc.sign_in(email, PASSWORD)
    assert again.user.id == signed.user.id
    assert svc.resume(again.session_token) == again.user

    svc.change_password(again.user, PASSWORD, "brand new pass 7", "brand new pass 7")
    assert "PUT /auth/v1/user" in gotrue.calls
    with pytest.raises(FormErrors):
        svc.change_password(again.user, PASSWORD, "another pass 77", "another pass 77")
    svc.sign_out(again.session_token)
    assert svc.resume(again.session_token) is None
    assert "POST /auth/v1/logout" in gotrue.calls
    assert service(db, gotrue).sign_in(email, "brand new pass 7").user.id == signed.user.id


def test_duplicate_sign_up_and_email_confirmation(db, gotrue):
    email = unique_email("dup")
    service(db, gotrue).sign_up(email, PASSWORD, "Dee", "Dup Co")
    with pytest.raises(UserError, match="already exists"):
        service(db, gotrue).sign_up(email, PASSWORD, "Dee", "Dup Co")
    gotrue.confirm_email = True
    with pytest.raises(UserError, match="confirm your email"):
        service(db, gotrue).sign_up(unique_email("confirm"), PASSWORD, "Con", "Confirm Co")


def test_supabase_db_path_migrates_without_bootstrap(runtime, admin_conn, tmp_path):
    """On Supabase the platform provides roles and auth; the app only applies migrations."""
    admin_conn.execute("drop database if exists supabase_like")
    admin_conn.execute("create database supabase_like")
    try:
        url = make_conninfo(runtime.admin_conninfo, dbname="supabase_like")
        migrate(url, bootstrap=True, directory=tmp_path)  # only what the Supabase platform already has
        settings = Settings(data_dir=runtime.settings.data_dir, supabase_url="http://127.0.0.1:9",
                            supabase_anon_key=FAKE_ANON_KEY, supabase_db_url=url)
        assert settings.mode == "supabase"
        rt = open_runtime(settings)
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations order by 1")]
        assert versions == [m.version for m in discover()]
        assert conninfo_to_dict(rt.admin_conninfo)["dbname"] == "supabase_like"
        rt.db.close()
    finally:
        admin_conn.execute("drop database if exists supabase_like with (force)")
