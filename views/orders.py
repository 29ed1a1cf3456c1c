"""Orders: the list (newest first, by status, search by number, keyset pages), the invoices (all,
unpaid, overdue, paid) and, for agents and above, a new order with its lines. Opening
`?new_order=1&company=<id>` (or `contact=<id>`), as the Customer page's "New order" does, starts
the form for that customer.
"""

from __future__ import annotations

import streamlit as st

from lib import customers, orders
from lib.csv_export import to_csv
from lib.workspaces import can_write
from ui import paging, session
from ui.forms import FieldSlots, attempt
from ui.order_form import lines_editor, lines_from_editor

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

title_col, new_col = st.columns([6, 1.2], vertical_alignment="bottom")
title_col.title("Orders")
if writer and new_col.button("New order", icon=":material/add:", type="primary", key="ord_new"):
    st.session_state.ord_new_open = True
if st.query_params.get("new_order") and writer:
    st.session_state.ord_new_open = True
    for param in ("company", "contact"):
        if st.query_params.get(param):
            st.session_state[f"ord_new_{param}"] = st.query_params[param]
    st.query_params.pop("new_order", None)


def new_order_form() -> None:
    companies = customers.company_choices(db, claims, ws)
    with st.container(border=True):
        st.subheader("New order")
        slots = FieldSlots()
        left, right = st.columns(2)
        company = left.selectbox("Company", list(companies), format_func=companies.get, index=None,
                                 key="ord_new_company", placeholder="No company (a private customer)")
        contacts = customers.contact_choices(db, claims, ws, company_id=company)
        chosen_contact = st.session_state.get("ord_new_contact")
        if chosen_contact and chosen_contact not in contacts:
            st.session_state.ord_new_contact = None
        contact = right.selectbox("Contact", list(contacts), format_func=contacts.get, index=None,
                                  key="ord_new_contact", placeholder="Nobody in particular")
        c1, c2, c3 = st.columns(3)
        ordered = c1.date_input("Order date", key="ord_new_date", format="YYYY-MM-DD")
        currency = c2.text_input("Currency", value="EUR", max_chars=3, key="ord_new_currency")
        with c2:
            slots.under("currency")
        country = c3.text_input("Country", key="ord_new_country", placeholder="e.g. France or FR")
        with c3:
            slots.under("country")
        edited = lines_editor(db, claims, ws, "ord_new_lines", [])
        slots.under("lines")
        notes = st.text_area("Notes", key="ord_new_notes", height=80)
        save_col, cancel_col = st.columns([1, 6])
        if cancel_col.button("Cancel", key="ord_new_cancel"):
            st.session_state.ord_new_open = False
            st.rerun()
        if save_col.button("Create order", type="primary", key="ord_new_save"):
            data = {"company_id": company, "contact_id": contact, "ordered_at": ordered, "currency": currency,
                    "country": country, "notes": notes, "lines": lines_from_editor(db, claims, ws, edited)}
            made = attempt(lambda: orders.create_order(db, claims, ws, data), slots)
            if made:
                st.session_state.ord_new_open = False
                for key in [k for k in st.session_state if str(k).startswith("ord_new_")]:
                    st.session_state.pop(key, None)
                st.session_state.flash = f"Order {made['number']} created as a draft."
                st.switch_page("views/order.py", query_params={"order": made["id"]})


if writer and st.session_state.get("ord_new_open"):
    new_order_form()

orders_tab, invoices_tab = st.tabs(["Orders", "Invoices"])

with orders_tab:
    filter_col, search_col = st.columns([2, 3])
    status = filter_col.selectbox("Status", ["", *orders.STATUSES], key="ord_status",
                                  format_func=lambda s: orders.STATUS_LABELS.get(s, "Any status"))
    search = search_col.text_input("Search", key="ord_search", placeholder="Order number", icon=":material/search:")
    cursors = paging.cursors("ord", (status, search.strip()))
    rows, next_after = orders.orders(db, claims, ws, status=status or None, search=search, after=cursors[-1])
    if not rows and len(cursors) == 1:
        if status or search.strip():
            st.info("No order matches. Change the status or the search.", icon=":material/search_off:")
        else:
            st.info("No orders yet. Create one with **New order**, import order lines on the **Import** page, "
                    "or load demo data on Home.", icon=":material/receipt_long:")
    else:
        table = [{"Number": r["number"], "Date": r["ordered_at"].date(), "Customer": r["customer_name"] or "Anonymous",
                  "Status": orders.STATUS_LABELS[r["status"]], "Lines": r["line_count"],
                  "Total": float(r["total_amount"]), "Currency": r["currency"], "id": str(r["id"])} for r in rows]
        event = st.dataframe(table, hide_index=True, width="stretch", key="ord_table", on_select="rerun",
                             selection_mode="single-row", column_order=["Number", "Date", "Customer", "Status", "Lines",
                                                                         "Total", "Currency"],
                             column_config={"Total": st.column_config.NumberColumn(format="%.2f")})
        picked = event.selection.rows if event else []
        if picked:
            st.switch_page("views/order.py", query_params={"order": table[picked[0]]["id"]})
        st.caption("Select a row to open the order.")
        paging.pager("ord", cursors, next_after)
        st.download_button("Download CSV (this page)", data=to_csv(table, list(table[0])[:-1]),
                                file_name="relata-orders.csv", mime="text/csv", icon=":material/download:",
                                key="ord_csv", on_click="ignore")

with invoices_tab:
    views = {"": "All", "issued": "Unpaid", "overdue": "Overdue", "paid": "Paid", "void": "Void"}
    show = st.segmented_control("Show", list(views), format_func=views.get, default="", key="inv_show",
                                label_visibility="collapsed") or ""
    cursors = paging.cursors("inv", show)
    rows, next_after = orders.invoices(db, claims, ws, status=show or None, after=cursors[-1])
    if not rows and len(cursors) == 1:
        st.info("No invoices here. Invoice a confirmed order from its page.", icon=":material/request_quote:")
    else:
        table = [{"Invoice": orders.display_invoice_number(r["number"]), "Issued": r["issued_on"], "Due": r["due_on"],
                  "Customer": r["customer_name"] or "Anonymous", "Order": r["order_number"],
                  "Status": ("Overdue" if r["overdue"] else r["status"].capitalize()), "Total": float(r["total"]),
                  "Currency": r["currency"], "order_id": str(r["order_id"])} for r in rows]
        event = st.dataframe(table, hide_index=True, width="stretch", key="inv_table", on_select="rerun",
                             selection_mode="single-row", column_order=list(table[0])[:-1],
                             column_config={"Total": st.column_config.NumberColumn(format="%.2f")})
        picked = event.selection.rows if event else []
        if picked:
            st.switch_page("views/order.py", query_params={"order": table[picked[0]]["order_id"]})
        paging.pager("inv", cursors, next_after)
        st.download_button("Download CSV (this page)", data=to_csv(table, list(table[0])[:-1]),
                                file_name="relata-invoices.csv", mime="text/csv", icon=":material/download:",
                                key="inv_csv", on_click="ignore")
