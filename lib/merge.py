"""Duplicates: likely duplicate pairs, "not a duplicate", and merging two records into one.

Pairs are found in one SQL statement, rule by rule: same email, same phone, a similar name
(pg_trgm similarity of `private.fold(name)`) at the same company or with the same email
domain for contacts, a similar name sharing a word for companies. Each rule only compares
records that already share that key, so thousands of contacts take milliseconds. (The trigram
GIN index cannot help here: under row-level security Postgres uses an index only for leakproof
operators, and pg_trgm's are not; a trigram self-join through the index is slower anyway.)

A merge is one transaction as the user: both rows locked and their versions checked, the
survivor's values built from the side chosen per field, then every row of every table that
points at the merged record through a foreign key moved to the survivor. Those tables are read
from pg_catalog at merge time, so tables later issues add (tickets, orders…) are moved without
touching this code. Finally the merged record is deleted and the merge written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lib.customers import COMPANY, CONTACT, Kind, get_in, kind_of
from lib.db import Claims, Database
from lib.errors import ConflictError, UserError

# Similarity (0-1) at which two names count as alike. Contacts also need the same company or
# email domain (0.55 keeps Jon/John Smith, drops Mia/Moritz Neumann); companies only share a
# word of the name, so they need more (0.7 keeps Northwind/Northwind Ltd, drops Willow/Wildflower
# Logistics GmbH).
CONTACT_NAME_THRESHOLD = 0.55
COMPANY_NAME_THRESHOLD = 0.7
SIDES = ("survivor", "merged")
# Fields without a per-field choice: tags are united, notes kept from both, custom chosen per key.
COMBINED = ("tags", "notes", "custom", "consent_source")
NOTES_SEPARATOR = "\n\n---\n\n"
NOTES_MAX = 10000


def _kind(kind: Kind | str) -> Kind:
    return kind if isinstance(kind, Kind) else kind_of(kind)


# -- candidate pairs -------------------------------------------------------------------------------

# Records are compared only within groups that already share a key (an email, a phone, a
# company, an email domain, a word of a company's name): "blocking", so the work grows with the
# size of those groups, not with the square of the table, and needs no join the planner could
# get wrong. Names are folded once per record. A group larger than BLOCK_CAP (gmail.com, "Ltd")
# says nothing about duplicates and is skipped.
BLOCK_CAP = 100

_KEYS = {
    CONTACT: """
      select 'same email' as rule, email as key, id, folded from r where email is not null
      union all select 'same phone', phone, id, folded from r where phone is not null
      union all select 'similar name at the same company', company_id::text, id, folded from r
                 where company_id is not null
      union all select 'similar name, same email domain', domain, id, folded from r where domain <> ''""",
    COMPANY: """
      select 'same email' as rule, email as key, id, folded from r where email is not null
      union all select 'same phone', phone, id, folded from r where phone is not null
      union all select distinct 'similar name', w.word, r.id, r.folded
                  from r, regexp_split_to_table(r.folded, '[^[:alnum:]]+') w(word) where length(w.word) >= 3""",
}

_PAIRS = """
  with r as materialized (
    select t.id, lower(t.email) as email, t.phone, {company} as company_id,
           private.fold(t.{name}) as folded, split_part(lower(t.email), '@', 2) as domain
      from {table} t where t.workspace_id = %(ws)s and t.archived_at is null),
  groups as (
    select k.rule, array_agg(k.id order by k.id) as ids, array_agg(k.folded order by k.id) as names
      from ({keys}) k group by k.rule, k.key having count(*) between 2 and %(cap)s),
  hits as (
    select x.id as a_id, y.id as b_id, g.rule, extensions.similarity(x.name, y.name) as similarity
      from groups g, unnest(g.ids, g.names) with ordinality x(id, name, n),
           unnest(g.ids, g.names) with ordinality y(id, name, m)
     where x.n < y.m),
  scored as (
    select h.a_id, h.b_id, h.rule, case h.rule when 'same email' then 1.0
                                               when 'same phone' then 0.6 + 0.4 * h.similarity
                                               else h.similarity end as score
      from hits h where h.rule in ('same email', 'same phone') or h.similarity >= %(threshold)s),
  pairs as (
    -- Several rules agreeing on one pair make it a little more certain.
    select s.a_id, s.b_id, least(1.0, max(s.score) + 0.05 * (count(distinct s.rule) - 1)) as score,
           string_agg(distinct s.rule, '; ') as reason
      from scored s
     where not exists (select 1 from public.duplicate_dismissals d
                        where d.workspace_id = %(ws)s and d.record_type = %(type)s
                          and d.record_a = s.a_id and d.record_b = s.b_id)
     group by s.a_id, s.b_id order by score desc, s.a_id, s.b_id limit %(limit)s)
  select p.a_id, p.b_id, round(p.score::numeric, 2)::float8 as score, p.reason, {columns}
    from pairs p join {table} a on a.id = p.a_id join {table} b on b.id = p.b_id {joins}
   order by p.score desc, a.{name}, p.a_id, p.b_id
