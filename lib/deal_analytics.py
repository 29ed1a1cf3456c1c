"""Deal analytics: the revenue forecast of open deals by month, and the stage-to-stage funnel.

Both are computed in SQL, in one transaction as the signed-in user, so row-level security
decides which deals count. The funnel comes from `deal_stage_history` (written by a trigger on
every move), so conversion is measured, not estimated. `FIGURES` defines every figure in one
line; the Forecast screen shows the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

from lib.db import Claims, Database

FIGURES = {
    "deals": "Deals: open deals whose expected close date falls in the month.",
    "unweighted": "Unweighted: the sum of those deals' values.",
    "weighted": "Weighted: the sum of each deal's value × its stage's win probability.",
    "overdue": "Overdue: open deals whose expected close date is before this month.",
    "entered": "Entered: deals that moved into the stage during the period (each deal once).",
    "advanced": "Moved on: of those, the deals that later (up to now) reached a later stage or were won.",
    "conversion": "Conversion: moved on ÷ entered.",
    "win_rate": "Win rate: of the deals won or lost during the period, the share won.",
}
OVERDUE = "Overdue"


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_label(month: date | None) -> str:
    return OVERDUE if month is None else f"{month:%b %Y}"


@dataclass
class Forecast:
    """Open deals' expected revenue per month of expected close, per currency (never summed across)."""

    months: list[date]  # the forecast's months, oldest first (overdue deals come before them)
    currencies: list[str]  # largest unweighted total first
    totals: list[dict] = field(default_factory=list)  # period, label, currency, deals, unweighted, weighted
    by_owner: list[dict] = field(default_factory=list)  # … plus owner_id, owner
    by_pipeline: list[dict] = field(default_factory=list)  # … plus pipeline_id, pipeline
    undated: int = 0  # open deals without an expected close date (not in the forecast)
    later: int = 0  # open deals expected after the last month

    def rows(self, breakdown: str = "totals", currency: str | None = None) -> list[dict]:
        chosen = {"totals": self.totals, "owner": self.by_owner, "pipeline": self.by_pipeline}[breakdown]
        return [r for r in chosen if currency is None or r["currency"] == currency]


def forecast(db: Database, claims: Claims, workspace_id: str, *, pipeline_id: str | None = None,
             owner_ids: Iterable[str] = (), months_ahead: int = 12, today: date | None = None) -> Forecast:
    """Expected revenue of OPEN deals by month of expected close: unweighted and weighted (value ×
    stage probability), in total, per owner and per pipeline; overdue deals in one "Overdue" period.
    """
    first = month_start(today or date.today())
    until = add_months(first, months_ahead)
    where = ["d.workspace_id = %(ws)s", "d.status = 'open'"]
    params: dict = {"ws": workspace_id, "first": first, "until": until}
    if pipeline_id:
        where.append("d.pipeline_id = %(pipeline)s")
        params["pipeline"] = pipeline_id
    owners = [str(o) for o in owner_ids]
    if owners:
        where.append("d.owner_id = any(%(owners)s::uuid[])")
        params["owners"] = owners
    filters = " and ".join(where)
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select x.period, x.currency, x.owner_id, x.owner, x.pipeline_id, x.pipeline,"
            " grouping(x.owner_id, x.owner) = 0 as per_owner, grouping(x.pipeline_id, x.pipeline) = 0 as per_pipeline,"
            " count(*) as deals, sum(x.value) as unweighted, sum(x.value * x.probability / 100.0) as weighted"
            " from (select case when d.expected_close_date < %(first)s then null"
            "               else date_trunc('month', d.expected_close_date)::date end as period,"
            "        d.currency, d.value, s.probability, d.owner_id, o.display_name as owner,"
            "        d.pipeline_id, p.name as pipeline"
            "       from public.deals d join public.stages s on s.id = d.stage_id"
            "       join public.pipelines p on p.id = d.pipeline_id left join public.profiles o on o.id = d.owner_id"
            f"     where {filters} and d.expected_close_date < %(until)s) x"
            " group by grouping sets ((x.period, x.currency), (x.period, x.currency, x.owner_id, x.owner),"
            "                         (x.period, x.currency, x.pipeline_id, x.pipeline))"
            " order by x.period nulls first, x.currency",
            params,
        ).fetchall()
        outside = conn.execute(
            "select count(*) filter (where d.expected_close_date is null) as undated,"
            " count(*) filter (where d.expected_close_date >= %(until)s) as later"
            f" from public.deals d where {filters}",
            params,
        ).fetchone()
    return _assemble(rows, first, months_ahead, outside)


