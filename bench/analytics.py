"""Analytics pages on the real retail file: each page's queries timed, and the headline figures of
docs/analytics.md.

    python bench/analytics.py [--data-dir DIR] [--runs N] [--pages overview,sales,...] [--headline] [--check]

1. Loads /work/shared/datasets/online_retail/online_retail.csv.gz with `bench/load_retail.py`
   into a throwaway embedded Postgres (or reuses the database kept in --data-dir, the same
   folder layout as bench/customer_analytics.py uses, so one loaded copy serves both);
2. the retail file has no deals and no tickets, so the workspace gets synthetic ones for the
   timings (once; marked in the data folder): 10,000 deals with a stage history over the last
   12 months in the default pipeline (owners, sources, lost reasons; 2,000 retail orders linked to
   won deals) and 20,000 tickets at retail customers during 2011 (solved/closed/open, 30 % rated).
   They change no sales figure; the headline figures below come from the orders alone;
3. as the workspace's agent (row-level security on, no Streamlit cache: a first visit), runs
   every query each page runs on a first visit with its default filters (period: the last 12
   months up to the last sale; pipeline: the last 12 months up to today), `--runs` times, and
   prints the median per query and the page total (goal <= 2 s a page, <= 5 s for baskets at
   1 % minimum support). One function per page (`PAGES`), so other pages can be added;
4. with --headline prints the headline figures; with --check recomputes some with pandas
   straight from the CSV, independently of the database.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import PASSWORD, isolate, open_with_people, timed  # noqa: E402
from bench.load_retail import RETAIL, load  # noqa: E402

MARKER = "retail-workspace.txt"  # bench/customer_analytics.py's: the workspace holding the retail file
SYNTHETIC = "analytics-synthetic.txt"  # deals and tickets added once
GOAL_MS = {"basket": 5000}
DEFAULT_GOAL_MS = 2000


def people_with_data(data_dir: Path | None):
    """(runtime, agent claims, workspace id, data folder): a kept database is reused, else loaded now."""
    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService
    from lib.config import load_settings
    from lib.runtime import open_runtime

    if data_dir and (data_dir / MARKER).exists():
        folder = isolate("relata-retail-", keep=True, data_dir=data_dir)
        runtime = open_runtime(load_settings(secrets={}))
        agent = AuthService(runtime.db, LocalAuth(runtime.db)).sign_in("agent-a@example.com", PASSWORD).user
        return runtime, agent, (data_dir / MARKER).read_text().strip(), folder
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    folder = isolate("relata-retail-", keep=bool(data_dir), data_dir=data_dir)
    people = open_with_people(second_workspace=False)
    print(f"loading {RETAIL} …", flush=True)
    print(load(people.runtime.admin_conninfo, people.ws), flush=True)
    (folder / MARKER).write_text(people.ws)
    return people.runtime, people.agent, people.ws, folder


def add_synthetic(runtime, ws: str, owner_ids: list[str], folder: Path, deals: int = 10_000,
                  tickets: int = 20_000) -> None:
    """Deals with a dated stage history and tickets at the retail customers, as the table owner."""
    import psycopg

    if (folder / SYNTHETIC).exists():
        return
    started = time.perf_counter()
    with psycopg.connect(runtime.admin_conninfo, autocommit=True) as conn:
        stages = conn.execute(
            "select array_agg(s.id order by s.position) filter (where s.kind = 'open'),"
            " min(s.id::text) filter (where s.kind = 'won'), min(s.id::text) filter (where s.kind = 'lost'),"
            " min(p.id::text) from public.pipelines p join public.stages s on s.pipeline_id = p.id"
            " where p.workspace_id = %s and p.is_default", [ws]).fetchone()
        open_ids, won, lost, pipeline = stages
        reasons = [r[0] for r in conn.execute("select id from public.lost_reasons where workspace_id = %s", [ws])]
        # outcome: 0–2 won, 3–5 lost, 6–9 open; depth: open stages visited (1–4); a start in the last year
        conn.execute("""
            create temp table plan as
            select i, 1 + (hashint8(i * 3) & 2147483647) %% 4 as depth,
                   (hashint8(i * 5) & 2147483647) %% 10 as outcome,
                   now() - interval '400 days' + ((hashint8(i * 7) & 2147483647) %% 330) * interval '1 day' as started,
                   3 + (hashint8(i * 11) & 2147483647) %% 18 as gap
              from generate_series(1, %s) i""", [deals])
        conn.execute("create temp table comp as select row_number() over (order by c.external_id, c.id) - 1 as n,"
                     " c.id from public.companies c where c.workspace_id = %s", [ws])
        companies = conn.execute("select count(*) from comp").fetchone()[0]
        conn.execute("""
            insert into public.deals (workspace_id, pipeline_id, stage_id, title, value, currency, owner_id, source,
                                      company_id, lost_reason_id)
            select %(ws)s, %(pipeline)s,
                   case when p.outcome < 3 then %(won)s::uuid when p.outcome < 6 then %(lost)s::uuid
                        else (%(open)s::uuid[])[p.depth] end,
                   'Synthetic deal ' || p.i, 500 + (hashint8(p.i * 13) & 2147483647) %% 20000, 'GBP',
                   (%(owners)s::uuid[])[1 + p.i %% cardinality(%(owners)s::uuid[])],
                   (array['Web', 'Referral', 'Trade fair', 'Outbound', null])[1 + p.i %% 5], c.id,
                   case when p.outcome between 3 and 5
                        then (%(reasons)s::uuid[])[1 + p.i %% cardinality(%(reasons)s::uuid[])] end
              from plan p left join comp c on c.n = (hashint8(p.i * 17) & 2147483647) %% %(companies)s
             order by p.i""",
                     {"ws": ws, "pipeline": pipeline, "won": won, "lost": lost, "open": open_ids, "owners": owner_ids,
                      "reasons": reasons, "companies": max(companies, 1)})
        conn.execute("create temp table made as select d.id, substring(d.title from 16)::int as i from public.deals d"
                     " where d.workspace_id = %s and d.title like 'Synthetic deal %%'", [ws])
        conn.execute("delete from public.deal_stage_history h using made m where h.deal_id = m.id")
        conn.execute("""
            insert into public.deal_stage_history (workspace_id, deal_id, from_stage_id, to_stage_id, entered_at, left_at)
            select %(ws)s, m.id, x.from_stage, x.to_stage, x.at, lead(x.at) over (partition by m.id order by x.n)
              from made m join plan p on p.i = m.i
              cross join lateral (
                select j as n, case when j > 1 then (%(open)s::uuid[])[j - 1] end as from_stage,
                       (%(open)s::uuid[])[j] as to_stage, p.started + (j - 1) * p.gap * interval '1 day' as at
                  from generate_series(1, p.depth) j
                union all
                select p.depth + 1, (%(open)s::uuid[])[p.depth],
                       case when p.outcome < 3 then %(won)s::uuid else %(lost)s::uuid end,
                       p.started + p.depth * p.gap * interval '1 day'
                 where p.outcome < 6) x""", {"ws": ws, "open": open_ids, "won": won, "lost": lost})
        conn.execute("""
            update public.orders o set deal_id = w.id
              from (select m.id, row_number() over (order by m.i) as k from made m join plan p on p.i = m.i
                     where p.outcome < 3) w,
                   (select o2.id, row_number() over (order by o2.number) as k from public.orders o2
                     where o2.workspace_id = %s and o2.status = 'paid' and o2.company_id is not null) s
             where o.id = s.id and s.k = w.k and w.k <= 2000""", [ws])
        for start in range(1, tickets + 1, 5000):  # per batch: the numbering counter row
            conn.execute("""
                insert into public.tickets (workspace_id, subject, channel, priority, status, company_id, created_at,
                                            first_responded_at, solved_at, closed_at, csat)
                select %(ws)s, 'Synthetic ticket ' || i, 'email', 'normal', t.status, t.company, t.created,
                       t.created + interval '3 hours',
                       case when t.status in ('solved', 'closed') then t.created + interval '2 days' end,
                       case when t.status = 'closed' then t.created + interval '9 days' end,
                       case when t.status in ('solved', 'closed') and i %% 10 < 3 then 1 + (hashint8(i * 19) & 2147483647) %% 5 end
                  from generate_series(%(start)s::bigint, %(stop)s::bigint) i
                  cross join lateral (select
                    (array['open', 'solved', 'closed', 'closed', 'closed', 'solved'])[1 + i %% 6] as status,
                    timestamptz '2011-01-01' + ((hashint8(i * 23) & 2147483647) %% (340 * 1440)) * interval '1 minute'
                      as created,
                    (select c.id from comp c where c.n = (hashint8(i * 29) & 2147483647) %% %(companies)s) as company) t""",
                         {"ws": ws, "start": start, "stop": min(start + 4999, tickets), "companies": max(companies, 1)})
        conn.execute("vacuum analyze public.deals, public.deal_stage_history, public.tickets, public.orders")
    (folder / SYNTHETIC).write_text(f"{deals} deals, {tickets} tickets")
    print(f"synthetic deals and tickets added in {time.perf_counter() - started:.1f} s", flush=True)


# -- one function per page: {query name: zero-argument call}, what a first visit runs ------------------

def overview_page(db, claims, ws: str) -> dict:
    from lib.analytics import common, sales

    span, currency = common.sales_span(db, claims, ws), common.currencies(db, claims, ws)[0]
    period = common.Period(span[1] - timedelta(days=364), span[1])
    return {"sales span": lambda: common.sales_span(db, claims, ws),
            "currencies": lambda: common.currencies(db, claims, ws),
            "overview KPIs, previous period, trend": lambda: sales.overview(db, claims, ws, currency, period)}


def sales_page(db, claims, ws: str) -> dict:
    from lib.analytics import common, sales

    span, currency = common.sales_span(db, claims, ws), common.currencies(db, claims, ws)[0]
    period = common.Period(span[1] - timedelta(days=364), span[1])
    return {"sales span": lambda: common.sales_span(db, claims, ws),
            "currencies": lambda: common.currencies(db, claims, ws),
            "by month, country, category, margin, top products":
                lambda: sales.sales_report(db, claims, ws, currency, period),
            "top customers": lambda: sales.top_customers(db, claims, ws, currency, period)}


def sales_drill_down(db, claims, ws: str) -> dict:
    """A click on November 2011's bar: the two tables under the charts again, filtered."""
    from lib.analytics import common, sales

    span, currency = common.sales_span(db, claims, ws), common.currencies(db, claims, ws)[0]
    period = common.Period(span[1] - timedelta(days=364), span[1])
    month = (date(2011, 11, 1),)
    return {"top products, one month": lambda: sales.top_products(db, claims, ws, currency, period, months=month),
            "top customers, one month": lambda: sales.top_customers(db, claims, ws, currency, period, months=month)}


