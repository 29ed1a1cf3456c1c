"""Customer analytics on the real database: small datasets whose RFM scores, segments, cohort
matrix, lifetime value and churn flags are worked out by hand below; a cross-check of the SQL
RFM and cohorts against pandas on a generated dataset; saved segments; the page under AppTest."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from lib import segments
from lib.analytics import customers as ca
from lib.errors import FormErrors, UserError

UTC = timezone.utc


class Shop:
    """Customers with ids in a known order (A < B < …, for the tie-breaks) and their orders."""

    def __init__(self, db, owner, ws):
        self.db, self.owner, self.ws = db, owner, ws
        self.prefix = uuid.uuid4().hex[:8]
        self.ids: dict[str, str] = {}
        self.product_id: dict[str, str] = {}

    def customer(self, label: str, n: int, contact: bool = False) -> str:
        cid = f"{self.prefix}-0000-4000-8000-{n:012d}"
        with self.db.as_user(self.owner.claims) as conn:
            if contact:
                conn.execute("insert into public.contacts (id, workspace_id, first_name, last_name)"
                             " values (%s, %s, %s, 'Person')", [cid, self.ws, label])
            else:
                conn.execute("insert into public.companies (id, workspace_id, name) values (%s, %s, %s)",
                             [cid, self.ws, label])
        self.ids[label] = cid
        return cid

    def product(self, sku: str, cost: float | None) -> str:
        with self.db.as_user(self.owner.claims) as conn:
            self.product_id[sku] = str(conn.execute(
                "insert into public.products (workspace_id, sku, name, price, cost) values (%s, %s, %s, 10, %s)"
                " returning id", [self.ws, sku, sku, cost]).fetchone()["id"])
        return self.product_id[sku]

    def order(self, label: str | None, when, lines: list, status: str = "paid", currency: str = "EUR") -> None:
        """`lines`: amounts (quantity 1 × unit price, negative = a return of that value) or
        (quantity, unit price, sku) tuples; `when`: a date (12:00 UTC) or an aware datetime."""
        at = when if isinstance(when, datetime) else datetime(when.year, when.month, when.day, 12, tzinfo=UTC)
        cid = self.ids.get(label) if label else None
        with self.db.as_user(self.owner.claims) as conn:
            is_contact = cid and conn.execute("select 1 from public.contacts where id = %s", [cid]).fetchone()
            order_id = conn.execute(
                "insert into public.orders (workspace_id, company_id, contact_id, status, ordered_at, currency)"
                " values (%s, %s, %s, %s, %s, %s) returning id",
                [self.ws, None if is_contact else cid, cid if is_contact else None, status, at, currency]
            ).fetchone()["id"]
            for position, line in enumerate(lines):
                qty, price, sku = line if isinstance(line, tuple) else ((1, line, None) if line >= 0 else (-1, -line, None))
                conn.execute(
                    "insert into public.order_lines (workspace_id, order_id, product_id, position, quantity, unit_price)"
                    " values (%s, %s, %s, %s, %s, %s)",
                    [self.ws, order_id, self.product_id.get(sku), position, qty, price])


def _shop(factory, db, name: str) -> Shop:
    owner, ws = factory.owner(name)
    return Shop(db, owner, ws)


# -- RFM -----------------------------------------------------------------------------------------

SNAPSHOT = date(2026, 3, 1)
# customer: (recency in days, orders, revenue) at SNAPSHOT
RFM_DATA = {
    "A": (1, 10, 1000), "B": (3, 8, 900), "C": (5, 1, 50), "D": (10, 6, 700), "E": (20, 2, 120),
    "F": (40, 5, 800), "G": (60, 1, 30), "H": (90, 7, 600), "I": (200, 3, 200), "J": (300, 1, 20),
}
# Worked out by hand (10 customers: ntile(5) makes five groups of 2).
#   R: by recency descending:  J 300, I 200 | H 90, G 60 | F 40, E 20 | D 10, C 5 | B 3, A 1
#   F: by orders, ties by revenue: J 1 (20), G 1 (30) | C 1 (50), E 2 | I 3, F 5 | D 6, H 7 | B 8, A 10
#   M: by revenue:             J, G | C, E | I, H | D, F | B, A
EXPECTED_SCORES = {
    "A": (5, 5, 5, "Champions"), "B": (5, 5, 5, "Champions"), "C": (4, 2, 2, "Potential loyalists"),
    "D": (4, 4, 4, "Loyal"), "E": (3, 2, 2, "About to sleep"), "F": (3, 3, 4, "Need attention"),
    "G": (2, 1, 1, "Hibernating"), "H": (2, 4, 3, "At risk"), "I": (1, 3, 3, "At risk"), "J": (1, 1, 1, "Lost"),
}


@pytest.fixture(scope="module")
def rfm_shop(factory, db):
    shop = _shop(factory, db, "RFM Shop")
    for n, (label, (recency, orders, revenue)) in enumerate(RFM_DATA.items(), start=1):
        shop.customer(label, n, contact=label in ("C", "G"))
        last = SNAPSHOT - timedelta(days=recency)
        for i in range(orders):
            amount = revenue - 10 * (orders - 1) if i == orders - 1 else 10
            # A's first order has a returned line: 960 - 50 = 910, still 1000 in all
            shop.order(label, last - timedelta(days=10 * i), [amount + 50, -50] if label == "A" and i == orders - 1
                       else [amount])
    shop.customer("K", 11)  # bought 50, returned 60 in a later order: net -10, not scored
    shop.order("K", date(2026, 2, 1), [50])
    shop.order("K", date(2026, 2, 5), [-60])
    # none of these count: cancelled, draft, anonymous, another currency, on/after the snapshot
    shop.order("J", date(2026, 2, 27), [5000], status="cancelled")
    shop.order("I", date(2026, 2, 27), [5000], status="draft")
    shop.order(None, date(2026, 2, 27), [5000])
    shop.order("J", date(2026, 2, 27), [5000], currency="USD")
    shop.order("A", datetime(2026, 3, 1, 0, 0, tzinfo=UTC), [5000])
    return shop


def test_rfm_scores_and_segments_by_hand(rfm_shop, db):
    shop = rfm_shop
    rows = ca.rfm_customers(db, shop.owner.claims, shop.ws, "EUR", SNAPSHOT)
    got = {r["name"].split(" ")[0]: r for r in rows}
    assert set(got) == set(RFM_DATA)
    for label, (recency, orders, revenue) in RFM_DATA.items():
        r = got[label]
        assert (r["recency"], r["frequency"], r["monetary"]) == (recency, orders, revenue), label
        assert (r["r"], r["f"], r["m"], r["segment"]) == EXPECTED_SCORES[label], label
        assert r["customer_id"] == shop.ids[label]
    assert got["C"]["kind"] == "contact" and got["A"]["kind"] == "company" and got["C"]["name"] == "C Person"
    assert [r["name"] for r in rows][:3] == ["A", "B", "F"]  # highest revenue first


def test_segment_sizes_values_and_not_scored(rfm_shop, db):
    shop = rfm_shop
    result = ca.rfm_segments(db, shop.owner.claims, shop.ws, "EUR", SNAPSHOT)
    assert [r["segment"] for r in result.rows] == list(ca.SEGMENTS)
    seg = result.by_name()
    assert {s: r["customers"] for s, r in seg.items() if r["customers"]} == {
        "Champions": 2, "Loyal": 1, "Potential loyalists": 1, "Need attention": 1, "About to sleep": 1, "At risk": 2,
        "Hibernating": 1, "Lost": 1}
    assert (seg["Champions"]["revenue"], seg["Champions"]["avg_recency"], seg["Champions"]["avg_frequency"],
            seg["Champions"]["avg_monetary"]) == (1900, 2.0, 9.0, 950)
    assert (seg["At risk"]["revenue"], seg["At risk"]["avg_recency"], seg["At risk"]["avg_frequency"]) == (800, 145.0, 5.0)
    assert (seg["Lost"]["revenue"], seg["Lost"]["avg_recency"], seg["Lost"]["avg_monetary"]) == (20, 300.0, 20)
    assert seg["Champions"]["share_customers"] == 20.0 and seg["Champions"]["share_revenue"] == round(190000 / 4420, 1)
    assert seg["Promising"]["customers"] == 0 and seg["Promising"]["avg_recency"] is None
    assert (result.scored, result.not_scored, result.not_scored_revenue) == (10, 1, -10)


def test_snapshot_default_and_earlier_snapshot(rfm_shop, db):
    shop = rfm_shop
    # A's order at 2026-03-01 00:00 UTC is the last EUR sale (the USD one does not count)
    assert ca.default_snapshot(db, shop.owner.claims, shop.ws, "EUR") == date(2026, 3, 2)
    assert ca.default_snapshot(db, shop.owner.claims, shop.ws, "JPY") is None
    early = ca.rfm_segments(db, shop.owner.claims, shop.ws, "EUR", date(2025, 6, 1))
    assert early.scored == 1  # only J (2025-05-05) had bought by then
    assert ca.rfm_segments(db, shop.owner.claims, shop.ws, "EUR", date(2020, 1, 1)).scored == 0


def test_customers_equal_on_all_three_values_are_ordered_by_id(factory, db):
    shop = _shop(factory, db, "Twins Shop")
    for n, label in enumerate(["P1", "P2"], start=1):
        shop.customer(label, n)
        shop.order(label, SNAPSHOT - timedelta(days=5), [100])
    rows = {r["name"]: r for r in ca.rfm_customers(db, shop.owner.claims, shop.ws, "EUR", SNAPSHOT)}
    # two customers: ntile(5) gives 1 and 2; the lower id comes first in every ranking
    assert (rows["P1"]["r"], rows["P1"]["f"], rows["P1"]["m"], rows["P1"]["segment"]) == (1, 1, 1, "Lost")
    assert (rows["P2"]["r"], rows["P2"]["f"], rows["P2"]["m"], rows["P2"]["segment"]) == (2, 2, 2, "Hibernating")


def test_segment_grid_is_complete():
    assert {ca.segment_of(r, f) for r in range(1, 6) for f in range(1, 6)} == set(ca.SEGMENTS)


def test_other_workspaces_see_nothing(rfm_shop, db, factory):
    stranger, _ = factory.owner("Nosy Co")
    assert ca.rfm_customers(db, stranger.claims, rfm_shop.ws, "EUR", SNAPSHOT) == []
    assert ca.rfm_segments(db, stranger.claims, rfm_shop.ws, "EUR", SNAPSHOT).scored == 0


# -- saved segments ------------------------------------------------------------------------------


def test_save_segment_and_recompute_members(rfm_shop, db, factory):
    shop = rfm_shop
    saved = segments.save_rfm(db, shop.owner.claims, shop.ws, "At risk in March", "At risk", "EUR", SNAPSHOT)
    assert saved["member_count"] == 2
    listed = {s["name"]: s for s in segments.list_segments(db, shop.owner.claims, shop.ws)}
    assert listed["At risk in March"]["definition"] == {"segment": "At risk", "currency": "EUR",
                                                         "snapshot": "2026-03-01"}
    members = segments.members(db, shop.owner.claims, shop.ws, saved["id"])
    assert {m["customer_id"] for m in members} == {shop.ids["H"], shop.ids["I"]}
    with pytest.raises(FormErrors):
        segments.save_rfm(db, shop.owner.claims, shop.ws, "at risk in march ", "At risk", "EUR", SNAPSHOT)
    with pytest.raises(FormErrors):
        segments.save_rfm(db, shop.owner.claims, shop.ws, "X", "Nobody", "EUR", SNAPSHOT)
    # rolling: as of the latest data (snapshot 2026-03-02: A bought on 03-01)
    rolling = segments.save_rfm(db, shop.owner.claims, shop.ws, "Champions now", "Champions", "EUR", None)
    assert rolling["member_count"] == 2
    viewer = factory.member(shop.owner, shop.ws, "viewer")
    with pytest.raises(UserError, match="agents and above"):
        segments.save_rfm(db, viewer.claims, shop.ws, "Mine", "Lost", "EUR", SNAPSHOT)
    assert len(segments.members(db, viewer.claims, shop.ws, saved["id"])) == 2
    stranger, _ = factory.owner("Other shop")
    with pytest.raises(UserError):
        segments.members(db, stranger.claims, shop.ws, saved["id"])


# -- cohorts -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort_shop(factory, db):
    shop = _shop(factory, db, "Cohort Shop")
    for n, label in enumerate("PQRSTUV", start=1):
        shop.customer(label, n)
    months = {"P": [(2026, 1, 10), (2026, 2, 10), (2026, 4, 10)], "Q": [(2026, 1, 5), (2026, 3, 5)],
              "R": [(2026, 1, 3), (2026, 1, 20)], "S": [(2026, 2, 1), (2026, 3, 1), (2026, 4, 1)],
              "T": [(2026, 2, 14)], "U": [(2026, 3, 3)], "V": [(2026, 4, 30)]}
    for label, days in months.items():
        for y, m, d in days:
            shop.order(label, date(y, m, d), [100])
    shop.order("U", date(2026, 2, 3), [100], status="cancelled")  # U's cohort stays March
    shop.order("V", date(2025, 12, 1), [100], currency="USD")  # V's EUR cohort stays April
    shop.order(None, date(2026, 1, 1), [100])  # anonymous: in no cohort
    # 2026-02-01 00:30 at UTC+1 is still January 31 in UTC: T's February stays its only month
    shop.order("T", datetime(2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), [100])
    return shop


def test_cohort_matrix_by_hand(cohort_shop, db):
    shop = cohort_shop
    result = ca.cohorts(db, shop.owner.claims, shop.ws, "EUR", date(2025, 1, 1), date(2026, 12, 1))
    cells = {(r["cohort"].month, r["k"]): (r["size"], r["customers"], r["retention"]) for r in result.rows}
    # T's first sale is 2026-01-31 23:30 UTC: a January customer, back in February (k = 1)
    assert cells == {
        (1, 0): (4, 4, 100.0), (1, 1): (4, 2, 50.0), (1, 2): (4, 1, 25.0), (1, 3): (4, 1, 25.0),
        (2, 0): (1, 1, 100.0), (2, 1): (1, 1, 100.0), (2, 2): (1, 1, 100.0),
        (3, 0): (1, 1, 100.0), (4, 0): (1, 1, 100.0),
    }
    assert result.last_month == date(2026, 4, 1)
    # month 1: Jan 2 of 4, Feb 1 of 1, Mar 0 of 1 (April is too young)
    assert result.average_retention(1) == round(100 * 3 / 6, 1)
    assert result.average_retention(3) == 25.0  # only January is old enough: 1 of 4
    cohorts, width, by_cell = result.matrix()
    assert cohorts == [date(2026, m, 1) for m in (1, 2, 3, 4)] and width == 4 and by_cell[(date(2026, 2, 1), 2)]
    window = ca.cohorts(db, shop.owner.claims, shop.ws, "EUR", date(2026, 2, 15), date(2026, 3, 31))
    assert sorted({r["cohort"] for r in window.rows}) == [date(2026, 2, 1), date(2026, 3, 1)]


# -- lifetime value ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clv_shop(factory, db):
    shop = _shop(factory, db, "CLV Shop")
    shop.product("COSTED", 4)
    shop.product("UNCOSTED", None)
    for n, label in enumerate(["X", "Y", "Z", "Q", "N"], start=1):
        shop.customer(label, n)
    for label, day, amount in [("X", date(2023, 6, 1), 100), ("X", date(2024, 6, 1), 200),
                               ("X", date(2025, 3, 1), 300), ("X", date(2025, 9, 1), 100),
                               ("Y", date(2024, 3, 1), 50), ("Z", date(2025, 5, 1), 80), ("Z", date(2025, 6, 1), 120),
                               ("N", date(2023, 12, 1), 40)]:
        shop.order(label, day, [amount])
    shop.order("Q", date(2024, 12, 31), [(100, 10, "UNCOSTED")])
    shop.order("Q", date(2025, 12, 31), [(50, 10, "COSTED")])
    shop.order("Q", date(2026, 1, 1), [999])  # on the snapshot day: not yet
    return shop


def test_lifetime_value_by_hand(clv_shop, db):
    shop = clv_shop
    lt = ca.lifetime_value(db, shop.owner.claims, shop.ws, "EUR", date(2026, 1, 1), window_days=365)
    # historical: X 700, Y 50, Z 200, Q 1500, N 40
    assert lt.customers == 5 and lt.mean == 498.0
    assert lt.percentiles == {10: 44.0, 25: 50.0, 50: 200.0, 75: 700.0, 90: 1180.0} and lt.median == 200.0
    assert [(h["bucket"], h["customers"]) for h in lt.histogram] == [
        ("20–50", 1), ("50–100", 1), ("100–200", 0), ("200–500", 1), ("500–1,000", 1), ("1,000–2,000", 1)]
    assert lt.has_costs and lt.margin == 300.0 and lt.costed_revenue == 500.0  # Q's 50 × (10 − 4)
    assert [(t["name"], t["revenue"], t["orders"], t["margin"]) for t in lt.top] == [
        ("Q", 1500, 2, 300.0), ("X", 700, 4, None), ("Z", 200, 2, None), ("Y", 50, 1, None), ("N", 40, 1, None)]
    # window 2025: X (2 orders, 400), Z (2, 200), Q (1, 500): AOV 1100 / 5 = 220, 5/3 orders a year;
    # 2024's buyers X, Y, Q: X and Q came back, retention 2/3, lifespan 1 / (1/3) = 3 years
    now = lt.predictive["current"]
    assert (now["active"], now["orders"], now["revenue"], now["aov"], now["frequency"]) == (3, 5, 1100, 220.0, 1.667)
    assert (now["retention"], now["lifespan"], now["clv"]) == (66.7, 3.0, 1100.0)
    # window 2024: X, Y, Q (3 orders, 1250); 2023's buyers X and N: only X came back, lifespan 2 years
    before = lt.predictive["previous"]
    assert (before["active"], before["orders"], before["aov"], before["frequency"]) == (3, 3, 416.67, 1.0)
    assert (before["retention"], before["lifespan"], before["clv"]) == (50.0, 2.0, 833.33)
    assert {t["name"]: t["predicted"] for t in lt.top} == {"Q": 1500, "X": 1200, "Z": 600, "Y": 0, "N": 0}


def test_lifetime_value_edge_cases(clv_shop, db):
    shop = clv_shop
    # a window with no earlier buyers: retention and lifespan unknown, no predicted value
    lt = ca.lifetime_value(db, shop.owner.claims, shop.ws, "EUR", date(2024, 1, 1), window_days=365)
    assert lt.customers == 2 and lt.predictive["current"]["retention"] is None
    assert lt.predictive["current"]["clv"] is None and lt.top[0]["predicted"] is None
    empty = ca.lifetime_value(db, shop.owner.claims, shop.ws, "USD", date(2026, 1, 1))
    assert empty.customers == 0 and empty.histogram == [] and empty.top == [] and empty.median is None


# -- churn risk ----------------------------------------------------------------------------------

CHURN_AT = date(2026, 7, 1)


@pytest.fixture(scope="module")
def churn_shop(factory, db):
    shop = _shop(factory, db, "Churn Shop")
    days = {
        "C1": [(2026, 1, 1), (2026, 1, 11), (2026, 1, 21)],  # gaps 10, 10; 161 days since: at risk
        "C2": [(2026, 6, 1), (2026, 6, 11), (2026, 6, 21)],  # gaps 10, 10; 10 days since: fine
        "C3": [(2026, 5, 1), (2026, 5, 21), (2026, 5, 21)],  # one gap of 20; 41 days since: at risk
        "C4": [(2026, 6, 5), (2026, 6, 10)],  # gap 5; 21 days since: 4.2× but not over 30 days
        "C5": [(2026, 1, 1), (2026, 1, 1)],  # one sale day: not assessed
        "C6": [(2025, 1, 1), (2025, 7, 1), (2026, 1, 1)],  # gaps 181, 184; 181 days since: fine
        "C7": [(2026, 1, 1), (2026, 1, 11), (2026, 1, 21), (2026, 5, 1)],  # median gap 10 (mean 40); 61 since
    }
    amounts = {"C1": 100, "C3": 30, "C7": 50}
    for n, (label, dates) in enumerate(days.items(), start=1):
        shop.customer(label, n)
        for y, m, d in dates:
            shop.order(label, date(y, m, d), [amounts.get(label, 10)])
    shop.order("C2", date(2026, 7, 1), [10])  # on the snapshot day: not yet
    return shop


def test_churn_risk_by_hand(churn_shop, db):
    shop = churn_shop
    churn = ca.churn_risk(db, shop.owner.claims, shop.ws, "EUR", CHURN_AT)
    assert (churn.customers, churn.assessed) == (7, 6)
    assert [(c["name"], c["sale_days"], c["orders"], c["revenue"], c["median_gap"], c["days_since"], c["overdue"])
            for c in churn.at_risk] == [("C1", 3, 3, 300, 10.0, 161, 16.1), ("C7", 4, 4, 200, 10.0, 61, 6.1),
                                        ("C3", 2, 3, 90, 20.0, 41, 2.05)]
    assert churn.at_risk[0]["last_sale"] == date(2026, 1, 21) and churn.at_risk_revenue == 590
    assert [(b["bucket"], b["customers"], b["at_risk"]) for b in churn.buckets] == [
        ("< 1×", 1, 0), ("1–2×", 1, 0), ("2–3×", 1, 1), ("3–5×", 1, 0), ("5–10×", 1, 1), ("≥ 10×", 1, 1)]
    looser = ca.churn_risk(db, shop.owner.claims, shop.ws, "EUR", CHURN_AT, factor=1.5, min_days=0)
    assert sorted(c["name"] for c in looser.at_risk) == ["C1", "C3", "C4", "C7"]


# -- cross-check against pandas ------------------------------------------------------------------


def _ntile(n: int, buckets: int = 5) -> list[int]:
    """Postgres ntile: groups as equal as possible, the first ones one larger."""
    base, extra = divmod(n, buckets)
    return [b + 1 for b in range(buckets) for _ in range(base + (1 if b < extra else 0))]


@pytest.fixture(scope="module")
def random_shop(factory, db):
    shop = _shop(factory, db, "Random Shop")
    rng = random.Random(7)
    labels = [f"R{n:03d}" for n in range(80)]
    for n, label in enumerate(labels):
        shop.customer(label, n + 1, contact=n % 3 == 0)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    orders, lines = [], []
    for i in range(400):
        label = rng.choice(labels + [None] * 5)
        at = start + timedelta(minutes=rng.randrange(0, 730 * 24 * 60))
        status = rng.choices(["paid", "shipped", "confirmed", "invoiced", "cancelled", "draft"],
                             [60, 10, 5, 5, 10, 5])[0]
        currency = rng.choices(["EUR", "USD"], [9, 1])[0]
        amounts = [rng.choice([rng.randint(1, 500), -rng.randint(1, 50)]) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.03:
            amounts = [-abs(a) for a in amounts]  # an order of returns only
        order_id = str(uuid.uuid4())
        cid = shop.ids.get(label) if label else None
        contact = cid and int(label[1:]) % 3 == 0
        orders.append((order_id, shop.ws, f"R-{i}", None if contact else cid, cid if contact else None, status, at,
                       currency))
        lines += [(shop.ws, order_id, k, 1 if a > 0 else -1, abs(a)) for k, a in enumerate(amounts)]
    with db.as_user(shop.owner.claims) as conn:
        with conn.cursor() as cur:
            cur.executemany("insert into public.orders (id, workspace_id, number, company_id, contact_id, status,"
                            " ordered_at, currency) values (%s, %s, %s, %s, %s, %s, %s, %s)", orders)
            cur.executemany("insert into public.order_lines (workspace_id, order_id, position, quantity, unit_price)"
                            " values (%s, %s, %s, %s, %s)", lines)
    frame = pd.DataFrame(lines, columns=["ws", "order_id", "pos", "qty", "price"])
    frame["amount"] = frame.qty * frame.price
    totals = frame.groupby("order_id").amount.sum()
    o = pd.DataFrame(orders, columns=["order_id", "ws", "number", "company", "contact", "status", "at", "currency"])
    o["customer"] = o.company.fillna(o.contact)
    o["amount"] = o.order_id.map(totals)
    return shop, o


def test_rfm_matches_pandas(random_shop, db):
    shop, o = random_shop
    snapshot = date(2025, 10, 1)
    sales = o[o.status.isin(["confirmed", "shipped", "invoiced", "paid"]) & (o.currency == "EUR")
              & o.customer.notna() & (o["at"] < datetime(2025, 10, 1, tzinfo=UTC))]
    per = sales.groupby("customer").agg(frequency=("order_id", "count"), monetary=("amount", "sum"),
                                        last=("at", "max")).reset_index()
    per = per[per.monetary > 0].copy()
    per["recency"] = per["last"].map(lambda t: (snapshot - t.date()).days)
    per = per.sort_values(["recency", "frequency", "monetary", "customer"], ascending=[False, True, True, True])
    per["r"] = _ntile(len(per))
    per = per.sort_values(["frequency", "monetary", "recency", "customer"], ascending=[True, True, False, True])
    per["f"] = _ntile(len(per))
    per = per.sort_values(["monetary", "frequency", "recency", "customer"], ascending=[True, True, False, True])
    per["m"] = _ntile(len(per))
    expected = {row.customer: (row.recency, row.frequency, round(row.monetary, 2), row.r, row.f, row.m,
                               ca.segment_of(row.r, row.f)) for row in per.itertuples()}
    got = {r["customer_id"]: (r["recency"], r["frequency"], r["monetary"], r["r"], r["f"], r["m"], r["segment"])
           for r in ca.rfm_customers(db, shop.owner.claims, shop.ws, "EUR", snapshot)}
    assert len(expected) > 50 and got == expected
    seg = ca.rfm_segments(db, shop.owner.claims, shop.ws, "EUR", snapshot)
    assert {r["segment"]: r["customers"] for r in seg.rows if r["customers"]} == \
        per.assign(s=[ca.segment_of(r, f) for r, f in zip(per.r, per.f)]).groupby("s").size().to_dict()
    all_sales = sales.groupby("customer").amount.sum()
    assert seg.not_scored == int((all_sales <= 0).sum())


def test_cohorts_match_pandas(random_shop, db):
    shop, o = random_shop
    sales = o[o.status.isin(["confirmed", "shipped", "invoiced", "paid"]) & (o.currency == "EUR") & o.customer.notna()]
    months = sales.assign(month=sales["at"].map(lambda t: t.year * 12 + t.month - 1))[["customer", "month"]]
    months = months.drop_duplicates()
    first = months.groupby("customer").month.min().rename("cohort")
    cells = months.join(first, on="customer").assign(k=lambda d: d.month - d.cohort).groupby(["cohort", "k"]).size()
    expected = {(date(c // 12, c % 12 + 1, 1), int(k)): int(n) for (c, k), n in cells.items()}
    result = ca.cohorts(db, shop.owner.claims, shop.ws, "EUR", date(2000, 1, 1), date(2100, 1, 1))
    assert {(r["cohort"], r["k"]): r["customers"] for r in result.rows} == expected
    assert len(expected) > 100


# -- the page ------------------------------------------------------------------------------------


def _table_with(at, column: str):
    """The first dataframe that has `column` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    at = sign_in(fresh_app(), email)
    return at.switch_page("views/analytics_customers.py").run()


