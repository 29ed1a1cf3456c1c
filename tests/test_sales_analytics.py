"""Overview KPIs and sales breakdowns on the real database: a hand-made set of orders (sales,
a return line, a cancellation, a draft, another currency, an anonymous sale), deals with dated
stage history and tickets with known times give figures worked out by hand below."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from psycopg.rows import dict_row

from lib.analytics import common, sales
from tests import analytics_data as ad

MARCH = common.Period(date(2026, 3, 1), date(2026, 3, 31))  # previous: 2026-01-29 .. 2026-02-28
LONG = common.Period(date(2025, 9, 1), date(2026, 3, 31))  # 212 days: by month; previous 2025-02-01 .. 2025-08-31


@pytest.fixture(scope="module")
def shop(factory, db, runtime):
    owner, ws = factory.owner("Sales Stats Co")
    with db.as_user(owner.claims) as conn:
        a = ad.product(conn, ws, "A", "Mugs", cost=4)
        b = ad.product(conn, ws, "B", "Mugs")  # no cost
        c = ad.product(conn, ws, "C", "Tea", cost=1)
        d = ad.product(conn, ws, "D", None, cost=2, currency="USD")  # cost in another currency: not costed
        x, y, z = (ad.company(conn, ws, n) for n in ("Xeno", "Yarrow", "Zest"))
        w = ad.contact(conn, ws, "Wendy", "Walker")
        o = ad.order
        o(conn, ws, "1", "2026-02-10", [(a, 2, 10), (b, 1, 5)], company_id=x, country="DE")       # 25, previous
        o(conn, ws, "2", "2026-03-05", [(a, 1, 10), (c, 4, 2.5)], company_id=x, country="DE")     # 20
        o(conn, ws, "3", "2026-03-10", [(b, 2, 5), (c, 2, 2.5), (a, -1, 10)], company_id=y, country="FR",
          status="shipped")                                                                      # 5 (a return)
        o(conn, ws, "4", "2026-03-20", [(a, 3, 10, 10)], company_id=z, country="DE", status="confirmed")  # 27
        o(conn, ws, "5", "2026-03-25", [(d, 1, 8)])                                              # 8, anonymous
        o(conn, ws, "6", "2026-03-28", [(a, 10, 10)], company_id=y, status="cancelled")          # not a sale
        o(conn, ws, "7", "2026-03-30", [(a, 1, 10)], contact_id=w, status="draft")               # not a sale
        o(conn, ws, "8", "2026-03-15", [(c, 1, 3)], company_id=x, currency="USD")                # other currency
        o(conn, ws, "9", "2025-12-01", [(a, 1, 10)], company_id=z, country="DE")                 # Z's first sale
        o(conn, ws, "10", "2026-02-20", [(b, 1, 5)], contact_id=w, country="FR", status="invoiced")  # 5, previous
        o(conn, ws, "11", "2025-03-15", [(b, 2, 5)], country="GB")                               # 10, anonymous
    s = ad.stages(db, owner, ws)
    ad.deal(db, owner, ws, [(s["Lead in"], "2026-02-01"), (s["Won"], "2026-03-10")], 100)
    ad.deal(db, owner, ws, [(s["Lead in"], "2026-02-15"), (s["Lost"], "2026-03-12")], 50)
    ad.deal(db, owner, ws, [(s["Lead in"], "2026-03-05")], 30)
    ad.deal(db, owner, ws, [(s["Lead in"], "2026-01-10"), (s["Won"], "2026-02-20")], 70)
    ad.deal(db, owner, ws, [(s["Lead in"], "2026-03-01")], 999, currency="USD")
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        ad.ticket(db, admin, owner, ws, "2026-02-10", solved="2026-03-05")
        ad.ticket(db, admin, owner, ws, "2026-03-10")
        ad.ticket(db, admin, owner, ws, "2026-03-02", closed="2026-03-03")
        ad.ticket(db, admin, owner, ws, "2026-04-05")
    return owner, ws, {"A": a, "B": b, "C": c, "D": d, "X": x, "Y": y, "Z": z}


def test_currencies_and_span(shop, db):
    owner, ws, _ = shop
    assert common.currencies(db, owner.claims, ws) == ["EUR", "USD"]
    assert common.sales_span(db, owner.claims, ws) == (date(2025, 3, 15), date(2026, 3, 25))


def test_overview_kpis_against_previous_period(shop, db):
    owner, ws, _ = shop
    ov = sales.overview(db, owner.claims, ws, "EUR", MARCH)
    cur, prev = ov.current, ov.previous
    # March: orders 2, 3, 4, 5 = 20 + 5 + 27 + 8
    assert (cur["revenue"], cur["orders"], cur["aov"]) == (60.0, 4, 15.0)
    # active X, Y, Z; new only Y (X bought in February, Z in December); repeat X (1, 2) and Z (9, 4)
    assert (cur["active_customers"], cur["new_customers"], cur["repeat_rate"]) == (3, 1, pytest.approx(2 / 3))
    # won 1 + lost 1 in March; open at the end of March: the 30 (the USD deal is another currency)
    assert (cur["won"], cur["lost"], cur["win_rate"], cur["open_pipeline"]) == (1, 1, 0.5, 30.0)
    assert cur["open_tickets"] == 1
    # previous period (29 Jan – 28 Feb): orders 1 and 10; X and W both new, neither has two sales yet
    assert (prev["revenue"], prev["orders"], prev["aov"]) == (30.0, 2, 15.0)
    assert (prev["active_customers"], prev["new_customers"], prev["repeat_rate"]) == (2, 2, 0.0)
    assert (prev["won"], prev["lost"], prev["win_rate"], prev["open_pipeline"]) == (1, 0, 1.0, 150.0)
    assert prev["open_tickets"] == 1


def test_overview_trend_per_day(shop, db):
    owner, ws, _ = shop
    ov = sales.overview(db, owner.claims, ws, "EUR", MARCH)
    assert ov.grain == "day" and len(ov.trend) == 31
    by_day = {t["bucket"].day: t for t in ov.trend}
    assert {d: t["revenue"] for d, t in by_day.items() if t["orders"]} == {5: 20.0, 10: 5.0, 20: 27.0, 25: 8.0}
    assert by_day[10]["new_customers"] == 1 and by_day[5]["repeat_rate"] == 1.0 and by_day[10]["repeat_rate"] == 0
    assert by_day[9]["open_pipeline"] == 180.0 and by_day[10]["open_pipeline"] == 80.0  # D1 won on the 10th
    assert by_day[12]["open_pipeline"] == 30.0
    assert by_day[10]["win_rate"] == 1.0 and by_day[11]["win_rate"] is None and by_day[12]["win_rate"] == 0.0
    assert [by_day[d]["open_tickets"] for d in (1, 2, 4, 5, 10)] == [1, 2, 1, 0, 1]


def test_revenue_by_month_with_previous_period_overlay(shop, db):
    owner, ws, _ = shop
    r = sales.sales_report(db, owner.claims, ws, "EUR", LONG)
    assert r.grain == "month"
    assert [m["label"] for m in r.months] == ["Sep 2025", "Oct 2025", "Nov 2025", "Dec 2025", "Jan 2026",
                                              "Feb 2026", "Mar 2026"]
    assert [m["revenue"] for m in r.months] == [0, 0, 0, 10.0, 0, 30.0, 60.0]
    assert [m["orders"] for m in r.months] == [0, 0, 0, 1, 0, 2, 4]
    # the previous period's months in the same position: Feb 2025 ↔ Sep, Mar 2025 (order 11) ↔ Oct, …
    assert [m["prev_revenue"] for m in r.months] == [0, 10.0, 0, 0, 0, 0, 0]
    assert r.revenue == 100.0 and r.orders == 7


def test_country_and_category_breakdowns_and_margin(shop, db):
    owner, ws, _ = shop
    r = sales.sales_report(db, owner.claims, ws, "EUR", MARCH)
    countries = {c["name"]: (c["revenue"], c["orders"], c["customers"], c["prev_revenue"]) for c in r.countries}
    assert countries == {"Germany": (47.0, 2, 2, 25.0), "France": (5.0, 1, 1, 5.0), "Unknown": (8.0, 1, 0, 0.0)}
    assert [c["country"] for c in r.countries] == ["DE", "", "FR"]
    cats = {c["name"]: (c["revenue"], c["quantity"], c["prev_revenue"]) for c in r.categories}
    assert cats == {"Mugs": (37.0, 5.0, 30.0), "Tea": (15.0, 6.0, 0.0), sales.UNCATEGORISED: (8.0, 1.0, 0.0)}
    # costed lines: A (cost 4) 10 − 10 + 27 with quantities 1 − 1 + 3; C (cost 1) 10 + 5 with 4 + 2
    m = r.margin
    assert (m["revenue"], m["costed_revenue"], m["cost"], m["margin"]) == (60.0, 42.0, 18.0, 24.0)
    assert m["margin_pct"] == pytest.approx(100 * 24 / 42) and m["coverage_pct"] == pytest.approx(70.0)
    mugs = next(c for c in r.categories if c["name"] == "Mugs")
    assert (mugs["m_costed_revenue"], mugs["m_cost"], mugs["m_margin"]) == (27.0, 12.0, 15.0)
    # February: A 2 × 10 costed (cost 8) out of 30
    p = r.previous_margin
    assert (p["revenue"], p["costed_revenue"], p["cost"], p["margin"]) == (30.0, 20.0, 8.0, 12.0)


def test_top_products_and_customers_with_drill_down(shop, db):
    owner, ws, ids = shop
    top = sales.top_products(db, owner.claims, ws, "EUR", MARCH)
    assert [(p["name"], p["revenue"], p["quantity"], p["orders"], p["customers"], p["margin"]) for p in top] == [
        ("Product A", 27.0, 3.0, 3, 3, 15.0), ("Product C", 15.0, 6.0, 2, 2, 9.0),
        ("Product B", 10.0, 2.0, 1, 1, None), ("Product D", 8.0, 1.0, 1, 0, None)]
    fr = sales.top_products(db, owner.claims, ws, "EUR", MARCH, countries=("FR",))
    assert [(p["sku"], p["revenue"]) for p in fr] == [("B", 10.0), ("C", 5.0), ("A", -10.0)]
    assert [p["sku"] for p in sales.top_products(db, owner.claims, ws, "EUR", MARCH, countries=("",))] == ["D"]
    tea = sales.top_products(db, owner.claims, ws, "EUR", MARCH, categories=("Tea",))
    assert [(p["sku"], p["revenue"]) for p in tea] == [("C", 15.0)]
    uncat = sales.top_products(db, owner.claims, ws, "EUR", MARCH, categories=("",))
    assert [p["sku"] for p in uncat] == ["D"]
    dec = sales.top_products(db, owner.claims, ws, "EUR", LONG, months=(date(2025, 12, 1),))
    assert [(p["sku"], p["revenue"]) for p in dec] == [("A", 10.0)]

    customers = sales.top_customers(db, owner.claims, ws, "EUR", MARCH)
    assert [(c["name"], c["revenue"], c["orders"], c["kind"]) for c in customers] == [
        ("Zest", 27.0, 1, "company"), ("Xeno", 20.0, 1, "company"), ("Yarrow", 5.0, 1, "company")]
    assert customers[0]["customer_id"] == ids["Z"]
    tea_buyers = sales.top_customers(db, owner.claims, ws, "EUR", MARCH, categories=("Tea",))
    assert [(c["name"], c["revenue"]) for c in tea_buyers] == [("Xeno", 10.0), ("Yarrow", 5.0)]
    de = sales.top_customers(db, owner.claims, ws, "EUR", LONG, countries=("DE",), months=(date(2026, 3, 1),))
    assert [(c["name"], c["revenue"]) for c in de] == [("Zest", 27.0), ("Xeno", 20.0)]


def test_revenue_is_the_sum_of_sale_lines(shop, db):
    """total_amount (order level) and the lines (product level) tell the same revenue."""
    owner, ws, _ = shop
    r = sales.sales_report(db, owner.claims, ws, "EUR", LONG)
    assert sum(c["revenue"] for c in r.categories) == r.revenue == sum(c["revenue"] for c in r.countries)


def test_other_workspaces_and_currencies_see_their_own(shop, db, factory):
    owner, ws, _ = shop
    usd = sales.overview(db, owner.claims, ws, "USD", MARCH).current
    assert (usd["revenue"], usd["orders"], usd["open_pipeline"]) == (3.0, 1, 999.0)
    other, other_ws = factory.owner("Elsewhere")
    assert sales.overview(db, other.claims, ws, "EUR", MARCH).current["orders"] == 0  # RLS: not a member
    empty = sales.overview(db, other.claims, other_ws, "EUR", MARCH)
    assert empty.current["revenue"] == 0 and empty.current["aov"] is None and empty.current["repeat_rate"] is None


# -- pages ------------------------------------------------------------------------------------------

def _page(email: str, path: str):
    from tests.test_app_flows import fresh_app, sign_in

    at = sign_in(fresh_app(), email)
    return at.switch_page(path).run()


def test_overview_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("quiet")
    factory.owner("Quiet shop", email=email)
    at = _page(email, "views/analytics_overview.py")
    assert not at.exception
    assert "No sales yet. Import orders on the Import page" in texts(at)
    assert [m.value for m in at.metric][:2] == ["0 EUR", "0"]


def test_overview_page_with_data(shop):
    from tests.test_app_flows import texts

    owner, _, _ = shop
    at = _page(owner.email, "views/analytics_overview.py")
    assert not at.exception
    assert "No sales yet" not in texts(at)
    at.segmented_control(key="ov_preset").set_value("all").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Revenue"] == "110 EUR" and values["Orders"] == "8"
    assert len(at.get("plotly_chart")) == 1 and len(at.get("download_button")) == 2


def test_sales_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("nosales")
    factory.owner("No sales shop", email=email)
    at = _page(email, "views/analytics_sales.py")
    assert not at.exception
    assert "No sales yet. Import orders on the Import page" in texts(at)


def test_sales_page_with_data(shop):
    from tests.test_app_flows import texts

    owner, _, _ = shop
    at = _page(owner.email, "views/analytics_sales.py")
    assert not at.exception
    assert "Revenue by month" in texts(at)  # 12 months: monthly bars
    assert len(at.get("plotly_chart")) == 5  # month, country, category, products, margin
    assert len(at.get("download_button")) == 6
    values = {m.label: m.value for m in at.metric}
    assert values["Revenue"] == "100 EUR" and values["Margin"] == "42 EUR"  # 6 + 12 + 24
    at.selectbox(key="sa_currency").set_value("USD").run()
    assert not at.exception and {m.label: m.value for m in at.metric}["Revenue"] == "3 USD"


def test_lines_without_a_product_are_one_row(factory, db):
    owner, ws = factory.owner("Loose lines")
    with db.as_user(owner.claims) as conn:
        a = ad.product(conn, ws, "A")
        ad.order(conn, ws, "1", "2026-03-02", [(None, 2, 5), (a, 1, 4)])
        ad.order(conn, ws, "2", "2026-03-03", [(None, 1, 5), (None, 1, 1)])
    top = sales.top_products(db, owner.claims, ws, "EUR", MARCH)
    assert [(p["name"], p["revenue"], p["orders"], p["sku"]) for p in top] == [
        (sales.NO_PRODUCT, 16.0, 2, None), ("Product A", 4.0, 1, "A")]


def test_pages_take_every_preset(shop):
    owner, _, _ = shop
    for path, key in (("views/analytics_overview.py", "ov"), ("views/analytics_sales.py", "sa"),
                      ("views/analytics_correlations.py", "co")):
        at = _page(owner.email, path)
        for preset in ("30d", "90d", "all"):
            at.segmented_control(key=f"{key}_preset").set_value(preset).run()
            assert not at.exception, (path, preset)
