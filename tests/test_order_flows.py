"""Front-office screens with AppTest on the real database: the order list and its empty state, a new
order started from the customer's page, the order page's steps (confirm, ship, invoice, mark paid),
the invoice PDF, products and their edit conflict, and read-only viewers."""

from __future__ import annotations

import pytest

from lib import customers, orders
from lib.customers import COMPANY
from lib.text import md_escape
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def shop_app(factory, db):
    owner, ws = factory.owner("Flow Shop")
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Café Lumière"})
    mug = orders.create_product(db, owner.claims, ws, {"sku": "MUG", "name": "Mug", "price": "4.5"})
    at = sign_in(fresh_app(), owner.email)
    return owner, ws, company, mug, at


def test_empty_orders_page_says_what_to_do(shop_app):
    owner, ws, company, mug, at = shop_app
    at = open_page(at, "views/orders.py")
    assert not at.exception
    assert "No orders yet" in texts(at)


def test_new_order_from_the_customer_page(shop_app, db):
    owner, ws, company, mug, at = shop_app
    at = open_page(at, "views/customer.py", customer=company)
    assert at.button(key="record_new_order")  # it opens Orders with these parameters:
    at = open_page(at, "views/orders.py", new_order="1", company=company)
    assert not at.exception
    assert at.selectbox(key="ord_new_company").value == company
    editor = at.data_editor(key="ord_new_lines") if hasattr(at, "data_editor") else None
    assert editor is not None
    at = at.button(key="ord_new_save").click().run()  # the default line has no product or description
    assert "Line 1" in texts(at)
    made = orders.create_order(db, owner.claims, ws, {"company_id": company, "lines": [
        {"product_id": mug, "quantity": "2", "unit_price": "4.5"}]})
    at = open_page(at, "views/customer.py", customer=company)
    assert made["number"] in " ".join(link.label for link in at.get("page_link"))


def test_order_page_steps_through_to_paid(shop_app, db):
    owner, ws, company, mug, at = shop_app
    made = orders.create_order(db, owner.claims, ws, {"company_id": company, "lines": [
        {"product_id": mug, "quantity": "3", "unit_price": "4.5"}]})
    at = open_page(at, "views/order.py", order=made["id"])
    assert at.title[0].value == "Order " + md_escape(made["number"])
    at = at.button(key="ord_step_confirmed").click().run()
    at = at.button(key="ord_step_shipped").click().run()
    assert orders.get(db, owner.claims, ws, made["id"])["status"] == "shipped"
    at.number_input(key="ord_tax").set_value(10.0)
    at = at.button(key="ord_invoice").click().run()
    assert not at.exception
    order = orders.get(db, owner.claims, ws, made["id"])
    assert order["status"] == "invoiced" and order["invoices"][0]["total"] == orders.Decimal("14.85")
    invoice_id = str(order["invoices"][0]["id"])
    assert f"inv_pdf_{invoice_id}" in {d.key for d in at.get("download_button")}
    at = at.button(key=f"inv_paid_{invoice_id}").click().run()
    assert orders.get(db, owner.claims, ws, made["id"])["status"] == "paid"
    at = open_page(at, "views/orders.py")
    assert made["number"] in str(at.dataframe[0].value)
    assert f"INV-{order['invoices'][0]['number']}" in str(at.dataframe[1].value)


def test_product_edit_conflict_keeps_what_was_typed(shop_app, db):
    owner, ws, company, mug, at = shop_app
    at = open_page(at, "views/products.py")
    assert not at.exception and "Mug" in str(at.dataframe[0].value)
    at.session_state["prod_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at = at.run()
    at.text_input(key=f"prod_edit_{mug}_name").input("Big mug")
    orders.update_product(db, owner.claims, ws, mug, {"sku": "MUG", "name": "Tea mug", "price": "5"}, 1)
    at = at.button(key="prod_edit_save").click().run()
    assert "Someone else changed this product" in texts(at)
    assert at.text_input(key=f"prod_edit_{mug}_name").value == "Big mug"
    at = at.button(key="prod_edit_save").click().run()
    rows, _ = orders.products(db, owner.claims, ws)
    assert rows[0]["name"] == "Big mug"


def test_viewer_reads_orders_without_controls(factory, db):
    owner, ws = factory.owner("Viewer Shop")
    viewer = factory.member(owner, ws, "viewer")
    made = orders.create_order(db, owner.claims, ws, {"lines": [{"description": "Thing", "quantity": "1",
                                                                "unit_price": "2"}]})
    at = sign_in(fresh_app(order=made["id"]), viewer.email)
    assert not at.exception and at.title[0].value == "Order " + md_escape(made["number"])
    keys = {b.key for b in at.button}
    assert not any(k and k.startswith("ord_step_") for k in keys) and "ord_lines_save" not in keys
