"""Saving a row only if nobody saved it since the version the user looked at (optimistic locking).

Every workspace table carries `version` (bumped by a trigger). An update names the version it
started from; no row updated means the row is gone, someone saved first (ConflictError with what is
stored now, so the screen can show both), or row-level security kept the caller's role from it.
"""

from __future__ import annotations

from typing import Callable

import psycopg
from psycopg import sql

from lib.errors import ConflictError, UserError


def save(conn: psycopg.Connection, table: str, workspace_id: str, record_id: str, version: int,
         values: dict[str, object], *, what: str, refused: Callable[[psycopg.Error], Exception],
         current: Callable[[], dict | None] | None = None, conflict: str | Callable[[dict], str] | None = None,
         denied: str | None = None) -> int:
    """`update public.<table> set <values>` where the row is still at `version`; returns the new version.

    `refused` turns a database refusal into the user's message; `current` reads the row as the
    screen shows it (default: the table's columns). `conflict` replaces the "someone else changed
    this <what>" message (a callable gets the stored row), `denied` the message for a role that
    row-level security kept from the row (default: agents and above may change it).
    """
    statement = sql.SQL(
        "update {table} set {assignments} where workspace_id = %(_ws)s and id = %(_id)s and version = %(_version)s"
        " returning version").format(
        table=sql.Identifier("public", table),
        assignments=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in values))
    try:
        with conn.transaction():
            row = conn.execute(statement, {**values, "_ws": workspace_id, "_id": record_id, "_version": version}).fetchone()
    except psycopg.Error as exc:
        raise refused(exc) from exc
    if row:
        return row["version"]
    now = current() if current else conn.execute(
        sql.SQL("select * from {} where workspace_id = %s and id = %s").format(sql.Identifier("public", table)),
        [workspace_id, record_id]).fetchone()
    if now is None:
        raise UserError(f"This {what} no longer exists.")
    if now["version"] == version:  # still there, unchanged: row-level security kept this role from it
        raise UserError(denied or f"Your role cannot change this {what}; agents and above can.")
    if conflict is None:
        conflict = f"Someone else changed this {what} meanwhile."
    raise ConflictError(conflict(now) if callable(conflict) else conflict, now)
