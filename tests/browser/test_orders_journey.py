"""The front office in a real browser: from a customer's page to their order, confirm it, ship it,
issue the invoice, download its PDF and mark it paid."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from lib import customers, orders
from lib.customers import COMPANY
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_journey import open_app, sign_in
from tests.conftest import unique_email

pytestmark = pytest.mark.browser


def test_order_to_paid_invoice(page, app_url, factory, db):
    user, ws = factory.owner("Journey Outfitters", email=unique_email("orderjourney"))
    company = customers.create(db, user.claims, ws, COMPANY, {"name": "Alpine Hut", "country": "AT"})
    lamp = orders.create_product(db, user.claims, ws, {"sku": "LAMP-2", "name": "Head lamp", "price": "24"})
    made = orders.create_order(db, user.claims, ws, {"company_id": company, "lines": [
        {"product_id": lamp, "quantity": "5", "unit_price": "24"}]})

    open_app(page, f"{app_url}/?customer={company}")
    sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Alpine Hut")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Orders").click()
    page.get_by_role("link", name=f"{made['number']} ·").click()
    expect(page.get_by_role("heading", name=f"Order {made['number']}")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("120.00 EUR")).to_be_visible()

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Confirmed", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Mark shipped").click()
    expect(page.get_by_text("Shipped", exact=True)).to_be_visible(timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Invoice").click()
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.get_by_text("INV-1001", exact=False).first).to_be_visible(timeout=TIMEOUT_MS)
    with page.expect_download() as download:
        page.get_by_role("button", name="PDF").click()
    assert open(download.value.path(), "rb").read(4) == b"%PDF"

    page.get_by_role("button", name="Mark paid").click()
    expect(page.get_by_text("Paid", exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
    assert orders.get(db, user.claims, ws, made["id"])["status"] == "paid"
