"""Pipeline analytics for one pipeline and period: the stage funnel (lib.deal_analytics), win rate
overall and by owner, source and product, average days per stage and lost reasons ranked, with
the previous period alongside.

A deal is **closed in a period** by its last move into a won or lost stage during that period
(the rule of lib.deal_analytics' win rate), so a deal lost and later won counts once per period.
Deals do not list products; a deal's products are those on the lines of the orders linked to it
(`orders.deal_id`, any status: a draft order serves as the quote). Counts are of deals in every
currency; values (won value, lost value) are of the deals in the chosen currency only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from lib import deal_analytics as da
from lib.analytics.common import Period
from lib.analytics.sales import utc
from lib.db import Claims, Database

FIGURES = {
    "funnel": "Entered: deals that moved into the stage in the period; moved on: of those, the ones that later "
              "reached a later stage or were won; conversion = moved on ÷ entered.",
    "win_rate": "Win rate: of the deals whose last close in the period was won or lost, the share won.",
    "by_product": "A deal's products are those on the orders linked to it (any status); deals without such an "
                  "order are under “No order”.",
    "stage_days": "Average days per stage: the mean time deals spent in the stage, over the stays that ended in "
                  "the period (the deal moved on); open stays are shown apart.",
    "lost_reasons": "Deals whose last close in the period was lost, by the reason given.",
}
NO_SOURCE = "No source"
NO_REASON = "No reason given"
NO_ORDER = "No order"
NO_PRODUCT = "(no product)"
UNASSIGNED = "Unassigned"


@dataclass
class PipelineReport:
    period: Period
    currency: str
    funnel: da.Funnel
    previous_funnel: da.Funnel
    summary: dict  # won, lost, win_rate, won_value, lost_value
    previous_summary: dict
    by_owner: list[dict] = field(default_factory=list)  # key, label, won, lost, win_rate, won_value, prev_*
    by_source: list[dict] = field(default_factory=list)
    by_product: list[dict] = field(default_factory=list)
    stage_days: list[dict] = field(default_factory=list)  # stage, stays, avg_days, median_days, prev_avg_days, …
    lost_reasons: list[dict] = field(default_factory=list)  # reason, deals, share, lost_value, prev_deals
    deals: list[dict] = field(default_factory=list)  # closed in the period: id, title, kind, owner, source, …

    @property
    def closed(self) -> int:
        return self.summary["won"] + self.summary["lost"] + self.previous_summary["won"] + self.previous_summary["lost"]


def _rate(won: int, lost: int) -> float | None:
    return won / (won + lost) if won + lost else None


CLOSED = (
    # each deal's last move into a won or lost stage of the pipeline, per period (cur = this one)
    "closed as (select distinct on (h.deal_id, h.entered_at >= %(start)s) h.deal_id, st.kind,"
    "   h.entered_at >= %(start)s as cur, h.entered_at as closed_at"
    "  from public.deal_stage_history h join public.stages st on st.id = h.to_stage_id"
    "  where h.workspace_id = %(ws)s and st.pipeline_id = %(pipeline)s and st.kind <> 'open'"
    "    and h.entered_at >= %(prev_start)s and h.entered_at < %(end)s"
    "  order by h.deal_id, h.entered_at >= %(start)s, h.entered_at desc, h.id desc),"
    " cd as (select c.kind, c.cur, c.closed_at, d.id, d.title, d.value as deal_value, d.owner_id, d.source,"
    "   d.lost_reason_id, d.currency,"
    "   d.value * (d.currency = %(currency)s)::int as value"
    "  from closed c join public.deals d on d.id = c.deal_id)"
)
COUNTS = ("count(*) filter (where cd.kind = 'won') as won, count(*) filter (where cd.kind = 'lost') as lost,"
          " coalesce(sum(cd.value) filter (where cd.kind = 'won'), 0) as won_value,"
          " coalesce(sum(cd.value) filter (where cd.kind = 'lost'), 0) as lost_value")


def report(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, currency: str,
           period: Period) -> PipelineReport:
    previous = period.previous()
    params = {"ws": workspace_id, "pipeline": pipeline_id, "currency": currency, "start": utc(period.start),
              "end": utc(period.end + timedelta(days=1)), "prev_start": utc(previous.start)}
    funnel = da.funnel(db, claims, workspace_id, pipeline_id, period.start, period.end)
    previous_funnel = da.funnel(db, claims, workspace_id, pipeline_id, previous.start, previous.end)
    with db.as_user(claims) as conn:
        conn.execute("set local work_mem = '32MB'")  # the closed deals × their products, sorted in memory
        groups = conn.execute(
            f"with {CLOSED}"
            " select cd.cur, g.dim, g.key, g.label, " + COUNTS +
            " from cd left join public.profiles pr on pr.id = cd.owner_id"
            " left join public.lost_reasons lr on lr.id = cd.lost_reason_id"
            " cross join lateral (values ('all', '', ''),"
            "   ('owner', coalesce(cd.owner_id::text, ''), coalesce(pr.display_name,"
            "      case when cd.owner_id is null then %(unassigned)s else 'Former member' end)),"
            "   ('source', coalesce(nullif(btrim(cd.source), ''), ''), coalesce(nullif(btrim(cd.source), ''), %(no_source)s)),"
            "   ('reason', coalesce(cd.lost_reason_id::text, ''), coalesce(lr.name, %(no_reason)s))) as g(dim, key, label)"
            " where g.dim <> 'reason' or cd.kind = 'lost'"
            " group by cd.cur, g.dim, g.key, g.label",
            {**params, "unassigned": UNASSIGNED, "no_source": NO_SOURCE, "no_reason": NO_REASON},
        ).fetchall()
        products = conn.execute(
            f"with {CLOSED}"
            " select g.*, case when not g.found then %(no_order)s else coalesce("
            "   (select p.name from public.products p where p.id = g.product_id), %(no_product)s) end as label"
            " from (select cd.cur, coalesce(x.found, false) as found, x.product_id,"
            "        case when x.found then coalesce(x.product_id::text, '-') else '' end as key, " + COUNTS +
            "       from cd left join lateral (select distinct l.product_id, true as found"
            "         from public.orders o join public.order_lines l on l.order_id = o.id"
            "         where o.deal_id = cd.id and o.workspace_id = %(ws)s) x on true"
            "       group by cd.cur, x.found, x.product_id) g",
            {**params, "no_order": NO_ORDER, "no_product": NO_PRODUCT},
        ).fetchall()
        stays = conn.execute(
            "with st as (select s.id, s.name, row_number() over (order by s.position, s.name, s.id) as ord"
            "            from public.stages s where s.workspace_id = %(ws)s and s.pipeline_id = %(pipeline)s"
            "             and s.kind = 'open'),"
            " h as (select h.to_stage_id, h.left_at >= %(start)s as cur,"
            "         extract(epoch from h.left_at - h.entered_at) / 86400.0 as days"
            "       from public.deal_stage_history h where h.workspace_id = %(ws)s"
            "        and h.left_at >= %(prev_start)s and h.left_at < %(end)s)"
            " select st.id, st.name, st.ord,"
            "  count(h.days) filter (where h.cur) as stays, avg(h.days) filter (where h.cur) as avg_days,"
            "  percentile_cont(0.5) within group (order by h.days) filter (where h.cur) as median_days,"
            "  count(h.days) filter (where not h.cur) as prev_stays, avg(h.days) filter (where not h.cur) as prev_avg_days,"
            "  (select count(*) from public.deals d where d.stage_id = st.id and d.workspace_id = %(ws)s) as open_now,"
            "  (select avg(extract(epoch from now() - d.stage_entered_at) / 86400.0) from public.deals d"
            "    where d.stage_id = st.id and d.workspace_id = %(ws)s) as open_avg_days"
            " from st left join h on h.to_stage_id = st.id group by st.id, st.name, st.ord order by st.ord",
            params,
        ).fetchall()
        closed_deals = conn.execute(
            f"with {CLOSED}"
            " select cd.id, cd.title, cd.kind, cd.closed_at, cd.deal_value as value, cd.currency,"
            "  coalesce(pr.display_name, case when cd.owner_id is null then %(unassigned)s else 'Former member' end)"
            "    as owner,"
            "  coalesce(nullif(btrim(cd.source), ''), %(no_source)s) as source,"
            "  case when cd.kind = 'lost' then coalesce(lr.name, %(no_reason)s) end as reason,"
            "  coalesce((select array_agg(distinct coalesce(p.name, %(no_product)s) order by coalesce(p.name, %(no_product)s))"
            "    from public.orders o join public.order_lines l on l.order_id = o.id"
            "    left join public.products p on p.id = l.product_id"
            "    where o.deal_id = cd.id and o.workspace_id = %(ws)s), array[%(no_order)s]) as products"
            " from cd left join public.profiles pr on pr.id = cd.owner_id"
            " left join public.lost_reasons lr on lr.id = cd.lost_reason_id"
            " where cd.cur order by cd.closed_at desc, cd.id",
            {**params, "unassigned": UNASSIGNED, "no_source": NO_SOURCE, "no_reason": NO_REASON,
             "no_product": NO_PRODUCT, "no_order": NO_ORDER},
        ).fetchall()
    result = _assemble(period, currency, funnel, previous_funnel, groups, products, stays)
    result.deals = [{**d, "id": str(d["id"]), "value": float(d["value"])} for d in closed_deals]
    return result


def span(db: Database, claims: Claims, workspace_id: str) -> tuple[date, date] | None:
    """From the first day in the stage history to today (None without any), for the period presets."""
    with db.as_user(claims) as conn:
        first = conn.execute("select min(h.entered_at)::date as first from public.deal_stage_history h"
                             " where h.workspace_id = %s", [workspace_id]).fetchone()["first"]
    return (min(first, date.today()), date.today()) if first else None


def currencies(db: Database, claims: Claims, workspace_id: str) -> list[str]:
    """Currencies of the workspace's deals, the one with the most deals first."""
    with db.as_user(claims) as conn:
        return [r["currency"] for r in conn.execute(
            "select d.currency from public.deals d where d.workspace_id = %s group by d.currency"
            " order by count(*) desc, d.currency", [workspace_id]).fetchall()]


