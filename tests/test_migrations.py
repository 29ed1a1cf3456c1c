"""The migration runner (lib/migrations.py) and what the migration files may contain.

Runner tests work on scratch databases created in the session's embedded server and dropped
afterwards, with migration files written to a temporary folder; the main database is only
migrated again to show that doing so is a no-op.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from lib.migrations import FILE_NAME, MIGRATIONS_DIR, MigrationError, discover, migrate

_names = itertools.count(1)


@pytest.fixture
def scratch_db(runtime, admin_conn):
    """conninfo of a fresh, empty database (dropped afterwards)."""
    name = f"scratch_{os.getpid()}_{next(_names)}"
    admin_conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(runtime.admin_conninfo, dbname=name)
    finally:
        admin_conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def query(conninfo: str, statement: str, params=None) -> list[tuple]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def recorded(conninfo: str) -> list[str]:
    return [r[0] for r in query(conninfo, "select version from supabase_migrations.schema_migrations order by 1")]


def table_exists(conninfo: str, name: str) -> bool:
    return query(conninfo, "select to_regclass(%s) is not null", [name])[0][0]


# -- the main database ----------------------------------------------------------------------


def test_main_database_is_fully_migrated_with_the_cli_columns(runtime, admin_conn):
    cols = {
        r["column_name"]: r["data_type"]
        for r in admin_conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'"
        ).fetchall()
    }
    assert cols == {"version": "text", "name": "text", "statements": "ARRAY"}
    rows = admin_conn.execute(
        "select version, name, statements from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    expected = discover()
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in expected]
    for row, migration in zip(rows, expected):
        assert row["statements"] == [migration.path.read_text()]


def test_migrating_again_applies_nothing_and_the_bootstrap_is_idempotent(runtime, admin_conn):
    before = admin_conn.execute("select count(*) as n from supabase_migrations.schema_migrations").fetchone()["n"]
    assert migrate(runtime.admin_conninfo) == []  # bootstrap included
    assert migrate(runtime.admin_conninfo) == []
    after = admin_conn.execute("select count(*) as n from supabase_migrations.schema_migrations").fetchone()["n"]
    assert before == after == len(discover())


# -- the runner on scratch databases --------------------------------------------------------------


def test_applying_twice_applies_once(scratch_db, tmp_path):
    write(tmp_path, "20260101000001_one.sql", "-- one\ncreate table public.one (id int);\n")
    write(tmp_path, "20260101000002_two.sql", "-- two\ncreate table public.two (id int);\n")
    assert migrate(scratch_db, bootstrap=False, directory=tmp_path) == ["20260101000001", "20260101000002"]
    assert migrate(scratch_db, bootstrap=False, directory=tmp_path) == []
    rows = query(scratch_db, "select version, name, statements from supabase_migrations.schema_migrations order by 1")
    assert rows == [
        ("20260101000001", "one", ["-- one\ncreate table public.one (id int);\n"]),
        ("20260101000002", "two", ["-- two\ncreate table public.two (id int);\n"]),
    ]
    # A file added later is picked up on its own.
    write(tmp_path, "20260101000003_three.sql", "-- three\ncreate table public.three (id int);\n")
    assert migrate(scratch_db, bootstrap=False, directory=tmp_path) == ["20260101000003"]


def test_a_failing_migration_leaves_nothing_behind(scratch_db, tmp_path):
    write(tmp_path, "20260101000001_good.sql", "-- good\ncreate table public.good (id int);\n")
    bad = write(
        tmp_path,
        "20260101000002_bad.sql",
        "-- bad\ncreate table public.bad (id int);\ninsert into public.bad values (1);\n"
        "select 1 / 0;\n",
    )
    with pytest.raises(MigrationError) as caught:
        migrate(scratch_db, bootstrap=False, directory=tmp_path)
    assert caught.value.file == bad
    assert "20260101000002_bad.sql" in str(caught.value)
    assert "division by zero" in caught.value.error
    assert table_exists(scratch_db, "public.good")
    assert not table_exists(scratch_db, "public.bad")
    assert recorded(scratch_db) == ["20260101000001"]

    # Trying again fails the same way without applying the good file twice...
    with pytest.raises(MigrationError):
        migrate(scratch_db, bootstrap=False, directory=tmp_path)
    assert recorded(scratch_db) == ["20260101000001"]
    # ...and once the file is fixed it goes through, and the lock was released each time.
    bad.write_text("-- bad, fixed\ncreate table public.bad (id int);\n")
    assert migrate(scratch_db, bootstrap=False, directory=tmp_path) == ["20260101000002"]
    assert table_exists(scratch_db, "public.bad")


def test_a_badly_named_file_is_refused(tmp_path):
    write(tmp_path, "add_contacts.sql", "-- no timestamp\n")
    with pytest.raises(MigrationError, match="add_contacts.sql"):
        discover(tmp_path)


def test_concurrent_migrations_apply_each_file_once(scratch_db, tmp_path):
    # Slow files, and `create table` without `if not exists`: applying one twice would fail.
    for n in range(1, 4):
        write(
            tmp_path,
            f"2026010100000{n}_slow{n}.sql",
            f"-- slow {n}\ncreate table public.slow{n} (id int);\nselect pg_sleep(0.2);\n",
        )
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(migrate(scratch_db, bootstrap=False, directory=tmp_path))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == 2
    assert sorted(v for result in results for v in result) == ["20260101000001", "20260101000002", "20260101000003"]
    assert recorded(scratch_db) == ["20260101000001", "20260101000002", "20260101000003"]


def test_bootstrap_applies_to_an_empty_database(scratch_db):
    assert migrate(scratch_db) == [m.version for m in discover()]
    assert migrate(scratch_db) == []
    assert table_exists(scratch_db, "public.workspaces")
    assert table_exists(scratch_db, "auth.users")


# -- static checks: the files must deploy to Supabase as they are --------------------------------------

MIGRATION_FILES = sorted(MIGRATIONS_DIR.glob("*.sql"))

FORBIDDEN = {
    r"\bcreate\s+(role|user|group)\b": "roles are made by Supabase (locally by supabase/local/bootstrap.sql)",
    r"\balter\s+system\b": "ALTER SYSTEM needs a superuser",
    r"\bcreate\s+event\s+trigger\b": "event triggers need a superuser",
    r"\balter\s+(role|user)\b[^;]*\b(superuser|bypassrls|replication)\b": "needs a superuser",
    r"\bset\s+session\s+authorization\b": "needs a superuser",
    r"\bcopy\b[^;]*\b(from|to)\s+program\b": "needs a superuser",
    r"\bcreate\s+(or\s+replace\s+)?language\b": "languages are the platform's business",
    r"\bdrop\s+schema\s+(if\s+exists\s+)?(auth|storage|extensions|supabase_migrations)\b": "Supabase's schema",
}


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", text)


def test_there_are_migration_files():
    assert MIGRATION_FILES
    assert [m.path for m in discover()] == MIGRATION_FILES


@pytest.mark.parametrize("path", MIGRATION_FILES, ids=lambda p: p.name)
def test_migration_file_is_deployable_to_supabase(path: Path):
    text = path.read_text()
    assert FILE_NAME.match(path.name), f"{path.name}: name it <timestamp>_<name>.sql"
    assert text.startswith("--"), f"{path.name}: start with a `--` banner comment saying what it does"
    code = strip_comments(text).lower()
    problems = [f"`{re.search(p, code)[0]}`: {why}" for p, why in FORBIDDEN.items() if re.search(p, code)]
    for statement in re.findall(r"\bcreate\s+extension\b[^;]*", code):
        if not re.search(r"\bschema\s+extensions\b", statement):
            problems.append(f"`{' '.join(statement.split())}`: add `with schema extensions`")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_static_check_catches_forbidden_statements(tmp_path):
    """The checker itself: a file full of superuser statements is flagged line by line."""
    bad = write(
        tmp_path,
        "20260101000001_bad.sql",
        "create role hacker;\nalter system set fsync = off;\ncreate extension pg_trgm;\n"
        "create event trigger x on ddl_command_end execute function f();\nalter role me superuser;\n",
    )
    with pytest.raises(AssertionError) as caught:
        test_migration_file_is_deployable_to_supabase(bad)
    assert "banner" in str(caught.value)
    bad.write_text("-- banner\n" + bad.read_text())
    with pytest.raises(AssertionError) as caught:
        test_migration_file_is_deployable_to_supabase(bad)
    message = str(caught.value)
    for fragment in ("create role", "alter system", "with schema extensions", "create event trigger", "superuser"):
        assert fragment in message
    bad.write_text("-- fine\ncreate extension if not exists pg_trgm with schema extensions;\n")
    test_migration_file_is_deployable_to_supabase(bad)
