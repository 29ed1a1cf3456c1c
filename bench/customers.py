"""Customers benchmarks.

    python bench/customers.py list [--contacts N] [--runs N] [--keep]   # list page query at 1,000,000 contacts
    python bench/customers.py import [...]                              # the importer (bench/customers_import.py)

`list` works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder, no
DATABASE_URL or Supabase settings), so it never touches a real database:

1. signs up an owner of workspace A, an agent in A (the member the queries run as) and an owner
   of workspace B, through the app's own sign-up and invitation paths;
2. fills A with `--contacts` contacts (default 1,000,000) at 20,000 companies, and B with a
   tenth of that, as the table owner with `INSERT … SELECT … FROM generate_series` (pseudo-random
   but reproducible names with accents, emails, phones, countries, stages, tags, owners;
   every trigger and index stays on), then VACUUM ANALYZE;
3. times the list page queries exactly as `lib.customer_search.page_query` composes them (totals
   through `customer_search.count_rows`, time-boxed to COUNT_BUDGET_MS with the planner's
   estimate as fallback, as the app counts), each
   `--runs` times (default 60, after 3 warm-ups): as the signed-in agent through
   `db.as_user(claims)` (row-level security on), and the same SQL text with the same parameters
   as the table owner (superuser connection: no row-level security). Both connections prepare
   statements after 5 executions, as the app's pool does.

Goals (issue 4): p95 <= 100 ms as a member; member p95 <= 1.3 x owner p95.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import PASSWORD, isolate, open_with_people  # noqa: E402

P95_GOAL_MS = 100.0
OVERHEAD_GOAL = 1.3


# -- data -----------------------------------------------------------------------------------------

FIRST = ("Oliver Amelia George Isla Harry Emily Jack Sophie Lukas Anna Jonas Lea Jürgen Björn Käthe Léa Chloé "
         "Zoé Hugo Raphaël Élodie François Hélène Jérôme Anaïs Daan Sem Lotte Bram Lucía Sofía María Álvaro José "
         "Íñigo Leonardo Giulia Niccolò Chiara Søren Freja Astrid João Inês Gonçalo Zofia Łucja Michał Agnieszka").split()
LAST = ("Smith Jones Taylor Brown Williams Wilson Evans Thomas Roberts Walker Wright Murphy Kelly O'Brien Walsh "
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schäfer Krüger Weiß Groß Martin Bernard Dubois "
        "Durand Leroy Moreau Lefèvre Fontaine Rousseau Bérenger Jansen Visser Bakker García Rodríguez González "
        "Fernández López Martínez Sánchez Pérez Jiménez Muñoz Rossi Russo Ferrari Esposito Bianchi Romano "
        "Colombo Jensen Nielsen Sørensen Andersson Johansson Åberg Silva Santos Gonçalves Simões Nowak Kowalski "
        "Wiśniewski Wójcik Zieliński").split()
# country, calling code, leading digits of a mobile number
COUNTRIES = (("GB", "44", "7400"), ("DE", "49", "15123"), ("FR", "33", "612"), ("NL", "31", "612"),
             ("ES", "34", "612"), ("IT", "39", "312"), ("US", "1", "201555"), ("IE", "353", "85"),
             ("BE", "32", "470"), ("SE", "46", "70"), ("PT", "351", "912"), ("CH", "41", "78"),
             ("AT", "43", "664"), ("DK", "45", "20"), ("PL", "48", "512"))
TAGS = ("vip", "newsletter", "wholesale", "trade-fair-2025", "referral", "partner", "b2b", "b2c", "priority",
        "event", "webinar", "reseller")
SOURCES = ("Website", "Referral", "Trade fair", "Cold call", "LinkedIn", "Google Ads", "Partner", "Newsletter")
BRANDS = ("Harbour", "Northwind", "Bluebell", "Granite", "Copper", "Silverline", "Meridian", "Atlas", "Lighthouse",
          "Kestrel", "Juniper", "Riverside", "Sunflower", "Evergreen", "Foxglove", "Summit", "Maple", "Cobalt")
TRADES = ("Bikes", "Coffee", "Bakery", "Print", "Logistics", "Dental", "Architects", "Garden", "Software",
          "Consulting", "Brewing", "Florist", "Plumbing", "Builders", "Accountants", "Physio", "Catering", "Hotel")


def _array(values) -> str:
    from psycopg import sql

    return sql.SQL("array[{}]").format(sql.SQL(", ").join(map(sql.Literal, values))).as_string()


def _h(i: str, salt: int) -> str:
    """A reproducible pseudo-random non-negative integer per row (and per salt)."""
    return f"(hashint8(({i})::bigint * 1000003 + {salt}) & 2147483647)"


def _country_table(conn) -> None:
    conn.execute("create temporary table if not exists bench_countries (n int primary key, country text, code text, lead text)")
    conn.execute("truncate bench_countries")
    with conn.cursor() as cur:
        cur.executemany("insert into bench_countries values (%s, %s, %s, %s)",
                        [(n, *c) for n, c in enumerate(COUNTRIES)])


def fill(conn, workspace_id: str, owners: list[str], companies: int, contacts: int, offset: int,
         batch: int = 100_000, say=print) -> None:
    """`companies` companies and `contacts` contacts (85 % at a company) in `workspace_id`, as the table owner."""
    _country_table(conn)
    modulo = lambda text: text.replace(" % ", " %% ")  # noqa: E731 (psycopg placeholders use %)
    h = lambda salt: _h("i", salt)  # noqa: E731
    common = {"ws": workspace_id, "owners": owners}
    conn.execute(modulo(f"""
        insert into public.companies (workspace_id, name, email, phone, website, industry, country,
                                      owner_id, source, stage, lead_at, created_at)
        select %(ws)s, ({_array(BRANDS)})[1 + {h(6)} % {len(BRANDS)}] || ' ' || ({_array(TRADES)})[1 + {h(7)} % {len(TRADES)}]
                       || ' ' || i,
               'info' || i || '@company' || i || '.example',
               '+' || c.code || c.lead || lpad(({h(1)} % 100000)::text, 5, '0'),
               'https://www.company' || i || '.example', ({_array(TRADES)})[1 + {h(7)} % {len(TRADES)}], c.country,
               (%(owners)s::uuid[])[1 + {h(2)} % cardinality(%(owners)s::uuid[])],
               ({_array(SOURCES)})[1 + {h(3)} % {len(SOURCES)}],
               (array['lead', 'prospect', 'customer', 'churned'])[1 + {h(4)} % 4],
               now() - ({h(5)} % 1095) * interval '1 day', now() - ({h(5)} % 1095) * interval '1 day'
          from generate_series(%(lo)s::int, %(hi)s::int) i
          join bench_countries c on c.n = {h(8)} % {len(COUNTRIES)}
    """), {**common, "lo": offset + 1, "hi": offset + companies})
    conn.execute("drop table if exists bench_companies")
    conn.execute("create temporary table bench_companies as"
                 " select row_number() over (order by id) - 1 as n, id from public.companies where workspace_id = %s",
                 [workspace_id])
    conn.execute("alter table bench_companies add primary key (n)")
    stage = f"""case when {h(4)} % 100 < 30 then 'lead' when {h(4)} % 100 < 52 then 'prospect'
                     when {h(4)} % 100 < 90 then 'customer' else 'churned' end"""
    for lo in range(1, contacts + 1, batch):
        hi = min(contacts, lo + batch - 1)
        started = time.perf_counter()
        conn.execute(modulo(f"""
            insert into public.contacts (workspace_id, company_id, first_name, last_name, email, phone, country,
                                         owner_id, source, stage, lead_at, tags, consent, created_at, last_contacted_at)
            select %(ws)s, case when {h(9)} % 100 < 85 then k.id end, f.name, l.name,
                   replace(private.fold(f.name || '.' || l.name), ' ', '') || '.' || i || '@mail.example',
                   case when {h(10)} % 10 < 8 then '+' || c.code || c.lead || lpad(({h(1)} % 100000)::text, 5, '0') end,
                   c.country, (%(owners)s::uuid[])[1 + {h(2)} % cardinality(%(owners)s::uuid[])],
                   ({_array(SOURCES)})[1 + {h(3)} % {len(SOURCES)}], {stage}, t.created_at,
                   case when {h(11)} % 3 = 0 then '{{}}'::text[]
                        when {h(11)} % 3 = 1 then array[({_array(TAGS)})[1 + {h(12)} % {len(TAGS)}]]
                        else array[({_array(TAGS)})[1 + {h(12)} % {len(TAGS)}], ({_array(TAGS)})[1 + {h(13)} % {len(TAGS)}]]
                   end,
                   {h(14)} % 2 = 0, t.created_at,
                   case when {h(15)} % 10 < 6 then t.created_at + (now() - t.created_at) * ({h(16)} % 1000) / 1000.0 end
              from generate_series(%(lo)s::int, %(hi)s::int) g (j)
              cross join lateral (select j + %(offset)s as i) n (i)
              cross join lateral (select now() - ({h(5)} % 1095) * interval '1 day' - ({h(17)} % 86400) * interval '1 second'
                                  as created_at) t
              join bench_countries c on c.n = {h(8)} % {len(COUNTRIES)}
              join (select row_number() over () - 1 as n, v as name from unnest(%(first)s::text[]) v) f
                on f.n = {h(18)} % {len(FIRST)}
              join (select row_number() over () - 1 as n, v as name from unnest(%(last)s::text[]) v) l
                on l.n = {h(19)} % {len(LAST)}
              left join bench_companies k on k.n = {h(20)} % %(companies)s
        """), {**common, "lo": lo, "hi": hi, "offset": offset, "first": list(FIRST), "last": list(LAST),
              "companies": companies})
        say(f"  contacts {hi:>9,} / {contacts:,}  ({time.perf_counter() - started:.1f} s for this batch)")


# -- measuring ------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cases(conn, workspace_id: str):
    """The list queries to time: (label, Filters, sort, after, which statement)."""
    from lib import customer_search as cs
    from lib.customers import CONTACT

    deep = conn.execute(
        "select full_name, id from public.contacts where workspace_id = %s and archived_at is null"
        " order by full_name, id offset 500000 limit 1", [workspace_id]).fetchone()
    deep_key = (deep["full_name"], deep["id"]) if deep else None
    search = cs.Filters(search="Schmitd", stages=("customer",))
    filters = cs.Filters(stages=("customer", "prospect"), countries=("DE", "FR", "GB"), tags=("vip",))
    return CONTACT, [
        ("search 'Schmitd' + stage customer, page 1", search, "relevance", None, "page"),
        ("  its total count", search, "relevance", None, "count"),
        ("search 'Lefevre' (accent-free), page 1", cs.Filters(search="Lefevre"), "relevance", None, "page"),
        ("search 'Jurgen Schmitd' (full name), page 1", cs.Filters(search="Jurgen Schmitd"), "relevance", None, "page"),
        ("search 'Schmitd', name order, page 1", cs.Filters(search="Schmitd"), "name", None, "page"),
        ("filter stage+country+tag, name order, page 1", filters, "name", None, "page"),
        ("  its total count", filters, "name", None, "count"),
        ("no filter, name order, page 1", cs.Filters(), "name", None, "page"),
        ("no filter, deep keyset page (row 500,000)", cs.Filters(), "name", deep_key, "page"),
        ("no filter, total count", cs.Filters(), "name", None, "count"),
    ]


def as_owner(conn, claims) -> None:
    """The table owner (no row-level security) with the member's claims, so that auth.uid() and
    private.search_scored (which only answers members) see the same user."""
    conn.execute("select set_config('request.jwt.claims', %s, true)", [claims.as_json()])


def time_case(conn, kind, workspace_id: str, f, sort: str, after, which: str, runs: int) -> tuple[list[float], str]:
    """Milliseconds per execution of one statement in `conn` (already in a transaction, role set)."""
    from lib import customer_search as cs

    cs._prepare(conn, f)
    query, count, params = cs.page_query(conn, workspace_id, kind, f, sort, after)
    statement = query if which == "page" else count
    times, estimated = [], 0
    for n in range(runs + 3):
        started = time.perf_counter()
        if which == "page":
            conn.execute(statement, params).fetchall()
        else:  # as customer_search.page counts: time-boxed, else the planner's estimate
            estimated += cs.count_rows(conn, count, params)[1] and n >= 3
        if n >= 3:
            times.append((time.perf_counter() - started) * 1000)
    return times, statement.as_string(conn), estimated


def explain(conn, kind, workspace_id: str, f, sort: str, after, which: str) -> str:
    from lib import customer_search as cs

    cs._prepare(conn, f)
    query, count, params = cs.page_query(conn, workspace_id, kind, f, sort, after)
    statement = query if which == "page" else count
    from psycopg import sql

    rows = conn.execute(sql.SQL("explain (analyze, buffers) ") + statement, params).fetchall()
    return "\n".join(list(r.values())[0] for r in rows)


# -- the command ----------------------------------------------------------------------------------

def machine() -> str:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {cpu or platform.processor()}, {ram:.1f} GiB RAM, {platform.system()} {platform.release()}"


def run_list(args) -> int:
    reuse = bool(args.data_dir) and (Path(args.data_dir) / "pg").exists()
    data_dir = isolate("relata-bench-list-", keep=args.keep or bool(args.data_dir),
                       data_dir=Path(args.data_dir) if args.data_dir else None)

    import psycopg
    from psycopg.rows import dict_row

    from lib import workspaces
    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService
    from lib.config import load_settings
    from lib.runtime import open_runtime

    say = lambda text: print(text, flush=True)  # noqa: E731
    started = time.perf_counter()
    if reuse:  # a folder filled by an earlier run with --data-dir
        runtime = open_runtime(load_settings(secrets={}))
        auth = AuthService(runtime.db, LocalAuth(runtime.db))
        owner, agent, other = (auth.sign_in(f"{who}@example.com", PASSWORD) for who in ("owner-a", "agent-a", "owner-b"))
        agent = agent.user
        ws_a, ws_b = (m.workspace_id for m in (workspaces.my_workspaces(runtime.db, u.user.claims)[0]
                                               for u in (owner, other)))
    else:
        people = open_with_people()
        runtime, owner, agent, other, ws_a, ws_b = (people.runtime, people.owner, people.agent, people.other,
                                                    people.ws, people.ws_b)

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True, prepare_threshold=5) as admin:
        version = admin.execute("show server_version").fetchone()["server_version"]
        say(f"Postgres {version}, data folder {data_dir}")
        if not reuse:
            say(f"filling workspace A: {args.contacts:,} contacts at {args.companies:,} companies")
            fill(admin, ws_a, [owner.user.id, agent.id], args.companies, args.contacts, 0, say=say)
            say(f"filling workspace B: {args.contacts // 10:,} contacts at {args.companies // 10:,} companies")
            fill(admin, ws_b, [other.user.id], args.companies // 10, args.contacts // 10, args.contacts, say=say)
            t_vacuum = time.perf_counter()
            admin.execute("vacuum (analyze) public.contacts, public.companies, public.workspace_members, public.profiles")
            say(f"vacuum analyze {time.perf_counter() - t_vacuum:.1f} s")
        sizes = admin.execute(
            "select (select count(*) from public.contacts) as contacts, (select count(*) from public.companies) as companies,"
            " pg_size_pretty(pg_total_relation_size('public.contacts')) as contacts_size,"
            " pg_size_pretty(pg_database_size(current_database())) as db_size").fetchone()
        say(f"data ready in {time.perf_counter() - started:.0f} s: {sizes}")

        kind, todo = cases(admin, ws_a)
        results = []
        for label, f, sort, after, which in todo:
            if args.only and args.only not in label:
                continue
            with runtime.db.as_user(agent.claims) as conn:
                member, text_member, est_member = time_case(conn, kind, ws_a, f, sort, after, which, args.runs)
            with admin.transaction():
                as_owner(admin, agent.claims)
                table_owner, text_owner, est_owner = time_case(admin, kind, ws_a, f, sort, after, which, args.runs)
            assert text_member == text_owner
            if est_member or est_owner:
                label += f" (estimate: member {est_member}/{args.runs}, owner {est_owner}/{args.runs} runs)"
            row = (label, statistics.median(member), percentile(member, 0.95),
                   statistics.median(table_owner), percentile(table_owner, 0.95))
            results.append(row)
            say(f"{label:48} member p50 {row[1]:7.1f} p95 {row[2]:7.1f} ms | owner p50 {row[3]:7.1f} p95 {row[4]:7.1f} ms")
            if args.explain:
                with runtime.db.as_user(agent.claims) as conn:
                    say(explain(conn, kind, ws_a, f, sort, after, which))
                with admin.transaction():
                    as_owner(admin, agent.claims)
                    say(explain(admin, kind, ws_a, f, sort, after, which))

    say("")
    say(f"Machine: {machine()}; Postgres {version}")
    say(f"Data: workspace A {args.contacts:,} contacts / {args.companies:,} companies, workspace B "
        f"{args.contacts // 10:,} / {args.companies // 10:,}; contacts table {sizes['contacts_size']}, database {sizes['db_size']}")
    say(f"Runs: {args.runs} per query after 3 warm-ups")
    say("")
    say("| query | member p50 | member p95 | owner p50 | owner p95 | RLS overhead (p95) | goals |")
    say("|---|---|---|---|---|---|---|")
    ok = True
    for label, m50, m95, o50, o95 in results:
        ratio = m95 / o95 if o95 else float("inf")
        met = m95 <= P95_GOAL_MS and ratio <= OVERHEAD_GOAL
        ok &= met
        say(f"| {label.strip()} | {m50:.1f} ms | {m95:.1f} ms | {o50:.1f} ms | {o95:.1f} ms | {ratio:.2f}× |"
            f" {'met' if met else 'MISSED'} |")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list page query at 1,000,000 contacts, member vs table owner")
    listing.add_argument("--contacts", type=int, default=1_000_000)
    listing.add_argument("--companies", type=int, default=20_000)
    listing.add_argument("--runs", type=int, default=60)
    listing.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    listing.add_argument("--only", help="time only the queries whose label contains this text")
    listing.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    listing.add_argument("--data-dir", help="use (and keep) this data folder; filled on first use, reused after")
    sub.add_parser("import", help="import benchmark (bench/customers_import.py)", add_help=False)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import"]:
        from bench import customers_import  # another module: loaded only when asked for

        return customers_import.main(argv[1:])
    args = parser.parse_args(argv)
    return run_list(args)


if __name__ == "__main__":
    sys.exit(main())