def _assemble(rows: list[dict], first: date, months_ahead: int, outside: dict) -> Forecast:
    months = [add_months(first, i) for i in range(months_ahead)]
    result = Forecast(months=months, currencies=[], undated=outside["undated"], later=outside["later"])
    sums: dict[str, float] = {}
    for r in rows:
        row = {"period": r["period"], "label": period_label(r["period"]), "currency": r["currency"],
               "deals": r["deals"], "unweighted": float(r["unweighted"]), "weighted": round(float(r["weighted"]), 2)}
        if r["per_owner"]:
            result.by_owner.append({**row, "owner_id": str(r["owner_id"]) if r["owner_id"] else None,
                                    "owner": r["owner"] or ("Former member" if r["owner_id"] else "Unassigned")})
        elif r["per_pipeline"]:
            result.by_pipeline.append({**row, "pipeline_id": str(r["pipeline_id"]), "pipeline": r["pipeline"]})
        else:
            result.totals.append(row)
            sums[r["currency"]] = sums.get(r["currency"], 0.0) + row["unweighted"]
    result.currencies = sorted(sums, key=lambda c: (-sums[c], c))
    # every month of the horizon, also those without deals, so charts and tables show the gap
    have = {(r["period"], r["currency"]) for r in result.totals}
    for currency in result.currencies:
        for month in months:
            if (month, currency) not in have:
                result.totals.append({"period": month, "label": period_label(month), "currency": currency,
                                      "deals": 0, "unweighted": 0.0, "weighted": 0.0})
    result.totals.sort(key=lambda r: (r["period"] or date.min, r["currency"]))
    return result


@dataclass
class Funnel:
    """Stage-to-stage conversion of one pipeline in a period, from the stage history."""

    stages: list[dict]  # open stages in order: stage_id, name, probability, entered, advanced, conversion
    won: int  # deals won in the period
    lost: int  # deals lost in the period
    win_rate: float | None  # won / (won + lost), None without closed deals


def funnel(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, start: date, end: date) -> Funnel:
    """For each open stage in order: deals that entered it between `start` and `end` (inclusive),
    how many of those later reached a later stage or won, and conversion; plus the period's win rate.
    """
    params = {"ws": workspace_id, "pipeline": pipeline_id, "start": start, "end": end + timedelta(days=1)}
    with db.as_user(claims) as conn:
        stages = conn.execute(
            "with st as (select s.id, s.name, s.probability, s.kind,"
            "              row_number() over (order by s.position, s.name, s.id) as ord"
            "            from public.stages s where s.workspace_id = %(ws)s and s.pipeline_id = %(pipeline)s),"
            # later_best: over the deal's later rows, won (as the highest) or the furthest open stage;
            # a window over each deal's rows, not a lookup per row (thousands of deals)
            " h as (select h.id, h.deal_id, h.to_stage_id, h.entered_at, st.kind, st.ord,"
            "         max(case when st.kind = 'won' then 2147483647 when st.kind = 'open' then st.ord end) over ("
            "           partition by h.deal_id order by h.entered_at, h.id"
            "           rows between 1 following and unbounded following) as later_best"
            "         from public.deal_stage_history h join st on st.id = h.to_stage_id"
            "        where h.workspace_id = %(ws)s),"
            # each deal's first entry into each open stage within the period
            " entered as (select distinct on (h.deal_id, h.to_stage_id) h.id, h.deal_id, h.to_stage_id,"
            "                    h.entered_at, h.ord, h.later_best > h.ord as advanced"
            "               from h where h.kind = 'open' and h.entered_at >= %(start)s::date::timestamptz"
            "                and h.entered_at < %(end)s::date::timestamptz"
            "              order by h.deal_id, h.to_stage_id, h.entered_at, h.id)"
            " select st.id as stage_id, st.name, st.probability, count(e.deal_id) as entered,"
            # moved on: a later row of the deal is won, or an open stage further down the pipeline
            "  count(e.deal_id) filter (where e.advanced) as advanced"
            " from st left join entered e on e.to_stage_id = st.id"
            " where st.kind = 'open' group by st.id, st.name, st.probability, st.ord order by st.ord",
            params,
        ).fetchall()
        closed = conn.execute(
            "select count(*) filter (where c.kind = 'won') as won, count(*) filter (where c.kind = 'lost') as lost"
            " from (select distinct on (h.deal_id) s.kind from public.deal_stage_history h"
            "         join public.stages s on s.id = h.to_stage_id"
            "        where h.workspace_id = %(ws)s and s.pipeline_id = %(pipeline)s and s.kind <> 'open'"
            "          and h.entered_at >= %(start)s::date::timestamptz and h.entered_at < %(end)s::date::timestamptz"
            "        order by h.deal_id, h.entered_at desc, h.id desc) c",
            params,
        ).fetchone()
    rows = [{**r, "stage_id": str(r["stage_id"]),
             "conversion": r["advanced"] / r["entered"] if r["entered"] else None} for r in stages]
    won, lost = closed["won"], closed["lost"]
    return Funnel(stages=rows, won=won, lost=lost, win_rate=won / (won + lost) if won + lost else None)
