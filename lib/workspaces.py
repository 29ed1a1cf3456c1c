"""Workspaces, members and their roles, invitations: every read and write as the signed-in user.

Row-level security decides who may do what (see the workspaces migration); this module
validates input first, so a user gets a message beside the field instead of a policy error.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import psycopg

from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.validation import clean_email, clean_name, collect
from lib.text import md_escape

ROLES = ("owner", "admin", "manager", "agent", "viewer")
INVITABLE_ROLES = ROLES[1:]
ROLE_HELP = {
    "owner": "everything, including owners and deleting the workspace",
    "admin": "settings, members and invitations, and all records",
    "manager": "all records and reports",
    "agent": "creates and edits records",
    "viewer": "reads only",
    "portal": "the customer portal: your own requests and details",
}


def rank(role: str | None) -> int:
    return len(ROLES) - ROLES.index(role) if role in ROLES else 0


def can_write(role: str | None) -> bool:
    return rank(role) >= rank("agent")


def can_manage_members(role: str | None) -> bool:
    return rank(role) >= rank("admin")


@dataclass(frozen=True)
class Membership:
    workspace_id: str
    name: str
    role: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_in(conn: psycopg.Connection, name: str) -> str:
    """Create a workspace inside an open user transaction; its creator becomes owner."""
    # The id is made here, not returned: RETURNING would need the new row to be readable, and
    # it becomes readable only once the trigger has made its creator a member.
    workspace_id = str(uuid.uuid4())
    conn.execute("insert into public.workspaces (id, name) values (%s, %s)", [workspace_id, name])
    return workspace_id


def create_workspace(db: Database, claims: Claims, name: str) -> str:
    values, errors = collect({"name": (clean_name, name, "workspace name")})
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        return create_in(conn, values["name"])


def my_workspaces(db: Database, claims: Claims) -> list[Membership]:
    """The workspaces the user works in, then those whose customer portal they use (role 'portal')."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select w.id, w.name, m.role, 0 as kind from public.workspace_members m"
            " join public.workspaces w on w.id = m.workspace_id where m.user_id = %(me)s"
            " union all select w.id, w.name, 'portal', 1 from public.portal_users p"
            " join public.workspaces w on w.id = p.workspace_id where p.user_id = %(me)s"
            " order by kind, name, id",
            {"me": claims.sub},
        ).fetchall()
    return [Membership(str(r["id"]), r["name"], r["role"]) for r in rows]


def overview(db: Database, claims: Claims, workspace_id: str) -> dict:
    """Name, version, counts and the latest audit entries of one workspace, in one round trip each."""
    with db.as_user(claims) as conn:
        head = conn.execute(
            "select w.name, w.version, w.created_at,"
            " (select count(*) from public.workspace_members m where m.workspace_id = w.id) as members,"
            " (select count(*) from public.invitations i where i.workspace_id = w.id and i.role <> 'portal'"
            "   and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()) as open_invitations"
            " from public.workspaces w where w.id = %s",
            [workspace_id],
        ).fetchone()
        if head is None:
            raise UserError("This workspace does not exist or you are no longer a member.")
        activity = conn.execute(
            "select a.changed_at, a.table_name, a.action, a.changes, coalesce(p.display_name, 'system') as who"
            " from public.audit_log a left join public.profiles p on p.id = a.changed_by"
            # The defaults a workspace is born with (pipeline, stages, SLA targets…) are written in
            # its creating transaction, at its created_at: not news, so only its own rows show.
            " where a.workspace_id = %s and (a.changed_at > %s or a.table_name in ('workspaces', 'workspace_members'))"
            # The mail worker's bookkeeping (two entries per email sent) would crowd out what people did.
            " and not (a.changed_by is null and a.table_name in ('outbox', 'campaign_members'))"
            " order by a.changed_at desc, a.id desc limit 10",
            [workspace_id, head["created_at"]],
        ).fetchall()
    return {**head, "activity": activity}


