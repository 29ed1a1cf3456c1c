"""Import benchmark: 100,000 contacts through the importer vs raw COPY vs row-by-row INSERT.

    python bench/customers_import.py [--rows N] [--file PATH] [--insert-rows N] [--runs N] [--keep]

Works on a throwaway embedded Postgres (RELATA_DATA_DIR = a new temp folder; DATABASE_URL and
SUPABASE_* ignored), so it never touches a real database. It signs up one owner, generates (or
takes with --file) a CSV of `--rows` contacts (default 100,000: names with accents, unique
emails, phones in E.164, country codes, stages, sources, job titles: values a raw COPY accepts
as they are), then measures, each in a fresh workspace:

(a) importer: `lib.importer.run_import` as the signed-in owner (read, clean, COPY into staging,
    checks in SQL, one INSERT … SELECT under row-level security), columns guessed;
(b) raw COPY: the same file (the workspace id put in front of each line) straight into
    public.contacts as the table owner (superuser connection: no RLS, no checks);
(c) row-by-row INSERT: one parameterised INSERT per row as the user, in one transaction, for
    `--insert-rows` rows (default 10,000), extrapolated linearly to `--rows`;
(d) Python memory while importing files of 1/4, 1/2 and all the rows: tracemalloc peak (what
    the importer allocates beyond the uploaded bytes) and the growth of the process's peak RSS.

Every trigger (audit, stage stamps, custom field check) and index stays on in all three, as in
production. Goals (issue 4): importer <= 2 x raw COPY; memory flat (not proportional to rows).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import random
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import PASSWORD, isolate  # noqa: E402

EMAIL = "bench-import@example.com"
RATIO_GOAL = 2.0
HEADERS = ["First name", "Last name", "Email", "Phone", "Job title", "City", "Country", "Stage", "Source"]
COPY_COLUMNS = ["first_name", "last_name", "email", "phone", "title", "city", "country", "stage", "source"]

FIRST = ("Oliver Amelia George Isla Harry Emily Jack Sophie Lukas Anna Jonas Lea Jürgen Björn Käthe Léa Chloé Zoé "
         "Hugo Raphaël Élodie François Hélène Jérôme Anaïs Daan Sem Lotte Bram Lucía Sofía María Álvaro José").split()
LAST = ("Smith Jones Taylor Brown Williams Wilson Evans Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker "
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau García Fernández González Rodríguez "
        "López Rossi Russo Ferrari Esposito Bianchi Jansen de Vries van den Berg Bakker Visser").split()
TITLES = ["Owner", "Buyer", "CEO", "Office manager", "Head of sales", "Accountant", "", "", ""]
PLACES = [("FR", "+336", 8, ["Paris", "Lyon", "Lille", "Nantes"]), ("DE", "+4930", 7, ["Berlin", "Köln", "München"]),
          ("GB", "+447700", 6, ["London", "Leeds", "Bristol"]), ("ES", "+346", 8, ["Madrid", "Sevilla", "Bilbao"]),
          ("US", "+1415", 7, ["San Francisco", "Oakland"]), ("NL", "+316", 8, ["Amsterdam", "Utrecht"])]
STAGES = ["lead", "lead", "prospect", "customer", "customer", "churned"]
SOURCES = ["web", "fair", "referral", "newsletter", ""]


def generate(path: Path, rows: int, seed: int = 4) -> None:
    """A reproducible CSV of `rows` contacts whose values need no conversion for a raw COPY."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(rows):
            country, prefix, digits, cities = rng.choice(PLACES)
            phone = prefix + "".join(rng.choice("0123456789") for _ in range(digits)) if rng.random() < 0.8 else ""
            writer.writerow([rng.choice(FIRST), rng.choice(LAST), f"c{i:07d}.{rng.randrange(10**6):06d}@example.com",
                             phone, rng.choice(TITLES), rng.choice(cities), country, rng.choice(STAGES),
                             rng.choice(SOURCES)])


def first_rows(data: bytes, rows: int) -> bytes:
    """The header and the first `rows` lines (the generated file has one row per line)."""
    end = -1
    for _ in range(rows + 1):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


# -- the three ways in ------------------------------------------------------------------------------

