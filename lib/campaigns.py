"""Campaigns: details and status, the audience snapshot and its emails, posts of the other
channels. Attribution of deals and orders and the figures (revenue, leads, ROI) are in
lib.campaign_results.

Statuses go draft → scheduled → running → completed, or to cancelled from any open one. An
email campaign leaves draft only by `launch`: in one transaction it snapshots the segment's
members into campaign_members (one set-based INSERT, each excluded contact with its reason:
no email, unsubscribed, no consent, archived), renders the template per targeted member and
writes one outbox row each with a stable Message-ID and `send_after` = the scheduled time or
now; the mail worker does the sending. The unsubscribe link is a placeholder
(`mailer.UNSUBSCRIBE_URL_MARK`) that the worker signs at send time, so the signing key is read
by the worker only, never in a user's request. Launching again does nothing (the first statement only matches a campaign never launched, and it locks the row
so a concurrent launch waits, then finds it launched). A scheduled campaign counts as running
once its time has come (`status` as read; the stored value stays until someone changes it).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

import psycopg
from psycopg import sql

from lib import mailer, segments, templates, versioned
from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import contains_pattern, md_escape
from lib.validation import clean_currency, clean_date, clean_name, collect, decimal_text, is_uuid, optional_text

CHANNELS = {"email": "Email", "social": "Social", "event": "Event", "ads": "Ads", "other": "Other"}
POST_CHANNELS = ("social", "event", "ads", "other")
STATUSES = {"draft": "Draft", "scheduled": "Scheduled", "running": "Running", "completed": "Completed",
            "cancelled": "Cancelled"}
TRANSITIONS = {"draft": ("scheduled", "running", "cancelled"), "scheduled": ("running", "cancelled"),
               "running": ("completed", "cancelled"), "completed": (), "cancelled": ()}
# A member's furthest step (each member counts once): "sent" means sent and nothing since.
MEMBER_STATUSES = {"targeted": "Targeted", "excluded": "Excluded", "sent": "Sent, no click yet", "failed": "Failed",
                   "opened_link": "Clicked a link", "replied": "Replied", "converted": "Converted",
                   "unsubscribed": "Unsubscribed"}
MARKABLE = ("replied", "converted")  # what people mark by hand; the worker and the links set the rest
REASONS = {"no email": "No email address", "unsubscribed": "Unsubscribed",
           "no consent": "No marketing consent", "archived": "Archived contact"}
UNSUBSCRIBE_SOURCE = "unsubscribe link"  # contacts.consent_source written by lib.unsubscribe
# Why a contact `c` gets no email (null: they do). An unsubscribe counts until consent is given again later.
REASON_SQL = f"""case
  when c.email is null then 'no email'
  when (not c.consent and c.consent_source = '{UNSUBSCRIBE_SOURCE}') or exists (
         select 1 from public.email_events e where e.contact_id = c.id and e.workspace_id = c.workspace_id
            and e.kind = 'unsubscribe' and (not c.consent or e.occurred_at >= c.consent_at)) then 'unsubscribed'
  when not c.consent then 'no consent'
  when c.archived_at is not null then 'archived'
end"""
SHOWN_STATUS = ("case when c.status = 'scheduled' and c.scheduled_at <= now() then 'running'"
                " else c.status end")


def message_id(workspace_id: str) -> str:
    """A new Message-ID (the mailer's format), stored with the outbox row: a retry sends the same one."""
    return mailer.new_message_id(workspace_id)


def refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot change campaigns; agents and above can.")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        return UserError(md_escape(exc.diag.message_primary or "That change is not allowed."))
    raise exc


# -- details --------------------------------------------------------------------------------------


def _money(value: object, what: str) -> Decimal | None:
    text = decimal_text(value)
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"The {what} must be a number.") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"The {what} cannot be negative.")
    if number >= Decimal(10) ** 12:
        raise ValueError(f"The {what} is too large.")
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"The {what} can have at most 2 decimals.")
    return number


def _choice(value: object, options: dict | tuple, what: str) -> str:
    if value not in options:
        raise ValueError(f"Choose a {what}.")
    return str(value)


def _ref(value: object, what: str) -> str | None:
    if value in (None, ""):
        return None
    if not is_uuid(value):
        raise ValueError(f"Choose a {what}.")
    return str(value)


