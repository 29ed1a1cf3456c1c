"""Row-level security and schema rules, checked against the catalog for EVERY table in `public`.

Nothing here names a table it checks: each test lists the tables of schema `public` from
pg_catalog when it runs, so a table added by a future migration is covered the moment the
migration exists, without editing this file. What is covered:

- RLS is enabled on every table (pg_class.relrowsecurity); views in public run as the caller
  (security_invoker) and there are no materialized views there (RLS cannot guard those).
- `anon` reads nothing and writes nothing anywhere (0 rows or a permission error).
- Cross-workspace isolation: with two workspaces A and B, B filled by
  `tests/populate.py::populate_workspace` (one row at least in every public table), an OWNER
  of A sees no row of B and cannot update, delete or insert a copy of one. A table's rows are
  tied to a workspace through its *scope column*: `workspace_id` when it has one, else an
  explicit rule in `EXPLICIT_SCOPES` below (workspaces: `id`; profiles: the users of B). A new
  table with neither fails, asking for a workspace_id column or a rule.
- A viewer of B cannot change B's rows either (except leaving, see `OWN_ROWS`).
- Schema conventions: every table with workspace_id has the audit trigger
  (private.audit_row; or, for tables in `AUDITED_PER_STATEMENT`, a statement-level one); every
  table but audit_log has `version`/`updated_at` and the
  bump_version trigger (optimistic locking).
- The app's login role `relata_app` holds no privilege on any public table itself.
- Every security definer function has a fixed search_path.
- Every policy in public is for signed-in roles (never PUBLIC), and there is at most one
  permissive policy per table and command (Supabase's performance advice).
- Every function of ours (schema private) a policy calls is PARALLEL SAFE (else no query on
  that table gets parallel workers). auth.uid() is Supabase's, left as Supabase declares it.

When a new table fails here: give it RLS and policies `to authenticated`, a workspace_id, the
audit and bump_version triggers, and add a row for it in `tests/populate.py`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from lib.auth.adapters import AuthUser
from tests.populate import populate_workspace

# Tables without a workspace_id column and how their rows belong to a workspace. Each entry
# maps a table to (column, how to find B's values of that column):
#   "workspace": the column holds the workspace id itself;
#   "members":   the column holds user ids, and B's rows are those of users who are only in B.
EXPLICIT_SCOPES = {
    "workspaces": ("id", "workspace"),
    "profiles": ("id", "members"),
}

# Rows a member may change although they lack the role for it, because the row is their own:
# table -> column holding the user id. (Any member may leave a workspace by deleting their own
# membership; everyone edits their own profile.) The viewer checks leave these rows out.
OWN_ROWS = {
    "workspace_members": "user_id",
    "profiles": "id",
}

# Logs every member reads but only triggers write: exempt from version/bump_version and from
# being audited themselves.
APPEND_ONLY = {"audit_log", "deal_stage_history"}

# Tables that must carry the audit trigger although they have no workspace_id column.
AUDITED_WITHOUT_WORKSPACE_ID = {"workspaces"}

# Tables audited per statement instead of per row (bulk writes), and the function doing it: it
# must run after insert, update and delete, for each statement (with transition tables).
AUDITED_PER_STATEMENT = {"order_lines": "private.audit_order_lines", "outbox": "private.audit_by_campaign",
                         "campaign_members": "private.audit_by_campaign"}

ALL_PRIVILEGES = "SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER"

# pg_trigger.tgtype bits
TRIGGER_ROW, TRIGGER_BEFORE, TRIGGER_INSERT, TRIGGER_DELETE, TRIGGER_UPDATE = 1, 2, 4, 8, 16


# -- catalog helpers -------------------------------------------------------------------------


def public_tables(conn: psycopg.Connection) -> list[str]:
    """Every ordinary or partitioned table in schema public (partitions included)."""
    rows = conn.execute(
        "select c.relname from pg_class c"
        " where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')"
        " order by c.relname"
    ).fetchall()
    return [r["relname"] for r in rows]


def columns(conn: psycopg.Connection, table: str) -> list[dict]:
    return conn.execute(
        "select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as notnull,"
        " a.attidentity <> '' as identity, a.attgenerated <> '' as generated,"
        " pg_get_expr(d.adbin, d.adrelid) as default_expr"
        " from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum"
        " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
        [qualified(table)],
    ).fetchall()


def qualified(table: str) -> str:
    """A regclass literal for public.<table> (quoted, so odd names work too)."""
    return sql.Identifier("public", table).as_string(None)


def insertable_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """Columns a copy of a row must carry: not identity, not generated, not a fresh uuid."""
    return [
        c["name"]
        for c in columns(conn, table)
        if not c["identity"] and not c["generated"] and (c["default_expr"] or "") != "gen_random_uuid()"
    ]


def plain_column(conn: psycopg.Connection, table: str) -> str:
    """Any column that may appear on the left of `set` (not identity, not generated)."""
    for c in columns(conn, table):
        if not c["identity"] and not c["generated"]:
            return c["name"]
    raise AssertionError(f"public.{table} has no updatable column")


def t_ident(table: str) -> sql.Composable:
    return sql.Identifier("public", table)


# -- the two-workspace world -------------------------------------------------------------------


@dataclass
class World:
    owner_a: AuthUser
    ws_a: str
    owner_b: AuthUser
    ws_b: str
    viewer_b: AuthUser
    b_only_users: list[str]
    fingerprint: dict[str, str] | None = None


@pytest.fixture(scope="module")
def super_conn(runtime):
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def world(db, factory, super_conn) -> World:
    owner_a, ws_a = factory.owner("Workspace A")
    owner_b, ws_b = factory.owner("Workspace B")
    populate_workspace(db, owner_b, ws_b)
    viewer_b = factory.member(owner_b, ws_b, "viewer")
    b_only = [
        str(r["user_id"])
        for r in super_conn.execute(
            "select user_id from public.workspace_members where workspace_id = %s"
            " and user_id not in (select user_id from public.workspace_members where workspace_id = %s)",
            [ws_b, ws_a],
        ).fetchall()
    ]
    assert owner_b.id in b_only and viewer_b.id in b_only and owner_a.id not in b_only
    world = World(owner_a, ws_a, owner_b, ws_b, viewer_b, b_only)
    world.fingerprint = fingerprint(super_conn, world)
    return world


def fingerprint(conn: psycopg.Connection, world: World) -> dict[str, str]:
    """md5 of B's rows per table (superuser view), to show that nothing was changed."""
    result = {}
    for table in public_tables(conn):
        scope = scope_of(conn, table, world)
        if scope is None:
            continue
        where, params = where_scope(*scope)
        result[table] = conn.execute(
            sql.SQL("select md5(coalesce(string_agg(j, ',' order by j), '')) as h"
                    " from (select to_jsonb(t)::text as j from {} as t").format(t_ident(table))
            + where + sql.SQL(") s"),
            params,
        ).fetchone()["h"]
    return result