def rename(db: Database, claims: Claims, workspace_id: str, name: str, version: int) -> int:
    """Rename if nobody saved in between; returns the new version."""
    values, errors = collect({"name": (clean_name, name, "workspace name")})
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        row = conn.execute(
            "update public.workspaces set name = %s where id = %s and version = %s returning version",
            [values["name"], workspace_id, version],
        ).fetchone()
        if row:
            return row["version"]
        current = conn.execute(
            "select name, version from public.workspaces where id = %s", [workspace_id]
        ).fetchone()
    # Invisible, or visible at the version the caller saw: not a conflict, RLS refused the update.
    if current is None or current["version"] == version:
        raise UserError("Only owners and admins can rename the workspace.")
    raise ConflictError(
        f"Someone renamed the workspace to “{md_escape(current['name'])}” while you were editing.", current
    )


def members(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select m.id, m.user_id, m.role, m.version, m.created_at, p.display_name, p.email"
            " from public.workspace_members m left join public.profiles p on p.id = m.user_id"
            " where m.workspace_id = %s order by p.display_name, m.id",
            [workspace_id],
        ).fetchall()


def _member_write(db: Database, claims: Claims, statement: str, params: list) -> None:
    try:
        with db.as_user(claims) as conn:
            if conn.execute(statement, params).rowcount == 0:
                raise ConflictError(
                    "That member changed or left in the meantime, or you may not change them. "
                    "The list now shows what is stored."
                )
    except psycopg.errors.CheckViolation as exc:
        raise UserError(exc.diag.message_primary) from None
    except psycopg.errors.InsufficientPrivilege:
        raise UserError("Only owners can make or change owners.") from None


def set_member_role(db: Database, claims: Claims, member_id: str, role: str, version: int) -> None:
    if role not in ROLES:
        raise FormErrors({"role": f"Pick one of: {', '.join(ROLES)}."})
    _member_write(
        db, claims,
        "update public.workspace_members set role = %s where id = %s and version = %s",
        [role, member_id, version],
    )


def remove_member(db: Database, claims: Claims, member_id: str, version: int) -> None:
    _member_write(
        db, claims,
        "delete from public.workspace_members where id = %s and version = %s",
        [member_id, version],
    )


def invite(db: Database, claims: Claims, workspace_id: str, role: str, email: str = "") -> str:
    """Create an invitation; returns the secret token (shown once, stored only as a hash)."""
    errors = {} if role in INVITABLE_ROLES else {"role": f"Pick one of: {', '.join(INVITABLE_ROLES)}."}
    clean = None
    if email and email.strip():
        try:
            clean = clean_email(email)
        except ValueError as exc:
            errors["email"] = str(exc)
    if errors:
        raise FormErrors(errors)
    token = secrets.token_urlsafe(32)
    try:
        with db.as_user(claims) as conn:
            conn.execute(
                "insert into public.invitations (workspace_id, role, email, token_hash) values (%s, %s, %s, %s)",
                [workspace_id, role, clean, token_hash(token)],
            )
    except psycopg.errors.InsufficientPrivilege:
        raise UserError("Only owners and admins can invite people.") from None
    return token


def invitations(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Open (unused, unrevoked, unexpired) invitations, newest first."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select i.id, i.role, i.email, i.created_at, i.expires_at, i.version, p.display_name as invited_by"
            " from public.invitations i left join public.profiles p on p.id = i.created_by"
            " where i.workspace_id = %s and i.role <> 'portal' and i.accepted_at is null and i.revoked_at is null"
            " and i.expires_at > now() order by i.created_at desc",
            [workspace_id],
        ).fetchall()


def revoke_invitation(db: Database, claims: Claims, invitation_id: str) -> None:
    with db.as_user(claims) as conn:
        conn.execute(
            "update public.invitations set revoked_at = now() where id = %s and revoked_at is null",
            [invitation_id],
        )


def invitation_preview(db: Database, token: str) -> dict | None:
    """Workspace name, role, email, expiry and usability of an invitation link, for anyone holding it."""
    with db.as_anon() as conn:
        return conn.execute("select * from private.invitation_preview(%s)", [token]).fetchone()


def accept_in(conn: psycopg.Connection, token: str) -> str:
    """Accept an invitation inside an open user transaction; returns the workspace id."""
    try:
        with conn.transaction():
            row = conn.execute("select private.accept_invitation(%s) as id", [token]).fetchone()
    except psycopg.errors.NoDataFound as exc:
        raise UserError(exc.diag.message_primary) from None
    return str(row["id"])


def accept_invitation(db: Database, claims: Claims, token: str) -> str:
    with db.as_user(claims) as conn:
        return accept_in(conn, token)

