"""Tickets: the service queues (mine, unassigned, breaching within an hour, all open, solved) with
filters, keyset pages, SLA due times with breach marks, bulk assign/status/priority, CSV of the
page, and a "New ticket" form.

Filtering, ordering and paging happen in Postgres (lib.tickets.queue); this page keeps the
user's choices and the page cursors in the session.
"""

from __future__ import annotations

import streamlit as st

from lib import customer_search as search
from lib import tickets
from lib.csv_export import to_csv
from lib.customers import CONTACT
from lib.errors import ConflictError, UserError
from lib.text import md_escape
from lib.workspaces import can_write, members
from ui.paging import pager
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

EMPTY = {
    "mine": "Nothing assigned to you is open. Pick tickets up from **Unassigned**.",
    "unassigned": "Every open ticket has someone looking after it.",
    "breaching": "No ticket is due within the next hour. Well done.",
    "open": "No open tickets. New requests land here; open one yourself with **New ticket**.",
    "solved": "No solved tickets yet.",
}
BULK_ACTIONS = {"assign": "Assign to", "status": "Set status", "priority": "Set priority"}
COLUMNS = ["Number", "Subject", "Status", "Priority", "Customer", "Assignee", "First response due",
           "Resolution due"]

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

title_col, new_col = st.columns([4, 1], vertical_alignment="bottom")
title_col.title("Tickets")
if writer and new_col.button("New ticket", icon=":material/add:", type="primary", key="tk_new"):
    st.session_state.tk_new_open = not st.session_state.get("tk_new_open", False)


def contact_picker() -> str | None:
    """A search box and the matching contacts (the newest ones before anything is typed)."""
    query = st.text_input("Find the customer", key="tk_new_contact_q", placeholder="Name, email or phone",
                          icon=":material/search:")
    filters = search.Filters(search=query)
    found = search.page(db, claims, ws, CONTACT, filters, "relevance" if query.strip() else "newest", limit=10,
                        with_total=False).rows
    names = {str(r["id"]): r["name"] or r["email"] or "(no name)" for r in found}
    return st.selectbox("Customer", list(names), format_func=names.get, index=None, key="tk_new_contact",
                        placeholder="No customer" if names else "No contact matches")


def new_ticket_form() -> None:
    with st.container(border=True):
        st.subheader("New ticket")
        contact_id = contact_picker()
        slots = FieldSlots()
        with st.form("tk_new_form"):
            subject = st.text_input("Subject", key="tk_new_subject", max_chars=200)
            slots.under("subject")
            description = st.text_area("Description", key="tk_new_description",
                                       help="Markdown is fine: **bold**, lists, links.")
            slots.under("description")
            left, right = st.columns(2)
            channel = left.selectbox("Channel", tickets.CHANNELS, key="tk_new_channel",
                                     format_func=lambda c: c.capitalize())
            priority = right.selectbox("Priority", tickets.PRIORITIES, index=1, key="tk_new_priority",
                                       format_func=lambda p: p.capitalize())
            submitted = st.form_submit_button("Create ticket", type="primary", key="tk_new_submit")
        if submitted:
            made = attempt(lambda: tickets.create(db, claims, ws, subject, description, channel=channel,
                                                  priority=priority, contact_id=contact_id), slots)
            if made:
                st.session_state.tk_new_open = False
                for key in ("tk_new_subject", "tk_new_description", "tk_new_contact", "tk_new_contact_q"):
                    st.session_state.pop(key, None)
                st.session_state.flash = f"{tickets.display_number(made['number'])} created."
                st.switch_page("views/ticket.py", query_params={"ticket": made["id"]})


if writer and st.session_state.get("tk_new_open"):
    new_ticket_form()


