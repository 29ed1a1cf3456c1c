"""Fill one workspace with at least one row in every table of schema `public`.

`tests/test_security_catalog.py` builds two workspaces A and B, calls `populate_workspace` on B
and then checks, table by table, that A's members can neither see nor change B's rows. It
FAILS for any public table in which B has no row, with a message pointing here: an empty table
would make the isolation checks pass without testing anything.

So: every issue that adds a table to `public` extends this function, so that the new table
gets at least one row belonging to the workspace, written the way the app writes it (through
the lib/ functions, or as plain SQL inside `db.as_user(owner.claims)` so row-level security and
the triggers run as they do in the app). Keep it cheap: no extra sign-ups (bcrypt), few round
trips.

Tables covered today and where their rows come from:
    workspaces         the owner's sign-up (`Factory.owner`), renamed here (an update too)
    workspace_members  the owner's membership, made by the sign-up
    invitations        one open, email-bound invitation made here with `workspaces.invite`
    profiles           the owner's profile, made by the sign-up (trigger on auth.users)
    audit_log          written by the audit triggers for all of the above
"""

from __future__ import annotations

import uuid

from lib import workspaces
from lib.auth.adapters import AuthUser
from lib.db import Database


def populate_workspace(db: Database, owner: AuthUser, workspace_id: str) -> None:
    """Make sure every current public table holds at least one row of `workspace_id`.

    `owner` must own `workspace_id` (e.g. from `Factory.owner()`); everything runs as them.
    """
    # workspaces + workspace_members + profiles exist since the sign-up; an update on the
    # workspace adds a bumped version and an 'update' audit row.
    with db.as_user(owner.claims) as conn:
        version = conn.execute(
            "select version from public.workspaces where id = %s", [workspace_id]
        ).fetchone()["version"]
    workspaces.rename(db, owner.claims, workspace_id, f"Populated {workspace_id[:8]}", version)

    # invitations (and their audit rows): one open invitation bound to an email address.
    workspaces.invite(
        db, owner.claims, workspace_id, "agent", email=f"invitee-{uuid.uuid4().hex[:12]}@example.com"
    )

    # Add new tables below, e.g.
    #   with db.as_user(owner.claims) as conn:
    #       conn.execute("insert into public.contacts (workspace_id, name) values (%s, %s)",
    #                    [workspace_id, "Populated contact"])
