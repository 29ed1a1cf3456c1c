"""Tickets: opening them, the allowed status changes, priority and SLA, replies and internal
notes, attachments, and the queues. Every call is one transaction as the signed-in user.

The database keeps the rules (`private.prepare_ticket`): gapless numbers, allowed transitions,
SLA due times that pause while pending the customer, solved/closed/reopen bookkeeping; the
first public reply from the team sets the first-response time (`private.note_first_response`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from lib import versioned
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import contains_pattern, md_escape
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


def _update(db: Database, claims: Claims, workspace_id: str, ticket_id: str, values: dict, version: int) -> int:
    with db.as_user(claims) as conn:
        return versioned.save(
            conn, "tickets", workspace_id, ticket_id, version, values, what="ticket", refused=_refused,
            current=lambda: _get(conn, workspace_id, ticket_id),
            denied="Your role cannot change tickets; agents and above can.",
            conflict=lambda now: f"Someone else changed {display_number(now['number'])} meanwhile "
                                 f"(now {STATUS_LABELS[now['status']].lower()}, {now['priority']}).")


def set_status(db: Database, claims: Claims, workspace_id: str, ticket_id: str, status: str, version: int) -> int:
    """Change the status; transitions not allowed are refused with a message naming both."""
    if status not in STATUSES:
        raise FormErrors({"status": "Choose a status."})
    return _update(db, claims, workspace_id, ticket_id, {"status": status}, version)


def set_priority(db: Database, claims: Claims, workspace_id: str, ticket_id: str, priority: str, version: int) -> int:
    """Change the priority; the SLA due times follow the new priority's targets."""
    if priority not in PRIORITIES:
        raise FormErrors({"priority": "Choose a priority."})
    return _update(db, claims, workspace_id, ticket_id, {"priority": priority}, version)


def assign(db: Database, claims: Claims, workspace_id: str, ticket_id: str, assignee_id: str | None, version: int) -> int:
    if assignee_id:
        with db.as_user(claims) as conn:
            if not conn.execute("select 1 from public.workspace_members where workspace_id = %s and user_id = %s",
                                [workspace_id, assignee_id]).fetchone():
                raise FormErrors({"assignee_id": "Assign the ticket to a member of this workspace."})
    return _update(db, claims, workspace_id, ticket_id, {"assignee_id": assignee_id or None}, version)


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


def attachment_name(filename: str | None) -> str:
    """The file name to store: no path separators, whitespace folded, at most 255 characters."""
    return " ".join(str(filename or "").replace("/", "_").replace("\\", "_").split())[:255] or "attachment"


def attach(db: Database, claims: Claims, workspace_id: str, ticket_id: str, filename: str, content_type: str,
           data: bytes, comment_id: str | None = None) -> str:
    stored_type = check_attachment(filename, content_type, data)
    name = attachment_name(filename)
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
        params["pat"] = contains_pattern(search)
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


# -- allowed status changes (a copy of private.ticket_transition_allowed, tested equal) ---------
TRANSITIONS = frozenset({
    ("new", "open"), ("new", "pending_customer"), ("new", "on_hold"), ("new", "solved"),
    ("open", "pending_customer"), ("open", "on_hold"), ("open", "solved"),
    ("pending_customer", "open"), ("pending_customer", "on_hold"), ("pending_customer", "solved"),
    ("on_hold", "open"), ("on_hold", "pending_customer"), ("on_hold", "solved"),
    ("solved", "open"), ("solved", "closed"),
})


def transition_allowed(current: str, target: str) -> bool:
    return current == target or (current, target) in TRANSITIONS


def next_statuses(current: str) -> list[str]:
    """The statuses a ticket in `current` may move to, in workflow order."""
    return [s for s in STATUSES if s != current and (current, s) in TRANSITIONS]