def basket_page(db, claims, ws: str) -> dict:
    from lib.analytics import basket, common

    span = common.sales_span(db, claims, ws)
    period = common.Period(span[1] - timedelta(days=364), span[1])
    return {"sales span": lambda: common.sales_span(db, claims, ws),
            "countries": lambda: basket.countries(db, claims, ws, period),
            "rules at 1 % support": lambda: basket.rules(db, claims, ws, period, min_support=0.01)}


def pipeline_page(db, claims, ws: str) -> dict:
    from lib import deals
    from lib.analytics import common, pipeline as pl

    today = date.today()
    period = common.Period(today - timedelta(days=364), today)
    pipeline_id = deals.pipelines(db, claims, ws)[0]["id"]
    currency = pl.currencies(db, claims, ws)[0]
    return {"pipelines": lambda: deals.pipelines(db, claims, ws),
            "deal currencies": lambda: pl.currencies(db, claims, ws),
            "funnel ×2, win rates, days per stage, lost reasons, closed deals":
                lambda: pl.report(db, claims, ws, pipeline_id, currency, period)}


def correlations_page(db, claims, ws: str) -> dict:
    from lib.analytics import common, correlations as cr

    span, currency = common.sales_span(db, claims, ws), common.currencies(db, claims, ws)[0]
    period = common.Period(span[1] - timedelta(days=364), span[1])
    return {"sales span": lambda: common.sales_span(db, claims, ws),
            "currencies": lambda: common.currencies(db, claims, ws),
            "metrics per customer, matrix and fits": lambda: cr.analyse(db, claims, ws, currency, period)}


