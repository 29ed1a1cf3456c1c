"""Settings › SLA & hours: the SLA targets per priority (calendar or business time), the opening
hours per weekday with their time zone, and the holiday list. Admins edit; others read."""

from __future__ import annotations

import streamlit as st

from lib import sla
from lib.csv_export import to_csv
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from ui.forms import FieldSlots, attempt


def _saved(message: str) -> None:
    st.session_state.flash = message
    st.rerun()


def render(rt, user, workspace_id: str, is_admin: bool) -> None:
    st.caption("How long the team has for a first response and for solving a ticket, per priority. Ticked "
               "“Business hours”, a target counts only the opening hours below (in their time zone, without "
               "holidays): 8h is then one working day of 09:00–17:00. Changes apply to tickets opened or "
               "re-prioritised afterwards.")
    _targets(rt, user, workspace_id, is_admin)
    st.subheader("Opening hours")
    _calendar(rt, user, workspace_id, is_admin)
    st.subheader("Holidays")
    _holidays(rt, user, workspace_id, is_admin)
    if not is_admin:
        st.caption(sla.ADMINS_ONLY)


def _targets(rt, user, workspace_id: str, is_admin: bool) -> None:
    policies = sla.policies(rt.db, user.claims, workspace_id)
    if not is_admin:
        rows = [{"Priority": p["priority"].capitalize(), "First response": sla.format_duration(p["first_response_minutes"]),
                 "Resolution": sla.format_duration(p["resolution_minutes"]),
                 "Counted in": "Business hours" if p["business_hours"] else "Calendar time"} for p in policies]
        st.dataframe(rows, hide_index=True, key="sla_table")
        return
    seen = {p["id"]: st.session_state.setdefault(f"sla_seen:{p['id']}", p["version"]) for p in policies}
    with st.form("sla_form"):
        slots = FieldSlots()
        entered = {}
        for p in policies:
            name = p["priority"]
            label_col, first_col, res_col, hours_col = st.columns([1.2, 2, 2, 1.6], vertical_alignment="bottom")
            label_col.markdown(f"**{name.capitalize()}**")
            with first_col:
                first = st.text_input("First response", value=sla.format_duration(p["first_response_minutes"]),
                                      key=f"sla_first_{name}", help="Minutes, or e.g. 4h, 1d 2h, 2h30m.")
                slots.under(f"{name}.first_response")
            with res_col:
                resolution = st.text_input("Resolution", value=sla.format_duration(p["resolution_minutes"]),
                                           key=f"sla_resolution_{name}")
                slots.under(f"{name}.resolution")
            business = hours_col.checkbox("Business hours", value=p["business_hours"], key=f"sla_business_{name}")
            entered[p["id"]] = {"priority": name, "first_response": first, "resolution": resolution,
                                "business_hours": business, "version": seen[p["id"]]}
        if not st.form_submit_button("Save SLA targets", type="primary", key="sla_save"):
            return
    by_id = {p["id"]: p for p in policies}
    changed = {pid: e for pid, e in entered.items()
               if (e["first_response"].strip(), e["resolution"].strip(), e["business_hours"])
               != (sla.format_duration(by_id[pid]["first_response_minutes"]),
                   sla.format_duration(by_id[pid]["resolution_minutes"]), by_id[pid]["business_hours"])}
    if not changed:
        st.info("Nothing changed.")
        return
    try:
        sla.save_policies(rt.db, user.claims, workspace_id, changed)
    except FormErrors as exc:
        slots.show(exc.errors)
    except ConflictError as exc:
        st.session_state[f"sla_seen:{exc.current['id']}"] = exc.current["version"]
        st.warning(f"{exc} Save again to keep yours.", icon=":material/sync_problem:")
    except UserError as exc:
        st.error(str(exc))
    else:
        for pid in by_id:
            st.session_state.pop(f"sla_seen:{pid}", None)
        _saved("SLA targets saved.")


