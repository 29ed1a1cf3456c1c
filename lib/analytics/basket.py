"""Basket analysis: which products are bought in the same sale order, as association rules
A → B with support, confidence and lift, computed in SQL in one statement.

The baskets are the sale orders ordered in the period (optionally only in some countries); a
basket's items are the distinct products of its lines with a positive quantity (a return line is
not a purchase). With N = the number of those orders and n(X) = the orders containing X:

    support(A, B) = n(A and B) / N
    confidence(A → B) = n(A and B) / n(A)
    lift(A → B) = confidence(A → B) / support(B) = n(A and B) · N / (n(A) · n(B))

A pair can only reach the minimum support if both products reach it on their own, so products
below it are dropped before pairs are counted (the a-priori rule): exact, and it keeps the work
small. Pairs are counted on bit strings, one per product with bit k set when basket k holds it:
n(A and B) = bit_count(bits(A) & bits(B)). A self-join of the order lines by order gives the
same counts, but on the retail file at 1 % it makes 8 million (order, A, B) rows to group (about
5.5 s); 728 strings of 21,000 bits are 265,000 ANDs of 2.6 kB (about 0.6 s). The cost grows with
(products at minimum support)² × orders / 8 bytes, so a very low minimum support over many
orders is slow: the page's lowest is 0.2 %. Every kept pair gives two rules, A → B and B → A.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lib.analytics.common import SALE, Period
from lib.analytics.sales import utc
from lib.db import Claims, Database

FIGURES = {
    "support": "Support: the share of the orders (in the filter) that contain both products.",
    "confidence": "Confidence A → B: of the orders containing A, the share that also contain B.",
    "lift": "Lift A → B: confidence ÷ the support of B alone; above 1, B is bought with A more often than by chance.",
    "orders": "Orders: sale orders ordered in the period (in the chosen countries); items are the distinct "
              "products on lines with a positive quantity.",
}
MAX_RULES = 2000


@dataclass
class BasketResult:
    orders: int  # sale orders in the filter (N)
    frequent_products: int  # products whose own support reaches the minimum
    rules: list[dict] = field(default_factory=list)  # strongest (lift, then support) first, at most `limit`
    total_rules: int = 0  # before the limit


def rules(db: Database, claims: Claims, workspace_id: str, period: Period, *, countries: tuple = (),
          min_support: float = 0.01, min_confidence: float = 0.0, limit: int = MAX_RULES) -> BasketResult:
    """The association rules A → B of the period's sale orders with support ≥ `min_support` and
    confidence ≥ `min_confidence` (fractions, 0.01 = 1 %), in countries `countries` ('' = unknown;
    empty = all)."""
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise ValueError("Minimum support must be above 0 and at most 100 %, minimum confidence 0 to 100 %.")
    where = ["o.workspace_id = %(ws)s", SALE, "o.ordered_at >= %(start)s", "o.ordered_at < %(end)s"]
    params = {"ws": workspace_id, "start": utc(period.start), "end": utc(period.end + timedelta(days=1)),
              "min_support": min_support, "min_confidence": min_confidence, "limit": limit}
    if countries:
        where.append("coalesce(o.country, '') = any(%(countries)s::text[])")
        params["countries"] = list(countries)
    with db.as_user(claims) as conn:
        # a hash join over tens of thousands of baskets wants more than the default 4 MB
        conn.execute("set local work_mem = '64MB'")
        rows = conn.execute(
            "with baskets as materialized (select o.id, row_number() over (order by o.id)::int as k"
            "   from public.orders o where " + " and ".join(where) + "),"
            " n as (select count(*)::int as orders from baskets),"
            # each product's orders as a bit string (bit k = basket k), built from the gaps between
            # its baskets in order; a product twice in one basket adds nothing
            " seg as (select l.product_id, b.k, case when b.k = lag(b.k) over w then ''"
            "          else repeat('0', b.k - coalesce(lag(b.k) over w, 0) - 1) || '1' end as s"
            "   from public.order_lines l join baskets b on b.id = l.order_id"
            "   where l.product_id is not null and l.quantity > 0"
            "   window w as (partition by l.product_id order by b.k)),"
            " bits as materialized (select seg.product_id,"
            "   rpad(string_agg(seg.s, '' order by seg.k), (select orders from n), '0')::varbit as b"
            "   from seg group by seg.product_id),"
            " frequent as materialized (select bits.product_id, bits.b, bit_count(bits.b) as orders from bits"
            "   where bit_count(bits.b) >= %(min_support)s * (select orders from n)),"
            # orders with both = the bits both strings have set
            " pairs as (select x.a, x.b, x.both_orders from (select fa.product_id as a, fb.product_id as b,"
            "     bit_count(fa.b & fb.b) as both_orders from frequent fa join frequent fb on fb.product_id > fa.product_id) x"
            "   where x.both_orders > 0 and x.both_orders >= %(min_support)s * (select orders from n)),"
            " directed as (select p.a as antecedent, p.b as consequent, p.both_orders from pairs p"
            "   union all select p.b, p.a, p.both_orders from pairs p),"
            " scored as (select d.*, fa.orders as antecedent_orders, fc.orders as consequent_orders,"
            "   d.both_orders::numeric / n.orders as support, d.both_orders::numeric / fa.orders as confidence,"
            "   d.both_orders::numeric * n.orders / (fa.orders * fc.orders) as lift"
            "   from directed d join frequent fa on fa.product_id = d.antecedent"
            "   join frequent fc on fc.product_id = d.consequent cross join n"
            "   where d.both_orders::numeric / fa.orders >= %(min_confidence)s)"
            " select s.*, pa.sku as antecedent_sku, pa.name as antecedent_name, pc.sku as consequent_sku,"
            "  pc.name as consequent_name, (select orders from n)::bigint as total_orders,"
            "  (select count(*) from frequent) as frequent_products, count(*) over () as total_rules"
            " from (select 1) one left join scored s on true"
            " left join public.products pa on pa.id = s.antecedent left join public.products pc on pc.id = s.consequent"
            " order by s.lift desc nulls last, s.both_orders desc, pa.name, pc.name limit %(limit)s",
            params,
        ).fetchall()
    first = rows[0]
    result = BasketResult(orders=first["total_orders"], frequent_products=first["frequent_products"])
    if first["antecedent"] is None:
        return result
    result.total_rules = first["total_rules"]
    result.rules = [{
        "antecedent_id": str(r["antecedent"]), "antecedent_sku": r["antecedent_sku"], "antecedent": r["antecedent_name"],
        "consequent_id": str(r["consequent"]), "consequent_sku": r["consequent_sku"], "consequent": r["consequent_name"],
        "orders_both": r["both_orders"], "orders_antecedent": r["antecedent_orders"],
        "orders_consequent": r["consequent_orders"], "support": float(r["support"]),
        "confidence": float(r["confidence"]), "lift": float(r["lift"])} for r in rows]
    return result


def countries(db: Database, claims: Claims, workspace_id: str, period: Period) -> list[str]:
    """Order countries of the period's sale orders, most orders first ('' = unknown)."""
    with db.as_user(claims) as conn:
        return [r["country"] for r in conn.execute(
            f"select coalesce(o.country, '') as country from public.orders o where o.workspace_id = %s and {SALE}"
            " and o.ordered_at >= %s and o.ordered_at < %s group by 1 order by count(*) desc, 1",
            [workspace_id, utc(period.start), utc(period.end + timedelta(days=1))]).fetchall()]
