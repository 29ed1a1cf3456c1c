"""Overview KPIs and sales breakdowns (by month, country, category, product; top customers and
products; margin where the product's cost is known), for one currency and one period, with the
previous period of the same length alongside.

Order-level figures add up `orders.total_amount`, which the order_lines statement triggers keep
equal to the sum of the order's line amounts (so a return line reduces it); product and category
figures add up the lines themselves. Days are UTC days of `ordered_at` (`lib.analytics.common`).
Deal and ticket figures are counted as at an instant (the end of a period or of a trend bucket)
from the deal stage history and the tickets' solved/closed times. `FIGURES` defines every figure
in one line; the pages show the same text, and docs/analytics.md states the full rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from lib.analytics.common import SALE, Period
from lib.db import Claims, Database
from lib.validation import country_name

FIGURES = {
    "revenue": "Revenue: the sum of the line amounts of sale orders ordered in the period (returns subtract; "
               "draft and cancelled orders never count).",
    "orders": "Orders: sale orders (confirmed, shipped, invoiced or paid) ordered in the period.",
    "aov": "Average order value: revenue ÷ orders.",
    "new_customers": "New customers: customers whose first sale ever (in this currency) was in the period.",
    "active_customers": "Active customers: customers with at least one sale in the period.",
    "repeat_rate": "Repeat-purchase rate: the share of active customers with at least two sales ever "
                   "(in this currency) up to the end of the period.",
    "open_pipeline": "Open pipeline: the value of the deals (in this currency) that were in an open stage at "
                     "the end of the period, from the stage history.",
    "win_rate": "Win rate: of the deals won or lost in the period (each deal's last close in it), the share won.",
    "open_tickets": "Open tickets: tickets created by the end of the period and neither solved nor closed by then.",
    "by_month": "Revenue of the sale orders per {grain}; the grey bars are the previous period's {grain}s, "
                "in the same order.",
    "by_country": "Revenue of the sale orders per order country (orders without one under Unknown).",
    "by_category": "Revenue of the sale order lines per product category (lines without a product or category "
                   "under Uncategorised).",
    "top_products": "Products by revenue of their sale order lines; orders = sale orders with the product.",
    "top_customers": "Customers by revenue in the period; anonymous sales are left out.",
    "margin": "Margin: revenue − quantity × the product's current cost, over the lines whose product has a cost "
              "in the order's currency; coverage = the share of revenue those lines make up.",
}
UNKNOWN_COUNTRY = "Unknown"
UNCATEGORISED = "Uncategorised"
NO_PRODUCT = "(no product)"


def utc(day: date) -> datetime:
    """Midnight UTC of `day`: periods are whole UTC days of ordered_at."""
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def grain_for(period: Period) -> str:
    """The trend bucket: a day for up to a month, a week for up to half a year, else a month."""
    return "day" if period.days <= 31 else "week" if period.days <= 184 else "month"


def bucket_start(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday, like date_trunc
    return day.replace(day=1)


def next_bucket(day: date, grain: str) -> date:
    if grain == "day":
        return day + timedelta(days=1)
    if grain == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(period: Period, grain: str) -> list[date]:
    """Every bucket start touching the period, oldest first (the first and last may be partial)."""
    out, day = [], bucket_start(period.start, grain)
    while day <= period.end:
        out.append(day)
        day = next_bucket(day, grain)
    return out


def bucket_label(day: date, grain: str) -> str:
    return f"{day:%b %Y}" if grain == "month" else f"{day:%Y-%m-%d}"


def _ratio(num: float | None, den: float | None) -> float | None:
    return float(num) / float(den) if num is not None and den else None


# -- overview ---------------------------------------------------------------------------------------

KPIS = ("revenue", "orders", "aov", "new_customers", "active_customers", "repeat_rate", "open_pipeline",
        "win_rate", "open_tickets")


@dataclass
class Overview:
    period: Period
    currency: str
    grain: str
    current: dict  # KPI -> value (None when it cannot be computed, e.g. no orders for an average)
    previous: dict
    trend: list[dict] = field(default_factory=list)  # bucket, label, and every KPI per bucket


def _sales_kpis(row: dict | None) -> dict:
    row = row or {}
    revenue, orders, active = float(row.get("revenue") or 0), int(row.get("orders") or 0), int(row.get("active") or 0)
    return {"revenue": revenue, "orders": orders, "aov": _ratio(revenue, orders),
            "new_customers": int(row.get("new") or 0), "active_customers": active,
            "repeat_rate": _ratio(row.get("repeaters"), active)}


def overview(db: Database, claims: Claims, workspace_id: str, currency: str, period: Period) -> Overview:
    """Every overview KPI for `period` and the previous period, and per trend bucket of `period`."""
    grain = grain_for(period)
    previous = period.previous()
    starts = buckets(period, grain)
    # intervals for closed-deal counts and instants for snapshots: [current, previous, bucket 1..n]
    spans = [(period.start, period.end + timedelta(days=1)), (previous.start, previous.end + timedelta(days=1))]
    spans += [(max(b, period.start), min(next_bucket(b, grain), period.end + timedelta(days=1))) for b in starts]
    params = {"ws": workspace_id, "currency": currency, "grain": grain, "start": utc(period.start),
              "end": utc(period.end + timedelta(days=1)), "prev_start": utc(previous.start),
              "span_starts": [utc(s) for s, _ in spans], "span_ends": [utc(e) for _, e in spans]}
    with db.as_user(claims) as conn:
        sales = conn.execute(
            "with s as (select o.customer_id, o.ordered_at, o.total_amount,"
            "             case when o.customer_id is not null then row_number() over ("
            "               partition by o.customer_id order by o.ordered_at, o.id) end as nth"
            "           from public.orders o"
            f"          where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s"
            "             and o.ordered_at < %(end)s),"
            " p as (select s.*, s.ordered_at >= %(start)s as cur,"
            "              date_trunc(%(grain)s, s.ordered_at at time zone 'UTC')::date as bucket"
            "         from s where s.ordered_at >= %(prev_start)s)"
            " select p.cur, case when grouping(p.bucket) = 0 then p.bucket end as bucket,"
            "  sum(p.total_amount) as revenue, count(*) as orders, count(distinct p.customer_id) as active,"
            "  count(distinct p.customer_id) filter (where p.nth = 1) as new,"
            # a customer active in the span has ≥ 2 sales up to its end iff one of its sales in it is their 2nd+
            "  count(distinct p.customer_id) filter (where p.nth >= 2) as repeaters"
            " from p group by grouping sets ((p.cur), (p.cur, p.bucket))",
            params,
        ).fetchall()
        closed = conn.execute(
            "select i.n, count(*) filter (where c.kind = 'won') as won, count(*) filter (where c.kind = 'lost') as lost"
            " from unnest(%(span_starts)s::timestamptz[], %(span_ends)s::timestamptz[]) with ordinality as i(s, e, n)"
            " cross join lateral (select distinct on (h.deal_id) st.kind from public.deal_stage_history h"
            "   join public.stages st on st.id = h.to_stage_id"
            "  where h.workspace_id = %(ws)s and st.kind <> 'open' and h.entered_at >= i.s and h.entered_at < i.e"
            "  order by h.deal_id, h.entered_at desc, h.id desc) c"
            " group by i.n",
            params,
        ).fetchall()
        pipeline = conn.execute(
            "with h as (select h.deal_id, st.kind, h.entered_at,"
            "             lead(h.entered_at) over (partition by h.deal_id order by h.entered_at, h.id) as next_at"
            "           from public.deal_stage_history h join public.stages st on st.id = h.to_stage_id"
            "          where h.workspace_id = %(ws)s)"
            " select i.n, sum(d.value) as value"
            " from unnest(%(span_ends)s::timestamptz[]) with ordinality as i(at, n)"
            " join h on h.kind = 'open' and h.entered_at < i.at and (h.next_at is null or h.next_at >= i.at)"
            " join public.deals d on d.id = h.deal_id and d.workspace_id = %(ws)s and d.currency = %(currency)s"
            " group by i.n",
            params,
        ).fetchall()
        tickets = conn.execute(
            "select i.n, count(t.id) as open"
            " from unnest(%(span_ends)s::timestamptz[]) with ordinality as i(at, n)"
            " left join public.tickets t on t.workspace_id = %(ws)s and t.created_at < i.at"
            "  and coalesce(t.solved_at, t.closed_at,"
            "               case when t.status in ('solved', 'closed') then t.updated_at end, 'infinity') >= i.at"
            " group by i.n",
            params,
        ).fetchall()
    won_lost = {r["n"]: (r["won"], r["lost"]) for r in closed}
    open_value = {r["n"]: float(r["value"]) for r in pipeline}
    open_tickets = {r["n"]: r["open"] for r in tickets}

    def snapshot(n: int) -> dict:  # n: 1 = current period, 2 = previous, 3.. = buckets
        won, lost = won_lost.get(n, (0, 0))
        return {"open_pipeline": open_value.get(n, 0.0), "win_rate": _ratio(won, won + lost),
                "won": won, "lost": lost, "open_tickets": open_tickets.get(n, 0)}

    by_part = {r["cur"]: r for r in sales if r["bucket"] is None}
    by_bucket = {r["bucket"]: r for r in sales if r["bucket"] is not None and r["cur"]}
    trend = [{"bucket": b, "label": bucket_label(b, grain), **_sales_kpis(by_bucket.get(b)), **snapshot(i + 3)}
             for i, b in enumerate(starts)]
    return Overview(period=period, currency=currency, grain=grain,
                    current={**_sales_kpis(by_part.get(True)), **snapshot(1)},
                    previous={**_sales_kpis(by_part.get(False)), **snapshot(2)}, trend=trend)


# -- sales breakdowns -------------------------------------------------------------------------------

@dataclass
class SalesReport:
    period: Period
    currency: str
    grain: str
    months: list[dict] = field(default_factory=list)  # bucket, label, revenue, orders, prev_label, prev_revenue, …
    countries: list[dict] = field(default_factory=list)  # country ('' = unknown), name, revenue, orders, …
    categories: list[dict] = field(default_factory=list)  # category ('' = none), name, revenue, margin figures
    products: list[dict] = field(default_factory=list)  # the top products, as `top_products` without filters
    margin: dict = field(default_factory=dict)  # this period: revenue, costed_revenue, cost, margin, …
    previous_margin: dict = field(default_factory=dict)

    @property
    def revenue(self) -> float:
        return sum(r["revenue"] for r in self.months)

    @property
    def orders(self) -> int:
        return sum(r["orders"] for r in self.months)


def _margin(revenue: float, costed: float, cost: float) -> dict:
    margin = costed - cost
    return {"revenue": revenue, "costed_revenue": costed, "cost": cost, "margin": margin,
            "margin_pct": _ratio(100 * margin, costed) if costed else None,
            "coverage_pct": _ratio(100 * costed, revenue) if revenue else None}


LINES = "from public.orders o join public.order_lines l on l.order_id = o.id"
LINES_WITH_PRODUCT = LINES + " left join public.products p on p.id = l.product_id"


def _sale_lines(extra: str = "", since: str = "start") -> str:
    """WHERE for the sale lines of the period (or from the previous period's start) in the currency."""
    return (f" where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s"
            f" and o.ordered_at >= %({since})s and o.ordered_at < %(end)s{extra}")


def _per_product(conn, joins: str, where: str, params: dict) -> list[dict]:
    """Sums per (period part, product) in one pass over the lines, then each product's details."""
    return conn.execute(
        f"with s as (select o.ordered_at >= %(start)s as cur, l.product_id, sum(l.amount) as amount,"
        f"             sum(l.quantity) as quantity {joins} {where} group by 1, 2)"
        " select s.*, p.sku, p.name, coalesce(nullif(btrim(p.category), ''), '') as category,"
        "  case when p.currency = %(currency)s then p.cost end as unit_cost"
        " from s left join public.products p on p.id = s.product_id",
        params).fetchall()


def _top(conn, rows: list[dict], joins: str, where: str, params: dict, limit: int) -> list[dict]:
    """The `limit` products with the most revenue, with distinct orders and customers counted for
    those products only (the expensive part, kept small)."""
    top = sorted((r for r in rows if r["cur"]), key=lambda r: (-r["amount"], r["name"] or "", str(r["product_id"])))[:limit]
    ids = [r["product_id"] for r in top if r["product_id"] is not None]
    counts = {row["product_id"]: row for row in conn.execute(
        "select l.product_id, count(distinct o.id) as orders, count(distinct o.customer_id) as customers"
        f" {joins} {where} and l.workspace_id = %(ws)s and l.product_id = any(%(ids)s::uuid[])"
        " group by l.product_id", {**params, "ids": ids}).fetchall()} if ids else {}
    if any(r["product_id"] is None for r in top):
        counts[None] = conn.execute(
            "select count(distinct o.id) as orders, count(distinct o.customer_id) as customers"
            f" {joins} {where} and l.product_id is null", params).fetchone()
    out = []
    for r in top:
        c, revenue, quantity = counts.get(r["product_id"]) or {}, float(r["amount"]), float(r["quantity"])
        cost = float(r["unit_cost"]) if r["unit_cost"] is not None else None
        out.append({"product_id": str(r["product_id"]) if r["product_id"] else None, "sku": r["sku"],
                    "name": r["name"] or NO_PRODUCT, "category": r["category"] or UNCATEGORISED,
                    "revenue": revenue, "quantity": quantity, "orders": c.get("orders", 0),
                    "customers": c.get("customers", 0), "unit_cost": cost,
                    "margin": None if cost is None else revenue - quantity * cost})
    return out


def sales_report(db: Database, claims: Claims, workspace_id: str, currency: str, period: Period,
                 top: int = 100) -> SalesReport:
    """Revenue per trend bucket (with the previous period's buckets), per country and per category,
    the margin, for `period` and the previous period, and the `top` products of the period."""
    grain = grain_for(period)
    previous = period.previous()
    params = {"ws": workspace_id, "currency": currency, "grain": grain, "start": utc(period.start),
              "end": utc(period.end + timedelta(days=1)), "prev_start": utc(previous.start)}
    with db.as_user(claims) as conn:
        conn.execute("set local work_mem = '32MB'")  # group the year's lines in memory
        per_order = conn.execute(
            "select x.cur, x.bucket, x.country, grouping(x.country) = 0 as per_country,"
            " sum(x.total_amount) as revenue, count(*) as orders, count(distinct x.customer_id) as customers"
            " from (select o.ordered_at >= %(start)s as cur, o.total_amount, o.customer_id,"
            "        date_trunc(%(grain)s, o.ordered_at at time zone 'UTC')::date as bucket,"
            f"       coalesce(o.country, '') as country from public.orders o {_sale_lines(since='prev_start')}) x"
            " group by grouping sets ((x.cur, x.bucket), (x.cur, x.country))",
            params,
        ).fetchall()
        per_product = _per_product(conn, LINES, _sale_lines(since="prev_start"), params)
        products = _top(conn, per_product, LINES, _sale_lines(), params, top)
    report = _assemble_sales(period, currency, grain, per_order, per_product)
    report.products = products
    return report


def _assemble_sales(period: Period, currency: str, grain: str, per_order: list[dict],
                    per_product: list[dict]) -> SalesReport:
    previous = period.previous()
    report = SalesReport(period=period, currency=currency, grain=grain)
    got = {(r["cur"], r["bucket"]): r for r in per_order if not r["per_country"]}
    prev_buckets = buckets(previous, grain)
    for i, b in enumerate(buckets(period, grain)):
        cur, pb = got.get((True, b)), prev_buckets[i] if i < len(prev_buckets) else None
        prev = got.get((False, pb)) if pb else None
        report.months.append({
            "bucket": b, "label": bucket_label(b, grain), "revenue": float(cur["revenue"]) if cur else 0.0,
            "orders": cur["orders"] if cur else 0,
            "prev_label": bucket_label(pb, grain) if pb else None,
            "prev_revenue": float(prev["revenue"]) if prev else 0.0, "prev_orders": prev["orders"] if prev else 0})
    countries: dict[str, dict] = {}
    for r in per_order:
        if r["per_country"]:
            row = countries.setdefault(r["country"], {
                "country": r["country"], "name": country_name(r["country"]) if r["country"] else UNKNOWN_COUNTRY,
                "revenue": 0.0, "orders": 0, "customers": 0, "prev_revenue": 0.0, "prev_orders": 0})
            if r["cur"]:
                row.update(revenue=float(r["revenue"]), orders=r["orders"], customers=r["customers"])
            else:
                row.update(prev_revenue=float(r["revenue"]), prev_orders=r["orders"])
    report.countries = sorted(countries.values(), key=lambda r: (-r["revenue"], -r["prev_revenue"], r["name"]))
    # categories and margins: sums of the products' sums (quantity × cost is linear, so exact)
    sums: dict[tuple, list[float]] = {}
    for r in per_product:
        amount, quantity = float(r["amount"]), float(r["quantity"])
        costed = r["unit_cost"] is not None
        for key in ((r["cur"], r["category"]), (r["cur"], None)):
            t = sums.setdefault(key, [0.0, 0.0, 0.0, 0.0])
            t[0] += amount
            t[1] += quantity
            t[2] += amount if costed else 0.0
            t[3] += quantity * float(r["unit_cost"]) if costed else 0.0
    cats: dict[str, dict] = {}
    for (cur, category), (revenue, quantity, costed, cost) in sums.items():
        if category is None:
            continue
        row = cats.setdefault(category, {"category": category, "name": category or UNCATEGORISED, "revenue": 0.0,
                                         "quantity": 0.0, "prev_revenue": 0.0,
                                         **{f"m_{k}": v for k, v in _margin(0, 0, 0).items()}})
        if cur:
            row.update(revenue=revenue, quantity=quantity, **{f"m_{k}": v for k, v in _margin(revenue, costed, cost).items()})
        else:
            row["prev_revenue"] = revenue
    report.categories = sorted(cats.values(), key=lambda r: (-r["revenue"], -r["prev_revenue"], r["name"]))
    report.margin = _margin(*(lambda t: (t[0], t[2], t[3]))(sums.get((True, None), [0.0] * 4)))
    report.previous_margin = _margin(*(lambda t: (t[0], t[2], t[3]))(sums.get((False, None), [0.0] * 4)))
    return report


def _drill_filters(months: tuple, grain: str, countries: tuple, categories: tuple) -> tuple[str, dict]:
    """SQL conditions (on o and p) for the bars picked on the Sales page."""
    where, params = [], {}
    if months:
        where.append("date_trunc(%(grain)s, o.ordered_at at time zone 'UTC')::date = any(%(months)s::date[])")
        params.update(grain=grain, months=list(months))
    if countries:
        where.append("coalesce(o.country, '') = any(%(countries)s::text[])")
        params["countries"] = list(countries)
    if categories:
        where.append("coalesce(nullif(btrim(p.category), ''), '') = any(%(categories)s::text[])")
        params["categories"] = list(categories)
    return "".join(f" and {w}" for w in where), params


def top_products(db: Database, claims: Claims, workspace_id: str, currency: str, period: Period, *,
                 months: tuple = (), countries: tuple = (), categories: tuple = (), limit: int = 100) -> list[dict]:
    """Products by revenue in the period (lines without a product as one row), optionally only in
    the picked buckets (`months`, of the period's grain), countries ('' = unknown) and categories
    ('' = uncategorised); with quantity, orders, customers and margin where the cost is known."""
    extra, params = _drill_filters(months, grain_for(period), countries, categories)
    params.update(ws=workspace_id, currency=currency, start=utc(period.start), end=utc(period.end + timedelta(days=1)))
    joins = LINES_WITH_PRODUCT if categories else LINES
    with db.as_user(claims) as conn:
        conn.execute("set local work_mem = '32MB'")
        rows = _per_product(conn, joins, _sale_lines(extra), params)
        return _top(conn, rows, joins, _sale_lines(extra), params, limit)


def top_customers(db: Database, claims: Claims, workspace_id: str, currency: str, period: Period, *,
                  months: tuple = (), countries: tuple = (), categories: tuple = (), limit: int = 100) -> list[dict]:
    """Customers by revenue in the period (anonymous sales left out), with the same drill-down
    filters as `top_products`; a category filter counts only that category's lines."""
    extra, params = _drill_filters(months, grain_for(period), countries, categories)
    params.update(ws=workspace_id, currency=currency, start=utc(period.start), end=utc(period.end + timedelta(days=1)),
                  limit=limit)
    if categories:  # revenue of the picked categories' lines
        source = ("select o.customer_id, o.id, o.ordered_at, l.amount from public.orders o"
                  " join public.order_lines l on l.order_id = o.id left join public.products p on p.id = l.product_id")
    else:
        source = "select o.customer_id, o.id, o.ordered_at, o.total_amount as amount from public.orders o"
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select x.customer_id, sum(x.amount) as revenue, count(distinct x.id) as orders,"
            " min(x.ordered_at) as first_order, max(x.ordered_at) as last_order,"
            " coalesce(co.name, nullif(ct.full_name, ''), ct.email) as name,"
            " case when co.id is not null then 'company' else 'contact' end as kind,"
            " coalesce(co.external_id, ct.external_id) as external_id"
            f" from ({source}"
            f"   where o.workspace_id = %(ws)s and {SALE} and o.currency = %(currency)s and o.customer_id is not null"
            f"    and o.ordered_at >= %(start)s and o.ordered_at < %(end)s{extra}) x"
            " left join public.companies co on co.id = x.customer_id"
            " left join public.contacts ct on ct.id = x.customer_id"
            " group by x.customer_id, co.id, co.name, co.external_id, ct.full_name, ct.email, ct.external_id"
            " order by revenue desc, name limit %(limit)s",
            params,
        ).fetchall()
    return [{**r, "customer_id": str(r["customer_id"]), "revenue": float(r["revenue"]),
             "name": r["name"] or "(deleted customer)"} for r in rows]
