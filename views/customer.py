"""Customer 360 (deep link `?customer=<id>`): one page with everything about one contact or company.

Header figures, quick actions (log a call, email, meeting, chat, social message or note; create a
task), the timeline newest first, open tasks, the record's details to edit, lead conversion,
archive/restore and (admins) delete.
"""

from __future__ import annotations

import json
from datetime import datetime

import streamlit as st

from lib import activities, customers, orders, portal
from lib.activities import CHANNELS
from lib.customers import CONTACT, COMPANY, STAGE_LABELS
from lib.errors import UserError
from lib.text import md_escape
from lib.validation import country_name, format_phone
from lib.workspaces import can_manage_members, can_write, members
from ui import customer_form, session
from ui.invites import invite_link
from ui.segment_badges import show_segments
from ui.widgets import activity_form, task_form
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer, admin = can_write(current.role), can_manage_members(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

record_id = st.query_params.get("customer", "")
found = customers.locate(db, claims, ws, record_id) if record_id else None
if found is None:
    st.title("Customer not found")
    st.info("This customer does not exist in this workspace, or it was deleted or merged. Find them on the Customers page.")
    st.page_link("views/customers.py", label="Go to Customers", icon=":material/groups:")
    st.stop()
kind, record = found
rid = str(record["id"])
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

# -- header --------------------------------------------------------------------------------
name = record["full_name"] if kind is CONTACT else record["name"]
st.page_link("views/customers.py", label="Customers", icon=":material/arrow_back:")
st.title(md_escape(name or record["email"] or "(no name)"))
facts = [f":blue-badge[{STAGE_LABELS[record['stage']]}]"]
if record.get("archived_at"):
    facts.append(":gray-badge[Archived]")
if kind is CONTACT and record.get("title"):
    facts.append(md_escape(record["title"]))
facts.append("Owner: " + md_escape(record["owner_name"] or "nobody"))
for tag in record["tags"]:
    facts.append(f":violet-badge[{md_escape(tag)}]")
st.markdown(" · ".join(facts))
if kind is CONTACT and record.get("company_id"):
    st.page_link("views/customer.py", label=f"at {md_escape(record['company_name'])}", icon=":material/domain:",
                 query_params={"customer": str(record["company_id"])})

figures = activities.summary(db, claims, ws, kind, rid)
m1, m2, m3, m4 = st.columns(4)
main = figures["currency"]


def _others(amounts: dict) -> str:
    """Amounts in the customer's other currencies (never added to the main one)."""
    rest = [f"{v:,.2f} {c}" for c, v in sorted(amounts.items()) if c != main and v]
    return f" Also {', '.join(rest)} (other currencies are not added)." if rest else ""


m1.metric(f"Lifetime revenue ({main})" if main else "Lifetime revenue", f"{figures['lifetime_revenue']:,.2f}",
          help=f"Sales orders ({figures['orders']:,}) plus won deals without an order."
               + _others(figures["revenue_by_currency"]))
m2.metric(f"Open deals ({main})" if main else "Open deals", f"{figures['open_deals_value']:,.2f}",
          help=f"{figures['open_deals']} open deal(s), total value." + _others(figures["open_by_currency"]))
m3.metric("Open tasks", figures["open_tasks"])
last = figures["last_contact"]
m4.metric("Last contact", f"{last:%Y-%m-%d}" if last else "never")

contact_line = " · ".join(filter(None, [
    md_escape(record["email"] or ""), md_escape(format_phone(record["phone"])),
    md_escape(", ".join(filter(None, [record.get("city"), country_name(record.get("country"))]))),
    md_escape(record.get("website") or ""),
]))
if contact_line:
    st.caption(contact_line)

# -- lead conversion ------------------------------------------------------------------------
if writer and kind is CONTACT and record["stage"] in ("lead", "prospect") and not record.get("archived_at"):
    with st.expander("Convert to customer", icon=":material/how_to_reg:"):
        with st.form("convert_form"):
            slots = FieldSlots()
            company_name = ""
            if not record.get("company_id"):
                company_name = st.text_input("Create the company (optional)", key="convert_company")
                slots.under("company_name")
            deal_title = st.text_input("First deal title (optional)", key="convert_deal_title")
            deal_value = st.text_input("Deal value", key="convert_deal_value", placeholder="e.g. 1200")
            slots.under("deal_value")
            if st.form_submit_button("Convert to customer", type="primary", key="convert_submit"):
                done = attempt(lambda: customers.convert_lead(
                    db, claims, ws, rid, record["version"], company_name=company_name or None,
                    deal_title=deal_title or None, deal_value=deal_value or None), slots)
                if done:
                    st.session_state.flash = f"{md_escape(name)} is now a customer."
                    st.rerun()

if kind is CONTACT:
    show_segments(db, claims, ws, rid)

# -- customer portal ------------------------------------------------------------------------
if writer and kind is CONTACT:
    portal_access = portal.access(db, claims, ws, rid)
    using = bool(portal_access["users"])
    with st.expander("Customer portal" + (" · active" if using else ""), icon=":material/support:"):
        if using:
            for portal_user in portal_access["users"]:
                st.markdown(f"Signed up as {md_escape(portal_user['email'] or '')} on {portal_user['since']:%Y-%m-%d}.")
            if st.button("End portal access", key="portal_end", icon=":material/block:"):
                if attempt(lambda: portal.end_access(db, claims, ws, rid)) is not None:
                    st.session_state.flash = "Portal access ended."
                    st.rerun()
        else:
            st.caption("The portal lets this contact open requests, follow the replies, rate them, read the help "
                       "center and update their phone, address and consent. They see nothing else.")
            if portal_access["invitation"]:
                st.caption(f"An invitation to {md_escape(portal_access['invitation']['email'])} is open until "
                           f"{portal_access['invitation']['expires_at']:%Y-%m-%d}; a new one replaces it.")
            if st.button("Create an invitation link", key="portal_invite", icon=":material/link:"):
                token = attempt(lambda: portal.invite(db, claims, ws, rid))
                if token:
                    st.session_state[f"portal_link_{rid}"] = invite_link(token)
            if link := st.session_state.get(f"portal_link_{rid}"):
                st.success("Send this link to the contact. It works once, for their email address, for 14 days.")
                st.code(link, language=None)

# -- quick actions --------------------------------------------------------------------------
if writer:
    log_col, task_col = st.columns(2)
    with log_col.expander("Log an activity", icon=":material/edit_note:", expanded=False):
        if logged := activity_form(rt, user, ws, "log", kind=kind, record_id=rid):
            st.session_state.flash = f"{logged} logged."
            st.rerun()
    with task_col.expander("Create a task", icon=":material/add_task:", expanded=False):
        if task_form(rt, user, ws, "task", people, kind=kind, record_id=rid):
            st.session_state.flash = "Task created."
            st.rerun()

# -- tabs -----------------------------------------------------------------------------------
tab_names = ["Timeline", "Tasks", "Orders", "Details"] + (["Contacts"] if kind is COMPANY else [])
tabs = dict(zip(tab_names, st.tabs(tab_names)))

CHANGE_VERBS = {"insert": "created this record", "delete": "deleted", "merge": "merged a duplicate into this record"}


def _change_text(event: dict) -> str:
    if event["detail"] in CHANGE_VERBS:
        return CHANGE_VERBS[event["detail"]]
    try:
        changes = json.loads(event["body"] or "{}")
    except ValueError:
        changes = {}
    parts = []
    for field, change in sorted(changes.items()):
        label = customers.FIELD_LABELS.get(field, field.replace("_", " "))
        if field == "stage":
            parts.append(f"stage → {STAGE_LABELS.get(change.get('new'), change.get('new'))}")
        elif field in ("owner_id",):
            parts.append(f"owner → {people.get(str(change.get('new')), 'nobody')}")
        else:
            parts.append(label.lower())
    return "changed " + ", ".join(parts) if parts else "changed this record"


with tabs["Timeline"]:
    key = f"timeline_pages_{rid}"
    pages = st.session_state.setdefault(key, [None])
    events: list[dict] = []
    next_before = None
    for before in pages:
        chunk = activities.timeline(db, claims, ws, kind, rid, before=before)
        events.extend(chunk.events)
        next_before = chunk.next_before
    if not events:
        st.info("Nothing here yet. Log a call, an email or a note above, and it appears here for everyone.")
    for event in events:
        # Clicks and unsubscribes are the customer's own doing (no signed-in actor).
        who = md_escape(event["actor_name"] or ("the customer" if event["kind"] == "email_event" else "someone"))
        when = f"{event['happened_at']:%Y-%m-%d %H:%M}"
        about = f" · {md_escape(event['contact_name'])}" if kind is COMPANY and event.get("contact_name") else ""
        with st.container(border=True):
            if event["kind"] == "activity":
                label, icon = CHANNELS.get(event["detail"], ("Activity", ":material/event:"))
                direction = f" ({event['direction']})" if event.get("direction") else ""
                st.markdown(f"{icon} **{label}{direction}** — {md_escape(event['title'] or '')}")
                if event["body"]:
                    st.markdown(event["body"])  # markdown without raw HTML (Streamlit's default)
            elif event["kind"] == "task":
                st.markdown(f":material/task_alt: **Task** ({event['detail']}) — {md_escape(event['title'])}")
            elif event["kind"] == "deal":
                st.markdown(f":material/handshake: **Deal** {md_escape(event['title'])} — {event['detail']}, "
                            f"{md_escape(event['body'] or '')}")
            elif event["kind"] in ("order", "invoice"):
                icon = ":material/receipt:" if event["kind"] == "order" else ":material/request_quote:"
                st.markdown(f"{icon} **{event['kind'].capitalize()}** {md_escape(event['title'] or '')} — "
                            f"{event['detail']}, {md_escape(event['body'] or '')}")
            elif event["kind"] == "email":
                st.markdown(f":material/outgoing_mail: **Email sent** — {md_escape(event['title'] or '')} "
                            f"({md_escape(event['detail'] or 'email')})")
            elif event["kind"] == "email_event":
                what = "Clicked a link in" if event["detail"] == "click" else "Unsubscribed from"
                st.markdown(f":material/ads_click: **{what}** — {md_escape(event['title'] or 'an email')}")
            elif event["kind"] == "change":
                st.markdown(f":material/history: {md_escape(_change_text(event))}")
            else:
                st.markdown(f"**{md_escape(event['kind'].capitalize())}** — {md_escape(event['title'] or '')}")
            st.caption(f"{who} · {when}{about}")
    if next_before and st.button("Show older", key="timeline_more"):
        pages.append(next_before)
        st.rerun()

with tabs["Tasks"]:
    open_list = activities.open_tasks(db, claims, ws, kind, rid)
    if not open_list:
        st.info("No open tasks. Create one above so nobody forgets the next step.")
    for task in open_list:
        due = task["due_date"]
        late = " :red[overdue]" if due and due < datetime.now().date() else ""
        label = (f"{md_escape(task['title'])} — due {due:%Y-%m-%d}" if due else md_escape(task["title"])) + late
        label += f" · {md_escape(task['assignee_name'] or 'unassigned')} · {task['priority']}"
        if st.checkbox(label, key=f"task_done_{task['id']}", disabled=not writer):
            activities.set_task_done(db, claims, ws, str(task["id"]))
            st.session_state.flash = "Task done."
            st.rerun()

with tabs["Orders"]:
    if writer and st.button("New order", icon=":material/add:", key="record_new_order"):
        st.switch_page("views/orders.py", query_params={"new_order": "1", kind.name: rid})
    recent, more_orders = orders.orders(db, claims, ws, customer=(kind, rid), limit=20)
    if not recent:
        st.info("No orders yet." + (" Create one with **New order**." if writer else ""))
    for row in recent:
        left, right = st.columns([3, 2])
        left.page_link("views/order.py", label=f"{row['number']} · {row['ordered_at']:%Y-%m-%d}",
                       query_params={"order": str(row["id"])}, icon=":material/receipt:")
        right.caption(f"{orders.STATUS_LABELS[row['status']]} · {row['total_amount']:,.2f} {row['currency']}")
    if more_orders:
        st.caption("Showing the 20 most recent orders; find all on the Orders page.")

with tabs["Details"]:
    if writer:
        saved = customer_form.show(rt, user, ws, kind, record, prefix=f"edit_{rid}")
        if saved:
            st.session_state.flash = f"{kind.label.capitalize()} saved."
            st.rerun()
    else:
        st.json({k: (str(v) if v is not None else None) for k, v in record.items()
                 if k not in ("search_text", "workspace_id", "custom")} | {"custom": record["custom"]}, expanded=False)
    st.divider()
    if writer:
        if record.get("archived_at"):
            if st.button("Restore from the archive", icon=":material/unarchive:", key="record_restore"):
                customers.set_archived(db, claims, ws, kind, [rid], False)
                st.session_state.flash = "Restored."
                st.rerun()
        elif st.button("Archive", icon=":material/archive:", key="record_archive",
                       help="Hides it from lists and searches; nothing is deleted."):
            customers.set_archived(db, claims, ws, kind, [rid], True)
            st.session_state.flash = "Archived. Find it again with the “Show the archive” filter."
            st.rerun()
    if admin:
        with st.expander("Delete for good", icon=":material/delete_forever:"):
            st.warning(f"Deleting removes this {kind.label} with its activities and tasks. This cannot be undone.")
            confirm = st.checkbox(f"Yes, delete {md_escape(name)}", key="record_delete_confirm")
            if st.button("Delete", type="primary", key="record_delete", disabled=not confirm):
                try:
                    customers.delete(db, claims, ws, kind, rid)
                except UserError as exc:
                    st.error(str(exc))
                else:
                    st.session_state.flash = f"{md_escape(name)} deleted."
                    st.switch_page("views/customers.py")

if kind is COMPANY:
    with tabs["Contacts"]:
        from lib import customer_search as search

        people_here = search.page(db, claims, ws, CONTACT, search.Filters(company_id=rid), "name", limit=200).rows
        if not people_here:
            st.info("No contacts at this company yet. Add one on the Customers page and pick this company.")
        for person in people_here:
            st.page_link("views/customer.py", label=f"{md_escape(person['name'] or person['email'])} — {STAGE_LABELS[person['stage']]}",
                         query_params={"customer": str(person["id"])}, icon=":material/person:")
