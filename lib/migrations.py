"""Migration runner: the local bootstrap, then `supabase/migrations/*.sql` in order.

Applied migrations are recorded in `supabase_migrations.schema_migrations`, the table the
Supabase CLI keeps, with the same `version` (the file name's timestamp prefix) and `name`,
so `supabase db push` and the app agree about what is applied. Each file runs in its own
transaction; a session advisory lock keeps two processes from applying the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
BOOTSTRAP_FILE = ROOT / "supabase" / "local" / "bootstrap.sql"
LOCK_KEY = 0x52454C41  # "RELA": any constant shared by every Relata process
FILE_NAME = re.compile(r"^(\d+)_(.+)\.sql$")


class MigrationError(Exception):
    """A migration file failed; nothing of that file was applied."""

    def __init__(self, file: Path, error: str):
        super().__init__(f"{file.name}: {error}")
        self.file, self.error = file, error


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(path, "file name must look like <timestamp>_<name>.sql")
        found.append(Migration(match[1], match[2], path))
    return found


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc)
    if diag.statement_position:
        text += f" (at character {diag.statement_position})"
    if diag.context:
        text += f"; {diag.context.splitlines()[0]}"
    return text


def _run_file(conn: psycopg.Connection, path: Path, record: Migration | None = None) -> None:
    try:
        with conn.transaction():
            conn.execute(path.read_text())
            if record:
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, %s)",
                    [record.version, record.name, [path.read_text()]],
                )
    except psycopg.Error as exc:
        raise MigrationError(path, _describe(exc)) from exc


def migrate(conninfo: str, *, bootstrap: bool = True, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing; returns the versions applied now."""
    migrations = discover(directory)
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            if bootstrap:
                _run_file(conn, BOOTSTRAP_FILE)
            conn.execute(
                "create schema if not exists supabase_migrations;"
                "create table if not exists supabase_migrations.schema_migrations"
                " (version text primary key, statements text[], name text)"
            )
            done = {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}
            for migration in migrations:
                if migration.version not in done:
                    _run_file(conn, migration.path, migration)
                    applied_now.append(migration.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", [LOCK_KEY])
    return applied_now
