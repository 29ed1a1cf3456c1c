"""Customer portal: inviting a contact, and everything a portal user does, as that user.

The database decides what a portal user may see and write (see the customer-portal migration):
their own tickets with public replies only, new tickets and replies on them, the rating of a
solved ticket, the published knowledge base, and their own contact's master data through
`private.portal_profile` / `private.portal_update_profile`. This module validates first, so the
user gets a message beside the field rather than a policy error.
"""

from __future__ import annotations

import secrets

import psycopg

from lib import tickets
from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import clean_bool, clean_country, clean_name, clean_phone, collect, optional_text
from lib.workspaces import token_hash

OPEN_STATUSES = ("new", "open", "pending_customer", "on_hold")
# What a customer reads for each status (the team's words are about their own work).
CUSTOMER_STATUS = {"new": "Received", "open": "In progress", "pending_customer": "Waiting for your reply",
                   "on_hold": "In progress", "solved": "Solved", "closed": "Closed"}
PROFILE_FIELDS = ("phone", "address", "city", "postal_code", "country", "consent")
PAGE_SIZE = 25


# -- the team's side: invitations and access -------------------------------------------------------


def invite(db: Database, claims: Claims, workspace_id: str, contact_id: str) -> str:
    """Invite a contact to the portal; returns the secret token (its sha256 alone is stored).

    The invitation is bound to the contact's email, so only its owner can accept it.
    """
    token = secrets.token_urlsafe(32)
    with db.as_user(claims) as conn:
        contact = conn.execute(
            "select c.email, exists (select 1 from public.portal_users p where p.contact_id = c.id) as has_access"
            " from public.contacts c where c.workspace_id = %s and c.id = %s",
            [workspace_id, contact_id],
        ).fetchone()
        if contact is None:
            raise UserError("This contact does not exist any more.")
        if not contact["email"]:
            raise UserError("Add an email address to this contact first: the invitation is sent to it.")
        if contact["has_access"]:
            raise UserError("This contact already uses the portal.")
        try:
            with conn.transaction():
                conn.execute(
                    "update public.invitations set revoked_at = now() where workspace_id = %s and contact_id = %s"
                    " and role = 'portal' and accepted_at is null and revoked_at is null",
                    [workspace_id, contact_id],
                )
                conn.execute(
                    "insert into public.invitations (workspace_id, role, email, contact_id, token_hash, expires_at)"
                    " values (%s, 'portal', %s, %s, %s, now() + interval '14 days')",
                    [workspace_id, contact["email"], contact_id, token_hash(token)],
                )
        except psycopg.errors.InsufficientPrivilege:
            raise UserError("Your role cannot invite customers to the portal; agents and above can.") from None
    return token


def access(db: Database, claims: Claims, workspace_id: str, contact_id: str) -> dict:
    """{"users": [{email, since}], "invitation": open invitation or None} for one contact."""
    with db.as_user(claims) as conn:
        users = conn.execute(
            "select p.id, p.user_id, p.created_at as since, pr.email, pr.display_name from public.portal_users p"
            " left join public.profiles pr on pr.id = p.user_id"
            " where p.workspace_id = %s and p.contact_id = %s order by p.created_at",
            [workspace_id, contact_id],
        ).fetchall()
        invitation = conn.execute(
            "select id, email, created_at, expires_at from public.invitations"
            " where workspace_id = %s and contact_id = %s and role = 'portal' and accepted_at is null"
            " and revoked_at is null and expires_at > now() order by created_at desc limit 1",
            [workspace_id, contact_id],
        ).fetchone()
    return {"users": users, "invitation": invitation}


def end_access(db: Database, claims: Claims, workspace_id: str, contact_id: str) -> int:
    """Remove the contact's portal access and open invitations; returns how many users lost access."""
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                conn.execute(
                    "update public.invitations set revoked_at = now() where workspace_id = %s and contact_id = %s"
                    " and role = 'portal' and accepted_at is null and revoked_at is null",
                    [workspace_id, contact_id],
                )
                return conn.execute(
                    "delete from public.portal_users where workspace_id = %s and contact_id = %s",
                    [workspace_id, contact_id],
                ).rowcount
        except psycopg.errors.InsufficientPrivilege:
            raise UserError("Your role cannot change portal access; agents and above can.") from None


