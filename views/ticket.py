"""Ticket page (deep link `?ticket=<id>`): one request and its whole conversation.

Header (number, subject, status, priority, SLA due times with breach badges, the linked
customer), status/priority/assignee changes (only allowed status moves are offered; a newer
version saved by someone else is reported, not overwritten), the thread with public replies and
internal notes told apart, a reply form with canned responses, and attachments.
"""

from __future__ import annotations

import streamlit as st

from lib import customers, knowledge, tickets
from lib.customers import CONTACT
from lib.errors import ConflictError, UserError
from lib.text import md_escape
from lib.validation import is_uuid
from lib.workspaces import can_write, members
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

STATUS_BADGES = {"new": ":blue-badge[New]", "open": ":blue-badge[Open]",
                 "pending_customer": ":orange-badge[Pending customer]", "on_hold": ":gray-badge[On hold]",
                 "solved": ":green-badge[Solved]", "closed": ":gray-badge[Closed]"}
PRIORITY_BADGES = {"low": ":gray-badge[Low]", "normal": ":blue-badge[Normal]", "high": ":orange-badge[High]",
                   "urgent": ":red-badge[Urgent]"}

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")



ticket_id = st.query_params.get("ticket", "")
ticket = tickets.get(db, claims, ws, ticket_id) if is_uuid(ticket_id) else None
if ticket is None:
    st.title("Ticket not found")
    st.info("This ticket does not exist in this workspace, or it was deleted. Find tickets on the Tickets page.")
    st.page_link("views/tickets.py", label="Go to Tickets", icon=":material/support_agent:")
    st.stop()
tid = str(ticket["id"])
number = tickets.display_number(ticket["number"])
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

# The version the user is looking at: a change made from this screen must not overwrite a newer one.
seen_key = f"tk_seen_version_{tid}"
seen_version = st.session_state.get(seen_key, ticket["version"])
st.session_state[seen_key] = ticket["version"]

if notice := st.session_state.pop("tk_notice", None):
    st.warning(notice, icon=":material/sync_problem:")


# -- header --------------------------------------------------------------------------------
def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


def _sla_line(label: str, due, done_at, breached: bool, paused: bool) -> str:
    if done_at is not None:
        badge = ":red-badge[Late]" if breached else ":green-badge[In time]"
        return f"{label}: done {_when(done_at)} (due {_when(due)}) {badge}"
    if breached:
        return f"{label}: due {_when(due)} :red-badge[Breached]"
    return f"{label}: due {_when(due)}" + (" :orange-badge[Paused]" if paused else "")


st.page_link("views/tickets.py", label="Tickets", icon=":material/arrow_back:")
st.title(f"{number} {md_escape(ticket['subject'])}")
facts = [STATUS_BADGES[ticket["status"]], PRIORITY_BADGES[ticket["priority"]],
         f"via {md_escape(ticket['channel'])}", f"opened {_when(ticket['created_at'])}"]
if ticket["category"]:
    facts.append("Category: " + md_escape(ticket["category"]))
if ticket["reopen_count"]:
    facts.append(f"reopened {ticket['reopen_count']}×")
st.markdown(" · ".join(facts))
paused = ticket["paused_at"] is not None
st.markdown(_sla_line("First response", ticket["first_response_due_at"], ticket["first_responded_at"],
                      ticket["first_response_breached"], paused and ticket["first_responded_at"] is None)
            + "  \n" + _sla_line("Resolution", ticket["resolution_due_at"], ticket["solved_at"],
                                 ticket["resolution_breached"], paused))
if paused:
    st.caption("The SLA clock is paused while the ticket waits for the customer.")
links = st.columns(3)
if ticket["contact_id"]:
    links[0].page_link("views/customer.py", label=md_escape(ticket["contact_name"] or "Contact"),
                       icon=":material/person:", query_params={"customer": str(ticket["contact_id"])})
