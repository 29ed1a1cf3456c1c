"""Inbound email: turn .eml files, an mbox or a Maildir into tickets and customer replies.

    python -m lib.mail_in PATH --workspace WS --email USER_EMAIL

A new message opens a ticket (channel "email") for its sender: the contact with that email
address, or a new lead. A message whose subject carries a ticket number such as ``[T-1234]`` (or
whose In-Reply-To/References name a message already imported) is added to that ticket as a
public customer comment (without the quoted earlier messages below it) and reopens it if it was
solved; a closed ticket cannot reopen, so the message opens a new ticket that names the old number.
Automatic messages (out-of-office replies, delivery reports, bulk mail: RFC 3834's
Auto-Submitted and the usual Precedence / X-Autoreply headers) are counted and left out, so
they neither open tickets nor reopen solved ones. Attachments are stored after the same
size and type checks as uploads (``lib.tickets.check_attachment``); ones that fail are skipped
and listed in the result.

Each message is one transaction as the importing user, so a message is imported whole (contact,
ticket or comment, attachments) or not at all. Malformed messages (unreadable, empty, no sender
address) are rejected with a reason and the rest go on. The Message-ID (or, without one, a hash
of the message's bytes) is stored with the ticket or comment; a message seen before is counted
as a duplicate and changes nothing.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import email.utils
import hashlib
import mailbox
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable

import psycopg

from lib import tickets, workspaces
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.validation import clean_email

TICKET_TAG = re.compile(r"\[T-(\d{1,9})\]", re.IGNORECASE)
MAX_SUBJECT = 200
MAX_TEXT = 50000
MAX_MESSAGE_ID = 998
NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"
DUPLICATE_KEYS = ("tickets_message_id_key", "ticket_comments_message_id_key")

Source = tuple[str, Callable[[], bytes | Message]]


@dataclass
class Result:
    created: int = 0
    appended: int = 0
    duplicates: int = 0
    reopened: int = 0
    automatic: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    skipped_attachments: list[tuple[str, str, str]] = field(default_factory=list)  # (source, filename, reason)

    def summary(self) -> str:
        text = (f"{self.created:,} new tickets, {self.appended:,} replies added ({self.reopened:,} reopened), "
                f"{self.duplicates:,} already imported, {self.automatic:,} automatic replies left out, "
                f"{len(self.rejected):,} rejected")
        if self.skipped_attachments:
            text += f", {len(self.skipped_attachments):,} attachments skipped"
        return text + "."


@dataclass
class Parsed:
    """What a message contributes, read before any database work."""

    message_id: str
    sender: str
    first_name: str | None
    last_name: str | None
    subject: str
    body: str
    number: int | None
    references: list[str]
    attachments: list[tuple[str, str, bytes]]  # (filename, stored content type, data)
    skipped: list[tuple[str, str]]  # (filename, reason)


class Rejected(Exception):
    """The message is malformed; the reason is shown to the user."""


class Automatic(Exception):
    """An automatic message (out-of-office, delivery report, bulk mail): not for the desk."""


def is_automatic(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted") or "").strip().lower()
    precedence = str(msg.get("Precedence") or "").strip().lower()
    return ((auto and auto != "no") or precedence in ("auto_reply", "bulk", "junk")
            or any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response"))
            or msg.get_content_type() == "multipart/report")


# A reply's own words end where the quoted earlier messages begin.
_QUOTE_START = re.compile(
    r"^(?:On\b.{0,300}\bwrote:|Le\b.{0,300}\ba écrit\s?:|Am\b.{0,300}\bschrieb.{0,100}:"
    r"|-{2,}\s*Original Message\s*-{2,}|_{20,}|From:\s.+\n(?:Sent|Date):\s)",
    re.IGNORECASE | re.MULTILINE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: cut at "On … wrote:" (and its French/German forms), an Outlook
    "Original Message" or separator line, and drop trailing "> " lines; the whole text if that
    would leave nothing."""
    match = _QUOTE_START.search(text)
    head = text[:match.start()] if match else text
    lines = head.rstrip().split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip() or text.strip()


