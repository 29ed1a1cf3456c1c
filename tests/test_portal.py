"""Customer portal: invitations, the customer's tickets, replies, ratings, profile and help center."""

from __future__ import annotations

import psycopg
import pytest

from lib import customers, knowledge, portal, tickets, workspaces
from lib.errors import ConflictError, FormErrors, UserError
from tests.conftest import PASSWORD, unique_email


@pytest.fixture(scope="module")
def shop(factory, db, auth):
    """A workspace with an agent, a viewer, a contact with portal access and one without."""
    owner, ws = factory.owner("Portal Shop")
    agent = factory.member(owner, ws, "agent")
    viewer = factory.member(owner, ws, "viewer")
    company = customers.create(db, owner.claims, ws, customers.COMPANY, {"name": "Client Co"})
    email = unique_email("client")
    contact = customers.create(db, owner.claims, ws, customers.CONTACT, {
        "first_name": "Cleo", "last_name": "Client", "email": email, "company_id": company,
        "notes": "Internal: pays late", "tags": ["vip"]})
    other = customers.create(db, owner.claims, ws, customers.CONTACT,
                             {"first_name": "Otto", "email": unique_email("other")})
    token = portal.invite(db, agent.claims, ws, contact)
    customer = auth.sign_up(email, PASSWORD, "Cleo Client", invite_token=token).user
    return {"owner": owner, "ws": ws, "agent": agent, "viewer": viewer, "company": company,
            "contact": contact, "other": other, "customer": customer}


def test_the_invited_contact_becomes_a_portal_user(shop, db):
    memberships = workspaces.my_workspaces(db, shop["customer"].claims)
    assert [(m.workspace_id, m.role) for m in memberships] == [(shop["ws"], "portal")]
    me = portal.profile(db, shop["customer"].claims, shop["ws"])
    assert me["contact_id"] and str(me["contact_id"]) == shop["contact"] and me["company_name"] == "Client Co"
    assert "notes" not in me and "tags" not in me and "owner_id" not in me
    access = portal.access(db, shop["agent"].claims, shop["ws"], shop["contact"])
    assert [u["email"] for u in access["users"]] == [me["email"]] and access["invitation"] is None
    # Portal invitations are not the team's: the members screen does not list them.
    portal.invite(db, shop["agent"].claims, shop["ws"], shop["other"])
    assert all(i["role"] != "portal" for i in workspaces.invitations(db, shop["owner"].claims, shop["ws"]))
    assert portal.access(db, shop["agent"].claims, shop["ws"], shop["other"])["invitation"] is not None


def test_who_may_invite_and_to_what(shop, db, auth, factory):
    with pytest.raises(UserError, match="agents and above"):
        portal.invite(db, shop["viewer"].claims, shop["ws"], shop["other"])
    with pytest.raises(UserError, match="already uses the portal"):
        portal.invite(db, shop["agent"].claims, shop["ws"], shop["contact"])
    no_email = customers.create(db, shop["owner"].claims, shop["ws"], customers.CONTACT, {"first_name": "Nomail"})
    with pytest.raises(UserError, match="email address"):
        portal.invite(db, shop["agent"].claims, shop["ws"], no_email)
    # The link is bound to the contact's email.
    target = customers.create(db, shop["owner"].claims, shop["ws"], customers.CONTACT,
                              {"first_name": "Bound", "email": unique_email("bound")})
    token = portal.invite(db, shop["agent"].claims, shop["ws"], target)
    with pytest.raises(FormErrors) as caught:
        auth.sign_up(unique_email("intruder"), PASSWORD, "Intruder", invite_token=token)
    assert "email" in caught.value.errors
    preview = workspaces.invitation_preview(db, token)
    assert preview["role"] == "portal" and preview["usable"]
    # A team member of the workspace cannot become its portal user.
    colleague = customers.create(db, shop["owner"].claims, shop["ws"], customers.CONTACT,
                                 {"first_name": "Agent", "email": shop["agent"].email})
    token = portal.invite(db, shop["owner"].claims, shop["ws"], colleague)
    with pytest.raises(UserError, match="member of this workspace"):
        workspaces.accept_invitation(db, shop["agent"].claims, token)