def via_importer(ctx, data: bytes, rows: int) -> tuple[float, dict[str, float]]:
    """Seconds for run_import, and the seconds spent in each of its stages."""
    from lib import importer
    from lib.customers import CONTACT

    ws = ctx.new_workspace()
    table = importer.read_table(data, "contacts.csv")
    mapping = importer.guess_mapping(table.headers, CONTACT)
    marks: list[tuple[float, str]] = []

    def progress(_fraction: float, message: str) -> None:
        stage = message.split(":")[0].split(" ")[0]
        if not marks or marks[-1][1] != stage:
            marks.append((time.perf_counter(), stage))

    start = time.perf_counter()
    result = importer.run_import(ctx.db, ctx.claims, ws, CONTACT, data, "contacts.csv", mapping, progress=progress)
    elapsed = time.perf_counter() - start
    assert result.written and result.inserted == rows, (result.inserted, result.rejected[:3])
    marks.append((start + elapsed, "end"))
    stages = {}
    for (t0, name), (t1, _) in zip(marks, marks[1:]):
        stages[name] = stages.get(name, 0.0) + t1 - t0
    return elapsed, stages


def via_copy(ctx, data: bytes, rows: int) -> float:
    """Seconds for COPY of the same file into public.contacts as the table owner."""
    import psycopg

    ws = ctx.new_workspace()
    prefix = ws.encode() + b","
    body = data[data.index(b"\n") + 1:]
    statement = f"copy public.contacts (workspace_id, {', '.join(COPY_COLUMNS)}) from stdin (format csv)"
    with psycopg.connect(ctx.admin_conninfo) as conn:
        start = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            position = 0
            while position < len(body):  # blocks of about 1 MiB, cut at line ends
                end = body.find(b"\n", position + (1 << 20))
                end = len(body) if end < 0 else end + 1
                copy.write(b"".join(prefix + line for line in body[position:end].splitlines(keepends=True)))
                position = end
        conn.commit()
        elapsed = time.perf_counter() - start
        count = conn.execute("select count(*) from public.contacts where workspace_id = %s", [ws]).fetchone()[0]
    assert count == rows, count
    return elapsed


def via_inserts(ctx, data: bytes, rows: int) -> float:
    """Seconds for one INSERT per row as the user (one transaction), for `rows` rows."""
    ws = ctx.new_workspace()
    reader = csv.reader(io.StringIO(first_rows(data, rows).decode("utf-8")))
    next(reader)
    statement = (f"insert into public.contacts (workspace_id, {', '.join(COPY_COLUMNS)})"
                 f" values (%s, {', '.join(['%s'] * len(COPY_COLUMNS))})")
    start = time.perf_counter()
    with ctx.db.as_user(ctx.claims) as conn:
        for values in reader:
            conn.execute(statement, [ws, *[v or None for v in values]])
    return time.perf_counter() - start


# -- memory ---------------------------------------------------------------------------------------