def canned_editor(canned: dict) -> None:
    """Edit one canned response; a change someone saved meanwhile is reported, not overwritten."""
    cid = str(canned["id"])
    keys = {"seen": f"tk_canned_seen_{cid}", "title": f"tk_canned_edit_title_{cid}",
            "body": f"tk_canned_edit_body_{cid}"}
    # The version the form was filled from (its fields keep what was typed across reruns).
    seen = st.session_state.setdefault(keys["seen"], canned["version"])
    with st.form(f"tk_canned_edit_{cid}"):
        slots = FieldSlots()
        title = st.text_input("Title", value=canned["title"], key=keys["title"], max_chars=200)
        slots.under("title")
        body = st.text_area("Text", value=canned["body"], key=keys["body"])
        slots.under("body")
        submitted = st.form_submit_button("Save", type="primary")
    if not submitted:
        return

    def save() -> int:
        try:
            return tickets.update_canned(db, claims, ws, cid, title, body, seen)
        except ConflictError:
            for key in keys.values():  # the form refills from the current text
                st.session_state.pop(key, None)
            raise

    saved = attempt(save, slots)
    if saved:
        for key in keys.values():
            st.session_state.pop(key, None)
        st.session_state.flash = "Canned response saved."
        st.rerun()


def canned_manager() -> None:
    """The team's canned responses: list, add, edit, delete (inserted from the reply box of a ticket)."""
    for canned in tickets.canned_responses(db, claims, ws):
        text_col, edit_col, delete_col = st.columns([5, 1, 1], vertical_alignment="center")
        text_col.markdown(f"**{md_escape(canned['title'])}**")
        text_col.caption(md_escape(canned["body"][:300]))
        if writer:
            with edit_col.popover("Edit", icon=":material/edit:"):
                canned_editor(canned)
        if writer and delete_col.button("Delete", key=f"tk_canned_del_{canned['id']}", icon=":material/delete:"):
            if attempt(lambda: tickets.delete_canned(db, claims, ws, str(canned["id"])) or True):
                st.session_state.flash = "Canned response deleted."
                st.rerun()
    if not writer:
        return
    slots = FieldSlots()
    fields = ", ".join("{{" + f + "}}" for f in tickets.MERGE_FIELDS)
    with st.form("tk_canned_form", clear_on_submit=False):
        title = st.text_input("Title", key="tk_canned_title", max_chars=200)
        slots.under("title")
        body = st.text_area("Text", key="tk_canned_body", help=f"Merge fields: {fields}",
                            placeholder="Hello {{contact.first_name}}, …")
        slots.under("body")
        added = st.form_submit_button("Add canned response", key="tk_canned_add")
    if added and attempt(lambda: tickets.create_canned(db, claims, ws, title, body), slots):
        for key in ("tk_canned_title", "tk_canned_body"):
            st.session_state.pop(key, None)
        st.session_state.flash = "Canned response added."
        st.rerun()


with st.expander("Canned responses", icon=":material/quick_phrases:"):
    canned_manager()

view = st.segmented_control("Queue", list(tickets.QUEUES), format_func=tickets.QUEUES.get, default="open",
                            key="tk_view", label_visibility="collapsed") or "open"
search_col, priority_col = st.columns([3, 2])
query = search_col.text_input("Search", key="tk_search", placeholder="Subject or number (T-1001)",
                              label_visibility="collapsed", icon=":material/search:")
priorities = priority_col.multiselect("Priority", tickets.PRIORITIES, key="tk_priorities", placeholder="Any priority",
                                      format_func=lambda p: p.capitalize(), label_visibility="collapsed")

# Keyset pages: a stack of cursors, started afresh whenever the view or the filters change.
signature = repr((view, tuple(priorities), query.strip()))
if st.session_state.get("tk_signature") != signature:
    st.session_state.tk_signature = signature
    st.session_state.tk_cursors = [None]
cursors: list = st.session_state.tk_cursors
result = tickets.queue(db, claims, ws, view, after=cursors[-1], priorities=tuple(priorities), search=query)

