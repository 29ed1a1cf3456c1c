"""Importing order lines (the classic retail layout and the like): customers, products, orders
and their lines in one load, all or nothing.

    python -m lib.importer orders.csv.gz --kind order --workspace WS --email USER_EMAIL [--currency GBP] [--load-valid]

One line of the file is one order line: `InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country` (the UCI "Online Retail" layout) is recognised as
it is; other headers are guessed with the importer's machinery and can be mapped on the page.
The steps reuse `lib.importer` (reading CSV/.xlsx/.gz, mapping, rejected rows) and run in one
transaction as the user, so row-level security applies to every write:

1. Python cleans each row (numbers, dates, countries, currency; repeated values parsed once) and
   `COPY`s it, with its reasons when bad, into a temp staging table. A line's position is its
   rank among its order's lines in the file.
2. SQL checks what needs the whole file or the database: email syntax, order numbers already in
   the workspace ("already imported"), orders whose lines name two customers or currencies.
3. Set-based writes, no statement per row: customers (one company per customer id not yet known
   by `external_id` among companies, then contacts; named "Customer <id>" unless a name column
   is mapped; country = their most frequent country in the file), products (one per SKU not yet
   in the workspace; name = the SKU's most frequent description, price = its most frequent unit
   price), orders (one per number; ordered at its earliest line; `C…` numbers are cancellations,
   status `cancelled`, the others `paid`; paid_at / cancelled_at = ordered_at), then the lines
   in chunks of line numbers (for the progress bar). Order totals are kept by the statement
   trigger on order_lines.

Rows without a customer id are anonymous sales: their order has no customer. A country that is
not recognised (the retail file's "Channel Islands", "European Community", "Unspecified") is
left blank and reported, not rejected: it is context, not part of the sale. Dates without a
time zone are UTC; `d/m/y` or `m/d/y` is decided once per file (the first date that can only be
read one way), day first when nothing tells. Any rejected row loads nothing unless the caller
asks to load the valid rows.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

import psycopg

from lib import importer
from lib.csv_export import to_csv
from lib.customers import Kind
from lib.db import Claims, Database
from lib.errors import UserError
from lib.importer import (EMAIL_PATTERN, PREVIEW_ROWS, PROGRESS_EVERY, ImportResult, PreviewRow, Progress, Table,
                          _Abandon, _noop, _with_raw_values, data_rows, normalise_header,
                          read_table, unneutralise)
from lib.validation import clean_country, clean_currency, clean_date, clean_number

ORDER = Kind("order", "orders", "order line", "order lines", "number", ())
FIELDS = {
    "number": "Order number", "sku": "SKU / product code", "description": "Description", "quantity": "Quantity",
    "ordered_at": "Order date", "unit_price": "Unit price", "customer_ref": "Customer id (external)",
    "customer_name": "Customer name", "customer_email": "Customer email", "country": "Country",
    "currency": "Currency", "discount": "Discount %",
}
REQUIRED = ("number", "quantity", "ordered_at", "unit_price")
SYNONYMS = {
    "number": ["invoice no", "invoice number", "invoice", "invoice id", "order", "order no", "order number",
               "order id", "order ref", "order reference", "receipt", "receipt number", "transaction id",
               "document number", "numero de commande", "numero de facture", "bestellnummer"],
    "sku": ["sku", "stock code", "product code", "item code", "product id", "item id", "item number", "article",
            "article number", "reference", "ref", "part number", "code", "lineitem sku", "variant sku"],
    "description": ["description", "product", "product name", "item", "item name", "item description",
                    "lineitem name", "designation", "libelle", "article name"],
    "quantity": ["quantity", "qty", "units", "quantite", "menge", "cantidad", "lineitem quantity"],
    "ordered_at": ["invoice date", "order date", "date", "ordered at", "created at", "purchase date",
                   "transaction date", "sale date", "date de commande", "datum"],
    "unit_price": ["unit price", "price", "price each", "item price", "lineitem price", "prix unitaire", "prix",
                   "selling price"],
    "customer_ref": ["customer id", "customer", "customer number", "customer no", "customer ref", "client id",
                     "client number", "client", "account id", "account number", "buyer id", "member id"],
    "customer_name": ["customer name", "client name", "buyer", "buyer name", "billing name", "company",
                      "company name", "nom du client"],
    "customer_email": ["customer email", "email", "e mail", "buyer email", "client email", "billing email"],
    "country": ["country", "country code", "pays", "land", "pais", "ship country", "shipping country",
                "billing country"],
    "currency": ["currency", "currency code", "devise"],
    "discount": ["discount", "discount percent", "discount pct", "remise", "rabatt"],
}
LIMITS = {"number": 64, "sku": 64, "description": 500, "customer_ref": 100, "customer_name": 200,
          "customer_email": 200}
LINES_PER_CHUNK = 100_000
MAX_UNKNOWN_COUNTRIES = 20  # country values named in the report; the rest are counted together
DEFAULT_CURRENCY = "EUR"
STAGING = {
    "number": "text", "sku": "text", "description": "text", "quantity": "numeric", "unit_price": "numeric",
    "discount": "numeric", "ordered_at": "timestamptz", "customer_ref": "text", "customer_name": "text",
    "customer_email": "text", "country": "text", "currency": "text", "position": "integer",
}
_CURRENCY, _POSITION = list(STAGING).index("currency"), list(STAGING).index("position")
_SLASH_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})"
                         r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?")


def guess_mapping(headers: list[str]) -> dict[str, str | None]:
    """{header: field or None}, with the importer's rules; `InvoiceNo` matches `invoice no`."""
    pairs = []
    for name, label in FIELDS.items():
        for synonym in [normalise_header(name), normalise_header(label)] + SYNONYMS[name]:
            pairs.append((synonym, name))
            if " " in synonym:
                pairs.append((synonym.replace(" ", ""), name))
    return importer.guess_from(headers, pairs)


