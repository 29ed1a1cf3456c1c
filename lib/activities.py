"""Activities (calls, emails, meetings, chats, social messages, notes), tasks, the customer
timeline and the Customer 360 header: everything a colleague needs to see before calling.

The timeline reads the view `public.customer_timeline`, one `union all` of every domain's
events; a later domain plugs in by adding its branch to that view, not by changing this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from lib.analytics.common import SALE
from lib.customers import CONTACT, COMPANY, Kind
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.validation import clean_date, clean_name, collect, optional_text

CHANNELS = {
    "call": ("Call", ":material/call:"),
    "email": ("Email", ":material/mail:"),
    "meeting": ("Meeting", ":material/groups:"),
    "chat": ("Chat", ":material/chat:"),
    "social": ("Social message", ":material/public:"),
    "note": ("Note", ":material/sticky_note_2:"),
}
DIRECTIONS = ("inbound", "outbound")
PRIORITIES = ("low", "normal", "high", "urgent")
TIMELINE_PAGE = 30


def _link(kind: Kind, record_id: str) -> dict[str, str | None]:
    return {"contact_id": record_id if kind is CONTACT else None, "company_id": record_id if kind is COMPANY else None}


def _company_of(conn: psycopg.Connection, workspace_id: str, kind: Kind, record_id: str) -> str | None:
    """The company an activity or task on this record also belongs to; UserError when the record is gone."""
    row = conn.execute(
        "select company_id from public.contacts where workspace_id = %s and id = %s" if kind is CONTACT
        else "select id as company_id from public.companies where workspace_id = %s and id = %s",
        [workspace_id, record_id],
    ).fetchone()
    if row is None:
        raise UserError("This customer no longer exists.")
    return str(row["company_id"]) if row["company_id"] else None


def _insert(conn: psycopg.Connection, statement: str, params: list) -> dict:
    try:
        with conn.transaction():
            return conn.execute(statement, params).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise UserError("Your role cannot add activities or tasks; agents and above can.") from None


def _body(value: object) -> str | None:
    text = str(value or "").strip()
    if len(text) > 20000:
        raise ValueError("The text can be at most 20,000 characters long.")
    return text or None


def _when(value: object) -> datetime:
    if value is None or value == "":
        return datetime.now().astimezone()
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.astimezone()
    else:
        raise ValueError("Enter when it happened.")
    if when > datetime.now().astimezone() + timedelta(days=1):
        raise ValueError("An activity cannot be in the future; create a task for what is still to do.")
    return when


def _deal_link(conn: psycopg.Connection, workspace_id: str, deal_id: str) -> dict[str, str | None]:
    """The contact and company of a deal, so what is logged on it also shows on its customer's timeline."""
    row = conn.execute("select contact_id, company_id from public.deals where workspace_id = %s and id = %s",
                       [workspace_id, deal_id]).fetchone()
    if row is None:
        raise UserError("This deal no longer exists.")
    return {k: str(v) if v else None for k, v in row.items()}


def _customer_link(conn: psycopg.Connection, workspace_id: str, kind: Kind | None, record_id: str | None,
                   deal_id: str | None) -> dict[str, str | None]:
    if kind is not None and record_id:
        link = _link(kind, record_id)
        link["company_id"] = _company_of(conn, workspace_id, kind, record_id)
        if deal_id:
            _deal_link(conn, workspace_id, deal_id)  # the deal must exist too
        return link
    if deal_id:
        return _deal_link(conn, workspace_id, deal_id)
    return {"contact_id": None, "company_id": None}


def log_activity(db: Database, claims: Claims, workspace_id: str, kind: Kind | None, record_id: str | None,
                 channel: str, subject: str | None = None, body: str | None = None, direction: str | None = None,
                 occurred_at: datetime | None = None, deal_id: str | None = None) -> str:
    """Record a call, email, meeting, chat, social message or note on a contact or company.

    With `deal_id` it belongs to that deal too; without a record it is linked to the deal's
    contact and company, so it shows on their timelines as well.
    """
    values, errors = collect({
        "subject": (optional_text, subject, "subject", 200),
        "body": (_body, body),
        "occurred_at": (_when, occurred_at),
    })
    if channel not in CHANNELS:
        errors["channel"] = "Choose what kind of contact it was."
    if direction not in (None, "", *DIRECTIONS):
        errors["direction"] = "Choose inbound or outbound."
    if not errors and not values["subject"] and not values["body"]:
        errors["body"] = "Write what happened (a subject or a few words)."
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        link = _customer_link(conn, workspace_id, kind, record_id, deal_id)
        row = _insert(conn,
            "insert into public.activities (workspace_id, contact_id, company_id, deal_id, channel, direction, subject,"
            " body, occurred_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
            [workspace_id, link["contact_id"], link["company_id"], deal_id or None, channel, direction or None,
             values["subject"], values["body"], values["occurred_at"]])
    return str(row["id"])