def scope_of(conn: psycopg.Connection, table: str, world: World) -> tuple[str, list[str]] | None:
    """(column, values) selecting B's rows of `table`, or None when no rule says how."""
    names = {c["name"] for c in columns(conn, table)}
    if "workspace_id" in names:
        return "workspace_id", [world.ws_b]
    if table in EXPLICIT_SCOPES:
        column, kind = EXPLICIT_SCOPES[table]
        return column, [world.ws_b] if kind == "workspace" else list(world.b_only_users)
    return None


def no_scope_message(table: str) -> str:
    return (
        f"public.{table} has no workspace_id column, so the isolation tests cannot tell which rows "
        "belong to which workspace. Add a workspace_id column (with RLS policies on it), or add an "
        "explicit rule for this table to EXPLICIT_SCOPES in tests/test_security_catalog.py."
    )


def scoped(conn: psycopg.Connection, world: World) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """The scope of every public table, and a complaint for each table without one.

    Callers check the tables that have a scope and then fail with the complaints as well, so one
    run shows everything that is wrong.
    """
    result, missing = {}, []
    for table in public_tables(conn):
        scope = scope_of(conn, table, world)
        if scope is None:
            missing.append(no_scope_message(table))
        else:
            result[table] = scope
    return result, missing


def where_scope(column: str, values: list[str], own: tuple[str, str] | None = None) -> tuple[sql.Composable, list]:
    """`where <column>::text = any(values) [and <own col>::text <> me]` and its parameters."""
    clause = sql.SQL("{}::text = any(%s)").format(sql.Identifier(column))
    params: list = [values]
    if own:
        clause = sql.SQL("{} and {}::text is distinct from %s").format(clause, sql.Identifier(own[0]))
        params.append(own[1])
    return sql.SQL(" where ") + clause, params