def test_customer_opens_a_ticket_and_sees_only_public_replies(shop, db):
    customer, agent, ws = shop["customer"].claims, shop["agent"].claims, shop["ws"]
    opened = portal.open_ticket(db, customer, ws, "Broken zip", "The zip on my bag broke.",
                                [("photo.png", "image/png", b"\x89PNG\r\n\x1a\n....")])
    staff_view = tickets.get(db, agent, ws, opened["id"])
    assert staff_view["channel"] == "portal" and staff_view["status"] == "new"
    assert str(staff_view["contact_id"]) == shop["contact"] and str(staff_view["company_id"]) == shop["company"]
    tickets.reply(db, agent, ws, opened["id"], "Sorry to hear! Sending a new one.")
    note = tickets.reply(db, agent, ws, opened["id"], "Internal: supplier defect batch 42", public=False)
    tickets.attach(db, agent, ws, opened["id"], "defects.txt", "text/plain", b"batch 42", comment_id=note)
    seen = portal.ticket(db, customer, ws, opened["id"])
    bodies = [c["body"] for c in seen["comments"]]
    assert bodies == ["Sorry to hear! Sending a new one."]
    assert [a["filename"] for a in seen["attachments"]] == ["photo.png"]
    assert portal.attachment_data(db, customer, ws, seen["attachments"][0]["id"]).startswith(b"\x89PNG")
    assert [t["number"] for t in portal.my_tickets(db, customer, ws).rows] == [opened["number"]]


def test_customer_replies_reopen_and_rate(shop, db):
    customer, agent, ws = shop["customer"].claims, shop["agent"].claims, shop["ws"]
    opened = portal.open_ticket(db, customer, ws, "Invoice copy", "Please send my invoice again.")
    tid = opened["id"]
    version = tickets.get(db, agent, ws, tid)["version"]
    with pytest.raises(UserError, match="once it is solved"):
        portal.rate(db, customer, ws, tid, 5, None, version)
    version = tickets.set_status(db, agent, ws, tid, "pending_customer", version)
    portal.reply(db, customer, ws, tid, "Here is my order number: 1234")
    assert tickets.get(db, agent, ws, tid)["status"] == "open"
    version = tickets.set_status(db, agent, ws, tid, "solved", tickets.get(db, agent, ws, tid)["version"])
    portal.reply(db, customer, ws, tid, "Actually, the amount is wrong.")
    reopened = tickets.get(db, agent, ws, tid)
    assert reopened["status"] == "open" and reopened["reopen_count"] == 1
    version = tickets.set_status(db, agent, ws, tid, "solved", reopened["version"])
    assert portal.unrated_count(db, customer, ws) >= 1
    with pytest.raises(FormErrors):
        portal.rate(db, customer, ws, tid, 6, None, version)
    version = portal.rate(db, customer, ws, tid, 4, "Quick, thanks", version)
    rated = tickets.get(db, agent, ws, tid)
    assert (rated["csat"], rated["csat_comment"]) == (4, "Quick, thanks")
    with pytest.raises(ConflictError):
        portal.rate(db, customer, ws, tid, 5, None, version - 1)
    tickets.set_status(db, agent, ws, tid, "closed", version)
    with pytest.raises(UserError, match="closed"):
        portal.reply(db, customer, ws, tid, "One more thing")


