"""Front office: products, orders with their lines, and invoices. Every call is one transaction as
the signed-in user, so row-level security and the database's rules apply (see the orders
migration): SO-numbers, allowed status changes and their dates, totals kept from the lines,
gapless invoice numbers, amounts frozen on the invoice.

Validation happens here first, so a form shows each problem beside its field (a line's problem
names the line) and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from lib import versioned
from lib.customers import CONTACT, Kind
from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import contains_pattern, md_escape
from lib.validation import clean_country, clean_currency, clean_name, collect, decimal_text, optional_text

STATUSES = ("draft", "confirmed", "shipped", "invoiced", "paid", "cancelled")
STATUS_LABELS = {"draft": "Draft", "confirmed": "Confirmed", "shipped": "Shipped", "invoiced": "Invoiced",
                 "paid": "Paid", "cancelled": "Cancelled"}
TRANSITIONS = {"draft": ("confirmed", "cancelled"), "confirmed": ("shipped", "invoiced", "cancelled"),
               "shipped": ("invoiced", "cancelled"), "invoiced": ("paid", "confirmed", "cancelled"), "paid": (), "cancelled": ()}
EDITABLE = ("draft", "confirmed")  # lines can change until the order ships or is invoiced
SALE_STATUSES = ("confirmed", "shipped", "invoiced", "paid")
PAGE_SIZE = 50
MAX_LINES = 500


def display_invoice_number(number: int) -> str:
    return f"INV-{number}"


def _refused(exc: psycopg.Error, what: str = "orders") -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(f"Your role cannot change {what}; agents and above can.")
    if isinstance(exc, psycopg.errors.UniqueViolation):
        if "sku" in (exc.diag.constraint_name or ""):
            return FormErrors({"sku": "Another product already has this SKU."})
        if "number" in (exc.diag.constraint_name or ""):
            return FormErrors({"number": "Another order already has this number."})
        if exc.diag.constraint_name == "invoices_live_order_key":
            return UserError("This order has an invoice already; void it first to issue a new one.")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        return UserError(md_escape(exc.diag.message_primary or "That change is not allowed."))
    raise exc


def _decimal(value: object, what: str, *, minimum: Decimal | None = None, maximum: Decimal | None = None,
             non_zero: bool = False, places: int = 4) -> Decimal:
    text = decimal_text(value)
    if not text:
        raise ValueError(f"Enter the {what}.")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"The {what} must be a number.") from None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 10:
        raise ValueError(f"The {what} is too large.")
    if number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ValueError(f"The {what} can have at most {places} decimals.")
    if minimum is not None and number < minimum:
        raise ValueError(f"The {what} cannot be below {minimum}.")
    if maximum is not None and number > maximum:
        raise ValueError(f"The {what} cannot be above {maximum}.")
    if non_zero and number == 0:
        raise ValueError(f"The {what} cannot be 0 (use a negative number for a return).")
    return number


# -- products ------------------------------------------------------------------------------------


def clean_product(data: dict) -> dict:
    values, errors = collect({
        "sku": (clean_name, data.get("sku"), "SKU", 64),
        "name": (clean_name, data.get("name"), "name", 300),
        "category": (optional_text, data.get("category"), "category"),
        "price": (_decimal, data.get("price"), "price", ),
        "currency": (clean_currency, data.get("currency") or "EUR"),
    })
    if "price" in values and values["price"] < 0:
        errors["price"] = "The price cannot be negative."
    cost = data.get("cost")
    if cost is not None and str(cost).strip():
        try:
            values["cost"] = _decimal(cost, "cost", minimum=Decimal(0))
        except ValueError as exc:
            errors["cost"] = str(exc)
    else:
        values["cost"] = None
    values["active"] = bool(data.get("active", True))
    if errors:
        raise FormErrors(errors)
    return values


def create_product(db: Database, claims: Claims, workspace_id: str, data: dict) -> str:
    values = clean_product(data)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.products (workspace_id, sku, name, category, price, cost, currency, active)"
                    " values (%(ws)s, %(sku)s, %(name)s, %(category)s, %(price)s, %(cost)s, %(currency)s, %(active)s)"
                    " returning id", {"ws": workspace_id, **values}).fetchone()
        except psycopg.Error as exc:
            raise _refused(exc, "products") from exc
    return str(row["id"])


def update_product(db: Database, claims: Claims, workspace_id: str, product_id: str, data: dict, version: int) -> int:
    values = clean_product(data)
    with db.as_user(claims) as conn:
        return versioned.save(conn, "products", workspace_id, product_id, version, values, what="product",
                              refused=lambda exc: _refused(exc, "products"))


def products(db: Database, claims: Claims, workspace_id: str, search: str = "", *, active_only: bool = False,
             after: tuple | None = None, limit: int = PAGE_SIZE) -> tuple[list[dict], tuple | None]:
    """A page of products by name (keyset), with units and revenue sold; and the next page's cursor."""
    where = ["p.workspace_id = %(ws)s"]
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit + 1}
    if search.strip():
        where.append("(p.name ilike %(q)s or p.sku ilike %(q)s or p.category ilike %(q)s)")
        params["q"] = contains_pattern(search)
    if active_only:
        where.append("p.active")
    if after:
        where.append("(p.name, p.id) > (%(a_name)s, %(a_id)s)")
        params["a_name"], params["a_id"] = after
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select p.* from public.products p where " + " and ".join(where)
            + " order by p.name, p.id limit %(limit)s", params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1]["name"], rows[-1]["id"]) if more else None)


