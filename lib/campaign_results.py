"""Campaign results: crediting deals and orders to a campaign, and its figures (members,
attributed revenue, leads, cost per lead, ROI), one campaign or all of them side by side.

Figures never add currencies: attributed revenue = won deals' value + sales' totals (orders
confirmed, shipped, invoiced or paid) in the campaign's currency; others are reported apart.
Leads = distinct people the campaign brought: members marked converted, plus the contacts of
deals attributed to it (a deal without a contact counts once). Cost per lead = actual cost /
leads; ROI = (attributed revenue − actual cost) / actual cost.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg import sql

from lib import campaigns
from lib.analytics.common import SALE  # what counts as a sale: as in every sales figure
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import contains_pattern
from lib.validation import is_uuid


def roi(revenue: Decimal | float | None, cost: Decimal | float | None) -> float | None:
    """(revenue − cost) / cost; None without a cost."""
    if cost is None or Decimal(str(cost)) == 0:
        return None
    return float((Decimal(str(revenue or 0)) - Decimal(str(cost))) / Decimal(str(cost)))


def cost_per_lead(cost: Decimal | float | None, leads: int) -> float | None:
    return None if cost is None or not leads else float(Decimal(str(cost)) / leads)


ATTRIBUTABLE = {"deal": "deals", "order": "orders"}


def attribute(db: Database, claims: Claims, workspace_id: str, kind: str, record_id: str,
              campaign_id: str | None) -> int:
    """Credit a deal or an order to a campaign (None: to none); returns the record's new version.
    A won deal or a sale of one of the campaign's members marks that member converted, now or
    when it is won or sold later (private.convert_campaign_member)."""
    if kind not in ATTRIBUTABLE:
        raise UserError("Only deals and orders can be attributed to a campaign.")
    if campaign_id is not None and not is_uuid(campaign_id):
        raise FormErrors({"campaign_id": "Choose a campaign."})
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                if campaign_id and conn.execute("select 1 from public.campaigns where workspace_id = %s and id = %s",
                                                [workspace_id, campaign_id]).fetchone() is None:
                    raise FormErrors({"campaign_id": "That campaign does not exist in this workspace."})
                row = conn.execute(
                    sql.SQL("update {} set campaign_id = %s where workspace_id = %s and id = %s returning version")
                    .format(sql.Identifier("public", ATTRIBUTABLE[kind])),
                    [campaign_id, workspace_id, record_id]).fetchone()
                if row is None:
                    raise UserError(f"This {kind} does not exist (any more), or your role cannot change it.")
        except psycopg.Error as exc:
            raise campaigns.refused(exc) from exc
    return row["version"]


def attribution_choices(db: Database, claims: Claims, workspace_id: str, kind: str, search: str = "",
                        limit: int = 50) -> list[dict]:
    """Deals (by title) or orders (by number) to credit: id, label, campaign_id, newest first."""
    if kind not in ATTRIBUTABLE:
        raise UserError("Only deals and orders can be attributed to a campaign.")
    pattern = contains_pattern(search)
    query = (
        "select d.id::text as id, d.title || ' · ' || d.status || ' · ' || d.value || ' ' || d.currency as label,"
        " d.campaign_id::text as campaign_id from public.deals d where d.workspace_id = %s and d.title ilike %s"
        " order by d.created_at desc limit %s" if kind == "deal" else
        "select o.id::text as id, o.number || ' · ' || o.status || ' · ' || o.total_amount || ' ' || o.currency as label,"
        " o.campaign_id::text as campaign_id from public.orders o where o.workspace_id = %s and o.number ilike %s"
        " order by o.ordered_at desc limit %s")
    with db.as_user(claims) as conn:
        return conn.execute(query, [workspace_id, pattern, limit]).fetchall()


FIGURES_SQL = f"""
select c.id::text as id, c.name, c.channel, {campaigns.SHOWN_STATUS} as status, c.starts_on, c.ends_on, c.currency,
       c.budget, c.actual_cost, c.launched_at,
       coalesce(d.won_value, 0) as deal_revenue, coalesce(d.won, 0) as won_deals, coalesce(d.deals, 0) as deals,
       coalesce(o.sales_value, 0) as order_revenue, coalesce(o.sales, 0) as orders,
       coalesce(d.won_value, 0) + coalesce(o.sales_value, 0) as revenue,
       coalesce(d.other_currency, 0) + coalesce(o.other_currency, 0) as other_currency,
       coalesce(l.leads, 0) as leads, coalesce(m.members, '{{}}'::jsonb) as members
  from public.campaigns c
  left join lateral (
    select count(*) as deals, count(*) filter (where x.status = 'won') as won,
           sum(x.value) filter (where x.status = 'won' and x.currency = c.currency) as won_value,
           count(*) filter (where x.status = 'won' and x.currency <> c.currency) as other_currency
      from public.deals x where x.workspace_id = c.workspace_id and x.campaign_id = c.id) d on true
  left join lateral (
    select count(*) filter (where o.currency = c.currency) as sales,
           sum(o.total_amount) filter (where o.currency = c.currency) as sales_value,
           count(*) filter (where o.currency <> c.currency) as other_currency
      from public.orders o where o.workspace_id = c.workspace_id and o.campaign_id = c.id and {SALE}) o on true
  left join lateral (
    select count(*) as leads from (
      select m.contact_id::text from public.campaign_members m
       where m.workspace_id = c.workspace_id and m.campaign_id = c.id and m.status = 'converted'
      union
      select coalesce(x.contact_id::text, x.id::text) from public.deals x
       where x.workspace_id = c.workspace_id and x.campaign_id = c.id) who) l on true
  left join lateral (
    select jsonb_object_agg(s.status, s.n) as members from (
      select m.status, count(*) as n from public.campaign_members m
       where m.workspace_id = c.workspace_id and m.campaign_id = c.id group by m.status) s) m on true
 where c.workspace_id = %(ws)s"""


def _with_ratios(row: dict) -> dict:
    row["roi"] = roi(row["revenue"], row["actual_cost"])
    row["cost_per_lead"] = cost_per_lead(row["actual_cost"], row["leads"])
    return row


def figures(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> dict | None:
    """One campaign's figures: members by status, revenue (deals + orders, its currency), leads,
    cost per lead, ROI and how many attributed records are in another currency (not counted)."""
    with db.as_user(claims) as conn:
        row = conn.execute(FIGURES_SQL + " and c.id = %(id)s", {"ws": workspace_id, "id": campaign_id}).fetchone()
    return _with_ratios(row) if row else None


def comparison(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Every campaign with its figures, newest first (each in its own currency: compare amounts
    within one currency; ROI and cost per lead ratios across all)."""
    with db.as_user(claims) as conn:
        rows = conn.execute(FIGURES_SQL + " order by c.starts_on desc nulls first, c.created_at desc",
                            {"ws": workspace_id}).fetchall()
    return [_with_ratios(r) for r in rows]


def attributed(db: Database, claims: Claims, workspace_id: str, campaign_id: str) -> dict:
    """The deals and orders credited to the campaign: {"deals": [...], "orders": [...]}."""
    with db.as_user(claims) as conn:
        deals = conn.execute(
            "select d.id::text as id, d.title, d.status, d.value, d.currency, d.closed_at, k.full_name as contact"
            " from public.deals d left join public.contacts k on k.id = d.contact_id"
            " where d.workspace_id = %s and d.campaign_id = %s order by d.created_at desc",
            [workspace_id, campaign_id]).fetchall()
        sold = conn.execute(
            "select o.id::text as id, o.number, o.status, o.total_amount, o.currency, o.ordered_at,"
            " coalesce(co.name, nullif(k.full_name, ''), k.email) as customer from public.orders o"
            " left join public.contacts k on k.id = o.contact_id left join public.companies co on co.id = o.company_id"
            " where o.workspace_id = %s and o.campaign_id = %s order by o.ordered_at desc",
            [workspace_id, campaign_id]).fetchall()
    return {"deals": deals, "orders": sold}
