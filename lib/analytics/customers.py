"""Customer analytics: RFM scores and segments, monthly acquisition cohorts, lifetime value and
churn risk, each computed in one SQL statement as the signed-in user, for one currency.

Every per-customer figure counts sales (`common.SALE`) of a known customer (`orders.customer_id`)
in the chosen currency ordered before the **snapshot** (a day; sales strictly before its
00:00 UTC count; by default the day after the last sale). Dates are UTC days. `FIGURES` holds the
one-line definitions the page shows; docs/analytics.md states every rule in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import psycopg

from lib.analytics.common import SALE
from lib.db import Claims, Database

SEGMENTS = ("Champions", "Loyal", "Potential loyalists", "New customers", "Promising", "Need attention",
            "About to sleep", "At risk", "Can't lose them", "Hibernating", "Lost")
NOT_SCORED = "Not scored"
# The segment of each (R, F) score pair: row = R (recency score, 5 = bought most recently),
# position in the row = F (frequency score 1..5).
_GRID = {
    5: ("New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Hibernating", "At risk", "At risk", "Can't lose them"),
}
LIFESPAN_CAP_YEARS = 10
CLV_TOP = 100
# 1-2-5 steps for the lifetime value histogram; the first edge puts "≤ 0" in a bucket of its own.
CLV_EDGES = (0.01,) + tuple(m * 10 ** e for e in range(1, 9) for m in (1, 2, 5))
OVERDUE_EDGES = (1, 2, 3, 5, 10)

FIGURES = {
    "rfm": "Customers with a sale before the snapshot, scored 1–5 on recency, frequency and monetary value "
           "(quintiles); the segment follows from the R and F scores.",
    "segment_list": "The customers of the chosen segment, highest revenue first.",
    "cohorts": "Customers grouped by the month of their first sale; each cell is the share of the group with a "
               "sale in the k-th month after it (month 0 = 100 %).",
    "clv": "Historical lifetime value: a customer's net revenue from all sales before the snapshot.",
    "clv_top": "Customers with the highest historical lifetime value; margin where product costs are known.",
    "predictive": "Predicted CLV = average order value × orders per customer per year × expected lifespan, "
                  "with lifespan = window ÷ (1 − retention), from the last window before the snapshot.",
    "churn": "Customers with sales on two or more days, by days since their last sale ÷ their median gap "
             "between sale days; at risk above the factor and the minimum days.",
}


def segment_of(r: int, f: int) -> str:
    """The named segment of recency score `r` and frequency score `f` (both 1..5)."""
    return _GRID[r][f - 1]


def _grid_params() -> dict:
    cells = [(r, f, segment_of(r, f)) for r in _GRID for f in range(1, 6)]
    return {"grid_r": [c[0] for c in cells], "grid_f": [c[1] for c in cells], "grid_s": [c[2] for c in cells]}


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _scope(workspace_id: str, currency: str, snapshot: date) -> dict:
    return {"ws": workspace_id, "currency": currency, "snapshot": snapshot, "until": utc_midnight(snapshot)}


_CUSTOMER_SALES = f"""
  from public.orders o
 where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s
   and o.customer_id is not null and o.ordered_at < %(until)s"""

# Per customer up to the snapshot: R, F, M values, their quintile scores and the segment.
# Customers whose net revenue is <= 0 stay out of the ranking (counted as "not scored"). Ties on
# a score's own value are broken by the other values (more orders, more revenue, more recent
# ranks higher), so scores depend on the data alone and only customers equal on all three fall
# back to their id. F's ties go by revenue before recency: by recency, F would follow R and
# "New customers" (R 5, F 1) would stay empty.
_RFM = f"""
with base as (
  select o.customer_id, count(*)::int as frequency, sum(o.total_amount) as monetary,
         min(o.ordered_at) as first_at, max(o.ordered_at) as last_at
  {_CUSTOMER_SALES}
  group by o.customer_id),
scored as (
  select b.*, %(snapshot)s::date - (b.last_at at time zone 'UTC')::date as recency
    from base b where b.monetary > 0),
