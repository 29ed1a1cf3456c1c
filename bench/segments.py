"""Segments benchmark: the live count of typical segments over 1,000,000 contacts.

    python bench/segments.py [--contacts N] [--runs N] [--only TEXT] [--explain] [--data-dir DIR] [--keep]

Works on a throwaway embedded Postgres (bench/harness.py `isolate()`), never a real database:

1. signs up an owner and an agent of workspace A and an owner of workspace B through the app's
   own paths;
2. as the table owner, set-based (`INSERT … SELECT … FROM generate_series`, every trigger and
   index on): `--contacts` contacts (default 1,000,000) at 20,000 companies in A with
   bench/customers.py's distributions (15 countries, stages 30/22/38/10 %, 0–2 of 12 tags,
   consent 50 %, two owners, 60 % contacted at some time since creation), a tenth of that in B;
   `--deals` open deals and as many won/lost ones, `--tickets` tickets (a third open) at A's
   contacts; a static list frozen from a filter; then VACUUM ANALYZE;
3. times `lib.segments.count_filters` (and `segments.count` for the list), the whole call the
   Segments page makes (transaction, role switch, custom field lookup, exact count), as the
   signed-in agent (row-level security on), `--runs` times after 3 warm-ups; then, with each
   case saved as a live segment, `segments.segments_of_contact` for one contact (the customer
   page's segment badges).

Goal (issue 8): a segment count over 1,000,000 contacts in <= 300 ms. Exits non-zero when a case
misses it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import PASSWORD, isolate, open_with_people  # noqa: E402

GOAL_MS = 300.0


def cases(agent_id: str, list_id: str):
    """(label, Filters or a static list id) to count."""
    from lib.customer_search import Filters

    return [
        ("customers in DE with consent", Filters(stages=("customer",), countries=("DE",), consent=True)),
        ("tag vip, no activity for 90 days", Filters(tags=("vip",), inactive_days=90)),
        ("has an open deal", Filters(open_deal=True)),
        ("has an open ticket, with consent", Filters(open_ticket=True, consent=True)),
        ("leads/prospects of one owner, active in 30 days",
         Filters(stages=("lead", "prospect"), owners=(agent_id,), active_days=30)),
        ("consent given (half of everyone)", Filters(consent=True)),
        ("every active contact", Filters()),
        ("source Website in FR, no open deal", Filters(sources=("Website",), countries=("FR",), open_deal=False)),
        ("static list (GB customers, frozen)", list_id),
    ]


def fill_all(admin, ws: str, ws_b: str, owners: list[str], other_owner: str, args, say) -> None:
    from bench.customers import fill
    from bench.deals import bench_pipeline, fill_deals
    from bench.tickets import fill_tickets

    started = time.perf_counter()
    say(f"filling workspace A: {args.contacts:,} contacts at {args.companies:,} companies")
    fill(admin, ws, owners, args.companies, args.contacts, 0, say=say)
    say(f"filling workspace B: {args.contacts // 10:,} contacts")
    fill(admin, ws_b, [other_owner], args.companies // 10, args.contacts // 10, args.contacts, say=say)
    pipeline, open_ids, won_id, lost_id = bench_pipeline(admin, ws)
    fill_deals(admin, ws, pipeline, open_ids, owners, args.deals, 1)
    fill_deals(admin, ws, pipeline, [won_id, lost_id], owners, args.deals, 2)
    say(f"deals: {args.deals:,} open, {args.deals:,} won or lost ({time.perf_counter() - started:.0f} s so far)")
    fill_tickets(admin, ws, owners + [None], args.tickets, 7)
    say(f"tickets: {args.tickets:,} ({time.perf_counter() - started:.0f} s so far)")
    admin.execute("vacuum (analyze) public.contacts, public.companies, public.deals, public.tickets")
    say(f"filled and vacuumed in {time.perf_counter() - started:.0f} s")


def static_list(runtime, owner, ws: str) -> str:
    """The benchmark's static list: GB customers frozen into segment_members (as the owner, RLS on)."""
    from lib import segments
    from lib.customer_search import Filters

    found = [s for s in segments.list_segments(runtime.db, owner.claims, ws) if s["name"] == "Bench: GB customers"]
    if found:
        return found[0]["id"]
    started = time.perf_counter()
    made = segments.save_static_list(runtime.db, owner.claims, ws, "Bench: GB customers",
                                     filters=Filters(stages=("customer",), countries=("GB",)))
    print(f"static list of {made['member_count']:,} members frozen in {time.perf_counter() - started:.1f} s", flush=True)
    return made["id"]


