"""Email delivery: the outbox worker.

    python -m lib.mailer [--once] [--batch N] [--rate-per-minute N] [--connections N] [--poll SECONDS]

or, inside the app, `start_background(db, settings)` (one daemon thread per process). Settings:
`SMTP_URL`, `RELATA_MAIL_FROM`, `RELATA_MAIL_RATE_PER_MINUTE`, `RELATA_PUBLIC_URL` (lib/config.py).
Rows come already rendered (subject, body_text, body_html): the campaigns code writes them.

How a row travels, all as service_role (the worker is nobody's request):

1. **Claim**, one short committed transaction: up to N due rows (queued with send_after passed,
   or 'sending' whose claim is older than the lease) become 'sending' with claimed_at, claimed_by
   and attempts + 1, picked with `FOR UPDATE SKIP LOCKED`, so two workers never claim one row.
2. **Send** each over the worker's SMTP connection (kept open across batches; with `connections`
   > 1, that many threads each claim and send their own batches), with the row's stable
   Message-ID, a List-Unsubscribe header and link signed for the contact (lib/unsubscribe.py), and
   its http(s) links tracked (lib/email_clicks.py). A row whose contact has withdrawn consent
   since it was queued is not sent ('failed', member 'excluded').
3. **Record** right after the server accepted the message, in its own transaction: 'sent' and
   sent_at (and the campaign member 'sent'). A 4xx answer or a lost connection puts the row back
   to 'queued' after a backoff (1, 5, 25, 125 minutes… by attempts) with last_error; a 5xx answer,
   or the last allowed attempt, makes it 'failed' (member 'failed'). When the server cannot be
   reached at all (or refuses the login), the batch goes back with the error and no attempt
   counted, and is tried again a minute later: an outage delays emails, it does not fail them.

Never twice: a row is sent only by the worker holding its claim. A worker killed between the
server's "250 OK" and step 3 leaves a row in 'sending' that is claimed again once the lease
(10 minutes) runs out and sent a second time: that is the one window for a duplicate, and the
copy carries the same Message-ID, so mail systems that deduplicate by Message-ID show it once.
The window is as short as one commit (about a millisecond or two), and it only opens if the
process dies (kill -9, power loss) in it: Ctrl-C or SIGTERM to the command, and a normal exit of
the app (the background thread is stopped at exit), let the message in flight be recorded.
A worker killed at any other point loses nothing: unsent claimed rows are retried after the lease.
A live worker never outlives its lease: it claims no more rows than it can send within half the
lease at its rate limit, and gives back (status 'queued', attempt not counted) what it has not
sent when 90 % of the lease has passed or it is asked to stop.

The rate limit (messages per minute) spaces sends evenly across one worker's connections;
several workers (processes, app servers) each apply their own. The app's background thread and
`python -m lib.mailer` may run side by side: SKIP LOCKED keeps them off each other's rows.
"""

from __future__ import annotations

import argparse
import atexit
import binascii
import copy
import html
import logging
import os
import signal
import smtplib
import socket
import ssl
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from lib import email_clicks, unsubscribe
from lib.config import ConfigError, Settings, load_settings
from lib.db import Database

log = logging.getLogger("relata.mailer")

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CONNECTIONS = 4  # of the command and the background worker (a Worker made directly has one)
BACKOFF_MINUTES = (1, 5, 25, 125, 625)
UNREACHABLE_DELAY = timedelta(minutes=1)
DEFAULT_PUBLIC_URL = "http://localhost:8501"
# A body may hold this where the contact's unsubscribe link goes; a body with no unsubscribe link
# at all gets a footer with it.
UNSUBSCRIBE_URL_MARK = "%%unsubscribe_url%%"
MAX_ERROR = 2000


@lru_cache(maxsize=1)
def _settings_domain() -> str:
    try:
        return message_id_domain(load_settings().mail_from)
    except ConfigError:
        return "relata.local"


def message_id_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "relata.local"


