"""Customer analytics on the real retail file: the Customers page's queries timed, and the
headline figures of docs/analytics.md.

    python bench/customer_analytics.py [--data-dir DIR] [--runs N] [--check]

Loads /work/shared/datasets/online_retail/online_retail.csv.gz with `bench/load_retail.py`
into a throwaway database (or reuses the one kept in --data-dir), then, as the workspace's agent
(row-level security on, no Streamlit cache), runs every query a first visit of the Customers
analytics page runs, `--runs` times each, and reports the median per query and their sum (the
page's time with a cold cache; goal <= 2 s). With --check the headline figures are recomputed
with pandas straight from the CSV, independently of the database.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import PASSWORD, isolate, open_with_people, timed  # noqa: E402
from bench.load_retail import RETAIL, load  # noqa: E402

MARKER = "retail-workspace.txt"


def people_with_data(data_dir: Path | None):
    """(runtime, agent claims, workspace id): a kept database is reused, else loaded now."""
    if data_dir and (data_dir / MARKER).exists():
        from lib.auth.adapters import LocalAuth
        from lib.auth.service import AuthService
        from lib.config import load_settings
        from lib.runtime import open_runtime

        isolate("relata-retail-", keep=True, data_dir=data_dir)
        runtime = open_runtime(load_settings(secrets={}))
        agent = AuthService(runtime.db, LocalAuth(runtime.db)).sign_in("agent-a@example.com", PASSWORD).user
        return runtime, agent.claims, (data_dir / MARKER).read_text().strip()
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    isolate("relata-retail-", keep=bool(data_dir), data_dir=data_dir)
    people = open_with_people(second_workspace=False)
    print(f"loading {RETAIL} …", flush=True)
    print(load(people.runtime.admin_conninfo, people.ws), flush=True)
    if data_dir:
        (data_dir / MARKER).write_text(people.ws)
    return people.runtime, people.agent.claims, people.ws


def main() -> None:
    from lib import segments
    from lib.analytics import common, customers as ca

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="recompute the headline figures with pandas")
    args = parser.parse_args()
    runtime, claims, ws = people_with_data(args.data_dir)
    db = runtime.db

    currency = common.currencies(db, claims, ws)[0]
    snapshot = ca.default_snapshot(db, claims, ws, currency)
    previous = snapshot - timedelta(days=90)
    span = common.sales_span(db, claims, ws)
    last_month, data_first = span[1].replace(day=1), span[0].replace(day=1)
    cohort_months = 0 if ca.month_index(last_month) - ca.month_index(data_first) < 24 else 12  # the page's default
    first_month = ca.add_months(last_month, 1 - cohort_months) if cohort_months else data_first
    window = 365 if (span[1] - span[0]).days + 1 >= 730 else 180
    first_segment = "Champions"
    page = {  # what a first visit runs, in order (defaults: 90 days comparison, the default cohort months)
        "currencies": lambda: common.currencies(db, claims, ws),
        "default snapshot": lambda: ca.default_snapshot(db, claims, ws, currency),
        "sales span": lambda: common.sales_span(db, claims, ws),
        "RFM segments": lambda: ca.rfm_segments(db, claims, ws, currency, snapshot),
        "RFM segments, 90 days earlier": lambda: ca.rfm_segments(db, claims, ws, currency, previous),
        f"customers of {first_segment}": lambda: ca.rfm_customers(db, claims, ws, currency, snapshot, (first_segment,)),
        "saved segments": lambda: segments.list_segments(db, claims, ws),
        f"cohorts ({cohort_months or 'all'} months)": lambda: ca.cohorts(db, claims, ws, currency, first_month,
                                                                         last_month),
        f"lifetime value ({window}-day window)": lambda: ca.lifetime_value(db, claims, ws, currency, snapshot, window),
        "churn risk": lambda: ca.churn_risk(db, claims, ws, currency, snapshot),
        "churn risk, 90 days earlier": lambda: ca.churn_risk(db, claims, ws, currency, previous),
    }
    if cohort_months:
        page["cohorts, the months before"] = lambda: ca.cohorts(db, claims, ws, currency,
                                                                ca.add_months(first_month, -cohort_months),
                                                                ca.add_months(first_month, -1))
    results, total = {}, 0.0
    print(f"\ncurrency {currency}, snapshot {snapshot}; median of {args.runs} runs (first run)\n")
    print("| query | median ms | first run ms |\n|---|---:|---:|")
    for name, fn in page.items():
        results[name], median, first = timed(fn, args.runs)
        total += median
        print(f"| {name} | {median:.0f} | {first:.0f} |")
    print(f"| **page total** | **{total:.0f}** | |")

    seg = results["RFM segments"]
    print(f"\ncustomers with a sale: {seg.scored + seg.not_scored:,} (scored {seg.scored:,}, not scored "
          f"{seg.not_scored})")
    print("| segment | customers | % | revenue | avg days | avg orders | avg revenue |\n|---|---:|---:|---:|---:|---:|---:|")
    for r in seg.rows:
        print(f"| {r['segment']} | {r['customers']:,} | {r['share_customers']} | {r['revenue']:,.0f} | "
              f"{r['avg_recency']} | {r['avg_frequency']} | {r['avg_monetary'] or 0:,.0f} |")
    all_cohorts = ca.cohorts(db, claims, ws, currency, span[0], span[1])
    dec = {r["k"]: r for r in all_cohorts.rows if r["cohort"] == date(2010, 12, 1)}
    print(f"\nDec 2010 cohort: {dec[0]['size']:,} customers; retention " +
          ", ".join(f"M{k} {dec[k]['retention']} % ({dec[k]['customers']})" for k in (1, 3, 6, 12) if k in dec))
    print("average month-k retention (all cohorts): " +
          ", ".join(f"M{k} {all_cohorts.average_retention(k)} %" for k in (1, 3, 6)))
    lt = results[f"lifetime value ({window}-day window)"]
    print(f"\nhistorical CLV: median {lt.median:,.2f}, mean {lt.mean:,.2f}, p25 {lt.percentiles[25]:,.2f}, "
          f"p75 {lt.percentiles[75]:,.2f}, p90 {lt.percentiles[90]:,.2f}; top: {lt.top[0]['name']} "
          f"{lt.top[0]['revenue']:,.2f}")
    print(f"predictive ({window}-day window): {lt.predictive['current']}")
    print(f"predictive, previous window: {lt.predictive['previous']}")
    churn = results["churn risk"]
    print(f"\nchurn: {churn.customers:,} customers, {churn.assessed:,} assessed, {len(churn.at_risk):,} at risk "
          f"(revenue {churn.at_risk_revenue:,.2f}); buckets {[(b['bucket'], b['customers'], b['at_risk']) for b in churn.buckets]}")
    if args.check:
        check(snapshot, dec, lt, seg)


def check(snapshot: date, dec: dict, lt, seg) -> None:
    """The same headline figures with pandas from the CSV (sale = InvoiceNo not starting with C)."""
    import pandas as pd

    df = pd.read_csv(RETAIL, dtype={"InvoiceNo": str, "CustomerID": str}, parse_dates=["InvoiceDate"])
    sales = df[~df.InvoiceNo.str.startswith("C") & df.CustomerID.notna()].copy()
    sales["amount"] = (sales.Quantity * sales.UnitPrice).round(2)
    per = sales.groupby("CustomerID").agg(revenue=("amount", "sum"))
    print(f"\npandas: customers with a sale {len(per):,}; net revenue <= 0: {(per.revenue <= 0).sum()}; "
          f"median CLV {per.revenue.median():,.2f} (SQL {lt.median:,.2f}); mean {per.revenue.mean():,.2f}")
    rfm = sales.groupby("CustomerID").agg(frequency=("InvoiceNo", "nunique"), monetary=("amount", "sum"),
                                          last=("InvoiceDate", "max"))
    rfm = rfm[rfm.monetary.round(2) > 0].reset_index()
    rfm["monetary"] = rfm.monetary.round(2)
    rfm["recency"] = (pd.Timestamp(snapshot) - rfm["last"].dt.normalize()).dt.days
    for score, keys, ascending in (("r", ["recency", "frequency", "monetary"], [False, True, True]),
                                   ("f", ["frequency", "monetary", "recency"], [True, True, False]),
                                   ("m", ["monetary", "frequency", "recency"], [True, True, False])):
        rfm = rfm.sort_values(keys, ascending=ascending, kind="stable")
        base, extra = divmod(len(rfm), 5)
        rfm[score] = [b + 1 for b in range(5) for _ in range(base + (1 if b < extra else 0))]
    from lib.analytics.customers import segment_of

    sizes = rfm.assign(s=[segment_of(r, f) for r, f in zip(rfm.r, rfm.f)]).groupby("s").size().to_dict()
    sql_sizes = {r["segment"]: r["customers"] for r in seg.rows if r["customers"]}
    print(f"pandas: RFM segment sizes {'match' if sizes == sql_sizes else 'DIFFER: ' + str(sizes)} "
          f"({len(rfm):,} scored; customers equal on all three values: "
          f"{int(rfm.duplicated(['recency', 'frequency', 'monetary'], keep=False).sum())})")
    sales["month"] = sales.InvoiceDate.dt.year * 12 + sales.InvoiceDate.dt.month - 1
    first = sales.groupby("CustomerID").month.min()
    dec_customers = first[first == 2010 * 12 + 11].index
    active = sales[sales.CustomerID.isin(dec_customers)].groupby("month").CustomerID.nunique()
    print(f"pandas: Dec 2010 cohort {len(dec_customers):,}; " + ", ".join(
        f"M{k} {100 * active.get(2010 * 12 + 11 + k, 0) / len(dec_customers):.1f} %" for k in (1, 3, 6, 12))
        + f" (SQL {[dec[k]['retention'] for k in (1, 3, 6, 12) if k in dec]})")


if __name__ == "__main__":
    main()