def sample_row(conn: psycopg.Connection, table: str, column: str, values: list[str], own=None) -> dict | None:
    where, params = where_scope(column, values, own)
    row = conn.execute(
        sql.SQL("select to_jsonb(t) as j from {} as t").format(t_ident(table))
        + where
        + sql.SQL(" limit 1"),
        params,
    ).fetchone()
    return row["j"] if row else None


def insert_copy_statement(conn: psycopg.Connection, table: str, row: dict) -> tuple[sql.Composable, list]:
    cols = [c for c in insertable_columns(conn, table) if c in row]
    idents = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    statement = sql.SQL("insert into {t} ({cols}) select {cols} from jsonb_populate_record(null::{t}, %s)").format(
        t=t_ident(table), cols=idents
    )
    return statement, [Jsonb(row)]


def attempt(conn: psycopg.Connection, statement: sql.Composable, params: list) -> tuple[int | None, Exception | None]:
    """Run one statement in a savepoint that is always rolled back: (rowcount, None) or (None, error)."""
    try:
        with conn.transaction(force_rollback=True):
            return conn.execute(statement, params).rowcount, None
    except psycopg.Error as exc:
        return None, exc


def count_rows(
    conn: psycopg.Connection, table: str, where: sql.Composable | None = None, params: list | None = None
) -> tuple[int | None, Exception | None]:
    """`select count(*)` in a savepoint: (count, None) or (None, error)."""
    statement = sql.SQL("select count(*) as n from {}").format(t_ident(table)) + (where or sql.SQL(""))
    try:
        with conn.transaction():
            return conn.execute(statement, params or []).fetchone()["n"], None
    except psycopg.Error as exc:
        return None, exc


def denied(exc: Exception | None) -> bool:
    """An RLS violation or a missing privilege (both SQLSTATE 42501)."""
    return isinstance(exc, psycopg.errors.InsufficientPrivilege)


def check_no_writes(
    conn: psycopg.Connection, table: str, column: str, values: list[str], row: dict | None, who: str, own=None,
    set_column: str | None = None,
) -> list[str]:
    """Try update, delete and insert-a-copy on the rows in scope; describe whatever got through.

    The update sets `set_column` (default: the scope column) to itself.
    """
    problems = []
    col = sql.Identifier(set_column or column)
    where, params = where_scope(column, values, own)

    update = sql.SQL("update {} set {} = {}").format(t_ident(table), col, col) + where
    count, exc = attempt(conn, update, params)
    if not (count == 0 or denied(exc)):
        problems.append(f"{who} could update public.{table}: {count if exc is None else exc!r}")

    delete = sql.SQL("delete from {}").format(t_ident(table)) + where
    count, exc = attempt(conn, delete, params)
    if not (count == 0 or denied(exc)):
        problems.append(f"{who} could delete from public.{table}: {count if exc is None else exc!r}")

    if row is not None:
        statement, params = insert_copy_statement(conn, table, row)
        count, exc = attempt(conn, statement, params)
        if not denied(exc):
            problems.append(
                f"{who} inserting a copy of a row of public.{table} was not refused by RLS or a missing "
                f"privilege: {'inserted %s row(s)' % count if exc is None else repr(exc)}"
            )
    return problems


# -- RLS everywhere --------------------------------------------------------------------------------


def test_rls_is_enabled_on_every_public_table(super_conn):
    rows = super_conn.execute(
        "select c.relname from pg_class c where c.relnamespace = 'public'::regnamespace"
        " and c.relkind in ('r', 'p') and not c.relrowsecurity order by 1"
    ).fetchall()
    assert public_tables(super_conn), "no tables in public: did the migrations run?"
    assert not rows, f"Row-level security is off on: {', '.join(r['relname'] for r in rows)}. " \
        "Add `alter table public.<t> enable row level security;` and policies to the migration."