def new_message_id(workspace_id: str, domain: str | None = None) -> str:
    """A new, globally unique Message-ID for an outbox row: `<random hex.workspace prefix@domain>`.

    The domain is RELATA_MAIL_FROM's. Set-based SQL may build the same shape:
    `'<' || replace(gen_random_uuid()::text, '-', '') || '.' || left(replace(ws::text, '-', ''), 12) || '@' || domain || '>'`.
    """
    return f"<{uuid.uuid4().hex}.{uuid.UUID(str(workspace_id)).hex[:12]}@{domain or _settings_domain()}>"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "none"  # 'none', 'starttls' (required, not opportunistic) or 'ssl'
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """`smtp://[user:pass@]host[:port][?starttls=1&timeout=30]` or `smtps://…` (TLS from the start)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("SMTP_URL must look like smtp://user:password@host:587?starttls=1 or "
                              "smtps://user:password@host:465.")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port or (465 if scheme == "smtps" else 25)
            timeout = float(query.get("timeout", 30))
        except ValueError:
            raise ConfigError("SMTP_URL has a port or timeout that is not a number.") from None
        starttls = query.get("starttls", "0").lower() in ("1", "true", "yes")
        return cls(host=parts.hostname, port=port,
                   security="ssl" if scheme == "smtps" else "starttls" if starttls else "none",
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, timeout=timeout)

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                client.starttls(context=context)
        if self.username:
            client.login(self.username, self.password or "")
        return client


class Pacer:
    """At most `per_minute` sends a minute, evenly spaced (0 = no limit), shared by a worker's
    connections. Clock and sleep injectable; without a sleep of its own, a wait ends early when
    the worker is asked to stop."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event | None = None) -> None:
        if not self.interval:
            return
        with self._lock:  # reserve the next free slot
            now = self.clock()
            at = max(now, self.next_at if self.next_at is not None else now)
            self.next_at = at + self.interval
        if at > now:
            if self.sleep is not None:
                self.sleep(at - now)
            elif stop is not None:
                stop.wait(at - now)
            else:
                time.sleep(at - now)


@dataclass
class Result:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # no consent any more
    released: int = 0  # given back unsent (lease nearly over, or asked to stop)
    unreachable: bool = False
    errors: list[str] = field(default_factory=list)

    def add(self, other: Result) -> None:
        for name in ("sent", "retried", "failed", "skipped", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.unreachable = self.unreachable or other.unreachable

    def summary(self) -> str:
        return (f"{self.sent:,} sent, {self.retried:,} to retry, {self.failed:,} failed, "
                f"{self.skipped:,} skipped (no consent), {self.released:,} given back")


class Transient(Exception):
    """Worth another attempt later (4xx, connection trouble)."""


class Unreachable(Transient):
    """No connection to the SMTP server: the rest of the batch waits too."""


class Permanent(Exception):
    """Will not succeed by retrying (5xx, a message that cannot be built)."""


CLAIM = """
update public.outbox o
   set status = 'sending', claimed_at = now(), claimed_by = %(me)s, attempts = o.attempts + 1
 where o.id in (select id from public.outbox
                 where ((status = 'queued' and send_after <= now())
                        or (status = 'sending' and claimed_at < now() - %(lease)s))
                   and (%(ws)s::uuid is null or workspace_id = %(ws)s::uuid)
                 order by send_after limit %(n)s
                 for update skip locked)
returning o.*, (select c.consent from public.contacts c where c.id = o.contact_id) as consent,
          (select w.name from public.workspaces w where w.id = o.workspace_id) as workspace_name
"""
MARK_SENT = """
with sent as (
  update public.outbox set status = 'sent', sent_at = now(), last_error = null
   where id = %(id)s and claimed_by = %(me)s and status = 'sending'
  returning campaign_id, contact_id, sent_at)
update public.campaign_members m set status = 'sent', sent_at = sent.sent_at
  from sent where m.campaign_id = sent.campaign_id and m.contact_id = sent.contact_id
   and m.status in ('targeted', 'failed')
"""
MARK_FAILED = """
with failed as (
  update public.outbox set status = 'failed', last_error = %(error)s, claimed_by = null
   where id = %(id)s and claimed_by = %(me)s and status = 'sending'
  returning campaign_id, contact_id)
update public.campaign_members m
   set status = %(member_status)s,
       excluded_reason = case when %(member_status)s = 'excluded' then %(error)s else m.excluded_reason end
  from failed where m.campaign_id = failed.campaign_id and m.contact_id = failed.contact_id
   and m.status = 'targeted'
"""
RETRY = """
update public.outbox set status = 'queued', send_after = now() + %(delay)s, last_error = %(error)s,
       claimed_by = null, claimed_at = null
 where id = %(id)s and claimed_by = %(me)s and status = 'sending'
"""
RELEASE = """
update public.outbox set status = 'queued', claimed_by = null, claimed_at = null, attempts = attempts - 1,
       send_after = greatest(send_after, now() + %(delay)s), last_error = coalesce(%(error)s, last_error)
 where id = any(%(ids)s) and claimed_by = %(me)s and status = 'sending'
"""


def default_backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1])