def clean_campaign(data: dict) -> dict:
    values, errors = collect({
        "name": (clean_name, data.get("name"), "campaign name", 200),
        "channel": (_choice, data.get("channel") or "email", CHANNELS, "channel"),
        "starts_on": (clean_date, data.get("starts_on"), "start date"),
        "ends_on": (clean_date, data.get("ends_on"), "end date"),
        "budget": (_money, data.get("budget"), "budget"),
        "actual_cost": (_money, data.get("actual_cost"), "actual cost"),
        "currency": (clean_currency, data.get("currency") or "EUR"),
        "segment_id": (_ref, data.get("segment_id"), "segment"),
        "template_id": (_ref, data.get("template_id"), "template"),
        "description": (optional_text, data.get("description"), "description", 10000),
    })
    if values.get("starts_on") and values.get("ends_on") and values["ends_on"] < values["starts_on"]:
        errors["ends_on"] = "The campaign cannot end before it starts."
    if values.get("channel") != "email":
        values["template_id"] = None  # only emails use a template
    if errors:
        raise FormErrors(errors)
    return values


def _check_refs(conn: psycopg.Connection, workspace_id: str, values: dict) -> None:
    errors = {}
    for column, table, what in (("segment_id", "segments", "segment"), ("template_id", "email_templates", "template")):
        if values.get(column) and conn.execute(
                f"select 1 from public.{table} where workspace_id = %s and id = %s",
                [workspace_id, values[column]]).fetchone() is None:
            errors[column] = f"That {what} does not exist in this workspace."
    if errors:
        raise FormErrors(errors)


COLUMNS = ("name", "channel", "starts_on", "ends_on", "budget", "actual_cost", "currency", "segment_id",
           "template_id", "description")


def create(db: Database, claims: Claims, workspace_id: str, data: dict) -> str:
    values = clean_campaign(data)
    with db.as_user(claims) as conn:
        _check_refs(conn, workspace_id, values)
        try:
            with conn.transaction():
                row = conn.execute(
                    sql.SQL("insert into public.campaigns (workspace_id, {}) values (%(ws)s, {}) returning id").format(
                        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.SQL(", ").join(map(sql.Placeholder, COLUMNS))),
                    {"ws": workspace_id, **values}).fetchone()
        except psycopg.Error as exc:
            raise refused(exc) from exc
    return str(row["id"])


def update(db: Database, claims: Claims, workspace_id: str, campaign_id: str, data: dict, version: int) -> int:
    """Save the details if nobody saved since `version`. Once launched, the channel, audience and
    template are what was sent and cannot change."""
    values = clean_campaign(data)
    with db.as_user(claims) as conn:
        current = _get(conn, workspace_id, campaign_id)
        if current is None:
            raise UserError("This campaign no longer exists.")
        if current["launched_at"]:
            locked = {c: "Already launched: this cannot change any more." for c in ("channel", "segment_id", "template_id")
                      if str(values[c] or "") != str(current[c] or "")}
            if locked:
                raise FormErrors(locked)
        _check_refs(conn, workspace_id, values)
        return versioned.save(conn, "campaigns", workspace_id, campaign_id, version, {c: values[c] for c in COLUMNS},
                              what="campaign", refused=refused, current=lambda: _get(conn, workspace_id, campaign_id))


def _get(conn: psycopg.Connection, workspace_id: str, campaign_id: str) -> dict | None:
    if not is_uuid(campaign_id):
        return None
    return conn.execute(
        f"select c.*, c.status as stored_status, {SHOWN_STATUS} as status, s.name as segment_name,"
        " s.kind as segment_kind, t.name as template_name from public.campaigns c"
        " left join public.segments s on s.id = c.segment_id"
        " left join public.email_templates t on t.id = c.template_id"
        " where c.workspace_id = %s and c.id = %s", [workspace_id, campaign_id]).fetchone()