def test_views_in_public_obey_rls(super_conn):
    """A view runs as its owner unless security_invoker is set, which would bypass RLS."""
    rows = super_conn.execute(
        "select c.relname, c.relkind from pg_class c where c.relnamespace = 'public'::regnamespace"
        " and (c.relkind = 'm' or (c.relkind = 'v' and not coalesce("
        "   'security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)))"
    ).fetchall()
    assert not rows, (
        "Views in public must be `with (security_invoker = true)` and materialized views do not belong "
        f"in public (RLS cannot guard them): {[(r['relname'], r['relkind']) for r in rows]}"
    )


# -- anon ----------------------------------------------------------------------------------------------


def test_anon_reads_nothing(db, world, super_conn):
    tables = public_tables(super_conn)
    problems = []
    with db.as_anon() as conn:
        for table in tables:
            n, exc = count_rows(conn, table)
            if exc is None and n:
                problems.append(f"anon sees {n} row(s) of public.{table}")
            elif exc is not None and not denied(exc):
                problems.append(f"reading public.{table} as anon failed oddly: {exc!r}")
    assert not problems, "\n".join(problems)


def test_anon_writes_nothing(db, world, super_conn):
    problems = []
    tables = public_tables(super_conn)
    samples = {}
    for table in tables:
        row = super_conn.execute(
            sql.SQL("select to_jsonb(t) as j from {} as t limit 1").format(t_ident(table))
        ).fetchone()
        assert row, f"public.{table} is empty; extend populate_workspace in tests/populate.py"
        samples[table] = row["j"]
    with db.as_anon() as conn:
        for table in tables:
            column = plain_column(super_conn, table)
            statement, params = insert_copy_statement(super_conn, table, samples[table])
            col = sql.Identifier(column)
            for what, stmt, args in (
                ("update", sql.SQL("update {} set {} = {}").format(t_ident(table), col, col), []),
                ("delete from", sql.SQL("delete from {}").format(t_ident(table)), []),
            ):
                count, exc = attempt(conn, stmt, args)
                if not (count == 0 or denied(exc)):
                    problems.append(f"anon could {what} public.{table}: {count if exc is None else exc!r}")
            count, exc = attempt(conn, statement, params)
            if not denied(exc):
                problems.append(f"anon insert into public.{table} not refused: {count if exc is None else exc!r}")
    assert not problems, "\n".join(problems)


# -- cross-workspace isolation -------------------------------------------------------------------------


def test_every_table_has_rows_of_workspace_b(world, super_conn):
    """Guards the isolation tests below against passing on empty tables."""
    scopes, problems = scoped(super_conn, world)
    empty = []
    for table, (column, values) in scopes.items():
        where, params = where_scope(column, values)
        n = super_conn.execute(
            sql.SQL("select count(*) as n from {}").format(t_ident(table)) + where, params
        ).fetchone()["n"]
        if not n:
            empty.append(table)
    assert not problems, "\n".join(problems)
    assert not empty, (
        f"Workspace B has no row in: {', '.join(empty)}. Extend populate_workspace() in tests/populate.py "
        "so that it writes at least one row of the workspace into each of these tables."
    )


def test_owner_of_a_cannot_see_workspace_b(db, world, super_conn):
    scopes, problems = scoped(super_conn, world)
    with db.as_user(world.owner_a.claims) as conn:
        for table, (column, values) in scopes.items():
            where, params = where_scope(column, values)
            count, exc = count_rows(conn, table, where, params)
            if exc is None and count:
                problems.append(f"the owner of A sees {count} row(s) of B in public.{table}")
            elif exc is not None and not denied(exc):
                problems.append(f"reading public.{table} as the owner of A failed oddly: {exc!r}")
    # Positive control: B's owner does see B's rows, so the check above is not vacuous.
    blind = []
    with db.as_user(world.owner_b.claims) as conn:
        for table, (column, values) in scopes.items():
            where, params = where_scope(column, values)
            count, exc = count_rows(conn, table, where, params)
            if not count:
                blind.append(f"public.{table} ({exc!r})" if exc else f"public.{table}")
    assert not problems, "\n".join(problems)
    assert not blind, f"B's owner cannot read B's own rows in: {', '.join(blind)}"


