"""Streamlit pieces the campaign and template screens share: the app's public address for links,
the browser's time zone, status badges and the email preview."""

from __future__ import annotations

from datetime import tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from lib.templates import Rendered

DEFAULT_PUBLIC_URL = "http://localhost:8501"
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