# -- the customer's side -----------------------------------------------------------------------------


def _checked_files(files, errors: dict) -> list[tuple[str, str, bytes]]:
    """(name, content type to store, bytes) of each acceptable file; a problem goes to errors["files"]."""
    checked = []
    for name, content_type, data in files:
        try:
            checked.append((name, tickets.check_attachment(name, content_type, data), data))
        except FormErrors as exc:
            errors["files"] = exc.errors["attachment"]
    return checked


def profile(db: Database, claims: Claims, workspace_id: str) -> dict | None:
    """The portal user's own contact and company master data, or None without portal access."""
    with db.as_user(claims) as conn:
        return conn.execute("select * from private.portal_profile(%s)", [workspace_id]).fetchone()


def update_profile(db: Database, claims: Claims, workspace_id: str, version: int, data: dict) -> int:
    """Save phone, address and marketing consent; returns the new version.

    Raises FormErrors (per field) before writing, ConflictError when the team changed the record
    since `version` was read (with what is stored now).
    """
    values, errors = collect({"country": (clean_country, data.get("country"))})
    checks = {
        "address": (optional_text, data.get("address"), "address", 300),
        "city": (optional_text, data.get("city"), "city", 100),
        "postal_code": (optional_text, data.get("postal_code"), "postal code", 20),
        "consent": (clean_bool, data.get("consent"), "marketing consent"),
        "phone": (clean_phone, data.get("phone"), values.get("country")),
    }
    more, more_errors = collect(checks)
    values.update(more)
    errors.update(more_errors)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        row = conn.execute(
            "select private.portal_update_profile(%s, %s, %s, %s, %s, %s, %s, %s) as version",
            [workspace_id, version, values["phone"], values["address"], values["city"], values["postal_code"],
             values["country"], values["consent"]],
        ).fetchone()
        if row["version"] is None:
            current = conn.execute("select * from private.portal_profile(%s)", [workspace_id]).fetchone()
            if current is None:
                raise UserError("Your portal access has ended.")
            raise ConflictError("Your details were changed by our team while you were editing. "
                                "Check them below and save again.", current)
    return row["version"]


def my_tickets(db: Database, claims: Claims, workspace_id: str, show: str = "open", *,
               after: tuple | None = None) -> tickets.QueuePage:
    """The portal user's tickets, newest activity first, a keyset page at a time.

    `show`: "open" (not solved or closed), "solved" (solved or closed) or "all".
    Row-level security limits the rows to the user's own tickets.
    """
    statuses = {"open": OPEN_STATUSES, "solved": ("solved", "closed")}.get(show, tickets.STATUSES)
    params: list = [workspace_id, list(statuses)]
    keyset = ""
    if after:
        keyset = " and (t.updated_at, t.id) < (%s, %s)"
        params += list(after)
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select t.id, t.number, t.subject, t.status, t.created_at, t.updated_at, t.solved_at, t.csat,"
            " (select max(c.created_at) from public.ticket_comments c where c.ticket_id = t.id) as last_reply_at"
            " from public.tickets t where t.workspace_id = %s and t.status = any(%s)" + keyset
            + f" order by t.updated_at desc, t.id desc limit {PAGE_SIZE + 1}",
            params,
        ).fetchall()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return tickets.QueuePage(rows, (rows[-1]["updated_at"], rows[-1]["id"]) if more else None)