if not result.rows and len(cursors) == 1:
    if priorities or query.strip():
        st.info("No tickets in this queue match these filters.", icon=":material/filter_list_off:")
    else:
        st.info(EMPTY[view], icon=":material/inbox:")
    st.stop()


def _due(due, done_at, breached: bool, paused: bool = False) -> str:
    """A due time as the queue shows it, with a mark when the target is missed."""
    if done_at is not None:
        return "✓ late" if breached else "✓ in time"
    if due is None:
        return ""
    text = f"{due:%Y-%m-%d %H:%M}"
    if paused:
        return f"⏸ {text}"
    return f"⚠ {text} breached" if breached else text


rows = []
for r in result.rows:
    rows.append({
        "Number": tickets.display_number(r["number"]),
        "Subject": r["subject"],
        "Status": tickets.STATUS_LABELS[r["status"]],
        "Priority": r["priority"].capitalize(),
        "Customer": r["contact_name"] or r["company_name"] or "",
        "Assignee": r["assignee_name"] or "",
        "First response due": _due(r["first_response_due_at"], r["first_responded_at"], r["first_response_breached"]),
        "Resolution due": _due(r["resolution_due_at"], r["solved_at"], r["resolution_breached"],
                               paused=r["paused_at"] is not None),
        "open_link": f"ticket?ticket={r['id']}",
    })

first = (len(cursors) - 1) * tickets.PAGE_SIZE
st.caption(f"{first + 1:,}–{first + len(rows):,} · most urgent first · ⚠ breached, ⏸ paused while waiting for "
           "the customer. Select rows to open or change them.")
table_key = f"tk_table_{view}"
event = st.dataframe(
    rows, hide_index=True, on_select="rerun", selection_mode="multi-row", key=table_key,
    column_config={"open_link": st.column_config.LinkColumn("Open", display_text="Open", width="small")},
)

pager("tk", cursors, result.next_after)

picked = [i for i in (event.selection.rows if event else []) if i < len(result.rows)]
selected = [str(result.rows[i]["id"]) for i in picked]
if len(selected) == 1:
    number = tickets.display_number(result.rows[picked[0]]["number"])
    if st.button(f"Open {number}", icon=":material/open_in_new:", type="primary", key="tk_open"):
        st.switch_page("views/ticket.py", query_params={"ticket": selected[0]})


def bulk_change() -> None:
    with st.container(border=True):
        st.markdown(f"**{len(selected)} selected** — change them all at once")
        action_col, value_col, apply_col = st.columns([2, 2, 1], vertical_alignment="bottom")
        action = action_col.selectbox("Action", list(BULK_ACTIONS), format_func=BULK_ACTIONS.get, key="tk_bulk_action")
        if action == "assign":
            value = value_col.selectbox("Assignee", ["", *people], format_func=lambda p: people.get(p, "Nobody"),
                                        key="tk_bulk_assignee")
        elif action == "status":
            value = value_col.selectbox("Status", tickets.STATUSES, format_func=tickets.STATUS_LABELS.get,
                                        key="tk_bulk_status")
        else:
            value = value_col.selectbox("Priority", tickets.PRIORITIES, format_func=lambda p: p.capitalize(),
                                        key="tk_bulk_priority")
        if not apply_col.button("Apply", type="primary", key="tk_bulk_apply"):
            return
        change = {"assign": tickets.bulk_assign, "status": tickets.bulk_status, "priority": tickets.bulk_priority}
        try:
            count = change[action](db, claims, ws, selected, value or None)
        except UserError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.session_state.flash = f"{BULK_ACTIONS[action]}: {count} ticket{'s' if count != 1 else ''} changed."
        st.session_state.pop(table_key, None)
        st.rerun()


if selected and writer:
    bulk_change()

st.download_button(
    "Download CSV (this page)", data=to_csv(rows, COLUMNS), file_name=f"relata-tickets-{view}.csv", mime="text/csv",
    icon=":material/download:", key="tk_csv", on_click="ignore",
)
