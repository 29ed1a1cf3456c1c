"""Customer metrics, correlations and least-squares fits on the real database: four customers with
known orders, discounts and tickets give the metric rows below; SQL's corr() and regr_*() agree
with Python's own computation on them."""

from __future__ import annotations

import statistics
from datetime import date

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from lib.analytics import common, correlations as cr
from tests import analytics_data as ad

MARCH = common.Period(date(2026, 3, 1), date(2026, 3, 31))


@pytest.fixture(scope="module")
def customers(factory, db, runtime):
    owner, ws = factory.owner("Correlated Co")
    with db.as_user(owner.claims) as conn:
        a = ad.product(conn, ws, "A")
        k1, k2, k3, k4 = (ad.company(conn, ws, f"K{i}") for i in range(1, 5))
        ad.contact(conn, ws, "No", "Sales")
        o = ad.order
        o(conn, ws, "1", "2025-06-30", [(a, 1, 10)], company_id=k1)
        o(conn, ws, "2", "2026-03-01", [(a, 2, 10, 10)], company_id=k1)        # 18, 2 discount on 20
        o(conn, ws, "3", "2026-03-21", [(a, 1, 10)], company_id=k1)            # 10
        o(conn, ws, "4", "2026-03-31 23:00", [(a, 5, 10)], company_id=k2)      # 50
        o(conn, ws, "5", "2026-03-31", [(a, 5, 10)], company_id=k2, currency="USD")  # another currency
        o(conn, ws, "6", "2026-03-11", [(a, 1, 10)], company_id=k3)            # 10
        o(conn, ws, "7", "2026-03-16", [(a, 3, 10, 50)], company_id=k3)        # 15, 15 discount on 30
        o(conn, ws, "8", "2026-02-01", [(a, 1, 10)], company_id=k4)
        o(conn, ws, "9", "2026-03-30", [(a, 1, 10)], company_id=k4)            # 10
        o(conn, ws, "10", "2026-03-15", [(a, 9, 10)], company_id=k4, status="cancelled")
        o(conn, ws, "11", "2026-03-15", [(a, 9, 10)])                          # anonymous
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        ad.ticket(db, admin, owner, ws, "2026-03-02", solved="2026-03-03", csat=4, company_id=k1)
        ad.ticket(db, admin, owner, ws, "2026-03-05", solved="2026-03-06", csat=2, company_id=k1)
        ad.ticket(db, admin, owner, ws, "2026-02-05", solved="2026-02-06", csat=1, company_id=k1)  # before
        ad.ticket(db, admin, owner, ws, "2026-03-12", solved="2026-03-13", csat=5, company_id=k3)
        ad.ticket(db, admin, owner, ws, "2026-03-20", company_id=k4)
    return owner, ws


EXPECTED = [  # name, recency, frequency, monetary, tenure, tickets, csat, discount %
    ("K2", 0, 1, 50, 0, 0, None, 0),
    ("K1", 10, 2, 28, 274, 2, 3, 100 * 2 / 30),
    ("K3", 15, 2, 25, 20, 1, 5, 100 * 15 / 40),
    ("K4", 1, 1, 10, 58, 1, None, 0),
]


def test_metrics_per_customer(customers, db):
    owner, ws = customers
    result = cr.analyse(db, owner.claims, ws, "EUR", MARCH)
    got = [(r["name"], *(r[m] for m in cr.METRICS)) for r in result.rows]
    assert got == [(n, *(pytest.approx(v) if v is not None else None for v in values)) for n, *values in EXPECTED]


def test_correlations_and_fits_match_python(customers, db):
    owner, ws = customers
    result = cr.analyse(db, owner.claims, ws, "EUR", MARCH)
    columns = {m: [row[i + 1] for row in EXPECTED] for i, m in enumerate(cr.METRICS)}
    for a in cr.METRICS:
        for b in cr.METRICS:
            if a == b or "csat" in (a, b):
                continue
            expected = statistics.correlation(columns[a], columns[b])
            assert result.matrix[(a, b)] == pytest.approx(expected), (a, b)
            assert result.pairs[(a, b)] == 4
            slope, intercept = np.polyfit(columns[a], columns[b], 1)
            fit = result.fits[(a, b)]
            assert (fit["slope"], fit["intercept"], fit["n"]) == (pytest.approx(slope), pytest.approx(intercept), 4)
            assert fit["r2"] == pytest.approx(expected ** 2)
    # CSAT is known for K1 (3) and K3 (5) only: two points, a perfect line
    assert result.pairs[("csat", "monetary")] == 2
    assert result.matrix[("csat", "monetary")] == pytest.approx(-1.0)
    fit = result.fits[("monetary", "csat")]  # csat = a + b × monetary through (28, 3) and (25, 5)
    assert (fit["slope"], fit["intercept"]) == (pytest.approx(-2 / 3), pytest.approx(3 + 2 / 3 * 28))
    assert result.matrix[("csat", "csat")] == 1.0 and result.pairs[("csat", "csat")] == 2


def test_constant_metric_has_no_correlation_and_other_workspaces_see_nothing(customers, db, factory):
    owner, ws = customers
    april = cr.analyse(db, owner.claims, ws, "EUR", common.Period(date(2026, 3, 31), date(2026, 4, 30)))
    assert [r["name"] for r in april.rows] == ["K2"]
    assert april.matrix[("frequency", "monetary")] is None  # one customer: undefined
    other, _ = factory.owner("Outsider")
    assert cr.analyse(db, other.claims, ws, "EUR", MARCH).rows == []
    with pytest.raises(ValueError):
        cr._col("name; drop table x")


# -- page -------------------------------------------------------------------------------------------

def _page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    return sign_in(fresh_app(), email).switch_page("views/analytics_correlations.py").run()


def test_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("nocorr")
    factory.owner("Nothing to correlate", email=email)
    at = _page(email)
    assert not at.exception
    assert "No sales yet. Import orders on the Import page" in texts(at)


def test_page_with_customers(customers):
    from tests.test_app_flows import texts

    owner, _ = customers
    at = _page(owner.email)
    assert not at.exception
    assert "4 customers with a sale in EUR" in texts(at)
    assert len(at.get("plotly_chart")) == 2 and len(at.get("download_button")) == 2
    assert "R² = " in texts(at)
    at.selectbox(key="co_y").set_value("csat").run()
    assert not at.exception and "over 2 customers" in texts(at)
    at.multiselect(key="co_metrics").set_value(["csat"]).run()
    assert "Pick at least two metrics" in texts(at)
