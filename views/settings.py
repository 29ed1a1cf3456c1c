"""Settings: workspace name, members and roles, invitations, your password, more workspaces.

Controls that change something are drawn only for roles allowed to use them (viewers see none);
row-level security enforces the same rules underneath.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from lib import custom_fields, workspaces
from lib.csv_export import to_csv
from lib.errors import ConflictError, FormErrors, UserError
from ui import session
from ui.forms import FieldSlots, attempt
from lib.text import md_escape

rt, user, _, current = session.page_context()
ws_id, role = current.workspace_id, current.role
is_admin = workspaces.can_manage_members(role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

st.title("Settings")
workspace_tab, members_tab, fields_tab, account_tab = st.tabs(["Workspace", "Members", "Custom fields", "Your account"])


def invite_link(token: str) -> str:
    """The app's own address with ?invite=…, keeping any path prefix it is served under."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    base_path = parts.path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, base_path, f"invite={token}", ""))


with workspace_tab:
    info = workspaces.overview(rt.db, user.claims, ws_id)
    seen_key = f"workspace_version_seen:{ws_id}"
    seen = st.session_state.setdefault(seen_key, info["version"])
    if is_admin:
        with st.form("workspace_form"):
            slots = FieldSlots()
            new_name = st.text_input("Workspace name", value=info["name"], key="workspace_name")
            slots.under("name")
            if st.form_submit_button("Save", type="primary", key="workspace_save"):
                try:
                    version = workspaces.rename(rt.db, user.claims, ws_id, new_name, seen)
                except FormErrors as exc:
                    slots.show(exc.errors)
                except ConflictError as exc:
                    st.warning(
                        f"{exc} Your version: “{md_escape(' '.join(new_name.split()))}”. "
                        "Save again to keep yours, or reload to take theirs.",
                        icon=":material/sync_problem:",
                    )
                    st.session_state[seen_key] = exc.current["version"]
                except UserError as exc:
                    st.error(str(exc))
                else:
                    st.session_state[seen_key] = version
                    st.session_state.flash = "Workspace name saved."
                    st.rerun()
    else:
        st.text_input("Workspace name", value=info["name"], disabled=True, key="workspace_name_readonly")
        st.caption("Only owners and admins can rename the workspace.")

    st.divider()
    st.subheader("Another workspace")
    st.caption("For a second business. You can switch between workspaces in the sidebar.")
    with st.form("new_workspace_form", clear_on_submit=False):
        slots = FieldSlots()
        other_name = st.text_input("Business name", key="new_workspace_name")
        slots.under("name")
        if st.form_submit_button("Create workspace", key="new_workspace_submit"):
            created = attempt(lambda: workspaces.create_workspace(rt.db, user.claims, other_name), slots)
            if created:
                st.session_state.workspace_id = created
                st.session_state.flash = "Workspace created. You are its owner."
                st.rerun()

with members_tab:
    people = workspaces.members(rt.db, user.claims, ws_id)
    rows = [
        {"Name": p["display_name"], "Email": p["email"], "Role": p["role"], "Member since": f"{p['created_at']:%Y-%m-%d}"}
        for p in people
    ]
    st.dataframe(rows, hide_index=True, key="members_table")
    st.download_button(
        "Download CSV", data=to_csv(rows, list(rows[0])) if rows else b"", file_name="relata-members.csv",
        mime="text/csv", icon=":material/download:", key="members_csv", on_click="ignore",
    )

    if is_admin:
        st.subheader("Change a member")
        by_id = {str(p["id"]): p for p in people}
        with st.form("member_form"):
            member_id = st.selectbox(
                "Member", list(by_id), key="member_pick",
                format_func=lambda i: f"{by_id[i]['display_name']} ({by_id[i]['email']}) — {by_id[i]['role']}",
            )
            roles = workspaces.ROLES if role == "owner" else workspaces.INVITABLE_ROLES
            new_role = st.selectbox(
                "Role", roles, key="member_role",
                format_func=lambda r: f"{r} — {workspaces.ROLE_HELP[r]}",
            )
            confirm_remove = st.checkbox("Yes, remove this member from the workspace", key="member_remove_confirm")
            save_col, remove_col = st.columns(2)
            save = save_col.form_submit_button("Save role", type="primary", key="member_save")
            remove = remove_col.form_submit_button("Remove member", key="member_remove")
        if save or remove:
            target = by_id[member_id]
            if remove and not confirm_remove:
                st.error("Tick the box to confirm the removal.")
            elif remove:
                if attempt(lambda: workspaces.remove_member(rt.db, user.claims, member_id, target["version"]) or True):
                    st.session_state.flash = f"{md_escape(target['display_name'])} was removed."
                    st.rerun()
            else:
                done = attempt(
                    lambda: workspaces.set_member_role(rt.db, user.claims, member_id, new_role, target["version"]) or True
                )
                if done:
                    st.session_state.flash = f"{md_escape(target['display_name'])} is now {new_role}."
                    st.rerun()

        st.subheader("Invite someone")
        with st.form("invite_form"):
            slots = FieldSlots()
            invite_role = st.selectbox(
                "Role", workspaces.INVITABLE_ROLES, index=3, key="invite_role",
                format_func=lambda r: f"{r} — {workspaces.ROLE_HELP[r]}",
            )
            slots.under("role")
            invite_email = st.text_input(
                "Email (optional)", key="invite_email",
                help="When given, only this address can use the link.",
            )
            slots.under("email")
            if st.form_submit_button("Create invitation link", type="primary", key="invite_submit"):
                token = attempt(lambda: workspaces.invite(rt.db, user.claims, ws_id, invite_role, invite_email), slots)
                if token:
                    st.session_state.new_invite_link = invite_link(token)
        if link := st.session_state.get("new_invite_link"):
            st.success("Invitation created. Copy this link and send it; it works once, for 7 days.")
            st.code(link, language=None)

        pending = workspaces.invitations(rt.db, user.claims, ws_id)
        st.subheader("Open invitations")
        if not pending:
            st.caption("No open invitations.")
        for inv in pending:
            cols = st.columns([3, 1])
            cols[0].write(
                f"{inv['role']} · {md_escape(inv['email'] or 'anyone with the link')} · "
                f"expires {inv['expires_at']:%Y-%m-%d} · by {md_escape(inv['invited_by'])}"
            )
            if cols[1].button("Revoke", key=f"revoke_{inv['id']}"):
                workspaces.revoke_invitation(rt.db, user.claims, str(inv["id"]))
                st.session_state.flash = "Invitation revoked."
                st.rerun()
    else:
        st.caption("Only owners and admins can invite people or change roles.")