"""

_PAIR_COLUMNS = {
    CONTACT: "{side}.full_name as {side}_name, {side}.email as {side}_email, {side}.phone as {side}_phone,"
             " {side}c.name as {side}_company, {side}.version as {side}_version",
    COMPANY: "{side}.name as {side}_name, {side}.email as {side}_email, {side}.phone as {side}_phone,"
             " null::text as {side}_company, {side}.version as {side}_version",
}


def _pairs_query(kind: Kind) -> sql.Composable:
    joins = (" left join public.companies ac on ac.id = a.company_id"
             " left join public.companies bc on bc.id = b.company_id") if kind is CONTACT else ""
    return sql.SQL(_PAIRS).format(
        table=kind.ident, name=sql.Identifier(kind.name_column), keys=sql.SQL(_KEYS[kind]), joins=sql.SQL(joins),
        company=sql.SQL("t.company_id" if kind is CONTACT else "null::uuid"),
        columns=sql.SQL(", ".join(_PAIR_COLUMNS[kind].format(side=s) for s in ("a", "b"))),
    )


def candidate_pairs(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, limit: int = 100) -> list[dict]:
    """Likely duplicate pairs among the active records of one kind, most likely first.

    Each row: a_id, b_id (a_id < b_id), score (0-1), reason, and for both sides name, email,
    phone, company (contacts) and version.
    """
    kind = _kind(kind)
    threshold = CONTACT_NAME_THRESHOLD if kind is CONTACT else COMPANY_NAME_THRESHOLD
    with db.as_user(claims) as conn:
        return conn.execute(_pairs_query(kind), {
            "ws": workspace_id, "type": kind.name, "threshold": threshold, "limit": limit, "cap": BLOCK_CAP,
        }).fetchall()


def dismiss(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, a_id: str, b_id: str) -> None:
    """Remember that these two records are not duplicates: the pair is not proposed again."""
    kind = _kind(kind)
    first, second = sorted([str(a_id), str(b_id)])
    try:
        with db.as_user(claims) as conn:
            conn.execute(
                "insert into public.duplicate_dismissals (workspace_id, record_type, record_a, record_b)"
                " values (%s, %s, %s, %s) on conflict do nothing",
                [workspace_id, kind.name, first, second],
            )
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(f"Your role cannot review duplicate {kind.plural}.") from None


# -- related rows, found through the catalog -------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One single-column foreign key of a public table pointing at a record's id."""

    table: str
    column: str

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier("public", self.table)


def references_to(conn: psycopg.Connection, kind: Kind) -> list[Reference]:
    """Every (table, column) in schema public with a single-column foreign key to `kind`'s id."""
    rows = conn.execute(
        "select cl.relname as table_name, a.attname as column_name"
        "  from pg_catalog.pg_constraint c"
        "  join pg_catalog.pg_class cl on cl.oid = c.conrelid"
        "  join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]"
        "  join pg_catalog.pg_attribute fa on fa.attrelid = c.confrelid and fa.attnum = c.confkey[1]"
        " where c.contype = 'f' and c.confrelid = %s::regclass and cardinality(c.conkey) = 1"
        "   and fa.attname = 'id' and cl.relnamespace = 'public'::regnamespace"
        " order by cl.relname, a.attname",
        [f"public.{kind.table}"],
    ).fetchall()
    return [Reference(r["table_name"], r["column_name"]) for r in rows]