def missing_fields(mapping: dict[str, str | None]) -> list[str]:
    """Labels of the required fields no column is mapped to."""
    used = set(mapping.values())
    return [FIELDS[name] for name in REQUIRED if name not in used]


# -- cleaning rows in Python ------------------------------------------------------------------

def parse_when(raw: str, day_first: bool = True) -> datetime:
    """A timestamp (UTC when the text has no zone) from ISO or d/m/y (m/d/y) text, with an optional time."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None:
        match = _SLASH_DATE.fullmatch(text)
        if match:
            a, b, year, hour, minute, second, half = match.groups()
            day, month = (int(a), int(b)) if day_first else (int(b), int(a))
            year = int(year) + (2000 if len(year) == 2 else 0)
            hour = int(hour or 0)
            if half:
                if not 1 <= hour <= 12:
                    raise ValueError(f"“{raw}” is not a date and time.")
                hour = hour % 12 + (12 if half.lower() == "pm" else 0)
            try:
                value = datetime(year, month, day, hour, int(minute or 0), int(second or 0))
            except ValueError:
                order = "day/month/year" if day_first else "month/day/year"
                raise ValueError(f"“{raw}” is not a date ({order}, as the file's other dates).") from None
        else:
            try:
                value = datetime.combine(clean_date(text, "date"), datetime.min.time())
            except ValueError:  # its message is escaped for markdown; the rejected rows are plain text
                raise ValueError(f"“{raw}” is not a date (use YYYY-MM-DD, or day/month/year).") from None
    if not 1900 <= value.year <= 2200:
        raise ValueError(f"“{raw}” is not a plausible order date.")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def guess_day_first(table: Table, mapping: dict[str, str | None], look: int = 2000) -> bool:
    """Whether the file's d/m/y-looking dates are day first: the first date with a day above 12
    decides; day first when the first `look` dates are ISO or nothing decides."""
    index = importer._column_index(table.headers, mapping, "ordered_at")
    if index is None:
        return True
    plain = 0
    rows = data_rows(table)
    try:
        for _line, values in rows:
            match = _SLASH_DATE.match(values[index].strip()) if index < len(values) else None
            if match is None:
                plain += 1
                if plain >= look:
                    return True
                continue
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12 or second > 12:
                return first > 12
    finally:
        rows.close()
    return True


def _number(raw: str, what: str) -> float | int:
    try:
        return clean_number(raw, what)
    except ValueError:  # its message is escaped for markdown; the rejected rows are plain text
        raise ValueError(f"“{raw}” is not a number.") from None


def _quantity(raw: str) -> float | int:
    number = round(_number(raw, "quantity"), 3)
    if number == 0:
        raise ValueError("0 is not a quantity (returns are negative quantities).")
    if abs(number) >= 1e11:
        raise ValueError(f"“{raw}” is too large a quantity.")
    return number


def _price(raw: str) -> float | int:
    number = _number(raw, "unit price")
    if number < 0:
        raise ValueError(f"{raw} is negative; a unit price is 0 or more (a return is a negative quantity).")
    if number >= 1e10:
        raise ValueError(f"“{raw}” is too large a price.")
    return number


def _discount(raw: str) -> float | int:
    number = _number(raw.rstrip("% "), "discount")
    if not 0 <= number <= 100:
        raise ValueError(f"“{raw}” is not a percentage between 0 and 100.")
    return round(number, 2)


def _customer_ref(raw: str) -> str:
    text = " ".join(raw.split())
    if re.fullmatch(r"\d+\.0+", text):  # a number a spreadsheet wrote as a float: 17850.0
        text = text.split(".")[0]
    return text


def _country(raw: str) -> str | None:
    """ISO2 code, or None when the name is not a country we know (left blank, reported)."""
    try:
        return clean_country(raw)
    except ValueError:
        return None


class _Bad(str):
    """Why a value is bad (returned, not raised: remembered like good values)."""


def _memo(check: Callable[[str], Any], size: int = 1 << 16) -> Callable[[str], Any]:
    """`check` remembered per value (files repeat their numbers, dates, codes and descriptions)."""
    @lru_cache(maxsize=size)
    def run(raw: str) -> Any:
        try:
            return check(raw)
        except ValueError as exc:
            return _Bad(exc)
    return run


def _text(name: str, clean: Callable[[str], str] = str) -> Callable[[str], Any]:
    limit = LIMITS[name]

    def check(raw: str) -> str:
        value = clean(raw)
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters.")
        return value
    return check


def _spaces(raw: str) -> str:
    return " ".join(raw.split())


class LineCleaner:
    """A file row -> the staged values (STAGING order) and the reasons it is bad; counts the
    order's lines for positions and the countries it could not read."""

    def __init__(self, headers: list[str], mapping: dict[str, str | None], currency: str, day_first: bool):
        self.width = len(headers)
        self.index = importer.mapped_columns(headers, mapping, FIELDS, "order lines")
        missing = missing_fields(mapping)
        if missing:
            raise UserError("Map a column to each of: " + ", ".join(missing) + ".")
        checks: dict[str, Callable[[str], Any]] = {
            "number": _text("number", _spaces), "sku": _text("sku"), "description": _text("description"),
            "quantity": _quantity, "unit_price": _price, "discount": _discount,
            "ordered_at": lambda raw: parse_when(raw, day_first), "customer_ref": _text("customer_ref", _customer_ref),
            "customer_name": _text("customer_name", _spaces), "customer_email": _text("customer_email", str.lower),
            "country": _country, "currency": clean_currency,
        }
        slots = {name: i for i, name in enumerate(STAGING)}
        self.steps = [(slots[name], index, FIELDS[name], _memo(checks[name])) for name, index in self.index.items()]
        self.country_slot = slots["country"] if "country" in self.index else None
        self.required = [(slots[name], FIELDS[name]) for name in REQUIRED]
        self.currency, self.day_first = currency, day_first
        self.positions: dict[str, int] = {}
        self.unknown_countries: dict[str, int] = {}

    def clean(self, values: list[str]) -> tuple[list[Any], str | None]:
        width = len(values)
        out: list[Any] = [None] * len(STAGING)
        errors: list[str] = []
        bad: set[int] = set()
        for slot, index, label, check in self.steps:
            raw = values[index].strip() if index < width else ""
            if not raw:
                continue
            if raw[0] == "'":
                raw = unneutralise(raw)
            value = check(raw)
            if value.__class__ is _Bad:
                errors.append(f"{label}: {value}")
                bad.add(slot)
            else:
                out[slot] = value
                if value is None and slot == self.country_slot:
                    unknown = self.unknown_countries
                    key = raw if raw in unknown or len(unknown) < MAX_UNKNOWN_COUNTRIES else "(other values)"
                    unknown[key] = unknown.get(key, 0) + 1
        for slot, label in self.required:
            if out[slot] is None and slot not in bad:
                errors.append(f"{label}: a value is required.")
        if width > self.width and any(v.strip() for v in values[self.width:]):
            errors.append(f"This line has {width} values but the header names {self.width} columns "
                          "(a delimiter or quote out of place?).")
        if out[_CURRENCY] is None:
            out[_CURRENCY] = self.currency
        if errors:
            return out, "; ".join(errors)
        number = out[0]
        out[_POSITION] = self.positions[number] = self.positions.get(number, 0) + 1
        return out, None


