"""The customer portal in a real browser, two people at once: a contact signs up through their
portal invitation and opens a request; an agent, in another browser session, answers it publicly
and adds an internal note; the customer sees the answer, never the note."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from lib import customers, portal
from lib.customers import CONTACT
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_journey import form_with, open_app, sign_in, wait_idle
from tests.conftest import PASSWORD, unique_email

pytestmark = pytest.mark.browser


def test_portal_user_opens_a_ticket_agent_answers_customer_sees_reply(page, browser, app_url, factory, db, admin_conn):
    agent, ws = factory.owner("Portal Journey Bikes", email=unique_email("deskagent"))
    email = unique_email("portalcustomer")
    contact = customers.create(db, agent.claims, ws, CONTACT, {"first_name": "Cora", "last_name": "Customer",
                                                               "email": email})
    token = portal.invite(db, agent.claims, ws, contact)

    # The customer follows the invitation link and creates an account.
    page.goto(f"{app_url}/?invite={token}")
    expect(page.get_by_text("invites you to its customer portal")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Create account", exact=True).click()
    form = form_with(page, "Create account")
    form.get_by_label("Your name", exact=True).fill("Cora Customer")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("heading", name="My requests", exact=True)).to_be_visible(timeout=TIMEOUT_MS)

    # … and opens a request.
    page.get_by_role("button", name="New request").click()
    form = form_with(page, "Send request")
    form.get_by_label("Subject", exact=True).fill("Gears slip on my new bike")
    form.get_by_label("Description", exact=True).fill("Since yesterday the chain jumps in third gear.")
    form.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", name="T-1001 · Gears slip on my new bike")).to_be_visible(timeout=TIMEOUT_MS)
    ticket_id = admin_conn.execute("select id from public.tickets where workspace_id = %s", [ws]).fetchone()["id"]

    # The agent, in a browser session of their own, answers from the ticket page.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        desk = context.new_page()
        open_app(desk, f"{app_url}/?ticket={ticket_id}")
        sign_in(desk, agent.email)
        expect(desk.get_by_role("heading", name="T-1001 Gears slip on my new bike")).to_be_visible(timeout=TIMEOUT_MS)
        reply = desk.get_by_role("textbox", name="Reply", exact=True)
        reply.fill("Please bring it in: the derailleur needs a two-minute adjustment.")
        desk.get_by_role("button", name="Send reply").click()
        expect(desk.get_by_text("two-minute adjustment")).to_be_visible(timeout=TIMEOUT_MS)
        # Sending reruns the page twice (save, then st.rerun), and on a busy machine the old reply form
        # was seen standing beside the new one: start from a fresh page (the session survives a reload).
        wait_idle(desk)
        desk.reload()
        expect(desk.get_by_text("two-minute adjustment")).to_be_visible(timeout=TIMEOUT_MS)
        wait_idle(desk)
        desk.get_by_text("Internal note (only the team sees it)").click()
        expect(desk.get_by_role("button", name="Add internal note")).to_be_visible(timeout=TIMEOUT_MS)
        desk.get_by_role("textbox", name="Reply", exact=True).fill("Probably a bent hanger, check warranty.")
        desk.get_by_role("button", name="Add internal note").click()
        expect(desk.get_by_text("bent hanger")).to_be_visible(timeout=TIMEOUT_MS)
    finally:
        context.close()

    # The customer sees the public answer, and not the internal note.
    page.reload()
    expect(page.get_by_text("the derailleur needs a two-minute adjustment")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Portal Journey Bikes").first).to_be_visible()
    expect(page.get_by_text("bent hanger")).to_have_count(0)
