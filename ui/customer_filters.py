"""The Customers list's filter widgets (stage, owner, tag, source, country, archive, created and
last-contacted ranges, custom fields), shared with the Segments page's filter builder."""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib.custom_fields import FieldDef
from lib.customer_search import Filters
from lib.customers import STAGE_LABELS, STAGES
from lib.text import md_escape
from lib.validation import country_name


def _range(picked) -> tuple[date | None, date | None]:
    picked = list(picked or [])
    return (picked[0], picked[-1]) if picked else (None, None)


def filter_widgets(key: str, suffix: str, defs: list[FieldDef], in_use: dict[str, list[str]],
                   people: dict[str, str], archive: bool = True) -> Filters:
    """Draw the filters (widget keys `{key}_<name>_{suffix}`) and return what they select (no search).
    `in_use`: tags, sources and countries to offer; `people`: user id -> name; `archive`: offer the
    archive toggle (else only active records)."""
    cols = st.columns(3)
    stages = cols[0].multiselect("Stage", STAGES, format_func=STAGE_LABELS.get, key=f"{key}_stage_{suffix}")
    owners = cols[1].multiselect("Owner", ["", *people], format_func=lambda o: people.get(o, "Nobody"),
                                 key=f"{key}_owner_{suffix}")
    tags = cols[2].multiselect("Tag", in_use["tags"], key=f"{key}_tag_{suffix}", help="Any of these tags.")
    cols = st.columns(3)
    sources = cols[0].multiselect("Source", in_use["sources"], key=f"{key}_source_{suffix}")
    countries = cols[1].multiselect("Country", in_use["countries"], format_func=country_name, key=f"{key}_country_{suffix}")
    archived = cols[2].toggle("Show the archive", key=f"{key}_archived_{suffix}") if archive else False
    cols = st.columns(2)
    created = cols[0].date_input("Created between", value=[], key=f"{key}_created_{suffix}", max_value=date.today())
    contacted = cols[1].date_input("Last contacted between", value=[], key=f"{key}_contacted_{suffix}")
    custom_filter: dict = {}
    if defs:
        st.caption("More fields")
        cols = st.columns(3)
        for n, d in enumerate(defs):
            col, widget = cols[n % 3], f"{key}_custom_{suffix}_{d.key}"
            if d.field_type == "select":
                custom_filter[d.key] = col.selectbox(md_escape(d.label), d.options, index=None, key=widget, placeholder="Any")
            elif d.field_type == "checkbox":
                picked = col.selectbox(md_escape(d.label), ["Yes", "No"], index=None, key=widget, placeholder="Any")
                custom_filter[d.key] = None if picked is None else picked == "Yes"
            elif d.field_type == "number":
                low, high = col.columns(2)
                custom_filter[d.key] = (low.number_input(f"{md_escape(d.label)} from", value=None, key=widget + "_lo"),
                                        high.number_input("to", value=None, key=widget + "_hi"))
            elif d.field_type == "date":
                picked = col.date_input(md_escape(d.label), value=[], key=widget)
                custom_filter[d.key] = (picked[0], picked[-1]) if picked else None
            else:
                custom_filter[d.key] = col.text_input(md_escape(d.label), key=widget, placeholder="Contains…")
    created_from, created_to = _range(created)
    contacted_from, contacted_to = _range(contacted)
    return Filters(
        stages=tuple(stages), owners=tuple(owners), tags=tuple(tags), sources=tuple(sources), countries=tuple(countries),
        created_from=created_from, created_to=created_to, contacted_from=contacted_from, contacted_to=contacted_to,
        custom={k: v for k, v in custom_filter.items() if v not in (None, "", (None, None))}, archived=archived,
    )
