"""Customer portal, home: the signed-in customer's requests (open, solved, all), newest activity
first, a page at a time; each opens its conversation. Solved requests not yet rated are pointed out.
"""

from __future__ import annotations

import streamlit as st

from lib import portal, tickets
from lib.csv_export import to_csv
from lib.text import md_escape
from ui import session
from ui.invites import offer_invitation

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")
offer_invitation(rt, user)

title_col, new_col = st.columns([6, 1.3], vertical_alignment="bottom")
title_col.title("My requests")
title_col.caption(f"Your conversations with {md_escape(current.name)}.")
if new_col.button("New request", icon=":material/add:", type="primary", key="pt_new"):
    st.switch_page("views/portal_new.py")

unrated = portal.unrated_count(db, claims, ws)
if unrated:
    st.info(f"{unrated} solved request{'s' if unrated != 1 else ''} waiting for your rating: "
            "open one under **Solved** and tell us how we did.", icon=":material/star:")

SHOW = {"open": "Open", "solved": "Solved", "all": "All"}
show = st.segmented_control("Show", list(SHOW), format_func=SHOW.get, default="open", key="pt_show",
                            label_visibility="collapsed") or "open"
pages = st.session_state.setdefault("pt_pages", {})
after = pages.get(show)
page = portal.my_tickets(db, claims, ws, show, after=after)

if not page.rows:
    if after:
        st.info("No more requests.")
    elif show == "open":
        st.info("You have no open requests. Need help? Open a **New request**, or search the **Help center**.",
                icon=":material/inbox:")
    else:
        st.info("Nothing here yet.", icon=":material/inbox:")
for row in page.rows:
    with st.container(border=True):
        left, right = st.columns([5, 2], vertical_alignment="center")
        label = f"{tickets.display_number(row['number'])} · {row['subject']}"
        left.page_link("views/portal_ticket.py", label=label, query_params={"ticket": str(row["id"])},
                       icon=":material/chat:")
        status = portal.CUSTOMER_STATUS[row["status"]]
        rating = f" · {'★' * row['csat']}" if row["csat"] else ""
        right.caption(f"{status}{rating} · updated {row['updated_at']:%Y-%m-%d %H:%M} UTC")

nav_cols = st.columns(2)
if after and nav_cols[0].button("First page", key="pt_first", icon=":material/first_page:"):
    pages.pop(show, None)
    st.rerun()
if page.next_after and nav_cols[1].button("Older requests", key="pt_more", icon=":material/navigate_next:"):
    pages[show] = page.next_after
    st.rerun()

if page.rows:
    export = [{**r, "number": tickets.display_number(r["number"]), "status": portal.CUSTOMER_STATUS[r["status"]]}
              for r in page.rows]
    st.download_button("Download CSV", data=to_csv(export, ["number", "subject", "status", "created_at", "updated_at",
                                                            "csat"]),
                       file_name="my-requests.csv", mime="text/csv", icon=":material/download:", key="pt_csv",
                       on_click="ignore")