# -- staging and checks -----------------------------------------------------------------------

def _stage(conn: psycopg.Connection, workspace_id: str, table: Table, mapping: dict[str, str | None],
           currency: str, progress: Progress, limit: int | None = None) -> tuple[LineCleaner, int]:
    cleaner = LineCleaner(table.headers, mapping, currency, guess_day_first(table, mapping))
    conn.execute("create temp table order_staging (line integer primary key, error text, "
                 + ", ".join(f"{name} {kind}" for name, kind in STAGING.items()) + ") on commit drop")
    progress(0.0, "Reading the file")
    count = 0
    with conn.cursor() as cursor, cursor.copy(
            "copy order_staging (line, error, " + ", ".join(STAGING) + ") from stdin") as copy:
        for line, values in data_rows(table):
            staged, error = cleaner.clean(values)
            copy.write_row((line, error, *staged))
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(0.45 * table.fraction, f"Reading the file: {count:,} rows")
            if limit is not None and count >= limit:
                break
    progress(0.45, f"Checking {count:,} rows")
    _validate(conn, workspace_id, "customer_email" in cleaner.index)
    return cleaner, count


def _validate(conn: psycopg.Connection, workspace_id: str, has_email: bool) -> None:
    """The checks over the whole file and the workspace, written into `error`."""
    conn.execute("analyze order_staging")
    params = {"ws": workspace_id, "email_re": EMAIL_PATTERN}
    if has_email:
        conn.execute(
            "update order_staging set error = format('Customer email: “%%s” is not a valid email address.',"
            " customer_email) where error is null and customer_email !~ %(email_re)s", params)
    conn.execute(
        "update order_staging s set error = format('Order %%s is already in this workspace (imported before?).',"
        " s.number) from public.orders o where o.workspace_id = %(ws)s and o.number = s.number and s.error is null",
        params)
    conn.execute(
        "update order_staging s set error = case when b.ref_min <> b.ref_max"
        "   then format('Order %%s names more than one customer id (%%s, %%s); an order has one customer.',"
        "     s.number, b.ref_min, b.ref_max)"
        "   else format('Order %%s has lines in more than one currency (%%s, %%s).', s.number, b.cur_min, b.cur_max) end"
        " from (select number, min(customer_ref) as ref_min, max(customer_ref) as ref_max,"
        "         min(currency) as cur_min, max(currency) as cur_max from order_staging where error is null"
        "        group by number having min(customer_ref) <> max(customer_ref) or min(currency) <> max(currency)) b"
        " where s.number = b.number and s.error is null",
        params)