if ticket["company_id"]:
    links[1].page_link("views/customer.py", label=md_escape(ticket["company_name"] or "Company"),
                       icon=":material/domain:", query_params={"customer": str(ticket["company_id"])})
links[2].caption("Assignee: " + md_escape(ticket["assignee_name"] or "nobody"))
if ticket["description"]:
    with st.container(border=True):
        st.markdown(ticket["description"])  # markdown without raw HTML (Streamlit's default)
if writer and ticket["status"] not in ("solved", "closed"):
    suggested = knowledge.suggest_for_ticket(db, claims, ws, ticket["subject"], ticket["description"])
    if suggested:
        with st.expander(f"Suggested articles ({len(suggested)})", icon=":material/menu_book:"):
            for article in suggested:
                st.page_link("views/knowledge.py", label=md_escape(article["title"]), icon=":material/article:",
                             query_params={"article": str(article["id"])})


# -- status, priority, assignee ------------------------------------------------------------
def _forget_controls() -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"tk_ctl_{tid}_")]:
        del st.session_state[key]


def _change(action, done: str) -> None:
    """Run one change against the version on screen; report a conflict or a refusal."""
    try:
        action()
    except ConflictError as exc:
        _forget_controls()
        st.session_state.tk_notice = f"{exc} The page shows the current ticket now."
        st.rerun()
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        _forget_controls()
        st.session_state.flash = done
        st.rerun()


if writer:
    status_col, priority_col, assignee_col = st.columns(3, vertical_alignment="bottom")
    with status_col:
        targets = tickets.next_statuses(ticket["status"])
        if targets:
            target = st.selectbox("Status", targets, index=None, format_func=tickets.STATUS_LABELS.get,
                                  placeholder=f"{tickets.STATUS_LABELS[ticket['status']]} → …",
                                  key=f"tk_ctl_{tid}_status")
            if st.button("Change status", key="tk_status_apply", disabled=target is None):
                _change(lambda: tickets.set_status(db, claims, ws, tid, target, seen_version),
                        f"{number} is now {tickets.STATUS_LABELS.get(target, '').lower()}.")
        else:
            st.caption("Closed tickets keep their status. Open a new ticket to continue the conversation.")
    with priority_col:
        priority = st.selectbox("Priority", tickets.PRIORITIES, index=tickets.PRIORITIES.index(ticket["priority"]),
                                format_func=lambda p: p.capitalize(), key=f"tk_ctl_{tid}_priority")
        if st.button("Change priority", key="tk_priority_apply", disabled=priority == ticket["priority"]):
            _change(lambda: tickets.set_priority(db, claims, ws, tid, priority, seen_version),
                    f"{number} is now {priority}; its due times follow.")
    with assignee_col:
        assigned = str(ticket["assignee_id"]) if ticket["assignee_id"] else ""
        options = ["", *people]
        assignee = st.selectbox("Assignee", options, index=options.index(assigned) if assigned in options else 0,
                                format_func=lambda p: people.get(p, "Nobody"), key=f"tk_ctl_{tid}_assignee")
        if st.button("Assign", key="tk_assignee_apply", disabled=assignee == assigned):
            _change(lambda: tickets.assign(db, claims, ws, tid, assignee or None, seen_version),
                    f"{number} assigned to {people.get(assignee, 'nobody')}.")


# -- conversation --------------------------------------------------------------------------
files = tickets.attachments(db, claims, ws, tid)


def _download(file: dict) -> None:
    st.download_button(
        f"{file['filename']} ({max(1, file['size_bytes'] // 1024):,} KB)",
        data=lambda: tickets.attachment_data(db, claims, ws, str(file["id"])), file_name=file["filename"],
        mime=file["content_type"], icon=":material/attach_file:", key=f"tk_att_dl_{file['id']}", on_click="ignore",
    )


st.subheader("Conversation")
thread = tickets.comments(db, claims, ws, tid)
if not thread:
    st.info("No replies yet. The first public reply below is the first response the SLA measures.")
