"""Customer portal: the customer's own details. Name, email and company are shown as the team
keeps them; phone, address and marketing consent are the customer's to change (the database
lets a portal user change nothing else). A change the team saved meanwhile is reported, not
overwritten."""

from __future__ import annotations

import streamlit as st

from lib import portal
from lib.errors import ConflictError
from lib.text import md_escape
from lib.validation import country_name, format_phone
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

me = portal.profile(db, claims, ws)
st.title("My details")
if me is None:
    st.warning("Your portal access has ended. Contact the team if this is a mistake.")
    st.stop()

name = " ".join(p for p in (me["first_name"], me["last_name"]) if p) or me["email"]
st.markdown(f"**{md_escape(name)}** · {md_escape(me['email'] or '')}")
if me["company_name"]:
    place = ", ".join(p for p in (me["company_address"], me["company_city"], country_name(me["company_country"])) if p)
    st.caption(f"{md_escape(me['company_name'])}" + (f" · {md_escape(place)}" if place else ""))
st.caption(f"To change your name or email, write to {md_escape(me['workspace_name'])} in a new request.")

FIELDS = {"phone": "Phone", "address": "Address", "city": "City", "postal_code": "Postal code",
          "country": "Country", "consent": "Marketing consent"}


def shown(row: dict) -> dict:
    """Stored values as the form shows them."""
    return {"phone": format_phone(row["phone"]), "address": row["address"] or "", "city": row["city"] or "",
            "postal_code": row["postal_code"] or "", "country": country_name(row["country"]) if row["country"] else "",
            "consent": bool(row["consent"])}


# The form starts from what is stored and remembers the version it started from, so a change the
# team saves meanwhile is detected on Save instead of silently overwritten (or lost).
if "pt_profile_version" not in st.session_state:
    st.session_state.pt_profile_version = me["version"]
    for field, value in shown(me).items():
        st.session_state[f"pt_{field}"] = value

if conflict := st.session_state.get("pt_profile_conflict"):
    st.warning("Our team changed your details while you were editing. Their values are below; "
               "**Save** again to keep yours.", icon=":material/sync_problem:")
    st.table([{"Field": FIELDS[f], "Yours": str(st.session_state[f"pt_{f}"]), "Saved by the team": str(v)}
              for f, v in conflict.items() if str(v) != str(st.session_state[f"pt_{f}"])])

with st.form("pt_profile_form"):
    slots = FieldSlots()
    st.text_input("Phone", key="pt_phone", placeholder="+44 20 7946 0000")
    slots.under("phone")
    st.text_input("Address", key="pt_address", max_chars=300)
    slots.under("address")
    city_col, postal_col, country_col = st.columns(3)
    with city_col:
        st.text_input("City", key="pt_city", max_chars=100)
        slots.under("city")
    with postal_col:
        st.text_input("Postal code", key="pt_postal_code", max_chars=20)
        slots.under("postal_code")
    with country_col:
        st.text_input("Country", key="pt_country", placeholder="e.g. France or FR")
        slots.under("country")
    st.checkbox("Send me news and offers by email", key="pt_consent",
                help="You can change your mind at any time here.")
    slots.under("consent")
    if st.form_submit_button("Save", type="primary"):
        data = {f: st.session_state[f"pt_{f}"] for f in portal.PROFILE_FIELDS}

        def save() -> int:
            try:
                return portal.update_profile(db, claims, ws, st.session_state.pt_profile_version, data)
            except ConflictError as exc:
                st.session_state.pt_profile_version = exc.current["version"]
                st.session_state.pt_profile_conflict = shown(exc.current)
                st.rerun()

        if attempt(save, slots):
            for key in ("pt_profile_version", "pt_profile_conflict"):
                st.session_state.pop(key, None)
            st.session_state.flash = "Your details are saved."
            st.rerun()
