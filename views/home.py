"""Home: the workspace at a glance, what to do first, and who did what lately."""

from __future__ import annotations

import streamlit as st

from lib import audit, demo, workspaces
from lib.csv_export import to_csv
from ui import session
from ui.invites import offer_invitation
from ui.forms import FieldSlots, attempt
from lib.text import md_escape

rt, user, _, current = session.page_context()

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

offer_invitation(rt, user)

if current is None:
    st.title("Welcome to Relata")
    st.write("You are not a member of any workspace yet. Create one for your business, or open an invitation link.")
    with st.form("first_workspace"):
        slots = FieldSlots()
        name = st.text_input("Business name", key="first_workspace_name", placeholder="e.g. Harbour Bikes")
        slots.under("name")
        if st.form_submit_button("Create workspace", type="primary", key="first_workspace_submit"):
            created = attempt(lambda: workspaces.create_workspace(rt.db, user.claims, name), slots)
            if created:
                st.session_state.workspace_id = created
                st.session_state.flash = "Workspace created."
                st.rerun()
    st.stop()

info = workspaces.overview(rt.db, user.claims, current.workspace_id)
st.title(md_escape(info["name"]))
st.caption(f"Your role: {current.role} — {workspaces.ROLE_HELP[current.role]}.")

members_col, invites_col, since_col = st.columns(3)
members_col.metric("Members", info["members"])
invites_col.metric("Open invitations", info["open_invitations"])
since_col.metric("Since", f"{info['created_at']:%d %b %Y}")

can_load_demo = workspaces.can_manage_members(current.role) and not demo.has_customers(
    rt.db, user.claims, current.workspace_id)
if info["members"] == 1 or can_load_demo:
    with st.container(border=True):
        st.subheader("Get started")
        if info["members"] == 1 and workspaces.can_manage_members(current.role):
            st.write(
                "Your workspace is ready. First, invite the people you work with: each gets a role "
                "(admin, manager, agent or viewer) that decides what they may change."
            )
            st.page_link("views/settings.py", label="Invite your team", icon=":material/group_add:")
        elif info["members"] == 1:
            st.write("You are the only member so far. Ask an owner or admin to invite your colleagues.")
        if can_load_demo:
            st.write("No customers yet. Import your list, or look around first with a realistic demo workspace.")
            if st.button("Load demo data", icon=":material/auto_awesome:", key="load_demo"):
                bar = st.progress(0.0, text="Loading demo data…")
                counts = attempt(lambda: demo.load_demo(
                    rt.db, user.claims, current.workspace_id,
                    progress=lambda fraction, label: bar.progress(fraction, text=f"Loading demo data: {label}…")))
                if counts:
                    st.session_state.flash = (f"Demo data loaded: {counts['companies']:,} companies, "
                                              f"{counts['contacts']:,} contacts.")
                    st.rerun()

st.subheader("Recent activity")
if not info["activity"]:
    st.info("Nothing has happened in this workspace yet.")
else:
    rows = [
        {"When": f"{a['changed_at']:%Y-%m-%d %H:%M}", "Who": a["who"], "What": audit.describe(a)}
        for a in info["activity"]
    ]
    st.dataframe(rows, hide_index=True, key="activity_table")
    st.download_button(
        "Download CSV",
        data=to_csv(rows, ["When", "Who", "What"]),
        file_name="relata-activity.csv",
        mime="text/csv",
        icon=":material/download:",
        key="activity_csv",
        on_click="ignore",
    )
