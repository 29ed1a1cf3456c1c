"""Email templates: the list, an editor with merge fields (checked on save: syntax errors by line,
unknown fields), a live preview as any contact would get it, and a test send to oneself (one
queued email the mail worker sends). A save that lost to someone else's is reported."""

from __future__ import annotations

import streamlit as st

from lib import templates
from lib.errors import ConflictError
from lib.text import md_escape
from lib.workspaces import can_manage_members, can_write
from ui import session
from ui.forms import FieldSlots, attempt
from ui.marketing import mail_setup_note, public_url, show_email

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)
NEW = "__new__"

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

title_col, new_col = st.columns([6, 1.5], vertical_alignment="bottom")
title_col.title("Email templates")
rows = templates.list_templates(db, claims, ws)
by_id = {r["id"]: r for r in rows}
if writer and new_col.button("New template", icon=":material/add:", key="tpl_new"):
    st.session_state.tpl_pick = NEW

options = ([NEW] if writer else []) + list(by_id)
if "tpl_next_pick" in st.session_state:  # chosen by the last save or delete (before the picker exists)
    st.session_state.tpl_pick = st.session_state.pop("tpl_next_pick")
if st.session_state.get("tpl_pick") not in options:
    st.session_state.tpl_pick = next(iter(by_id), NEW if writer else None)
if not rows:
    st.info("No email templates yet. " + ("Write your first one below: email campaigns use templates to write their "
                                          "emails." if writer else "Agents and above write them here."),
            icon=":material/mail:")
    if not writer:
        st.stop()

if rows:
    st.dataframe([{"Name": r["name"], "Subject": r["subject"], "Used by campaigns": r["campaigns"],
                   "Updated": r["updated_at"]} for r in rows], hide_index=True, width="stretch", key="tpl_table",
                 column_config={"Updated": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
picked = st.selectbox("Template", options, key="tpl_pick",
                      format_func=lambda o: "➕ New template" if o == NEW else by_id[o]["name"])
template = by_id.get(picked) or {"id": NEW, "name": "", "subject": "Hello {{ contact.first_name }}",
                                 "body": "Hello {{ contact.first_name }},\n\n…\n\n{{ workspace.name }}\n"
                                         "Unsubscribe: {{ unsubscribe_url }}", "version": 0}
tid = template["id"]
seen_key = f"tpl_seen_{tid}"
seen = st.session_state.setdefault(seen_key, template["version"])
prefix = f"tpl_{tid}"

edit_col, preview_col = st.columns([1, 1], gap="large")
with edit_col:
    slots = FieldSlots()
    if st.session_state.get(f"{seen_key}_conflict"):
        st.warning("Someone else saved this template while you were editing: what they saved is in the table "
                   "above. **Save template** again to keep your version.", icon=":material/sync_problem:")
    name = st.text_input("Name", value=template["name"], key=f"{prefix}_name", max_chars=200, disabled=not writer)
    slots.under("name")
    subject = st.text_input("Subject", value=template["subject"], key=f"{prefix}_subject", max_chars=300,
                            disabled=not writer)
    slots.under("subject")
    body = st.text_area("Body", value=template["body"], key=f"{prefix}_body", height=280, disabled=not writer,
                        help="Plain text; line breaks and web addresses become HTML in the email. "
                             "`{% if contact.company %}…{% endif %}` works too.")
    slots.under("body")
    with st.expander("Merge fields"):
        st.markdown("\n".join(f"- `{{{{ {field} }}}}`: {md_escape(text)}" for field, text in
                              templates.MERGE_FIELDS.items()))
    if writer:
        data = {"name": name, "subject": subject, "body": body}
        save_col, delete_col = st.columns(2)
        if save_col.button("Save template", type="primary", key="tpl_save", icon=":material/save:"):
            def save() -> str | int:
                if tid == NEW:
                    return templates.create(db, claims, ws, data)
                try:
                    return templates.update(db, claims, ws, tid, data, seen)
                except ConflictError as exc:
                    st.session_state[seen_key] = exc.current["version"] if exc.current else seen
                    st.session_state[f"{seen_key}_conflict"] = True
                    st.rerun()

            saved = attempt(save, slots)
            if saved:
                for key in [k for k in st.session_state if str(k).startswith((prefix, seen_key))]:
                    st.session_state.pop(key, None)
                if tid == NEW:
                    st.session_state.tpl_next_pick = saved
                st.session_state.flash = f"Template “{name.strip()}” saved."
                st.rerun()
        if tid != NEW and can_manage_members(current.role) and delete_col.button(
                "Delete template", key="tpl_delete", icon=":material/delete:"):
            if attempt(lambda: templates.delete(db, claims, ws, tid) or True):
                st.session_state.tpl_next_pick = None
                st.session_state.flash = "Template deleted."
                st.rerun()

with preview_col:
    st.subheader("Preview")
    search = st.text_input("Preview as", key="tpl_preview_search", placeholder="Search a contact by name or email",
                           icon=":material/search:")
    people = {r["id"]: f"{r['full_name'] or r['email']} ({r['email']})"
              for r in templates.contact_matches(db, claims, ws, search)}
    contact_id = st.selectbox("Contact", [None, *people], key="tpl_preview_contact",
                              format_func=lambda c: "A sample contact (Ada Lovelace)" if c is None else people[c])
    preview_slots = FieldSlots()
    preview_slots.under("body")
    email = attempt(lambda: templates.preview(db, claims, ws, subject, body, contact_id, public_url(rt)),
                    preview_slots)
    if email:
        show_email(email, "tpl_preview")
    if writer:
        st.caption(f"A test goes to you ({md_escape(user.email)}) with the preview's merge values; "
                   "the mail worker sends it.")
        mail_setup_note(rt)
        if st.button("Send me a test", icon=":material/send:", key="tpl_test_send"):
            if attempt(lambda: templates.test_send(db, claims, ws, subject, body, contact_id),
                       slots):
                st.toast(f"Test email queued for {user.email}.", icon=":material/outgoing_mail:")
    else:
        st.caption("Agents and above can edit templates and send tests.")