def customers_page(db, claims, ws: str) -> dict:
    """The Customers page's first visit (bench/customer_analytics.py times it query by query)."""
    from lib import segments
    from lib.analytics import common, customers as ca

    currency = common.currencies(db, claims, ws)[0]
    snapshot = ca.default_snapshot(db, claims, ws, currency)
    span = common.sales_span(db, claims, ws)
    first, last = span[0].replace(day=1), span[1].replace(day=1)
    return {"snapshot": lambda: ca.default_snapshot(db, claims, ws, currency),
            "RFM segments, now and 90 days earlier": lambda: (
                ca.rfm_segments(db, claims, ws, currency, snapshot),
                ca.rfm_segments(db, claims, ws, currency, snapshot - timedelta(days=90))),
            "Champions": lambda: ca.rfm_customers(db, claims, ws, currency, snapshot, ("Champions",)),
            "saved segments": lambda: segments.list_segments(db, claims, ws),
            "cohorts": lambda: ca.cohorts(db, claims, ws, currency, first, last),
            "lifetime value": lambda: ca.lifetime_value(db, claims, ws, currency, snapshot, 180),
            "churn risk, now and 90 days earlier": lambda: (
                ca.churn_risk(db, claims, ws, currency, snapshot),
                ca.churn_risk(db, claims, ws, currency, snapshot - timedelta(days=90)))}


