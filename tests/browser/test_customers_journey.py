"""Customers in a real browser: import a small CSV, find a contact by a misspelled search,
open their Customer 360 page from the list, and log a call on it."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_journey import open_app, sign_in
from tests.conftest import unique_email

pytestmark = pytest.mark.browser

CSV = (
    "First name;Last name;E-mail;Téléphone;Société;Pays\n"
    "Élodie;Bernard;elodie@example.fr;06 12 34 56 78;Boulangerie Lune;France\n"
    "Marc;Petit;marc@example.fr;;Boulangerie Lune;France\n"
    "Lucas;Martin;lucas@example.fr;+33 1 23 45 67 89;;France\n"
).encode("cp1252")


def test_import_search_open_and_log_a_call(page, app_url, factory, tmp_path):
    user, _ = factory.owner("Journey Bakery", email=unique_email("custjourney"))
    upload = tmp_path / "contacts.csv"
    upload.write_bytes(CSV)

    open_app(page, f"{app_url}/import")
    sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Import", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    page.locator("input[type=file]").set_input_files(str(upload))
    expect(page.get_by_text("windows-1252", exact=False).or_(page.get_by_text("cp1252", exact=False)).first).to_be_visible(
        timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Import contacts").click()
    expect(page.get_by_text("Added", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("3", timeout=TIMEOUT_MS)

    page.get_by_role("link", name="Open the contacts").click()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    search = page.get_by_placeholder("Name, email, phone or company")
    search.fill("elodie bernrd")
    search.press("Enter")
    expect(page.get_by_text("1–1 of 1 contacts", exact=False)).to_be_visible(timeout=TIMEOUT_MS)

    # Select the only row (the grid is drawn on a canvas: click its first row's checkbox cell).
    grid = page.get_by_test_id("stDataFrame")
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 18)
    page.get_by_role("button", name="Open Élodie Bernard").click()
    expect(page.get_by_role("heading", name="Élodie Bernard", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/customer\?customer=[0-9a-f-]{36}$"))
    expect(page.get_by_text("at Boulangerie Lune")).to_be_visible()

    page.get_by_text("Log an activity").click()
    page.get_by_label("Subject").fill("Asked for the wholesale price list")
    page.get_by_role("button", name="Save activity").click()
    expect(page.get_by_text("Asked for the wholesale price list")).to_be_visible(timeout=TIMEOUT_MS)
