"""Saved segments of customers: live filters, static lists and RFM segments.

Three kinds share `public.segments` (a name, a kind, a jsonb definition):

- **filter**: a saved, live filter over contacts. `definition = {"filters": {...}}` holds the
  fields of a `lib.customer_search.Filters` (stage, owner, tags, source, country, date ranges,
  custom fields, consent, open deal/ticket, activity, RFM segment, list membership); members are
  whoever matches *now*, counted and listed by the same SQL as the Customers list.
- **static**: a frozen list; its members are rows of `public.segment_members`, added by id or by
  freezing a filter's matches at that moment, and removed by id. Later changes to the contacts do
  not change the list (merging deletes the merged contact and so its membership).
- **rfm**: saved on the Customers analytics page, `definition = {"segment", "currency",
  "snapshot" or null}`; the RFM segment is computed per customer (a company, or a contact buying
  without one). As a contact audience it means the contacts of those companies plus those
  contacts themselves; `members()` still returns the customers.

Every kind is turned into one Filters (`filters_of`), so counting, the preview, the CSV, the ids a
campaign snapshots (`member_ids`, `member_ids_sql`) and a contact's segments (`segments_of_contact`)
are one code path. Archived contacts belong to no segment's members (a static list keeps their
row; restoring them brings them back). `member_count` is the count when saved (static lists: kept
current). Everything runs as the signed-in user: row-level security decides what each reader sees.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields, replace
from datetime import date
from typing import Any, Iterable, Iterator

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lib import customer_search as search
from lib.analytics import customers as ca
from lib.customers import CONTACT
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError

RFM = "rfm"
FILTER = "filter"
STATIC = "static"
KINDS = {FILTER: "Live filter", STATIC: "Static list", RFM: "RFM segment"}
PREVIEW_ROWS = 20
LIVE_CHECKED_PER_CONTACT = 50  # segments_of_contact evaluates at most this many live segments
COUNT_TIMEOUT_MS = 10_000  # a runaway count (a custom text filter on millions of rows) gives up here
RANDOM_PAGE_COST = "1.1"  # for counts only (see _count)
# Filters fields a segment saves; search, archive, company and ids belong to the list screens.
_SAVED = ("stages", "owners", "tags", "sources", "countries", "created_from", "created_to", "contacted_from",
          "contacted_to", "custom", "consent", "open_deal", "open_ticket", "active_days", "inactive_days",
          "in_list", "rfm_segments", "rfm_currency", "rfm_snapshot")
_DATES = ("created_from", "created_to", "contacted_from", "contacted_to", "rfm_snapshot")
_TUPLES = ("stages", "owners", "tags", "sources", "countries", "rfm_segments")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# -- definitions ---------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    return value


def to_definition(f: search.Filters) -> dict:
    """The saved form of a live filter: its non-empty segment fields, JSON-ready."""
    values = asdict(f)
    saved = {k: _json_value(values[k]) for k in _SAVED if values[k] not in (None, "", (), [], {})}
    if "custom" in saved:
        saved["custom"] = {k: _json_value(v) for k, v in saved["custom"].items()}
    return {"filters": saved}


def _day(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) and _ISO_DAY.match(value) else value


def from_definition(definition: dict) -> search.Filters:
    """The Filters of a saved live filter (unknown keys are ignored)."""
    saved = (definition or {}).get("filters") or {}
    known = {f.name for f in fields(search.Filters)}
    values: dict[str, Any] = {}
    for key, value in saved.items():
        if key not in known or key not in _SAVED:
            continue
        if key in _TUPLES:
            value = tuple(value or ())
        elif key in _DATES:
            value = _day(value)
        elif key == "custom":
            value = {k: tuple(_day(x) for x in v) if isinstance(v, list) else v for k, v in (value or {}).items()}
        values[key] = value
    return search.Filters(**values)


def filters_of(segment: dict) -> search.Filters:
    """The contacts filter of any segment row (kind, definition, id)."""
    if segment["kind"] == FILTER:
        return from_definition(segment["definition"])
    if segment["kind"] == STATIC:
        return search.Filters(in_list=str(segment["id"]))
    if segment["kind"] == RFM:
        d = segment["definition"]
        return search.Filters(rfm_segments=(d["segment"],), rfm_currency=d.get("currency") or "",
                              rfm_snapshot=date.fromisoformat(d["snapshot"]) if d.get("snapshot") else None)
    raise UserError(f"Segments of kind “{segment['kind']}” are not supported.")


def _criteria(f: search.Filters, people: dict[str, str], lists: dict[str, str]) -> list[str]:
    """Each criterion of `f` in words."""
    from lib.customers import STAGE_LABELS

    said: list[str] = []
    either = lambda values: " or ".join(str(v) for v in values)  # noqa: E731
    if f.stages:
        said.append("stage " + either(STAGE_LABELS.get(v, v) for v in f.stages))
    if f.owners:
        said.append("owner " + either(people.get(o, "someone else") if o else "nobody" for o in f.owners))
    if f.tags:
        said.append("tagged " + either(f.tags))
    if f.sources:
        said.append("source " + either(f.sources))
    if f.countries:
        said.append("country " + either(f.countries))
    for label, low, high in (("created", f.created_from, f.created_to), ("last contacted", f.contacted_from, f.contacted_to)):
        if low or high:
            said.append(f"{label} {'from ' + low.isoformat() if low else ''}{' ' if low and high else ''}"
                        f"{'until ' + high.isoformat() if high else ''}")
    if f.custom:
        said.append("custom fields " + ", ".join(sorted(f.custom)))
    for value, yes, no in ((f.consent, "consent given", "no consent"), (f.open_deal, "an open deal", "no open deal"),
                           (f.open_ticket, "an open ticket", "no open ticket")):
        if value is not None:
            said.append(yes if value else no)
    if f.active_days is not None:
        said.append(f"activity within {f.active_days} days")
    if f.inactive_days is not None:
        said.append(f"no activity for {f.inactive_days} days")
    if f.in_list:
        said.append(f"on the list {lists.get(f.in_list, '(deleted)')}")
    if f.rfm_segments:
        said.append("RFM segment " + either(f.rfm_segments) + (f" ({f.rfm_currency})" if f.rfm_currency else ""))
    return said


def describe(segment: dict, people: dict[str, str] | None = None, lists: dict[str, str] | None = None) -> str:
    """One line saying what a segment means (plain text; escape it for markdown). `people`: user
    id -> name, `lists`: static list id -> name, to name them."""
    if segment["kind"] == STATIC:
        return "Static list: its members were added by hand or frozen from a filter; they change only when edited."
    if segment["kind"] == RFM:
        d = segment["definition"]
        return (f"RFM segment {d['segment']} ({d.get('currency')}, as of {d.get('snapshot') or 'the latest data'}): "
                "contacts of the companies in it, and contacts buying without a company.")
    said = _criteria(from_definition(segment["definition"]), people or {}, lists or {})
    return "Live filter: active contacts" + (" with " + "; ".join(said) if said else " (all of them)") + "."


# -- writing -------------------------------------------------------------------------------------


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return FormErrors({"name": "A segment with this name exists already."})
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot save segments; agents and above can.")
    if isinstance(exc, (psycopg.errors.InvalidTextRepresentation, psycopg.errors.ForeignKeyViolation)):
        return UserError("Some of these contacts do not exist (any more).")
    raise exc


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise FormErrors({"name": "Give the segment a name (up to 200 characters)."})
    return name


def _ids(contact_ids: Iterable[str]) -> list[str]:
    ids = sorted({str(i) for i in contact_ids or ()})
    if any(not _UUID.match(i) for i in ids):
        raise UserError("Some of these contacts do not exist (any more).")
    return ids


def _snapshot(conn: psycopg.Connection, workspace_id: str, definition: dict) -> date | None:
    if definition.get("snapshot"):
        return date.fromisoformat(definition["snapshot"])
    return ca.snapshot_after_last_sale(conn, workspace_id, definition["currency"])


def save_rfm(db: Database, claims: Claims, workspace_id: str, name: str, segment: str, currency: str,
             snapshot: date | None) -> dict:
    """Save RFM segment `segment` (as of `snapshot`, or None = always the latest data) as `name`;
    returns id and member_count."""
    name = _name(name)
    if segment not in ca.SEGMENTS:
        raise FormErrors({"segment": f"Unknown RFM segment: {segment}."})
    definition = {"segment": segment, "currency": currency, "snapshot": snapshot.isoformat() if snapshot else None}
    try:
        with db.as_user(claims) as conn:
            at = _snapshot(conn, workspace_id, definition)
            count = ca.count_members(conn, workspace_id, currency, at, segment) if at else 0
            row = conn.execute(
                "insert into public.segments (workspace_id, name, kind, definition, member_count)"
                " values (%s, %s, %s, %s, %s) returning id, member_count",
                [workspace_id, name, RFM, Jsonb(definition), count]).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    return {"id": str(row["id"]), "member_count": row["member_count"]}


def save_filter_segment(db: Database, claims: Claims, workspace_id: str, name: str, filters: search.Filters) -> dict:
    """Save `filters` as a live segment called `name`; returns id and member_count (matches now)."""
    name, definition = _name(name), to_definition(filters)
    try:
        with db.as_user(claims) as conn:
            count = _count(conn, workspace_id, from_definition(definition))
            row = conn.execute(
                "insert into public.segments (workspace_id, name, kind, definition, member_count)"
                " values (%s, %s, %s, %s, %s) returning id, member_count",
                [workspace_id, name, FILTER, Jsonb(definition), count]).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    return {"id": str(row["id"]), "member_count": row["member_count"]}


def update_filter_segment(db: Database, claims: Claims, workspace_id: str, segment_id: str,
                          filters: search.Filters) -> int:
    """Replace a live segment's filter; returns its member count now."""
    definition = to_definition(filters)
    try:
        with db.as_user(claims) as conn:
            count = _count(conn, workspace_id, from_definition(definition))
            row = conn.execute(
                "update public.segments set definition = %s, member_count = %s"
                " where workspace_id = %s and id = %s and kind = %s returning id",
                [Jsonb(definition), count, workspace_id, segment_id, FILTER]).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    if row is None:
        raise UserError("This live segment does not exist any more, or your role cannot change it.")
    return count


