"""The funnel board in a real browser: move a card to the next stage with its "Move to" picker,
win it through the dialog, find it in the Won column, and download the board as CSV."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from lib import deals
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_journey import open_app, sign_in
from tests.conftest import unique_email

pytestmark = pytest.mark.browser


def board_column(page, header: str):
    """The board column whose header reads e.g. "Won · 1"."""
    return page.locator(".st-key-deal_board [data-testid='stColumn']").filter(has_text=header)


def move_card(page, deal_id: str, stage: str) -> None:
    page.locator(f".st-key-deal_card_{deal_id}").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=stage, exact=True).click()


def test_move_a_card_then_win_it(page, app_url, factory, db):
    user, ws = factory.owner("Journey Cycles", email=unique_email("dealjourney"))
    fleet = deals.create(db, user.claims, ws, {"title": "Fleet of 20 bikes", "value": 12000})
    deals.create(db, user.claims, ws, {"title": "Helmets", "value": 800})

    open_app(page, f"{app_url}/deals")
    sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Deals", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    card = page.locator(f".st-key-deal_card_{fleet}")
    expect(board_column(page, "Lead in · 2").locator(card)).to_be_visible(timeout=TIMEOUT_MS)

    move_card(page, fleet, "Qualified")
    expect(board_column(page, "Qualified · 1").locator(card)).to_be_visible(timeout=TIMEOUT_MS)
    expect(board_column(page, "Lead in · 1")).to_be_visible()

    move_card(page, fleet, "Won")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Mark the deal won")).to_be_visible(timeout=TIMEOUT_MS)
    won_value = dialog.get_by_label("Won value (EUR)")
    expect(won_value).to_have_value("12000.00")
    won_value.fill("11500")
    won_value.press("Enter")
    dialog.get_by_role("button", name="Mark won").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT_MS)
    expect(board_column(page, "Won · 1").locator(card)).to_be_visible(timeout=TIMEOUT_MS)
    expect(card.get_by_text("11,500 EUR")).to_be_visible()
    assert deals.get(db, user.claims, ws, fleet)["status"] == "won"

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "Fleet of 20 bikes" in text and ",Won," in text and "Helmets" in text
