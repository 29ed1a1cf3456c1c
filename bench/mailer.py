"""Email delivery benchmark: 10,000 recipients through a local SMTP server with lib.mailer.

    python bench/mailer.py [--messages N] [--batch N] [--connections N] [--workers N] [--keep]

Works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder, no DATABASE_URL or
Supabase settings), so it never touches a real database or a real mail server:

1. signs up the owner of workspace A through the app's own sign-up path;
2. as the table owner, set-based: `--messages` contacts (default 10,000) who consented, an email
   campaign with all of them as members, and one queued outbox row each (subject, a text body of
   0.8 KB and an HTML body of 1.0 KB, three links in all, a Message-ID in lib.mailer's format);
   VACUUM ANALYZE;
3. starts an aiosmtpd server in a second process (this script with --serve) that accepts every
   message and counts messages and distinct Message-IDs;
4. times `Worker.run_once()` (no rate limit, batches of `--batch`, default 200, `--connections`
   SMTP connections, default 4 as the command's, each kept open across batches): claim, build each
   message (unsubscribe token, tracked links), send, record 'sent' and the campaign member in its
   own transaction;
5. checks that every row is 'sent', every member 'sent', and that the server received each
   Message-ID exactly once.

Goal (issue 8): at least 300 messages/s without a rate limit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import isolate, open_with_people  # noqa: E402

GOAL_PER_S = 300.0
HTML = ("<html><body><h1>Spring is here</h1>" + "<p>Our new bikes are in the shop: light, fast and ready for the "
        "road. Come and try one this weekend.</p>" * 8 + '<p><a href="https://shop.example/spring">See the '
        'offers</a> or <a href="https://shop.example/stores">find a store</a>.</p></body></html>')
TEXT = ("Spring is here\n\n" + "Our new bikes are in the shop: light, fast and ready for the road. "
        "Come and try one this weekend.\n" * 8 + "See the offers: https://shop.example/spring\n")


def serve(port: int, stats_path: Path) -> None:
    """The SMTP sink (run in its own process): accept all, count, write stats on SIGTERM."""
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.count, self.ids = 0, set()

        async def handle_DATA(self, server, session, envelope):
            self.count += 1
            for line in envelope.content.split(b"\r\n", 40):
                if line.lower().startswith(b"message-id:"):
                    self.ids.add(line.split(b":", 1)[1].strip())
                    break
            return "250 OK"

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()
    stats_path.write_text(json.dumps({"received": sink.count, "distinct_message_ids": len(sink.ids),
                                      "cpu_s": time.process_time()}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(conn, workspace_id: str, n: int) -> str:
    """n consenting contacts, a campaign to them and one queued email each; returns the campaign id."""
    conn.execute("""
        insert into public.contacts (workspace_id, first_name, last_name, email, consent)
        select %(ws)s, 'Reader', i::text, 'reader' || i || '@inbox.example', true
          from generate_series(1, %(n)s) i
    """, {"ws": workspace_id, "n": n})
    campaign = conn.execute(
        "insert into public.campaigns (workspace_id, name, status, launched_at) values (%s, 'Spring sale', 'running',"
        " now()) returning id", [workspace_id]).fetchone()[0]
    conn.execute("""
        insert into public.campaign_members (workspace_id, campaign_id, contact_id)
        select %(ws)s, %(c)s, id from public.contacts where workspace_id = %(ws)s
    """, {"ws": workspace_id, "c": campaign})
    conn.execute("""
        insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, body_html,
                                   message_id)
        select k.workspace_id, %(c)s, k.id, k.email, 'Spring is here, ' || k.first_name, %(text)s, %(html)s,
               '<' || replace(gen_random_uuid()::text, '-', '') || '.' || left(replace(k.workspace_id::text, '-', ''), 12)
               || '@relata.local>'
          from public.contacts k where k.workspace_id = %(ws)s
    """, {"ws": workspace_id, "c": campaign, "text": TEXT, "html": HTML})
    return str(campaign)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections of the worker (default 4)")
    parser.add_argument("--workers", type=int, default=1, help="workers (each with --connections) on the queue")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.stats)
        return 0

    isolate("relata-bench-mailer-", keep=args.keep)
    import psycopg

    from bench.customers import machine
    from lib.mailer import SmtpConfig, Worker

    people = open_with_people(second_workspace=False)
    runtime, ws = people.runtime, people.ws
    print(f"machine: {machine()}", flush=True)
    started = time.perf_counter()
    with psycopg.connect(runtime.admin_conninfo) as conn:
        campaign = fill(conn, ws, args.messages)
    with psycopg.connect(runtime.admin_conninfo, autocommit=True) as conn:
        conn.execute("vacuum analyze public.contacts, public.campaign_members, public.outbox")
    print(f"queued {args.messages:,} emails in {time.perf_counter() - started:.1f} s", flush=True)

    port = free_port()
    stats = Path(tempfile.mkdtemp(prefix="relata-bench-smtp-")) / "stats.json"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--stats", str(stats)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    try:
        workers = [Worker(runtime.db, SmtpConfig("127.0.0.1", port), public_url="https://crm.example.com",
                          batch=args.batch, connections=args.connections, workspace_id=ws)
                   for _ in range(args.workers)]
        results = []
        started, cpu = time.perf_counter(), time.process_time()
        threads = [threading.Thread(target=lambda w=w: results.append(w.run_once())) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    received = json.loads(stats.read_text())
    sent = sum(r.sent for r in results)
    rate = sent / elapsed
    with psycopg.connect(runtime.admin_conninfo) as conn:
        outbox = dict(conn.execute("select status, count(*) from public.outbox where workspace_id = %s group by 1",
                                   [ws]).fetchall())
        members = dict(conn.execute("select status, count(*) from public.campaign_members where campaign_id = %s"
                                    " group by 1", [campaign]).fetchall())
    print(f"sent {sent:,} emails in {elapsed:.1f} s with {args.workers} worker(s) of {args.connections} "
          f"connection(s), batches of {args.batch}: "
          f"{rate:,.0f} messages/s (goal >= {GOAL_PER_S:.0f}/s)")
    print(f"CPU: worker process {cpu:.1f} s ({cpu / max(sent, 1) * 1000:.2f} ms a message), SMTP server process "
          f"{received['cpu_s']:.1f} s ({received['cpu_s'] / max(sent, 1) * 1000:.2f} ms a message)")
    print(f"server received {received['received']:,} messages, {received['distinct_message_ids']:,} distinct "
          f"Message-IDs; outbox {outbox}; campaign members {members}")
    ok = (rate >= GOAL_PER_S and sent == args.messages == received["received"] == received["distinct_message_ids"]
          and outbox == {"sent": args.messages} and members == {"sent": args.messages})
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