# ---------------------------------------------------------------- reading the sources

def sources(paths_or_messages: Iterable[object]) -> list[Source]:
    """(label, loader) for every message in the given paths, raw bytes or parsed messages."""
    found: list[Source] = []
    for n, item in enumerate(paths_or_messages, 1):
        if isinstance(item, (bytes, bytearray, Message)):
            found.append((f"message {n}", lambda item=item: item))
        else:
            found.extend(_path_sources(Path(item)))
    return found


def _path_sources(path: Path) -> list[Source]:
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            box = mailbox.Maildir(path, factory=None, create=False)
            return [(f"{path}/{key}", lambda key=key: box.get_bytes(key)) for key in sorted(box.keys())]
        return [s for child in sorted(path.iterdir()) if child.is_file() for s in _path_sources(child)]
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    with path.open("rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        box = mailbox.mbox(path, factory=None, create=False)
        return [(f"{path}#{n}", lambda key=key: box.get_bytes(key)) for n, key in enumerate(box.keys(), 1)]
    return [(str(path), path.read_bytes)]


# ---------------------------------------------------------------- reading one message

class _TextFromHtml(HTMLParser):
    """Plain text of an HTML body: tags dropped, blocks on their own lines, scripts and styles ignored."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # noqa: BLE001 (a broken document still gives its text without tags)
        text = unescape(re.sub(r"<[^>]*>", " ", html))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        text = payload.decode("utf-8", "replace")
    if not isinstance(text, str):
        return ""
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\x00", "").strip()


def _attachments(msg: EmailMessage) -> tuple[list[tuple[str, str, bytes]], list[tuple[str, str]]]:
    kept, skipped = [], []
    for n, part in enumerate(msg.iter_attachments(), 1):
        name = part.get_filename() or f"attachment-{n}"
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            skipped.append((name, "It could not be decoded."))
            continue
        try:
            kept.append((name, tickets.check_attachment(name, part.get_content_type(), data), data))
        except FormErrors as exc:
            skipped.append((name, "; ".join(exc.errors.values())))
    return kept, skipped


def _sender(msg: EmailMessage) -> tuple[str, str | None, str | None]:
    raw = msg.get("From")
    if raw is None:
        raise Rejected("The message has no From address.")
    addresses = email.utils.getaddresses([str(raw)])
    name, address = addresses[0] if addresses else ("", "")
    try:
        address = clean_email(address)
    except ValueError:
        raise Rejected(f"The From address {str(raw)[:100]!r} is not an email address.") from None
    words = " ".join(name.replace('"', " ").split()).split(" ", 1) if name and "@" not in name else []
    first = words[0][:100] if words else None
    last = words[1][:100] if len(words) > 1 else None
    return address, first, last


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    value = " ".join(str(msg.get("Message-ID") or "").split())
    if not value or len(value) > MAX_MESSAGE_ID:
        # Without a usable Message-ID the bytes identify the message, so a second import is still a no-op.
        value = f"<sha256-{hashlib.sha256(raw).hexdigest()}@relata.invalid>"
    return value


def _references(msg: EmailMessage) -> list[str]:
    text = " ".join(str(msg.get(h) or "") for h in ("In-Reply-To", "References"))
    return list(dict.fromkeys(re.findall(r"<[^<>\s]+>", text)))[-20:]


def parse(item: bytes | Message) -> Parsed:
    """Read one message; Rejected when it is malformed."""
    if isinstance(item, Message):
        raw = item.as_bytes(policy=email.policy.default.clone(linesep="\n"))
        msg = item if isinstance(item, EmailMessage) else email.message_from_bytes(raw, policy=email.policy.default)
    else:
        raw = bytes(item)
        if not raw.strip():
            raise Rejected("The message is empty.")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    if is_automatic(msg):
        raise Automatic()
    try:
        sender, first, last = _sender(msg)
        subject = " ".join(str(msg.get("Subject") or "").split())
        body = _body(msg)
        attachments, skipped = _attachments(msg)
        message_id = _message_id(msg, raw)
        references = _references(msg)
    except Rejected:
        raise
    except Exception as exc:  # noqa: BLE001 (any parser failure means the message cannot be read)
        raise Rejected(f"The message could not be read ({type(exc).__name__}: {str(exc)[:200]}).") from None
    if not subject and not body and not attachments:
        raise Rejected("The message has no subject, text or attachment.")
    tag = TICKET_TAG.search(subject)
    return Parsed(message_id, sender, first, last, subject, body, int(tag.group(1)) if tag else None,
                  references, attachments, skipped)


# ---------------------------------------------------------------- writing one message

# Contacts are matched by lower(email), which row-level security keeps from using an index (lower() is
# not leakproof), so the senders of a chunk of messages are looked up together in one scan.
CHUNK = 500
SENDERS = (
    "select lower(email) as email, id, company_id from public.contacts"
    " where workspace_id = %s and email is not null and lower(email) = any(%s)"
)
LOOKUP = """
select d.found as duplicate, t.id as ticket_id, t.number, t.status
  from (select 1) one
  left join lateral (
    select true as found from public.tickets where workspace_id = %(ws)s and message_id = %(mid)s
    union all
    select true from public.ticket_comments where workspace_id = %(ws)s and message_id = %(mid)s
    limit 1) d on true
  left join lateral (
    select x.id, x.number, x.status from (
      select id, number, status, 0 as rank from public.tickets where workspace_id = %(ws)s and number = %(number)s
      union all
      select id, number, status, 1 from public.tickets where workspace_id = %(ws)s and message_id = any(%(refs)s)
      union all
      select t.id, t.number, t.status, 1 from public.ticket_comments c join public.tickets t on t.id = c.ticket_id
       where c.workspace_id = %(ws)s and c.message_id = any(%(refs)s)) x
     order by x.rank limit 1) t on true
"""
# A new sender becomes a lead; one created meanwhile by someone else is found instead.
NEW_LEAD = (
    "insert into public.contacts (workspace_id, first_name, last_name, email, stage, source)"
    " values (%s, %s, %s, %s, 'lead', 'Email')"
    " on conflict (workspace_id, lower(email)) where email is not null do nothing returning id, company_id"
)
NEW_TICKET = (
    "insert into public.tickets (workspace_id, subject, description, channel, contact_id, company_id, message_id)"
    " values (%s, %s, %s, 'email', %s, %s, %s) returning id"
)
# The customer's comment; a trigger reopens the ticket if it was solved.
NEW_COMMENT = (
    "insert into public.ticket_comments (workspace_id, ticket_id, body, is_public, from_customer, message_id)"
    " values (%(ws)s, %(ticket)s, %(body)s, true, true, %(mid)s) returning id"
)
NEW_ATTACHMENT = (
    "insert into public.ticket_attachments (workspace_id, ticket_id, comment_id, filename, content_type, size_bytes,"
    " data) values (%s, %s, %s, %s, %s, %s, %s)"
)

Contact = tuple[str, "str | None"]  # (contact id, company id)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _find_senders(db: Database, claims: Claims, ws: str, senders: set[str], known: dict[str, Contact]) -> None:
    if not senders:
        return
    with db.as_user(claims) as conn:
        for row in conn.execute(SENDERS, [ws, sorted(senders)]):
            known[row["email"]] = (str(row["id"]), str(row["company_id"]) if row["company_id"] else None)


def _contact(conn: psycopg.Connection, ws: str, parsed: Parsed, known: dict[str, Contact]) -> tuple[Contact, bool]:
    """The sender's contact, and whether it is new in this transaction."""
    if parsed.sender in known:
        return known[parsed.sender], False
    row = conn.execute(NEW_LEAD, [ws, parsed.first_name, parsed.last_name, parsed.sender]).fetchone()
    if row is None:
        row = conn.execute(SENDERS, [ws, [parsed.sender]]).fetchone()
    return (str(row["id"]), str(row["company_id"]) if row["company_id"] else None), True


def _write(conn: psycopg.Connection, ws: str, parsed: Parsed, known: dict[str, Contact]) -> tuple[str, Contact | None]:
    """Import one parsed message in the open transaction: ('duplicate' | 'created' | 'appended' | 'reopened',
    the sender's contact when it was created here)."""
    found = conn.execute(LOOKUP, {"ws": ws, "mid": parsed.message_id, "number": parsed.number,
                                  "refs": parsed.references}).fetchone()
    if found["duplicate"]:
        return "duplicate", None
    comment_id, new_contact = None, None
    if found["ticket_id"] and found["status"] != "closed":
        ticket_id = str(found["ticket_id"])
        body = _clip(strip_quoted(parsed.body) or NO_TEXT, MAX_TEXT)
        row = conn.execute(NEW_COMMENT, {"ws": ws, "ticket": ticket_id, "body": body,
                                         "mid": parsed.message_id}).fetchone()
        # The database reopens a solved ticket on a customer reply (private.note_customer_reply).
        comment_id, outcome = row["id"], "reopened" if found["status"] == "solved" else "appended"
    else:
        (contact_id, company_id), created = _contact(conn, ws, parsed, known)
        new_contact = (contact_id, company_id) if created else None
        description = parsed.body
        if found["ticket_id"]:
            description = f"Follow-up to {tickets.display_number(found['number'])}, which is closed.\n\n{description}"
        ticket_id = str(conn.execute(NEW_TICKET, [
            ws, _clip(parsed.subject or NO_SUBJECT, MAX_SUBJECT), _clip(description, MAX_TEXT) or None,
            contact_id, company_id, parsed.message_id]).fetchone()["id"])
        outcome = "created"
    for filename, content_type, data in parsed.attachments:
        conn.execute(NEW_ATTACHMENT, [ws, ticket_id, comment_id, tickets.attachment_name(filename), content_type,
                                      len(data), data])
    return outcome, new_contact


def _import_one(db: Database, claims: Claims, ws: str, parsed: Parsed, known: dict[str, Contact]) -> str:
    for attempt in (1, 2):
        try:
            with db.as_user(claims) as conn:
                outcome, new_contact = _write(conn, ws, parsed, known)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name in DUPLICATE_KEYS:
                return "duplicate"  # imported meanwhile by someone else
            if attempt == 2:
                raise Rejected("It conflicts with a record saved at the same moment; import it again.") from None
        except psycopg.errors.ForeignKeyViolation:
            if attempt == 2:
                raise Rejected("The sender's contact was deleted meanwhile; import it again.") from None
            known.pop(parsed.sender, None)  # deleted since it was looked up: the retry makes a new lead
        except (psycopg.errors.CheckViolation, psycopg.errors.InsufficientPrivilege) as exc:
            raise Rejected(f"It was refused: {exc.diag.message_primary}") from None
        else:
            if new_contact:
                known[parsed.sender] = new_contact  # only once committed
            return outcome
    raise AssertionError("unreachable")


def _parse_or_reject(item: bytes | Message) -> Parsed | Rejected | Automatic:
    try:
        return parse(item)
    except (Rejected, Automatic) as exc:
        return exc


def _parse_chunk(chunk: list[Source]) -> list[tuple[str, Parsed | Rejected]]:
    return [(label, _parse_or_reject(load())) for label, load in chunk]


def _load(chunk: list[Source]) -> list[tuple[str, bytes | Message]]:
    return [(label, load()) for label, load in chunk]


def _parse_raw(chunk: list[tuple[str, bytes | Message]]) -> list[tuple[str, Parsed | Rejected]]:
    return [(label, _parse_or_reject(item)) for label, item in chunk]


def import_messages(db: Database, claims: Claims, workspace_id: str, paths_or_messages: Iterable[object],
                    progress: Callable[[int, int], None] | None = None) -> Result:
    """Import messages from paths (.eml file, mbox, Maildir, folder of .eml), raw bytes or parsed messages."""
    role = next((m.role for m in workspaces.my_workspaces(db, claims) if m.workspace_id == workspace_id), None)
    if not workspaces.can_write(role):
        raise UserError("Your role cannot add tickets; agents and above can.")
    result = Result()
    found = sources(paths_or_messages)
    known: dict[str, Contact] = {}
    done = 0
    chunks = [found[start:start + CHUNK] for start in range(0, len(found), CHUNK)]
    if len(chunks) < 2:
        for chunk in chunks:
            done = _import_chunk(db, claims, workspace_id, _parse_chunk(chunk), known, result, done, len(found),
                                 progress)
        return result
    # Large imports: parsing (pure Python) runs in a second process, a chunk ahead of the imports,
    # which mostly wait for the database. A thread would not do: holding the GIL it delays every
    # return from the database by up to the interpreter's switch interval.
    with ProcessPoolExecutor(max_workers=1) as reader:
        upcoming = reader.submit(_parse_raw, _load(chunks[0]))
        for n in range(len(chunks)):
            chunk = upcoming.result()
            if n + 1 < len(chunks):
                upcoming = reader.submit(_parse_raw, _load(chunks[n + 1]))
            done = _import_chunk(db, claims, workspace_id, chunk, known, result, done, len(found), progress)
    return result


def _import_chunk(db: Database, claims: Claims, workspace_id: str, chunk: list[tuple[str, Parsed | Rejected]],
                  known: dict[str, Contact], result: Result, done: int, total: int,
                  progress: Callable[[int, int], None] | None) -> int:
    _find_senders(db, claims, workspace_id, {p.sender for _, p in chunk if isinstance(p, Parsed)} - known.keys(), known)
    for label, parsed in chunk:
        try:
            if isinstance(parsed, (Rejected, Automatic)):
                raise parsed
            outcome = _import_one(db, claims, workspace_id, parsed, known)
        except Rejected as exc:
            result.rejected.append((label, str(exc)))
        except Automatic:
            result.automatic += 1
        else:
            _count(result, outcome)
            if outcome != "duplicate":
                result.skipped_attachments += [(label, name, reason) for name, reason in parsed.skipped]
        done += 1
        if progress:
            progress(done, total)
    return done


def _count(result: Result, outcome: str) -> None:
    if outcome == "created":
        result.created += 1
    elif outcome == "duplicate":
        result.duplicates += 1
    else:
        result.appended += 1
        result.reopened += outcome == "reopened"


# ---------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when every message was imported or already there, 1 when some were rejected."""
    from lib.config import load_settings
    from lib.importer import _lookup_user_and_workspace
    from lib.runtime import open_runtime

    parser = argparse.ArgumentParser(prog="python -m lib.mail_in",
                                     description="Import .eml files, an mbox or a Maildir as tickets.")
    parser.add_argument("path", nargs="+", help=".eml file, mbox file, Maildir or folder of .eml files")
    parser.add_argument("--workspace", required=True, help="workspace id or name")
    parser.add_argument("--email", required=True, help="the importing user's email (an agent or above)")
    args = parser.parse_args(argv)
    runtime = open_runtime(load_settings())
    try:
        user_id, workspace_id = _lookup_user_and_workspace(runtime.admin_conninfo, args.email, args.workspace)
        result = import_messages(runtime.db, Claims(user_id, args.email), workspace_id, args.path)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    for label, reason in result.rejected[:50]:
        print(f"  rejected {label}: {reason}")
    if len(result.rejected) > 50:
        print(f"  … and {len(result.rejected) - 50:,} more")
    for label, name, reason in result.skipped_attachments[:50]:
        print(f"  attachment {name!r} of {label} skipped: {reason}")
    return 1 if result.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