def _where_refers(ref: Reference, kind: Kind, record_id: str, skip_id: str | None = None) -> tuple[sql.Composable, list]:
    """`where <column> = record_id`, leaving out the records themselves on a self-reference."""
    clause = sql.SQL(" where {} = %s").format(sql.Identifier(ref.column))
    params: list = [record_id]
    if ref.table == kind.table:
        clause += sql.SQL(" and id <> all(%s::uuid[])")
        params.append([record_id] + ([skip_id] if skip_id else []))
    return clause, params


def related_counts(conn: psycopg.Connection, kind: Kind, record_id: str) -> dict[str, int]:
    """{table: rows pointing at the record} for the tables that have any (what a merge would move)."""
    counts: dict[str, int] = {}
    for ref in references_to(conn, kind):
        where, params = _where_refers(ref, kind, record_id)
        n = conn.execute(sql.SQL("select count(*) as n from {}").format(ref.ident) + where, params).fetchone()["n"]
        if n:
            counts[ref.table] = counts.get(ref.table, 0) + n
    return counts


def _move(conn: psycopg.Connection, kind: Kind, ref: Reference, survivor_id: str, merged_id: str) -> tuple[int, int]:
    """Point the merged record's rows at the survivor: (moved, dropped).

    A row whose move would break a unique constraint (the survivor already has its twin, e.g.
    the same tag link) is deleted instead. The fast path is one statement; only when it hits
    such a collision are the rows moved one by one, each in its own savepoint.
    """
    where, params = _where_refers(ref, kind, merged_id, survivor_id)
    update = sql.SQL("update {} set {} = %s").format(ref.ident, sql.Identifier(ref.column)) + where
    try:
        try:
            with conn.transaction():
                return conn.execute(update, [survivor_id, *params]).rowcount, 0
        except psycopg.errors.UniqueViolation:
            pass
        ctids = [r["ctid"] for r in conn.execute(
            sql.SQL("select ctid::text as ctid from {}").format(ref.ident) + where, params).fetchall()]
        moved = dropped = 0
        for ctid in ctids:
            one = sql.SQL(" and ctid = %s::tid")
            try:
                with conn.transaction():
                    moved += conn.execute(update + one, [survivor_id, *params, ctid]).rowcount
            except psycopg.errors.UniqueViolation:
                dropped += conn.execute(sql.SQL("delete from {}").format(ref.ident) + where + one,
                                        [*params, ctid]).rowcount
        return moved, dropped
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(f"Your role cannot move the {ref.table.replace('_', ' ')} of this {kind.label}.") from None


def _left_behind(conn: psycopg.Connection, kind: Kind, ref: Reference, merged_id: str, survivor_id: str) -> bool:
    where, params = _where_refers(ref, kind, merged_id, survivor_id)
    return conn.execute(sql.SQL("select exists (select 1 from {}").format(ref.ident) + where + sql.SQL(") as e"),
                        params).fetchone()["e"]


# -- the survivor's values ---------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def choice_fields(kind: Kind) -> tuple[str, ...]:
    """Fields where the user picks a side (`consent` carries its date and source along)."""
    return tuple(f for f in kind.fields if f not in COMBINED)


def default_side(field: str, survivor: dict, merged: dict) -> str:
    """The survivor's value, unless it is empty and the merged record has one."""
    if field.startswith("custom."):
        key = field.split(".", 1)[1]
        mine, theirs = (survivor.get("custom") or {}).get(key), (merged.get("custom") or {}).get(key)
    else:
        mine, theirs = survivor.get(field), merged.get(field)
    return "merged" if _empty(mine) and not _empty(theirs) else "survivor"


