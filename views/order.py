"""Order page (deep link `?order=<id>`): the customer, status with the allowed next steps (ship,
invoice, cancel), the lines (editable while draft or confirmed), and the invoices with their PDF,
"mark paid" and "void". A change saved meanwhile by someone else is reported, not overwritten.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib import invoice_pdf, orders
from lib.text import md_escape
from lib.validation import country_name, is_uuid
from lib.workspaces import can_write
from ui import session
from ui.forms import FieldSlots, attempt
from ui.marketing import campaign_credit
from ui.order_form import lines_editor, lines_from_editor

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

order_id = st.query_params.get("order", "")
order = orders.get(db, claims, ws, order_id) if is_uuid(order_id) else None
if order is None:
    st.title("Order not found")
    st.info("This order does not exist in this workspace, or it was deleted.")
    st.page_link("views/orders.py", label="Go to Orders", icon=":material/receipt_long:")
    st.stop()
oid = str(order["id"])
BADGES = {"draft": ":gray-badge[Draft]", "confirmed": ":blue-badge[Confirmed]", "shipped": ":violet-badge[Shipped]",
          "invoiced": ":orange-badge[Invoiced]", "paid": ":green-badge[Paid]", "cancelled": ":red-badge[Cancelled]"}

st.page_link("views/orders.py", label="Orders", icon=":material/arrow_back:")
st.title(f"Order {md_escape(order['number'])}")
facts = [BADGES[order["status"]], f"ordered {order['ordered_at']:%Y-%m-%d}"]
if order["shipped_at"]:
    facts.append(f"shipped {order['shipped_at']:%Y-%m-%d}")
if order["paid_at"]:
    facts.append(f"paid {order['paid_at']:%Y-%m-%d}")
if order["country"]:
    facts.append(md_escape(country_name(order["country"])))
st.markdown(" · ".join(facts))
links = st.columns(3)
if order["company_id"]:
    links[0].page_link("views/customer.py", label=md_escape(order["company_name"]), icon=":material/domain:",
                       query_params={"customer": str(order["company_id"])})
if order["contact_id"]:
    links[1].page_link("views/customer.py", label=md_escape(order["contact_name"] or "Contact"), icon=":material/person:",
                       query_params={"customer": str(order["contact_id"])})
if not order["company_id"] and not order["contact_id"]:
    links[0].caption("Anonymous sale (no customer).")
campaign_credit(db, claims, ws, "order", order, writer)
m1, m2 = st.columns(2)
m1.metric("Total", f"{order['total_amount']:,.2f} {order['currency']}")
m2.metric("Lines", order["line_count"])


def _change(action, done: str) -> None:
    if attempt(action) is not None:
        st.session_state.flash = done
        st.rerun()


# -- next steps ---------------------------------------------------------------------------------
if writer:
    steps = [s for s in orders.TRANSITIONS[order["status"]] if s not in ("invoiced", "paid", "confirmed")
             or (s == "confirmed" and order["status"] == "draft")]
    cols = st.columns(max(1, len(steps)) + 1)
    labels = {"confirmed": ("Confirm", ":material/check:"), "shipped": ("Mark shipped", ":material/local_shipping:"),
              "cancelled": ("Cancel order", ":material/block:")}
    for col, step in zip(cols, steps):
        label, icon = labels[step]
        if col.button(label, icon=icon, key=f"ord_step_{step}"):
            _change(lambda step=step: orders.set_status(db, claims, ws, oid, step, order["version"]),
                    f"Order {order['number']}: {orders.STATUS_LABELS[step].lower()}.")
    if order["status"] in ("confirmed", "shipped"):
        with st.popover("Invoice", icon=":material/request_quote:"):
            slots = FieldSlots()
            tax = st.number_input("Tax rate %", min_value=0.0, max_value=100.0, value=20.0, step=0.5, key="ord_tax")
            slots.under("tax_rate")
            due = st.number_input("Payment terms (days)", min_value=0, max_value=365, value=30, step=1, key="ord_due")
            slots.under("due_days")
            if st.button("Issue invoice", type="primary", key="ord_invoice"):
                made = attempt(lambda: orders.issue_invoice(db, claims, ws, oid, tax_rate=str(tax), due_days=int(due),
                                                            version=order["version"]), slots)
                if made:
                    st.session_state.flash = f"Invoice {orders.display_invoice_number(made['number'])} issued."
                    st.rerun()

# -- lines ----------------------------------------------------------------------------------------
st.subheader("Lines")
editable = writer and order["status"] in orders.EDITABLE
if editable:
    slots = FieldSlots()
    edited = lines_editor(db, claims, ws, f"ord_lines_{oid}_{order['version']}", order["lines"])
    slots.under("lines")
    if st.button("Save lines", type="primary", key="ord_lines_save"):
        data = {"contact_id": order["contact_id"], "company_id": order["company_id"], "ordered_at": order["ordered_at"],
                "country": order["country"], "currency": order["currency"], "notes": order["notes"],
                "deal_id": order["deal_id"], "lines": lines_from_editor(db, claims, ws, edited)}
        if attempt(lambda: orders.update_order(db, claims, ws, oid, data, order["version"]), slots):
            st.session_state.flash = "Lines saved."
            st.rerun()
elif order["lines"]:
    st.dataframe([{"SKU": line["sku"], "Description": line["description"], "Quantity": float(line["quantity"]),
                   "Unit price": float(line["unit_price"]), "Discount %": float(line["discount"]),
                   "Amount": float(line["amount"])} for line in order["lines"]], hide_index=True, width="stretch",
                 key="ord_lines_table")
else:
    st.info("This order has no lines.")
if order["notes"]:
    st.markdown(order["notes"])  # markdown without raw HTML (Streamlit's default)

# -- invoices -------------------------------------------------------------------------------------
st.subheader("Invoices")
if not order["invoices"]:
    hint = {"draft": " Confirm the order, then **Invoice** it.", "confirmed": " Issue one with **Invoice** above.",
            "shipped": " Issue one with **Invoice** above."}.get(order["status"], "")
    st.caption("No invoice yet." + (hint if writer else ""))
for inv in order["invoices"]:
    iid = str(inv["id"])
    with st.container(border=True):
        left, right = st.columns([3, 2], vertical_alignment="center")
        overdue = inv["status"] == "issued" and inv["due_on"] < date.today()
        state = "overdue" if overdue else inv["status"]
        left.markdown(f"**{orders.display_invoice_number(inv['number'])}** · {state} · issued {inv['issued_on']:%Y-%m-%d}, "
                      f"due {inv['due_on']:%Y-%m-%d} · {inv['total']:,.2f} {inv['currency']}"
                      + (f" (tax {inv['tax_rate']:g} %)" if inv["tax_rate"] else ""))
        with right:
            st.download_button("PDF", data=lambda iid=iid: invoice_pdf.render(orders.invoice(db, claims, ws, iid)),
                               file_name=f"invoice-{inv['number']}.pdf", mime="application/pdf",
                               icon=":material/picture_as_pdf:", key=f"inv_pdf_{iid}", on_click="ignore")
            if writer and inv["status"] == "issued":
                pay_col, void_col = st.columns(2)
                if pay_col.button("Mark paid", key=f"inv_paid_{iid}", icon=":material/paid:"):
                    _change(lambda: orders.mark_paid(db, claims, ws, iid) or True, "Invoice marked paid.")
                if void_col.button("Void", key=f"inv_void_{iid}", icon=":material/cancel:"):
                    _change(lambda: orders.void_invoice(db, claims, ws, iid) or True,
                            "Invoice voided; the order can be corrected and invoiced again.")