def product_choices(db: Database, claims: Claims, workspace_id: str, search: str = "", limit: int = 50) -> list[dict]:
    """Active products matching `search` for an order line picker."""
    rows, _ = products(db, claims, workspace_id, search, active_only=True, limit=limit)
    return rows


# -- orders --------------------------------------------------------------------------------------


@dataclass
class Line:
    product_id: str | None
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)


def clean_lines(raw: list[dict]) -> list[Line]:
    """Lines of a form, empty ones dropped; problems are reported as "lines": "Line 2: …"."""
    lines, problems = [], []
    for number, item in enumerate(raw, start=1):
        if not any(str(item.get(k) or "").strip() for k in ("product_id", "description", "quantity", "unit_price")):
            continue
        try:
            description = optional_text(item.get("description"), "description", 500)
            if not item.get("product_id") and not description:
                raise ValueError("choose a product or write a description")
            lines.append(Line(
                str(item["product_id"]) if item.get("product_id") else None, description,
                _decimal(item.get("quantity"), "quantity", non_zero=True, places=3),
                _decimal(item.get("unit_price"), "unit price", minimum=Decimal(0)),
                _decimal(item.get("discount") or 0, "discount", minimum=Decimal(0), maximum=Decimal(100), places=2)))
        except ValueError as exc:
            message = str(exc)
            problems.append(f"Line {number}: {message[0].lower()}{message[1:]}")
    if problems:
        raise FormErrors({"lines": " ".join(problems)})
    if len(lines) > MAX_LINES:
        raise FormErrors({"lines": f"An order can have at most {MAX_LINES} lines."})
    return lines


def _clean_order(data: dict) -> dict:
    values, errors = collect({
        "country": (clean_country, data.get("country")),
        "currency": (clean_currency, data.get("currency") or "EUR"),
        "notes": (optional_text, data.get("notes"), "notes", 10000),
    })
    values["contact_id"] = data.get("contact_id") or None
    values["company_id"] = data.get("company_id") or None
    values["deal_id"] = data.get("deal_id") or None
    ordered = data.get("ordered_at")
    if isinstance(ordered, date) and not isinstance(ordered, datetime):
        ordered = datetime.combine(ordered, datetime.min.time(), tzinfo=timezone.utc)
    values["ordered_at"] = ordered or datetime.now(timezone.utc)
    try:
        values["lines"] = clean_lines(data.get("lines") or [])
    except FormErrors as exc:
        errors.update(exc.errors)
    if errors:
        raise FormErrors(errors)
    return values


