"""Saved customer segments: a name plus a definition; members are computed when asked for.

Only the kind 'rfm' exists so far (saved from the Customers analytics page): definition =
{"segment": "At risk", "currency": "GBP", "snapshot": "2011-12-10" or null}. A null snapshot
means "at the latest data" (the day after the last sale when the members are computed).
`member_count` is the count when saved. Why members are not stored: docs/architecture.md,
"Analytics: segments".
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.types.json import Jsonb

from lib.analytics import customers as ca
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError

RFM = "rfm"


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return FormErrors({"name": "A segment with this name exists already."})
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot save segments; agents and above can.")
    raise exc


def _snapshot(conn: psycopg.Connection, workspace_id: str, definition: dict) -> date | None:
    if definition.get("snapshot"):
        return date.fromisoformat(definition["snapshot"])
    return ca.snapshot_after_last_sale(conn, workspace_id, definition["currency"])


def save_rfm(db: Database, claims: Claims, workspace_id: str, name: str, segment: str, currency: str,
             snapshot: date | None) -> dict:
    """Save RFM segment `segment` (as of `snapshot`, or None = always the latest data) as `name`;
    returns id and member_count."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise FormErrors({"name": "Give the segment a name (up to 200 characters)."})
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


def list_segments(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select id::text as id, name, kind, definition, member_count, created_at, version"
            " from public.segments where workspace_id = %s order by lower(name), id", [workspace_id]).fetchall()


def members(db: Database, claims: Claims, workspace_id: str, segment_id: str) -> list[dict]:
    """The segment's customers now (recomputed from its definition), as the caller sees them."""
    with db.as_user(claims) as conn:
        row = conn.execute("select kind, definition from public.segments where workspace_id = %s and id = %s",
                           [workspace_id, segment_id]).fetchone()
        if row is None:
            raise UserError("This segment does not exist (any more).")
        if row["kind"] != RFM:
            raise UserError(f"Segments of kind “{row['kind']}” are not supported here.")
        definition = row["definition"]
        at = _snapshot(conn, workspace_id, definition)
        if at is None:
            return []
        return ca.scored_customers(conn, workspace_id, definition["currency"], at, (definition["segment"],))
