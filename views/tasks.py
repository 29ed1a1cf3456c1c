"""My tasks: what the signed-in user has to do — overdue, today, upcoming — and a quick new task."""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib import activities
from lib.csv_export import to_csv
from lib.text import md_escape
from lib.workspaces import can_write, members
from ui import session
from ui.widgets import task_form

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

st.title("My tasks")
groups = activities.my_tasks(db, claims, ws)
today = date.today()
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

if writer:
    with st.expander("New task", icon=":material/add_task:"):
        if task_form(rt, user, ws, "my_task", people, default_due=today):
            st.session_state.flash = "Task created."
            st.rerun()

if not any(groups.values()):
    st.info("Nothing to do. Tasks you create, or that colleagues assign to you, appear here; "
            "create one for a customer from their page.", icon=":material/celebration:")
    st.stop()

HEADINGS = {"overdue": ":red[Overdue]", "today": "Today", "upcoming": "Upcoming"}
for group, heading in HEADINGS.items():
    tasks = groups[group]
    st.subheader(f"{heading} ({len(tasks)})")
    if not tasks:
        st.caption("Nothing here.")
    for task in tasks:
        done_col, text_col = st.columns([1, 12], vertical_alignment="center")
        if done_col.checkbox("Done", key=f"my_task_done_{task['id']}", label_visibility="collapsed", disabled=not writer):
            activities.set_task_done(db, claims, ws, str(task["id"]))
            st.session_state.flash = "Task done."
            st.rerun()
        due = f" — due {task['due_date']:%Y-%m-%d}" if task["due_date"] else ""
        with text_col:
            st.markdown(f"**{md_escape(task['title'])}**{due} · {task['priority']}")
            customer = task["contact_id"] or task["company_id"]
            if customer:
                st.page_link("views/customer.py", label=md_escape(task["customer_name"] or "customer"), icon=":material/person:",
                             query_params={"customer": str(customer)})

rows = [{"Task": t["title"], "Due": t["due_date"], "Priority": t["priority"], "Customer": t["customer_name"], "Group": g}
        for g, tasks in groups.items() for t in tasks]
st.download_button("Download CSV", data=to_csv(rows, list(rows[0])), file_name="relata-my-tasks.csv", mime="text/csv",
                   icon=":material/download:", key="my_tasks_csv", on_click="ignore")