def create_task(db: Database, claims: Claims, workspace_id: str, title: str, *, kind: Kind | None = None,
                record_id: str | None = None, due_date: object = None, assignee_id: str | None = None,
                priority: str = "normal", notes: str | None = None, deal_id: str | None = None) -> str:
    """A task, on a contact or company and/or a deal (then also on the deal's contact and company)."""
    values, errors = collect({
        "title": (clean_name, title, "task", 200),
        "due_date": (clean_date, due_date, "due date"),
        "notes": (optional_text, notes, "notes", 5000),
    })
    if priority not in PRIORITIES:
        errors["priority"] = "Choose a priority."
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        link = _customer_link(conn, workspace_id, kind, record_id, deal_id)
        if assignee_id and not conn.execute(
            "select 1 from public.workspace_members where workspace_id = %s and user_id = %s", [workspace_id, assignee_id]
        ).fetchone():
            raise FormErrors({"assignee_id": "Assign the task to a member of this workspace."})
        row = _insert(conn,
            "insert into public.tasks (workspace_id, contact_id, company_id, deal_id, title, notes, due_date, assignee_id,"
            " priority) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
            [workspace_id, link["contact_id"], link["company_id"], deal_id or None, values["title"], values["notes"],
             values["due_date"], assignee_id or claims.sub, priority])
    return str(row["id"])


def set_task_done(db: Database, claims: Claims, workspace_id: str, task_id: str, done: bool = True) -> None:
    with db.as_user(claims) as conn:
        changed = conn.execute(
            "update public.tasks set done_at = case when %s then coalesce(done_at, now()) end"
            " where workspace_id = %s and id = %s",
            [done, workspace_id, task_id],
        ).rowcount
    if not changed:
        raise UserError("This task no longer exists, or your role cannot change tasks.")


TASK_COLUMNS = (
    "select t.id, t.title, t.notes, t.due_date, t.priority, t.done_at, t.assignee_id, t.contact_id, t.company_id,"
    " coalesce(k.full_name, co.name) as customer_name, p.display_name as assignee_name"
    " from public.tasks t left join public.contacts k on k.id = t.contact_id"
    " left join public.companies co on co.id = t.company_id"
    " left join public.profiles p on p.id = t.assignee_id"
)


def my_tasks(db: Database, claims: Claims, workspace_id: str, today: date | None = None, limit: int = 500) -> dict[str, list[dict]]:
    """The user's open tasks in three groups: overdue, today, upcoming (no due date last)."""
    today = today or date.today()
    with db.as_user(claims) as conn:
        rows = conn.execute(
            TASK_COLUMNS + " where t.workspace_id = %s and t.assignee_id = %s and t.done_at is null"
            " order by t.due_date nulls last, array_position(array['urgent','high','normal','low'], t.priority), t.created_at"
            " limit %s",
            [workspace_id, claims.sub, limit],
        ).fetchall()
    groups: dict[str, list[dict]] = {"overdue": [], "today": [], "upcoming": []}
    for row in rows:
        due = row["due_date"]
        groups["overdue" if due and due < today else "today" if due == today else "upcoming"].append(row)
    return groups


def overdue_count(db: Database, claims: Claims, workspace_id: str, today: date | None = None) -> int:
    with db.as_user(claims) as conn:
        return conn.execute(
            "select count(*) as n from public.tasks where workspace_id = %s and assignee_id = %s"
            " and done_at is null and due_date < %s",
            [workspace_id, claims.sub, today or date.today()],
        ).fetchone()["n"]


def open_tasks(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str) -> list[dict]:
    column = "t.contact_id" if kind is CONTACT else "t.company_id"
    with db.as_user(claims) as conn:
        return conn.execute(
            TASK_COLUMNS + f" where t.workspace_id = %s and {column} = %s and t.done_at is null"
            " order by t.due_date nulls last, t.created_at limit 200",
            [workspace_id, record_id],
        ).fetchall()


def deal_tasks(db: Database, claims: Claims, workspace_id: str, deal_id: str) -> list[dict]:
    """The open tasks of a deal, soonest due first."""
    with db.as_user(claims) as conn:
        return conn.execute(
            TASK_COLUMNS + " where t.workspace_id = %s and t.deal_id = %s and t.done_at is null"
            " order by t.due_date nulls last, t.created_at limit 200",
            [workspace_id, deal_id],
        ).fetchall()


@dataclass
class TimelinePage:
    events: list[dict]
    next_before: tuple | None


