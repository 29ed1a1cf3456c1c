"""Inbound email benchmark: importing 10,000 messages from an mbox with lib.mail_in.

    python bench/tickets_inbound.py [--messages N] [--keep]

Works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder, no DATABASE_URL or
Supabase settings), so it never touches a real database:

1. signs up an owner of workspace A and an agent in A (the member everything runs as), through
   the app's own sign-up and invitation paths;
2. as the table owner fills A with 20,000 contacts at 2,000 companies (bench/customers.py's
   `fill`) and 1,000 tickets (T-1001…T-2000, a third of them solved), then VACUUM ANALYZE;
3. writes an mbox of `--messages` messages (default 10,000): 60 % new requests (half from known
   contacts, half from 2,000 new senders who become leads, 5 % with a small PDF attachment),
   30 % replies whose subject names an existing ticket (`[T-1234]`, reopening solved ones) and
   10 % replies threaded only by In-Reply-To to a message of this same mbox;
4. times `lib.mail_in.import_messages(db, agent, ws, [mbox])` as the signed-in agent: the whole
   call (reading the mbox, parsing every message, one transaction per message), and the time of
   each message from the progress callback; then imports the mbox again (every message a
   duplicate).

Goal (issue 6): at least 200 messages/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import isolate, open_with_people  # noqa: E402

from bench.customers import machine, percentile  # noqa: E402

GOAL_PER_S = 200.0
TOPICS = ("Order arrived damaged", "Invoice question", "Cannot log in", "Change my delivery address", "Refund",
          "Wrong size", "Where is my parcel?", "Cancel subscription", "Warranty claim", "Price quote")
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"


def fill_tickets(conn, workspace_id: str, n: int) -> None:
    """`n` email tickets for contacts of the workspace, a third solved, as the table owner."""
    conn.execute("""
        insert into public.tickets (workspace_id, subject, description, channel, contact_id, message_id)
        select %(ws)s, 'Existing request ' || i, 'Text of request ' || i, 'email', k.id,
               '<seed-' || i || '@bench.example>'
          from generate_series(1, %(n)s) i
          join lateral (select id from public.contacts where workspace_id = %(ws)s offset i limit 1) k on true
    """, {"ws": workspace_id, "n": n})
    conn.execute("update public.tickets set status = 'solved' where workspace_id = %s and number %% 3 = 0",
                 [workspace_id])


def write_mbox(path: Path, n: int, known: list[str], existing: range, seed: int = 7) -> dict:
    """An mbox of `n` messages (see the module docstring); returns the mix."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    mix = {"new from contacts": 0, "new from new senders": 0, "replies by [T-n]": 0, "replies by In-Reply-To": 0,
           "with attachment": 0}
    own: list[str] = []
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for i in range(n):
            msg = EmailMessage()
            msg["Message-ID"] = f"<m{i}@bench.example>"
            msg["To"] = "help@relata.example"
            msg["Date"] = format_datetime(start + timedelta(seconds=30 * i))
            roll = rng.random()
            if roll < 0.3:
                msg["From"] = f"Customer <{rng.choice(known)}>"
                msg["Subject"] = f"Re: [T-{rng.choice(existing)}] Existing request"
                mix["replies by [T-n]"] += 1
            elif roll < 0.4 and own:
                parent = rng.choice(own)
                msg["From"] = f"Customer <{rng.choice(known)}>"
                msg["Subject"] = "Re: follow-up"
                msg["In-Reply-To"] = parent
                msg["References"] = parent
                mix["replies by In-Reply-To"] += 1
            else:
                if rng.random() < 0.5:
                    msg["From"] = f"Customer <{rng.choice(known)}>"
                    mix["new from contacts"] += 1
                else:
                    who = rng.randrange(2_000)
                    msg["From"] = f"New Sender{who} <sender{who}@newmail.example>"
                    mix["new from new senders"] += 1
                msg["Subject"] = f"{rng.choice(TOPICS)} #{i}"
                own.append(msg["Message-ID"])
            msg.set_content(f"Hello,\n\nmessage {i}: " + "Lorem ipsum dolor sit amet. " * rng.randint(3, 40)
                            + "\n\nBest regards\n")
            if rng.random() < 0.05:
                msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"doc{i}.pdf")
                mix["with attachment"] += 1
            out.write(f"From bench@example.com {msg['Date']}\n")
            text = msg.as_string()
            out.write("".join(">" + line if line.startswith("From ") else line for line in text.splitlines(True)))
            out.write("\n")
    return mix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)

    data_dir = isolate("relata-bench-inbound-", keep=args.keep)

    import psycopg
    from psycopg.rows import dict_row

    from bench.customers import fill
    from lib import mail_in

    say = lambda text: print(text, flush=True)  # noqa: E731
    started = time.perf_counter()
    people = open_with_people(second_workspace=False)
    runtime, owner, agent, ws = people.runtime, people.owner, people.agent, people.ws

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin:
        version = admin.execute("show server_version").fetchone()["server_version"]
        say(f"Postgres {version}, data folder {data_dir}")
        fill(admin, ws, [owner.user.id, agent.id], 2_000, 20_000, 0, say=lambda text: None)
        fill_tickets(admin, ws, 1_000)
        admin.execute("vacuum (analyze) public.contacts, public.companies, public.tickets, public.ticket_comments")
        known = [r["email"] for r in admin.execute(
            "select email from public.contacts where workspace_id = %s order by email limit 5000", [ws]).fetchall()]
    mbox = data_dir / "inbound.mbox"
    mix = write_mbox(mbox, args.messages, known, range(1001, 2001))
    say(f"data ready in {time.perf_counter() - started:.0f} s; mbox {mbox.stat().st_size / 2**20:.1f} MB: {mix}")

    marks: list[float] = []
    t0 = time.perf_counter()
    result = mail_in.import_messages(runtime.db, agent.claims, ws, [mbox],
                                     progress=lambda done, total: marks.append(time.perf_counter()))
    elapsed = time.perf_counter() - t0
    per_message = [(b - a) * 1000 for a, b in zip([t0, *marks], marks)]
    rate = args.messages / elapsed
    say(f"import: {elapsed:.1f} s, {rate:.0f} messages/s; {result.summary()}")
    for label, reason in result.rejected[:5]:
        say(f"  rejected {label}: {reason}")

    t1 = time.perf_counter()
    again = mail_in.import_messages(runtime.db, agent.claims, ws, [mbox])
    elapsed_again = time.perf_counter() - t1
    say(f"second import: {elapsed_again:.1f} s, {args.messages / elapsed_again:.0f} messages/s; {again.summary()}")

    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row) as admin:
        sizes = admin.execute(
            "select (select count(*) from public.tickets) as tickets, (select count(*) from public.ticket_comments)"
            " as comments, (select count(*) from public.contacts) as contacts,"
            " (select count(*) from public.ticket_attachments) as attachments,"
            " pg_size_pretty(pg_database_size(current_database())) as db_size").fetchone()

    ok = rate >= GOAL_PER_S and not result.rejected and again.duplicates == args.messages
    say("")
    say(f"Machine: {machine()}; Postgres {version}")
    say(f"Data: 20,000 contacts, 1,000 tickets before; mbox of {args.messages:,} messages "
        f"({mbox.stat().st_size / 2**20:.1f} MB) {mix}; after: {sizes}")
    option = f" --messages {args.messages}" if args.messages != 10_000 else ""
    say("Command: python bench/tickets_inbound.py" + option)
    say("")
    say("| measurement | result | goal | |")
    say("|---|---|---|---|")
    say(f"| import {args.messages:,} messages (whole call) | {elapsed:.1f} s, {rate:.0f} messages/s |"
        f" ≥ {GOAL_PER_S:.0f}/s | {'met' if rate >= GOAL_PER_S else 'MISSED'} |")
    say(f"| per message p50 / p95 / max | {statistics.median(per_message):.1f} / "
        f"{percentile(per_message, 0.95):.1f} / {max(per_message):.1f} ms | | |")
    say(f"| same mbox again (all duplicates) | {elapsed_again:.1f} s, {args.messages / elapsed_again:.0f} messages/s"
        f" | | {'no-op' if again.duplicates == args.messages else 'CHANGED DATA'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