def test_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("nosales")
    factory.owner("No sales yet", email=email)
    at = _page(email)
    assert not at.exception
    assert "Import orders on the **Import** page" in texts(at)


def test_page_charts_segment_list_and_save(rfm_shop, db):
    from tests.test_app_flows import texts

    shop = rfm_shop
    at = _page(shop.owner.email)
    assert not at.exception, at.exception
    assert at.date_input(key="cu_snapshot").value == date(2026, 3, 2)
    assert len(at.get("plotly_chart")) == 4  # segments, cohorts, CLV distribution, churn
    assert len(at.get("download_button")) >= 8
    assert "Customers scored" in [m.label for m in at.metric]
    at.date_input(key="cu_snapshot").set_value(SNAPSHOT).run()
    at.selectbox(key="cu_segment_pick").set_value("At risk").run()
    assert not at.exception
    listed = _table_with(at, "R")
    assert sorted(listed["Customer"]) == ["H", "I"]
    assert set(listed["Open"]) == {f"customer?customer={shop.ids[x]}" for x in "HI"}
    at.text_input(key="cu_save_name").input("At risk (page)")
    at.button(key="FormSubmitter:cu_save_segment-Save as segment").click().run()
    assert not at.exception
    assert "with 2 customers" in texts(at)
    assert any(s["name"] == "At risk (page)" for s in segments.list_segments(db, shop.owner.claims, shop.ws))
    # a click on the chart's bars (AppTest cannot click plotly: the selection state is set instead)
    index = {name: i for i, name in enumerate(ca.SEGMENTS)}
    picked = [index["At risk"], index["Hibernating"]]
    at.session_state["cu_segments_chart"] = {"selection": {"points": [{"point_index": i} for i in picked],
                                                           "point_indices": picked, "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert "Selected in the chart: At risk, Hibernating" in texts(at)
    assert list(_table_with(at, "R")["Customer"]) == ["H", "I", "G Person"]  # highest revenue first
