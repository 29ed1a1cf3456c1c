"""Small hand-made datasets for the analytics tests: products, customers, orders with their lines
(inserted as the signed-in user, so the same triggers and policies apply as in the app), deals
with a dated stage history, and tickets with known times."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from lib import deals, tickets


def at(text: str) -> datetime:
    """'2026-03-05' or '2026-03-05 10:00' as a UTC instant."""
    return datetime.fromisoformat(text if " " in text else f"{text} 12:00").replace(tzinfo=timezone.utc)


def product(conn, ws: str, sku: str, category: str | None = None, cost: float | None = None,
            currency: str = "EUR", price: float = 0) -> str:
    return str(conn.execute(
        "insert into public.products (workspace_id, sku, name, category, cost, currency, price)"
        " values (%s, %s, %s, %s, %s, %s, %s) returning id",
        [ws, sku, f"Product {sku}", category, cost, currency, price]).fetchone()["id"])


def company(conn, ws: str, name: str, external_id: str | None = None) -> str:
    return str(conn.execute("insert into public.companies (workspace_id, name, external_id) values (%s, %s, %s)"
                            " returning id", [ws, name, external_id]).fetchone()["id"])


def contact(conn, ws: str, first: str, last: str, company_id: str | None = None) -> str:
    return str(conn.execute("insert into public.contacts (workspace_id, first_name, last_name, company_id)"
                            " values (%s, %s, %s, %s) returning id", [ws, first, last, company_id]).fetchone()["id"])


def order(conn, ws: str, number: str, when: str, lines: list[tuple], *, status: str = "paid",
          company_id: str | None = None, contact_id: str | None = None, country: str | None = None,
          currency: str = "EUR", deal_id: str | None = None) -> str:
    """An order with `lines` = [(product_id, quantity, unit_price[, discount %]), …]."""
    order_id = str(conn.execute(
        "insert into public.orders (workspace_id, number, ordered_at, status, company_id, contact_id, country,"
        " currency, deal_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        [ws, number, at(when), status, company_id, contact_id, country, currency, deal_id]).fetchone()["id"])
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.order_lines (workspace_id, order_id, product_id, position, quantity, unit_price,"
            " discount) values (%s, %s, %s, %s, %s, %s, %s)",
            [(ws, order_id, line[0], i, line[1], line[2], line[3] if len(line) > 3 else 0)
             for i, line in enumerate(lines)])
    return order_id


def stages(db, user, ws) -> dict[str, dict]:
    default = deals.pipelines(db, user.claims, ws)[0]
    return {s["name"]: {**s, "pipeline_id": default["id"]} for s in default["stages"]}


def deal(db, user, ws, path: list[tuple[dict, str]], value: float, *, currency: str = "EUR",
         owner: str | None = None, source: str | None = None, lost_reason: str | None = None) -> str:
    """A deal that went through `path` = [(stage, 'YYYY-MM-DD'), …], its history dated accordingly."""
    first = path[0][0]
    deal_id = deals.create(db, user.claims, ws, {"title": f"Deal {value}", "value": value, "currency": currency,
                                                 "stage_id": first["id"], "pipeline_id": first["pipeline_id"],
                                                 "owner_id": owner, "source": source})
    for stage, _ in path[1:]:
        version = deals.get(db, user.claims, ws, deal_id)["version"]
        extra = {"won_value": value} if stage["kind"] == "won" else {}
        if stage["kind"] == "lost":
            extra = {"lost_reason_id": lost_reason or next(iter(deals.lost_reasons(db, user.claims, ws)))}
        deals.move(db, user.claims, ws, deal_id, str(stage["id"]), version, **extra)
    times = [at(day).isoformat() for _, day in path]
    with db.as_user(user.claims) as conn:
        conn.execute("select private.backdate_deal_history(%s, %s::jsonb)",
                     [ws, json.dumps([{"deal_id": deal_id, "times": times}])])
    return deal_id


def ticket(db, admin_conn, user, ws, created: str, *, solved: str | None = None, closed: str | None = None,
           csat: int | None = None, company_id: str | None = None, contact_id: str | None = None) -> str:
    t = tickets.create(db, user.claims, ws, "Help", company_id=company_id, contact_id=contact_id)
    # the status first (its trigger stamps solved_at / closed_at with now(), overwritten next)
    for status in ["solved", "closed"] if closed else ["solved"] if solved else ["open"]:
        admin_conn.execute("update public.tickets set status = %s where id = %s", [status, t["id"]])
    admin_conn.execute("update public.tickets set created_at = %s, solved_at = %s, closed_at = %s, csat = %s"
                       " where id = %s",
                       [at(created), at(solved) if solved else None, at(closed) if closed else None, csat, t["id"]])
    return t["id"]