for comment in thread:
    # A customer's words may have been entered by the team (email import, a call): name the customer.
    who = md_escape((ticket["contact_name"] or "the customer") if comment["from_customer"]
                    else comment["author_name"] or "someone")
    with st.container(border=True):
        if not comment["is_public"]:
            st.markdown(f":orange-badge[:material/lock: Internal note] **{who}** · {_when(comment['created_at'])}")
        elif comment["from_customer"]:
            st.markdown(f":violet-badge[:material/person: Customer] **{who}** · {_when(comment['created_at'])}")
        else:
            st.markdown(f":blue-badge[:material/reply: Public reply] **{who}** · {_when(comment['created_at'])}")
        st.markdown(comment["body"])  # markdown without raw HTML (Streamlit's default)
        for file in files:
            if file["comment_id"] == comment["id"]:
                _download(file)

loose = [f for f in files if f["comment_id"] is None]
if loose:
    st.markdown("**Attachments**")
    for file in loose:
        _download(file)


# -- reply ---------------------------------------------------------------------------------
def canned_picker(body_key: str) -> None:
    """Insert a canned response, its merge fields filled in, after what is already written."""
    canned = {str(c["id"]): c for c in tickets.canned_responses(db, claims, ws)}
    if not canned:
        st.caption("No canned responses yet: add some on the Tickets page.")
        return
    pick_col, insert_col = st.columns([3, 1], vertical_alignment="bottom")
    picked = pick_col.selectbox("Canned response", list(canned), index=None, placeholder="Choose…",
                                format_func=lambda c: canned[c]["title"], key=f"tk_canned_{tid}")
    if insert_col.button("Insert", key="tk_canned_insert", disabled=picked is None, icon=":material/input:"):
        contact = customers.get(db, claims, ws, CONTACT, str(ticket["contact_id"])) if ticket["contact_id"] else None
        agent = {"name": people.get(user.id) or user.email, "email": user.email}
        text = tickets.render_canned(canned[picked]["body"], ticket, contact, agent)
        before = st.session_state.get(body_key, "").rstrip()
        st.session_state[body_key] = f"{before}\n\n{text}" if before else text


def reply_form() -> None:
    body_key, internal_key = f"tk_reply_body_{tid}", f"tk_reply_internal_{tid}"
    canned_picker(body_key)
    slots = FieldSlots()
    # Not a form: a canned response is appended to what is typed so far, which a form would hold back.
    internal = st.toggle("Internal note (only the team sees it)", key=internal_key)
    body = st.text_area("Reply", key=body_key, height=160, help="Markdown is fine: **bold**, lists, links.")
    slots.under("body")
    sent = st.button("Add internal note" if internal else "Send reply", type="primary", key="tk_reply_submit",
                     icon=":material/lock:" if internal else ":material/send:")
    if sent and attempt(lambda: tickets.reply(db, claims, ws, tid, body, public=not internal), slots):
        st.session_state.pop(body_key, None)
        st.session_state.flash = "Internal note added." if internal else "Reply sent."
        st.rerun()


def attach_form() -> None:
    with st.form(f"tk_attach_form_{tid}", clear_on_submit=True):
        upload = st.file_uploader("Attach a file (up to 10 MB: PDF, images, text, CSV, Word, Excel)",
                                  key=f"tk_attach_file_{tid}")
        sent = st.form_submit_button("Attach", key="tk_attach_submit", icon=":material/attach_file:")
    if sent:
        if upload is None:
            st.error("Choose a file first.", icon=":material/error:")
        elif attempt(lambda: tickets.attach(db, claims, ws, tid, upload.name, upload.type or "", upload.getvalue())):
            st.session_state.flash = f"{upload.name} attached."
            st.rerun()


if writer:
    reply_tab, attach_tab = st.tabs(["Reply", "Attach a file"])
    with reply_tab:
        reply_form()
    with attach_tab:
        attach_form()
