"""The customer portal in the catalog security matrix: what a portal user can read and write.

Like tests/test_security_catalog.py, nothing here lists the tables it checks: every table of
schema `public` is read from pg_catalog when the test runs. A portal user of workspace B (a
populated workspace, plus a second contact with tickets, internal notes and a draft article)
must see exactly the rows `PORTAL_READABLE` allows — their own tickets, the public replies and
attachments on them, the published knowledge base, their workspace, their own profile and
portal access — and nothing of any other table. A table added by a future migration is
therefore invisible to portal users unless this file says otherwise. Writes: the portal user
can neither change nor delete nor copy any row other than the ones they may legitimately write
(their tickets, their replies and attachments on them).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from lib import customers, knowledge, portal, tickets
from tests.conftest import PASSWORD, unique_email
from tests.populate import populate_workspace
from tests.test_security_catalog import check_no_writes, plain_column, public_tables, t_ident

# table -> SQL (run as superuser) for the ids a portal user may read; %(me)s is the portal user,
# %(ws)s the workspace, %(contact)s their contact. Every other public table: nothing.
MY_TICKETS = "select id from public.tickets where contact_id = %(contact)s"
PORTAL_READABLE = {
    "workspaces": "select id from public.workspaces where id = %(ws)s",
    "profiles": "select id from public.profiles where id = %(me)s",
    "portal_users": "select id from public.portal_users where user_id = %(me)s",
    "tickets": MY_TICKETS,
    "ticket_comments": f"select id from public.ticket_comments where is_public and ticket_id in ({MY_TICKETS})",
    "ticket_attachments": (
        f"select a.id from public.ticket_attachments a where a.ticket_id in ({MY_TICKETS}) and"
        " (a.created_by = %(me)s or a.comment_id in (select id from public.ticket_comments where is_public))"),
    "kb_categories": "select id from public.kb_categories where workspace_id = %(ws)s",
    "kb_articles": "select id from public.kb_articles where workspace_id = %(ws)s and status = 'published'",
}
# Rows the portal user may write (so they are left out of the "cannot write" checks); like
# everyone, they edit their own profile.
PORTAL_WRITABLE = {
    "profiles": "select id from public.profiles where id = %(me)s",
    "tickets": MY_TICKETS,
    "ticket_comments": f"select id from public.ticket_comments where is_public and from_customer"
                       f" and ticket_id in ({MY_TICKETS})",
    "ticket_attachments": f"select id from public.ticket_attachments where ticket_id in ({MY_TICKETS})",
}


@pytest.fixture(scope="module")
def super_conn(runtime):
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def portal_world(db, factory, auth):
    owner, ws = factory.owner("Portal B")
    populate_workspace(db, owner, ws)
    email = unique_email("portal")
    mine = customers.create(db, owner.claims, ws, customers.CONTACT, {"first_name": "Mine", "email": email})
    other = customers.create(db, owner.claims, ws, customers.CONTACT, {"first_name": "Other"})
    user = auth.sign_up(email, PASSWORD, "Portal User", invite_token=portal.invite(db, owner.claims, ws, mine)).user
    for contact in (mine, other):
        tid = tickets.create(db, owner.claims, ws, "Question", "Details", contact_id=contact)["id"]
        public = tickets.reply(db, owner.claims, ws, tid, "Public answer")
        note = tickets.reply(db, owner.claims, ws, tid, "Internal note", public=False)
        tickets.attach(db, owner.claims, ws, tid, "public.txt", "text/plain", b"public", comment_id=public)
        tickets.attach(db, owner.claims, ws, tid, "internal.txt", "text/plain", b"internal", comment_id=note)
        tickets.attach(db, owner.claims, ws, tid, "ticket.txt", "text/plain", b"team file")
    own_ticket = portal.open_ticket(db, user.claims, ws, "Mine", "From the portal",
                                    [("mine.txt", "text/plain", b"customer file")])
    portal.reply(db, user.claims, ws, own_ticket["id"], "More details")
    knowledge.create(db, owner.claims, ws, "Draft article", "Not yet", status="draft")
    # A second workspace where the same person is nobody: none of it may show.
    other_owner, other_ws = factory.owner("Portal elsewhere")
    populate_workspace(db, other_owner, other_ws)
    return {"user": user, "ws": ws, "contact": mine, "params": {"me": user.id, "ws": ws, "contact": mine}}


def _ids(conn, statement, params=None) -> set[str]:
    return {str(r["id"]) for r in conn.execute(statement, params or {}).fetchall()}


def test_portal_user_reads_only_their_own_records(db, portal_world, super_conn):
    params = portal_world["params"]
    problems = []
    with db.as_user(portal_world["user"].claims) as conn:
        for table in public_tables(super_conn):
            allowed = _ids(super_conn, PORTAL_READABLE[table], params) if table in PORTAL_READABLE else set()
            try:
                with conn.transaction():
                    rows = conn.execute(sql.SQL("select to_jsonb(t) as j from {} as t").format(t_ident(table))).fetchall()
            except psycopg.errors.InsufficientPrivilege:
                rows = []
            seen = {str(r["j"].get("id")) for r in rows}
            if len(rows) != len(seen) or not seen <= allowed:
                problems.append(f"the portal user reads {len(rows)} row(s) of public.{table}, "
                                f"{len(seen - allowed)} of them not theirs to see")
            elif seen != allowed:
                problems.append(f"the portal user misses {len(allowed - seen)} of their own rows in public.{table}")
            elif table in PORTAL_READABLE and not allowed:
                problems.append(f"no portal-readable row in public.{table}: extend the fixture")
    assert not problems, "\n".join(problems)


def test_no_internal_note_or_other_contacts_ticket_is_readable(db, portal_world, super_conn):
    """The issue's three named cases, spelled out: internal notes, others' tickets, deals."""
    with db.as_user(portal_world["user"].claims) as conn:
        assert conn.execute("select count(*) as n from public.ticket_comments where not is_public").fetchone()["n"] == 0
        assert conn.execute("select count(*) as n from public.tickets where contact_id is distinct from %s",
                            [portal_world["contact"]]).fetchone()["n"] == 0
        assert conn.execute("select count(*) as n from public.deals").fetchone()["n"] == 0
        assert conn.execute("select count(*) as n from public.contacts").fetchone()["n"] == 0
        files = {r["filename"] for r in conn.execute("select filename from public.ticket_attachments").fetchall()}
        assert files == {"public.txt", "mine.txt"}
        # The definer helpers answer for the caller only.
        assert _ids(conn, "select private.my_portal_contact_ids() as id") == {portal_world["contact"]}
        assert _ids(conn, "select private.my_portal_workspace_ids() as id") == {portal_world["ws"]}
    assert super_conn.execute("select count(*) as n from public.ticket_comments c join public.tickets t"
                              " on t.id = c.ticket_id where t.contact_id = %s and not c.is_public",
                              [portal_world["contact"]]).fetchone()["n"] > 0


def test_portal_user_cannot_write_anything_else(db, portal_world, super_conn):
    params = portal_world["params"]
    problems = []
    with db.as_user(portal_world["user"].claims) as conn:
        for table in public_tables(super_conn):
            writable = _ids(super_conn, PORTAL_WRITABLE[table], params) if table in PORTAL_WRITABLE else set()
            rows = super_conn.execute(sql.SQL("select to_jsonb(t) as j from {} as t").format(t_ident(table))).fetchall()
            others = [r["j"] for r in rows if str(r["j"].get("id")) not in writable]
            if not others:
                continue
            values = [str(r.get("id")) for r in others]
            problems += check_no_writes(conn, table, "id", values, others[0], "the portal user",
                                        set_column=plain_column(super_conn, table))
    assert not problems, "\n".join(problems)
