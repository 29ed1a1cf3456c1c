"""Real-browser harness: the app under `streamlit run` in a subprocess, driven by Debian's chromium.

The subprocess inherits this test run's environment, so it joins the embedded Postgres that
tests/conftest.py started (same `RELATA_DATA_DIR`): users made with the `factory` fixture can
sign in through the browser.

Browser tests never skip: when Playwright or chromium is missing they FAIL and say what to
install, so a CI run cannot go green without having driven a browser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, free_port, tail

try:
    from playwright.sync_api import sync_playwright
except ImportError as exc:  # reported by the fixtures as a failure, never a skip
    sync_playwright = None
    _PLAYWRIGHT_IMPORT_ERROR: ImportError | None = exc
else:
    _PLAYWRIGHT_IMPORT_ERROR = None

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
START_TIMEOUT_S = 60
TIMEOUT_MS = 20_000  # for expect(...): a Streamlit rerun on a busy 2-core CI machine can be slow



def wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll /_stcore/health until it answers "ok"; fail with the server log if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with code {proc.returncode} before answering:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit did not answer on {base_url} within {timeout_s:.0f} s:\n{tail(log_path)}")


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM (Streamlit shuts down cleanly and releases the database), then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)



@pytest.fixture(scope="session")
def app_url(runtime, tmp_path_factory) -> str:
    """Base URL of `streamlit run app.py` serving the test database (started by `runtime`)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, proc, log_path)
        yield base_url
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def browser():
    if _PLAYWRIGHT_IMPORT_ERROR is not None:
        pytest.fail(
            f"Browser tests need the Playwright Python package ({_PLAYWRIGHT_IMPORT_ERROR}). "
            "Install it with `pip install -r requirements-dev.txt`.",
            pytrace=False,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Browser tests need chromium at {CHROMIUM} (Debian: `apt-get install chromium`; "
            "or point RELATA_CHROMIUM at another chromium binary).",
            pytrace=False,
        )
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure is a test failure with its cause
            pytest.fail(f"Could not launch chromium at {CHROMIUM}: {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (rep_setup, rep_call, rep_teardown) for the fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) per test; a screenshot in test-artifacts/ on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the test failure
                print(f"could not save a screenshot: {exc}")
        context.close()