def differences(kind: Kind, a: dict, b: dict) -> list[str]:
    """Fields (custom ones as `custom.<key>`) where the two records disagree and a choice is needed."""
    fields = []
    for field in choice_fields(kind):
        value_a, value_b = a.get(field), b.get(field)
        if field == "consent":
            value_a, value_b = (value_a, a.get("consent_source")), (value_b, b.get("consent_source"))
        if value_a != value_b and not (_empty(value_a) and _empty(value_b)):
            fields.append(field)
    custom_a, custom_b = a.get("custom") or {}, b.get("custom") or {}
    for key in sorted(custom_a.keys() | custom_b.keys()):
        if custom_a.get(key) != custom_b.get(key) and not (_empty(custom_a.get(key)) or _empty(custom_b.get(key))):
            fields.append(f"custom.{key}")
    return fields


def _check_choices(kind: Kind, chosen: dict[str, str]) -> None:
    allowed = set(choice_fields(kind))
    for field, side in chosen.items():
        if side not in SIDES or not (field in allowed or field.startswith("custom.")):
            raise ValueError(f"bad merge choice {field!r}: {side!r}")


def _combined_notes(first: str | None, second: str | None) -> str | None:
    if _empty(first) or first == second:
        return second or first or None
    if _empty(second):
        return first
    return (first + NOTES_SEPARATOR + second)[:NOTES_MAX]


def merged_values(kind: Kind, survivor: dict, merged: dict, chosen: dict[str, str]) -> dict[str, Any]:
    """What the survivor holds after the merge, for every field users edit.

    Per field the chosen side (by default the survivor's value unless it is empty); tags
    united; notes of both kept; custom fields per key as chosen, keys missing on one side
    taken from the other.
    """
    _check_choices(kind, chosen)
    sides = {"survivor": survivor, "merged": merged}
    values: dict[str, Any] = {}
    for field in choice_fields(kind):
        source = sides[chosen.get(field) or default_side(field, survivor, merged)]
        values[field] = source.get(field)
        if field == "consent":
            values["consent_at"] = source.get("consent_at")
            values["consent_source"] = source.get("consent_source")
    values["tags"] = sorted(set(survivor.get("tags") or []) | set(merged.get("tags") or []))
    values["notes"] = _combined_notes(survivor.get("notes"), merged.get("notes"))
    custom_s, custom_m = survivor.get("custom") or {}, merged.get("custom") or {}
    custom = {}
    for key in sorted(custom_s.keys() | custom_m.keys()):
        field = f"custom.{key}"
        pick = chosen.get(field) or default_side(field, survivor, merged)
        first, other = (custom_m, custom_s) if pick == "merged" else (custom_s, custom_m)
        value = first.get(key)
        custom[key] = other.get(key) if _empty(value) else value
    values["custom"] = {k: v for k, v in custom.items() if v is not None}
    return values


# -- reading a pair and merging it -------------------------------------------------------------------


def load_pair(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, a_id: str, b_id: str) -> dict | None:
    """Both records (with company and owner names) and what points at each: {"a", "b", "a_related", "b_related"}."""
    kind = _kind(kind)
    with db.as_user(claims) as conn:
        a, b = get_in(conn, kind, workspace_id, a_id), get_in(conn, kind, workspace_id, b_id)
        if a is None or b is None:
            return None
        return {"a": a, "b": b, "a_related": related_counts(conn, kind, a_id),
                "b_related": related_counts(conn, kind, b_id)}


def _lock(conn: psycopg.Connection, kind: Kind, workspace_id: str, ids: list[str]) -> dict[str, dict]:
    # In id order, so two merges of overlapping pairs wait for each other instead of deadlocking.
    rows = conn.execute(
        sql.SQL("select t.*, to_jsonb(t) - 'search_text' as doc from {} t"
                " where t.workspace_id = %s and t.id = any(%s::uuid[]) order by t.id for update").format(kind.ident),
        [workspace_id, ids],
    ).fetchall()
    return {str(r["id"]): r for r in rows}


def _refuse_missing(conn: psycopg.Connection, kind: Kind, workspace_id: str, ids: list[str]) -> None:
    visible = conn.execute(
        sql.SQL("select count(*) as n from {} where workspace_id = %s and id = any(%s::uuid[])").format(kind.ident),
        [workspace_id, ids],
    ).fetchone()["n"]
    if visible == len(ids):
        raise UserError(f"Your role cannot merge {kind.plural}; agents and above can.")
    raise UserError(f"One of these {kind.plural} no longer exists (merged or deleted meanwhile).")


