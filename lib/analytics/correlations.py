"""Correlations between customer metrics: one row per customer with a sale in the period (in the
chosen currency), the Pearson correlation of every pair of metrics, and the least-squares line
of every ordered pair, all from ONE SQL statement (the per-customer CTE is computed once).

Metrics, per customer (the snapshot is the end of the period):
- recency_days: days from the customer's last sale to the last day of the period (0 = that day);
- frequency: sale orders in the period; monetary: their revenue (returns subtract);
- tenure_days: days from the customer's first sale ever (in this currency) to the last day;
- tickets: tickets created in the period whose customer (company, else contact) is this one;
- csat: the average rating (1–5) of those tickets that were rated (empty when none was);
- discount_pct: 100 × the discount given ÷ the list value (quantity × unit price) of the
  customer's positive sale lines in the period.
Correlations and fits use the customers where both metrics are known (SQL `corr`, `regr_*`
ignore rows with a null), so CSAT pairs rest on the rated customers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from itertools import combinations, permutations

from psycopg import sql

from lib.analytics.common import SALE, Period
from lib.analytics.sales import utc
from lib.db import Claims, Database

METRICS = {
    "recency_days": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Monetary (revenue)",
    "tenure_days": "Tenure (days)",
    "tickets": "Tickets",
    "csat": "Average CSAT",
    "discount_pct": "Discount %",
}
FIGURES = {
    "recency_days": "Days from the customer's last sale to the last day of the period.",
    "frequency": "Sale orders in the period.",
    "monetary": "Revenue of those orders (returns subtract).",
    "tenure_days": "Days from the customer's first sale ever to the last day of the period.",
    "tickets": "Tickets created in the period for the customer.",
    "csat": "Average rating (1–5) of the customer's rated tickets created in the period.",
    "discount_pct": "Discount given ÷ list value (quantity × unit price) of the customer's sale lines in the period.",
    "heatmap": "Pearson correlation of each pair of metrics over the customers with a sale in the period "
               "(only customers where both are known); 1 = rise together, −1 = one rises as the other falls.",
    "scatter": "One dot per customer; the line is the least-squares fit y = a + b·x.",
}


@dataclass
class CorrelationResult:
    rows: list[dict] = field(default_factory=list)  # customer_id, name, every metric
    matrix: dict = field(default_factory=dict)  # (a, b) -> r (None: undefined), both orders
    pairs: dict = field(default_factory=dict)  # (a, b) -> customers where both are known
    fits: dict = field(default_factory=dict)  # (x, y) -> {"slope", "intercept", "r2", "n"}


def _col(name: str) -> sql.Identifier:
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name}.")
    return sql.Identifier(name)


def _aggregates() -> sql.Composable:
    parts = []
    for a, b in combinations(METRICS, 2):
        parts.append(sql.SQL("'r:{a}|{b}', jsonb_build_array(corr(m.{x}, m.{y}), regr_count(m.{x}, m.{y}))").format(
            a=sql.SQL(a), b=sql.SQL(b), x=_col(a), y=_col(b)))
    fits = []
    for x, y in permutations(METRICS, 2):
        fits.append(sql.SQL("'f:{x}|{y}', jsonb_build_array(regr_slope(m.{ycol}, m.{xcol}),"
                            " regr_intercept(m.{ycol}, m.{xcol}), regr_r2(m.{ycol}, m.{xcol}))").format(
            x=sql.SQL(x), y=sql.SQL(y), xcol=_col(x), ycol=_col(y)))
    # jsonb_build_object takes at most 100 arguments: one object per 20 pairs
    objects = [sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(group))
               for group in (parts, *(fits[i:i + 20] for i in range(0, len(fits), 20)))]
    return sql.SQL(", ").join(objects)


QUERY = """
with sales as (
  select o.id, o.customer_id, o.ordered_at, o.total_amount, o.ordered_at >= %(start)s as cur
  from public.orders o
  where o.workspace_id = %(ws)s and {sale} and o.currency = %(currency)s and o.customer_id is not null
    and o.ordered_at < %(end)s
),
per as (
  select s.customer_id, min(s.ordered_at) as first_sale, max(s.ordered_at) as last_sale,
         count(*) filter (where s.cur) as frequency, sum(s.total_amount) filter (where s.cur) as monetary
  from sales s group by s.customer_id having bool_or(s.cur)
),
disc as (
  select s.customer_id, sum(l.quantity * l.unit_price * l.discount / 100) as discount,
         sum(l.quantity * l.unit_price) as gross
  from sales s join public.order_lines l on l.order_id = s.id
  where s.cur and l.quantity > 0 group by s.customer_id
),
tix as (
  select coalesce(t.company_id, t.contact_id) as customer_id, count(*) as tickets, avg(t.csat) as csat
  from public.tickets t
  where t.workspace_id = %(ws)s and t.created_at >= %(start)s and t.created_at < %(end)s
    and coalesce(t.company_id, t.contact_id) is not null
  group by 1
),
m as materialized (
  select per.customer_id,
         (%(last_day)s::date - (per.last_sale at time zone 'UTC')::date)::float8 as recency_days,
         per.frequency::float8 as frequency, per.monetary::float8 as monetary,
         (%(last_day)s::date - (per.first_sale at time zone 'UTC')::date)::float8 as tenure_days,
         coalesce(tix.tickets, 0)::float8 as tickets, tix.csat::float8 as csat,
         (100 * disc.discount / nullif(disc.gross, 0))::float8 as discount_pct
  from per left join disc using (customer_id) left join tix using (customer_id)
)
select (select coalesce(jsonb_agg(jsonb_build_object(
          'customer_id', m.customer_id, 'name', coalesce(co.name, nullif(ct.full_name, ''), ct.email),
          'external_id', coalesce(co.external_id, ct.external_id),
          'recency_days', m.recency_days, 'frequency', m.frequency, 'monetary', m.monetary,
          'tenure_days', m.tenure_days, 'tickets', m.tickets, 'csat', m.csat, 'discount_pct', m.discount_pct)
          order by m.monetary desc, m.customer_id), '[]')
        from m left join public.companies co on co.id = m.customer_id
        left join public.contacts ct on ct.id = m.customer_id) as rows,
       (select jsonb_build_array({aggregates}) from m) as stats
