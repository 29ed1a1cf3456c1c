"""Customer portal: open a new request (subject, description, attachments). Once it is sent, the
request's page opens, with help-center articles that may already answer it."""

from __future__ import annotations

import streamlit as st

from lib import portal, tickets
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

st.title("New request")
st.caption("Tell us what you need; we answer here and you can follow the conversation under **My requests**.")
with st.form("pt_new_form"):
    slots = FieldSlots()
    subject = st.text_input("Subject", max_chars=200, key="pt_new_subject", placeholder="e.g. Invoice 1042 is wrong")
    slots.under("subject")
    description = st.text_area("Description", height=200, key="pt_new_description",
                               placeholder="What happened, what you expected, order numbers…")
    slots.under("description")
    uploads = st.file_uploader("Attachments (up to 10 MB each: PDF, images, text, CSV, Word, Excel)",
                               accept_multiple_files=True, key="pt_new_files")
    slots.under("files")
    if st.form_submit_button("Send request", type="primary", icon=":material/send:"):
        files = [(f.name, f.type or "", f.getvalue()) for f in uploads or []]
        opened = attempt(lambda: portal.open_ticket(db, claims, ws, subject, description, files), slots)
        if opened:
            for key in ("pt_new_subject", "pt_new_description"):
                st.session_state.pop(key, None)
            st.session_state.flash = f"Request {tickets.display_number(opened['number'])} sent. We will answer soon."
            st.session_state.pt_suggest = opened["id"]
            st.switch_page("views/portal_ticket.py", query_params={"ticket": opened["id"]})