# -- the load ---------------------------------------------------------------------------------

@dataclass
class OrderImportResult(ImportResult):
    """`inserted` counts order lines; the rest says what the load made or found."""

    orders: int = 0
    cancelled: int = 0
    customers_reused: int = 0  # companies and contacts already in the workspace with that external id
    products_created: int = 0
    products_reused: int = 0
    anonymous_lines: int = 0  # lines of orders without a customer
    unknown_countries: dict[str, int] = field(default_factory=dict)  # value -> lines, left blank
    day_first: bool = True


def _load(conn: psycopg.Connection, workspace_id: str, result: OrderImportResult, progress: Progress) -> None:
    params: dict[str, Any] = {"ws": workspace_id}
    progress(0.5, "Finding and creating customers")
    conn.execute(
        "create temp table import_customers on commit drop as"
        " select customer_ref as ref, mode() within group (order by customer_name) as name,"
        "   mode() within group (order by customer_email) as email, mode() within group (order by country) as country,"
        "   null::uuid as company_id, null::uuid as contact_id"
        " from order_staging where error is null and customer_ref is not null group by customer_ref")
    conn.execute("update import_customers c set company_id = co.id from public.companies co"
                 " where co.workspace_id = %(ws)s and co.external_id = c.ref", params)
    conn.execute("update import_customers c set contact_id = k.id from public.contacts k"
                 " where k.workspace_id = %(ws)s and k.external_id = c.ref and c.company_id is null", params)
    result.customers_reused = conn.execute(
        "select count(*) as n from import_customers where company_id is not null or contact_id is not null"
    ).fetchone()["n"]
    # A new company takes its email only when no company has it yet (one company per email).
    result.companies_created = conn.execute(
        "with new as (select c.*, row_number() over (partition by c.email order by c.ref) as nth"
        "   from import_customers c where c.company_id is null and c.contact_id is null),"
        " made as (insert into public.companies (workspace_id, name, email, country, stage, external_id)"
        "   select %(ws)s, left(coalesce(n.name, 'Customer ' || n.ref), 200),"
        "     case when n.nth = 1 and not exists (select 1 from public.companies x where x.workspace_id = %(ws)s"
        "       and lower(x.email) = n.email) then n.email end, n.country, 'customer', n.ref"
        "   from new n order by n.ref returning id, external_id)"
        " update import_customers c set company_id = made.id from made where made.external_id = c.ref",
        params).rowcount
    progress(0.55, "Finding and creating products")
    conn.execute(
        "create temp table import_products on commit drop as"
        " select sku, mode() within group (order by description) as name,"
        "   mode() within group (order by unit_price) as price, mode() within group (order by currency) as currency,"
        "   null::uuid as id"
        " from order_staging where error is null and sku is not null group by sku")
    result.products_reused = conn.execute(
        "update import_products p set id = x.id from public.products x where x.workspace_id = %(ws)s and x.sku = p.sku",
        params).rowcount
    result.products_created = conn.execute(
        "with made as (insert into public.products (workspace_id, sku, name, price, currency)"
        "   select %(ws)s, p.sku, left(coalesce(p.name, p.sku), 300), p.price, p.currency"
        "   from import_products p where p.id is null order by p.sku returning id, sku)"
        " update import_products p set id = made.id from made where made.sku = p.sku", params).rowcount
    progress(0.6, "Creating orders")
    conn.execute("create temp table import_orders (id uuid primary key, number text not null,"
                 " anonymous boolean not null) on commit drop")
    conn.execute(
        "with plan as (select number, min(ordered_at) as ordered_at, min(customer_ref) as ref,"
        "     mode() within group (order by country) as country, min(currency) as currency,"
        "     case when left(number, 1) = 'C' then 'cancelled' else 'paid' end as status"
        "   from order_staging where error is null group by number),"
        " made as (insert into public.orders (workspace_id, number, company_id, contact_id, status, ordered_at,"
        "     paid_at, cancelled_at, country, currency)"
        "   select %(ws)s, p.number, c.company_id, c.contact_id, p.status, p.ordered_at,"
        "     case when p.status = 'paid' then p.ordered_at end, case when p.status = 'cancelled' then p.ordered_at end,"
        "     p.country, p.currency"
        "   from plan p left join import_customers c on c.ref = p.ref order by p.ordered_at, p.number"
        "   returning id, number, customer_id)"
        " insert into import_orders select id, number, customer_id is null from made", params)
    counts = conn.execute("select count(*) as n, count(*) filter (where left(number, 1) = 'C') as cancelled"
                          " from import_orders").fetchone()
    result.orders, result.cancelled = counts["n"], counts["cancelled"]
    conn.execute("analyze import_orders")
    conn.execute("analyze import_products")
    bounds = conn.execute("select min(line) as lo, max(line) as hi from order_staging where error is null").fetchone()
    lo, hi = bounds["lo"] or 0, bounds["hi"] or -1
    for start in range(lo, hi + 1, LINES_PER_CHUNK):
        progress(0.62 + 0.36 * (start - lo) / max(hi - lo + 1, 1), f"Saving order lines: {result.inserted:,}")
        result.inserted += conn.execute(
            "insert into public.order_lines (workspace_id, order_id, product_id, position, description, quantity,"
            "   unit_price, discount)"
            " select %(ws)s, o.id, p.id, s.position, s.description, s.quantity, s.unit_price, coalesce(s.discount, 0)"
            " from order_staging s join import_orders o on o.number = s.number"
            " left join import_products p on p.sku = s.sku"
            " where s.error is null and s.line >= %(lo)s and s.line < %(hi)s order by s.line",
            {**params, "lo": start, "hi": start + LINES_PER_CHUNK}).rowcount
    result.anonymous_lines = conn.execute(
        "select coalesce(sum(o.line_count), 0)::bigint as n from public.orders o join import_orders i on i.id = o.id"
        " where i.anonymous").fetchone()["n"]