with fields_tab:
    st.caption("Extra fields for contacts and companies: shown in their forms, lists, filters, imports and exports.")
    defs = custom_fields.definitions(rt.db, user.claims, ws_id)
    if defs:
        field_rows = [{"For": d.record_type, "Field": d.label, "Type": custom_fields.FIELD_TYPES[d.field_type],
                       "Choices": ", ".join(d.options), "Required": d.required, "Key": d.key} for d in defs]
        st.dataframe(field_rows, hide_index=True, key="fields_table")
        st.download_button("Download CSV", data=to_csv(field_rows, list(field_rows[0])), file_name="relata-custom-fields.csv",
                           mime="text/csv", icon=":material/download:", key="fields_csv", on_click="ignore")
    else:
        st.info("No custom fields yet." + (" Add one below, e.g. “Customer since” or “Plan”." if is_admin else ""))
    if is_admin:
        st.subheader("Add a field")
        with st.form("field_form"):
            slots = FieldSlots()
            record_type = st.radio("For", custom_fields.RECORD_TYPES, horizontal=True, key="field_record_type",
                                   format_func=lambda t: "Contacts" if t == "contact" else "Companies")
            label = st.text_input("Field name", key="field_label")
            slots.under("label")
            field_type = st.selectbox("Type", list(custom_fields.FIELD_TYPES), format_func=custom_fields.FIELD_TYPES.get,
                                      key="field_type")
            slots.under("field_type")
            options = st.text_input("Choices (single select only), separated by commas", key="field_options")
            slots.under("options")
            required = st.checkbox("Required", key="field_required")
            if st.form_submit_button("Add field", type="primary", key="field_submit"):
                made = attempt(lambda: custom_fields.define(rt.db, user.claims, ws_id, record_type, label, field_type,
                                                            options, required), slots)
                if made:
                    st.session_state.flash = f"Field “{md_escape(made.label)}” added."
                    st.rerun()
        if defs:
            st.subheader("Change or remove a field")
            field_by_id = {d.id: d for d in defs}
            with st.form("field_edit_form"):
                picked = st.selectbox("Field", list(field_by_id), key="field_edit_pick",
                                      format_func=lambda i: f"{field_by_id[i].label} ({field_by_id[i].record_type})")
                target = field_by_id[picked]
                new_label = st.text_input("Field name", value=target.label, key=f"field_edit_label_{picked}")
                new_options = st.text_input("Choices", value=", ".join(target.options), key=f"field_edit_options_{picked}",
                                            disabled=target.field_type != "select")
                new_required = st.checkbox("Required", value=target.required, key=f"field_edit_required_{picked}")
                confirm = st.checkbox("Yes, remove this field and every value stored in it", key="field_remove_confirm")
                save_col, remove_col = st.columns(2)
                save = save_col.form_submit_button("Save field", type="primary", key="field_edit_save")
                remove = remove_col.form_submit_button("Remove field", key="field_remove")
            if save and attempt(lambda: custom_fields.update_definition(
                    rt.db, user.claims, picked, new_label, new_options, new_required) or True):
                st.session_state.flash = "Field saved."
                st.rerun()
            if remove:
                if not confirm:
                    st.error("Tick the box to confirm the removal.")
                elif attempt(lambda: custom_fields.remove_definition(rt.db, user.claims, ws_id, picked) or True):
                    st.session_state.flash = "Field removed."
                    st.rerun()

with account_tab:
    st.write(f"Signed in as **{md_escape(user.email)}**.")
    st.subheader("Change password")
    with st.form("password_form", clear_on_submit=False):
        slots = FieldSlots()
        current_pw = st.text_input("Current password", type="password", key="pw_current", autocomplete="current-password")
        slots.under("current")
        new_pw = st.text_input("New password", type="password", key="pw_new", autocomplete="new-password")
        slots.under("new")
        confirm_pw = st.text_input("New password again", type="password", key="pw_confirm", autocomplete="new-password")
        slots.under("confirm")
        if st.form_submit_button("Change password", type="primary", key="pw_submit"):
            auth = session.auth_service(rt)
            if attempt(lambda: auth.change_password(user, current_pw, new_pw, confirm_pw, st.session_state.get("session_token")) or True, slots):
                st.toast("Password changed.", icon=":material/check_circle:")
