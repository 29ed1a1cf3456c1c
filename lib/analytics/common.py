"""What every analytics query shares: the period, the currency, and the rule for a sale.

A **sale** is an order whose status is not `draft` or `cancelled` (cancellations, such as the
retail file's `C…` invoices, are excluded). **Revenue** is the sum of its lines' `amount`
(quantity × unit price × (1 − discount %)); a returned line has a negative quantity and so
reduces revenue. **Anonymous sales** (no customer) count in revenue and order figures but in no
per-customer figure. Amounts in different currencies are never added: every figure is for one
currency, by default the one with the most sales. A period is [start, end] in whole days
(ordered_at's date, UTC), and the previous period is the same number of days just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from lib.db import Claims, Database

SALE_STATUSES = ("confirmed", "shipped", "invoiced", "paid")
# SQL predicate on an `orders` alias `o` for "a sale"; use with bound workspace/currency/period.
SALE = "o.status in ('confirmed', 'shipped', 'invoiced', 'paid')"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def bounds(self) -> tuple[date, date]:
        """[start, end + 1 day) for `ordered_at >= %s and ordered_at < %s` (index friendly)."""
        return self.start, self.end + timedelta(days=1)


def currencies(db: Database, claims: Claims, workspace_id: str) -> list[str]:
    """Currencies of the workspace's sales, the one with the most orders first."""
    with db.as_user(claims) as conn:
        return [r["currency"] for r in conn.execute(
            f"select o.currency from public.orders o where o.workspace_id = %s and {SALE}"
            " group by o.currency order by count(*) desc, o.currency", [workspace_id]).fetchall()]


def sales_span(db: Database, claims: Claims, workspace_id: str) -> tuple[date, date] | None:
    """First and last day with a sale, or None without sales."""
    with db.as_user(claims) as conn:
        return _span(conn, workspace_id)


def _span(conn: psycopg.Connection, workspace_id: str) -> tuple[date, date] | None:
    row = conn.execute(
        f"select min(o.ordered_at)::date as first, max(o.ordered_at)::date as last from public.orders o"
        f" where o.workspace_id = %s and {SALE}", [workspace_id]).fetchone()
    return (row["first"], row["last"]) if row and row["first"] else None
