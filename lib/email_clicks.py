"""Click tracking: links in sent emails go through the app, which records the click.

At send time the worker (`lib.mailer`) rewrites every http(s) link of a message into
`<public url>/?click=<token>`, where the token is the outbox row's id and the original URL,
signed with the unsubscribe key (purpose "click", so an unsubscribe token is never a click token
and the reverse). Following it (`views/email_click.py`, public, no sign-in) records an
`email_events` 'click', marks the campaign member 'opened_link' (first click time in clicked_at)
and offers a "Continue" link to the original URL: Streamlit cannot answer with an HTTP redirect.
Only signed URLs are ever offered, so the route is no open redirect.
"""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import quote, urlsplit

from lib.db import Database
from lib.errors import UserError
from lib.unsubscribe import INVALID, Signer, secret_key

PURPOSE = "click"
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+[^\s<>"'.,;:!?)\]]""", re.IGNORECASE)


def token(signer: Signer, outbox_id: str, url: str) -> str:
    return signer.sign(PURPOSE, uuid.UUID(str(outbox_id)).bytes + url.encode("utf-8"))


def tracked(signer: Signer, base_url: str, outbox_id: str, url: str) -> str:
    return f"{base_url.rstrip('/')}/?click={quote(token(signer, outbox_id, url), safe='')}"


def rewrite_text(text: str, wrap) -> str:
    """Every http(s) URL of a plain-text body through `wrap(url) -> tracked url`."""
    return _TEXT_URL.sub(lambda m: wrap(m.group(0)), text)


def rewrite_html(body: str, wrap) -> str:
    """Every href="http(s)://…" of an HTML body through `wrap` (attribute values are HTML-escaped)."""
    return _HREF.sub(lambda m: m.group(1) + m.group(2) + html.escape(wrap(html.unescape(m.group(3)))) + m.group(2),
                     body)


def record_click(db: Database, click_token: str) -> str:
    """Record a click on a tracked link; returns the original URL (UserError when the link is not genuine)."""
    with db.as_service() as conn:
        data = Signer(secret_key(conn)).open(PURPOSE, click_token)
        if len(data) <= 16:
            raise UserError(INVALID)
        outbox_id, url = str(uuid.UUID(bytes=data[:16])), data[16:].decode("utf-8", "replace")
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise UserError(INVALID)
        row = conn.execute("select workspace_id, campaign_id, contact_id from public.outbox where id = %s",
                           [outbox_id]).fetchone()
        if row is None:  # the email was deleted since: still let the reader through
            return url
        conn.execute(
            "insert into public.email_events (workspace_id, outbox_id, campaign_id, contact_id, kind, url)"
            " values (%s, %s, %s, %s, 'click', %s)",
            [row["workspace_id"], outbox_id, row["campaign_id"], row["contact_id"], url[:2000]])
        if row["campaign_id"] and row["contact_id"]:
            conn.execute(
                "update public.campaign_members"
                "   set status = case when status = 'sent' then 'opened_link' else status end,"
                "       clicked_at = coalesce(clicked_at, now())"
                " where campaign_id = %s and contact_id = %s", [row["campaign_id"], row["contact_id"]])
    return url