def test_customer_cannot_triage_or_impersonate(shop, db):
    customer, agent, ws = shop["customer"].claims, shop["agent"].claims, shop["ws"]
    tid = portal.open_ticket(db, customer, ws, "Urgent!!", "Please hurry")["id"]
    with db.as_user(customer) as conn:
        for statement, params in (
            ("update public.tickets set priority = 'urgent' where id = %s", [tid]),
            ("update public.tickets set status = 'solved' where id = %s", [tid]),
            ("update public.tickets set assignee_id = %s where id = %s", [shop["customer"].id, tid]),
            ("insert into public.ticket_comments (workspace_id, ticket_id, body, is_public, from_customer)"
             " values (%s, %s, 'x', false, true)", [ws, tid]),
            ("insert into public.ticket_comments (workspace_id, ticket_id, body) values (%s, %s, 'As the team')",
             [ws, tid]),
            ("insert into public.tickets (workspace_id, subject, contact_id) values (%s, 'For Otto', %s)",
             [ws, shop["other"]]),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute(statement, params)
        # Contacts have no portal branch at all: the customer's own row is not even visible.
        assert conn.execute("update public.contacts set notes = 'mine now' where id = %s",
                            [shop["contact"]]).rowcount == 0
        # What the customer sends is forced to a fresh, normal, unassigned portal ticket.
        row = conn.execute(
            "insert into public.tickets (workspace_id, subject, contact_id, priority, status, assignee_id, channel)"
            " values (%s, 'Sneaky', %s, 'urgent', 'solved', %s, 'phone') returning priority, status, assignee_id, channel",
            [ws, shop["contact"], shop["agent"].id],
        ).fetchone()
        assert row == {"priority": "normal", "status": "new", "assignee_id": None, "channel": "portal"}
        comment = conn.execute(
            "insert into public.ticket_comments (workspace_id, ticket_id, body, is_public, from_customer)"
            " values (%s, %s, 'hello', true, true) returning from_customer", [ws, tid]).fetchone()
        assert comment["from_customer"]
    # The agent's side still works as before.
    assert tickets.set_priority(db, agent, ws, tid, "high", tickets.get(db, agent, ws, tid)["version"])


def test_profile_edits_only_phone_address_and_consent(shop, db):
    customer, ws = shop["customer"].claims, shop["ws"]
    me = portal.profile(db, customer, ws)
    with pytest.raises(FormErrors) as caught:
        portal.update_profile(db, customer, ws, me["version"], {"phone": "12", "country": "Narnia"})
    assert set(caught.value.errors) == {"country"} or {"phone", "country"} <= set(caught.value.errors)
    version = portal.update_profile(db, customer, ws, me["version"], {
        "phone": "06 12 34 56 78", "country": "France", "address": "1 rue de la Paix", "city": "Paris",
        "postal_code": "75002", "consent": True})
    me = portal.profile(db, customer, ws)
    assert (me["phone"], me["country"], me["city"], me["consent"], me["version"]) == (
        "+33612345678", "FR", "Paris", True, version)
    staff = customers.get(db, shop["owner"].claims, ws, customers.CONTACT, shop["contact"])
    assert staff["consent_source"] == "customer portal" and staff["notes"] == "Internal: pays late"
    with pytest.raises(ConflictError):
        portal.update_profile(db, customer, ws, version - 1, {"phone": "", "consent": False})


def test_help_center_shows_published_articles_only(shop, db):
    owner, customer, ws = shop["owner"].claims, shop["customer"].claims, shop["ws"]
    published = knowledge.create(db, owner, ws, "Returning a parcel", "Print the **label**.", status="published")
    draft = knowledge.create(db, owner, ws, "Parcel fraud playbook", "Internal steps for parcel fraud.")
    titles = [a["title"] for a in knowledge.search(db, customer, ws, "parcel")]
    assert titles == ["Returning a parcel"]
    assert knowledge.get(db, customer, ws, draft) is None
    assert knowledge.get(db, customer, ws, published, count_view=True)["title"] == "Returning a parcel"
    assert knowledge.count_view(db, customer, draft) is None


def test_ending_access_hides_everything(factory, db, auth):
    owner, ws = factory.owner("Short Lived")
    email = unique_email("gone")
    contact = customers.create(db, owner.claims, ws, customers.CONTACT, {"first_name": "Gone", "email": email})
    user = auth.sign_up(email, PASSWORD, "Gone", invite_token=portal.invite(db, owner.claims, ws, contact)).user
    portal.open_ticket(db, user.claims, ws, "Hello", "Anyone there?")
    assert portal.end_access(db, owner.claims, ws, contact) == 1
    assert workspaces.my_workspaces(db, user.claims) == []
    assert portal.my_tickets(db, user.claims, ws, "all").rows == []
    assert portal.profile(db, user.claims, ws) is None
    with pytest.raises(UserError, match="ended"):
        portal.open_ticket(db, user.claims, ws, "Again", "Hello?")


def test_merging_contacts_keeps_the_portal_access(factory, db, auth):
    from lib import merge

    owner, ws = factory.owner("Merge Portal")
    email = unique_email("merged")
    merged = customers.create(db, owner.claims, ws, customers.CONTACT, {"first_name": "Twin", "email": email})
    survivor = customers.create(db, owner.claims, ws, customers.CONTACT, {"first_name": "Twin", "last_name": "Main"})
    user = auth.sign_up(email, PASSWORD, "Twin", invite_token=portal.invite(db, owner.claims, ws, merged)).user
    opened = portal.open_ticket(db, user.claims, ws, "Before the merge", "Hello")
    versions = [customers.get(db, owner.claims, ws, customers.CONTACT, c)["version"] for c in (survivor, merged)]
    merge.merge(db, owner.claims, ws, "contact", survivor, merged, {"email": "merged"}, *versions)
    me = portal.profile(db, user.claims, ws)
    assert str(me["contact_id"]) == survivor and me["last_name"] == "Main"
    assert [str(t["id"]) for t in portal.my_tickets(db, user.claims, ws, "all").rows] == [opened["id"]]