# -- bulk changes on a queue selection: one statement, one transaction each ---------------------
def _bulk(db: Database, claims: Claims, workspace_id: str, ids: list[str], assignment: str, value: object,
          check=None) -> int:
    if not ids:
        raise UserError("Select at least one ticket first.")
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                rows = conn.execute(
                    "select id, number, status from public.tickets where workspace_id = %s and id = any(%s::uuid[])"
                    " order by number for update", [workspace_id, ids]).fetchall()
                if check:
                    check(conn, rows)
                count = conn.execute(
                    f"update public.tickets set {assignment}"  # noqa: S608 (fixed assignments)
                    " where workspace_id = %s and id = any(%s::uuid[])", [value, workspace_id, ids]).rowcount
        except psycopg.Error as exc:
            raise _refused(exc) from exc
    if count == 0:
        raise UserError("Nothing changed: your role cannot change tickets, or they no longer exist.")
    return count


def bulk_assign(db: Database, claims: Claims, workspace_id: str, ids: list[str], assignee_id: str | None) -> int:
    """Give every selected ticket to one member (None: unassign); returns the count."""
    def member_check(conn: psycopg.Connection, _rows: list[dict]) -> None:
        if assignee_id and not conn.execute(
                "select 1 from public.workspace_members where workspace_id = %s and user_id = %s",
                [workspace_id, assignee_id]).fetchone():
            raise FormErrors({"assignee_id": "Assign the tickets to a member of this workspace."})
    return _bulk(db, claims, workspace_id, ids, "assignee_id = %s::uuid", assignee_id or None, member_check)


def bulk_status(db: Database, claims: Claims, workspace_id: str, ids: list[str], status: str) -> int:
    """Move every selected ticket to `status`; if one of them may not go there, none moves."""
    if status not in STATUSES:
        raise FormErrors({"status": "Choose a status."})

    def transition_check(_conn: psycopg.Connection, rows: list[dict]) -> None:
        refused = [r for r in rows if not transition_allowed(r["status"], status)]
        if refused:
            names = ", ".join(f"{display_number(r['number'])} ({STATUS_LABELS[r['status']].lower()})"
                              for r in refused[:10])
            more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
            raise UserError(f"Nothing changed: these tickets cannot become {STATUS_LABELS[status].lower()}: "
                            f"{names}{more}.")
    return _bulk(db, claims, workspace_id, ids, "status = %s", status, transition_check)


def bulk_priority(db: Database, claims: Claims, workspace_id: str, ids: list[str], priority: str) -> int:
    """Set the priority of every selected ticket; their SLA due times follow."""
    if priority not in PRIORITIES:
        raise FormErrors({"priority": "Choose a priority."})
    return _bulk(db, claims, workspace_id, ids, "priority = %s", priority)


# -- canned responses ---------------------------------------------------------------------------
MERGE_FIELDS = {
    "contact.first_name": "The contact's first name",
    "contact.last_name": "The contact's last name",
    "contact.name": "The contact's full name",
    "contact.email": "The contact's email address",
    "ticket.number": "The ticket number, e.g. T-1001",
    "ticket.subject": "The ticket's subject",
    "ticket.status": "The ticket's status",
    "ticket.priority": "The ticket's priority",
    "agent.name": "Your name",
    "agent.email": "Your email address",
}
_MERGE_FIELD = re.compile(r"\{\{\s*([a-z]+\.[a-z_]+)\s*\}\}")


def _merge_values(ticket: dict | None, contact: dict | None, agent: dict | None) -> dict[str, str]:
    ticket, contact, agent = ticket or {}, contact or {}, agent or {}
    full_name = contact.get("full_name") or contact.get("name") or ticket.get("contact_name")
    number = ticket.get("number")
    values = {
        "contact.first_name": contact.get("first_name") or (full_name or "").split(" ")[0],
        "contact.last_name": contact.get("last_name"),
        "contact.name": full_name,
        "contact.email": contact.get("email") or ticket.get("contact_email"),
        "ticket.number": display_number(number) if number is not None else None,
        "ticket.subject": ticket.get("subject"),
        "ticket.status": STATUS_LABELS.get(ticket.get("status") or "", "").lower() or None,
        "ticket.priority": ticket.get("priority"),
        "agent.name": agent.get("name") or agent.get("display_name") or agent.get("email"),
        "agent.email": agent.get("email"),
    }
    return {k: str(v) if v is not None else "" for k, v in values.items()}


