"""Start-up: from Settings to a migrated database and a ready pool, in any of the three modes.

Every failure a user can fix (bad settings, unreachable database, unwritable or damaged data
folder, failing migration) comes out as a `StartupError` with what to do, never a traceback.
`open_runtime` is idempotent per process: the app (through `st.cache_resource`) and the tests
share one runtime per set of settings.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from lib.config import Settings
from lib.db import Database
from lib.embedded_pg import APP_ROLE, EmbeddedServer, StartupError, ensure_server
from lib.migrations import MigrationError, migrate


@dataclass
class Runtime:
    settings: Settings
    db: Database
    admin_conninfo: str
    embedded: EmbeddedServer | None = None


_runtimes: dict[Settings, Runtime] = {}
_lock = threading.Lock()


def _where(conninfo: str) -> str:
    """host:port/dbname of a connection string, without its password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "(unreadable connection string)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _scrub(message: str, conninfo: str) -> str:
    """An error text without the password of `conninfo`: start-up errors are shown before sign-in."""
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        return ""  # unparseable: the message may quote the whole string, password included
    return message.replace(password, "•••") if password else message


def _check_reachable(conninfo: str, setting: str) -> None:
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            version = conn.info.server_version
    except psycopg.ProgrammingError as exc:
        raise StartupError(
            f"{setting} is not a valid Postgres connection string.",
            f"Use the form postgresql://user:password@host:5432/dbname in {setting}.",
        ) from exc
    except psycopg.OperationalError as exc:
        raise StartupError(
            f"Cannot reach the database at {_where(conninfo)} ({setting}).",
            f"Check that the server is running and that {setting} has the right host, port, user and "
            "password. Unset it to use the built-in database instead.",
            _scrub(str(exc).strip(), conninfo),
        ) from exc
    if version < 150000:
        raise StartupError(
            f"The database at {_where(conninfo)} runs Postgres {version // 10000}; Relata needs 15 or newer.",
            "Upgrade the server or point the setting at a newer one.",
        )


def _migrate(conninfo: str, bootstrap: bool) -> None:
    try:
        migrate(conninfo, bootstrap=bootstrap)
    except MigrationError as exc:
        raise StartupError(
            f"Migration {exc.file.name} failed; nothing of it was applied.",
            "Fix the migration (or the database it runs on) and reload the page.",
            exc.error,
        ) from exc
    except psycopg.OperationalError as exc:
        raise StartupError(
            f"Lost the database at {_where(conninfo)} while migrating.",
            "Check the server and reload the page.",
            _scrub(str(exc).strip(), conninfo),
        ) from exc


def _open(settings: Settings) -> Runtime:
    if settings.mode == "supabase":
        conninfo = settings.supabase_db_url
        _check_reachable(conninfo, "SUPABASE_DB_URL")
        _migrate(conninfo, bootstrap=False)
        # Supabase's transaction pooler (Supavisor) cannot keep prepared statements.
        return Runtime(settings, Database(conninfo, prepare_threshold=None), conninfo)
    if settings.mode == "database_url":
        conninfo = settings.database_url
        _check_reachable(conninfo, "DATABASE_URL")
        _migrate(conninfo, bootstrap=True)
        return Runtime(settings, Database(conninfo), conninfo)
    server = ensure_server(settings.data_dir)
    admin = server.conninfo()
    _migrate(admin, bootstrap=True)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("alter role {} with login password {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(server.app_password)
            )
        )
    return Runtime(settings, Database(server.conninfo(APP_ROLE)), admin, server)


def open_runtime(settings: Settings) -> Runtime:
    """The runtime for `settings`, started on first use."""
    with _lock:
        if settings not in _runtimes:
            runtime = _open(settings)
            # Runs before the embedded server's own atexit hook (registered earlier), so the
            # pool does not try to reconnect to a server that is stopping.
            atexit.register(runtime.db.close)
            _runtimes[settings] = runtime
        return _runtimes[settings]
