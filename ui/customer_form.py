"""The contact/company form, shared by "New" on the list and "Edit" on the Customer 360 page.

Errors appear beside their field and what the user typed stays in the widgets. Before a save
the form warns about likely duplicates (with links), asking for a second click to save anyway.
Saving over someone else's newer change shows both versions and lets the user keep theirs or
take the stored one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from lib import customers, custom_fields
from lib.customers import CONTACT, STAGE_LABELS, STAGES, Kind
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import COUNTRY_CODES, country_name, format_phone
from lib.workspaces import members
from ui.forms import FieldSlots, conflict_choice

NEW_COMPANY = "__new__"


def _initial(record: dict | None, field: str, default: Any = None) -> Any:
    if record is None:
        return default
    value = record.get(field)
    return default if value is None else value


def _custom_widget(definition: custom_fields.FieldDef, value: Any, key: str) -> Any:
    label = md_escape(definition.label) + (" *" if definition.required else "")
    kind = definition.field_type
    if kind == "number":
        return st.number_input(label, value=float(value) if value is not None else None, key=key, format="%g")
    if kind == "date":
        return st.date_input(label, value=date.fromisoformat(value) if value else None, key=key)
    if kind == "checkbox":
        return st.checkbox(label, value=bool(value), key=key)
    if kind == "select":
        options = list(definition.options)
        return st.selectbox(label, options, index=options.index(value) if value in options else None,
                            key=key, placeholder="Choose…")
    return st.text_input(label, value=value or "", key=key)


def reset(prefix: str) -> None:
    """Forget the widgets of one form (after a save, or to take the stored version)."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix + "_")]:
        del st.session_state[key]


def show(rt, user, workspace_id: str, kind: Kind, record: dict | None, prefix: str) -> str | None:
    """Draw the form; returns the record id after a successful save (None otherwise)."""
    db, claims = rt.db, user.claims
    defs = custom_fields.definitions(db, claims, workspace_id, kind.name)
    people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, workspace_id)}
    if record is not None:
        # The version this editor started from: a newer one in the database means a conflict.
        st.session_state.setdefault(f"{prefix}_version", record["version"])
    slots = FieldSlots()
    data: dict[str, Any] = {}
    with st.form(f"{prefix}_form", border=True):
        if kind is CONTACT:
            left, right = st.columns(2)
            with left:
                data["first_name"] = st.text_input("First name", _initial(record, "first_name", ""), key=f"{prefix}_first_name")
                slots.under("first_name")
            with right:
                data["last_name"] = st.text_input("Last name", _initial(record, "last_name", ""), key=f"{prefix}_last_name")
                slots.under("last_name")
            companies = customers.company_choices(db, claims, workspace_id)
            current_company = str(record["company_id"]) if record and record.get("company_id") else None
            if current_company and current_company not in companies:  # archived, or beyond the list's cap
                companies[current_company] = record.get("company_name") or current_company
            company_ids = list(companies)
            picked = st.selectbox(
                "Company", company_ids, index=company_ids.index(current_company) if current_company in companies else None,
                format_func=lambda i: companies.get(i, i), key=f"{prefix}_company", placeholder="None — type to search or add",
                accept_new_options=True,
            )
            slots.under("company_id")
            data["company"] = picked
            data["_companies"] = companies
            data["title"] = st.text_input("Job title", _initial(record, "title", ""), key=f"{prefix}_title")
        else:
            data["name"] = st.text_input("Company name", _initial(record, "name", ""), key=f"{prefix}_name")
            slots.under("name")
            data["industry"] = st.text_input("Industry", _initial(record, "industry", ""), key=f"{prefix}_industry")
        left, right = st.columns(2)
        with left:
            data["email"] = st.text_input("Email", _initial(record, "email", ""), key=f"{prefix}_email")
            slots.under("email")
        with right:
            data["phone"] = st.text_input("Phone", format_phone(_initial(record, "phone")), key=f"{prefix}_phone",
                                          help="With + and country code, or set the country.")
            slots.under("phone")
        left, right = st.columns(2)
        with left:
            data["stage"] = st.selectbox("Stage", STAGES, index=STAGES.index(_initial(record, "stage", "lead")),
                                         format_func=STAGE_LABELS.get, key=f"{prefix}_stage")
        with right:
            owner_ids = list(people)
            owner = str(record["owner_id"]) if record and record.get("owner_id") else (None if record else user.id)
            data["owner_id"] = st.selectbox("Owner", owner_ids, index=owner_ids.index(owner) if owner in people else None,
                                            format_func=people.get, key=f"{prefix}_owner", placeholder="Nobody")
            slots.under("owner_id")
        left, right = st.columns(2)
        with left:
            data["source"] = st.text_input("Source", _initial(record, "source", ""), key=f"{prefix}_source",
                                           help="Where they came from: website, referral, fair…")
        with right:
            existing_tags = list(_initial(record, "tags", []))
            data["tags"] = st.multiselect("Tags", existing_tags, default=existing_tags, accept_new_options=True,
                                          key=f"{prefix}_tags", placeholder="Type a tag and press Enter")
            slots.under("tags")
        with st.expander("Address and web"):
            data["address"] = st.text_input("Address", _initial(record, "address", ""), key=f"{prefix}_address")
            left, mid, right = st.columns([1, 2, 2])
            data["postal_code"] = left.text_input("Postal code", _initial(record, "postal_code", ""), key=f"{prefix}_postal_code")
            data["city"] = mid.text_input("City", _initial(record, "city", ""), key=f"{prefix}_city")
            country = _initial(record, "country")
            data["country"] = right.selectbox(
                "Country", COUNTRY_CODES, index=COUNTRY_CODES.index(country) if country in COUNTRY_CODES else None,
                format_func=lambda c: f"{country_name(c)} ({c})", key=f"{prefix}_country", placeholder="Choose…")
            slots.under("country")
            data["website"] = st.text_input("Website", _initial(record, "website", ""), key=f"{prefix}_website")
            slots.under("website")
        left, right = st.columns(2)
        with left:
            data["consent"] = st.checkbox("Agreed to receive marketing", bool(_initial(record, "consent", False)),
                                          key=f"{prefix}_consent")
        with right:
            data["consent_source"] = st.text_input("Consent source", _initial(record, "consent_source", ""),
                                                   key=f"{prefix}_consent_source", help="e.g. newsletter form, trade fair")
        if defs:
            st.markdown("**More fields**")
            stored = _initial(record, "custom", {})
            data["custom"] = {}
            for definition in defs:
                data["custom"][definition.key] = _custom_widget(definition, stored.get(definition.key),
                                                                f"{prefix}_custom_{definition.key}")
                slots.under(definition.form_key)
        data["notes"] = st.text_area("Notes", _initial(record, "notes", ""), key=f"{prefix}_notes")
        slots.under("notes")
        anyway = st.checkbox("Save anyway: it is not a duplicate", key=f"{prefix}_anyway") \
            if st.session_state.get(f"{prefix}_duplicates") else False
        submitted = st.form_submit_button("Save" if record else f"Add {kind.label}", type="primary", key=f"{prefix}_save")
    conflict = st.session_state.get(f"{prefix}_conflict")
    if conflict and record is not None:
        _show_conflict(kind, prefix, conflict)
    if not submitted:
        _show_duplicates(prefix)
        return None
    if "custom" in data:
        data["custom"] = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data["custom"].items()}
    return _save(rt, user, workspace_id, kind, record, prefix, data, slots, anyway)


