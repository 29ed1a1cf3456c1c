"""Basket analysis on the real database: seven hand-made baskets whose rules are worked out below,
and a cross-check of support, confidence and lift against pandas on a generated dataset."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd
import pytest

from lib.analytics import basket, common
from tests import analytics_data as ad

PERIOD = common.Period(date(2026, 1, 1), date(2026, 1, 31))


@pytest.fixture(scope="module")
def baskets(factory, db):
    owner, ws = factory.owner("Basket Co")
    with db.as_user(owner.claims) as conn:
        p = {sku: ad.product(conn, ws, sku) for sku in "ABCDE"}
        rows = [
            ("1", "DE", "A B C"), ("2", "DE", "A B"), ("3", "DE", "A C"), ("4", "DE", "B C"),
            ("5", "FR", "A B D"), ("6", "FR", "E -A"),  # -A: a returned A is not a purchase
            ("7", "FR", "A A B"),  # A on two lines counts once
        ]
        for number, country, items in rows:
            lines = [(p[i.lstrip("-")], -1 if i.startswith("-") else 1, 2) for i in items.split()]
            ad.order(conn, ws, number, f"2026-01-{int(number) + 1:02d}", lines, country=country)
        ad.order(conn, ws, "8", "2026-01-20", [(p["A"], 1, 2), (p["B"], 1, 2)], status="cancelled")
        ad.order(conn, ws, "9", "2026-02-02", [(p["A"], 1, 2), (p["B"], 1, 2)])  # after the period
    return owner, ws


def _rules(result):
    return [(r["antecedent_sku"], r["consequent_sku"], r["orders_both"], r["support"], r["confidence"], r["lift"])
            for r in result.rules]


def test_rules_worked_out_by_hand(baskets, db):
    owner, ws = baskets
    # N = 7 orders; n(A) = 5, n(B) = 5, n(C) = 3, n(D) = n(E) = 1; n(AB) = 4, n(AC) = n(BC) = 2
    r = basket.rules(db, owner.claims, ws, PERIOD, min_support=0.2)  # 0.2 × 7 = 1.4 orders: D, E drop out
    assert (r.orders, r.frequent_products, r.total_rules) == (7, 3, 6)
    approx = pytest.approx
    assert _rules(r) == [
        ("A", "B", 4, approx(4 / 7), approx(4 / 5), approx(28 / 25)),
        ("B", "A", 4, approx(4 / 7), approx(4 / 5), approx(28 / 25)),
        ("A", "C", 2, approx(2 / 7), approx(2 / 5), approx(14 / 15)),
        ("B", "C", 2, approx(2 / 7), approx(2 / 5), approx(14 / 15)),
        ("C", "A", 2, approx(2 / 7), approx(2 / 3), approx(14 / 15)),
        ("C", "B", 2, approx(2 / 7), approx(2 / 3), approx(14 / 15)),
    ]
    strong = basket.rules(db, owner.claims, ws, PERIOD, min_support=0.2, min_confidence=0.5)
    assert [(x[0], x[1]) for x in _rules(strong)] == [("A", "B"), ("B", "A"), ("C", "A"), ("C", "B")]


def test_low_support_keeps_rare_pairs(baskets, db):
    owner, ws = baskets
    r = basket.rules(db, owner.claims, ws, PERIOD, min_support=0.1)  # 0.7 orders: every product
    assert r.frequent_products == 5 and r.total_rules == 10
    top = {(x[0], x[1]): x[2:] for x in _rules(r)}
    # n(AD) = 1: lift A → D = 1 × 7 / (5 × 1) = 1.4, confidence D → A = 1
    assert top[("A", "D")] == (1, pytest.approx(1 / 7), pytest.approx(1 / 5), pytest.approx(1.4))
    assert top[("D", "A")] == (1, pytest.approx(1 / 7), 1.0, pytest.approx(1.4))
    assert ("A", "E") not in top  # E's only order has no other purchase


def test_country_filter_and_limit(baskets, db):
    owner, ws = baskets
    # FR: orders 5, 6, 7; n(A) = n(B) = n(AB) = 2: support 2/3, confidence 1, lift 2 × 3 / (2 × 2) = 1.5
    fr = basket.rules(db, owner.claims, ws, PERIOD, countries=("FR",), min_support=0.5)
    assert fr.orders == 3
    assert _rules(fr) == [("A", "B", 2, pytest.approx(2 / 3), 1.0, 1.5), ("B", "A", 2, pytest.approx(2 / 3), 1.0, 1.5)]
    limited = basket.rules(db, owner.claims, ws, PERIOD, min_support=0.2, limit=2)
    assert len(limited.rules) == 2 and limited.total_rules == 6
    assert basket.countries(db, owner.claims, ws, PERIOD) == ["DE", "FR"]


def test_nothing_to_find(baskets, db, factory):
    owner, ws = baskets
    none = basket.rules(db, owner.claims, ws, common.Period(date(2025, 1, 1), date(2025, 1, 31)))
    assert (none.orders, none.frequent_products, none.rules) == (0, 0, [])
    other, _ = factory.owner("Nosy")
    assert basket.rules(db, other.claims, ws, PERIOD, min_support=0.1).orders == 0  # RLS: another workspace
    with pytest.raises(ValueError):
        basket.rules(db, owner.claims, ws, PERIOD, min_support=0)


def test_matches_pandas_on_generated_baskets(factory, db):
    owner, ws = factory.owner("Generated Baskets")
    rng = random.Random(7)
    skus = [f"P{i:02d}" for i in range(30)]
    weights = [1 / (i + 1) for i in range(30)]  # a few popular products, a long tail
    lines = []
    with db.as_user(owner.claims) as conn:
        ids = {sku: ad.product(conn, ws, sku) for sku in skus}
        for n in range(400):
            items = rng.choices(skus, weights, k=rng.randint(1, 6))
            if "P01" in items and rng.random() < 0.7:
                items.append("P05")  # a real association for the lift to find
            day = date(2026, 1, 1) + timedelta(days=n % 31)
            status = "cancelled" if n % 17 == 0 else "paid"
            ad.order(conn, ws, f"G{n}", day.isoformat(), [(ids[s], rng.choice([1, 1, 2]), 1) for s in items],
                     status=status)
            if status == "paid":
                lines += [(n, s) for s in items]
    df = pd.DataFrame(lines, columns=["order", "sku"]).drop_duplicates()
    n_orders = df["order"].nunique()
    count = df.groupby("sku")["order"].nunique()
    pairs = df.merge(df, on="order")
    pairs = pairs[pairs.sku_x != pairs.sku_y].groupby(["sku_x", "sku_y"])["order"].nunique()
    min_support = 0.03
    expected = {}
    for (a, b), both in pairs.items():
        if both / n_orders >= min_support:
            expected[(a, b)] = (both, both / n_orders, both / count[a], both * n_orders / (count[a] * count[b]))
    got = basket.rules(db, owner.claims, ws, PERIOD, min_support=min_support)
    assert got.orders == n_orders
    assert got.total_rules == len(expected) > 20
    for r in got.rules:
        both, support, confidence, lift = expected[(r["antecedent_sku"], r["consequent_sku"])]
        assert r["orders_both"] == both
        assert (r["support"], r["confidence"], r["lift"]) == (pytest.approx(support), pytest.approx(confidence),
                                                               pytest.approx(lift))
    assert max(got.rules, key=lambda r: r["lift"])["antecedent_sku"] in {"P01", "P05"}


# -- page -------------------------------------------------------------------------------------------

def _page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    return sign_in(fresh_app(), email).switch_page("views/analytics_basket.py").run()


def test_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("nobaskets")
    factory.owner("Empty baskets", email=email)
    at = _page(email)
    assert not at.exception
    assert "No sales yet. Import orders on the Import page" in texts(at)


def test_page_with_rules(baskets):
    from tests.test_app_flows import texts

    owner, _ = baskets
    at = _page(owner.email)
    assert not at.exception
    # the last 12 months: orders 1–7 and 9
    assert {m.label: m.value for m in at.metric} == {"Orders": "8", "Products at minimum support": "5", "Rules": "10"}
    assert len(at.get("plotly_chart")) == 2 and len(at.get("download_button")) == 2
    at.number_input(key="bk_support").set_value(20.0).run()
    assert {m.label: m.value for m in at.metric}["Rules"] == "6"
    at.number_input(key="bk_support").set_value(90.0).run()
    assert not at.exception and "Lower the minimum support" in texts(at)
    at.multiselect(key="bk_countries").set_value(["FR"]).run()
    at.number_input(key="bk_support").set_value(50.0).run()
    assert {m.label: m.value for m in at.metric} == {"Orders": "3", "Products at minimum support": "2", "Rules": "2"}
