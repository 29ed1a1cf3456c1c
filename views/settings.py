"""Settings: workspace name, members and roles, invitations, custom fields, deal pipelines and their
stages, SLA targets with opening hours and holidays, your password, more workspaces.

Controls that change something are drawn only for roles allowed to use them (viewers see none);
row-level security enforces the same rules underneath.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from lib import custom_fields, deals, mail_in, workspaces
from lib.csv_export import to_csv
from lib.errors import ConflictError, FormErrors, UserError
from ui import session, sla_settings
from ui.forms import FieldSlots, attempt
from ui.invites import invite_link
from lib.text import md_escape

rt, user, _, current = session.page_context()
ws_id, role = current.workspace_id, current.role
is_admin = workspaces.can_manage_members(role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

st.title("Settings")
workspace_tab, members_tab, fields_tab, pipelines_tab, sla_tab, account_tab, inbound_tab = st.tabs(
    ["Workspace", "Members", "Custom fields", "Pipelines", "SLA & hours", "Your account", "Inbound email"])


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

KIND_LABELS = {"open": "Open", "won": "Won", "lost": "Lost"}


def _saved(message: str, clear: str | None = None) -> None:
    """Toast `message` after the rerun; `clear` names a form prefix whose inputs start empty again."""
    for key in [k for k in st.session_state if clear and isinstance(k, str) and k.startswith(clear)]:
        del st.session_state[key]
    st.session_state.flash = message
    st.rerun()


def _pipeline_admin(pipeline: dict, all_pipelines: list[dict]) -> None:
    """Rename or delete one pipeline (admins)."""
    pid = pipeline["id"]
    seen_key = f"pipeline_version_seen:{pid}"
    seen = st.session_state.setdefault(seen_key, pipeline["version"])
    with st.form("pipeline_rename_form"):
        slots = FieldSlots()
        new_name = st.text_input("Pipeline name", value=pipeline["name"], key=f"pipeline_rename_{pid}")
        slots.under("name")
        if st.form_submit_button("Rename", key="pipeline_rename_submit"):
            try:
                st.session_state[seen_key] = deals.rename_pipeline(rt.db, user.claims, ws_id, pid, new_name, seen)
            except FormErrors as exc:
                slots.show(exc.errors)
            except ConflictError as exc:
                st.session_state[seen_key] = exc.current["version"]
                st.warning(f"{exc} Rename again to keep yours.", icon=":material/sync_problem:")
            except UserError as exc:
                st.error(str(exc))
            else:
                _saved("Pipeline renamed.")
    if pipeline["is_default"]:
        st.caption("The default pipeline (new deals land in it) cannot be deleted.")
        return
    with st.expander("Delete this pipeline", icon=":material/delete:"):
        targets = {s["id"]: f"{p['name']} › {s['name']}" for p in all_pipelines if p["id"] != pid
                   for s in p["stages"] if s["kind"] == "open"}
        slots = FieldSlots()
        move_to = st.selectbox("Move its deals to", list(targets), format_func=targets.get, index=None,
                               placeholder="Only needed if it holds deals", key="pipeline_delete_move_to",
                               help="Open deals go to this stage; won and lost deals to that pipeline's won or lost stage.")
        slots.under("move_to")
        confirm = st.checkbox("Yes, delete this pipeline and its stages", key="pipeline_delete_confirm")
        if st.button("Delete pipeline", key="pipeline_delete", disabled=not confirm):
            moved = attempt(lambda: deals.delete_pipeline(rt.db, user.claims, ws_id, pid, move_to), slots)
            if moved is not None:
                st.session_state.pop("pipeline_pick", None)
                _saved(f"Pipeline deleted{f'; {moved} deal(s) moved' if moved else ''}.")


def _add_stage(pipeline: dict) -> None:
    with st.form("stage_add_form"):
        slots = FieldSlots()
        name_col, prob_col, rot_col, kind_col = st.columns([3, 2, 2, 2])
        with name_col:
            name = st.text_input("Stage name", key="stage_add_name")
            slots.under("name")
        with prob_col:
            probability = st.text_input("Win probability %", key="stage_add_probability", placeholder="e.g. 40")
            slots.under("probability")
        with rot_col:
            rotting = st.text_input("Rotting after (days)", key="stage_add_rotting", placeholder="none",
                                    help="Open deals that stay longer are flagged on the board.")
            slots.under("rotting_days")
        with kind_col:
            kind = st.selectbox("Kind", list(KIND_LABELS), format_func=KIND_LABELS.get, key="stage_add_kind")
            slots.under("kind")
        if st.form_submit_button("Add stage", type="primary", key="stage_add_submit"):
            def add() -> str:
                new_id = deals.add_stage(rt.db, user.claims, ws_id, pipeline["id"], name, probability, kind, rotting)
                if kind == "open":  # open stages come before the won and lost ones
                    order = [s["id"] for s in pipeline["stages"]]
                    closed_at = next((i for i, s in enumerate(pipeline["stages"]) if s["kind"] != "open"), len(order))
                    deals.reorder_stages(rt.db, user.claims, ws_id, pipeline["id"],
                                         [*order[:closed_at], new_id, *order[closed_at:]])
                return new_id
            if attempt(add, slots):
                _saved(f"Stage “{md_escape(' '.join(name.split()))}” added.", clear="stage_add_")


def _edit_stage(pipeline: dict) -> None:
    stages = {s["id"]: s for s in pipeline["stages"]}
    sid = st.selectbox("Stage", list(stages), key="stage_edit_pick",
                       format_func=lambda i: f"{stages[i]['name']} ({KIND_LABELS[stages[i]['kind']]}, "
                                             f"{stages[i]['probability']}%)")
    if sid not in stages:
        return
    stage = stages[sid]
    seen_key = f"stage_version_seen:{sid}"
    seen = st.session_state.setdefault(seen_key, stage["version"])
    with st.form("stage_edit_form"):
        slots = FieldSlots()
        name_col, prob_col, rot_col = st.columns([3, 2, 2])
        with name_col:
            name = st.text_input("Stage name", value=stage["name"], key=f"stage_edit_name_{sid}")
            slots.under("name")
        with prob_col:
            probability = st.text_input("Win probability %", value=str(stage["probability"]),
                                        key=f"stage_edit_probability_{sid}")
            slots.under("probability")
        with rot_col:
            rotting = st.text_input("Rotting after (days)", value=str(stage["rotting_days"] or ""),
                                    key=f"stage_edit_rotting_{sid}", placeholder="none")
            slots.under("rotting_days")
        if st.form_submit_button("Save stage", type="primary", key="stage_edit_save"):
            try:
                deals.update_stage(rt.db, user.claims, ws_id, sid, name, probability, rotting, seen)
            except FormErrors as exc:
                slots.show(exc.errors)
            except ConflictError as exc:
                st.session_state.pop(seen_key, None)
                st.warning(f"{exc} Save again to keep yours.", icon=":material/sync_problem:")
            except UserError as exc:
                st.error(str(exc))
            else:
                st.session_state.pop(seen_key, None)
                _saved("Stage saved.")
    order = list(stages)
    at = order.index(sid)
    earlier, later = st.columns(2)
    for column, label, icon, step, key in ((earlier, "Move earlier", ":material/arrow_upward:", -1, "stage_move_up"),
                                          (later, "Move later", ":material/arrow_downward:", 1, "stage_move_down")):
        if column.button(label, icon=icon, key=key, disabled=not 0 <= at + step < len(order)):
            order[at], order[at + step] = order[at + step], order[at]
            if attempt(lambda: deals.reorder_stages(rt.db, user.claims, ws_id, pipeline["id"], order) or True):
                _saved("Stage order saved.")
    _delete_stage(pipeline, stage)


def _delete_stage(pipeline: dict, stage: dict) -> None:
    # A pipeline keeps at least one stage of each kind, and deals move only to a stage of the same
    # kind, so deleting never reopens a won deal or closes an open one without its dialog.
    same_kind = {s["id"]: s["name"] for s in pipeline["stages"] if s["kind"] == stage["kind"] and s["id"] != stage["id"]}
    st.markdown(f"**Delete “{md_escape(stage['name'])}”**")
    if not same_kind:
        st.caption(f"This is the pipeline's only {stage['kind']} stage, so it cannot be deleted.")
        return
    slots = FieldSlots()
    move_to = st.selectbox("Move its deals to", list(same_kind), format_func=same_kind.get, index=None,
                           placeholder="Only needed if it holds deals", key="stage_delete_move_to")
    slots.under("move_to")
    confirm = st.checkbox("Yes, delete this stage", key="stage_delete_confirm")
    if st.button("Delete stage", key="stage_delete", disabled=not confirm, icon=":material/delete:"):
        moved = attempt(lambda: deals.delete_stage(rt.db, user.claims, ws_id, stage["id"], move_to), slots)
        if moved is not None:
            st.session_state.pop("stage_edit_pick", None)
            _saved(f"Stage deleted{f'; {moved} deal(s) moved' if moved else ''}.")


with pipelines_tab:
    st.caption("Deal pipelines and their stages: order, win probability (for weighted totals), kind, and the "
               "days after which an open deal is flagged as rotting.")
    all_pipelines = deals.pipelines(rt.db, user.claims, ws_id)
    stage_rows = [{"Pipeline": p["name"] + (" (default)" if p["is_default"] else ""), "Stage": s["name"],
                   "Probability %": s["probability"], "Kind": KIND_LABELS[s["kind"]],
                   "Rotting days": s["rotting_days"]} for p in all_pipelines for s in p["stages"]]
    st.dataframe(stage_rows, hide_index=True, key="pipelines_table")
    st.download_button("Download CSV", data=to_csv(stage_rows, list(stage_rows[0]) if stage_rows else ["Pipeline"]),
                       file_name="relata-pipelines.csv", mime="text/csv", icon=":material/download:",
                       key="pipelines_csv", on_click="ignore")
    if not is_admin:
        st.caption("Only owners and admins can change pipelines and stages.")
    else:
        by_pipeline = {p["id"]: p for p in all_pipelines}
        st.subheader("Change a pipeline")
        if (made_now := st.session_state.pop("pipeline_pick_next", None)) in by_pipeline:
            st.session_state.pipeline_pick = made_now  # show the pipeline just added
        picked_pipeline = st.selectbox("Pipeline", list(by_pipeline), format_func=lambda i: by_pipeline[i]["name"],
                                       key="pipeline_pick")
        if picked_pipeline in by_pipeline:
            chosen = by_pipeline[picked_pipeline]
            _pipeline_admin(chosen, all_pipelines)
            st.markdown("**Add a stage**")
            _add_stage(chosen)
            st.markdown("**Change a stage**")
            _edit_stage(chosen)
        st.subheader("Add a pipeline")
        with st.form("pipeline_add_form"):
            slots = FieldSlots()
            new_pipeline = st.text_input("Pipeline name", key="pipeline_add_name", placeholder="e.g. Partnerships")
            slots.under("name")
            st.caption("It starts with a “New” stage plus Won and Lost; add and rename stages afterwards.")
            if st.form_submit_button("Add pipeline", type="primary", key="pipeline_add_submit"):
                made = attempt(lambda: deals.add_pipeline(rt.db, user.claims, ws_id, new_pipeline), slots)
                if made:
                    st.session_state.pipeline_pick_next = made
                    _saved(f"Pipeline “{md_escape(' '.join(new_pipeline.split()))}” added.", clear="pipeline_add_")

with sla_tab:
    sla_settings.render(rt, user, ws_id, is_admin)

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


def _import_uploads(files) -> mail_in.Result:
    """Import uploaded .eml/.mbox files; an mbox holds many messages, so each upload is read from a file."""
    bar = st.progress(0.0, text="Importing…")
    with tempfile.TemporaryDirectory(prefix="relata-inbound-") as folder:
        paths = []
        for n, upload in enumerate(files):
            # Numbered subfolders keep two uploads with the same name apart.
            path = Path(folder) / str(n) / Path(upload.name).name
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
        result = mail_in.import_messages(
            rt.db, user.claims, ws_id, paths,
            progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Imported {done:,} of {total:,}"))
        prefix = folder + "/"
        # Labels name the temporary files; show the uploaded names instead.
        result.rejected = [(_upload_label(label, prefix), reason) for label, reason in result.rejected]
        result.skipped_attachments = [(_upload_label(label, prefix), name, reason)
                                      for label, name, reason in result.skipped_attachments]
    bar.progress(1.0, text="Done")
    return result


def _upload_label(label: str, prefix: str) -> str:
    return label.removeprefix(prefix).split("/", 1)[-1]


with inbound_tab:
    st.caption("Import customer emails as tickets: a new message opens a ticket for its sender, a reply naming a "
               "ticket number such as [T-1001] is added to that ticket. Messages imported before are skipped.")
    if not workspaces.can_write(role):
        st.info("Agents and above can import email.", icon=":material/lock:")
    else:
        result_key = f"inbound_result:{ws_id}"
        uploads = st.file_uploader("Email files (.eml or .mbox)", type=["eml", "mbox"], accept_multiple_files=True,
                                   key="inbound_files")
        if st.button("Import", type="primary", key="inbound_import", disabled=not uploads):
            try:
                st.session_state[result_key] = _import_uploads(uploads)
            except UserError as exc:
                st.error(str(exc))
            else:
                st.toast(st.session_state[result_key].summary(), icon=":material/mark_email_read:")
        outcome = st.session_state.get(result_key)
        if outcome is not None:
            created, appended, duplicates, reopened, rejected = st.columns(5)
            created.metric("New tickets", f"{outcome.created:,}")
            appended.metric("Replies added", f"{outcome.appended:,}")
            duplicates.metric("Already imported", f"{outcome.duplicates:,}")
            reopened.metric("Reopened", f"{outcome.reopened:,}")
            rejected.metric("Rejected", f"{len(outcome.rejected):,}")
            if outcome.rejected:
                rows = [{"Message": label, "Reason": reason} for label, reason in outcome.rejected]
                st.dataframe(rows, hide_index=True, key="inbound_rejected")
                st.download_button("Download rejected (CSV)", to_csv(rows, ["Message", "Reason"]),
                                   file_name="rejected-emails.csv", mime="text/csv", key="inbound_rejected_csv")
            if outcome.skipped_attachments:
                st.caption("Attachments skipped: " + "; ".join(
                    f"{md_escape(name)} ({md_escape(label)}): {md_escape(reason)}"
                    for label, name, reason in outcome.skipped_attachments[:20]))