def _update_survivor(conn: psycopg.Connection, kind: Kind, survivor: dict, values: dict[str, Any]) -> None:
    changes = {k: v for k, v in values.items() if v != survivor.get(k)}
    if not changes:
        return
    conn.execute(
        sql.SQL("update {} set {} where id = %s").format(
            kind.ident,
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in changes)),
        [Jsonb(v) if k == "custom" else v for k, v in changes.items()] + [survivor["id"]],
    )


def merge(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, survivor_id: str, merged_id: str,
          chosen: dict[str, str], version_survivor: int, version_merged: int) -> dict:
    """Merge `merged_id` into `survivor_id` in one transaction; returns what happened.

    `chosen` maps fields (custom ones as `custom.<key>`) to "survivor" or "merged"; fields left
    out keep the survivor's value unless it is empty. ConflictError if either record changed
    since the versions given (nothing is changed then). The summary: survivor_id, merged_id,
    moved {table: rows}, dropped {table: rows deleted as twins of the survivor's}, version.
    """
    kind = _kind(kind)
    survivor_id, merged_id = str(survivor_id), str(merged_id)
    if survivor_id == merged_id:
        raise UserError(f"Choose two different {kind.plural} to merge.")
    _check_choices(kind, chosen)
    try:
        with db.as_user(claims) as conn:
            return _merge_in(conn, kind, workspace_id, survivor_id, merged_id, chosen, version_survivor, version_merged)
    except psycopg.errors.CheckViolation as exc:
        raise UserError(f"The {kind.plural} were not merged: {exc.diag.message_primary}") from None
    except psycopg.errors.InsufficientPrivilege:
        raise UserError(f"Your role cannot merge {kind.plural}; agents and above can.") from None


def _merge_in(conn: psycopg.Connection, kind: Kind, workspace_id: str, survivor_id: str, merged_id: str,
              chosen: dict[str, str], version_survivor: int, version_merged: int) -> dict:
    rows = _lock(conn, kind, workspace_id, [survivor_id, merged_id])
    if len(rows) < 2:
        _refuse_missing(conn, kind, workspace_id, [survivor_id, merged_id])
    survivor, merged = rows[survivor_id], rows[merged_id]
    if survivor["version"] != version_survivor or merged["version"] != version_merged:
        raise ConflictError(
            f"Someone changed one of these {kind.plural} while you were comparing them; look again before merging.",
            {"survivor": survivor, "merged": merged},
        )
    values = merged_values(kind, survivor, merged, chosen)
    moved: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for ref in references_to(conn, kind):
        n_moved, n_dropped = _move(conn, kind, ref, survivor_id, merged_id)
        if _left_behind(conn, kind, ref, merged_id, survivor_id):
            raise UserError(f"Some {ref.table.replace('_', ' ')} of this {kind.label} could not be moved "
                            "(your role cannot change them); nothing was merged.")
        for counts, n in ((moved, n_moved), (dropped, n_dropped)):
            if n:
                counts[ref.table] = counts.get(ref.table, 0) + n
    # The email moves last: the unique index allows it only once the merged record is gone.
    email = values.pop("email")
    _update_survivor(conn, kind, survivor, values)
    conn.execute("select private.merge_absorb(%s, %s, %s)", [kind.table, survivor_id, merged_id])
    if email != survivor["email"]:
        conn.execute(sql.SQL("update {} set email = %s where id = %s").format(kind.ident), [email, survivor_id])
    conn.execute(
        "delete from public.duplicate_dismissals where workspace_id = %s and record_type = %s"
        " and (record_a = %s or record_b = %s)", [workspace_id, kind.name, merged_id, merged_id])
    details = {"merged": merged["doc"], "moved": moved, "dropped": dropped, "chosen": chosen}
    conn.execute("select private.log_merge(%s, %s, %s, %s)", [kind.table, survivor_id, merged_id, Jsonb(details)])
    version = conn.execute(sql.SQL("select version from {} where id = %s").format(kind.ident),
                           [survivor_id]).fetchone()["version"]
    return {"survivor_id": survivor_id, "merged_id": merged_id, "moved": moved, "dropped": dropped, "version": version}