def _currency_option(currency: str | None) -> str:
    try:
        return clean_currency(currency, DEFAULT_CURRENCY)
    except ValueError as exc:
        raise UserError(f"Currency: {exc}") from None


def _begin(conn: psycopg.Connection, workspace_id: str) -> None:
    if not conn.execute("select %s::uuid in (select private.my_workspace_ids('agent')) as ok",
                        [workspace_id]).fetchone()["ok"]:
        raise UserError("Your role cannot import orders.")
    # A whole file is one transaction: allow it more than an API call's statement timeout.
    conn.execute("select set_config('statement_timeout', '10min', true)")


def run_import(db: Database, claims: Claims, workspace_id: str, data: bytes, filename: str,
               mapping: dict[str, str | None], *, currency: str | None = None, load_valid_rows: bool = False,
               progress: Progress | None = None) -> OrderImportResult:
    """Import order lines in one transaction as the user (see the module docstring).

    `currency` (default EUR) is the currency of rows without a currency column. Raises UserError
    when the file cannot be read, a required field is not mapped or the user may not write.
    """
    progress = progress or _noop
    currency = _currency_option(currency)
    data, filename = importer.unpack(data, filename)
    table = read_table(data, filename)
    result = OrderImportResult(headers=list(table.headers))
    try:
        with db.as_user(claims) as conn:
            _begin(conn, workspace_id)
            cleaner, result.rows = _stage(conn, workspace_id, table, mapping, currency, progress)
            result.day_first = cleaner.day_first
            result.unknown_countries = dict(sorted(cleaner.unknown_countries.items(), key=lambda kv: -kv[1]))
            reasons = {r["line"]: r["error"] for r in conn.execute(
                "select line, error from order_staging where error is not null order by line").fetchall()}
            if reasons:
                progress(0.48, f"{len(reasons):,} rows have problems")
                result.rejected = _with_raw_values(table, reasons)
            if reasons and not load_valid_rows:
                raise _Abandon(result)
            _load(conn, workspace_id, result, progress)
            result.written = True
    except _Abandon:
        progress(1.0, "Nothing was imported")
        return result
    except psycopg.errors.UniqueViolation as exc:
        raise UserError("Some of these orders, customers or products were saved meanwhile (another import?); "
                        "nothing was imported, import again.") from exc
    except psycopg.Error as exc:
        raise importer._write_error(ORDER, exc) from exc
    progress(1.0, "Done")
    return result