def _insert_lines(conn: psycopg.Connection, workspace_id: str, order_id: str, lines: list[Line]) -> None:
    if not lines:
        return
    conn.execute(
        "insert into public.order_lines (workspace_id, order_id, product_id, position, description, quantity,"
        " unit_price, discount) select %s, %s, l.product_id, l.position, coalesce(l.description, p.name),"
        " l.quantity, l.unit_price, l.discount"
        " from unnest(%s::uuid[], %s::int[], %s::text[], %s::numeric[], %s::numeric[], %s::numeric[])"
        "   as l(product_id, position, description, quantity, unit_price, discount)"
        " left join public.products p on p.id = l.product_id and p.workspace_id = %s",
        [workspace_id, order_id, [ln.product_id for ln in lines], list(range(1, len(lines) + 1)),
         [ln.description for ln in lines], [ln.quantity for ln in lines], [ln.unit_price for ln in lines],
         [ln.discount for ln in lines], workspace_id])


def create_order(db: Database, claims: Claims, workspace_id: str, data: dict) -> dict:
    """A draft order with its lines (one statement for all lines); returns {"id", "number"}."""
    values = _clean_order(data)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.orders (workspace_id, number, contact_id, company_id, ordered_at, country,"
                    " currency, notes, deal_id) values (%(ws)s, '', %(contact_id)s, %(company_id)s, %(ordered_at)s,"
                    " %(country)s, %(currency)s, %(notes)s, %(deal_id)s) returning id, number",
                    {"ws": workspace_id, **values}).fetchone()
                _insert_lines(conn, workspace_id, str(row["id"]), values["lines"])
        except psycopg.Error as exc:
            raise _refused(exc) from exc
    return {"id": str(row["id"]), "number": row["number"]}


def update_order(db: Database, claims: Claims, workspace_id: str, order_id: str, data: dict, version: int) -> int:
    """Save the order's details and replace its lines, if nobody saved since `version`."""
    values = _clean_order(data)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "update public.orders set contact_id = %(contact_id)s, company_id = %(company_id)s,"
                    " ordered_at = %(ordered_at)s, country = %(country)s, currency = %(currency)s, notes = %(notes)s,"
                    " deal_id = %(deal_id)s where workspace_id = %(ws)s and id = %(id)s and version = %(version)s"
                    " and status in ('draft', 'confirmed') returning version",
                    {"ws": workspace_id, "id": order_id, "version": version, **values}).fetchone()
                if row:
                    conn.execute("delete from public.order_lines where workspace_id = %s and order_id = %s",
                                 [workspace_id, order_id])
                    _insert_lines(conn, workspace_id, order_id, values["lines"])
        except psycopg.Error as exc:
            raise _refused(exc) from exc
        current = None if row else _get(conn, workspace_id, order_id)
        if row:
            return conn.execute("select version from public.orders where id = %s", [order_id]).fetchone()["version"]
    if current is None:
        raise UserError("This order no longer exists.")
    if current["status"] not in EDITABLE:
        raise UserError(f"A {current['status']} order cannot be edited any more.")
    raise ConflictError("Someone else changed this order meanwhile.", current)


def set_status(db: Database, claims: Claims, workspace_id: str, order_id: str, status: str, version: int) -> int:
    if status not in STATUSES:
        raise UserError("Choose a status.")
    with db.as_user(claims) as conn:
        return versioned.save(conn, "orders", workspace_id, order_id, version, {"status": status}, what="order",
                              refused=_refused, current=lambda: _get(conn, workspace_id, order_id))


ORDER_COLUMNS = (
    "o.*, k.full_name as contact_name, co.name as company_name,"
    " coalesce(co.name, nullif(k.full_name, ''), k.email) as customer_name"
)
ORDER_JOINS = (
    " from public.orders o left join public.contacts k on k.id = o.contact_id"
    " left join public.companies co on co.id = o.company_id"
)


def _get(conn: psycopg.Connection, workspace_id: str, order_id: str) -> dict | None:
    return conn.execute(f"select {ORDER_COLUMNS}{ORDER_JOINS} where o.workspace_id = %s and o.id = %s",
                        [workspace_id, order_id]).fetchone()


def get(db: Database, claims: Claims, workspace_id: str, order_id: str) -> dict | None:
    """The order with its lines and invoices (newest first), or None."""
    with db.as_user(claims) as conn:
        order = _get(conn, workspace_id, order_id)
        if order is None:
            return None
        order["lines"] = conn.execute(
            "select l.*, p.sku, p.name as product_name from public.order_lines l"
            " left join public.products p on p.id = l.product_id"
            " where l.workspace_id = %s and l.order_id = %s order by l.position, l.id",
            [workspace_id, order_id]).fetchall()
        order["invoices"] = conn.execute(
            "select * from public.invoices where workspace_id = %s and order_id = %s order by number desc",
            [workspace_id, order_id]).fetchall()
    return order