def _num(value) -> float | None:
    return round(float(value), 2) if value is not None else None


def _assemble(period, currency, funnel, previous_funnel, groups, products, stays) -> PipelineReport:
    tables: dict[str, dict[str, dict]] = {}
    for r in [*groups, *({**p, "dim": "product"} for p in products)]:
        row = tables.setdefault(r["dim"], {}).setdefault(r["key"], {
            "key": r["key"], "label": r["label"], "won": 0, "lost": 0, "won_value": 0.0, "lost_value": 0.0,
            "prev_won": 0, "prev_lost": 0})
        if r["cur"]:
            row.update(won=r["won"], lost=r["lost"], won_value=float(r["won_value"]),
                       lost_value=float(r["lost_value"]))
        else:
            row.update(prev_won=r["won"], prev_lost=r["lost"])
    for rows in tables.values():
        for row in rows.values():
            row["win_rate"] = _rate(row["won"], row["lost"])
            row["prev_win_rate"] = _rate(row["prev_won"], row["prev_lost"])

    def ranked(dim: str) -> list[dict]:
        return sorted(tables.get(dim, {}).values(),
                      key=lambda r: (-(r["won"] + r["lost"]), -r["won"], -(r["prev_won"] + r["prev_lost"]), r["label"]))

    total = tables.get("all", {}).get("", {"won": 0, "lost": 0, "won_value": 0.0, "lost_value": 0.0,
                                           "prev_won": 0, "prev_lost": 0})
    summary = {"won": total["won"], "lost": total["lost"], "win_rate": _rate(total["won"], total["lost"]),
               "won_value": total["won_value"], "lost_value": total["lost_value"]}
    previous_summary = {"won": total["prev_won"], "lost": total["prev_lost"],
                        "win_rate": _rate(total["prev_won"], total["prev_lost"])}  # values: this period only
    lost_total = sum(r["lost"] for r in tables.get("reason", {}).values())
    reasons = [{"reason": r["label"], "deals": r["lost"], "share": r["lost"] / lost_total if lost_total else None,
                "lost_value": r["lost_value"], "prev_deals": r["prev_lost"]}
               for r in sorted(tables.get("reason", {}).values(), key=lambda r: (-r["lost"], -r["prev_lost"], r["label"]))]
    stage_days = [{"stage_id": str(s["id"]), "stage": s["name"], "stays": s["stays"], "avg_days": _num(s["avg_days"]),
                   "median_days": _num(s["median_days"]), "prev_stays": s["prev_stays"],
                   "prev_avg_days": _num(s["prev_avg_days"]), "open_now": s["open_now"],
                   "open_avg_days": _num(s["open_avg_days"])} for s in stays]
    return PipelineReport(period=period, currency=currency, funnel=funnel, previous_funnel=previous_funnel,
                          summary=summary, previous_summary=previous_summary, by_owner=ranked("owner"),
                          by_source=ranked("source"), by_product=ranked("product"), stage_days=stage_days,
                          lost_reasons=reasons)