PAGES = {"overview": overview_page, "sales": sales_page, "sales drill-down": sales_drill_down,
         "customers": customers_page, "basket": basket_page, "pipeline": pipeline_page,
         "correlations": correlations_page}


def run_pages(db, claims, ws: str, pages: list[str], runs: int) -> dict:
    totals = {}
    print(f"\nmedian of {runs} runs (first run in brackets)\n")
    print("| page | query | median ms | first run ms |\n|---|---|---:|---:|")
    for page in pages:
        total = 0.0
        for name, fn in PAGES[page](db, claims, ws).items():
            _, median, first = timed(fn, runs)
            total += median
            print(f"| {page} | {name} | {median:.0f} | {first:.0f} |", flush=True)
        goal = GOAL_MS.get(page, DEFAULT_GOAL_MS)
        totals[page] = total
        print(f"| **{page}** | **page total** (goal ≤ {goal} ms) | **{total:.0f}** | |", flush=True)
    return totals


def headline(db, claims, ws: str) -> None:
    """The figures docs/analytics.md quotes (sales data only)."""
    from lib.analytics import basket, common, correlations as cr, sales

    span, currency = common.sales_span(db, claims, ws), common.currencies(db, claims, ws)[0]
    whole = common.Period(span[0], span[1])
    default = common.Period(span[1] - timedelta(days=364), span[1])
    print(f"\nsales span {span[0]} – {span[1]}, currency {currency}")
    for label, period in (("whole file", whole), ("default 12 months", default)):
        ov = sales.overview(db, claims, ws, currency, period)
        c = ov.current
        print(f"{label} {period.start} – {period.end}: revenue {c['revenue']:,.2f}, orders {c['orders']:,}, "
              f"AOV {c['aov']:,.2f}, active {c['active_customers']:,}, new {c['new_customers']:,}, "
              f"repeat rate {100 * c['repeat_rate']:.1f} %")
    ov = sales.overview(db, claims, ws, currency, common.Period(date(2011, 11, 1), date(2011, 11, 30)))
    c, p = ov.current, ov.previous
    print(f"November 2011 vs 2 Oct – 31 Oct: revenue {c['revenue']:,.2f} vs {p['revenue']:,.2f}, orders {c['orders']:,} "
          f"vs {p['orders']:,}, new {c['new_customers']} vs {p['new_customers']}, active {c['active_customers']:,} vs "
          f"{p['active_customers']:,}, repeat {100 * c['repeat_rate']:.1f} % vs {100 * p['repeat_rate']:.1f} %")
    r = sales.sales_report(db, claims, ws, currency, whole)
    print("by month: " + ", ".join(f"{m['label']} {m['revenue']:,.0f}" for m in r.months))
    print("top countries: " + ", ".join(f"{c['name']} {c['revenue']:,.0f} ({c['orders']:,} orders)"
                                        for c in r.countries[:5]))
    print(f"countries: {len(r.countries)}; margin coverage: {r.margin['coverage_pct']}")
    print("top products: " + "; ".join(f"{p['sku']} {p['name']} {p['revenue']:,.2f} ({p['quantity']:,.0f} units)"
                                       for p in sales.top_products(db, claims, ws, currency, whole, limit=5)))
    print("top customers: " + "; ".join(f"{c['external_id']} {c['revenue']:,.2f} ({c['orders']} orders)"
                                        for c in sales.top_customers(db, claims, ws, currency, whole, limit=5)))
    for label, period, kw in (("whole file, 1 %", whole, {}), ("whole file, 2 %", whole, {"min_support": 0.02}),
                              ("whole file, 1 %, confidence ≥ 50 %", whole, {"min_confidence": 0.5})):
        b = basket.rules(db, claims, ws, period, **kw)
        print(f"\nbaskets ({label}): {b.orders:,} orders, {b.frequent_products} products at minimum support, "
              f"{b.total_rules:,} rules")
        for x in b.rules[:5]:
            print(f"  {x['antecedent_sku']} {x['antecedent']} → {x['consequent_sku']} {x['consequent']}: "
                  f"{x['orders_both']} orders, support {100 * x['support']:.2f} %, confidence "
                  f"{100 * x['confidence']:.1f} %, lift {x['lift']:.2f}")
    top_support = max(basket.rules(db, claims, ws, whole).rules, key=lambda x: (x["support"], x["confidence"]))
    print(f"  highest support: {top_support['antecedent_sku']} → {top_support['consequent_sku']} "
          f"{top_support['orders_both']} orders, {100 * top_support['support']:.2f} %, confidence "
          f"{100 * top_support['confidence']:.1f} %, lift {top_support['lift']:.2f}")
    res = cr.analyse(db, claims, ws, currency, whole)
    names = ["recency_days", "frequency", "monetary", "tenure_days"]
    print(f"\ncorrelations over {len(res.rows):,} customers (whole file):")
    for a in names:
        print(f"  {a:>13}: " + "  ".join(f"{res.matrix[(a, b)]:+.3f}" for b in names))
    fit = res.fits[("frequency", "monetary")]
    print(f"  monetary = {fit['intercept']:,.2f} + {fit['slope']:,.2f} × frequency (R² {fit['r2']:.3f})")