def orders(db: Database, claims: Claims, workspace_id: str, *, status: str | None = None, search: str = "",
           customer: tuple[Kind, str] | None = None, after: tuple | None = None,
           limit: int = PAGE_SIZE) -> tuple[list[dict], tuple | None]:
    """A page of orders, newest first (keyset on ordered_at, id), and the next page's cursor."""
    where = ["o.workspace_id = %(ws)s"]
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit + 1}
    if status:
        where.append("o.status = %(status)s")
        params["status"] = status
    if search.strip():
        where.append("o.number ilike %(q)s")
        params["q"] = contains_pattern(search)
    if customer:
        kind, record_id = customer
        where.append(("o.contact_id" if kind is CONTACT else "o.company_id") + " = %(customer)s")
        params["customer"] = record_id
    if after:
        where.append("(o.ordered_at, o.id) < (%(a_at)s, %(a_id)s)")
        params["a_at"], params["a_id"] = after
    with db.as_user(claims) as conn:
        rows = conn.execute(
            f"select {ORDER_COLUMNS}{ORDER_JOINS} where " + " and ".join(where)
            + " order by o.ordered_at desc, o.id desc limit %(limit)s", params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1]["ordered_at"], rows[-1]["id"]) if more else None)


# -- invoices ------------------------------------------------------------------------------------


def issue_invoice(db: Database, claims: Claims, workspace_id: str, order_id: str, *, tax_rate: object = 0,
                  due_days: int = 30, version: int) -> dict:
    """Invoice a confirmed or shipped order: the invoice takes the order's total (frozen), adds tax,
    gets the next gapless number, and the order becomes invoiced, in one transaction."""
    errors = {}
    try:
        rate = _decimal(tax_rate, "tax rate", minimum=Decimal(0), maximum=Decimal(100), places=2)
    except ValueError as exc:
        errors["tax_rate"] = str(exc)
    if not isinstance(due_days, int) or not 0 <= due_days <= 365:
        errors["due_days"] = "Payment terms are from 0 to 365 days."
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                order = conn.execute(
                    "update public.orders set status = 'invoiced' where workspace_id = %s and id = %s"
                    " and version = %s and status in ('confirmed', 'shipped') returning total_amount, currency",
                    [workspace_id, order_id, version]).fetchone()
                if order is None:
                    current = _get(conn, workspace_id, order_id)
                    if current is None:
                        raise UserError("This order no longer exists.")
                    if current["version"] != version:
                        raise ConflictError("Someone else changed this order meanwhile.", current)
                    raise UserError(f"A {current['status']} order cannot be invoiced; confirm it first.")
                subtotal = Decimal(order["total_amount"])
                tax = (subtotal * rate / 100).quantize(Decimal("0.01"))
                row = conn.execute(
                    "insert into public.invoices (workspace_id, order_id, currency, subtotal, tax_rate, tax_amount,"
                    " total, issued_on, due_on) values (%s, %s, %s, %s, %s, %s, %s, current_date, current_date + %s)"
                    " returning id, number", [workspace_id, order_id, order["currency"], subtotal, rate, tax,
                                              subtotal + tax, due_days]).fetchone()
        except psycopg.Error as exc:
            raise _refused(exc) from exc
    return {"id": str(row["id"]), "number": row["number"]}


def mark_paid(db: Database, claims: Claims, workspace_id: str, invoice_id: str, paid_on: date | None = None) -> None:
    """The invoice is paid (on `paid_on`, default today) and so is its order, in one transaction."""
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "update public.invoices set status = 'paid', paid_on = coalesce(%s, current_date)"
                    " where workspace_id = %s and id = %s and status = 'issued' returning order_id, paid_on",
                    [paid_on, workspace_id, invoice_id]).fetchone()
                if row is None:
                    raise UserError("Only an issued invoice can be marked paid.")
                conn.execute(
                    "update public.orders set status = 'paid', paid_at = %s::date::timestamptz"
                    " where workspace_id = %s and id = %s and status = 'invoiced'",
                    [row["paid_on"], workspace_id, row["order_id"]])
        except psycopg.Error as exc:
            raise _refused(exc) from exc