def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Linux: make VmHWM start again from the current RSS (writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory(ctx, data: bytes, rows: int) -> dict[str, float]:
    """MiB, measured in this (fresh) process: the file, the growth of peak RSS during run_import
    over the RSS with the runtime started and the file read, then the tracemalloc peak of a
    second import (what the importer itself allocates; the uploaded bytes are not counted)."""
    from lib import importer
    from lib.customers import CONTACT

    mapping = importer.guess_mapping(importer.read_table(data, "c.csv").headers, CONTACT)
    ws = ctx.new_workspace()
    rss_ok = _reset_peak_rss()
    rss_before = _status_kib("VmRSS")
    result = importer.run_import(ctx.db, ctx.claims, ws, CONTACT, data, "c.csv", mapping)
    hwm = _status_kib("VmHWM")
    assert result.inserted == rows
    ws = ctx.new_workspace()
    tracemalloc.start()
    try:
        result = importer.run_import(ctx.db, ctx.claims, ws, CONTACT, data, "c.csv", mapping)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.inserted == rows
    return {"rows": rows, "file": len(data) / 2**20, "traced_peak": peak / 2**20,
            "rss_growth": (hwm - rss_before) / 1024 if rss_ok and hwm and rss_before else float("nan")}


def memory_in_child(path: Path, rows: int) -> dict[str, float]:
    """`memory` in a new Python process (which joins the running embedded Postgres), so memory
    freed by earlier measurements does not hide what the importer needs."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--memory-child", str(rows), "--file", str(path)],
                         check=True, capture_output=True, text=True, env=os.environ.copy()).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- setup and report -----------------------------------------------------------------------------

class Context:
    def __init__(self, runtime, auth, sign_up: bool = True):
        from lib import workspaces

        self.runtime, self.db, self.admin_conninfo = runtime, runtime.db, runtime.admin_conninfo
        if sign_up:
            self.claims = auth.sign_up(EMAIL, PASSWORD, "Bench Owner", "Import bench 0").user.claims
        else:
            self.claims = auth.sign_in(EMAIL, PASSWORD).user.claims
        self._workspaces = workspaces
        self._count = 0

    def new_workspace(self) -> str:
        self._count += 1
        return self._workspaces.create_workspace(self.db, self.claims, f"Import bench {self._count}")


def machine(admin_conninfo: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(admin_conninfo) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    ram = "?"
    cpu = platform.processor() or "?"
    try:
        kib = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        ram = f"{kib / 2**20:.1f} GiB"
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                    if l.startswith("model name")), cpu)
    except (OSError, StopIteration):
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram, "postgres": version,
            "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="contacts in the generated file (default 100,000)")
    parser.add_argument("--file", type=Path, help="use this CSV (the generated columns) instead of generating one")
    parser.add_argument("--insert-rows", type=int, default=10_000, help="rows for the row-by-row INSERT (default 10,000)")
    parser.add_argument("--runs", type=int, default=1, help="timing runs of importer and COPY, alternating (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        return _memory_child(args.file, args.memory_child)

    data_dir = isolate("relata-bench-import-", keep=args.keep)
    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService
    from lib.config import load_settings
    from lib.runtime import open_runtime

    runtime = open_runtime(load_settings(secrets={}))
    ctx = Context(runtime, AuthService(runtime.db, LocalAuth(runtime.db)))
    path = args.file
    if path is None:
        path = data_dir / f"contacts-{args.rows}.csv"
        generate(path, args.rows)
    data = path.read_bytes()
    rows = data.count(b"\n") - 1
    print(f"file: {path.name}, {rows:,} rows, {len(data) / 2**20:.1f} MiB", flush=True)

    importer_times, copy_times, stages = [], [], {}
    for run in range(args.runs):
        copy_times.append(via_copy(ctx, data, rows))
        print(f"run {run + 1}: raw COPY {copy_times[-1]:.2f} s", flush=True)
        elapsed, stages = via_importer(ctx, data, rows)
        importer_times.append(elapsed)
        print(f"run {run + 1}: importer {elapsed:.2f} s  ({', '.join(f'{k} {v:.2f} s' for k, v in stages.items())})",
              flush=True)
    insert_rows = min(args.insert_rows, rows)
    insert_s = via_inserts(ctx, data, insert_rows)
    insert_total = insert_s * rows / insert_rows
    print(f"row-by-row INSERT: {insert_rows:,} rows in {insert_s:.2f} s -> {insert_total:.1f} s for {rows:,}", flush=True)
    mem = []
    for n in sorted({max(rows // 4, 1), max(rows // 2, 1), rows}):
        part = data_dir / f"first-{n}.csv"
        part.write_bytes(first_rows(data, n))
        mem.append(memory_in_child(part, n))
        print(f"memory, {n:,} rows: {mem[-1]}", flush=True)

    best_import, best_copy = min(importer_times), min(copy_times)
    ratio = best_import / best_copy
    info = machine(ctx.admin_conninfo)
    print()
    print(f"machine: nproc {info['nproc']}, {info['cpu']}, {info['ram']} RAM, Postgres {info['postgres']}, "
          f"Python {info['python']}")
    print(f"data: {rows:,} contacts, {len(data) / 2**20:.1f} MiB CSV; best of {args.runs} run(s)")
    print()
    print("| method | time | rows/s | vs raw COPY |")
    print("|---|---|---|---|")
    print(f"| raw COPY into public.contacts (table owner) | {best_copy:.2f} s | {rows / best_copy:,.0f} | 1.00× |")
    print(f"| importer `run_import` (as the user, RLS) | {best_import:.2f} s | {rows / best_import:,.0f} | {ratio:.2f}× |")
    print(f"| row-by-row INSERT (as the user; {insert_rows:,} rows measured, extrapolated) | {insert_total:.1f} s "
          f"| {rows / insert_total:,.0f} | {insert_total / best_copy:.1f}× |")
    print()
    print("importer stages (last run): " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    print()
    print("| rows | file | tracemalloc peak | peak RSS growth |")
    print("|---|---|---|---|")
    for m in mem:
        print(f"| {m['rows']:,} | {m['file']:.1f} MiB | {m['traced_peak']:.1f} MiB | {m['rss_growth']:.1f} MiB |")
    met = ratio <= RATIO_GOAL
    print()
    print(f"goal importer <= {RATIO_GOAL}x raw COPY: {'met' if met else 'MISSED'} ({ratio:.2f}x)")
    return 0 if met else 1


def _memory_child(path: Path, rows: int) -> int:
    """Run `memory` in this process (started by `memory_in_child`, same data folder) and print JSON."""
    import json

    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService
    from lib.config import load_settings
    from lib.runtime import open_runtime

    runtime = open_runtime(load_settings(secrets={}))
    ctx = Context(runtime, AuthService(runtime.db, LocalAuth(runtime.db)), sign_up=False)
    data = path.read_bytes()
    print(json.dumps(memory(ctx, data, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
