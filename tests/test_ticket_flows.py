"""The ticket queue and the ticket page with Streamlit's AppTest on the real database: queue views
and their empty states, bulk assign, creating a ticket, public replies and internal notes (only
the public one is a first response), status and priority changes, canned responses, attachments,
and the deep link through sign-in."""

from __future__ import annotations

import pytest

from lib import customers, tickets
from lib.customers import CONTACT
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def desk_app(factory, db):
    owner, ws = factory.owner("Flow Desk")
    contact = customers.create(db, owner.claims, ws, CONTACT,
                               {"first_name": "Zoë", "last_name": "Sand", "email": "zoe@example.com"})
    at = sign_in(fresh_app(), owner.email)
    assert not at.exception
    return owner, ws, contact, at


def queue_table(at):
    return next(d.value for d in at.dataframe if "Number" in d.value.columns)


def test_queue_views_empty_states_and_bulk_assign(desk_app, db, factory):
    owner, ws, contact, at = desk_app
    agent = factory.member(owner, ws, "agent")
    at = open_page(at, "views/tickets.py")
    assert not at.exception and "No open tickets" in texts(at)
    made = [tickets.create(db, owner.claims, ws, f"Question {n}", contact_id=contact)["id"] for n in range(3)]
    tickets.create(db, owner.claims, ws, "**Urgent** <b>thing</b>", priority="urgent")
    at.run()
    table = queue_table(at)
    assert len(table) == 4 and table["Number"].iloc[0] == "T-1004"  # most urgent first
    assert "Zoë Sand" in list(table["Customer"])
    assert at.download_button(key="tk_csv")

    at.segmented_control(key="tk_view").set_value("mine").run()
    assert not at.exception and "Nothing assigned to you" in texts(at)
    at.segmented_control(key="tk_view").set_value("solved").run()
    assert "No solved tickets" in texts(at)
    at.segmented_control(key="tk_view").set_value("unassigned").run()
    assert len(queue_table(at)) == 4
    at.multiselect(key="tk_priorities").select("urgent").run()
    assert list(queue_table(at)["Number"]) == ["T-1004"]
    at.multiselect(key="tk_priorities").unselect("urgent").run()
    at.text_input(key="tk_search").input("T-1002").run()
    assert list(queue_table(at)["Subject"]) == ["Question 1"]
    at.text_input(key="tk_search").input("").run()

    at.session_state["tk_table_unassigned"] = {"selection": {"rows": [1, 2], "columns": []}}
    at.run()
    at.selectbox(key="tk_bulk_action").select("assign").run()
    at.selectbox(key="tk_bulk_assignee").select(agent.id).run()
    at.button(key="tk_bulk_apply").click().run()
    assert not at.exception and not at.error
    assigned = [t for t in made if tickets.get(db, owner.claims, ws, t)["assignee_id"]]
    assert len(assigned) == 2 and len(queue_table(at)) == 2

    # A status no selected ticket may take is refused for all of them, with a message.
    at.session_state["tk_table_unassigned"] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    at.selectbox(key="tk_bulk_action").select("status").run()
    at.selectbox(key="tk_bulk_status").select("closed").run()
    at.button(key="tk_bulk_apply").click().run()
    assert not at.exception and "cannot become closed" in " ".join(e.value for e in at.error)

    at.session_state["tk_table_unassigned"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    at.button(key="tk_open").click().run()
    assert not at.exception and at.title[0].value == "T-1004 \\*\\*Urgent\\*\\* \\<b\\>thing\\</b\\>"


def test_new_ticket_form_links_the_contact(desk_app, db):
    owner, ws, contact, at = desk_app
    at = open_page(at, "views/tickets.py")
    at.button(key="tk_new").click().run()
    at.button(key="tk_new_submit").click().run()
    assert not at.exception and "Enter a subject" in " ".join(e.value for e in at.error)
    at.text_input(key="tk_new_contact_q").input("zoe").run()
    at.selectbox(key="tk_new_contact").select(contact).run()
    at.text_input(key="tk_new_subject").input("Brakes squeal")
    at.text_area(key="tk_new_description").input("Since **Tuesday**")
    at.selectbox(key="tk_new_channel").select("phone")
    at.selectbox(key="tk_new_priority").select("high")
    at.button(key="tk_new_submit").click().run()
    assert not at.exception
    ticket = tickets.get(db, owner.claims, ws, at.query_params["ticket"])
    assert (ticket["subject"], ticket["channel"], ticket["priority"], str(ticket["contact_id"])) == (
        "Brakes squeal", "phone", "high", contact)
    assert at.title[0].value == "T-1001 Brakes squeal" and "Since **Tuesday**" in texts(at)


def test_replies_notes_status_priority_and_canned(desk_app, db):
    owner, ws, contact, at = desk_app
    made = tickets.create(db, owner.claims, ws, "Wobbly wheel", contact_id=contact)
    tickets.create_canned(db, owner.claims, ws, "Greeting", "Hi {{contact.first_name}}, about {{ticket.number}}:")
    tid = made["id"]
    at = open_page(at, "views/ticket.py", ticket=tid)
    assert not at.exception and at.title[0].value == "T-1001 Wobbly wheel"
    assert "No replies yet" in texts(at)

    at.toggle(key=f"tk_reply_internal_{tid}").set_value(True).run()
    at.text_area(key=f"tk_reply_body_{tid}").input("Check the **spokes** <script>x</script>")
    at.button(key="tk_reply_submit").click().run()
    assert not at.exception
    assert tickets.get(db, owner.claims, ws, tid)["first_responded_at"] is None
    assert "Internal note" in texts(at) and "Check the **spokes** <script>x</script>" in texts(at)

    at.toggle(key=f"tk_reply_internal_{tid}").set_value(False).run()
    at.selectbox(key=f"tk_canned_{tid}").select_index(0).run()
    at.button(key="tk_canned_insert").click().run()
    assert at.text_area(key=f"tk_reply_body_{tid}").value == "Hi Zoë, about T-1001:"
    at.text_area(key=f"tk_reply_body_{tid}").input("Hi Zoë, about T-1001: we are on it.")
    at.button(key="tk_reply_submit").click().run()
    assert not at.exception
    ticket = tickets.get(db, owner.claims, ws, tid)
    assert ticket["first_responded_at"] is not None and ticket["status"] == "open"  # first response opens it
    thread = tickets.comments(db, owner.claims, ws, tid)
    assert [(c["is_public"], c["body"]) for c in thread] == [
        (False, "Check the **spokes** <script>x</script>"), (True, "Hi Zoë, about T-1001: we are on it.")]
    assert "Public reply" in texts(at)

    # Only allowed moves are offered: from open, "new" is not among them.
    status = at.selectbox(key=f"tk_ctl_{tid}_status")
    assert "New" not in status.options and "Pending customer" in status.options
    status.select("pending_customer").run()
    at.button(key="tk_status_apply").click().run()
    assert not at.exception and tickets.get(db, owner.claims, ws, tid)["status"] == "pending_customer"
    assert "Paused" in texts(at)

    # Someone else changes the ticket while the user picks a priority: the change reports the conflict.
    at.selectbox(key=f"tk_ctl_{tid}_priority").select("high").run()
    ticket = tickets.get(db, owner.claims, ws, tid)
    tickets.set_priority(db, owner.claims, ws, tid, "urgent", ticket["version"])
    at.button(key="tk_priority_apply").click().run()
    assert not at.exception and "Someone else changed T-1001" in " ".join(w.value for w in at.warning)
    assert tickets.get(db, owner.claims, ws, tid)["priority"] == "urgent"
    at.selectbox(key=f"tk_ctl_{tid}_priority").select("low").run()
    at.button(key="tk_priority_apply").click().run()
    assert not at.exception and tickets.get(db, owner.claims, ws, tid)["priority"] == "low"


def test_attachments_upload_checked_and_offered_for_download(desk_app, db):
    owner, ws, _, at = desk_app
    tid = tickets.create(db, owner.claims, ws, "Invoice question")["id"]
    at = open_page(at, "views/ticket.py", ticket=tid)
    at.file_uploader(key=f"tk_attach_file_{tid}").set_value(("fake.pdf", b"not a pdf", "application/pdf"))
    at.button(key="tk_attach_submit").click().run()
    assert not at.exception and "not really a application/pdf" in " ".join(e.value for e in at.error)
    at.file_uploader(key=f"tk_attach_file_{tid}").set_value(("notes.txt", b"hello", "text/plain"))
    at.button(key="tk_attach_submit").click().run()
    assert not at.exception
    files = tickets.attachments(db, owner.claims, ws, tid)
    assert [f["filename"] for f in files] == ["notes.txt"]
    assert at.download_button(key=f"tk_att_dl_{files[0]['id']}")


def test_deep_link_viewer_and_unknown_ticket(factory, db):
    owner, ws = factory.owner("Deep Desk")
    viewer = factory.member(owner, ws, "viewer")
    tid = tickets.create(db, owner.claims, ws, "Linked from an email")["id"]
    at = sign_in(fresh_app(ticket=tid), viewer.email)
    assert not at.exception and at.title[0].value == "T-1001 Linked from an email"
    keys = {b.key for b in at.button}
    assert "tk_reply_submit" not in keys and "tk_status_apply" not in keys  # viewers read only
    at = open_page(at, "views/ticket.py", ticket="nope")
    assert not at.exception and at.title[0].value == "Ticket not found"


def test_ticket_page_suggests_published_articles(desk_app, db):
    from lib import knowledge

    owner, ws, _, at = desk_app
    knowledge.create(db, owner.claims, ws, "Reset your password", "Open Settings, then Your account.",
                     status="published")
    knowledge.create(db, owner.claims, ws, "Password policy draft", "Not yet.", status="draft")
    tid = tickets.create(db, owner.claims, ws, "Cannot reset my password")["id"]
    at = open_page(at, "views/ticket.py", ticket=tid)
    assert not at.exception
    assert "Suggested articles (1)" in [e.label for e in at.expander]


def test_canned_response_edited_from_the_queue_page(desk_app, db):
    owner, ws, contact, at = desk_app
    cid = tickets.create_canned(db, owner.claims, ws, "Thanks", "Thanks {{contact.first_name}}!")
    at = open_page(at, "views/tickets.py")
    at.text_input(key=f"tk_canned_edit_title_{cid}").input("Thank you")
    at.text_area(key=f"tk_canned_edit_body_{cid}").input("Thank you, {{contact.first_name}}.")
    at = at.button(key=f"FormSubmitter:tk_canned_edit_{cid}-Save").click().run()
    assert not at.exception
    saved = {c["title"]: c["body"] for c in tickets.canned_responses(db, owner.claims, ws)}
    assert saved == {"Thank you": "Thank you, {{contact.first_name}}."}
    # Someone else saves first: the stale form is refused with a message.
    current = tickets.canned_responses(db, owner.claims, ws)[0]
    tickets.update_canned(db, owner.claims, ws, cid, "Cheers", "Cheers!", current["version"])
    at.text_input(key=f"tk_canned_edit_title_{cid}").input("Mine")
    at = at.button(key=f"FormSubmitter:tk_canned_edit_{cid}-Save").click().run()
    assert "changed this canned response" in texts(at)