def unrated_count(db: Database, claims: Claims, workspace_id: str) -> int:
    """Solved tickets the portal user has not rated yet."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select count(*) as n from public.tickets where workspace_id = %s and status in ('solved', 'closed')"
            " and csat is null", [workspace_id],
        ).fetchone()["n"]


def open_ticket(db: Database, claims: Claims, workspace_id: str, subject: str, description: str,
                files: list[tuple[str, str, bytes]] = ()) -> dict:
    """Open a ticket from the portal, with attachments (filename, content type, bytes), in one
    transaction; returns {"id", "number"}."""
    values, errors = collect({
        "subject": (clean_name, subject, "subject", 200),
        "description": (clean_name, description, "description", 50000),
    })
    checked = _checked_files(files, errors)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        me = conn.execute("select contact_id from private.portal_profile(%s)", [workspace_id]).fetchone()
        if me is None:
            raise UserError("Your portal access has ended.")
        row = conn.execute(
            "insert into public.tickets (workspace_id, subject, description, channel, contact_id)"
            " values (%s, %s, %s, 'portal', %s) returning id, number",
            [workspace_id, values["subject"], values["description"], me["contact_id"]],
        ).fetchone()
        for name, stored_type, data in checked:
            conn.execute(
                "insert into public.ticket_attachments (workspace_id, ticket_id, filename, content_type,"
                " size_bytes, data) values (%s, %s, %s, %s, %s, %s)",
                [workspace_id, row["id"], tickets.attachment_name(name), stored_type, len(data), data],
            )
    return {"id": str(row["id"]), "number": row["number"]}


def ticket(db: Database, claims: Claims, workspace_id: str, ticket_id: str) -> dict | None:
    """One of the user's tickets with its conversation and attachments, or None if not theirs.

    Internal notes are never returned: row-level security hides them from portal users.
    """
    with db.as_user(claims) as conn:
        head = conn.execute(
            "select t.id, t.number, t.subject, t.description, t.status, t.created_at, t.solved_at,"
            " t.csat, t.csat_comment, t.version, w.name as workspace_name from public.tickets t"
            " join public.workspaces w on w.id = t.workspace_id where t.workspace_id = %s and t.id = %s",
            [workspace_id, ticket_id],
        ).fetchone()
        if head is None:
            return None
        head["comments"] = conn.execute(
            "select c.id, c.body, c.from_customer, c.created_at from public.ticket_comments c"
            " where c.ticket_id = %s order by c.created_at, c.id",
            [ticket_id],
        ).fetchall()
        head["attachments"] = conn.execute(
            "select a.id, a.comment_id, a.filename, a.content_type, a.size_bytes, a.created_at"
            " from public.ticket_attachments a where a.ticket_id = %s order by a.created_at, a.id",
            [ticket_id],
        ).fetchall()
    return head


def reply(db: Database, claims: Claims, workspace_id: str, ticket_id: str, body: str,
          files: list[tuple[str, str, bytes]] = ()) -> str:
    """Add the customer's reply (and its attachments); it reopens a solved ticket."""
    values, errors = collect({"body": (clean_name, body, "reply", 50000)})
    checked = _checked_files(files, errors)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.ticket_comments (workspace_id, ticket_id, body, is_public, from_customer)"
                    " values (%s, %s, %s, true, true) returning id",
                    [workspace_id, ticket_id, values["body"]],
                ).fetchone()
                for name, stored_type, data in checked:
                    conn.execute(
                        "insert into public.ticket_attachments (workspace_id, ticket_id, comment_id, filename,"
                        " content_type, size_bytes, data) values (%s, %s, %s, %s, %s, %s, %s)",
                        [workspace_id, ticket_id, row["id"], tickets.attachment_name(name), stored_type,
                         len(data), data],
                    )
        except psycopg.errors.CheckViolation as exc:
            raise UserError(md_escape(exc.diag.message_primary)) from None
        except psycopg.errors.InsufficientPrivilege:
            raise UserError("This request is not yours, or your portal access has ended.") from None
    return str(row["id"])


def rate(db: Database, claims: Claims, workspace_id: str, ticket_id: str, score: int, comment: str | None,
         version: int) -> int:
    """Rate a solved ticket 1–5 with an optional comment; returns the new version."""
    errors = {}
    if not isinstance(score, int) or not 1 <= score <= 5:
        errors["csat"] = "Choose from 1 to 5 stars."
    try:
        text = optional_text(comment, "comment", 2000)
    except ValueError as exc:
        errors["csat_comment"] = str(exc)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "update public.tickets set csat = %s, csat_comment = %s"
                    " where workspace_id = %s and id = %s and version = %s returning version",
                    [score, text, workspace_id, ticket_id, version],
                ).fetchone()
        except psycopg.errors.CheckViolation as exc:
            raise UserError(md_escape(exc.diag.message_primary)) from None
        if row is None:
            raise ConflictError("This request changed while you were rating it. Have a look and rate again.")
    return row["version"]


def attachment_data(db: Database, claims: Claims, workspace_id: str, attachment_id: str) -> bytes:
    return tickets.attachment_data(db, claims, workspace_id, attachment_id)