def test_owner_of_a_cannot_write_workspace_b(db, world, super_conn):
    scopes, problems = scoped(super_conn, world)
    with db.as_user(world.owner_a.claims) as conn:
        for table, (column, values) in scopes.items():
            row = sample_row(super_conn, table, column, values)
            assert row is not None, f"no row of B in public.{table}; extend tests/populate.py"
            problems += check_no_writes(conn, table, column, values, row, "the owner of A")
    assert not problems, "\n".join(problems)


def test_viewer_of_b_cannot_write(db, world, super_conn):
    scopes, problems = scoped(super_conn, world)
    me = world.viewer_b.id
    with db.as_user(world.viewer_b.claims) as conn:
        for table, (column, values) in scopes.items():
            own = (OWN_ROWS[table], me) if table in OWN_ROWS else None
            row = sample_row(super_conn, table, column, values, own)
            assert row is not None, f"no row of B (other than the viewer's own) in public.{table}"
            problems += check_no_writes(conn, table, column, values, row, "a viewer of B", own)
    assert not problems, "\n".join(problems)


def test_write_attempts_changed_nothing(world, super_conn):
    """Every attempt above ran in a rolled-back savepoint: B's rows are as the fixture left them."""
    assert fingerprint(super_conn, world) == world.fingerprint


# -- schema conventions --------------------------------------------------------------------------------


def _triggers(conn, function: str) -> dict[str, list[int]]:
    rows = conn.execute(
        "select c.relname, t.tgtype from pg_trigger t join pg_class c on c.oid = t.tgrelid"
        " where c.relnamespace = 'public'::regnamespace and t.tgfoid = %s::regproc and not t.tgisinternal",
        [function],
    ).fetchall()
    found: dict[str, list[int]] = {}
    for r in rows:
        found.setdefault(r["relname"], []).append(r["tgtype"])
    return found


def test_workspace_tables_have_the_audit_trigger(super_conn):
    triggers = _triggers(super_conn, "private.audit_row")
    problems = []
    for table in public_tables(super_conn):
        names = {c["name"] for c in columns(super_conn, table)}
        if table in APPEND_ONLY or ("workspace_id" not in names and table not in AUDITED_WITHOUT_WORKSPACE_ID):
            continue
        if table in AUDITED_PER_STATEMENT:
            kinds = [t for t in _triggers(super_conn, AUDITED_PER_STATEMENT[table]).get(table, [])
                     if not t & (TRIGGER_ROW | TRIGGER_BEFORE)]
            covered = 0
            for t in kinds:
                covered |= t & (TRIGGER_INSERT | TRIGGER_UPDATE | TRIGGER_DELETE)
            if covered != TRIGGER_INSERT | TRIGGER_UPDATE | TRIGGER_DELETE:
                problems.append(f"public.{table} lacks statement audit triggers ({AUDITED_PER_STATEMENT[table]}) "
                                "after insert, update and delete")
            continue
        wanted = TRIGGER_ROW | TRIGGER_INSERT | TRIGGER_UPDATE | TRIGGER_DELETE
        good = [t for t in triggers.get(table, []) if t & wanted == wanted and not t & TRIGGER_BEFORE]
        if not good:
            problems.append(
                f"public.{table} lacks `create trigger audit after insert or update or delete on public.{table} "
                "for each row execute function private.audit_row();`"
            )
    assert not problems, "\n".join(problems)


def test_every_table_has_optimistic_locking(super_conn):
    triggers = _triggers(super_conn, "private.bump_version")
    problems = []
    for table in public_tables(super_conn):
        if table in APPEND_ONLY:
            continue
        cols = {c["name"]: c for c in columns(super_conn, table)}
        version = cols.get("version")
        if version is None or version["type"] != "integer" or not version["notnull"]:
            problems.append(f"public.{table} needs `version integer not null default 1`")
        if "updated_at" not in cols:
            problems.append(f"public.{table} needs `updated_at timestamptz` (bump_version sets it)")
        wanted = TRIGGER_ROW | TRIGGER_BEFORE | TRIGGER_UPDATE
        if not any(t & wanted == wanted for t in triggers.get(table, [])):
            problems.append(
                f"public.{table} lacks `create trigger bump_version before update on public.{table} "
                "for each row execute function private.bump_version();`"
            )
    assert not problems, "\n".join(problems)