class Worker:
    """Claims due outbox rows and sends them; see the module docstring. One per thread."""

    def __init__(self, db: Database, smtp: SmtpConfig, *, mail_from: str = "no-reply@relata.local",
                 public_url: str | None = None, batch: int = 100, rate_per_minute: int = 0,
                 lease: timedelta = LEASE, max_attempts: int = MAX_ATTEMPTS,
                 backoff: Callable[[int], timedelta] = default_backoff, workspace_id: str | None = None,
                 connections: int = 1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 one_click: bool = False, name: str | None = None):
        self.db, self.smtp = db, smtp
        self.mail_from = mail_from
        self.from_name, self.from_address = parseaddr(mail_from)
        self.public_url = (public_url or DEFAULT_PUBLIC_URL).rstrip("/")
        self.lease, self.max_attempts, self.backoff = lease, max_attempts, backoff
        self.workspace_id = workspace_id  # only this workspace's rows (tests, a one-workspace run)
        self.clock = clock
        self.pacer = Pacer(rate_per_minute, clock, sleep)
        self.connections = max(1, connections)
        # No more than half a lease's worth of sending per claim at the rate limit (which the
        # connections share).
        fits = int(rate_per_minute * lease.total_seconds() / 60 / 2 / self.connections) if rate_per_minute else batch
        self.batch = max(1, min(batch, fits))
        self.one_click = one_click
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._client: smtplib.SMTP | None = None
        self._signer: unsubscribe.Signer | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, **options) -> Worker:
        if not settings.smtp_url:
            raise ConfigError("SMTP_URL is not set: set it to the SMTP server emails go through, "
                              "for example smtp://user:password@mail.example.com:587?starttls=1.")
        options.setdefault("rate_per_minute", settings.mail_rate_per_minute)
        options.setdefault("connections", CONNECTIONS)
        if not settings.public_url:
            log.warning("RELATA_PUBLIC_URL is not set: links in emails point at %s", DEFAULT_PUBLIC_URL)
        return cls(db, SmtpConfig.from_url(settings.smtp_url), mail_from=settings.mail_from,
                   public_url=settings.public_url, **options)

    # --- the database side ------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[dict]:
        """Claim up to `limit` due rows (committed before anything is sent)."""
        with self.db.as_service() as conn:
            rows = conn.execute(CLAIM, {"me": self.name, "lease": self.lease, "ws": self.workspace_id,
                                        "n": limit or self.batch}).fetchall()
        return sorted(rows, key=lambda r: (r["send_after"], r["created_at"]))

    def _write(self, statement: str, params: dict) -> None:
        with self.db.as_service() as conn:
            conn.execute(statement, {"me": self.name, **params})

    def mark_sent(self, row: dict) -> None:
        self._write(MARK_SENT, {"id": row["id"]})

    def mark_failed(self, row: dict, error: str, member_status: str = "failed") -> None:
        self._write(MARK_FAILED, {"id": row["id"], "error": error[:MAX_ERROR], "member_status": member_status})

    def retry_later(self, row: dict, error: str) -> None:
        self._write(RETRY, {"id": row["id"], "error": error[:MAX_ERROR], "delay": self.backoff(row["attempts"])})

    def release(self, rows: list[dict], delay: timedelta = timedelta(0), error: str | None = None) -> None:
        """Give claimed rows back unsent; their attempt does not count."""
        if rows:
            self._write(RELEASE, {"ids": [r["id"] for r in rows], "delay": delay,
                                  "error": error[:MAX_ERROR] if error else None})

    # --- the SMTP side ----------------------------------------------------------------------

    def signer(self) -> unsubscribe.Signer:
        if self._signer is None:
            self._signer = unsubscribe.signer(self.db)
        return self._signer

    def bodies(self, row: dict) -> tuple[str, str, str | None]:
        """(unsubscribe link, text, html) of a row: links tracked, the unsubscribe link in place."""
        signer = self.signer()
        if row["contact_id"]:
            unsub = unsubscribe.link(self.public_url, signer.token(row["workspace_id"], row["contact_id"]))
        else:  # a test send to oneself: no contact to unsubscribe
            unsub = unsubscribe.link(self.public_url, "test-send")

        def wrap(url: str) -> str:
            if "unsubscribe=" in urlsplit(url).query:  # the unsubscribe link stays as it is
                return url
            return email_clicks.tracked(signer, self.public_url, row["id"], url)

        # Templates place UNSUBSCRIBE_URL_MARK where the link goes (lib/templates.py renders it for
        # {{ unsubscribe_url }} or in a footer); a body without this contact's link after that (a
        # template that shows it only under a condition, say) gets it in a footer all the same.
        text = email_clicks.rewrite_text(row["body_text"], wrap).replace(UNSUBSCRIBE_URL_MARK, unsub)
        if unsub not in text:
            text = f"{text.rstrip()}\n\n--\nTo stop receiving these emails: {unsub}\n"
        body = None
        if row["body_html"]:
            body = email_clicks.rewrite_html(row["body_html"], wrap).replace(UNSUBSCRIBE_URL_MARK, html.escape(unsub))
            if html.escape(unsub) not in body:
                footer = (f'<p style="font-size:12px;color:#666">To stop receiving these emails, '
                          f'<a href="{html.escape(unsub)}">unsubscribe</a>.</p>')
                at = body.lower().rfind("</body>")
                body = body[:at] + footer + body[at:] if at >= 0 else body + footer
        return unsub, text, body

    def build(self, row: dict) -> bytes:
        """The message of an outbox row as it goes on the wire (MIME written directly: the email
        package's generator costs more than the whole SMTP exchange)."""
        unsub, text, body = self.bodies(row)
        headers = [
            ("From", formataddr((self.from_name or row.get("workspace_name") or "", self.from_address),
                                charset="utf-8")),
            ("To", row["to_email"]),
            ("Subject", row["subject"].replace(UNSUBSCRIBE_URL_MARK, unsub)),  # saved before subjects refused it
            ("Date", format_datetime(row["claimed_at"])),
            ("Message-ID", row["message_id"]),
        ]
        if row["contact_id"]:
            headers.append(("List-Unsubscribe", f"<{unsub}>"))
            if self.one_click:
                headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        headers.append(("MIME-Version", "1.0"))
        lines = [_header(k, v) for k, v in headers]
        if body is None:
            lines += [*_part_headers("plain"), "", _qp(text)]
        else:
            boundary = f"=_relata_{uuid.uuid4().hex}"  # "=_" never occurs in quoted-printable text
            lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', "",
                      f"--{boundary}", *_part_headers("plain"), "", _qp(text),
                      f"--{boundary}", *_part_headers("html"), "", _qp(body),
                      f"--{boundary}--"]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    def _smtp(self) -> smtplib.SMTP:
        if self._client is None:
            try:
                self._client = self.smtp.connect()
            except (OSError, smtplib.SMTPException) as exc:
                raise Unreachable(f"Cannot reach the SMTP server {self.smtp.host}:{self.smtp.port}: {exc}") from exc
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def deliver(self, row: dict) -> None:
        """Hand one row's message to the SMTP server; Transient or Permanent when it is refused."""
        try:
            data = self.build(row)
        except (ValueError, TypeError) as exc:
            raise Permanent(f"The message cannot be built: {exc}") from exc
        options = [] if data.isascii() and row["to_email"].isascii() else ["SMTPUTF8"]
        client = self._smtp()
        try:
            client.sendmail(self.from_address, [row["to_email"]], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b"refused"))
            raise (Permanent if code >= 500 else Transient)(_smtp_text(code, text)) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code < 400 or exc.smtp_code == 421:  # the server is going away
                self.close()
            raise (Permanent if exc.smtp_code >= 500 else Transient)(
                _smtp_text(exc.smtp_code, exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Transient(f"The connection to the SMTP server failed: {exc or type(exc).__name__}") from exc

    # --- the loop -----------------------------------------------------------------------------

    def process(self, rows: list[dict], stop: threading.Event | None = None) -> Result:
        """Send claimed rows one by one, recording each outcome right away."""
        result = Result()
        claimed_at = self.clock()
        for i, row in enumerate(rows):
            if row["attempts"] > self.max_attempts:  # a crashed claim retried too often
                self.mark_failed(row, f"Gave up after {self.max_attempts} attempts.")
                result.failed += 1
                continue
            if row["contact_id"] and not row["consent"]:
                self.mark_failed(row, "No consent to email this contact any more.", "excluded")
                result.skipped += 1
                continue
            if row["campaign_id"] and not row["contact_id"]:
                self.mark_failed(row, "The contact was deleted.", "excluded")
                result.skipped += 1
                continue
            self.pacer.wait(stop)
            if (stop is not None and stop.is_set()) or \
                    self.clock() - claimed_at > 0.9 * self.lease.total_seconds():
                self.release(rows[i:])
                result.released += len(rows) - i
                break
            try:
                self.deliver(row)
            except Permanent as exc:
                self.mark_failed(row, str(exc))
                result.failed += 1
                result.errors.append(str(exc))
                continue
            except Unreachable as exc:  # nothing was sent: wait for the server, however long it takes
                result.errors.append(str(exc))
                self.release(rows[i:], UNREACHABLE_DELAY, str(exc))
                result.retried += len(rows) - i
                result.unreachable = True
                break
            except Transient as exc:
                result.errors.append(str(exc))
                if row["attempts"] >= self.max_attempts:
                    self.mark_failed(row, f"{exc} (gave up after {row['attempts']} attempts)")
                    result.failed += 1
                else:
                    self.retry_later(row, str(exc))
                    result.retried += 1
                continue
            self.mark_sent(row)
            result.sent += 1
        return result

    def run_once(self, stop: threading.Event | None = None) -> Result:
        """Send everything due now, then close the connection(s). With `connections` > 1, as many
        threads each claim and send their own batches over their own SMTP connection (a server
        answers in milliseconds, so one connection waits most of the time); they share the rate limit."""
        if self.connections == 1:
            return self._run_lane(stop)
        self.signer()  # loaded once, shared
        lanes = [self] + [copy.copy(self) for _ in range(self.connections - 1)]
        for lane in lanes[1:]:
            lane._client = None
        results: list[Result] = []
        threads = [threading.Thread(target=lambda lane=lane: results.append(lane._run_lane(stop)),
                                    name=f"relata-mailer-{i}", daemon=True) for i, lane in enumerate(lanes[1:], 1)]
        for thread in threads:
            thread.start()
        total = self._run_lane(stop)
        for thread in threads:
            thread.join()
        for result in results:
            total.add(result)
        return total

    def _run_lane(self, stop: threading.Event | None) -> Result:
        total = Result()
        try:
            while not (stop is not None and stop.is_set()):
                rows = self.claim()
                if not rows:
                    break
                result = self.process(rows, stop)
                total.add(result)
                if result.unreachable:
                    break  # leave the rest for the next round
        finally:
            self.close()
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 10.0) -> None:
        while not stop.is_set():
            try:
                result = self.run_once(stop)
                if result.sent or result.failed or result.retried:
                    log.info("mailer: %s", result.summary())
            except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
                log.exception("mailer: the run failed; trying again in %s s", poll_seconds)
            stop.wait(poll_seconds)


def _header(name: str, value: str) -> str:
    """One header line; non-ASCII or long values as folded RFC 2047 words. No line breaks inside."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"The {name} contains a line break.")
    if value.isascii() and len(name) + len(value) <= 900:
        return f"{name}: {value}"
    if name in ("To",):  # an internationalised address: sent as UTF-8 (SMTPUTF8)
        return f"{name}: {value}"
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _part_headers(subtype: str) -> list[str]:
    return [f'Content-Type: text/{subtype}; charset="utf-8"', "Content-Transfer-Encoding: quoted-printable"]


def _qp(text: str) -> str:
    """Quoted-printable UTF-8 with CRLF line ends (lines of at most 76 characters)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).decode("ascii").replace("\n", "\r\n")


