"""Unsubscribe links: signed tokens, and what following one does.

A token names a contact of a workspace and an expiry, signed with HMAC-SHA256 under the key
`unsubscribe_key` of `private.app_secrets` (readable by service_role only):

    token = urlsafe_b64(version byte | contact uuid | workspace uuid | expiry, 8 bytes | mac)
    mac   = HMAC-SHA256(key, "unsubscribe|<contact_id>|<workspace_id>|<expiry epoch>")

Nothing is stored per link: any change to the token breaks the MAC, and the expiry (default a
year, long enough for an old newsletter) is inside what is signed. A token also has to name a
contact that still exists in that workspace. Rotating the key (a new value in app_secrets)
invalidates every link sent before.

Following a link (`views/unsubscribe.py`, public, no sign-in) runs as service_role: the request
is nobody's session. `unsubscribe` clears the contact's consent, records an `email_events`
'unsubscribe' row, marks the contact's sent campaign members 'unsubscribed' and cancels their
emails still queued, in one transaction; doing it twice changes nothing the second time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import psycopg

from lib.db import Database
from lib.errors import UserError

VERSION = 1
_LAYOUT = struct.Struct(">B16s16sq")  # version, contact, workspace, expiry (unix seconds)
_MAC_BYTES = 32
INVALID = "This link is not valid. Copy the whole link from the email into your browser's address bar."
EXPIRED = "This link has expired. Use the unsubscribe link of a more recent email."
CONSENT_SOURCE = "unsubscribe link"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    text = (text or "").strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise UserError(INVALID) from None


def secret_key(conn: psycopg.Connection) -> bytes:
    """The signing key; `conn` must be a service_role transaction."""
    row = conn.execute("select value from private.app_secrets where name = 'unsubscribe_key'").fetchone()
    if not row:
        raise RuntimeError("private.app_secrets has no 'unsubscribe_key': run the migrations.")
    return row["value"].encode("utf-8")


@dataclass(frozen=True)
class Signer:
    """Makes and checks tokens with one key (the worker loads the key once per run)."""

    key: bytes

    def _mac(self, purpose: str, *parts: object) -> bytes:
        message = "|".join([purpose, *map(str, parts)]).encode("utf-8")
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def token(self, workspace_id: str, contact_id: str, days: float = 365, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + days * 86400)
        contact, workspace = uuid.UUID(str(contact_id)), uuid.UUID(str(workspace_id))
        payload = _LAYOUT.pack(VERSION, contact.bytes, workspace.bytes, expiry)
        return b64(payload + self._mac("unsubscribe", contact, workspace, expiry))

    def check(self, token: str, now: float | None = None) -> tuple[str, str]:
        """(workspace_id, contact_id) of a genuine, unexpired token; UserError otherwise."""
        raw = unb64(token)
        if len(raw) != _LAYOUT.size + _MAC_BYTES:
            raise UserError(INVALID)
        version, contact_b, workspace_b, expiry = _LAYOUT.unpack(raw[:_LAYOUT.size])
        contact, workspace = uuid.UUID(bytes=contact_b), uuid.UUID(bytes=workspace_b)
        if version != VERSION or not hmac.compare_digest(raw[_LAYOUT.size:],
                                                         self._mac("unsubscribe", contact, workspace, expiry)):
            raise UserError(INVALID)
        if expiry < (time.time() if now is None else now):
            raise UserError(EXPIRED)
        return str(workspace), str(contact)

    def sign(self, purpose: str, data: bytes) -> str:
        """A MAC'd blob for other links (click tracking): urlsafe_b64(data | HMAC(purpose | data))."""
        return b64(data + self._mac(purpose, data.hex()))

    def open(self, purpose: str, token: str) -> bytes:
        raw = unb64(token)
        if len(raw) <= _MAC_BYTES:
            raise UserError(INVALID)
        data, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(purpose, data.hex())):
            raise UserError(INVALID)
        return data


