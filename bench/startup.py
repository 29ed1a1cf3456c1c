"""Startup benchmark: how long until `streamlit run app.py` shows the sign-in page.

    python bench/startup.py [--runs N]

Each run measures, from the moment the `streamlit run` process is launched:

- cold: an EMPTY, fresh data folder (RELATA_DATA_DIR=<new temp dir>; DATABASE_URL and
  SUPABASE_* removed from the environment), so the first page run creates the cluster
  (initdb), starts Postgres and applies every migration;
- warm: that streamlit is stopped (which stops its embedded Postgres; the data stays) and
  started again on the same folder.

"Answers" means the app script really ran: chromium (driven by Playwright) loads the page and
waits for the "Sign in" button. The time until /_stcore/health answers (the HTTP server is up,
no script has run yet) is reported as a secondary figure, and so is the page's load event (the
frontend bundle is in; the first script run, which starts the database, follows). Chromium is launched before the clock
starts, and each measurement uses a fresh browser context.

Goals (issue): cold <= 10 s, warm <= 4 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, free_port, tail  # noqa: E402

GOALS = {"cold": 10.0, "warm": 4.0}
TIMEOUT_S = 120

_procs: list[subprocess.Popen] = []
_data_dirs: list[Path] = []



def clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SUPABASE_")}
    env["RELATA_DATA_DIR"] = str(data_dir)
    return env



def start_streamlit(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(data_dir), stdout=log, stderr=subprocess.STDOUT)
    _procs.append(proc)
    return proc


def stop_streamlit(proc: subprocess.Popen) -> None:
    """SIGTERM: Streamlit exits cleanly, and its atexit hook stops the embedded Postgres."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc in _procs:
        _procs.remove(proc)


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def wait_db_stopped(data_dir: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while postmaster_pid(data_dir) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Postgres in {data_dir} still running {timeout_s:.0f} s after streamlit stopped")
        time.sleep(0.1)


def kill_postgres(data_dir: Path) -> None:
    """Last resort (streamlit died without its atexit hook): fast shutdown of a leftover server."""
    pid = postmaster_pid(data_dir)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGINT)  # Postgres "fast" shutdown
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def measure(browser: Browser, data_dir: Path, log_path: Path) -> tuple[float, float, float, subprocess.Popen]:
    """Seconds to /_stcore/health, to the page's load event (the frontend bundle, before any script
    run) and to the rendered sign-in page; and the running process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = start_streamlit(data_dir, port, log_path)
    deadline = t0 + TIMEOUT_S

    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{tail(log_path)}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no health answer within {TIMEOUT_S} s:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    t_health = time.perf_counter() - t0

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base, timeout=TIMEOUT_S * 1000)
        t_loaded = time.perf_counter() - t0
        remaining_ms = max(1000, (deadline - time.perf_counter()) * 1000)
        page.get_by_role("button", name="Sign in", exact=True).wait_for(state="visible", timeout=remaining_ms)
        t_ready = time.perf_counter() - t0
    except Exception as exc:
        raise RuntimeError(f"sign-in page did not render: {exc}\n{tail(log_path)}") from exc
    finally:
        context.close()
    return t_health, t_loaded, t_ready, proc


def summary(values: list[float]) -> str:
    return f"min {min(values):5.2f} s   median {statistics.median(values):5.2f} s   max {max(values):5.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="cold and warm measurements each (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders and logs")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the clean-up below still stops every streamlit and Postgres.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored

    work = Path(tempfile.mkdtemp(prefix="relata-bench-"))
    results: dict[str, dict[str, list[float]]] = {
        kind: {"health": [], "loaded": [], "ready": []} for kind in ("cold", "warm")
    }
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                for run in range(1, args.runs + 1):
                    data_dir = work / f"data-{run}"  # does not exist yet: empty and fresh
                    _data_dirs.append(data_dir)
                    for kind in ("cold", "warm"):
                        log_path = work / f"streamlit-{run}-{kind}.log"
                        health, loaded, ready, proc = measure(browser, data_dir, log_path)
                        stop_streamlit(proc)
                        wait_db_stopped(data_dir)
                        results[kind]["health"].append(health)
                        results[kind]["loaded"].append(loaded)
                        results[kind]["ready"].append(ready)
                        print(
                            f"run {run} {kind}: sign-in page {ready:5.2f} s"
                            f"   (health {health:5.2f} s, page loaded {loaded:5.2f} s)",
                            flush=True,
                        )
            finally:
                browser.close()
    finally:
        for proc in list(_procs):
            stop_streamlit(proc)
        for data_dir in _data_dirs:
            kill_postgres(data_dir)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    ok = True
    for kind in ("cold", "warm"):
        ready = results[kind]["ready"]
        met = statistics.median(ready) <= GOALS[kind]
        ok &= met
        print(f"{kind:4}  sign-in page: {summary(ready)}   goal <= {GOALS[kind]:.0f} s: {'met' if met else 'MISSED'}")
        print(f"      health:       {summary(results[kind]['health'])}")
        print(f"      page loaded:  {summary(results[kind]['loaded'])}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