"""


def analyse(db: Database, claims: Claims, workspace_id: str, currency: str, period: Period) -> CorrelationResult:
    """Every customer metric, the correlation matrix and every least-squares fit, in one statement."""
    query = sql.SQL(QUERY).format(sale=sql.SQL(SALE), aggregates=_aggregates())
    params = {"ws": workspace_id, "currency": currency, "start": utc(period.start),
              "end": utc(period.end + timedelta(days=1)), "last_day": period.end}
    with db.as_user(claims) as conn:
        row = conn.execute(query, params).fetchone()
    result = CorrelationResult(rows=[{**r, "name": r["name"] or "(deleted customer)"} for r in row["rows"]])
    stats: dict = {}
    for part in row["stats"] or []:
        stats.update(part)
    for key, value in stats.items():
        kind, a, b = key[0], *key[2:].split("|")
        if kind == "r":  # corr, count
            r = None if value[0] is None else max(-1.0, min(1.0, float(value[0])))
            result.matrix[(a, b)] = result.matrix[(b, a)] = r
            result.pairs[(a, b)] = result.pairs[(b, a)] = int(value[1] or 0)
        else:
            slope, intercept, r2 = value
            result.fits[(a, b)] = {"slope": slope, "intercept": intercept, "r2": r2}
    for a in METRICS:
        known = sum(1 for r in result.rows if r[a] is not None)
        result.pairs[(a, a)] = known
        result.matrix[(a, a)] = 1.0 if known > 1 and len({r[a] for r in result.rows if r[a] is not None}) > 1 else None
    for (x, y), fit in result.fits.items():
        fit["n"] = result.pairs[(x, y)]
    return result