# -- roles, functions, policies ----------------------------------------------------------------------


def test_app_login_role_holds_no_table_privilege(super_conn):
    role = super_conn.execute(
        "select rolinherit, rolsuper, rolbypassrls from pg_roles where rolname = 'relata_app'"
    ).fetchone()
    assert role is not None, "role relata_app missing"
    assert not role["rolinherit"] and not role["rolsuper"] and not role["rolbypassrls"]
    inherited = super_conn.execute(
        "select roleid::regrole::text as r from pg_auth_members"
        " where member = 'relata_app'::regrole and inherit_option"
    ).fetchall()
    assert not inherited, f"relata_app inherits privileges of {[r['r'] for r in inherited]}"
    rows = super_conn.execute(
        "select c.relname,"
        " has_table_privilege('relata_app', c.oid, %s) as any_privilege,"
        " exists (select 1 from aclexplode(c.relacl) a where a.grantee = 'relata_app'::regrole) as direct_grant"
        " from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')",
        [ALL_PRIVILEGES],
    ).fetchall()
    assert rows
    bad = [r["relname"] for r in rows if r["any_privilege"] or r["direct_grant"]]
    assert not bad, f"relata_app holds privileges on: {', '.join(bad)}"


def test_security_definer_functions_fix_search_path(super_conn):
    rows = super_conn.execute(
        "select p.oid::regprocedure::text as fn, p.proconfig from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'",
    ).fetchall()
    assert rows, "expected the private.* security definer helpers"
    bad = [r["fn"] for r in rows if not any(c.startswith("search_path=") for c in (r["proconfig"] or []))]
    assert not bad, f"security definer functions without `set search_path = ''`: {', '.join(bad)}"


def test_policies_are_for_signed_in_roles_and_one_per_command(super_conn):
    policies = super_conn.execute(
        "select tablename, policyname, permissive, roles, cmd from pg_policies where schemaname = 'public'"
    ).fetchall()
    assert policies
    public_role = [f"{p['tablename']}.{p['policyname']}" for p in policies if "public" in p["roles"]]
    per_command = Counter()
    for p in policies:
        if p["permissive"] != "PERMISSIVE":
            continue
        commands = ("SELECT", "INSERT", "UPDATE", "DELETE") if p["cmd"] == "ALL" else (p["cmd"],)
        for cmd in commands:
            per_command[(p["tablename"], cmd)] += 1
    doubled = sorted(k for k, n in per_command.items() if n > 1)
    problems = []
    if public_role:
        problems.append(f"policies without `to authenticated` (they apply to PUBLIC, anon included): {public_role}")
    if doubled:
        problems.append(
            f"more than one permissive policy for (table, command): {doubled}. Merge them into one policy "
            "with `or` (Postgres evaluates every permissive policy for every row)."
        )
    assert not problems, "\n".join(problems)


def test_policy_helpers_are_parallel_safe(super_conn):
    """A policy calling a PARALLEL UNSAFE function (the default) keeps every query on its table serial."""
    policies = super_conn.execute(
        "select tablename, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr"
        " from pg_policies where schemaname = 'public'").fetchall()
    called: dict[str, set[str]] = {}
    for p in policies:
        for fn in re.findall(r"\bprivate\.(\w+)\(", p["expr"]):
            called.setdefault(f"private.{fn}", set()).add(p["tablename"])
    assert "private.my_workspace_ids" in called
    unsafe = super_conn.execute(
        "select n.nspname || '.' || p.proname as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname || '.' || p.proname = any(%s) and p.proparallel <> 's'", [sorted(called)]).fetchall()
    bad = {r["fn"]: sorted(called[r["fn"]]) for r in unsafe}
    assert not bad, f"policies call functions that are not PARALLEL SAFE (alter function … parallel safe): {bad}"