def void_invoice(db: Database, claims: Claims, workspace_id: str, invoice_id: str) -> None:
    """Void an unpaid invoice; its order goes back to confirmed so it can be corrected and invoiced again."""
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "update public.invoices set status = 'void' where workspace_id = %s and id = %s"
                    " and status = 'issued' returning order_id", [workspace_id, invoice_id]).fetchone()
                if row is None:
                    raise UserError("Only an unpaid invoice can be voided.")
                conn.execute("update public.orders set status = 'confirmed' where workspace_id = %s and id = %s"
                             " and status = 'invoiced'", [workspace_id, row["order_id"]])
        except psycopg.Error as exc:
            raise _refused(exc) from exc


def invoices(db: Database, claims: Claims, workspace_id: str, *, status: str | None = None,
             after: tuple | None = None, limit: int = PAGE_SIZE) -> tuple[list[dict], tuple | None]:
    """A page of invoices, newest number first, with the customer and whether they are overdue."""
    where = ["i.workspace_id = %(ws)s"]
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit + 1}
    if status == "overdue":
        where.append("i.status = 'issued' and i.due_on < current_date")
    elif status:
        where.append("i.status = %(status)s")
        params["status"] = status
    if after:
        where.append("i.number < %(after)s")
        params["after"] = after[0]
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select i.*, o.number as order_number, coalesce(co.name, nullif(k.full_name, ''), k.email) as customer_name,"
            " i.status = 'issued' and i.due_on < current_date as overdue"
            " from public.invoices i join public.orders o on o.id = i.order_id"
            " left join public.contacts k on k.id = i.contact_id left join public.companies co on co.id = i.company_id"
            " where " + " and ".join(where) + " order by i.number desc limit %(limit)s", params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1]["number"],) if more else None)


def invoice(db: Database, claims: Claims, workspace_id: str, invoice_id: str) -> dict | None:
    """An invoice with what its PDF needs: the seller (workspace), the customer and the order's lines."""
    with db.as_user(claims) as conn:
        head = conn.execute(
            "select i.*, o.number as order_number, o.ordered_at, w.name as seller,"
            " co.name as company_name, co.address as company_address, co.city as company_city,"
            " co.postal_code as company_postal_code, co.country as company_country,"
            " k.full_name as contact_name, k.email as contact_email, k.address as contact_address,"
            " k.city as contact_city, k.postal_code as contact_postal_code, k.country as contact_country"
            " from public.invoices i join public.orders o on o.id = i.order_id"
            " join public.workspaces w on w.id = i.workspace_id"
            " left join public.contacts k on k.id = i.contact_id left join public.companies co on co.id = i.company_id"
            " where i.workspace_id = %s and i.id = %s", [workspace_id, invoice_id]).fetchone()
        if head is None:
            return None
        head["lines"] = conn.execute(
            "select l.position, l.description, l.quantity, l.unit_price, l.discount, l.amount, p.sku"
            " from public.order_lines l left join public.products p on p.id = l.product_id"
            " where l.workspace_id = %s and l.order_id = %s order by l.position, l.id",
            [workspace_id, head["order_id"]]).fetchall()
    return head


def customer_revenue(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str) -> dict:
    """Orders and revenue of a contact or company: sales (not draft or cancelled) in each currency."""
    column = "contact_id" if kind is CONTACT else "company_id"
    with db.as_user(claims) as conn:
        rows = conn.execute(
            f"select currency, count(*) as orders, sum(total_amount) as revenue, max(ordered_at) as last_order"
            f" from public.orders where workspace_id = %s and {column} = %s"
            f" and status in ('confirmed', 'shipped', 'invoiced', 'paid') group by currency order by revenue desc",
            [workspace_id, record_id]).fetchall()
    return {"by_currency": rows, "orders": sum(r["orders"] for r in rows),
            "last_order": max((r["last_order"] for r in rows), default=None)}


def default_due(days: int = 30) -> date:
    return date.today() + timedelta(days=days)
