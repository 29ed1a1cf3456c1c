"""Service analytics: backlog over time, ticket mix, SLA compliance, response and resolution
times, CSAT, and the same per assignee, for the tickets of a period.

Everything is computed in SQL in one transaction as the signed-in user, so row-level security
decides which tickets count. Except for the backlog (which looks at every ticket still open on
each day), figures are about the tickets CREATED in the period (start and end dates inclusive,
days in the database session's time zone), measured up to now. `FIGURES` defines every figure
in one line; the Service analytics screen shows the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from lib.db import Claims, Database

FIGURES = {
    "backlog": "Backlog: tickets open at the end of the day — created by then and not solved by then.",
    "tickets": "Tickets: tickets created in the period.",
    "first_response_sla": "First-response SLA: of the tickets with a known outcome (answered, or unanswered past "
                          "the due time), the share first answered publicly by the due time.",
    "resolution_sla": "Resolution SLA: of the tickets with a known outcome (solved, or unsolved past the due "
                      "time and not waiting for the customer), the share solved by the due time.",
    "first_response": "Median first response: the middle time from creation to the team's first public reply.",
    "resolution": "Median resolution: the middle time from creation to solved, among solved tickets.",
    "csat": "CSAT: the average customer rating (1–5) of the rated tickets.",
    "solved": "Solved: tickets that are solved or closed now.",
}
UNCATEGORISED = "Uncategorised"
UNASSIGNED = "Unassigned"
WEEKLY_AFTER_DAYS = 120  # longer periods show the backlog at the end of each week


@dataclass
class Compliance:
    met: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.met / self.total, 1) if self.total else None


@dataclass
class ServiceReport:
    start: date
    end: date
    tickets: int  # created in the period
    backlog: list[dict] = field(default_factory=list)  # day, open
    by_channel: list[dict] = field(default_factory=list)  # channel, tickets
    by_priority: list[dict] = field(default_factory=list)  # priority, tickets
    by_category: list[dict] = field(default_factory=list)  # category, tickets
    first_response_sla: Compliance = field(default_factory=lambda: Compliance(0, 0))
    resolution_sla: Compliance = field(default_factory=lambda: Compliance(0, 0))
    median_first_response_minutes: float | None = None
    median_resolution_minutes: float | None = None
    csat_average: float | None = None
    csat_distribution: list[dict] = field(default_factory=list)  # rating 1..5, tickets
    by_assignee: list[dict] = field(default_factory=list)

    @property
    def rated(self) -> int:
        return sum(r["tickets"] for r in self.csat_distribution)


# Per-ticket outcome flags (null: not known yet), mirroring the breach flags of lib.tickets.
OUTCOMES = (
    "case when t.first_responded_at is not null then t.first_responded_at <= t.first_response_due_at"
    "      when t.first_response_due_at < now() and t.status not in ('solved', 'closed') then false end as fr_met,"
    " case when t.solved_at is not null then t.solved_at <= t.resolution_due_at"
    "      when t.resolution_due_at < now() and t.paused_at is null and t.status <> 'closed' then false end as res_met,"
    " extract(epoch from t.first_responded_at - t.created_at) / 60 as fr_minutes,"
    " extract(epoch from t.solved_at - t.created_at) / 60 as res_minutes"
)
SUMMARY = (
    "count(*) as tickets,"
    " count(*) filter (where x.status in ('solved', 'closed')) as solved,"
    " count(*) filter (where x.fr_met) as fr_met, count(x.fr_met) as fr_total,"
    " count(*) filter (where x.res_met) as res_met, count(x.res_met) as res_total,"
    " percentile_cont(0.5) within group (order by x.fr_minutes) as fr_median,"
    " percentile_cont(0.5) within group (order by x.res_minutes) as res_median,"
    " avg(x.csat)::float as csat, count(x.csat) as rated"
)


def backlog_days(start: date, end: date) -> list[date]:
    """The days the backlog is measured at: every day, or for long periods every 7th day ending at `end`."""
    step = 7 if (end - start).days + 1 > WEEKLY_AFTER_DAYS else 1
    first = start + timedelta(days=(end - start).days % step)
    return [first + timedelta(days=i) for i in range(0, (end - first).days + 1, step)]


def report(db: Database, claims: Claims, workspace_id: str, start: date, end: date) -> ServiceReport:
    """All service figures for tickets created between `start` and `end` (inclusive)."""
    if end < start:
        raise ValueError("The period ends before it starts.")
    params = {"ws": workspace_id, "start": start, "end": end + timedelta(days=1), "days": backlog_days(start, end)}
    cohort = (f"select t.*, {OUTCOMES} from public.tickets t where t.workspace_id = %(ws)s"
              " and t.created_at >= %(start)s::date::timestamptz and t.created_at < %(end)s::date::timestamptz")
    with db.as_user(claims) as conn:
        backlog = conn.execute(
            # open at the end of a day = created by then − solved by then, as a running sum of
            # per-day changes: one pass over the tickets however long the period
            "with changes as (select e.day, sum(e.delta) as delta from ("
            "   select t.created_at::date as day, 1 as delta from public.tickets t where t.workspace_id = %(ws)s"
            "   union all select t.solved_at::date, -1 from public.tickets t"
            "    where t.workspace_id = %(ws)s and t.solved_at is not null) e group by e.day),"
            " running as (select c.day, sum(c.delta) over (order by c.day) as open from changes c)"
            " select d.day, coalesce((select r.open from running r where r.day <= d.day"
            "                         order by r.day desc limit 1), 0)::int as open"
            " from unnest(%(days)s::date[]) as d(day) order by d.day",
            params,
        ).fetchall()
        mix = conn.execute(
            "select m.channel, m.priority, m.category, grouping(m.channel) = 0 as per_channel,"
            " grouping(m.priority) = 0 as per_priority, count(*) as tickets"
            " from (select x.channel, x.priority, coalesce(nullif(btrim(x.category), ''), %(none)s) as category"
            f"       from ({cohort}) x) m"
            " group by grouping sets ((m.channel), (m.priority), (m.category))"
            " order by tickets desc, 1, 2, 3",
            {**params, "none": UNCATEGORISED},
        ).fetchall()
        total = conn.execute(f"select {SUMMARY} from ({cohort}) x", params).fetchone()
        ratings = conn.execute(
            "select r.rating, count(x.id) as tickets from generate_series(1, 5) as r(rating)"
            f" left join ({cohort}) x on x.csat = r.rating group by r.rating order by r.rating",
            params,
        ).fetchall()
        people = conn.execute(
            f"select x.assignee_id, p.display_name, p.email, {SUMMARY} from ({cohort}) x"
            " left join public.profiles p on p.id = x.assignee_id"
            " group by x.assignee_id, p.display_name, p.email order by tickets desc, p.display_name nulls last",
            params,
        ).fetchall()
    return _assemble(start, end, backlog, mix, total, ratings, people)


def _minutes(value: object) -> float | None:
    return None if value is None else round(float(value), 1)


def _assignee_row(r: dict) -> dict:
    if r["assignee_id"] is None:
        name = UNASSIGNED
    else:
        name = r["display_name"] or r["email"] or "Former member"
    fr, res = Compliance(r["fr_met"], r["fr_total"]), Compliance(r["res_met"], r["res_total"])
    return {"assignee_id": str(r["assignee_id"]) if r["assignee_id"] else None, "assignee": name,
            "tickets": r["tickets"], "solved": r["solved"],
            "median_first_response_minutes": _minutes(r["fr_median"]),
            "median_resolution_minutes": _minutes(r["res_median"]),
            "first_response_sla_percent": fr.percent, "resolution_sla_percent": res.percent,
            "csat_average": None if r["csat"] is None else round(r["csat"], 2), "rated": r["rated"]}


def _assemble(start, end, backlog, mix, total, ratings, people) -> ServiceReport:
    result = ServiceReport(start=start, end=end, tickets=total["tickets"])
    result.backlog = [{"day": r["day"], "open": r["open"]} for r in backlog]
    for r in mix:
        if r["per_channel"]:
            result.by_channel.append({"channel": r["channel"], "tickets": r["tickets"]})
        elif r["per_priority"]:
            result.by_priority.append({"priority": r["priority"], "tickets": r["tickets"]})
        else:
            result.by_category.append({"category": r["category"], "tickets": r["tickets"]})
    result.first_response_sla = Compliance(total["fr_met"], total["fr_total"])
    result.resolution_sla = Compliance(total["res_met"], total["res_total"])
    result.median_first_response_minutes = _minutes(total["fr_median"])
    result.median_resolution_minutes = _minutes(total["res_median"])
    result.csat_average = None if total["csat"] is None else round(total["csat"], 2)
    result.csat_distribution = [{"rating": r["rating"], "tickets": r["tickets"]} for r in ratings]
    result.by_assignee = [_assignee_row(r) for r in people]
    return result


def duration_label(minutes: float | None) -> str:
    """A short human duration: "45 min", "3.5 h", "2.1 d"; "–" when unknown."""
    if minutes is None:
        return "–"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"