def get(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> dict | None:
    with db.as_user(claims) as conn:
        return _get(conn, workspace_id, campaign_id)


def choices(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Campaigns to attribute a deal or order to: id, name, status, channel, currency, start, newest first."""
    with db.as_user(claims) as conn:
        return conn.execute(
            f"select c.id::text as id, c.name, {SHOWN_STATUS} as status, c.channel, c.currency, c.starts_on"
            " from public.campaigns c"
            " where c.workspace_id = %s order by c.starts_on desc nulls first, c.created_at desc",
            [workspace_id]).fetchall()


def set_status(db: Database, claims: Claims, workspace_id: str, campaign_id: str, status: str, version: int) -> int:
    """Move along TRANSITIONS. An email campaign is scheduled or started by `launch`; cancelling
    one also cancels its emails not sent yet."""
    if status not in STATUSES:
        raise UserError("Choose a status.")
    with db.as_user(claims) as conn:
        current = _get(conn, workspace_id, campaign_id)
        if current is None:
            raise UserError("This campaign no longer exists.")
        if current["version"] != version:
            raise ConflictError("Someone else changed this campaign meanwhile.", current)
        if status not in TRANSITIONS[current["status"]]:
            raise UserError(f"A {current['status']} campaign cannot become {status}.")
        if current["channel"] == "email" and current["status"] == "draft" and status != "cancelled":
            raise UserError("Schedule or send an email campaign with **Schedule** or **Send now**.")
        try:
            with conn.transaction():
                row = conn.execute(
                    "update public.campaigns set status = %s where workspace_id = %s and id = %s and version = %s"
                    " returning version", [status, workspace_id, campaign_id, version]).fetchone()
                if row and status == "cancelled":
                    _cancel_queued(conn, workspace_id, campaign_id)
        except psycopg.Error as exc:
            raise refused(exc) from exc
    if row is None:
        raise UserError("Your role cannot change campaigns; agents and above can.")
    return row["version"]


def _cancel_queued(conn: psycopg.Connection, workspace_id: str, campaign_id: str) -> int:
    """Emails of the campaign not claimed by the worker yet are never sent (marked failed)."""
    return conn.execute("update public.outbox set status = 'failed' where workspace_id = %s and campaign_id = %s"
                        " and status = 'queued'", [workspace_id, campaign_id]).rowcount


def delete(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> None:
    """Admins delete a campaign with its members and posts; its unsent emails are cancelled first."""
    with db.as_user(claims) as conn:
        with conn.transaction():
            _cancel_queued(conn, workspace_id, campaign_id)
            gone = conn.execute("delete from public.campaigns where workspace_id = %s and id = %s",
                                [workspace_id, campaign_id]).rowcount
            if not gone:  # rolls the cancellation back too
                raise UserError("Only admins can delete campaigns (or it was deleted already).")


# -- audience and launch --------------------------------------------------------------------------


def _audience(conn: psycopg.Connection, workspace_id: str, segment_id: str | None) -> tuple[sql.Composed, dict]:
    """The segment's member contacts now, as SQL selecting `c.id` (lib.segments.member_ids_sql)."""
    if not segment_id:
        raise FormErrors({"segment_id": "Choose the audience (a segment or a list) first."})
    return segments.member_ids_sql(conn, workspace_id, segment_id)


def _reason_counts(conn: psycopg.Connection, workspace_id: str, segment_id: str | None) -> dict:
    members_sql, params = _audience(conn, workspace_id, segment_id)
    rows = conn.execute(
        sql.SQL(f"select {REASON_SQL} as reason, count(*) as n from public.contacts c"
                " where c.workspace_id = %(campaign_ws)s and c.id in (") + members_sql + sql.SQL(") group by 1"),
        {**params, "campaign_ws": workspace_id}).fetchall()
    excluded = {r["reason"]: r["n"] for r in rows if r["reason"]}
    targeted = sum(r["n"] for r in rows if not r["reason"])
    return {"total": targeted + sum(excluded.values()), "targeted": targeted, "excluded": excluded}


def audience(db: Database, claims: Claims, workspace_id: str, segment_id: str | None) -> dict:
    """Dry run: of the segment's members now, how many would be emailed and how many excluded, by
    reason: {"total", "targeted", "excluded": {reason: n}}. Nothing is written."""
    with db.as_user(claims) as conn:
        return _reason_counts(conn, workspace_id, segment_id)


def audience_sample(db: Database, claims: Claims, workspace_id: str, segment_id: str | None,
                    limit: int = 50, search: str = "") -> list[dict]:
    """Some members of the audience now, those who would be emailed first, or those whose name or
    email contains `search` (for the preview picker)."""
    with db.as_user(claims) as conn:
        members_sql, params = _audience(conn, workspace_id, segment_id)
        return conn.execute(
            sql.SQL(f"select c.id::text as id, c.full_name, c.email, {REASON_SQL} as reason from public.contacts c"
                    " where c.workspace_id = %(campaign_ws)s"
                    + (" and (c.full_name ilike %(campaign_q)s or c.email ilike %(campaign_q)s)" if search.strip() else "")
                    + " and c.id in (") + members_sql
            + sql.SQL(") order by 4 nulls first, c.full_name, c.id limit %(campaign_limit)s"),
            {**params, "campaign_ws": workspace_id, "campaign_limit": limit,
             "campaign_q": contains_pattern(search)}).fetchall()


def launch(db: Database, claims: Claims, workspace_id: str, campaign_id: str, *,
           send_at: datetime | None = None, version: int | None = None) -> dict:
    """Snapshot the audience and queue one email per targeted member, sent from `send_at` (None or
    past: now; future: the campaign is scheduled). Returns {"targeted", "excluded": {reason: n},
    "queued", "already"}; a campaign launched before returns its counts with already=True."""
    if send_at is not None and send_at.tzinfo is None:
        raise UserError("The send time needs a time zone.")
    future = send_at is not None and send_at > datetime.now(timezone.utc) + timedelta(seconds=30)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                started = conn.execute(
                    "update public.campaigns set launched_at = now(), status = %(status)s,"
                    " scheduled_at = coalesce(%(at)s, now()) where workspace_id = %(ws)s and id = %(id)s"
                    " and launched_at is null and status = 'draft' and channel = 'email'"
                    " and (%(version)s::int is null or version = %(version)s) returning *",
                    {"status": "scheduled" if future else "running", "at": send_at if future else None,
                     "ws": workspace_id, "id": campaign_id, "version": version}).fetchone()
                if started is None:
                    return _not_launched(conn, workspace_id, campaign_id, version)
                if not started["template_id"]:
                    raise FormErrors({"template_id": "Choose the email template first."})
                members_sql, params = _audience(conn, workspace_id, started["segment_id"])
                conn.execute(
                    sql.SQL("insert into public.campaign_members (workspace_id, campaign_id, contact_id, status,"
                            " excluded_reason) select %(campaign_ws)s, %(campaign_id)s, c.id,"
                            " case when r.reason is null then 'targeted' else 'excluded' end, r.reason"
                            f" from public.contacts c cross join lateral (select {REASON_SQL} as reason) r"
                            " where c.workspace_id = %(campaign_ws)s and c.id in (")
                    + members_sql + sql.SQL(") on conflict (campaign_id, contact_id) do nothing"),
                    {**params, "campaign_ws": workspace_id, "campaign_id": campaign_id})
                queued = _queue_emails(conn, workspace_id, started)
        except psycopg.Error as exc:
            raise refused(exc) from exc
        counts = _launch_counts(conn, workspace_id, campaign_id)
    return {**counts, "queued": queued, "already": False}


def _not_launched(conn: psycopg.Connection, workspace_id: str, campaign_id: str, version: int | None) -> dict:
    current = _get(conn, workspace_id, campaign_id)
    if current is None:
        raise UserError("This campaign no longer exists.")
    if current["launched_at"]:
        return {**_launch_counts(conn, workspace_id, campaign_id), "queued": 0, "already": True}
    if current["channel"] != "email":
        raise UserError("Only email campaigns send emails; plan the other channels with posts.")
    if current["status"] != "draft":
        raise UserError(f"A {current['status']} campaign cannot be launched.")
    if version is not None and current["version"] != version:
        raise ConflictError("Someone else changed this campaign meanwhile.", current)
    raise UserError("Your role cannot launch campaigns; agents and above can.")


def _queue_emails(conn: psycopg.Connection, workspace_id: str, campaign: dict) -> int:
    template = conn.execute("select subject, body from public.email_templates where workspace_id = %s and id = %s",
                            [workspace_id, campaign["template_id"]]).fetchone()
    if template is None:
        raise FormErrors({"template_id": "That template does not exist any more; choose another."})
    compiled = templates.compile_template(template["subject"], template["body"])
    sender = templates.workspace_name(conn, workspace_id)
    recipients = conn.execute(
        f"select {templates.CONTACT_FIELDS} join public.campaign_members m on m.contact_id = k.id"
        " where m.workspace_id = %s and m.campaign_id = %s and m.status = 'targeted' order by k.id",
        [workspace_id, campaign["id"]]).fetchall()
    if not recipients:
        return 0
    columns: dict[str, list] = {k: [] for k in ("contact_id", "to_email", "subject", "body_text", "body_html",
                                                "message_id")}
    for person in recipients:
        email = compiled.render(person, sender, mailer.UNSUBSCRIBE_URL_MARK)
        for key, value in (("contact_id", person["id"]), ("to_email", person["email"]), ("subject", email.subject),
                           ("body_text", email.text), ("body_html", email.html),
                           ("message_id", message_id(workspace_id))):
            columns[key].append(value)
    return conn.execute(
        "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, body_html,"
        " message_id, send_after) select %s, %s, u.contact_id, u.to_email, u.subject, u.body_text, u.body_html,"
        " u.message_id, %s from unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
        " as u (contact_id, to_email, subject, body_text, body_html, message_id)",
        [workspace_id, campaign["id"], campaign["scheduled_at"], *columns.values()]).rowcount


def _launch_counts(conn: psycopg.Connection, workspace_id: str, campaign_id: str) -> dict:
    rows = conn.execute(
        "select status, excluded_reason, count(*) as n from public.campaign_members"
        " where workspace_id = %s and campaign_id = %s group by 1, 2", [workspace_id, campaign_id]).fetchall()
    excluded = {r["excluded_reason"] or "other": r["n"] for r in rows if r["status"] == "excluded"}
    return {"targeted": sum(r["n"] for r in rows if r["status"] != "excluded"), "excluded": excluded}


def snapshot_counts(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> dict:
    """After launch: {"targeted": members not excluded, "excluded": {reason: n}}."""
    with db.as_user(claims) as conn:
        return _launch_counts(conn, workspace_id, campaign_id)


def reschedule(db: Database, claims: Claims, workspace_id: str, campaign_id: str, send_at: datetime | None,
               version: int) -> int:
    """Move a scheduled campaign's unsent emails to `send_at` (None: now, i.e. "send now")."""
    if send_at is not None and send_at.tzinfo is None:
        raise UserError("The send time needs a time zone.")
    with db.as_user(claims) as conn:
        with conn.transaction():
            row = conn.execute(
                "update public.campaigns set scheduled_at = coalesce(%(at)s, now()),"
                " status = case when coalesce(%(at)s, now()) <= now() then 'running' else 'scheduled' end"
                " where workspace_id = %(ws)s and id = %(id)s and version = %(version)s and status = 'scheduled'"
                " returning version, scheduled_at",
                {"at": send_at, "ws": workspace_id, "id": campaign_id, "version": version}).fetchone()
            if row:
                conn.execute("update public.outbox set send_after = %s where workspace_id = %s and campaign_id = %s"
                             " and status = 'queued'", [row["scheduled_at"], workspace_id, campaign_id])
        if row is None:
            current = _get(conn, workspace_id, campaign_id)
    if row:
        return row["version"]
    if current is None:
        raise UserError("This campaign no longer exists.")
    if current["version"] != version:
        raise ConflictError("Someone else changed this campaign meanwhile.", current)
    raise UserError("Only a scheduled campaign can be moved (and only by agents and above).")


# -- members --------------------------------------------------------------------------------------


def members(db: Database, claims: Claims, workspace_id: str, campaign_id: str, status: str | None = None,
            limit: int = 5000) -> list[dict]:
    """The campaign's members with their contact, status, reason and dates (by name)."""
    where = "m.workspace_id = %(ws)s and m.campaign_id = %(id)s"
    if status:
        where += " and m.status = %(status)s"
    with db.as_user(claims) as conn:
        return conn.execute(
            "select m.contact_id::text as contact_id, k.full_name, k.email, m.status, m.excluded_reason,"
            " m.sent_at, m.clicked_at, m.converted_at from public.campaign_members m"
            f" join public.contacts k on k.id = m.contact_id where {where}"
            " order by k.full_name, k.email, m.contact_id limit %(limit)s",
            {"ws": workspace_id, "id": campaign_id, "status": status, "limit": limit}).fetchall()


def mark_members(db: Database, claims: Claims, workspace_id: str, campaign_id: str, contact_ids: list[str],
                 status: str) -> int:
    """Mark members as replied or converted (by hand); excluded members stay excluded."""
    if status not in MARKABLE:
        raise UserError("Members can be marked replied or converted.")
    with db.as_user(claims) as conn:
        try:
            return conn.execute(
                "update public.campaign_members set status = %s,"
                " converted_at = case when %s = 'converted' then coalesce(converted_at, now()) else converted_at end"
                " where workspace_id = %s and campaign_id = %s and contact_id = any(%s::uuid[])"
                " and status not in ('excluded', 'unsubscribed')",
                [status, status, workspace_id, campaign_id, contact_ids]).rowcount
        except psycopg.Error as exc:
            raise refused(exc) from exc


# -- posts (non-email channels) -------------------------------------------------------------------


def clean_post(data: dict) -> dict:
    values, errors = collect({
        "channel": (_choice, data.get("channel"), POST_CHANNELS, "channel"),
        "title": (clean_name, data.get("title"), "title", 200),
        "content": (optional_text, data.get("content"), "content", 10000),
    })
    planned = data.get("planned_at")
    if isinstance(planned, date) and not isinstance(planned, datetime):
        planned = datetime.combine(planned, time(9), tzinfo=timezone.utc)
    if not isinstance(planned, datetime):
        errors["planned_at"] = "Choose the date it is planned for."
    elif planned.tzinfo is None:
        planned = planned.replace(tzinfo=timezone.utc)
    values["planned_at"] = planned
    values["done"] = bool(data.get("done", False))
    if errors:
        raise FormErrors(errors)
    return values


def create_post(db: Database, claims: Claims, workspace_id: str, campaign_id: str, data: dict) -> str:
    values = clean_post(data)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.campaign_posts (workspace_id, campaign_id, channel, planned_at, title, content,"
                    " done) select %(ws)s, c.id, %(channel)s, %(planned_at)s, %(title)s, %(content)s, %(done)s"
                    " from public.campaigns c where c.workspace_id = %(ws)s and c.id = %(id)s returning id",
                    {"ws": workspace_id, "id": campaign_id, **values}).fetchone()
        except psycopg.Error as exc:
            raise refused(exc) from exc
    if row is None:
        raise UserError("This campaign no longer exists.")
    return str(row["id"])


def update_post(db: Database, claims: Claims, workspace_id: str, post_id: str, data: dict, version: int) -> int:
    values = clean_post(data)
    with db.as_user(claims) as conn:
        return versioned.save(conn, "campaign_posts", workspace_id, post_id, version,
                              {k: values[k] for k in ("channel", "planned_at", "title", "content", "done")},
                              what="post", refused=refused)


def delete_post(db: Database, claims: Claims, workspace_id: str, post_id: str) -> None:
    with db.as_user(claims) as conn:
        gone = conn.execute("delete from public.campaign_posts where workspace_id = %s and id = %s",
                            [workspace_id, post_id]).rowcount
    if not gone:
        raise UserError("Only admins can delete posts (or it was deleted already).")


def posts(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select * from public.campaign_posts where workspace_id = %s and campaign_id = %s order by planned_at, id",
            [workspace_id, campaign_id]).fetchall()


def calendar(db: Database, claims: Claims, workspace_id: str, start: date, end: date) -> dict:
    """What happens between `start` and `end` (inclusive): {"campaigns": campaigns whose dates
    overlap (or whose emails go out then), "posts": posts planned then, with their campaign}."""
    bounds = {"ws": workspace_id, "start": start, "end": end}
    with db.as_user(claims) as conn:
        spans = conn.execute(
            f"select c.id::text as id, c.name, c.channel, {SHOWN_STATUS} as status,"
            " coalesce(c.starts_on, c.scheduled_at::date) as starts_on,"
            " coalesce(c.ends_on, c.starts_on, c.scheduled_at::date) as ends_on, c.scheduled_at"
            " from public.campaigns c where c.workspace_id = %(ws)s"
            " and coalesce(c.starts_on, c.scheduled_at::date) <= %(end)s"
            " and coalesce(c.ends_on, c.starts_on, c.scheduled_at::date) >= %(start)s"
            " order by 5, c.name", bounds).fetchall()
        planned = conn.execute(
            "select p.id::text as id, p.campaign_id::text as campaign_id, c.name as campaign, p.channel, p.planned_at,"
            " p.title, p.content, p.done from public.campaign_posts p join public.campaigns c on c.id = p.campaign_id"
            " where p.workspace_id = %(ws)s and p.planned_at >= %(start)s::date"
            " and p.planned_at < %(end)s::date + 1 order by p.planned_at, p.title", bounds).fetchall()
    return {"campaigns": spans, "posts": planned}


OVERDUE = timedelta(minutes=10)  # queued this long past its time: no mail worker is sending


def outbox_counts(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> dict[str, int]:
    """The campaign's emails by outbox status (queued, sending, sent, failed), and "overdue": queued
    emails whose send time passed more than OVERDUE ago."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select status, count(*) as n,"
            " count(*) filter (where status = 'queued' and send_after < now() - %s) as overdue"
            " from public.outbox where workspace_id = %s and campaign_id = %s group by status",
            [OVERDUE, workspace_id, campaign_id]).fetchall()
    return {**{r["status"]: r["n"] for r in rows}, "overdue": sum(r["overdue"] for r in rows)}