ranked as (
  select s.*,
         ntile(5) over (order by s.recency desc, s.frequency, s.monetary, s.customer_id) as r,
         ntile(5) over (order by s.frequency, s.monetary, s.recency desc, s.customer_id) as f,
         ntile(5) over (order by s.monetary, s.frequency, s.recency desc, s.customer_id) as m
    from scored s),
rfm as (
  select k.*, g.segment
    from ranked k
    join unnest(%(grid_r)s::int[], %(grid_f)s::int[], %(grid_s)s::text[]) as g(r, f, segment)
      on g.r = k.r and g.f = k.f)
"""

# The customer's display name: the company, else the contact.
_NAMES = """
  left join public.companies co on co.workspace_id = %(ws)s and co.id = {id}
  left join public.contacts ct on ct.workspace_id = %(ws)s and ct.id = {id}"""
_NAME = "coalesce(co.name, nullif(ct.full_name, ''), ct.email, '(deleted)')"


def _money(value) -> float:
    return round(float(value or 0), 2)


def default_snapshot(db: Database, claims: Claims, workspace_id: str, currency: str) -> date | None:
    """The day after the last sale in `currency` (None without sales)."""
    with db.as_user(claims) as conn:
        return snapshot_after_last_sale(conn, workspace_id, currency)


def snapshot_after_last_sale(conn: psycopg.Connection, workspace_id: str, currency: str) -> date | None:
    row = conn.execute(
        f"select max(o.ordered_at at time zone 'UTC')::date as last from public.orders o"
        f" where o.workspace_id = %s and {SALE} and o.currency = %s", [workspace_id, currency]).fetchone()
    return row["last"] + timedelta(days=1) if row and row["last"] else None


# -- RFM -----------------------------------------------------------------------------------------


@dataclass
class Segments:
    """Segment sizes and value at one snapshot; `rows` has every segment of SEGMENTS, in order."""

    snapshot: date
    rows: list[dict]  # segment, customers, revenue, avg_recency, avg_frequency, avg_monetary, shares
    scored: int
    not_scored: int  # customers with sales but net revenue <= 0
    not_scored_revenue: float

    def by_name(self) -> dict[str, dict]:
        return {r["segment"]: r for r in self.rows}


def rfm_segments(db: Database, claims: Claims, workspace_id: str, currency: str, snapshot: date) -> Segments:
    params = _scope(workspace_id, currency, snapshot) | _grid_params()
    with db.as_user(claims) as conn:
        found = conn.execute(
            _RFM + """
            select segment, count(*)::int as customers, sum(monetary) as revenue, avg(recency) as avg_recency,
                   avg(frequency) as avg_frequency, avg(monetary) as avg_monetary
              from rfm group by segment
            union all
            select null, count(*)::int, coalesce(sum(monetary), 0), null, null, null from base where monetary <= 0
            """, params).fetchall()
    unscored = next(r for r in found if r["segment"] is None)
    got = {r["segment"]: r for r in found if r["segment"] is not None}
    scored = sum(r["customers"] for r in got.values())
    total_revenue = sum(float(r["revenue"]) for r in got.values())
    rows = []
    for name in SEGMENTS:
        r = got.get(name)
        rows.append({
            "segment": name, "customers": r["customers"] if r else 0, "revenue": _money(r["revenue"] if r else 0),
            "avg_recency": round(float(r["avg_recency"]), 1) if r else None,
            "avg_frequency": round(float(r["avg_frequency"]), 2) if r else None,
            "avg_monetary": _money(r["avg_monetary"]) if r else None,
            "share_customers": round(100 * r["customers"] / scored, 1) if r else 0.0,
            "share_revenue": round(100 * float(r["revenue"]) / total_revenue, 1) if r and total_revenue else 0.0,
        })
    return Segments(snapshot, rows, scored, unscored["customers"], _money(unscored["revenue"]))


def rfm_customers(db: Database, claims: Claims, workspace_id: str, currency: str, snapshot: date,
                  segments: tuple[str, ...] | None = None) -> list[dict]:
    """Scored customers (of `segments`, or all), highest revenue first: customer_id, name, kind,
    recency (days), frequency (orders), monetary, r, f, m, segment, first_sale, last_sale."""
    with db.as_user(claims) as conn:
        return scored_customers(conn, workspace_id, currency, snapshot, segments)


def scored_customers(conn: psycopg.Connection, workspace_id: str, currency: str, snapshot: date,
                   segments: tuple[str, ...] | None) -> list[dict]:
    params = _scope(workspace_id, currency, snapshot) | _grid_params() | {"segments": list(segments or ())}
    rows = conn.execute(
        _RFM + f"""
        select rfm.customer_id::text as customer_id, {_NAME} as name,
               case when co.id is not null then 'company' else 'contact' end as kind,
               rfm.recency, rfm.frequency, rfm.monetary, rfm.r, rfm.f, rfm.m, rfm.segment,
               (rfm.first_at at time zone 'UTC')::date as first_sale, (rfm.last_at at time zone 'UTC')::date as last_sale
          from rfm {_NAMES.format(id='rfm.customer_id')}
         where cardinality(%(segments)s::text[]) = 0 or rfm.segment = any(%(segments)s::text[])
         order by rfm.monetary desc, rfm.customer_id""", params).fetchall()
    for r in rows:
        r["monetary"] = _money(r["monetary"])
    return rows


def count_members(conn: psycopg.Connection, workspace_id: str, currency: str, snapshot: date, segment: str) -> int:
    params = _scope(workspace_id, currency, snapshot) | _grid_params() | {"segment": segment}
    return conn.execute(_RFM + "select count(*)::int as n from rfm where segment = %(segment)s",
                        params).fetchone()["n"]


# -- cohorts -------------------------------------------------------------------------------------


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = month_index(day) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Cohorts:
    """Retention by acquisition month: `rows` = cohort (first day of the month), size, k (months
    after), customers (with a sale in month k), retention (% of size); `last_month` is the latest
    month with a sale (possibly incomplete)."""

    rows: list[dict]
    last_month: date | None

    def matrix(self) -> tuple[list[date], int, dict[tuple[date, int], dict]]:
        cohorts = sorted({r["cohort"] for r in self.rows})
        width = max((r["k"] for r in self.rows), default=-1) + 1
        return cohorts, width, {(r["cohort"], r["k"]): r for r in self.rows}

    def average_retention(self, k: int) -> float | None:
        """Customer-weighted retention in month k over the cohorts old enough to have a month k."""
        if self.last_month is None:
            return None
        sizes = {r["cohort"]: r["size"] for r in self.rows if r["k"] == 0
                 and month_index(r["cohort"]) + k <= month_index(self.last_month)}
        if not sizes:
            return None
        active = sum(r["customers"] for r in self.rows if r["k"] == k and r["cohort"] in sizes)
        return round(100 * active / sum(sizes.values()), 1)


def cohorts(db: Database, claims: Claims, workspace_id: str, currency: str, first_month: date,
            last_month: date) -> Cohorts:
    """Cohorts acquired from `first_month` to `last_month` (any days of those months), followed up
    to the latest sale."""
    params = {"ws": workspace_id, "currency": currency, "first": first_month.replace(day=1),
              "last": last_month.replace(day=1)}
    sales = f"""from public.orders o where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s
                  and o.customer_id is not null"""
    with db.as_user(claims) as conn:
        rows = conn.execute(f"""
            with months as (
              select distinct o.customer_id, date_trunc('month', o.ordered_at at time zone 'UTC')::date as month
              {sales}),
            firsts as (
              select customer_id, min(month) as cohort from months group by customer_id),
            cells as (
              select f.cohort, ((extract(year from m.month) - extract(year from f.cohort)) * 12
                                + extract(month from m.month) - extract(month from f.cohort))::int as k,
                     count(*)::int as customers
                from firsts f join months m using (customer_id)
               where f.cohort between %(first)s and %(last)s
               group by 1, 2)
            select c.cohort, c.k, c.customers, s.customers as size,
                   round(100.0 * c.customers / s.customers, 1)::float as retention
              from cells c join cells s on s.cohort = c.cohort and s.k = 0
             order by c.cohort, c.k""", params).fetchall()
        last = conn.execute(
            f"select date_trunc('month', max(o.ordered_at at time zone 'UTC'))::date as m {sales}", params
        ).fetchone()["m"]
    return Cohorts(rows, last)


# -- lifetime value ------------------------------------------------------------------------------


def _window_figures(x: str, prev: str, days: int) -> str:
    """SQL for the predictive CLV inputs of window `x` (its retention measured from window `prev`)."""
    retention = f"(retained_{x}::numeric / nullif(active_{prev}, 0))"
    lifespan = (f"case when active_{prev} = 0 then null when retained_{x} = active_{prev} then {LIFESPAN_CAP_YEARS}"
                f" else least({LIFESPAN_CAP_YEARS}, ({days} / 365.0) / (1 - {retention})) end")
    return f"""
      active_{x}, orders_{x}, revenue_{x},
      revenue_{x} / nullif(orders_{x}, 0) as aov_{x},
      orders_{x}::numeric / nullif(active_{x}, 0) * 365.0 / {days} as frequency_{x},
      {retention} as retention_{x},
      {lifespan} as lifespan_{x}"""


@dataclass
class Lifetime:
    customers: int
    mean: float | None
    percentiles: dict[int, float]  # 10, 25, 50, 75, 90 -> historical CLV
    histogram: list[dict]  # bucket label, low, high, customers, revenue
    top: list[dict]  # the CLV_TOP highest: customer_id, name, orders, revenue, margin, first/last sale, predicted
    has_costs: bool
    margin: float | None  # of lines whose product has a cost
    costed_revenue: float | None
    window_days: int
    predictive: dict = field(default_factory=dict)  # "current" / "previous" window -> figures

    @property
    def median(self) -> float | None:
        return self.percentiles.get(50)


def lifetime_value(db: Database, claims: Claims, workspace_id: str, currency: str, snapshot: date,
                   window_days: int = 365) -> Lifetime:
    until = utc_midnight(snapshot)
    params = _scope(workspace_id, currency, snapshot) | {
        "w0": until - timedelta(days=window_days), "p0": until - timedelta(days=2 * window_days),
        "pp0": until - timedelta(days=3 * window_days), "edges": [float(e) for e in CLV_EDGES], "top": CLV_TOP}
    with db.as_user(claims) as conn:
        has_costs = conn.execute("select exists (select 1 from public.products p where p.workspace_id = %s"
                                 " and p.cost is not null) as x", [workspace_id]).fetchone()["x"]
        margins = f"""
            select o.customer_id, sum(l.amount - round(l.quantity * p.cost, 2)) as margin,
                   sum(l.amount) as costed_revenue
              from public.orders o
              join public.order_lines l on l.workspace_id = o.workspace_id and l.order_id = o.id
              join public.products p on p.workspace_id = l.workspace_id and p.id = l.product_id
             where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s
               and o.customer_id is not null and o.ordered_at < %(until)s and p.cost is not null
             group by o.customer_id""" if has_costs else \
            "select null::uuid as customer_id, null::numeric as margin, null::numeric as costed_revenue where false"
        row = conn.execute(f"""
            with cust as (
              select o.customer_id, count(*)::int as orders, sum(o.total_amount) as revenue,
                     (min(o.ordered_at) at time zone 'UTC')::date as first_sale,
                     (max(o.ordered_at) at time zone 'UTC')::date as last_sale,
                     count(*) filter (where o.ordered_at >= %(w0)s) as orders_w,
                     coalesce(sum(o.total_amount) filter (where o.ordered_at >= %(w0)s), 0) as revenue_w,
                     count(*) filter (where o.ordered_at >= %(p0)s and o.ordered_at < %(w0)s) as orders_p,
                     coalesce(sum(o.total_amount) filter (where o.ordered_at >= %(p0)s and o.ordered_at < %(w0)s), 0)
                       as revenue_p,
                     count(*) filter (where o.ordered_at >= %(pp0)s and o.ordered_at < %(p0)s) as orders_pp
              {_CUSTOMER_SALES}
              group by o.customer_id),
            margins as ({margins}),
            totals as (
              select count(*) filter (where orders_w > 0) as active_w, sum(orders_w) as orders_w,
                     sum(revenue_w) as revenue_w,
                     count(*) filter (where orders_p > 0) as active_p, sum(orders_p) as orders_p,
                     sum(revenue_p) as revenue_p,
                     count(*) filter (where orders_pp > 0) as active_pp,
                     count(*) filter (where orders_w > 0 and orders_p > 0) as retained_w,
                     count(*) filter (where orders_p > 0 and orders_pp > 0) as retained_p
                from cust),
            predictive as (
              select {_window_figures('w', 'p', window_days)}, {_window_figures('p', 'pp', window_days)} from totals),
            figures as (
              select p.*, p.aov_w * p.frequency_w * p.lifespan_w as clv_w,
                     p.aov_p * p.frequency_p * p.lifespan_p as clv_p
                from predictive p)
            select
              (select count(*) from cust)::int as customers,
              (select avg(revenue) from cust)::float as mean,
              (select percentile_cont(array[0.1, 0.25, 0.5, 0.75, 0.9]) within group (order by revenue) from cust)
                ::float[] as percentiles,
              (select sum(margin) from margins)::float as margin,
              (select sum(costed_revenue) from margins)::float as costed_revenue,
              (select row_to_json(f) from figures f) as predictive,
              (select json_agg(h order by h.bucket) from (
                 select width_bucket(revenue, %(edges)s::numeric[]) as bucket, count(*) as customers,
                        sum(revenue) as revenue
                   from cust group by 1) h) as histogram,
              (select json_agg(t) from (
                 select c.customer_id, {_NAME} as name, c.orders, c.revenue, m.margin, c.first_sale, c.last_sale,
                        round(c.revenue_w * 365.0 / {window_days} * (select lifespan_w from figures), 2)
                          as predicted
                   from cust c left join margins m using (customer_id) {_NAMES.format(id='c.customer_id')}
                  order by c.revenue desc, c.customer_id limit %(top)s) t) as top
            """, params).fetchone()
    return _assemble_lifetime(row, has_costs, window_days)


def _bucket_label(index: int) -> tuple[str, float | None, float | None]:
    if index == 0:
        return "≤ 0", None, 0.0
    low = 0.0 if index == 1 else CLV_EDGES[index - 1]
    high = CLV_EDGES[index] if index < len(CLV_EDGES) else None
    return (f"{low:,.0f}–{high:,.0f}" if high is not None else f"≥ {low:,.0f}"), low, high


def _assemble_lifetime(row: dict, has_costs: bool, window_days: int) -> Lifetime:
    found = {h["bucket"]: h for h in row["histogram"] or []}
    histogram = []
    if found:
        low, high = min(found), max(found)
        for index in range(low, high + 1):
            label, lo, hi = _bucket_label(index)
            h = found.get(index, {})
            histogram.append({"bucket": label, "low": lo, "high": hi, "customers": h.get("customers", 0),
                              "revenue": _money(h.get("revenue"))})
    top = []
    for t in row["top"] or []:
        top.append({**t, "revenue": _money(t["revenue"]), "margin": None if t["margin"] is None else _money(t["margin"]),
                    "predicted": None if t["predicted"] is None else _money(t["predicted"]),
                    "first_sale": date.fromisoformat(t["first_sale"]), "last_sale": date.fromisoformat(t["last_sale"])})
    p = row["predictive"] or {}

    def window(x: str) -> dict:
        def num(key, digits=2):
            value = p.get(f"{key}_{x}")
            return None if value is None else round(float(value), digits)
        return {"active": int(p.get(f"active_{x}") or 0), "orders": int(p.get(f"orders_{x}") or 0),
                "revenue": _money(p.get(f"revenue_{x}")), "aov": num("aov"), "frequency": num("frequency", 3),
                "retention": None if p.get(f"retention_{x}") is None else round(100 * float(p[f"retention_{x}"]), 1),
                "lifespan": num("lifespan", 2), "clv": num("clv")}

    percentiles = dict(zip((10, 25, 50, 75, 90), [round(v, 2) for v in row["percentiles"] or []]))
    return Lifetime(row["customers"], None if row["mean"] is None else round(row["mean"], 2), percentiles, histogram,
                    top, has_costs, None if row["margin"] is None else round(row["margin"], 2),
                    None if row["costed_revenue"] is None else round(row["costed_revenue"], 2), window_days,
                    {"current": window("w"), "previous": window("p")})


# -- churn risk ----------------------------------------------------------------------------------


@dataclass
class Churn:
    customers: int  # with a sale before the snapshot
    assessed: int  # with sales on two or more days
    at_risk: list[dict]  # customer_id, name, sale_days, orders, revenue, last_sale, median_gap, days_since, overdue
    at_risk_revenue: float
    buckets: list[dict]  # bucket label, customers, at_risk


def churn_risk(db: Database, claims: Claims, workspace_id: str, currency: str, snapshot: date,
               factor: float = 2.0, min_days: int = 30) -> Churn:
    params = _scope(workspace_id, currency, snapshot) | {"factor": factor, "min_days": min_days,
                                                         "edges": list(OVERDUE_EDGES)}
    with db.as_user(claims) as conn:
        row = conn.execute(f"""
            with days as (
              select o.customer_id, (o.ordered_at at time zone 'UTC')::date as day, count(*) as orders,
                     sum(o.total_amount) as revenue
              {_CUSTOMER_SALES}
              group by 1, 2),
            gaps as (
              select d.*, d.day - lag(d.day) over (partition by d.customer_id order by d.day) as gap from days d),
            per as (
              select customer_id, count(*)::int as sale_days, sum(orders)::int as orders, sum(revenue) as revenue,
                     max(day) as last_sale, percentile_cont(0.5) within group (order by gap) as median_gap
                from gaps group by customer_id),
            assessed as (
              select p.*, %(snapshot)s::date - p.last_sale as days_since,
                     (%(snapshot)s::date - p.last_sale) / p.median_gap as overdue
                from per p where p.sale_days >= 2),
            flagged as (
              select a.*, a.days_since > %(factor)s * a.median_gap and a.days_since > %(min_days)s as at_risk
                from assessed a)
            select
              (select count(*) from per)::int as customers,
              (select count(*) from assessed)::int as assessed,
              (select json_agg(b order by b.bucket) from (
                 select width_bucket(overdue, %(edges)s::float8[]) as bucket, count(*) as customers,
                        count(*) filter (where at_risk) as at_risk
                   from flagged group by 1) b) as buckets,
              (select json_agg(t) from (
                 select f.customer_id, {_NAME} as name, f.sale_days, f.orders, f.revenue, f.last_sale,
                        f.median_gap, f.days_since, round(f.overdue::numeric, 2) as overdue
                   from flagged f {_NAMES.format(id='f.customer_id')}
                  where f.at_risk
                  order by f.revenue desc, f.customer_id) t) as at_risk
            """, params).fetchone()
    labels = ["< 1×"] + [f"{a:g}–{b:g}×" for a, b in zip(OVERDUE_EDGES, OVERDUE_EDGES[1:])] + [f"≥ {OVERDUE_EDGES[-1]:g}×"]
    found = {b["bucket"]: b for b in row["buckets"] or []}
    buckets = [{"bucket": label, "customers": found.get(i, {}).get("customers", 0),
                "at_risk": found.get(i, {}).get("at_risk", 0)} for i, label in enumerate(labels)]
    at_risk = [{**t, "revenue": _money(t["revenue"]), "last_sale": date.fromisoformat(t["last_sale"]),
                "median_gap": float(t["median_gap"]), "overdue": float(t["overdue"])} for t in row["at_risk"] or []]
    return Churn(row["customers"], row["assessed"], at_risk, _money(sum(t["revenue"] for t in at_risk)), buckets)
