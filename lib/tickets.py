"""Tickets: opening them, the allowed status changes, priority and SLA, replies and internal
notes, attachments, and the queues. Every call is one transaction as the signed-in user.

The database keeps the rules (`private.prepare_ticket`): gapless numbers, allowed transitions,
SLA due times that pause while pending the customer, solved/closed/reopen bookkeeping; the
first public reply from the team sets the first-response time (`private.note_first_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import clean_name, collect, optional_text

CHANNELS = ("email", "phone", "portal", "chat", "social", "walk-in")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending_customer", "on_hold", "solved", "closed")
STATUS_LABELS = {"new": "New", "open": "Open", "pending_customer": "Pending customer", "on_hold": "On hold",
                 "solved": "Solved", "closed": "Closed"}
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Content types accepted for attachments, each with the first bytes its files start with
# (None: text, checked to decode as UTF-8).
ATTACHMENT_TYPES: dict[str, tuple[bytes, ...] | None] = {
    "application/pdf": (b"%PDF",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "text/plain": None,
    "text/csv": None,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/zip": (b"PK\x03\x04",),
}
QUEUES = {
    "mine": "Mine",
    "unassigned": "Unassigned",
    "breaching": "Breaching within 1 hour",
    "open": "All open",
    "solved": "Solved",
}
PAGE_SIZE = 50


def display_number(number: int) -> str:
    return f"T-{number}"


def _text(value: object, what: str, limit: int) -> str | None:
    text = str(value or "").strip()
    if len(text) > limit:
        raise ValueError(f"The {what} can be at most {limit:,} characters long.")
    return text or None


def _choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"Choose a {what}.")
    return str(value)


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot change tickets; agents and above can.")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        return UserError(md_escape(exc.diag.message_primary or "That change is not allowed."))
    raise exc


def _write(conn: psycopg.Connection, statement: str, params: list | dict) -> dict | None:
    try:
        with conn.transaction():
            return conn.execute(statement, params).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from exc


def create(db: Database, claims: Claims, workspace_id: str, subject: str, description: str | None = None, *,
           channel: str = "email", priority: str = "normal", category: str | None = None,
           contact_id: str | None = None, company_id: str | None = None, assignee_id: str | None = None,
           message_id: str | None = None) -> dict:
    """Open a ticket; returns {"id", "number"}."""
    values, errors = collect({
        "subject": (clean_name, subject, "subject", 200),
        "description": (_text, description, "description", 50000),
        "channel": (_choice, channel, CHANNELS, "channel"),
        "priority": (_choice, priority, PRIORITIES, "priority"),
        "category": (optional_text, category, "category"),
    })
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        if contact_id and not company_id:
            row = conn.execute("select company_id from public.contacts where workspace_id = %s and id = %s",
                               [workspace_id, contact_id]).fetchone()
            company_id = str(row["company_id"]) if row and row["company_id"] else None
        row = _write(
            conn,
            "insert into public.tickets (workspace_id, subject, description, channel, priority, category,"
            " contact_id, company_id, assignee_id, message_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id, number",
            [workspace_id, values["subject"], values["description"], values["channel"], values["priority"],
             values["category"], contact_id, company_id, assignee_id, message_id],
        )
    return {"id": str(row["id"]), "number": row["number"]}


TICKET_COLUMNS = (
    "t.*, k.full_name as contact_name, k.email as contact_email, co.name as company_name,"
    " a.display_name as assignee_name,"
    " (t.first_responded_at is null and t.first_response_due_at < now() and t.status not in ('solved', 'closed'))"
    "   or (t.first_responded_at > t.first_response_due_at) as first_response_breached,"
    " (t.solved_at is null and t.paused_at is null and t.resolution_due_at < now() and t.status <> 'closed')"
    "   or (t.solved_at > t.resolution_due_at) as resolution_breached"
)
TICKET_JOINS = (
    " from public.tickets t left join public.contacts k on k.id = t.contact_id"
    " left join public.companies co on co.id = t.company_id left join public.profiles a on a.id = t.assignee_id"
)


def get(db: Database, claims: Claims, workspace_id: str, ticket_id: str) -> dict | None:
    with db.as_user(claims) as conn:
        return _get(conn, workspace_id, ticket_id)


def _get(conn: psycopg.Connection, workspace_id: str, ticket_id: str) -> dict | None:
    return conn.execute(f"select {TICKET_COLUMNS}{TICKET_JOINS} where t.workspace_id = %s and t.id = %s",
                        [workspace_id, ticket_id]).fetchone()


def _update(db: Database, claims: Claims, workspace_id: str, ticket_id: str, assignments: str, params: list,
            version: int) -> int:
    with db.as_user(claims) as conn:
        row = _write(conn, f"update public.tickets set {assignments}"  # noqa: S608 (fixed assignments)
                           " where workspace_id = %s and id = %s and version = %s returning version",
                     [*params, workspace_id, ticket_id, version])
        if row:
            return row["version"]
        current = _get(conn, workspace_id, ticket_id)
    if current is None:
        raise UserError("This ticket no longer exists.")
    if current["version"] == version:
        raise UserError("Your role cannot change tickets; agents and above can.")
    raise ConflictError(
        f"Someone else changed {display_number(current['number'])} meanwhile "
        f"(now {STATUS_LABELS[current['status']].lower()}, {current['priority']}).", current)


def set_status(db: Database, claims: Claims, workspace_id: str, ticket_id: str, status: str, version: int) -> int:
    """Change the status; transitions not allowed are refused with a message naming both."""
    if status not in STATUSES:
        raise FormErrors({"status": "Choose a status."})
    return _update(db, claims, workspace_id, ticket_id, "status = %s", [status], version)


def set_priority(db: Database, claims: Claims, workspace_id: str, ticket_id: str, priority: str, version: int) -> int:
    """Change the priority; the SLA due times follow the new priority's targets."""
    if priority not in PRIORITIES:
        raise FormErrors({"priority": "Choose a priority."})
    return _update(db, claims, workspace_id, ticket_id, "priority = %s", [priority], version)


