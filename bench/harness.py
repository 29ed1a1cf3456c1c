"""What every database benchmark starts with: a throwaway embedded Postgres in its own data
folder (no developer's DATABASE_URL or Supabase settings), and the people the queries run as,
signed up through the app's own paths: an owner and an agent of workspace A, an owner of B."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "correct horse 42"
_FOREIGN_SETTINGS = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_DB_URL")


def isolate(prefix: str, keep: bool = False, data_dir: Path | None = None) -> Path:
    """Point the app at a data folder of its own (a new temp folder unless given), removed at exit
    unless `keep`. Call before anything reads the settings."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix=prefix))
    if not keep:
        atexit.register(shutil.rmtree, data_dir, True)  # registered first: runs after the server stopped
    for key in _FOREIGN_SETTINGS:
        os.environ.pop(key, None)
    os.environ["RELATA_DATA_DIR"] = str(data_dir)
    return data_dir


@dataclass
class People:
    runtime: object
    auth: object
    owner: object  # SignedIn: owner of workspace A
    agent: object  # AuthUser: agent in workspace A, whom the timed calls run as
    other: object | None  # SignedIn: owner of workspace B (None without a second workspace)

    @property
    def ws(self) -> str:
        return self.owner.workspace_id

    @property
    def ws_b(self) -> str | None:
        return self.other.workspace_id if self.other else None


def open_with_people(second_workspace: bool = True) -> People:
    """Start the database of `isolate()`'s folder and sign up the benchmark's people."""
    from lib import workspaces
    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService
    from lib.config import load_settings
    from lib.runtime import open_runtime

    runtime = open_runtime(load_settings(secrets={}))
    auth = AuthService(runtime.db, LocalAuth(runtime.db))
    owner = auth.sign_up("owner-a@example.com", PASSWORD, "Owner A", "Workspace A")
    token = workspaces.invite(runtime.db, owner.user.claims, owner.workspace_id, "agent")
    agent = auth.sign_up("agent-a@example.com", PASSWORD, "Agent A", invite_token=token).user
    other = auth.sign_up("owner-b@example.com", PASSWORD, "Owner B", "Workspace B") if second_workspace else None
    return People(runtime, auth, owner, agent, other)


def timed(fn, runs: int):
    """(last result, median ms, first-run ms) of `runs` calls of `fn`."""
    import statistics
    import time

    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times), times[0]
