"""The segments a contact is in, as badges linking to each segment (for the Customer 360 page)."""

from __future__ import annotations

import streamlit as st

from lib import segments
from lib.db import Claims, Database
from lib.text import md_escape

_STYLE = {segments.FILTER: ("blue", ":material/filter_list:"), segments.STATIC: ("violet", ":material/list:"),
          segments.RFM: ("orange", ":material/insights:")}


def badges_markdown(found: list[dict]) -> str:
    """One markdown line: a badge per segment, each linking to `segments?segment=<id>`."""
    parts = []
    for s in found:
        color, icon = _STYLE.get(s["kind"], ("gray", ":material/label:"))
        parts.append(f"[:{color}-badge[{icon} {md_escape(s['name'])}]](segments?segment={s['id']})")
    return " ".join(parts)


def show_segments(db: Database, claims: Claims, workspace_id: str, contact_id: str) -> list[dict]:
    """Render the contact's segments (static lists holding it, live filters and RFM segments it
    matches now); returns them."""
    found = segments.segments_of_contact(db, claims, workspace_id, contact_id)
    if found:
        st.markdown("**Segments** " + badges_markdown(found),
                    help="Live filters (blue) and RFM segments (orange) it matches now; static lists (violet) holding it.")
    else:
        st.caption("In no segment yet. Build one on the **Segments** page.")
    return found