def timeline(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str,
             before: tuple | None = None, limit: int = TIMELINE_PAGE) -> TimelinePage:
    """Events newest first; a company's include those of its contacts. `before` pages backwards."""
    if kind is CONTACT:
        scope = "t.contact_id = %(id)s"
    else:
        scope = ("(t.company_id = %(id)s or t.contact_id = any(array("
                 "select id from public.contacts where company_id = %(id)s)))")
    params: dict[str, Any] = {"ws": workspace_id, "id": record_id, "limit": limit + 1}
    keyset = ""
    if before:
        params["b_at"], params["b_source"], params["b_id"] = before
        keyset = " and (t.happened_at, t.source_table, t.source_id) < (%(b_at)s, %(b_source)s, %(b_id)s)"
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select t.*, p.display_name as actor_name, k.full_name as contact_name"
            " from public.customer_timeline t left join public.profiles p on p.id = t.actor_id"
            " left join public.contacts k on k.id = t.contact_id"
            f" where t.workspace_id = %(ws)s and {scope}{keyset}"
            " order by t.happened_at desc, t.source_table desc, t.source_id desc limit %(limit)s",
            params,
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return TimelinePage(rows, (last["happened_at"], last["source_table"], last["source_id"]) if last else None)


def summary(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str) -> dict:
    """The 360 header's figures: lifetime revenue, open deals value, open tasks, last contact, orders.

    Lifetime revenue = the customer's sales (orders not draft or cancelled) plus won deals that
    no sale order is linked to (so a deal and the order it became count once). Amounts are never
    added across currencies: `revenue_by_currency` and `open_by_currency` hold each one, and
    `lifetime_revenue` / `open_deals_value` are those of `currency`, the customer's main one (most
    revenue, else most open value; None when they have neither).
    """
    params = {"ws": workspace_id, "id": record_id}
    column = sql.Identifier("contact_id" if kind is CONTACT else "company_id")
    with db.as_user(claims) as conn:
        money = conn.execute(sql.SQL(
            "select 'revenue' as what, x.currency, sum(x.amount) as amount from ("
            " select o.currency, o.total_amount as amount from public.orders o"
            "  where o.workspace_id = %(ws)s and o.{col} = %(id)s and " + SALE +
            " union all"
            " select d.currency, d.value from public.deals d"
            "  where d.workspace_id = %(ws)s and d.{col} = %(id)s and d.status = 'won' and not exists ("
            "   select 1 from public.orders o where o.deal_id = d.id and " + SALE + ")) x group by x.currency"
            " union all"
            " select 'open', d.currency, sum(d.value) from public.deals d"
            "  where d.workspace_id = %(ws)s and d.{col} = %(id)s and d.status = 'open' group by d.currency"
        ).format(col=column), params).fetchall()
        counts = conn.execute(sql.SQL(
            "select (select count(*) from public.orders o where o.workspace_id = %(ws)s and o.{col} = %(id)s"
            "   and " + SALE + ") as orders,"
            " (select count(*) from public.deals d where d.workspace_id = %(ws)s and d.{col} = %(id)s"
            "   and d.status = 'open') as open_deals,"
            " (select count(*) from public.tasks t where t.workspace_id = %(ws)s and t.{col} = %(id)s"
            "   and t.done_at is null) as open_tasks,"
            " (select max(a.occurred_at) from public.activities a where a.workspace_id = %(ws)s"
            "   and a.{col} = %(id)s) as last_contact"
        ).format(col=column), params).fetchone()
    revenue = {r["currency"]: r["amount"] for r in money if r["what"] == "revenue"}
    opened = {r["currency"]: r["amount"] for r in money if r["what"] == "open"}
    main = max(revenue or opened or {None: 0}, key=lambda c: (revenue.get(c, 0), opened.get(c, 0)))
    return {**counts, "currency": main, "revenue_by_currency": revenue, "open_by_currency": opened,
            "lifetime_revenue": revenue.get(main, 0), "open_deals_value": opened.get(main, 0)}


def deal_timeline(db: Database, claims: Claims, workspace_id: str, deal_id: str, before: tuple | None = None,
                  limit: int = TIMELINE_PAGE) -> TimelinePage:
    """What was logged on a deal (activities and tasks), newest first; `before` pages backwards."""
    params: dict[str, Any] = {"ws": workspace_id, "deal": deal_id, "limit": limit + 1}
    keyset = ""
    if before:
        params["b_at"], params["b_source"], params["b_id"] = before
        keyset = " and (t.happened_at, t.source_table, t.source_id) < (%(b_at)s, %(b_source)s, %(b_id)s)"
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select t.*, p.display_name as actor_name, k.full_name as contact_name"
            " from public.customer_timeline t left join public.profiles p on p.id = t.actor_id"
            " left join public.contacts k on k.id = t.contact_id"
            " where t.workspace_id = %(ws)s and t.deal_id = %(deal)s and t.source_table in ('activities', 'tasks')"
            f"{keyset} order by t.happened_at desc, t.source_table desc, t.source_id desc limit %(limit)s",
            params,
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return TimelinePage(rows, (last["happened_at"], last["source_table"], last["source_id"]) if last else None)