def _insert_members(conn: psycopg.Connection, workspace_id: str, segment_id: str,
                    contact_ids: Iterable[str] | None, filters: search.Filters | None) -> int:
    """Add contacts (by id, or every match of `filters` now) to a static list, set-based; returns how many were new."""
    head = sql.SQL("insert into public.segment_members (workspace_id, segment_id, contact_id)"
                   " select %(ws)s, %(list_id)s, c.id from public.contacts c where ")
    tail = sql.SQL(" on conflict (segment_id, contact_id) do nothing")
    added = 0
    if contact_ids is not None:
        ids = _ids(contact_ids)
        added += conn.execute(head + sql.SQL("c.workspace_id = %(ws)s and c.id = any(%(ids)s::uuid[])") + tail,
                              {"ws": workspace_id, "list_id": segment_id, "ids": ids}).rowcount
    if filters is not None:
        where, params = search.where_sql(conn, workspace_id, CONTACT, filters, whole=True)
        added += conn.execute(head + where + tail, {**params, "list_id": segment_id}).rowcount
    return added


def _recount_list(conn: psycopg.Connection, workspace_id: str, segment_id: str) -> int:
    row = conn.execute(
        "update public.segments s set member_count = (select count(*) from public.segment_members m"
        " where m.segment_id = s.id) where s.workspace_id = %s and s.id = %s and s.kind = %s returning member_count",
        [workspace_id, segment_id, STATIC]).fetchone()
    if row is None:
        raise UserError("This list does not exist any more, or your role cannot change it.")
    return row["member_count"]


