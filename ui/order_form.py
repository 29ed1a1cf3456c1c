"""The order lines editor (an editable table: product, description, quantity, unit price,
discount %), shared by the new-order form and the order page."""

from __future__ import annotations

import streamlit as st

from lib import orders

MAX_PRODUCTS = 2000  # products offered in the picker (active ones, by name)


def _catalog(db, claims, ws) -> dict[str, dict]:
    """{"SKU · name": product} of the active products."""
    rows = orders.product_choices(db, claims, ws, limit=MAX_PRODUCTS)
    return {f"{r['sku']} · {r['name']}": r for r in rows}


def lines_editor(db, claims, ws, key: str, lines: list[dict], disabled: bool = False) -> list[dict]:
    """The editable lines; returns what is in the table now (one dict per row)."""
    catalog = _catalog(db, claims, ws)
    by_id = {str(p["id"]): label for label, p in catalog.items()}
    rows = [{"Product": by_id.get(str(line["product_id"])) if line.get("product_id") else None,
             "Description": line.get("description") or "", "Quantity": float(line["quantity"]),
             "Unit price": float(line["unit_price"]), "Discount %": float(line.get("discount") or 0)}
            for line in lines]
    st.caption("Lines: pick a product (its price is used when you leave the price empty) or write a description; "
               "a negative quantity is a return.")
    return st.data_editor(
        rows or [{"Product": None, "Description": "", "Quantity": 1.0, "Unit price": None, "Discount %": 0.0}],
        key=key, num_rows="dynamic", width="stretch", hide_index=True, disabled=disabled,
        column_config={
            "Product": st.column_config.SelectboxColumn("Product", options=list(catalog), width="large"),
            "Description": st.column_config.TextColumn("Description", max_chars=500),
            "Quantity": st.column_config.NumberColumn("Quantity", step=1.0, format="%g"),
            "Unit price": st.column_config.NumberColumn("Unit price", min_value=0.0, format="%.2f"),
            "Discount %": st.column_config.NumberColumn("Discount %", min_value=0.0, max_value=100.0, format="%g"),
        })


def lines_from_editor(db, claims, ws, edited) -> list[dict]:
    """The editor's rows as lines for lib.orders (product ids, the product's price by default)."""
    catalog = _catalog(db, claims, ws)
    records = edited.to_dict("records") if hasattr(edited, "to_dict") else list(edited or [])
    lines = []
    for row in records:
        product = catalog.get(row.get("Product") or "")
        price = row.get("Unit price")
        if (price is None or price != price) and product:  # empty (None or NaN): the list price
            price = product["price"]
        quantity = row.get("Quantity")
        lines.append({"product_id": str(product["id"]) if product else None,
                      "description": row.get("Description") or "",
                      "quantity": "" if quantity is None or quantity != quantity else quantity,
                      "unit_price": "" if price is None or price != price else price,
                      "discount": row.get("Discount %") or 0})
    return lines