def signer(db: Database) -> Signer:
    with db.as_service() as conn:
        return Signer(secret_key(conn))


def make_token(db: Database, workspace_id: str, contact_id: str, days: float = 365) -> str:
    """A signed unsubscribe token for a contact, valid `days` days (negative: already expired)."""
    return signer(db).token(workspace_id, contact_id, days)


def link(base_url: str, token: str) -> str:
    """`…/?unsubscribe=<token>` under the app's public address."""
    return f"{base_url.rstrip('/')}/?unsubscribe={quote(token, safe='')}"


def _verified(conn: psycopg.Connection, token: str) -> dict:
    workspace_id, contact_id = Signer(secret_key(conn)).check(token)
    row = conn.execute(
        "select c.id as contact_id, c.workspace_id, c.email, c.consent, c.consent_source, w.name as workspace_name"
        " from public.contacts c join public.workspaces w on w.id = c.workspace_id"
        " where c.id = %s and c.workspace_id = %s", [contact_id, workspace_id]).fetchone()
    if row is None:  # deleted since, or a token signed for another workspace's contact
        raise UserError(INVALID)
    return row


def verify(db: Database, token: str) -> tuple[str, str]:
    """(workspace_id, contact_id) of a valid token; UserError (not valid / expired) otherwise."""
    with db.as_service() as conn:
        row = _verified(conn, token)
    return str(row["workspace_id"]), str(row["contact_id"])


def mask_email(email: str | None) -> str:
    """'a•••@example.com': enough for people to recognise their address, not to harvest it."""
    if not email or "@" not in email:
        return "your address"
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}•••@{domain}"


def preview(db: Database, token: str) -> dict:
    """What the public page shows: workspace_name, email (masked), already (unsubscribed before)."""
    with db.as_service() as conn:
        row = _verified(conn, token)
    return {"workspace_name": row["workspace_name"], "email": mask_email(row["email"]),
            "already": not row["consent"]}


def workspace_name_for(db: Database, token: str) -> str:
    return preview(db, token)["workspace_name"]


def unsubscribe(db: Database, token: str) -> dict:
    """Withdraw the contact's consent (idempotent). Returns workspace_name, email (masked) and
    changed (False when the contact had no consent already)."""
    with db.as_service() as conn:
        row = _verified(conn, token)
        ws, contact = row["workspace_id"], row["contact_id"]
        changed = conn.execute(
            "update public.contacts set consent = false, consent_source = %s"
            " where id = %s and workspace_id = %s and consent returning id",
            [CONSENT_SOURCE, contact, ws]).fetchone() is not None
        if changed:
            # The event names the campaign of the latest email the contact was sent, if any.
            conn.execute(
                "insert into public.email_events (workspace_id, outbox_id, campaign_id, contact_id, kind)"
                " select %(ws)s, o.id, o.campaign_id, %(c)s, 'unsubscribe'"
                "   from (select null) one left join lateral ("
                "     select id, campaign_id from public.outbox where contact_id = %(c)s and workspace_id = %(ws)s"
                "        and status = 'sent' order by sent_at desc limit 1) o on true",
                {"ws": ws, "c": contact})
            # Emails still queued are cancelled; their members (targeted) and those already sent to
            # become 'unsubscribed'. Members of other channels' campaigns (events…) keep their status.
            conn.execute(
                "with cancelled as ("
                "  update public.outbox set status = 'failed', last_error = 'Unsubscribed before it was sent.'"
                "   where contact_id = %(c)s and workspace_id = %(ws)s and status = 'queued' returning campaign_id)"
                " update public.campaign_members set status = 'unsubscribed'"
                "  where contact_id = %(c)s and workspace_id = %(ws)s and (status in ('sent', 'opened_link')"
                "     or (status = 'targeted' and campaign_id in (select campaign_id from cancelled)))",
                {"ws": ws, "c": contact})
    return {"workspace_name": row["workspace_name"], "email": mask_email(row["email"]), "changed": changed}
