"""The customer portal with Streamlit's AppTest on the real database: an agent invites a contact from
the customer page, the contact signs up through the link and lands on the portal (and only the
portal), opens a request, sees the team's public reply but not the internal note, rates the solved
request, updates their details (a concurrent change by the team is reported), reads the help center."""

from __future__ import annotations

import pytest

from lib import customers, knowledge, portal, tickets
from lib.customers import CONTACT
from tests.conftest import PASSWORD, unique_email
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def portal_app(factory, db, auth):
    owner, ws = factory.owner("Portal Flow Co")
    email = unique_email("pflow")
    contact = customers.create(db, owner.claims, ws, CONTACT,
                               {"first_name": "Paula", "last_name": "Portal", "email": email})
    customer = auth.sign_up(email, PASSWORD, "Paula Portal", invite_token=portal.invite(db, owner.claims, ws, contact)).user
    at = sign_in(fresh_app(), email)
    assert not at.exception
    return owner, ws, contact, customer, at


def test_agent_invites_and_the_contact_signs_up_into_the_portal(factory, db):
    owner, ws = factory.owner("Invite Portal Co")
    email = unique_email("invitee")
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Ines", "email": email})
    at = sign_in(fresh_app(customer=contact), owner.email)
    at = at.button(key="portal_invite").click().run()
    assert not at.exception
    link = at.code[0].value
    token = link.split("invite=", 1)[1]
    at = fresh_app(invite=token)
    assert "invites you to its customer portal" in texts(at)
    at.text_input(key="signup_name").input("Ines Invitee")
    at.text_input(key="signup_email").input(email)
    at.text_input(key="signup_password").input(PASSWORD)
    at = at.button(key="signup_submit").click().run()
    assert not at.exception
    assert at.title[0].value == "My requests"
    assert "You have no open requests" in texts(at)
    # Only the portal: the team's pages are not even registered for this user.
    at = open_page(at, "views/knowledge.py")
    assert at.title[0].value == "Help center"
    with pytest.raises(Exception):
        at.switch_page("views/customers.py")
    # The agent sees the access on the contact and can end it.
    at = sign_in(fresh_app(customer=contact), owner.email)
    assert "Signed up as" in texts(at)
    at = at.button(key="portal_end").click().run()
    assert portal.access(db, owner.claims, ws, contact)["users"] == []


def test_customer_opens_a_request_sees_public_reply_and_rates(portal_app, db):
    owner, ws, contact, customer, at = portal_app
    at = open_page(at, "views/portal_new.py")
    at.text_input(key="pt_new_subject").input("Lost parcel")
    at.text_area(key="pt_new_description").input("My parcel never arrived.")
    at = at.button(key="FormSubmitter:pt_new_form-Send request").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Lost parcel")
    tid = at.query_params["ticket"]
    tid = tid[0] if isinstance(tid, list) else tid
    tickets.reply(db, owner.claims, ws, tid, "We are checking with the carrier.")
    tickets.reply(db, owner.claims, ws, tid, "Carrier is slow, escalate Friday", public=False)
    at = open_page(at, "views/portal_ticket.py", ticket=tid)
    shown = texts(at)
    assert "We are checking with the carrier." in shown and "escalate Friday" not in shown
    # The customer answers; then the team solves it and the customer rates it.
    at.text_area(key=f"pt_reply_body_{tid}").input("Tracking number 123")
    at = at.button(key=f"FormSubmitter:pt_reply_{tid}-Send reply").click().run()
    assert not at.exception
    staff = tickets.get(db, owner.claims, ws, tid)
    tickets.set_status(db, owner.claims, ws, tid, "solved", staff["version"])
    at = open_page(at, "views/portal_ticket.py", ticket=tid)
    assert "How did we do?" in texts(at)
    at = at.feedback(key=f"pt_stars_{tid}").set_value(4).run()  # the fifth star (counted from 0)
    at = at.button(key="pt_rate").click().run()
    assert not at.exception
    assert tickets.get(db, owner.claims, ws, tid)["csat"] == 5
    at = open_page(at, "views/portal_home.py")
    at.segmented_control(key="pt_show").set_value("solved")
    at = at.run()
    assert "Lost parcel" in " ".join(link.label for link in at.get("page_link"))


def test_details_form_saves_and_reports_a_concurrent_change(portal_app, db):
    owner, ws, contact, customer, at = portal_app
    at = open_page(at, "views/portal_profile.py")
    assert at.title[0].value == "My details"
    at.text_input(key="pt_phone").input("not a phone")
    at = at.button(key="FormSubmitter:pt_profile_form-Save").click().run()
    assert at.text_input(key="pt_phone").value == "not a phone"  # kept, with the error beside it
    assert any("phone" in e.value for e in at.error)
    at.text_input(key="pt_phone").input("+44 20 7946 0000")
    at.text_input(key="pt_city").input("London")
    at = at.button(key="FormSubmitter:pt_profile_form-Save").click().run()
    assert not at.exception
    assert portal.profile(db, customer.claims, ws)["city"] == "London"
    # The team changes the city while the customer edits the address.
    at.text_input(key="pt_address").input("1 Baker Street")
    record = customers.get(db, owner.claims, ws, CONTACT, contact)
    customers.update(db, owner.claims, ws, CONTACT, contact, {"city": "Leeds"}, record["version"])
    at = at.button(key="FormSubmitter:pt_profile_form-Save").click().run()
    assert "changed your details" in texts(at)
    assert at.text_input(key="pt_address").value == "1 Baker Street"
    at = at.button(key="FormSubmitter:pt_profile_form-Save").click().run()
    assert portal.profile(db, customer.claims, ws)["address"] == "1 Baker Street"


def test_help_center_lists_published_articles_only(portal_app, db):
    owner, ws, contact, customer, at = portal_app
    knowledge.create(db, owner.claims, ws, "Track your parcel", "Use the **tracking** link.", status="published")
    knowledge.create(db, owner.claims, ws, "Secret draft", "Internal.")
    at = open_page(at, "views/knowledge.py")
    shown = " ".join(b.label for b in at.button)
    assert "Track your parcel" in shown and "Secret draft" not in shown
    assert "kb_new" not in {b.key for b in at.button}
