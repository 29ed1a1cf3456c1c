"""Importing order lines on the real database: the retail layout (tests/fixtures/retail_sample.csv,
35 hand-written lines: sales, two C-cancellations, a return line, anonymous sales, repeated
customers, accents, five bad rows), customers and products created once and reused by later
imports, orders already imported, all or nothing, order totals kept by the trigger, other
layouts (discount, currency, month-first dates), the command line with a .csv.gz, and the Import
page under AppTest with "Orders (order lines)" chosen."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from lib import importer, order_import
from lib.errors import UserError
from tests.test_app_flows import fresh_app, sign_in
from tests.test_importer import csv_bytes, reasons

FIXTURES = Path(__file__).parent / "fixtures"
RETAIL = (FIXTURES / "retail_sample.csv").read_bytes()
HEADERS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
# Worked out by hand from the fixture: each order's sum of quantity x unit price.
TOTALS = {
    "536365": "57.64", "536366": "22.20", "536367": "78.48", "536370": "234.00", "C536379": "-27.50",
    "C536383": "-4.65", "536544": "10.97", "537000": "35.40", "537001": "19.00", "537002": "35.40",
    "537003": "13.60", "537004": "5.50", "537006": "0.00", "537007": "31.22", "537008": "39.60",
}
BAD_LINES = {26: "Quantity: “abc” is not a number", 28: "Unit price: -11062.06 is negative",
             29: "Order number: a value is required", 30: "Order date: “2010-13-45 10:00:00”",
             31: "Quantity: 0 is not a quantity"}


@pytest.fixture
def shop(factory):
    return factory.owner("Retail Import Shop")


def load(db, user, ws, data: bytes = RETAIL, filename: str = "retail.csv", **options) -> order_import.OrderImportResult:
    mapping = order_import.guess_mapping(importer.read_table(*importer.unpack(data, filename)).headers)
    return order_import.run_import(db, user.claims, ws, data, filename, mapping, **options)


def orders_of(admin_conn, ws) -> dict[str, dict]:
    rows = admin_conn.execute(
        "select o.*, c.external_id as company_ref, k.external_id as contact_ref from public.orders o"
        " left join public.companies c on c.id = o.company_id left join public.contacts k on k.id = o.contact_id"
        " where o.workspace_id = %s", [ws]).fetchall()
    return {r["number"]: r for r in rows}


def lines_of(admin_conn, ws, number: str) -> list[dict]:
    return admin_conn.execute(
        "select l.*, p.sku from public.order_lines l join public.orders o on o.id = l.order_id"
        " left join public.products p on p.id = l.product_id where o.workspace_id = %s and o.number = %s"
        " order by l.position", [ws, number]).fetchall()


def counts(admin_conn, ws) -> dict[str, int]:
    return admin_conn.execute(
        "select (select count(*) from public.orders where workspace_id = %(ws)s) as orders,"
        " (select count(*) from public.order_lines where workspace_id = %(ws)s) as lines,"
        " (select count(*) from public.products where workspace_id = %(ws)s) as products,"
        " (select count(*) from public.companies where workspace_id = %(ws)s) as companies", {"ws": ws}).fetchone()


# -- columns and values -----------------------------------------------------------------------

def test_the_retail_layout_and_other_headers_are_guessed():
    assert order_import.guess_mapping(HEADERS) == {
        "InvoiceNo": "number", "StockCode": "sku", "Description": "description", "Quantity": "quantity",
        "InvoiceDate": "ordered_at", "UnitPrice": "unit_price", "CustomerID": "customer_ref", "Country": "country"}
    assert order_import.guess_mapping(
        ["Order ID", "SKU", "Product name", "Qty", "Order date", "Price", "Customer email", "Customer name",
         "Currency", "Discount %", "Notes"]) == {
        "Order ID": "number", "SKU": "sku", "Product name": "description", "Qty": "quantity",
        "Order date": "ordered_at", "Price": "unit_price", "Customer email": "customer_email",
        "Customer name": "customer_name", "Currency": "currency", "Discount %": "discount", "Notes": None}
    assert order_import.missing_fields({"InvoiceNo": "number", "Quantity": "quantity"}) == ["Order date", "Unit price"]


def test_dates_in_iso_and_common_formats():
    utc = timezone.utc
    assert order_import.parse_when("2010-12-01 08:26:00") == datetime(2010, 12, 1, 8, 26, tzinfo=utc)
    assert order_import.parse_when("2010-12-01T08:26") == datetime(2010, 12, 1, 8, 26, tzinfo=utc)
    assert order_import.parse_when("2010-12-01") == datetime(2010, 12, 1, tzinfo=utc)
    assert order_import.parse_when("13/12/2010 8:26") == datetime(2010, 12, 13, 8, 26, tzinfo=utc)
    assert order_import.parse_when("01.12.10") == datetime(2010, 12, 1, tzinfo=utc)
    assert order_import.parse_when("12/13/2010 3:05 PM", day_first=False) == datetime(2010, 12, 13, 15, 5, tzinfo=utc)
    assert order_import.parse_when("5 Dec 2010") == datetime(2010, 12, 5, tzinfo=utc)
    assert order_import.parse_when("2010-12-01 08:26:00+01:00").utcoffset().total_seconds() == 3600
    for bad in ("12/13/2010", "2010-13-45", "soon", "01/01/1066"):
        with pytest.raises(ValueError):
            order_import.parse_when(bad)
    table = importer.read_table(csv_bytes([["Order", "Date"], ["1", "12/1/2010 8:26"], ["2", "12/13/2010 9:00"]]), "o.csv")
    assert order_import.guess_day_first(table, {"Order": "number", "Date": "ordered_at"}) is False
    table = importer.read_table(csv_bytes([["Order", "Date"], ["1", "1/12/2010"], ["2", "13/12/2010"]]), "o.csv")
    assert order_import.guess_day_first(table, {"Order": "number", "Date": "ordered_at"}) is True


# -- the retail sample ------------------------------------------------------------------------

def test_a_bad_row_loads_nothing_unless_the_valid_rows_are_wanted(db, admin_conn, shop):
    owner, ws = shop
    result = load(db, owner, ws)
    assert not result.written and result.rows == 35
    assert sorted(reasons(result)) == sorted(BAD_LINES)
    for line, start in BAD_LINES.items():
        assert reasons(result)[line].startswith(start), reasons(result)[line]
    assert dict(zip(HEADERS, result.rejected[1][2]))["Description"] == "Adjust bad debt"  # the line as in the file
    assert "Nothing was imported: 5 of 35 rows" in order_import.summary(result)
    assert counts(admin_conn, ws) == {"orders": 0, "lines": 0, "products": 0, "companies": 0}
    rejected = importer.rejected_csv(result).decode("utf-8-sig").splitlines()
    assert rejected[0] == "Line,Reason," + ",".join(HEADERS)
    assert rejected[2].startswith("28,Unit price: -11062.06 is negative")


def test_retail_sample_creates_customers_products_orders_and_lines(db, admin_conn, shop, monkeypatch):
    owner, ws = shop
    monkeypatch.setattr(order_import, "LINES_PER_CHUNK", 7)  # several chunks, orders cut across them
    seen: list[float] = []
    result = load(db, owner, ws, currency="GBP", load_valid_rows=True, progress=lambda f, m: seen.append(f))
    assert result.written and seen == sorted(seen) and seen[-1] == 1.0
    assert (result.orders, result.cancelled, result.inserted, len(result.rejected)) == (15, 2, 30, 5)
    assert (result.companies_created, result.customers_reused) == (7, 0)
    assert (result.products_created, result.products_reused) == (21, 0)
    assert result.anonymous_lines == 4
    assert result.unknown_countries == {"Unspecified": 1}
    assert order_import.countries_note(result) == "Countries not recognised, left blank: Unspecified (1 line)."
    assert order_import.summary(result).startswith("Orders: 15 orders (2 cancelled) with 30 lines, 5 rows rejected")

    orders = orders_of(admin_conn, ws)
    assert {n: str(o["total_amount"]) for n, o in orders.items()} == TOTALS
    assert sum(o["line_count"] for o in orders.values()) == 30
    assert {n for n, o in orders.items() if o["status"] == "cancelled"} == {"C536379", "C536383"}
    assert {o["status"] for n, o in orders.items() if not n.startswith("C")} == {"paid"}
    for o in orders.values():
        assert o["currency"] == "GBP"
        assert (o["paid_at"] if o["status"] == "paid" else o["cancelled_at"]) == o["ordered_at"]
    assert orders["536366"]["ordered_at"] == datetime(2010, 12, 1, 8, 28, tzinfo=timezone.utc)  # its earliest line
    assert {n: o["country"] for n, o in orders.items() if n in ("536370", "537001", "537002", "537008")} == {
        "536370": "FR", "537001": "IE", "537002": None, "537008": "IS"}
    assert {n for n, o in orders.items() if o["customer_id"] is None} == {"536544", "537002"}
    assert {o["company_ref"] for n, o in orders.items() if n in ("536365", "536366", "537003")} == {"17850"}
    assert orders["537000"]["company_id"] == orders["536370"]["company_id"]  # a repeated customer, one company

    companies = admin_conn.execute("select external_id, name, country, stage from public.companies"
                                   " where workspace_id = %s order by external_id", [ws]).fetchall()
    assert [(c["external_id"], c["name"], c["country"], c["stage"]) for c in companies] == [
        ("12347", "Customer 12347", "IS", "customer"), ("12583", "Customer 12583", "FR", "customer"),
        ("13047", "Customer 13047", "GB", "customer"), ("14527", "Customer 14527", "GB", "customer"),
        ("14911", "Customer 14911", "IE", "customer"), ("15311", "Customer 15311", "GB", "customer"),
        ("17850", "Customer 17850", "GB", "customer")]

    products = {p["sku"]: p for p in admin_conn.execute(
        "select * from public.products where workspace_id = %s", [ws]).fetchall()}
    assert len(products) == 21 and "B" not in products  # the bad-debt row's product was never made
    assert (products["85123A"]["name"], products["85123A"]["price"]) == ("WHITE HANGING HEART T-LIGHT HOLDER",
                                                                          Decimal("2.5500"))
    assert products["22745"]["name"] == "POPPY'S PLAYHOUSE BEDROOM"  # trimmed
    assert products["22961"]["name"] == "Crème brûlée ramekin — café"
    assert {p["currency"] for p in products.values()} == {"GBP"}

    lines = lines_of(admin_conn, ws, "537000")
    assert [(l["position"], l["sku"], l["description"], l["quantity"], l["amount"]) for l in lines] == [
        (1, "22960", "JAM MAKING SET WITH JARS", Decimal("6.000"), Decimal("25.50")),
        (2, "22961", "Crème brûlée ramekin — café", Decimal("12.000"), Decimal("17.40")),
        (3, "22728", "ALARM CLOCK BAKELIKE PINK", Decimal("-2.000"), Decimal("-7.50"))]  # a return line
    assert [(l["position"], l["sku"]) for l in lines_of(admin_conn, ws, "537004")] == [(1, "21212")]
    assert [(l["sku"], l["description"]) for l in lines_of(admin_conn, ws, "537003")] == [
        ("22197", "SMALL POPCORN HOLDER"), ("85123A", None)]
    assert [l["amount"] for l in lines_of(admin_conn, ws, "C536379")] == [Decimal("-27.50")]


def test_a_failure_during_the_load_leaves_nothing_behind(db, admin_conn, shop):
    owner, ws = shop

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("Saving order lines: 0"):  # customers, products and orders are written by now
            assert admin_conn.execute("select count(*) as n from public.orders where workspace_id = %s",
                                      [ws]).fetchone()["n"] == 0  # not visible outside the transaction
            raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError):
        load(db, owner, ws, load_valid_rows=True, progress=progress)
    assert counts(admin_conn, ws) == {"orders": 0, "lines": 0, "products": 0, "companies": 0}


def test_a_later_import_reuses_customers_and_products_and_refuses_orders_already_imported(db, admin_conn, shop):
    owner, ws = shop
    assert load(db, owner, ws, load_valid_rows=True).written
    admin_conn.execute("insert into public.contacts (workspace_id, first_name, external_id) values (%s, 'Kim', '55555')",
                       [ws])
    more = csv_bytes([HEADERS,
                      ["538000", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "3", "2011-01-04 10:00:00", "2.55", "17850",
                       "United Kingdom"],
                      ["538000", "90001", "NEW LAMP", "1", "2011-01-04 10:00:00", "12.5", "17850", "United Kingdom"],
                      ["538001", "90001", "NEW LAMP", "2", "2011-01-04 11:00:00", "12.5", "99999", "France"],
                      ["538002", "85123A", "", "1", "2011-01-05 09:00:00", "2.55", "55555", "France"]])
    result = load(db, owner, ws, more)
    assert result.written and (result.orders, result.inserted) == (3, 4)
    assert (result.customers_reused, result.companies_created) == (2, 1)
    assert (result.products_reused, result.products_created) == (1, 1)
    orders = orders_of(admin_conn, ws)
    assert orders["538000"]["company_id"] == orders["536365"]["company_id"]
    assert (orders["538002"]["contact_ref"], orders["538002"]["company_id"]) == ("55555", None)
    assert orders["538002"]["customer_id"] is not None
    assert counts(admin_conn, ws) == {"orders": 18, "lines": 34, "products": 22, "companies": 8}

    again = load(db, owner, ws, load_valid_rows=True)
    assert again.written and (again.orders, again.inserted) == (0, 0)
    assert reasons(again)[2] == "Order 536365 is already in this workspace (imported before?)."
    assert len(again.rejected) == 35
    assert counts(admin_conn, ws)["orders"] == 18


def test_other_layouts_discounts_currencies_and_one_customer_per_order(db, admin_conn, shop):
    owner, ws = shop
    data = csv_bytes([
        ["Order number", "SKU", "Product", "Qty", "Date", "Price", "Currency", "Discount", "Customer ID",
         "Customer name", "Customer email"],
        ["SO-1", "A-1", "Chair", "2", "12/1/2024 9:30 AM", "100", "usd", "10%", "K1", "Kettle & Co", "buy@kettle.example"],
        ["SO-1", "A-2", "Table", "1", "12/1/2024 9:30 AM", "250.5", "USD", "", "K1", "Kettle & Co", "buy@kettle.example"],
        ["SO-2", "A-1", "Chair", "1", "12/13/2024 2:00 PM", "100", "USD", "0", "K1", "", ""],
        ["SO-2", "A-1", "Chair", "1", "12/13/2024 2:00 PM", "100", "USD", "0", "K2", "", ""],
        ["SO-3", "A-2", "Table", "1", "12/14/2024", "250", "USD", "", "", "", ""],
        ["SO-3", "A-2", "Table", "1", "12/14/2024", "250", "EUR", "", "", "", ""],
        ["SO-4", "A-3", "Lamp", "1", "12/15/2024", "30", "US", "120", "K3", "", "not-an-email"],
    ])
    result = load(db, owner, ws, data, "shop.csv", load_valid_rows=True)
    assert result.day_first is False
    assert reasons(result) == {
        4: "Order SO-2 names more than one customer id (K1, K2); an order has one customer.",
        5: "Order SO-2 names more than one customer id (K1, K2); an order has one customer.",
        6: "Order SO-3 has lines in more than one currency (EUR, USD).",
        7: "Order SO-3 has lines in more than one currency (EUR, USD).",
        8: "Currency: “US” is not a three-letter currency code such as EUR or USD.; "
           "Discount %: “120” is not a percentage between 0 and 100."}
    orders = orders_of(admin_conn, ws)
    assert list(orders) == ["SO-1"]
    assert (orders["SO-1"]["currency"], orders["SO-1"]["total_amount"]) == ("USD", Decimal("430.50"))
    assert orders["SO-1"]["ordered_at"] == datetime(2024, 12, 1, 9, 30, tzinfo=timezone.utc)
    company = admin_conn.execute("select name, email, external_id from public.companies where workspace_id = %s",
                                 [ws]).fetchone()
    assert company == {"name": "Kettle & Co", "email": "buy@kettle.example", "external_id": "K1"}
    assert [l["discount"] for l in lines_of(admin_conn, ws, "SO-1")] == [Decimal("10.00"), Decimal("0.00")]


def test_preview_roles_and_currency_option(db, admin_conn, shop, factory):
    owner, ws = shop
    rows = order_import.preview(db, owner.claims, ws, RETAIL, "retail.csv", order_import.guess_mapping(HEADERS),
                                limit=35)
    assert len(rows) == 35
    by_line = {r.line: r for r in rows}
    assert (by_line[2].status, by_line[2].reason) == ("new", "Sale 536365 · customer 17850 (new) · product 85123A (new)")
    assert by_line[13].reason == "Cancellation C536379 · customer 14527 (new) · product D (new)"
    assert by_line[15].reason.startswith("Sale 536544 · no customer (anonymous sale)")
    assert [r.line for r in rows if r.status == "rejected"] == sorted(BAD_LINES)
    assert counts(admin_conn, ws)["orders"] == 0
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="cannot import orders"):
        load(db, viewer, ws)
    with pytest.raises(UserError, match="Currency"):
        load(db, owner, ws, currency="pounds")
    with pytest.raises(UserError, match="Map a column to each of: Unit price"):
        order_import.run_import(db, owner.claims, ws, RETAIL, "retail.csv",
                                {**order_import.guess_mapping(HEADERS), "UnitPrice": None})


def test_command_line_with_a_gzipped_file(db, admin_conn, shop, tmp_path, capsys):
    owner, ws = shop
    path = tmp_path / "online_retail.csv.gz"
    path.write_bytes(gzip.compress(RETAIL))
    args = [str(path), "--kind", "order", "--workspace", ws, "--email", owner.email, "--currency", "GBP"]
    assert importer.main(args) == 1
    out = capsys.readouterr().out
    assert "'InvoiceNo'" in out and "-> Order number" in out and "Nothing was imported: 5 of 35 rows" in out
    assert "line 28: Unit price: -11062.06 is negative" in out
    assert counts(admin_conn, ws)["orders"] == 0
    assert importer.main(args + ["--load-valid"]) == 0
    out = capsys.readouterr().out
    assert "Orders: 15 orders (2 cancelled) with 30 lines, 5 rows rejected" in out
    assert "Unspecified (1 line)" in out and "100% Done" in out
    assert {o["currency"] for o in orders_of(admin_conn, ws).values()} == {"GBP"}
    assert importer.main(args[:-2] + ["--currency", "pounds"]) == 2


# -- the Import page -----------------------------------------------------------------------

def test_import_page_with_orders(factory, admin_conn):
    owner, ws = factory.owner("Retail Upload Shop")
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/import_customers.py").run()
    at.segmented_control(key="import_kind").set_value("order").run()
    assert not at.exception
    assert at.download_button(key="import_template")
    at.file_uploader(key="import_file").set_value(("retail.csv.gz", gzip.compress(RETAIL), "application/gzip"))
    at.run()
    assert not at.exception
    assert [at.selectbox(key=f"import_map_{i}").value for i in range(8)] == [
        "number", "sku", "description", "quantity", "ordered_at", "unit_price", "customer_ref", "country"]
    at.selectbox(key="import_map_5").set_value("").run()  # no unit price: no preview, no import
    assert "Map a column to each of: Unit price" in " ".join(w.value for w in at.warning)
    assert at.button(key="import_run").disabled and not at.dataframe
    at.selectbox(key="import_map_5").set_value("unit_price").run()
    at.text_input(key="import_order_currency").set_value("GBP").run()
    preview = at.dataframe[0].value
    assert list(preview["Status"])[:2] == ["✅ new", "✅ new"] and len(preview) == importer.PREVIEW_ROWS
    at.button(key="import_run").click().run()
    assert not at.exception
    assert "Nothing was imported" in " ".join(e.value for e in at.error)
    assert at.download_button(key="import_rejected_download")
    assert counts(admin_conn, ws)["orders"] == 0
    at.checkbox(key="import_load_valid").check().run()
    at.button(key="import_run").click().run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["15", "30", "5", "7", "21"]
    assert "Orders: 15 orders" in at.toast[0].value
    assert r"left blank\: Unspecified \(1 line\)" in " ".join(c.value for c in at.caption)  # markdown-escaped
    assert counts(admin_conn, ws) == {"orders": 15, "lines": 30, "products": 21, "companies": 7}
    assert {o["currency"] for o in orders_of(admin_conn, ws).values()} == {"GBP"}
