"""Tickets on the real database: gapless numbers under concurrency, transitions, SLA due times
with pauses, first response, attachments, queues."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from lib import customers, tickets
from lib.customers import CONTACT
from lib.errors import ConflictError, FormErrors, UserError


@pytest.fixture
def desk(factory):
    owner, ws = factory.owner("Help Desk Ltd")
    return owner, ws


def test_numbers_are_gapless_and_unique_under_concurrency(db, desk):
    owner, ws = desk
    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(lambda n: tickets.create(db, owner.claims, ws, f"Parallel {n}"), range(24)))
    assert sorted(t["number"] for t in made) == list(range(1001, 1025))
    # A rolled-back insert gives its number back.
    with pytest.raises(RuntimeError):
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.tickets (workspace_id, subject) values (%s, 'Rolled back')", [ws])
            raise RuntimeError("abandon")
    assert tickets.create(db, owner.claims, ws, "Next")["number"] == 1025


def test_numbers_are_per_workspace(db, desk, factory):
    owner, ws = desk
    other, other_ws = factory.owner("Other Desk")
    tickets.create(db, owner.claims, ws, "A")
    assert tickets.create(db, other.claims, other_ws, "B")["number"] == 1001


def test_transitions_are_enforced(db, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "Broken bike")
    version = tickets.set_status(db, owner.claims, ws, made["id"], "solved", 1)
    version = tickets.set_status(db, owner.claims, ws, made["id"], "open", version)  # reopened
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["reopen_count"] == 1 and ticket["solved_at"] is None
    version = tickets.set_status(db, owner.claims, ws, made["id"], "solved", version)
    version = tickets.set_status(db, owner.claims, ws, made["id"], "closed", version)
    with pytest.raises(UserError, match="cannot go from closed to open"):
        tickets.set_status(db, owner.claims, ws, made["id"], "open", version)
    fresh = tickets.create(db, owner.claims, ws, "Fresh")
    with pytest.raises(UserError, match="from new to closed"):
        tickets.set_status(db, owner.claims, ws, fresh["id"], "closed", 1)


def test_sla_due_times_follow_priority_and_pause(db, admin_conn, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "Urgent outage", priority="urgent")
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["first_response_due_at"] - ticket["created_at"] == timedelta(hours=1)
    assert ticket["resolution_due_at"] - ticket["created_at"] == timedelta(hours=4)
    version = tickets.set_priority(db, owner.claims, ws, made["id"], "low", ticket["version"])
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["resolution_due_at"] - ticket["created_at"] == timedelta(days=7)
    version = tickets.set_status(db, owner.claims, ws, made["id"], "pending_customer", version)
    # Thirty minutes waiting for the customer …
    admin_conn.execute("update public.tickets set paused_at = paused_at - interval '30 minutes' where id = %s",
                       [made["id"]])
    version = tickets.get(db, owner.claims, ws, made["id"])["version"]
    tickets.set_status(db, owner.claims, ws, made["id"], "open", version)
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    # … do not count: both due times moved 30 minutes (no first response yet).
    assert ticket["paused_minutes"] == 30 and ticket["paused_at"] is None
    assert ticket["resolution_due_at"] - ticket["created_at"] == timedelta(days=7, minutes=30)
    assert ticket["first_response_due_at"] - ticket["created_at"] == timedelta(hours=24, minutes=30)


def test_breach_flags(db, admin_conn, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "Late", priority="urgent")
    admin_conn.execute("update public.tickets set first_response_due_at = now() - interval '1 minute' where id = %s",
                       [made["id"]])
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["first_response_breached"] and not ticket["resolution_breached"]
    assert [t["subject"] for t in tickets.queue(db, owner.claims, ws, "breaching").rows] == ["Late"]


def test_first_response_comes_only_from_a_public_team_reply(db, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "Question")
    tickets.reply(db, owner.claims, ws, made["id"], "Internal: check stock", public=False)
    tickets.reply(db, owner.claims, ws, made["id"], "Customer adds details", from_customer=True)
    assert tickets.get(db, owner.claims, ws, made["id"])["first_responded_at"] is None
    tickets.reply(db, owner.claims, ws, made["id"], "Hello, we are on it")
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["first_responded_at"] is not None and ticket["status"] == "open"
    assert [c["is_public"] for c in tickets.comments(db, owner.claims, ws, made["id"])] == [False, True, True]
    with pytest.raises(FormErrors):
        tickets.reply(db, owner.claims, ws, made["id"], "   ")


def test_attachment_limits(db, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "With files")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    assert tickets.attach(db, owner.claims, ws, made["id"], "photo.png", "image/png", png)
    with pytest.raises(FormErrors, match="larger than 10 MB"):
        tickets.attach(db, owner.claims, ws, made["id"], "big.pdf", "application/pdf",
                       b"%PDF" + b"\x00" * tickets.MAX_ATTACHMENT_BYTES)
    with pytest.raises(FormErrors, match="cannot be attached"):
        tickets.attach(db, owner.claims, ws, made["id"], "run.exe", "application/x-msdownload", b"MZ")
    with pytest.raises(FormErrors, match="not really"):
        tickets.attach(db, owner.claims, ws, made["id"], "fake.pdf", "application/pdf", b"MZ\x90\x00")
    with pytest.raises(FormErrors, match="not a text file"):
        tickets.attach(db, owner.claims, ws, made["id"], "notes.txt", "text/plain", b"\xff\xfe\x00bad")
    # The database holds the size limit too.
    with pytest.raises(psycopg.errors.CheckViolation):
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.ticket_attachments (workspace_id, ticket_id, filename, content_type,"
                         " size_bytes, data) values (%s, %s, 'x', 'text/plain', 11000000, %s)",
                         [ws, made["id"], b"x"])


def test_queues_and_keyset_pages(db, desk, factory):
    owner, ws = desk
    agent = factory.member(owner, ws, "agent")
    for n in range(7):
        tickets.create(db, owner.claims, ws, f"Open {n}", assignee_id=agent.id if n % 2 else None)
    solved = tickets.create(db, owner.claims, ws, "Done")
    tickets.set_status(db, owner.claims, ws, solved["id"], "solved", 1)
    assert len(tickets.queue(db, agent.claims, ws, "mine").rows) == 3
    assert len(tickets.queue(db, owner.claims, ws, "unassigned").rows) == 4
    assert [t["subject"] for t in tickets.queue(db, owner.claims, ws, "solved").rows] == ["Done"]
    seen, after = [], None
    while True:
        page = tickets.queue(db, owner.claims, ws, "open", after=after, limit=3)
        seen += [t["id"] for t in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == len(set(seen)) == 7
    assert [t["subject"] for t in tickets.queue(db, owner.claims, ws, search="T-1003").rows] == ["Open 2"]


def test_conflicts_viewers_and_customer_links(db, desk, factory):
    owner, ws = desk
    viewer = factory.member(owner, ws, "viewer")
    company = customers.create(db, owner.claims, ws, customers.COMPANY, {"name": "Acme"})
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Cy", "company_id": company})
    made = tickets.create(db, owner.claims, ws, "Linked", contact_id=contact)
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert str(ticket["company_id"]) == company and ticket["contact_name"] == "Cy"
    tickets.set_priority(db, owner.claims, ws, made["id"], "high", 1)
    with pytest.raises(ConflictError, match="high"):
        tickets.set_status(db, owner.claims, ws, made["id"], "open", 1)
    with pytest.raises(UserError):
        tickets.create(db, viewer.claims, ws, "Not allowed")
    assert tickets.queue(db, viewer.claims, ws).rows  # viewers read the queue


# -- the ticket desk pages' helpers: transitions table, bulk changes, canned responses, timeline ----


def test_python_transition_table_equals_the_sql_function(admin_conn):
    rows = admin_conn.execute(
        "select f.s as a, t.s as b, private.ticket_transition_allowed(f.s, t.s) as allowed"
        " from unnest(%s::text[]) f(s), unnest(%s::text[]) t(s)",
        [list(tickets.STATUSES), list(tickets.STATUSES)]).fetchall()
    assert len(rows) == len(tickets.STATUSES) ** 2
    assert {(r["a"], r["b"]): tickets.transition_allowed(r["a"], r["b"]) for r in rows} == \
        {(r["a"], r["b"]): r["allowed"] for r in rows}
    assert tickets.next_statuses("closed") == [] and tickets.next_statuses("solved") == ["open", "closed"]
    assert "new" not in tickets.next_statuses("open")


def test_bulk_changes_are_all_or_nothing(db, desk, factory):
    owner, ws = desk
    agent = factory.member(owner, ws, "agent")
    viewer = factory.member(owner, ws, "viewer")
    ids = [tickets.create(db, owner.claims, ws, f"Bulk {n}")["id"] for n in range(3)]
    assert tickets.bulk_assign(db, owner.claims, ws, ids, agent.id) == 3
    assert {str(tickets.get(db, owner.claims, ws, i)["assignee_id"]) for i in ids} == {agent.id}
    assert tickets.bulk_priority(db, agent.claims, ws, ids[:2], "urgent") == 2
    assert [tickets.get(db, owner.claims, ws, i)["priority"] for i in ids] == ["urgent", "urgent", "normal"]
    tickets.set_status(db, owner.claims, ws, ids[0], "solved", tickets.get(db, owner.claims, ws, ids[0])["version"])
    tickets.set_status(db, owner.claims, ws, ids[0], "closed", tickets.get(db, owner.claims, ws, ids[0])["version"])
    with pytest.raises(UserError, match="T-1001"):
        tickets.bulk_status(db, owner.claims, ws, ids, "on_hold")  # a closed ticket cannot go on hold
    assert [tickets.get(db, owner.claims, ws, i)["status"] for i in ids] == ["closed", "new", "new"]
    assert tickets.bulk_status(db, owner.claims, ws, ids[1:], "on_hold") == 2
    with pytest.raises(FormErrors):
        tickets.bulk_assign(db, owner.claims, ws, ids, owner.id[:-4] + "0000")
    with pytest.raises(UserError, match="Nothing changed"):
        tickets.bulk_priority(db, viewer.claims, ws, ids, "low")
    with pytest.raises(UserError, match="Select"):
        tickets.bulk_status(db, owner.claims, ws, [], "open")
    assert tickets.bulk_assign(db, owner.claims, ws, ids, None) == 3


def test_render_canned_fills_merge_fields():
    ticket = {"number": 1042, "subject": "Flat tyre", "status": "pending_customer", "priority": "high",
              "contact_name": "Zoë Sand", "contact_email": "zoe@example.com"}
    contact = {"first_name": "Zoë", "last_name": "Sand", "full_name": "Zoë Sand", "email": "zoe@example.com"}
    agent = {"name": "Ann Agent", "email": "ann@example.com"}
    text = ("Hi {{contact.first_name}} {{ contact.last_name }}, about {{ticket.number}} ({{ticket.subject}}, "
            "{{ticket.status}}, {{ticket.priority}}) — {{agent.name}} <{{agent.email}}> {{contact.email}} "
            "{{contact.name}} {{unknown.field}}")
    assert tickets.render_canned(text, ticket, contact, agent) == (
        "Hi Zoë Sand, about T-1042 (Flat tyre, pending customer, high) — Ann Agent <ann@example.com> "
        "zoe@example.com Zoë Sand {{unknown.field}}")
    # Without a contact the ticket's contact columns are used; missing values become empty.
    assert tickets.render_canned("Hi {{contact.first_name}}{{contact.last_name}}!", ticket, None, None) == "Hi Zoë!"
    assert tickets.render_canned("Hi {{contact.first_name}}!", {"number": 1}, None, None) == "Hi !"


def test_canned_responses_crud(db, desk, factory):
    owner, ws = desk
    viewer = factory.member(owner, ws, "viewer")
    canned = tickets.create_canned(db, owner.claims, ws, "Thanks", "Hello {{contact.first_name}}")
    with pytest.raises(FormErrors, match="exists already"):
        tickets.create_canned(db, owner.claims, ws, " thanks ", "Again")
    with pytest.raises(FormErrors, match="Unknown merge field"):
        tickets.create_canned(db, owner.claims, ws, "Bad", "Hi {{contact.nickname}}")
    with pytest.raises(FormErrors):
        tickets.create_canned(db, owner.claims, ws, "", "")
    version = tickets.update_canned(db, owner.claims, ws, canned, "Thanks!", "Hello {{agent.name}}", 1)
    with pytest.raises(ConflictError):
        tickets.update_canned(db, owner.claims, ws, canned, "Old", "Old", 1)
    assert [(c["title"], c["body"]) for c in tickets.canned_responses(db, viewer.claims, ws)] == [
        ("Thanks!", "Hello {{agent.name}}")]
    with pytest.raises(UserError):
        tickets.create_canned(db, viewer.claims, ws, "Viewer", "No")
    with pytest.raises(UserError):
        tickets.delete_canned(db, viewer.claims, ws, canned)
    tickets.delete_canned(db, owner.claims, ws, canned)
    assert tickets.canned_responses(db, owner.claims, ws) == [] and version == 2


def test_tickets_show_on_the_customer_timeline(db, desk):
    from lib import activities

    owner, ws = desk
    company = customers.create(db, owner.claims, ws, customers.COMPANY, {"name": "Timeline Co"})
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Tim", "company_id": company})
    made = tickets.create(db, owner.claims, ws, "Chain squeaks", contact_id=contact)
    for kind, record in ((CONTACT, contact), (customers.COMPANY, company)):
        events = [e for e in activities.timeline(db, owner.claims, ws, kind, record).events if e["kind"] == "ticket"]
        assert [(e["title"], e["detail"], e["source_table"], e["source_id"]) for e in events] == [
            (f"T-{made['number']} Chain squeaks", "new", "tickets", made["id"])]