def _calendar(rt, user, workspace_id: str, is_admin: bool) -> None:
    cal = sla.calendar(rt.db, user.claims, workspace_id)
    if not is_admin:
        st.caption(f"Time zone: {md_escape(cal['time_zone'])}")
        st.dataframe([{"Day": name, "Hours": "–".join(cal["hours"][day]) if cal["hours"][day] else "Closed"}
                      for day, name in sla.WEEKDAYS.items()], hide_index=True, key="calendar_table")
        return
    seen_key = f"calendar_seen:{workspace_id}"
    seen = st.session_state.setdefault(seen_key, cal["version"])
    zones = sla.time_zones()
    with st.form("calendar_form"):
        slots = FieldSlots()
        time_zone = st.selectbox("Time zone", zones, key="calendar_time_zone",
                                 index=zones.index(cal["time_zone"]) if cal["time_zone"] in zones else None)
        slots.under("time_zone")
        hours = {}
        for day, name in sla.WEEKDAYS.items():
            span = cal["hours"][day]
            day_col, open_col, opens_col, closes_col = st.columns([1.5, 1, 1.5, 1.5], vertical_alignment="bottom")
            day_col.markdown(name)
            is_open = open_col.checkbox("Open", value=span is not None, key=f"calendar_open_{day}")
            opens = opens_col.text_input(f"{name} opens", value=span[0] if span else "09:00",
                                         key=f"calendar_opens_{day}", label_visibility="collapsed")
            closes = closes_col.text_input(f"{name} closes", value=span[1] if span else "17:00",
                                           key=f"calendar_closes_{day}", label_visibility="collapsed")
            slots.under(f"hours.{day}")
            hours[day] = (opens, closes) if is_open else None
        st.caption("HH:MM; 24:00 closes at midnight. A workspace without any open day counts calendar time.")
        if not st.form_submit_button("Save opening hours", type="primary", key="calendar_save"):
            return
    try:
        st.session_state[seen_key] = sla.save_calendar(rt.db, user.claims, workspace_id, time_zone, hours, seen)
    except FormErrors as exc:
        slots.show(exc.errors)
    except ConflictError as exc:
        st.session_state[seen_key] = exc.current["version"]
        st.warning(str(exc), icon=":material/sync_problem:")
    except UserError as exc:
        st.error(str(exc))
    else:
        _saved("Opening hours saved.")


def _holidays(rt, user, workspace_id: str, is_admin: bool) -> None:
    days = sla.holidays(rt.db, user.claims, workspace_id)
    rows = [{"Date": f"{h['day']:%Y-%m-%d}", "Weekday": f"{h['day']:%A}", "Holiday": h["name"]} for h in days]
    if not days:
        st.caption("No holidays yet.")
    elif not is_admin:
        st.dataframe(rows, hide_index=True, key="holidays_table")
    else:
        for h, row in zip(days, rows):
            text_col, button_col = st.columns([4, 1])
            text_col.markdown(f"{row['Date']} ({row['Weekday']}) · {md_escape(h['name'])}")
            if button_col.button("Delete", key=f"holiday_delete_{h['id']}", icon=":material/delete:"):
                if attempt(lambda: sla.delete_holiday(rt.db, user.claims, workspace_id, str(h["id"])) or True):
                    _saved(f"Holiday “{md_escape(h['name'])}” deleted.")
    if days:
        st.download_button("Download CSV", data=to_csv(rows, ["Date", "Weekday", "Holiday"]),
                           file_name="relata-holidays.csv", mime="text/csv", icon=":material/download:",
                           key="holidays_csv", on_click="ignore")
    if not is_admin:
        return
    with st.form("holiday_form"):
        slots = FieldSlots()
        day_col, name_col = st.columns([1, 2])
        with day_col:
            day = st.date_input("Date", value=None, key="holiday_day")
            slots.under("day")
        with name_col:
            name = st.text_input("Name", key="holiday_name", placeholder="e.g. Christmas Day", max_chars=100)
            slots.under("name")
        if st.form_submit_button("Add holiday", type="primary", key="holiday_add"):
            if attempt(lambda: sla.add_holiday(rt.db, user.claims, workspace_id, day, name), slots):
                for key in ("holiday_day", "holiday_name"):
                    st.session_state.pop(key, None)
                _saved(f"Holiday “{md_escape(' '.join(name.split()))}” added.")
