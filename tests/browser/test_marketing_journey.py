"""Marketing in a real browser: build a segment, schedule an email campaign to it, let the mail
worker send it through a real local SMTP server (aiosmtpd), then unsubscribe through the link in
the received email, on the public page, without signing in."""

from __future__ import annotations

import re

import pytest
from aiosmtpd.controller import Controller

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from lib import campaigns, templates
from lib.mailer import SmtpConfig, Worker
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_journey import open_app, sign_in
from tests.conftest import unique_email
from tests.test_mailer import Mailbox, free_port

pytestmark = pytest.mark.browser


def _people(db, claims, ws: str) -> dict[str, str]:
    """Three contacts tagged 'newsletter' (one without consent) and one untagged."""
    rows = [("Ann", "ann@harbour.test", True, ["newsletter"]), ("Ben", "ben@harbour.test", True, ["newsletter"]),
            ("Cora", "cora@harbour.test", False, ["newsletter"]), ("Dan", "dan@harbour.test", True, [])]
    with db.as_user(claims) as conn:
        return {first: str(conn.execute(
            "insert into public.contacts (workspace_id, first_name, last_name, email, consent, consent_source, tags)"
            " values (%s, %s, 'Reader', %s, %s, 'web form', %s) returning id",
            [ws, first, email, consent, tags]).fetchone()["id"]) for first, email, consent, tags in rows}


def expect_metric(page, label: str, value: str) -> None:
    """A metric showing `value` (a rerun may briefly keep the stale one beside it)."""
    shown = page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")
    expect(shown.filter(has_text=re.compile(rf"^{re.escape(value)}$")).first).to_be_visible(timeout=TIMEOUT_MS)


def test_segment_campaign_worker_unsubscribe(page, browser, app_url, factory, db, admin_conn):
    owner, ws = factory.owner("Harbour Books", email=unique_email("marketingjourney"))
    people = _people(db, owner.claims, ws)
    templates.create(db, owner.claims, ws, {
        "name": "Autumn news", "subject": "Autumn at {{ workspace.name }}",
        "body": "Hello {{ contact.first_name }},\nour autumn list is out: https://books.example/autumn\n"
                "Leave the list: {{ unsubscribe_url }}"})

    # 1. A live segment: contacts tagged "newsletter" (three of them).
    open_app(page, f"{app_url}/segments")
    sign_in(page, owner.email)
    expect(page.get_by_text("No segments yet.")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Build a segment").click()
    page.locator(".st-key-seg_f_tag_contact").get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name="newsletter", exact=True).click()
    page.keyboard.press("Escape")
    expect_metric(page, "Matching contacts now", "3")
    page.locator(".st-key-seg_name input").fill("Newsletter readers")
    page.locator(".st-key-seg_name input").press("Tab")
    page.get_by_role("button", name="Save as live segment").click()
    expect(page.get_by_text("Saved, 3 members now.")).to_be_visible(timeout=TIMEOUT_MS)

    # 2. An email campaign to it, scheduled for later, with the exclusions shown before sending.
    page.goto(f"{app_url}/campaigns")
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="New campaign").click()
    page.locator(".st-key-cmp_new_name input").fill("Autumn letter")
    page.locator(".st-key-cmp_new_name input").press("Tab")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Autumn letter")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator(".st-key-cmp_segment").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=re.compile("^Newsletter readers")).click()
    page.locator(".st-key-cmp_template").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Autumn news", exact=True).click()
    expect_metric(page, "Will be emailed", "2")
    expect_metric(page, "Excluded", "1")
    page.locator(".st-key-cmp_when").get_by_text("Schedule", exact=True).click()
    expect(page.locator(".st-key-cmp_send_day")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator(".st-key-cmp_launch button").click()
    expect(page.get_by_text("2 to be emailed, 1 excluded")).to_be_visible(timeout=TIMEOUT_MS)
    campaign = next(c for c in campaigns.choices(db, owner.claims, ws) if c["name"] == "Autumn letter")
    assert campaign["status"] == "scheduled"
    queued = admin_conn.execute("select to_email, send_after > now() as later from public.outbox"
                                " where campaign_id = %s", [campaign["id"]]).fetchall()
    assert sorted(r["to_email"] for r in queued) == ["ann@harbour.test", "ben@harbour.test"]
    assert all(r["later"] for r in queued)

    # 3. The send time comes; the worker delivers through a real SMTP server.
    assert Worker(db, SmtpConfig("127.0.0.1", 1), public_url=app_url, workspace_id=ws).claim() == []  # not yet due
    admin_conn.execute("update public.outbox set send_after = now() - interval '1 minute' where campaign_id = %s",
                       [campaign["id"]])
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = Worker(db, SmtpConfig("127.0.0.1", controller.port), public_url=app_url, workspace_id=ws,
                        mail_from="news@harbour.test").run_once()
    finally:
        controller.stop()
    assert result.sent == 2 and len(box.messages) == 2
    ann = next(m for m in box.messages if m["To"] == "ann@harbour.test")
    assert ann["Subject"] == "Autumn at Harbour Books"
    text = ann.get_body(("plain",)).get_content()
    link = ann["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{app_url}/?unsubscribe=") and f"Leave the list: {link}" in text
    assert "Hello Ann," in text and "https://books.example/autumn" not in text  # the link is tracked

    # 4. Ann follows the link from her email: a fresh browser, nobody signed in.
    reader = browser.new_context(viewport={"width": 1280, "height": 900})
    reader.set_default_timeout(TIMEOUT_MS)
    try:
        mail_page = reader.new_page()
        mail_page.goto(link)
        expect(mail_page.get_by_text(re.compile(r"^Unsubscribe a•••@harbour\.test from the emails of Harbour Books\?$"))
               ).to_be_visible(timeout=TIMEOUT_MS)
        mail_page.get_by_role("button", name="Unsubscribe").click()
        expect(mail_page.get_by_text(re.compile(r"^a•••@harbour\.test is unsubscribed"))).to_be_visible(timeout=TIMEOUT_MS)
    finally:
        reader.close()
    contact = admin_conn.execute("select consent, consent_source from public.contacts where id = %s",
                                 [people["Ann"]]).fetchone()
    assert contact == {"consent": False, "consent_source": "unsubscribe link"}
    members = {str(m["contact_id"]): m["status"] for m in campaigns.members(db, owner.claims, ws, campaign["id"])}
    assert members == {people["Ann"]: "unsubscribed", people["Ben"]: "sent", people["Cora"]: "excluded"}

    # 5. The team sees it: the campaign's page counts the sent emails, Ann's page the unsubscribe.
    page.goto(f"{app_url}/customer?customer={people['Ann']}")
    expect(page.get_by_text(re.compile(r"Unsubscribed from — Autumn at Harbour Books$"))).to_be_visible(
        timeout=TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^the customer · "))).to_be_visible()
    expect(page.get_by_text(re.compile(r"Email sent — Autumn at Harbour Books \(Autumn letter\)$"))).to_be_visible()
    page.goto(f"{app_url}/campaign?campaign={campaign['id']}")
    expect_metric(page, "Sent", "2")