def save_static_list(db: Database, claims: Claims, workspace_id: str, name: str,
                     contact_ids: Iterable[str] | None = None, filters: search.Filters | None = None) -> dict:
    """A new static list `name` holding `contact_ids` and/or every contact matching `filters` now
    (frozen: later changes to those contacts do not change the list); returns id and member_count."""
    name = _name(name)
    definition = {"frozen_from": to_definition(filters)["filters"] if filters is not None else None}
    try:
        with db.as_user(claims) as conn:
            segment_id = str(conn.execute(
                "insert into public.segments (workspace_id, name, kind, definition) values (%s, %s, %s, %s) returning id",
                [workspace_id, name, STATIC, Jsonb(definition)]).fetchone()["id"])
            _insert_members(conn, workspace_id, segment_id, contact_ids, filters)
            count = _recount_list(conn, workspace_id, segment_id)
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    return {"id": segment_id, "member_count": count}


def add_members(db: Database, claims: Claims, workspace_id: str, segment_id: str,
                contact_ids: Iterable[str] | None = None, filters: search.Filters | None = None) -> int:
    """Add contacts to a static list (by id and/or every current match of `filters`); returns how many were new."""
    try:
        with db.as_user(claims) as conn:
            _segment(conn, workspace_id, segment_id, STATIC)
            added = _insert_members(conn, workspace_id, segment_id, contact_ids, filters)
            _recount_list(conn, workspace_id, segment_id)
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    return added


