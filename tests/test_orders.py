"""Front office: products, orders and their lines, status changes, invoices (gapless numbers, frozen
amounts, paid and void), the customer's revenue and timeline, and the invoice PDF."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from lib import activities, customers, invoice_pdf, orders
from lib.customers import COMPANY, CONTACT
from lib.errors import ConflictError, FormErrors, UserError


@pytest.fixture(scope="module")
def shop(factory, db):
    owner, ws = factory.owner("Order Shop")
    viewer = factory.member(owner, ws, "viewer")
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Bistro Ltd", "country": "FR"})
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Élodie", "last_name": "Marchand",
                                                              "company_id": company})
    mug = orders.create_product(db, owner.claims, ws, {"sku": "MUG-1", "name": "Mug", "price": "4.50", "cost": "1.2",
                                                        "category": "Kitchen", "currency": "EUR"})
    return owner, viewer, ws, company, contact, mug


def test_products_are_validated_and_unique_per_sku(shop, db):
    owner, viewer, ws, *_ = shop
    with pytest.raises(FormErrors) as caught:
        orders.create_product(db, owner.claims, ws, {"sku": "", "name": "X", "price": "-1", "currency": "EURO"})
    assert set(caught.value.errors) == {"sku", "price", "currency"}
    with pytest.raises(FormErrors) as caught:
        orders.create_product(db, owner.claims, ws, {"sku": "MUG-1", "name": "Other mug", "price": "3"})
    assert "sku" in caught.value.errors
    with pytest.raises(UserError, match="agents and above"):
        orders.create_product(db, viewer.claims, ws, {"sku": "V-1", "name": "Viewer", "price": "1"})
    rows, _ = orders.products(db, owner.claims, ws, "mug")
    assert [r["sku"] for r in rows] == ["MUG-1"]


def test_order_lines_totals_and_status_flow(shop, db, admin_conn):
    owner, viewer, ws, company, contact, mug = shop
    with pytest.raises(FormErrors) as caught:
        orders.create_order(db, owner.claims, ws, {"contact_id": contact, "lines": [
            {"product_id": mug, "quantity": "0", "unit_price": "4.5"}, {"description": "", "quantity": "1"}]})
    assert "Line 1" in caught.value.errors["lines"] and "Line 2" in caught.value.errors["lines"]
    made = orders.create_order(db, owner.claims, ws, {"contact_id": contact, "company_id": company, "lines": [
        {"product_id": mug, "quantity": "10", "unit_price": "4.50", "discount": "10"},
        {"description": "Delivery", "quantity": "1", "unit_price": "7.95"},
        {"product_id": mug, "quantity": "-2", "unit_price": "4.50"}]})
    assert made["number"].startswith("SO-")
    order = orders.get(db, owner.claims, ws, made["id"])
    assert [line["description"] for line in order["lines"]] == ["Mug", "Delivery", "Mug"]
    assert order["total_amount"] == Decimal("40.50") + Decimal("7.95") - Decimal("9.00")
    assert order["status"] == "draft" and str(order["customer_id"]) == company
    version = orders.update_order(db, owner.claims, ws, made["id"], {
        "contact_id": contact, "company_id": company, "country": "France",
        "lines": [{"product_id": mug, "quantity": "3", "unit_price": "5"}]}, order["version"])
    order = orders.get(db, owner.claims, ws, made["id"])
    assert order["total_amount"] == Decimal("15.00") and order["line_count"] == 1 and order["country"] == "FR"
    with pytest.raises(ConflictError):
        orders.update_order(db, owner.claims, ws, made["id"], {"lines": []}, version - 1)
    with pytest.raises(UserError, match="cannot go from draft to paid"):
        orders.set_status(db, owner.claims, ws, made["id"], "paid", version)
    version = orders.set_status(db, owner.claims, ws, made["id"], "confirmed", version)
    version = orders.set_status(db, owner.claims, ws, made["id"], "shipped", version)
    shipped = orders.get(db, owner.claims, ws, made["id"])
    assert shipped["shipped_at"] is not None
    with pytest.raises(UserError, match="cannot be edited"):
        orders.update_order(db, owner.claims, ws, made["id"], {"lines": []}, version)


def test_invoices_numbered_without_gaps_frozen_paid_and_void(shop, db, admin_conn):
    owner, viewer, ws, company, contact, mug = shop
    made = orders.create_order(db, owner.claims, ws, {"company_id": company, "currency": "EUR", "lines": [
        {"product_id": mug, "quantity": "4", "unit_price": "4.50"}]})
    version = orders.set_status(db, owner.claims, ws, made["id"], "confirmed", orders.get(db, owner.claims, ws, made["id"])["version"])
    with pytest.raises(FormErrors):
        orders.issue_invoice(db, owner.claims, ws, made["id"], tax_rate="120", version=version)
    first = orders.issue_invoice(db, owner.claims, ws, made["id"], tax_rate="20", version=version)
    inv = orders.invoice(db, owner.claims, ws, first["id"])
    assert (inv["subtotal"], inv["tax_amount"], inv["total"]) == (Decimal("18.00"), Decimal("3.60"), Decimal("21.60"))
    assert orders.get(db, owner.claims, ws, made["id"])["status"] == "invoiced"
    with pytest.raises(UserError, match="Void the order's invoice first"):
        orders.set_status(db, owner.claims, ws, made["id"], "cancelled", orders.get(db, owner.claims, ws, made["id"])["version"])
    orders.void_invoice(db, owner.claims, ws, first["id"])
    reopened = orders.get(db, owner.claims, ws, made["id"])
    assert reopened["status"] == "confirmed"
    second = orders.issue_invoice(db, owner.claims, ws, made["id"], tax_rate="0", version=reopened["version"])
    assert second["number"] == first["number"] + 1
    orders.mark_paid(db, owner.claims, ws, second["id"])
    assert orders.get(db, owner.claims, ws, made["id"])["status"] == "paid"
    with pytest.raises(UserError, match="Only an unpaid invoice"):
        orders.void_invoice(db, owner.claims, ws, second["id"])
    # Amounts are frozen: nobody may rewrite them.
    with db.as_user(owner.claims) as conn:
        with pytest.raises(Exception):
            conn.execute("update public.invoices set total = 1 where id = %s", [second["id"]])
    pdf = invoice_pdf.render(orders.invoice(db, owner.claims, ws, second["id"]))
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_concurrent_invoices_get_distinct_consecutive_numbers(factory, db):
    owner, ws = factory.owner("Parallel Invoices")
    made = []
    for _ in range(6):
        order = orders.create_order(db, owner.claims, ws, {"lines": [{"description": "Item", "quantity": "1",
                                                                     "unit_price": "1"}]})
        orders.set_status(db, owner.claims, ws, order["id"], "confirmed", 1)
        made.append(order["id"])
    numbers, errors = [], []

    def invoice(order_id: str) -> None:
        try:
            version = orders.get(db, owner.claims, ws, order_id)["version"]
            numbers.append(orders.issue_invoice(db, owner.claims, ws, order_id, version=version)["number"])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=invoice, args=(order_id,)) for order_id in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(numbers) == list(range(1001, 1007))


def test_customer_revenue_and_timeline(shop, db):
    owner, viewer, ws, company, contact, mug = shop
    revenue = orders.customer_revenue(db, owner.claims, ws, COMPANY, company)
    assert revenue["orders"] >= 2 and revenue["by_currency"][0]["currency"] == "EUR"
    kinds = {e["kind"] for e in activities.timeline(db, owner.claims, ws, COMPANY, company).events}
    assert {"order", "invoice"} <= kinds
    rows, _ = orders.orders(db, viewer.claims, ws, customer=(COMPANY, company))
    assert rows and all(str(r["company_id"]) == company for r in rows)


def test_order_lines_are_audited_per_order_and_statement(factory, db, admin_conn):
    owner, ws = factory.owner("Audit Lines")
    made = orders.create_order(db, owner.claims, ws, {"lines": [
        {"description": "A", "quantity": "1", "unit_price": "2"}, {"description": "B", "quantity": "3", "unit_price": "1"}]})
    line = admin_conn.execute("select id from public.order_lines where order_id = %s and description = 'A'",
                              [made["id"]]).fetchone()["id"]
    with db.as_user(owner.claims) as conn:
        conn.execute("update public.order_lines set quantity = 5 where id = %s", [line])
    rows = admin_conn.execute(
        "select action, changed_by, changes from public.audit_log where table_name = 'order_lines' and row_id = %s"
        " order by id", [made["id"]]).fetchall()
    assert [r["action"] for r in rows] == ["insert", "update"]
    assert rows[0]["changes"] == {"lines": 2, "amount": 5.0} and str(rows[0]["changed_by"]) == owner.id
    change = rows[1]["changes"]["lines"][0]
    assert change["id"] == str(line) and change["changes"]["quantity"] == {"old": 1.000, "new": 5.000}