def preview(db: Database, claims: Claims, workspace_id: str, data: bytes, filename: str,
            mapping: dict[str, str | None], *, currency: str | None = None,
            limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first `limit` rows with what the import would do (the same checks, rolled back)."""
    currency = _currency_option(currency)
    data, filename = importer.unpack(data, filename)
    table = read_table(data, filename)
    try:
        with db.as_user(claims) as conn:
            _begin(conn, workspace_id)
            _stage(conn, workspace_id, table, mapping, currency, _noop, limit)
            rows = conn.execute(
                "select s.line, s.error, s.number, s.customer_ref, s.sku,"
                "   exists (select 1 from public.companies c where c.workspace_id = %(ws)s and c.external_id = s.customer_ref)"
                "   or exists (select 1 from public.contacts k where k.workspace_id = %(ws)s"
                "     and k.external_id = s.customer_ref) as known_customer,"
                "   exists (select 1 from public.products p where p.workspace_id = %(ws)s and p.sku = s.sku) as known_product"
                " from order_staging s order by s.line", {"ws": workspace_id}).fetchall()
            raise _Abandon(rows)
    except _Abandon as done:
        staged = {r["line"]: r for r in done.payload}
    result = []
    for line, values in data_rows(table):
        row = staged.get(line)
        if row is None:
            break
        if row["error"]:
            result.append(PreviewRow(line, "rejected", row["error"], list(values)))
            continue
        what = "Cancellation" if row["number"].startswith("C") else "Sale"
        parts = [f"{what} {row['number']}"]
        if row["customer_ref"]:
            parts.append(f"customer {row['customer_ref']} ({'existing' if row['known_customer'] else 'new'})")
        else:
            parts.append("no customer (anonymous sale)")
        if row["sku"]:
            parts.append(f"product {row['sku']} ({'existing' if row['known_product'] else 'new'})")
        result.append(PreviewRow(line, "new", " · ".join(parts), list(values)))
    return result


# -- what the pages and the command line show --------------------------------------------------

def summary(result: OrderImportResult) -> str:
    """One sentence saying what happened."""
    if not result.written:
        return (f"Nothing was imported: {len(result.rejected):,} of {result.rows:,} rows have problems. "
                "Fix them, or choose to load the valid rows.")
    return (f"Orders: {result.orders:,} orders ({result.cancelled:,} cancelled) with {result.inserted:,} lines, "
            f"{len(result.rejected):,} rows rejected; customers {result.companies_created:,} new, "
            f"{result.customers_reused:,} existing; products {result.products_created:,} new, "
            f"{result.products_reused:,} existing; {result.anonymous_lines:,} lines without a customer (anonymous).")


def countries_note(result: OrderImportResult) -> str | None:
    """The country values left blank, most lines first."""
    if not result.unknown_countries:
        return None
    return "Countries not recognised, left blank: " + ", ".join(
        f"{name} ({lines:,} line{'' if lines == 1 else 's'})" for name, lines in result.unknown_countries.items()) + "."


def template_csv() -> bytes:
    """An example file in the retail layout: a sale, a cancellation, an anonymous sale."""
    columns = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    rows = [["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "2010-12-01 08:26:00", "2.55", "17850",
             "United Kingdom"],
            ["536365", "71053", "WHITE METAL LANTERN", "6", "2010-12-01 08:26:00", "3.39", "17850", "United Kingdom"],
            ["C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50", "14527", "United Kingdom"],
            ["536544", "21774", "DECORATIVE CATS BATHROOM BOTTLE", "2", "2010-12-01 14:32:00", "2.51", "",
             "United Kingdom"]]
    return to_csv((dict(zip(columns, r)) for r in rows), columns)


def command_line(db: Database, claims: Claims, workspace_id: str, data: bytes, filename: str,
                 args: argparse.Namespace) -> OrderImportResult:
    """`python -m lib.importer PATH --kind order`: columns guessed and printed, then the import."""
    data, filename = importer.unpack(data, filename)
    mapping = guess_mapping(read_table(data, filename).headers)
    for header, name in mapping.items():
        print(f"  {header!r:30} -> {FIELDS[name] if name else '(ignored)'}")
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if fraction >= last[0] + 0.1 or fraction >= 1.0:
            last[0] = fraction
            print(f"  {fraction:4.0%} {message}", flush=True)

    result = run_import(db, claims, workspace_id, data, filename, mapping, currency=args.currency,
                        load_valid_rows=args.load_valid, progress=progress)
    note = countries_note(result)
    if note:
        print(note)
    return result
