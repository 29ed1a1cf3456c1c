"""The first journey in a real browser: sign up, sign out, sign in; reloads; deep links."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with what to install
    expect = None

from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import PASSWORD, unique_email

pytestmark = pytest.mark.browser

COOKIE = "relata_session="


def form_with(page, button: str):
    """The st.form whose submit button is `button` (both tabs' forms are in the page)."""
    return page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name=button, exact=True))


def wait_idle(page) -> None:
    """Until the script run the last action started has finished (its stale elements are gone)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)


def open_app(page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible(timeout=TIMEOUT_MS)


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.get_by_role("tab", name="Sign in", exact=True).click()
    form = form_with(page, "Sign in")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in", exact=True).click()


def expect_home(page, business: str) -> None:
    expect(page.get_by_role("heading", name=business, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")).to_be_visible()


def wait_for_cookie(page, present: bool) -> None:
    """The session cookie is written by a script the app sends; wait until the browser ran it."""
    test = f"document.cookie.includes('{COOKIE}')"
    page.wait_for_function(test if present else f"!{test}", timeout=TIMEOUT_MS)


def test_sign_up_sign_out_sign_in(page, app_url):
    email = unique_email("journey")
    open_app(page, app_url)

    page.get_by_role("tab", name="Create account", exact=True).click()
    form = form_with(page, "Create account")
    form.get_by_label("Your name", exact=True).fill("Jo Journey")
    form.get_by_label("Email", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Business name", exact=True).fill("Journey Bikes")
    form.get_by_role("button", name="Create account", exact=True).click()
    expect_home(page, "Journey Bikes")
    expect(page.get_by_text("Get started")).to_be_visible()
    wait_for_cookie(page, present=True)

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    wait_for_cookie(page, present=False)

    sign_in(page, email)
    expect_home(page, "Journey Bikes")


def test_stays_signed_in_across_reload(page, app_url, factory):
    user, _ = factory.owner("Reload Co", email=unique_email("reload"))
    open_app(page, app_url)
    sign_in(page, user.email)
    expect_home(page, "Reload Co")
    wait_for_cookie(page, present=True)

    page.reload()
    expect_home(page, "Reload Co")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_have_count(0)


def test_deep_link_survives_sign_in(page, app_url, factory):
    user, _ = factory.owner("Deep Link Co", email=unique_email("deeplink"))
    open_app(page, f"{app_url}/settings?tab=x")
    expect(page).to_have_url(re.compile(r"/settings\?tab=x$"))

    sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/settings\?tab=x$"))
