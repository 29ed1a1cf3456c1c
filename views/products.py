"""Products: the catalog by name (search by SKU, name or category; keyset pages), a new product,
and editing one (agents and above); a change saved meanwhile by someone else is reported."""

from __future__ import annotations

import streamlit as st

from lib import orders
from lib.csv_export import to_csv
from lib.errors import ConflictError
from lib.workspaces import can_write
from ui import paging, session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")


def product_form(prefix: str, product: dict | None = None) -> dict:
    """The product's fields (filled from `product`); returns what is typed."""
    product = product or {}
    slots = FieldSlots()
    left, right = st.columns(2)
    with left:
        sku = st.text_input("SKU", value=product.get("sku", ""), key=f"{prefix}_sku", max_chars=64)
        slots.under("sku")
        name = st.text_input("Name", value=product.get("name", ""), key=f"{prefix}_name", max_chars=300)
        slots.under("name")
        category = st.text_input("Category", value=product.get("category") or "", key=f"{prefix}_category")
        slots.under("category")
    with right:
        price = st.text_input("Price", value=str(product.get("price", "")), key=f"{prefix}_price")
        slots.under("price")
        cost = st.text_input("Cost (for margins, optional)", value=str(product.get("cost") or ""), key=f"{prefix}_cost")
        slots.under("cost")
        currency = st.text_input("Currency", value=product.get("currency", "EUR"), key=f"{prefix}_currency", max_chars=3)
        slots.under("currency")
    active = st.checkbox("Active (offered on new orders)", value=product.get("active", True), key=f"{prefix}_active")
    return {"data": {"sku": sku, "name": name, "category": category, "price": price, "cost": cost,
                     "currency": currency, "active": active}, "slots": slots}


title_col, new_col = st.columns([6, 1.3], vertical_alignment="bottom")
title_col.title("Products")
if writer:
    with new_col.popover("New product", icon=":material/add:"):
        typed = product_form("prod_new")
        if st.button("Add product", type="primary", key="prod_new_save"):
            if attempt(lambda: orders.create_product(db, claims, ws, typed["data"]), typed["slots"]):
                for key in [k for k in st.session_state if str(k).startswith("prod_new_")]:
                    st.session_state.pop(key, None)
                st.session_state.flash = "Product added."
                st.rerun()

search = st.text_input("Search", key="prod_search", placeholder="SKU, name or category", icon=":material/search:")
cursors = paging.cursors("prod", search.strip())
rows, next_after = orders.products(db, claims, ws, search, after=cursors[-1])
if not rows and len(cursors) == 1:
    st.info("No products match." if search.strip() else
            "No products yet. Add one with **New product**, or import order lines on the **Import** page: "
            "their products are created for you.", icon=":material/inventory_2:")
    st.stop()

table = [{"SKU": r["sku"], "Name": r["name"], "Category": r["category"], "Price": float(r["price"]),
          "Cost": float(r["cost"]) if r["cost"] is not None else None, "Currency": r["currency"],
          "Active": r["active"]} for r in rows]
event = st.dataframe(table, hide_index=True, width="stretch", key="prod_table", on_select="rerun",
                     selection_mode="single-row",
                     column_config={"Price": st.column_config.NumberColumn(format="%.2f"),
                                    "Cost": st.column_config.NumberColumn(format="%.2f")})
paging.pager("prod", cursors, next_after)
st.download_button("Download CSV (this page)", data=to_csv(table, list(table[0])), file_name="relata-products.csv",
                        mime="text/csv", icon=":material/download:", key="prod_csv", on_click="ignore")

picked = event.selection.rows if event else []
if picked and writer:
    product = rows[picked[0]]
    pid = str(product["id"])
    # The version the form was filled from; its fields keep what was typed across reruns.
    seen_key = f"prod_seen_{pid}"
    seen = st.session_state.setdefault(seen_key, product["version"])
    with st.container(border=True):
        st.subheader(f"Edit {product['sku']}")
        if st.session_state.get(f"{seen_key}_conflict"):
            st.warning("Someone else changed this product while you were editing: the saved values are in the "
                       "table above. **Save product** again to keep yours.", icon=":material/sync_problem:")
        typed = product_form(f"prod_edit_{pid}", product)
        if st.button("Save product", type="primary", key="prod_edit_save"):
            def save() -> int:
                try:
                    return orders.update_product(db, claims, ws, pid, typed["data"], seen)
                except ConflictError as exc:
                    st.session_state[seen_key] = exc.current["version"] if exc.current else seen
                    st.session_state[f"{seen_key}_conflict"] = True
                    st.rerun()

            if attempt(save, typed["slots"]):
                for key in [k for k in st.session_state if str(k).startswith((f"prod_edit_{pid}", seen_key))]:
                    st.session_state.pop(key, None)
                st.session_state.flash = "Product saved."
                st.rerun()
elif not writer:
    st.caption("Agents and above can add and edit products.")
else:
    st.caption("Select a row to edit the product.")
