"""Small pieces shared by the customer screens: the contacts/companies switch and the task form."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from lib import activities
from lib.activities import CHANNELS, DIRECTIONS, PRIORITIES
from lib.customers import Kind, kind_of
from ui.forms import FieldSlots, attempt


def kind_picker(key: str, default: str = "contact") -> Kind:
    """Contacts or companies, as a segmented control; returns the chosen record kind."""
    picked = st.segmented_control(
        "Records", ["contact", "company"], format_func=lambda k: "Contacts" if k == "contact" else "Companies",
        default=default if default in ("contact", "company") else "contact", key=key, label_visibility="collapsed",
    )
    return kind_of(picked or "contact")


def task_form(rt, user, workspace_id: str, prefix: str, people: dict[str, str], *, kind: Kind | None = None,
              record_id: str | None = None, default_due: date | None = None, deal_id: str | None = None) -> bool:
    """A new-task form (assigned to the user unless they pick a colleague); True once created.

    With `deal_id` the task belongs to that deal (and, without a record, to the deal's customer).
    """
    with st.form(f"{prefix}_form", clear_on_submit=True):
        slots = FieldSlots()
        title = st.text_input("Task", key=f"{prefix}_title", placeholder="e.g. Send the quote")
        slots.under("title")
        due = st.date_input("Due", value=default_due, key=f"{prefix}_due")
        slots.under("due_date")
        assignee_ids = list(people)
        assignee = st.selectbox("Assignee", assignee_ids, format_func=people.get, key=f"{prefix}_assignee",
                                index=assignee_ids.index(user.id) if user.id in people else 0)
        slots.under("assignee_id")
        priority = st.selectbox("Priority", PRIORITIES, index=1, key=f"{prefix}_priority", format_func=str.capitalize)
        if st.form_submit_button("Create task", type="primary", key=f"{prefix}_submit"):
            return bool(attempt(lambda: activities.create_task(
                rt.db, user.claims, workspace_id, title, kind=kind, record_id=record_id, due_date=due,
                assignee_id=assignee, priority=priority, deal_id=deal_id), slots))
    return False


def activity_form(rt, user, workspace_id: str, prefix: str, *, kind: Kind | None = None, record_id: str | None = None,
                  deal_id: str | None = None) -> str | None:
    """Log a call, email, meeting, chat, social message or note; returns its label once saved."""
    with st.form(f"{prefix}_form", clear_on_submit=True):
        slots = FieldSlots()
        channel = st.segmented_control("Kind", list(CHANNELS), format_func=lambda c: CHANNELS[c][0],
                                       default="call", key=f"{prefix}_channel")
        slots.under("channel")
        direction = st.radio("Direction", [None, *DIRECTIONS], horizontal=True, key=f"{prefix}_direction",
                             format_func=lambda d: "—" if d is None else d.capitalize())
        subject = st.text_input("Subject", key=f"{prefix}_subject")
        slots.under("subject")
        body = st.text_area("What happened", key=f"{prefix}_body", help="Markdown works: **bold**, lists, links.")
        slots.under("body")
        when_date, when_time = st.columns(2)
        day = when_date.date_input("Date", key=f"{prefix}_date", max_value=datetime.now().date())
        time_ = when_time.time_input("Time", key=f"{prefix}_time")
        slots.under("occurred_at")
        if st.form_submit_button("Save activity", type="primary", key=f"{prefix}_submit"):
            when = datetime.combine(day, time_).astimezone() if day and time_ else None
            saved = attempt(lambda: activities.log_activity(
                rt.db, user.claims, workspace_id, kind, record_id, channel or "", subject, body, direction, when,
                deal_id=deal_id), slots)
            if saved:
                return CHANNELS.get(channel, ("Activity",))[0]
    return None