def _resolve_company(data: dict) -> None:
    picked = data.pop("company", None)
    companies = data.pop("_companies", {})
    if picked is None:
        data["company_id"] = None
        return
    if picked in companies:
        data["company_id"] = picked
        return
    data["company_id"] = None
    data["new_company_name"] = picked  # typed: created on save


def _save(rt, user, workspace_id, kind, record, prefix, data, slots, anyway) -> str | None:
    db, claims = rt.db, user.claims
    if kind is CONTACT:
        _resolve_company(data)
    if not anyway:
        found = customers.likely_duplicates(db, claims, workspace_id, kind, data,
                                            exclude_id=str(record["id"]) if record else None)
        if found:
            st.session_state[f"{prefix}_duplicates"] = [
                {"id": str(r["id"]), "name": r["name"], "email": r["email"], "reason": r["reason"]} for r in found]
            st.rerun()
    try:
        if record is None:
            record_id = customers.create(db, claims, workspace_id, kind, data)
        else:
            version = st.session_state.get(f"{prefix}_version", record["version"])
            customers.update(db, claims, workspace_id, kind, str(record["id"]), data, version)
            record_id = str(record["id"])
    except FormErrors as exc:
        slots.show(exc.errors)
        return None
    except ConflictError as exc:
        st.session_state[f"{prefix}_conflict"] = {"mine": data, "theirs": exc.current}
        st.rerun()
    except UserError as exc:
        st.error(str(exc))
        return None
    reset(prefix)
    st.toast(f"{kind.label.capitalize()} saved.", icon=":material/check_circle:")
    return record_id


def _show_duplicates(prefix: str) -> None:
    found = st.session_state.get(f"{prefix}_duplicates")
    if not found:
        return
    lines = [f"- [{md_escape(r['name'] or r['email'])}](customer?customer={r['id']}) — {r['reason']}" for r in found]
    st.warning("This looks like a record you already have:\n\n" + "\n".join(lines)
               + "\n\nOpen it instead, or tick “Save anyway” and save again.", icon=":material/content_copy:")


def _display(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):  # custom fields
        return "; ".join(f"{k}: {_display(v)}" for k, v in sorted(value.items()) if v not in (None, ""))
    return str(value)


def _show_conflict(kind: Kind, prefix: str, conflict: dict) -> None:
    mine, theirs = conflict["mine"], conflict["theirs"]
    rows = []
    for field, value in mine.items():
        if field not in theirs:
            continue
        stored = theirs[field]
        if field == "phone":
            value = value or None
        if _display(value) != _display(stored):
            rows.append({"Field": customers.FIELD_LABELS.get(field, field), "Yours": _display(value),
                         "Saved by someone else": _display(stored)})
    conflict_choice(kind.label, prefix, rows, theirs["version"], lambda: reset(prefix))
