"""Customer portal: one request (deep link `?ticket=<id>`): its status, the conversation (public
replies only: the database never shows a customer the team's internal notes), attachments, a
reply form, and a star rating once the request is solved.
"""

from __future__ import annotations

import streamlit as st

from lib import knowledge, portal, tickets
from lib.text import md_escape
from lib.validation import is_uuid
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")



ticket_id = st.query_params.get("ticket", "")
ticket = portal.ticket(db, claims, ws, ticket_id) if is_uuid(ticket_id) else None
if ticket is None:
    st.title("Request not found")
    st.info("This request does not exist or is not one of yours.")
    st.page_link("views/portal_home.py", label="My requests", icon=":material/support:")
    st.stop()
tid = str(ticket["id"])

st.page_link("views/portal_home.py", label="My requests", icon=":material/arrow_back:")
st.title(f"{tickets.display_number(ticket['number'])} · {md_escape(ticket['subject'])}")
st.caption(f"{portal.CUSTOMER_STATUS[ticket['status']]} · opened {ticket['created_at']:%Y-%m-%d %H:%M} UTC")


def _download(file: dict) -> None:
    st.download_button(
        f"{file['filename']} ({max(1, file['size_bytes'] // 1024):,} KB)",
        data=lambda: portal.attachment_data(db, claims, ws, str(file["id"])), file_name=file["filename"],
        mime=file["content_type"], icon=":material/attach_file:", key=f"pt_att_{file['id']}", on_click="ignore",
    )


team = md_escape(ticket["workspace_name"])
with st.container(border=True):
    st.markdown(f":violet-badge[:material/person: You] · {ticket['created_at']:%Y-%m-%d %H:%M} UTC")
    st.markdown(ticket["description"] or "")  # markdown without raw HTML (Streamlit's default)
    for file in ticket["attachments"]:
        if file["comment_id"] is None:
            _download(file)
for comment in ticket["comments"]:
    with st.container(border=True):
        who = ":violet-badge[:material/person: You]" if comment["from_customer"] else f":blue-badge[{team}]"
        st.markdown(f"{who} · {comment['created_at']:%Y-%m-%d %H:%M} UTC")
        st.markdown(comment["body"])
        for file in ticket["attachments"]:
            if file["comment_id"] == comment["id"]:
                _download(file)

if st.session_state.pop("pt_suggest", None) == tid:
    suggestions = knowledge.suggest_for_ticket(db, claims, ws, ticket["subject"], ticket["description"])
    if suggestions:
        st.markdown("**These help-center articles may already answer your question:**")
        for article in suggestions:
            st.page_link("views/knowledge.py", label=article["title"], query_params={"article": str(article["id"])},
                         icon=":material/menu_book:")

if ticket["status"] in ("solved", "closed"):
    st.subheader("How did we do?")
    if ticket["csat"]:
        st.markdown(f"You rated this request {'★' * ticket['csat']}{'☆' * (5 - ticket['csat'])}.")
        if ticket["csat_comment"]:
            st.caption(md_escape(ticket["csat_comment"]))
    else:
        slots = FieldSlots()
        stars = st.feedback("stars", key=f"pt_stars_{tid}")
        slots.under("csat")
        comment = st.text_area("Anything to add? (optional)", key=f"pt_csat_comment_{tid}", max_chars=2000)
        slots.under("csat_comment")
        if st.button("Send rating", type="primary", key="pt_rate", disabled=stars is None):
            score = None if stars is None else stars + 1  # st.feedback counts stars from 0
            if attempt(lambda: portal.rate(db, claims, ws, tid, score, comment, ticket["version"]), slots):
                st.session_state.flash = "Thank you for your rating!"
                st.rerun()

if ticket["status"] == "closed":
    st.info("This request is closed. For anything new, open a **New request** and mention "
            f"{tickets.display_number(ticket['number'])}.", icon=":material/lock:")
else:
    st.subheader("Reply")
    if ticket["status"] == "solved":
        st.caption("Replying reopens this request.")
    with st.form(f"pt_reply_{tid}", clear_on_submit=False):
        slots = FieldSlots()
        body = st.text_area("Your message", key=f"pt_reply_body_{tid}", height=150)
        slots.under("body")
        uploads = st.file_uploader("Attachments", accept_multiple_files=True, key=f"pt_reply_files_{tid}")
        slots.under("files")
        if st.form_submit_button("Send reply", type="primary", icon=":material/send:"):
            files = [(f.name, f.type or "", f.getvalue()) for f in uploads or []]
            if attempt(lambda: portal.reply(db, claims, ws, tid, body, files), slots):
                st.session_state.pop(f"pt_reply_body_{tid}", None)
                st.session_state.flash = "Reply sent."
                st.rerun()
