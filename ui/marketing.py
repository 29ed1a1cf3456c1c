"""Streamlit pieces the marketing screens share: the app's public address for links, the
browser's time zone, status badges, the email preview, and the campaign credit shown on the
deal and order pages."""

from __future__ import annotations

from datetime import tzinfo
from typing import Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from lib import campaign_results, campaigns
from lib.db import Claims, Database
from lib.templates import Rendered
from lib.text import md_escape
from ui.forms import FieldSlots, attempt

DEFAULT_PUBLIC_URL = "http://localhost:8501"
MAIL_SETUP = ("Emails are sent by the mail worker: the app runs one when SMTP_URL is set (see the README), or "
              "run `python -m lib.mailer` with it.")
BADGES = {"draft": ":gray-badge[Draft]", "scheduled": ":blue-badge[Scheduled]", "running": ":orange-badge[Running]",
          "completed": ":green-badge[Completed]", "cancelled": ":red-badge[Cancelled]"}


def public_url(rt) -> str:
    """Where recipients reach the app (unsubscribe links): RELATA_PUBLIC_URL, else this browser's address."""
    configured = getattr(rt.settings, "public_url", None)
    if configured:
        return configured
    parts = urlsplit(st.context.url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else DEFAULT_PUBLIC_URL


def browser_zone() -> tzinfo:
    """The browser's time zone (UTC when unknown), for scheduled sends."""
    try:
        return ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def show_email(email: Rendered, key: str) -> None:
    """Subject, then the HTML part and the text part of a rendered email (user text never as markdown)."""
    with st.container(border=True, key=f"{key}_box"):
        st.caption("Subject")
        st.text(email.subject)
        html_tab, text_tab = st.tabs(["HTML", "Plain text"])
        with html_tab:
            st.html(email.html)  # values are escaped by the renderer; st.html also sanitizes
        with text_tab:
            st.code(email.text, language=None, wrap_lines=True)


def campaign_credit(db: Database, claims: Claims, ws: str, kind: str, record: dict, writer: bool,
                    saved: Callable[[int], None] | None = None) -> None:
    """The campaign a deal or an order is credited to (a link to it), and for writers a picker to
    credit another one or none; `saved(new_version)` runs after a change. Nothing at all while
    the workspace has no campaign."""
    options = {c["id"]: c for c in campaigns.choices(db, claims, ws)}
    current = str(record["campaign_id"]) if record.get("campaign_id") else None
    if not options and current is None:
        return
    rid = str(record["id"])
    left, right = st.columns([3, 2], vertical_alignment="center")
    if current in options:
        left.page_link("views/campaign.py", label=f"Campaign: {md_escape(options[current]['name'])}",
                       icon=":material/campaign:", query_params={"campaign": current})
    elif writer:
        left.caption(f"Not credited to a campaign. A credited {kind} counts in the campaign's revenue and ROI once "
                     + ("won." if kind == "deal" else "sold (confirmed or later)."))
    if not writer:
        return

    def label(i: str) -> str:
        c = options[i]
        return f"{c['name']} · {campaigns.CHANNELS[c['channel']]} · {campaigns.STATUSES[c['status']]} · {c['currency']}"

    with right.popover("Change campaign" if current else "Credit a campaign", icon=":material/campaign:"):
        slots = FieldSlots()
        ids = ["", *options]  # "": none (a None option reads as "nothing chosen" to Streamlit)
        picked = st.selectbox("Campaign", ids, index=ids.index(current) if current in ids else 0,
                              key=f"{kind}_campaign_{rid}", format_func=lambda i: label(i) if i else "No campaign")
        slots.under("campaign_id")
        other_currency = bool(picked) and options[picked]["currency"] != record["currency"]
        if other_currency:
            st.caption(f"This {kind} is in {record['currency']} and the campaign in {options[picked]['currency']}: "
                       "it is listed on the campaign but not added to its revenue.")
        began = record.get("ordered_at") or record.get("created_at")
        if picked and options[picked]["starts_on"] and began and began.date() < options[picked]["starts_on"]:
            st.caption(f"This {kind} dates from {began:%Y-%m-%d}, before the campaign started "
                       f"({options[picked]['starts_on']:%Y-%m-%d}).")
        if st.button("Save", type="primary", key=f"{kind}_campaign_save_{rid}"):
            version = attempt(lambda: campaign_results.attribute(db, claims, ws, kind, rid, picked or None), slots)
            if version is not None:
                if saved:
                    saved(version)
                name = md_escape(options[picked]["name"]) if picked else ""
                st.session_state.flash = (f"Credited to {name}." + (" Different currency: not added to its revenue."
                                                                    if other_currency else "")
                                          if picked else "No campaign credited any more.")
                st.rerun()


def mail_setup_note(rt) -> None:
    """A note where emails are queued, when this app process does not send them itself."""
    if not getattr(rt.settings, "smtp_url", None):
        st.caption(":material/info: SMTP_URL is not set here, so this app does not send the emails it queues. "
                   + MAIL_SETUP)