def _smtp_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"SMTP {code}: {text}".strip()


_background: tuple[threading.Thread, threading.Event] | None = None
_background_lock = threading.Lock()
_exit_hook: list[bool] = []


def start_background(db: Database, settings: Settings, poll_seconds: float = 10.0,
                     **options) -> threading.Thread | None:
    """Start the worker in a daemon thread of this process, once (later calls return the same
    thread). Returns None when SMTP_URL is not set: then nothing is sent."""
    global _background
    if not settings.smtp_url:
        return None
    with _background_lock:
        if _background is not None and _background[0].is_alive():
            return _background[0]
        worker = Worker.from_settings(db, settings, **options)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run_forever, args=(stop, poll_seconds),
                                  name="relata-mailer", daemon=True)
        thread.start()
        if not _exit_hook:  # registered after the database's own hook, so it runs before it
            atexit.register(stop_background)
            _exit_hook.append(True)
        _background = (thread, stop)
        return thread


def stop_background(timeout: float = 30.0) -> None:
    """Stop the background worker (it gives back what it has claimed but not sent)."""
    global _background
    with _background_lock:
        if _background is None:
            return
        thread, stop = _background
        stop.set()
        thread.join(timeout)
        _background = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.mailer", description="Send the email outbox.")
    parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
    parser.add_argument("--batch", type=int, default=100, help="rows claimed at a time (default 100)")
    parser.add_argument("--rate-per-minute", type=int, default=None,
                        help="at most this many emails a minute (default RELATA_MAIL_RATE_PER_MINUTE; 0 = no limit)")
    parser.add_argument("--connections", type=int, default=CONNECTIONS,
                        help=f"SMTP connections used in parallel (default {CONNECTIONS})")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between looks at the outbox (default 10)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from lib.embedded_pg import StartupError
    from lib.runtime import open_runtime

    try:
        settings = load_settings()
        options = {"batch": args.batch, "connections": args.connections}
        if args.rate_per_minute is not None:
            options["rate_per_minute"] = args.rate_per_minute
        runtime = open_runtime(settings)
        worker = Worker.from_settings(runtime.db, settings, **options)
    except (ConfigError, StartupError) as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return 2
    if args.once:
        result = worker.run_once()
        print(f"mailer: {result.summary()}")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"mailer: sending as {worker.name} through {worker.smtp.host}:{worker.smtp.port}; Ctrl-C stops")
    worker.run_forever(stop, args.poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())