def check() -> None:
    """Some headline figures again with pandas, straight from the CSV."""
    import pandas as pd

    df = pd.read_csv(RETAIL, dtype={"InvoiceNo": str, "CustomerID": str, "StockCode": str},
                     parse_dates=["InvoiceDate"])
    sales = df[~df.InvoiceNo.str.startswith("C")].copy()
    sales["amount"] = (sales.Quantity * sales.UnitPrice).round(2)
    print(f"\npandas, whole file: revenue {sales.amount.sum():,.2f}, orders {sales.InvoiceNo.nunique():,}, "
          f"active customers {sales.CustomerID.nunique():,}")
    last = sales.InvoiceDate.max().normalize()
    year = sales[sales.InvoiceDate >= last - pd.Timedelta(days=364)]
    print(f"pandas, 12 months to {last:%Y-%m-%d}: revenue {year.amount.sum():,.2f}, orders {year.InvoiceNo.nunique():,}")
    items = sales[(sales.Quantity > 0)][["InvoiceNo", "StockCode"]].drop_duplicates()
    n = sales.InvoiceNo.nunique()
    count = items.groupby("StockCode").InvoiceNo.nunique()
    frequent = count[count >= 0.01 * n].index
    kept = items[items.StockCode.isin(frequent)]
    pairs = kept.merge(kept, on="InvoiceNo")
    pairs = pairs[pairs.StockCode_x < pairs.StockCode_y].groupby(["StockCode_x", "StockCode_y"]).size()
    pairs = pairs[pairs >= 0.01 * n]
    lift = pairs * n / (count[pairs.index.get_level_values(0)].values * count[pairs.index.get_level_values(1)].values)
    best = lift.sort_values(ascending=False).head(3)
    print(f"pandas baskets at 1 %: {n:,} orders, {len(frequent)} products, {2 * len(pairs):,} rules; top lift " +
          "; ".join(f"{a}–{b} {v:.2f}" for (a, b), v in best.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="keep the loaded database here (and reuse it next time)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)}")
    parser.add_argument("--headline", action="store_true", help="print the headline figures")
    parser.add_argument("--check", action="store_true", help="recompute some of them with pandas from the CSV")
    args = parser.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    if unknown := set(pages) - set(PAGES):
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    from bench.customers import machine

    runtime, agent, ws, folder = people_with_data(args.data_dir)
    import psycopg

    with psycopg.connect(runtime.admin_conninfo) as conn:
        owners = [str(r[0]) for r in conn.execute("select user_id from public.workspace_members where workspace_id = %s",
                                                  [ws])]
        version = conn.execute("show server_version").fetchone()[0]
        counts = conn.execute("select (select count(*) from public.orders where workspace_id = %(ws)s),"
                              " (select count(*) from public.order_lines where workspace_id = %(ws)s)",
                              {"ws": ws}).fetchone()
    add_synthetic(runtime, ws, owners, folder)
    print(f"{machine()}; Postgres {version}; {counts[0]:,} orders, {counts[1]:,} order lines", flush=True)
    totals = run_pages(runtime.db, agent.claims, ws, pages, args.runs)
    if args.headline:
        headline(runtime.db, agent.claims, ws)
    if args.check:
        check()
    over = [p for p, t in totals.items() if t > GOAL_MS.get(p, DEFAULT_GOAL_MS)]
    print("\nall pages within their goals" if not over else f"\nover the goal: {', '.join(over)}")


if __name__ == "__main__":
    main()
