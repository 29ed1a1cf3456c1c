"""Tickets benchmark: the agent's queues over 200,000 tickets in one workspace.

    python bench/tickets.py [--tickets N] [--runs N] [--depth N] [--explain] [--keep]

Works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder, no DATABASE_URL or
Supabase settings), so it never touches a real database:

1. signs up an owner of workspace A, an agent in A (the member everything runs as) and an owner
   of workspace B, through the app's own sign-up and invitation paths;
2. as the table owner fills A with 20,000 contacts at 2,000 companies (bench/customers.py's
   `fill`) and `--tickets` tickets (default 200,000) by INSERT … SELECT generate_series, 5,000 a statement,
   every trigger on (gapless numbering, SLA due times from the priority, audit): created over the last
   180 days, a third of them still open (new / open / pending customer / on hold), the rest solved
   or closed, 20 % unassigned and the rest split between owner and agent; B gets 20,000 tickets of
   its own; then VACUUM ANALYZE;
3. times `lib.tickets.queue(...)` as the signed-in agent (the whole call: transaction, role switch,
   query, rows) for the views open / mine / unassigned / breaching, the first page and a deep keyset
   page (after the `--depth`-th ticket of the view, default 10,000, or its last page when shorter),
   `--runs` times each after 3 warm-ups.

Goal (issue 6): queue p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import isolate, open_with_people  # noqa: E402

from bench.customers import machine, percentile  # noqa: E402
from bench.deals import timed  # noqa: E402

GOAL_MS = 150.0
VIEWS = ("open", "mine", "unassigned", "breaching")
SUBJECTS = ("Broken wheel", "Late delivery", "Invoice question", "Refund request", "Wrong size", "Login problem",
            "Missing part", "Warranty claim")
# Weighted statuses (a third still open) and priorities.
STATUSES = ["new"] * 3 + ["open"] * 4 + ["pending_customer"] * 2 + ["on_hold"] + ["solved"] * 8 + ["closed"] * 12
PRIORITIES = ["low"] * 2 + ["normal"] * 5 + ["high"] * 2 + ["urgent"]


def fill_tickets(conn, workspace_id: str, assignees: list[str | None], n: int, seed: int,
                 batch: int = 5_000) -> None:
    """`n` tickets in `workspace_id` as the table owner, at the workspace's contacts, triggers on.

    One statement per `batch` tickets (autocommit): the numbering trigger updates one counter row per
    ticket, and in a single transaction every update walks that row's ever longer chain of versions."""
    conn.execute("drop table if exists bench_people")
    conn.execute("create temporary table bench_people as select row_number() over (order by id) - 1 as n,"
                 " id as contact_id, company_id from public.contacts where workspace_id = %s", [workspace_id])
    people = conn.execute("select count(*) as n from bench_people").fetchone()["n"]
    sql = f"""
        insert into public.tickets (workspace_id, subject, description, channel, priority, status, contact_id,
                                    company_id, assignee_id, created_at, first_responded_at, solved_at, closed_at,
                                    paused_at)
        select %(ws)s, s.subject, 'Bench ticket ' || s.i, 'email', s.priority, s.status, p.contact_id, p.company_id,
               s.assignee, s.created,
               case when s.status <> 'new' then s.created + interval '2 hours' end,
               case when s.status in ('solved', 'closed') then s.created + interval '1 day' end,
               case when s.status = 'closed' then s.created + interval '8 days' end,
               case when s.status = 'pending_customer' then s.created + interval '3 hours' end
          from (select i,
                       (%(subjects)s::text[])[1 + (hashint8(i * 11 + %(seed)s) & 2147483647) %% {len(SUBJECTS)}]
                         || ' #' || i as subject,
                       (%(priorities)s::text[])[1 + (hashint8(i * 13 + %(seed)s) & 2147483647) %% {len(PRIORITIES)}]
                         as priority,
                       (%(statuses)s::text[])[1 + (hashint8(i * 17 + %(seed)s) & 2147483647) %% {len(STATUSES)}]
                         as status,
                       (%(assignees)s::uuid[])[1 + (hashint8(i * 19 + %(seed)s) & 2147483647) %% %(n_assignees)s]
                         as assignee,
                       now() - ((hashint8(i * 23 + %(seed)s) & 2147483647) %% (180 * 1440)) * interval '1 minute'
                         as created
                  from generate_series(%(start)s::bigint, %(stop)s::bigint) i) s
          left join bench_people p on p.n = (hashint8(s.i * 29 + %(seed)s) & 2147483647) %% greatest(%(people)s, 1)
    """
    params = {"ws": workspace_id, "subjects": list(SUBJECTS), "priorities": PRIORITIES, "statuses": STATUSES,
              "assignees": assignees, "n_assignees": len(assignees), "seed": seed, "people": people}
    for start in range(1, n + 1, batch):
        conn.execute(sql, {**params, "start": start, "stop": min(start + batch - 1, n)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200_000, help="tickets in workspace A")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--depth", type=int, default=10_000, help="position of the deep keyset page")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)

    data_dir = isolate("relata-bench-tickets-", keep=args.keep)

    import psycopg
    from psycopg.rows import dict_row

    from bench.customers import fill
    from lib import tickets

    say = lambda text: print(text, flush=True)  # noqa: E731
    started = time.perf_counter()
    people = open_with_people()
    runtime, owner, agent, other, ws, ws_b = people.runtime, people.owner, people.agent, people.other, people.ws, people.ws_b
    # One in five unassigned; the rest shared by owner and agent.
    assignees = [None, owner.user.id, agent.id, owner.user.id, agent.id]

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        version = admin.execute("show server_version").fetchone()["server_version"]
        say(f"Postgres {version}, data folder {data_dir}")
        fill(admin, ws, [owner.user.id, agent.id], 2_000, 20_000, 0, say=lambda text: None)
        fill(admin, ws_b, [other.user.id], 200, 2_000, 20_000, say=lambda text: None)
        t_fill = time.perf_counter()
        fill_tickets(admin, ws, assignees, args.tickets, 1)
        fill_tickets(admin, ws_b, [None, other.user.id], 20_000, 2)
        say(f"tickets filled in {time.perf_counter() - t_fill:.1f} s")
        admin.execute("vacuum (analyze) public.tickets, public.contacts, public.companies, public.profiles,"
                      " public.workspace_members, public.sla_policies")
        sizes = admin.execute(
            "select (select count(*) from public.tickets) as tickets,"
            " (select count(*) from public.tickets where workspace_id = %s) as tickets_a,"
            " (select count(*) from public.tickets where workspace_id = %s"
            "   and status in ('new', 'open', 'pending_customer', 'on_hold')) as open_a,"
            " (select max(number) from public.tickets where workspace_id = %s) as last_number,"
            " pg_size_pretty(pg_total_relation_size('public.tickets')) as tickets_size,"
            " pg_size_pretty(pg_database_size(current_database())) as db_size", [ws, ws, ws]).fetchone()
        say(f"data ready in {time.perf_counter() - started:.0f} s: {sizes}")

    results = []
    for view in VIEWS:
        first = tickets.queue(runtime.db, agent.claims, ws, view)
        # The cursor after the depth-th ticket of the view (or of its second-to-last page).
        total = len(tickets.queue(runtime.db, agent.claims, ws, view, limit=1_000_000).rows)
        depth = max(1, min(args.depth, total - tickets.PAGE_SIZE))
        deep_cursor = tickets.queue(runtime.db, agent.claims, ws, view, limit=depth).next_after
        for page, after in (("first page", None), (f"page after #{depth:,}", deep_cursor)):
            call = lambda view=view, after=after: tickets.queue(runtime.db, agent.claims, ws, view, after=after)  # noqa: E731
            rows = len(call().rows)
            times = timed(call, args.runs)
            results.append((f"{view} ({total:,} tickets), {page} ({rows} rows)", times))
            say(f"{results[-1][0]:60} p50 {statistics.median(times):7.1f} p95 {percentile(times, 0.95):7.1f} ms")
            if args.explain:
                explain(runtime, agent.claims, ws, view, after, say)
        assert first.rows or total == 0

    say("")
    say(f"Machine: {machine()}; Postgres {version}")
    say(f"Data: workspace A {sizes['tickets_a']:,} tickets (T-1001…T-{sizes['last_number']}), {sizes['open_a']:,} "
        f"not solved or closed, 20,000 contacts / 2,000 companies; workspace B 20,000 tickets; {sizes['tickets']:,} "
        f"tickets ({sizes['tickets_size']}), database {sizes['db_size']}")
    say(f"Runs: {args.runs} per case after 3 warm-ups, as the signed-in agent; page size {tickets.PAGE_SIZE}")
    say("")
    say("| measurement | p50 | p95 | goal (p95) | |")
    say("|---|---|---|---|---|")
    ok = True
    for label, times in results:
        p95 = percentile(times, 0.95)
        ok &= p95 <= GOAL_MS
        say(f"| {label} | {statistics.median(times):.1f} ms | {p95:.1f} ms | ≤ {GOAL_MS:.0f} ms |"
            f" {'met' if p95 <= GOAL_MS else 'MISSED'} |")
    return 0 if ok else 1


def explain(runtime, claims, ws: str, view: str, after, say) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement lib.tickets.queue runs, as the same user."""
    import psycopg

    from lib import tickets

    captured: list[tuple] = []
    original = psycopg.Connection.execute

    def capture(self, query, params=None, **kw):
        captured.append((query, params))
        return original(self, query, params, **kw)

    psycopg.Connection.execute = capture
    try:
        tickets.queue(runtime.db, claims, ws, view, after=after)
    finally:
        psycopg.Connection.execute = original
    with runtime.db.as_user(claims) as conn:
        for query, params in captured:
            text = query if isinstance(query, str) else query.as_string(conn)
            if "from public.tickets" not in text:
                continue
            rows = original(conn, "explain (analyze, buffers) " + text, params).fetchall()
            say("\n".join(list(r.values())[0] for r in rows))
            say("")


if __name__ == "__main__":
    sys.exit(main())
