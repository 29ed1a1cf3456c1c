"""Load the UCI "Online Retail" file into a workspace of a throwaway database, in SQL.

    python bench/load_retail.py [--file PATH] [--data-dir DIR]

A loader for benchmarks and for the headline figures of docs/analytics.md, independent of the
app's importer (`lib.order_import`, which goes through the UI's path as the user): the file is
`COPY`ed into a temp table as the table owner, then INSERT … SELECT writes, following the same
rules as the importer:

- one company per CustomerID ("Customer 17850", `external_id` = the id); rows without one are
  anonymous sales (an order without a customer);
- one product per StockCode (name = its most frequent description, else the code; price = its
  most frequent unit price), currency GBP;
- one order per InvoiceNo, ordered at its earliest line (the file's times are UTC); numbers
  starting with `C` are cancellations (status `cancelled`), the others `paid`;
- one order line per row, in file order; the two "Adjust bad debt" rows with a negative unit
  price become a negative quantity at the positive price (same amount);
- countries by English name (`lib.validation.clean_country`); unknown ones are left blank.

Triggers stay on (audit, order totals), as in the app. With --data-dir the database is kept
there and reused by `bench/customer_analytics.py --data-dir`.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import isolate, open_with_people  # noqa: E402

RETAIL = Path("/work/shared/datasets/online_retail/online_retail.csv.gz")


def load(admin_conninfo: str, workspace_id: str, path: Path = RETAIL) -> dict:
    """Load `path` into `workspace_id`; returns counts and seconds."""
    import psycopg

    from lib.validation import clean_country

    started = time.perf_counter()
    with psycopg.connect(admin_conninfo) as conn:
        conn.execute("""create temp table raw (
            line bigserial, invoice text, stock text, descr text, qty numeric, at timestamp, price numeric,
            cust text, country text) on commit drop""")
        with conn.cursor().copy("copy raw (invoice, stock, descr, qty, at, price, cust, country)"
                                " from stdin (format csv, header true)") as copy:
            with gzip.open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        codes = {}
        for (name,) in conn.execute("select distinct country from raw where country is not null").fetchall():
            try:
                codes[name] = clean_country(name)
            except ValueError:
                codes[name] = None
        conn.execute("create temp table countries (name text primary key, code text) on commit drop")
        with conn.cursor() as cur:
            cur.executemany("insert into countries values (%s, %s)", list(codes.items()))
        params = {"ws": workspace_id}
        conn.execute("""
            insert into public.companies (workspace_id, name, external_id, country)
            select %(ws)s, 'Customer ' || r.cust, r.cust, max(c.code)
              from raw r left join countries c on c.name = r.country
             where r.cust is not null group by r.cust""", params)
        conn.execute("""
            insert into public.products (workspace_id, sku, name, price, currency)
            select %(ws)s, r.stock,
                   left(coalesce(mode() within group (order by nullif(btrim(r.descr), '')), r.stock), 300),
                   abs(mode() within group (order by r.price)), 'GBP'
              from raw r group by r.stock""", params)
        conn.execute("""
            insert into public.orders (workspace_id, number, company_id, status, ordered_at, paid_at, cancelled_at,
                                       country, currency)
            select %(ws)s, o.invoice, co.id, o.status, o.at, case when o.status = 'paid' then o.at end,
                   case when o.status = 'cancelled' then o.at end, o.code, 'GBP'
              from (select r.invoice, min(r.cust) as cust, min(r.at) at time zone 'UTC' as at, max(c.code) as code,
                           case when r.invoice like 'C%%' then 'cancelled' else 'paid' end as status
                      from raw r left join countries c on c.name = r.country group by r.invoice) o
              left join public.companies co on co.workspace_id = %(ws)s and co.external_id = o.cust""", params)
        conn.execute("""
            insert into public.order_lines (workspace_id, order_id, product_id, position, description, quantity,
                                            unit_price)
            select %(ws)s, o.id, p.id, row_number() over (partition by r.invoice order by r.line), left(r.descr, 500),
                   case when r.price < 0 then -r.qty else r.qty end, abs(r.price)
              from raw r
              join public.orders o on o.workspace_id = %(ws)s and o.number = r.invoice
              left join public.products p on p.workspace_id = %(ws)s and p.sku = r.stock
             order by r.line""", params)
        counts = conn.execute("""
            select (select count(*) from public.companies where workspace_id = %(ws)s) as companies,
                   (select count(*) from public.products where workspace_id = %(ws)s) as products,
                   (select count(*) from public.orders where workspace_id = %(ws)s) as orders,
                   (select count(*) from public.order_lines where workspace_id = %(ws)s) as lines""", params).fetchone()
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute("vacuum analyze public.orders, public.order_lines, public.products, public.companies")
    return dict(zip(("companies", "products", "orders", "lines"), counts)) | {
        "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=RETAIL)
    parser.add_argument("--data-dir", type=Path, help="keep the database in this folder (reused by benchmarks)")
    args = parser.parse_args()
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    isolate("relata-retail-", keep=bool(args.data_dir), data_dir=args.data_dir)
    people = open_with_people(second_workspace=False)
    print(f"workspace {people.ws}; loading {args.file} …", flush=True)
    print(load(people.runtime.admin_conninfo, people.ws, args.file))


if __name__ == "__main__":
    main()
