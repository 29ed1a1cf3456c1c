"""Deals benchmark: the board's data for 10,000 open deals in 8 stages, and moving a deal.

    python bench/deals.py [--deals N] [--runs N] [--moves N] [--explain] [--keep]

Works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder, no DATABASE_URL or
Supabase settings), so it never touches a real database:

1. signs up an owner of workspace A, an agent in A (the member everything runs as) and an owner
   of workspace B, through the app's own sign-up and invitation paths;
2. as the table owner fills A with 20,000 contacts at 2,000 companies (bench/customers.py's
   `fill`), a pipeline "Bench" with 8 open stages plus Won and Lost, `--deals` open deals (default
   10,000) spread over its 8 open stages (titles, companies, contacts, owners, values, close dates,
   days in stage), 5,000 won or lost deals in the same pipeline and 5,000 open deals in the default
   pipeline; B gets 5,000 deals of its own; then VACUUM ANALYZE. Every trigger and index stays on;
3. times `lib.deals.board(...)` for the Bench pipeline as the signed-in agent (the whole call:
   transaction, role switch, its three queries, building the columns), `--runs` times after 3
   warm-ups, with no filter, with a search and with an owner filter;
4. times `lib.deals.move(...)` of `--moves` different open deals to another open stage as the agent
   (the whole call, history trigger included).

Goals (issue 5): board p95 <= 300 ms; move p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import isolate, open_with_people  # noqa: E402

from bench.customers import machine, percentile  # noqa: E402

BOARD_GOAL_MS = 300.0
MOVE_GOAL_MS = 50.0
STAGES = [("Inbound", 5), ("Contacted", 10), ("Discovery", 20), ("Qualified", 30), ("Demo", 40),
          ("Proposal", 55), ("Negotiation", 70), ("Verbal yes", 90)]
TITLES = ("Annual plan", "First order", "Spring range", "Service contract", "Website project", "Bulk order",
          "Renewal", "Extension")


def fill_deals(conn, workspace_id: str, pipeline_id: str, stage_ids: list[str], owners: list[str], n: int,
               seed: int, status_stage: list[str] | None = None) -> None:
    """`n` deals in `pipeline_id`, spread over `stage_ids`, as the table owner; at companies and
    contacts of the workspace when it has some. Days in stage 0–120 (set after the insert, since
    the placing trigger stamps now())."""
    conn.execute("drop table if exists bench_people")
    conn.execute("create temporary table bench_people as select row_number() over (order by id) - 1 as n,"
                 " id as contact_id, company_id from public.contacts where workspace_id = %s", [workspace_id])
    people = conn.execute("select count(*) as n from bench_people").fetchone()["n"]
    conn.execute(f"""
        insert into public.deals (workspace_id, pipeline_id, stage_id, title, contact_id, company_id, value, currency,
                                  owner_id, expected_close_date, source)
        select %(ws)s, %(pipeline)s, (%(stages)s::uuid[])[1 + (hashint8(i * 7 + %(seed)s) & 2147483647) %% %(n_stages)s],
               (%(titles)s::text[])[1 + (hashint8(i * 11 + %(seed)s) & 2147483647) %% {len(TITLES)}] || ' ' || i,
               p.contact_id, p.company_id,
               100 + (hashint8(i * 13 + %(seed)s) & 2147483647) %% 50000, 'EUR',
               (%(owners)s::uuid[])[1 + (hashint8(i * 17 + %(seed)s) & 2147483647) %% cardinality(%(owners)s::uuid[])],
               current_date + ((hashint8(i * 19 + %(seed)s) & 2147483647) %% 240)::int - 60, 'Bench'
          from generate_series(1, %(count)s) i
          left join bench_people p on p.n = (hashint8(i * 23 + %(seed)s) & 2147483647) %% greatest(%(people)s, 1)
    """, {"ws": workspace_id, "pipeline": pipeline_id, "stages": stage_ids, "n_stages": len(stage_ids),
          "titles": list(TITLES), "owners": owners, "count": n, "seed": seed, "people": people})
    conn.execute("""
        update public.deals set stage_entered_at = now() - ((hashint8(hashtext(id::text)) & 2147483647) %% 120) * interval '1 day'
         where workspace_id = %s and pipeline_id = %s and source = 'Bench'
    """, [workspace_id, pipeline_id])


def bench_pipeline(conn, workspace_id: str) -> tuple[str, list[str], str, str]:
    """A pipeline with 8 open stages plus Won and Lost: (id, open stage ids, won id, lost id)."""
    pipeline = conn.execute("insert into public.pipelines (workspace_id, name, position) values (%s, 'Bench', 1)"
                            " returning id", [workspace_id]).fetchone()["id"]
    rows = [(name, i, p, "open", 21) for i, (name, p) in enumerate(STAGES)]
    rows += [("Won", len(STAGES), 100, "won", None), ("Lost", len(STAGES) + 1, 0, "lost", None)]
    ids = []
    for name, position, probability, kind, rotting in rows:
        ids.append(str(conn.execute(
            "insert into public.stages (workspace_id, pipeline_id, name, position, probability, kind, rotting_days)"
            " values (%s, %s, %s, %s, %s, %s, %s) returning id",
            [workspace_id, pipeline, name, position, probability, kind, rotting]).fetchone()["id"]))
    return str(pipeline), ids[:8], ids[8], ids[9]


def timed(call, runs: int, warmups: int = 3) -> list[float]:
    times = []
    for n in range(runs + warmups):
        started = time.perf_counter()
        call()
        if n >= warmups:
            times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=10_000, help="open deals in the benchmark pipeline")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of the board's queries")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)

    data_dir = isolate("relata-bench-deals-", keep=args.keep)

    import psycopg
    from psycopg.rows import dict_row

    from bench.customers import fill
    from lib import deals

    say = lambda text: print(text, flush=True)  # noqa: E731
    started = time.perf_counter()
    people = open_with_people()
    runtime, owner, agent, other, ws, ws_b = people.runtime, people.owner, people.agent, people.other, people.ws, people.ws_b
    owners = [owner.user.id, agent.id]

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        version = admin.execute("show server_version").fetchone()["server_version"]
        say(f"Postgres {version}, data folder {data_dir}")
        fill(admin, ws, owners, 2_000, 20_000, 0, say=lambda text: None)
        fill(admin, ws_b, [other.user.id], 200, 2_000, 20_000, say=lambda text: None)
        pipeline, open_ids, won_id, lost_id = bench_pipeline(admin, ws)
        default = admin.execute("select p.id, array_agg(s.id order by s.position) filter (where s.kind = 'open') as open"
                                " from public.pipelines p join public.stages s on s.pipeline_id = p.id"
                                " where p.workspace_id = %s and p.is_default group by p.id", [ws]).fetchone()
        default_b = admin.execute("select p.id, array_agg(s.id order by s.position) as stages"
                                  " from public.pipelines p join public.stages s on s.pipeline_id = p.id"
                                  " where p.workspace_id = %s and p.is_default group by p.id", [ws_b]).fetchone()
        t_fill = time.perf_counter()
        fill_deals(admin, ws, pipeline, open_ids, owners, args.deals, 1)
        fill_deals(admin, ws, pipeline, [won_id], owners, 2_500, 2)
        reason = admin.execute("select id from public.lost_reasons where workspace_id = %s limit 1", [ws]).fetchone()["id"]
        fill_deals(admin, ws, pipeline, [lost_id], owners, 2_500, 3)
        admin.execute("update public.deals set lost_reason_id = %s where workspace_id = %s and stage_id = %s",
                      [reason, ws, lost_id])
        fill_deals(admin, ws, str(default["id"]), [str(s) for s in default["open"]], owners, 5_000, 4)
        fill_deals(admin, ws_b, str(default_b["id"]), [str(s) for s in default_b["stages"][:4]], [other.user.id], 5_000, 5)
        say(f"deals filled in {time.perf_counter() - t_fill:.1f} s")
        admin.execute("vacuum (analyze) public.deals, public.deal_stage_history, public.stages, public.pipelines,"
                      " public.contacts, public.companies, public.profiles, public.workspace_members")
        sizes = admin.execute(
            "select (select count(*) from public.deals) as deals,"
            " (select count(*) from public.deals where pipeline_id = %s and status = 'open') as bench_open,"
            " (select count(*) from public.deal_stage_history) as history,"
            " pg_size_pretty(pg_total_relation_size('public.deals')) as deals_size,"
            " pg_size_pretty(pg_database_size(current_database())) as db_size", [pipeline]).fetchone()
        say(f"data ready in {time.perf_counter() - started:.0f} s: {sizes}")
        candidates = admin.execute(
            "select id, stage_id, version from public.deals where pipeline_id = %s and status = 'open'"
            " order by hashtext(id::text) limit %s", [pipeline, args.moves + 3]).fetchall()

    results = []
    searched = next(iter(TITLES)).split()[0]
    cases = [("board, no filter", deals.BoardFilters()),
             (f"board, search '{searched}'", deals.BoardFilters(search=searched)),
             ("board, owner filter (the agent's deals)", deals.BoardFilters(owners=(agent.id,)))]
    for label, f in cases:
        columns = deals.board(runtime.db, agent.claims, ws, pipeline, f)
        shown = sum(len(c.cards) for c in columns)
        counted = sum(c.count for c in columns)
        times = timed(lambda: deals.board(runtime.db, agent.claims, ws, pipeline, f), args.runs)
        results.append((f"{label} ({counted:,} deals, {shown} cards)", times, BOARD_GOAL_MS))
        say(f"{results[-1][0]:60} p50 {statistics.median(times):7.1f} p95 {percentile(times, 0.95):7.1f} ms")

    rng = random.Random(5)
    todo = iter(candidates)

    def move_one() -> None:
        deal = next(todo)
        target = rng.choice([s for s in open_ids if s != str(deal["stage_id"])])
        deals.move(runtime.db, agent.claims, ws, str(deal["id"]), target, deal["version"])

    times = timed(move_one, args.moves)
    results.append((f"move a deal to another open stage ({args.moves} deals)", times, MOVE_GOAL_MS))
    say(f"{results[-1][0]:60} p50 {statistics.median(times):7.1f} p95 {percentile(times, 0.95):7.1f} ms")

    if args.explain:
        explain_board(runtime, agent.claims, ws, pipeline, say)

    say("")
    say(f"Machine: {machine()}; Postgres {version}")
    say(f"Data: workspace A {sizes['bench_open']:,} open deals in 8 stages of the Bench pipeline + 5,000 won/lost there"
        f" + 5,000 in the default pipeline, 20,000 contacts / 2,000 companies; workspace B 5,000 deals; "
        f"{sizes['deals']:,} deals ({sizes['deals_size']}), {sizes['history']:,} history rows, database {sizes['db_size']}")
    say(f"Runs: board {args.runs} per case after 3 warm-ups; {args.moves} moves after 3 warm-ups; as the signed-in agent")
    say("")
    say("| measurement | p50 | p95 | goal (p95) | |")
    say("|---|---|---|---|---|")
    ok = True
    for label, times, goal in results:
        p95 = percentile(times, 0.95)
        ok &= p95 <= goal
        say(f"| {label} | {statistics.median(times):.1f} ms | {p95:.1f} ms | ≤ {goal:.0f} ms |"
            f" {'met' if p95 <= goal else 'MISSED'} |")
    return 0 if ok else 1


def explain_board(runtime, claims, ws: str, pipeline: str, say) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement lib.deals.board runs (unfiltered)."""
    from lib import deals

    captured: list[tuple] = []
    import psycopg

    original = psycopg.Connection.execute

    def capture(self, query, params=None, **kw):
        captured.append((query, params))
        return original(self, query, params, **kw)

    psycopg.Connection.execute = capture
    try:
        deals.board(runtime.db, claims, ws, pipeline)
    finally:
        psycopg.Connection.execute = original
    with runtime.db.as_user(claims) as conn:
        for query, params in captured:
            text = query if isinstance(query, str) else query.as_string(conn)
            if not text.lstrip().lower().startswith("select") or "set_config" in text:
                continue
            rows = original(conn, "explain (analyze, buffers) " + text, params).fetchall()
            say("\n".join(list(r.values())[0] for r in rows))
            say("")


if __name__ == "__main__":
    sys.exit(main())