def explain(runtime, claims, ws: str, target) -> str:
    from psycopg import sql

    from lib import customer_search as search, segments
    from lib.customers import CONTACT

    with runtime.db.as_user(claims) as conn:
        f = target if not isinstance(target, str) else segments.filters_of(segments._segment(conn, ws, target))
        where, params = search.where_sql(conn, ws, CONTACT, f, whole=True)
        rows = conn.execute(sql.SQL("explain (analyze, buffers) select count(*) from public.contacts c where ") + where,
                            params).fetchall()
    return "\n".join(list(r.values())[0] for r in rows)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=50_000, help="open deals (and as many closed ones)")
    parser.add_argument("--tickets", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", help="time only the cases whose label contains this text")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each count")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--data-dir", help="use (and keep) this data folder; filled on first use, reused after")
    args = parser.parse_args(argv)

    reuse = bool(args.data_dir) and (Path(args.data_dir) / "pg").exists()
    data_dir = isolate("relata-bench-segments-", keep=args.keep or bool(args.data_dir),
                       data_dir=Path(args.data_dir) if args.data_dir else None)

    import psycopg
    from psycopg.rows import dict_row

    from bench.customers import machine
    from lib import segments, workspaces

    say = lambda text: print(text, flush=True)  # noqa: E731
    if reuse:
        from lib.auth.adapters import LocalAuth
        from lib.auth.service import AuthService
        from lib.config import load_settings
        from lib.runtime import open_runtime

        runtime = open_runtime(load_settings(secrets={}))
        auth = AuthService(runtime.db, LocalAuth(runtime.db))
        owner, agent = (auth.sign_in(f"{who}@example.com", PASSWORD) for who in ("owner-a", "agent-a"))
        agent = agent.user
        ws = workspaces.my_workspaces(runtime.db, owner.user.claims)[0].workspace_id
    else:
        people = open_with_people()
        runtime, owner, agent, ws = people.runtime, people.owner, people.agent, people.ws

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        version = admin.execute("show server_version").fetchone()["server_version"]
        say(f"Postgres {version}, data folder {data_dir}")
        if not reuse:
            fill_all(admin, ws, people.ws_b, [owner.user.id, agent.id], people.other.user.id, args, say)
        list_id = static_list(runtime, owner.user, ws)
        admin.execute("vacuum (analyze) public.segment_members")
        sizes = admin.execute(
            "select (select count(*) from public.contacts) as contacts,"
            " (select count(*) from public.contacts where workspace_id = %s) as contacts_a,"
            " (select count(*) from public.deals where workspace_id = %s and status = 'open') as open_deals,"
            " (select count(*) from public.tickets where workspace_id = %s) as tickets,"
            " pg_size_pretty(pg_total_relation_size('public.contacts')) as contacts_size,"
            " pg_size_pretty(pg_database_size(current_database())) as db_size", [ws, ws, ws]).fetchone()
    say(f"data: {sizes}")

    results = []
    for label, target in cases(agent.id, list_id):
        if args.only and args.only not in label:
            continue
        if isinstance(target, str):
            call = lambda: segments.count(runtime.db, agent.claims, ws, target)  # noqa: E731
        else:
            call = lambda: segments.count_filters(runtime.db, agent.claims, ws, target)  # noqa: E731
        times, n = [], None
        for i in range(args.runs + 3):
            started = time.perf_counter()
            n = call()
            if i >= 3:
                times.append((time.perf_counter() - started) * 1000)
        row = (label, n, statistics.median(times), percentile(times, 0.95))
        results.append(row)
        say(f"{label:50} {n:>9,} contacts  p50 {row[2]:7.1f} ms  p95 {row[3]:7.1f} ms")
        if args.explain:
            say(explain(runtime, agent.claims, ws, target))

    # The customer page: one contact's segments, with every case above saved as a segment.
    for label, target in cases(agent.id, list_id):
        if not isinstance(target, str) and not any(x["name"] == f"Bench: {label}"
                                                   for x in segments.list_segments(runtime.db, agent.claims, ws)):
            segments.save_filter_segment(runtime.db, agent.claims, ws, f"Bench: {label}", target)
    with runtime.db.as_user(agent.claims) as conn:
        someone = str(conn.execute("select m.contact_id from public.segment_members m where m.segment_id = %s"
                                   " order by m.contact_id limit 1", [list_id]).fetchone()["contact_id"])
    saved_count = len(segments.list_segments(runtime.db, agent.claims, ws))
    times = []
    for i in range(args.runs + 3):
        started = time.perf_counter()
        found = segments.segments_of_contact(runtime.db, agent.claims, ws, someone)
        if i >= 3:
            times.append((time.perf_counter() - started) * 1000)
    of_contact = (f"one contact's segments ({saved_count} saved, it is in {len(found)})", len(found),
                  statistics.median(times), percentile(times, 0.95))
    say(f"{of_contact[0]:50}  p50 {of_contact[2]:7.1f} ms  p95 {of_contact[3]:7.1f} ms")

    say("")
    say(f"Machine: {machine()}; Postgres {version}")
    say(f"Data: {sizes['contacts_a']:,} contacts in workspace A ({sizes['contacts']:,} in all; contacts table "
        f"{sizes['contacts_size']}, database {sizes['db_size']}), {sizes['open_deals']:,} open deals, "
        f"{sizes['tickets']:,} tickets")
    say(f"Runs: {args.runs} per segment after 3 warm-ups, as the signed-in agent (row-level security on)")
    say("")
    say("| segment | members | p50 | p95 | goal (p95 ≤ 300 ms) |")
    say("|---|---|---|---|---|")
    ok = True
    for label, n, p50, p95 in results:
        ok &= p95 <= GOAL_MS
        say(f"| {label} | {n:,} | {p50:.1f} ms | {p95:.1f} ms | {'met' if p95 <= GOAL_MS else 'MISSED'} |")
    say(f"| {of_contact[0]} (segments_of_contact) | – | {of_contact[2]:.1f} ms | {of_contact[3]:.1f} ms | – |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
