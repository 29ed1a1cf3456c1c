"""Shared fixtures: one real embedded Postgres per test run, migrated, plus user/workspace factories.

The server lives in a temporary data folder; `RELATA_DATA_DIR` points there so that the app
under AppTest (same process) and `streamlit run` in the browser tests (another process, which
joins the running server) use the very same database.
"""

from __future__ import annotations

import atexit
import itertools
import shutil
import os
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

# Before anything reads settings: the whole run uses one throwaway data folder, and no
# developer's DATABASE_URL or Supabase settings leak into the tests.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="relata-test-"))
# Registered before the server starts, so (atexit runs last-in first-out) it runs after the
# embedded server has been stopped by its own exit hook.
atexit.register(shutil.rmtree, _DATA_DIR, True)
for _key in ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_DB_URL", "SMTP_URL", "RELATA_PUBLIC_URL"):
    os.environ.pop(_key, None)
os.environ["RELATA_DATA_DIR"] = str(_DATA_DIR)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from lib.auth.adapters import AuthUser, LocalAuth  # noqa: E402
from lib.auth.service import AuthService  # noqa: E402
from lib.config import load_settings  # noqa: E402
from lib.runtime import Runtime, open_runtime  # noqa: E402

PASSWORD = "correct horse 42"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    return open_runtime(load_settings(secrets={}))


@pytest.fixture(scope="session")
def db(runtime):
    return runtime.db


@pytest.fixture
def admin_conn(runtime):
    """A superuser connection (bypasses RLS): for arranging and inspecting, never for the app."""
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def auth(db) -> AuthService:
    return AuthService(db, LocalAuth(db))


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{os.getpid()}@example.com"


class Factory:
    """Makes users and workspaces through the real sign-up and invitation paths."""

    def __init__(self, auth: AuthService):
        self.auth = auth

    def owner(self, workspace_name: str = "Acme Ltd", email: str | None = None):
        """A new user owning a new workspace; returns (AuthUser, workspace_id)."""
        signed = self.auth.sign_up(email or unique_email("owner"), PASSWORD, "Olive Owner", workspace_name)
        return signed.user, signed.workspace_id

    def member(self, owner: AuthUser, workspace_id: str, role: str, email: str | None = None) -> AuthUser:
        """A new user who joined `workspace_id` with `role` through an invitation."""
        from lib import workspaces

        if role == "owner":
            user = self.member(owner, workspace_id, "admin", email)
            with self.auth.db.as_user(owner.claims) as conn:
                conn.execute(
                    "update public.workspace_members set role = 'owner' where workspace_id = %s and user_id = %s",
                    [workspace_id, user.id],
                )
            return user
        token = workspaces.invite(self.auth.db, owner.claims, workspace_id, role)
        signed = self.auth.sign_up(email or unique_email(role), PASSWORD, f"{role.title()} User", invite_token=token)
        return signed.user


@pytest.fixture(scope="session")
def factory(auth) -> Factory:
    return Factory(auth)
