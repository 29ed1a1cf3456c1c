"""The Segments page's filter builder: the Customers list's filters plus what only segments ask
(consent, open deal or ticket, last activity, static list membership, RFM segment), and the
preview table of members."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lib.analytics.customers import SEGMENTS as RFM_SEGMENTS
from lib.custom_fields import FieldDef
from lib.customer_search import Filters
from lib.customers import STAGE_LABELS
from lib.validation import country_name
from ui import customer_filters

_TRI = {"any": "Any", "yes": "Yes", "no": "No"}
_TRI_VALUE = {"any": None, "yes": True, "no": False}
_ACTIVITY = {"any": "Any time", "active": "Activity within the last … days", "inactive": "No activity for … days or more"}


def builder(key: str, defs: list[FieldDef], in_use: dict[str, list[str]], people: dict[str, str],
            lists: dict[str, str], currencies: list[str]) -> Filters:
    """Draw the builder (widget keys start with `key`); returns the Filters it describes.
    `lists`: static list id -> name; `currencies`: currencies with sales (RFM needs one)."""
    f = customer_filters.filter_widgets(key, "contact", defs, in_use, people, archive=False)
    st.caption("Marketing")
    cols = st.columns(3)
    consent = cols[0].segmented_control("Consent to marketing", list(_TRI), format_func=_TRI.get, default="any",
                                        key=f"{key}_consent") or "any"
    open_deal = cols[1].segmented_control("Has an open deal", list(_TRI), format_func=_TRI.get, default="any",
                                          key=f"{key}_deal") or "any"
    open_ticket = cols[2].segmented_control("Has an open ticket", list(_TRI), format_func=_TRI.get, default="any",
                                            key=f"{key}_ticket") or "any"
    cols = st.columns(3)
    activity = cols[0].selectbox("Last activity", list(_ACTIVITY), format_func=_ACTIVITY.get, key=f"{key}_activity",
                                 help="Calls, emails, meetings and notes logged on the contact.")
    days = cols[1].number_input("Days", min_value=1, max_value=3650, value=90, step=1, key=f"{key}_days",
                                disabled=activity == "any")
    in_list = cols[2].selectbox("On the list", list(lists), format_func=lists.get, index=None, placeholder="Any",
                                key=f"{key}_list") if lists else None
    rfm: list[str] = []
    currency = ""
    if currencies:
        cols = st.columns([3, 1])
        rfm = cols[0].multiselect("RFM segment", RFM_SEGMENTS, key=f"{key}_rfm",
                                  help="From the customer analytics, at the latest data: a contact is in the segment "
                                       "of its company, or its own when it buys without one.")
        currency = cols[1].selectbox("RFM currency", currencies, key=f"{key}_rfm_currency") if len(currencies) > 1 \
            else currencies[0]
    return replace(
        f, consent=_TRI_VALUE[consent], open_deal=_TRI_VALUE[open_deal], open_ticket=_TRI_VALUE[open_ticket],
        active_days=int(days) if activity == "active" else None,
        inactive_days=int(days) if activity == "inactive" else None,
        in_list=in_list, rfm_segments=tuple(rfm), rfm_currency=currency if rfm else "",
    )


def preview_table(rows: list[dict], key: str, select: bool = False):
    """Members as a table with a link to each one's page; returns the selection event if `select`."""
    table = [{
        "Name": r["name"] or r["email"] or "", "Email": r["email"] or "", "Company": r["company_name"] or "",
        "Stage": STAGE_LABELS.get(r["stage"], r["stage"]), "Country": country_name(r["country"]),
        "Owner": r["owner_name"] or "", "Consent": bool(r["consent"]), "Last contacted": r["last_contacted_at"],
        "open_link": f"customer?customer={r['id']}",
    } for r in rows]
    options = {"on_select": "rerun", "selection_mode": "multi-row"} if select else {}
    return st.dataframe(table, hide_index=True, key=key, column_config={
        "open_link": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
        "Last contacted": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
    }, **options)