def assign(db: Database, claims: Claims, workspace_id: str, ticket_id: str, assignee_id: str | None, version: int) -> int:
    if assignee_id:
        with db.as_user(claims) as conn:
            if not conn.execute("select 1 from public.workspace_members where workspace_id = %s and user_id = %s",
                                [workspace_id, assignee_id]).fetchone():
                raise FormErrors({"assignee_id": "Assign the ticket to a member of this workspace."})
    return _update(db, claims, workspace_id, ticket_id, "assignee_id = %s", [assignee_id or None], version)


def reply(db: Database, claims: Claims, workspace_id: str, ticket_id: str, body: str, *, public: bool = True,
          from_customer: bool = False, message_id: str | None = None) -> str:
    """A public reply or an internal note; the team's first public reply is the first response."""
    values, errors = collect({"body": (_text, body, "reply", 50000)})
    if not errors and not values["body"]:
        errors["body"] = "Write the reply first."
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        row = _write(
            conn,
            "insert into public.ticket_comments (workspace_id, ticket_id, body, is_public, from_customer, message_id)"
            " values (%s, %s, %s, %s, %s, %s) returning id",
            [workspace_id, ticket_id, values["body"], public, from_customer, message_id],
        )
    return str(row["id"])


def comments(db: Database, claims: Claims, workspace_id: str, ticket_id: str) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select c.id, c.body, c.is_public, c.from_customer, c.created_at, c.author_id,"
            " p.display_name as author_name from public.ticket_comments c"
            " left join public.profiles p on p.id = c.author_id"
            " where c.workspace_id = %s and c.ticket_id = %s order by c.created_at, c.id",
            [workspace_id, ticket_id],
        ).fetchall()


def check_attachment(filename: str, content_type: str, data: bytes) -> str:
    """The content type to store, after checking size, type and that the bytes match the type."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise FormErrors({"attachment": f"“{md_escape(filename)}” is larger than 10 MB."})
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in ATTACHMENT_TYPES:
        raise FormErrors({"attachment": f"Files of type {md_escape(declared or 'unknown')} cannot be attached. "
                                        "Use PDF, images, text, CSV, Word or Excel files."})
    signatures = ATTACHMENT_TYPES[declared]
    if signatures is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise FormErrors({"attachment": f"“{md_escape(filename)}” is not a text file."}) from None
    elif not data.startswith(signatures):
        raise FormErrors({"attachment": f"“{md_escape(filename)}” is not really a {declared} file."})
    return declared


def attach(db: Database, claims: Claims, workspace_id: str, ticket_id: str, filename: str, content_type: str,
           data: bytes, comment_id: str | None = None) -> str:
    stored_type = check_attachment(filename, content_type, data)
    name = " ".join(str(filename or "").replace("/", "_").replace("\\", "_").split())[:255] or "attachment"
    with db.as_user(claims) as conn:
        row = _write(
            conn,
            "insert into public.ticket_attachments (workspace_id, ticket_id, comment_id, filename, content_type,"
            " size_bytes, data) values (%s, %s, %s, %s, %s, %s, %s) returning id",
            [workspace_id, ticket_id, comment_id, name, stored_type, len(data), data],
        )
    return str(row["id"])


@dataclass
class QueuePage:
    rows: list[dict]
    next_after: tuple | None


def queue(db: Database, claims: Claims, workspace_id: str, view: str = "open", *, after: tuple | None = None,
          limit: int = PAGE_SIZE, priorities: tuple[str, ...] = (), search: str = "") -> QueuePage:
    """One keyset page of a queue, most urgent first (resolution due time, then id)."""
    where = ["t.workspace_id = %(ws)s"]
    params: dict[str, Any] = {"ws": workspace_id, "me": claims.sub, "limit": limit + 1}
    open_statuses = "t.status in ('new', 'open', 'pending_customer', 'on_hold')"
    if view == "mine":
        where += [open_statuses, "t.assignee_id = %(me)s"]
    elif view == "unassigned":
        where += [open_statuses, "t.assignee_id is null"]
    elif view == "breaching":
        where += [open_statuses, "t.paused_at is null",
                  "(t.resolution_due_at < now() + interval '1 hour'"
                  " or (t.first_responded_at is null and t.first_response_due_at < now() + interval '1 hour'))"]
    elif view == "solved":
        where.append("t.status in ('solved', 'closed')")
    else:
        where.append(open_statuses)
    if priorities:
        params["priorities"] = list(priorities)
        where.append("t.priority = any(%(priorities)s)")
    if search.strip():
        params["pat"] = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(t.subject ilike %(pat)s or t.number::text = %(raw)s)")
        params["raw"] = search.strip().upper().removeprefix("T-")
    if after:
        params["a_due"], params["a_id"] = after
        where.append("(t.resolution_due_at, t.id) > (%(a_due)s, %(a_id)s)")
    with db.as_user(claims) as conn:
        rows = conn.execute(
            f"select {TICKET_COLUMNS}{TICKET_JOINS} where {' and '.join(where)}"
            " order by t.resolution_due_at, t.id limit %(limit)s",
            params,
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(rows, (rows[-1]["resolution_due_at"], rows[-1]["id"]) if more else None)