def remove_members(db: Database, claims: Claims, workspace_id: str, segment_id: str, contact_ids: Iterable[str]) -> int:
    """Take contacts off a static list; returns how many were on it."""
    ids = _ids(contact_ids)
    try:
        with db.as_user(claims) as conn:
            _segment(conn, workspace_id, segment_id, STATIC)
            _recount_list(conn, workspace_id, segment_id)  # refuses a role that cannot change lists
            removed = conn.execute(
                "delete from public.segment_members where workspace_id = %s and segment_id = %s"
                " and contact_id = any(%s::uuid[])", [workspace_id, segment_id, ids]).rowcount
            _recount_list(conn, workspace_id, segment_id)
    except psycopg.Error as exc:
        raise _refused(exc) from exc
    return removed


def delete_segment(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> None:
    """Delete a segment (admins); campaigns that used it keep their snapshotted members."""
    with db.as_user(claims) as conn:
        deleted = conn.execute("delete from public.segments where workspace_id = %s and id = %s returning id",
                               [workspace_id, segment_id]).fetchone()
    if deleted is None:
        raise UserError("Only admins can delete segments (or it is gone already).")


# -- reading -------------------------------------------------------------------------------------


def list_segments(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Every segment of the workspace, by name, with who created it."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select s.id::text as id, s.name, s.kind, s.definition, s.member_count, s.created_at, s.version,"
            " s.created_by::text as created_by, p.display_name as created_by_name"
            " from public.segments s left join public.profiles p on p.id = s.created_by"
            " where s.workspace_id = %s order by lower(s.name), s.id", [workspace_id]).fetchall()


def _segment(conn: psycopg.Connection, workspace_id: str, segment_id: str, kind: str | None = None) -> dict:
    row = None
    if _UUID.match(str(segment_id or "")):
        row = conn.execute("select id::text as id, name, kind, definition from public.segments"
                           " where workspace_id = %s and id = %s", [workspace_id, segment_id]).fetchone()
    if row is None:
        raise UserError("This segment does not exist (any more).")
    if kind and row["kind"] != kind:
        raise UserError(f"“{row['name']}” is not a {KINDS[kind].lower()}.")
    return row


def get(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> dict:
    with db.as_user(claims) as conn:
        return _segment(conn, workspace_id, segment_id)


def _count(conn: psycopg.Connection, workspace_id: str, f: search.Filters) -> int:
    where, params = search.where_sql(conn, workspace_id, CONTACT, f, whole=True)
    conn.execute("select set_config('statement_timeout', %s, true)", [f"{COUNT_TIMEOUT_MS}ms"])
    # The contacts' indexes are in memory when counting matters: costing an index page like a
    # sequential one lets the planner count on the narrow covering indexes of migration
    # 20261123000028 instead of scanning the wide table (docs/benchmarks.md, "Segments").
    conn.execute("select set_config('random_page_cost', %s, true)", [RANDOM_PAGE_COST])
    return conn.execute(sql.SQL("select count(*) as n from public.contacts c where ") + where, params).fetchone()["n"]


def count_filters(db: Database, claims: Claims, workspace_id: str, f: search.Filters) -> int:
    """How many active contacts match `f` now (exact)."""
    with db.as_user(claims) as conn:
        return _count(conn, workspace_id, f)


def count(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> int:
    """How many active contacts the segment has now (exact)."""
    with db.as_user(claims) as conn:
        return _count(conn, workspace_id, filters_of(_segment(conn, workspace_id, segment_id)))


def preview_filters(db: Database, claims: Claims, workspace_id: str, f: search.Filters,
                    limit: int = PREVIEW_ROWS) -> list[dict]:
    """The first `limit` matching contacts by name (the Customers list's rows)."""
    return search.page(db, claims, workspace_id, CONTACT, replace(f, archived=False), "name",
                       limit=limit, with_total=False).rows


def preview(db: Database, claims: Claims, workspace_id: str, segment_id: str, limit: int = PREVIEW_ROWS) -> list[dict]:
    return preview_filters(db, claims, workspace_id, filters_of(get(db, claims, workspace_id, segment_id)), limit)


def iter_members(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> Iterator[dict]:
    """Every member contact (the Customers list's rows, by name), streamed: for the CSV download."""
    f = filters_of(get(db, claims, workspace_id, segment_id))
    yield from search.iter_rows(db, claims, workspace_id, CONTACT, f, "name")


def members_csv(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> bytes:
    """The members as the Customers export's CSV (formula-injection safe, importable back)."""
    from lib import custom_fields, export

    columns, headers = export.export_columns(CONTACT, custom_fields.definitions(db, claims, workspace_id, "contact"))
    return b"".join(export.export_csv(iter_members(db, claims, workspace_id, segment_id), columns, headers))


def members(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> list[dict]:
    """An RFM segment's customers now (companies or contacts, recomputed from its definition)."""
    with db.as_user(claims) as conn:
        row = _segment(conn, workspace_id, segment_id)
        if row["kind"] != RFM:
            raise UserError(f"Segments of kind “{row['kind']}” are not supported here.")
        definition = row["definition"]
        at = _snapshot(conn, workspace_id, definition)
        if at is None:
            return []
        return ca.scored_customers(conn, workspace_id, definition["currency"], at, (definition["segment"],))


# -- for campaigns and the customer page -----------------------------------------------------------


def member_ids_sql(conn: psycopg.Connection, workspace_id: str, segment_id: str) -> tuple[sql.Composed, dict]:
    """`select c.id from public.contacts c where …`: the segment's member contact ids now, as SQL
    with named parameters (`%(name)s`; none starts with "campaign_", so a caller can add its own
    under that prefix), for set-based use such as `insert … select … from (<it>) m`. Runs as
    `conn`'s user; RFM members are looked up when this is called."""
    f = filters_of(_segment(conn, workspace_id, segment_id))
    where, params = search.where_sql(conn, workspace_id, CONTACT, f, whole=True)
    return sql.SQL("select c.id from public.contacts c where ") + where, params


def member_ids(conn: psycopg.Connection, workspace_id: str, segment_id: str) -> list[str]:
    """The segment's member contact ids now (see member_ids_sql)."""
    query, params = member_ids_sql(conn, workspace_id, segment_id)
    return [str(r["id"]) for r in conn.execute(query, params).fetchall()]


def segments_of_contact(db: Database, claims: Claims, workspace_id: str, contact_id: str) -> list[dict]:
    """The segments a contact is in now, by name: static lists holding it, and the live filters and
    RFM segments it matches (at most LIVE_CHECKED_PER_CONTACT of those, each one indexed lookup)."""
    if not _UUID.match(str(contact_id or "")):
        return []
    found = []
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select s.id::text as id, s.name, s.kind, s.definition,"
            " exists (select 1 from public.segment_members m where m.segment_id = s.id and m.contact_id = %s) as listed"
            " from public.segments s where s.workspace_id = %s order by lower(s.name), s.id",
            [contact_id, workspace_id]).fetchall()
        rfm_cache: dict = {}
        live = [r for r in rows if r["kind"] != STATIC][:LIVE_CHECKED_PER_CONTACT]
        matched = set()
        for row in live:
            f = replace(filters_of(row), ids=(contact_id,))
            where, params = search.where_sql(conn, workspace_id, CONTACT, f, rfm_cache)
            hit = conn.execute(sql.SQL("select exists (select 1 from public.contacts c where ") + where
                               + sql.SQL(") as hit"), params).fetchone()["hit"]
            if hit:
                matched.add(row["id"])
        for row in rows:
            if row["id"] in matched or (row["kind"] == STATIC and row["listed"]):
                found.append({"id": row["id"], "name": row["name"], "kind": row["kind"]})
    return found