def render_canned(text: str, ticket: dict | None, contact: dict | None, agent: dict | None) -> str:
    """`text` with its merge fields ({{contact.first_name}}, {{ticket.number}}, {{agent.name}}, …)
    filled in; a field without a value becomes empty, an unknown one stays as written."""
    values = _merge_values(ticket, contact, agent)
    return _MERGE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), str(text or ""))


def _clean_canned(title: object, body: object) -> dict:
    values, errors = collect({
        "title": (clean_name, title, "title", 200),
        "body": (_text, body, "text", 20000),
    })
    if not errors and not values["body"]:
        errors["body"] = "Write the response text."
    if not errors:
        unknown = sorted({m for m in _MERGE_FIELD.findall(values["body"]) if m not in MERGE_FIELDS})
        if unknown:
            errors["body"] = ("Unknown merge field: " + ", ".join(md_escape("{{" + u + "}}") for u in unknown)
                              + ". Use " + ", ".join(md_escape("{{" + f + "}}") for f in MERGE_FIELDS) + ".")
    if errors:
        raise FormErrors(errors)
    return values


def _canned_refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return FormErrors({"title": "A canned response with this title exists already."})
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot change canned responses; agents and above can.")
    raise exc


def canned_responses(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select id, title, body, version, created_at from public.canned_responses"
            " where workspace_id = %s order by lower(title), id", [workspace_id]).fetchall()


def create_canned(db: Database, claims: Claims, workspace_id: str, title: str, body: str) -> str:
    values = _clean_canned(title, body)
    try:
        with db.as_user(claims) as conn:
            row = conn.execute(
                "insert into public.canned_responses (workspace_id, title, body) values (%s, %s, %s) returning id",
                [workspace_id, values["title"], values["body"]]).fetchone()
    except psycopg.Error as exc:
        raise _canned_refused(exc) from exc
    return str(row["id"])


def update_canned(db: Database, claims: Claims, workspace_id: str, canned_id: str, title: str, body: str,
                  version: int) -> int:
    values = _clean_canned(title, body)
    with db.as_user(claims) as conn:
        return versioned.save(conn, "canned_responses", workspace_id, canned_id, version, values,
                              what="canned response", refused=_canned_refused,
                              denied="Your role cannot change canned responses; agents and above can.")


def delete_canned(db: Database, claims: Claims, workspace_id: str, canned_id: str) -> None:
    with db.as_user(claims) as conn:
        deleted = conn.execute("delete from public.canned_responses where workspace_id = %s and id = %s",
                               [workspace_id, canned_id]).rowcount
    if not deleted:
        raise UserError("Nothing deleted: your role cannot delete canned responses, or it no longer exists.")


# -- attachments for the ticket page ------------------------------------------------------------
def attachments(db: Database, claims: Claims, workspace_id: str, ticket_id: str) -> list[dict]:
    """The ticket's attachments without their bytes (fetch those with attachment_data)."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select a.id, a.comment_id, a.filename, a.content_type, a.size_bytes, a.created_at,"
            " p.display_name as author_name from public.ticket_attachments a"
            " left join public.profiles p on p.id = a.created_by"
            " where a.workspace_id = %s and a.ticket_id = %s order by a.created_at, a.id",
            [workspace_id, ticket_id]).fetchall()


def attachment_data(db: Database, claims: Claims, workspace_id: str, attachment_id: str) -> bytes:
    with db.as_user(claims) as conn:
        row = conn.execute("select data from public.ticket_attachments where workspace_id = %s and id = %s",
                           [workspace_id, attachment_id]).fetchone()
    if row is None:
        raise UserError("This attachment no longer exists.")
    return bytes(row["data"])
