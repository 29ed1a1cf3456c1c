"""Exporting the customer list (whatever the filters show) as CSV or Excel, streamed.

Rows come from `lib.customer_search.iter_rows`, a server-side cursor, so a large list is never
held at once: the CSV is produced chunk by chunk and the workbook with openpyxl's write-only mode.
Every text cell starting with = + - @ (or a tab or carriage return) is neutralised with a
leading apostrophe (`lib.csv_export.safe_cell`) so no spreadsheet runs it as a formula; the
importer removes that apostrophe again, so an exported file imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from typing import Iterable, Iterator, Mapping, Sequence

from lib.csv_export import safe_cell
from lib.custom_fields import FieldDef
from lib.customers import CONTACT, FIELD_LABELS, Kind

ROWS_PER_CHUNK = 500

_CONTACT_COLUMNS = ["first_name", "last_name", "email", "phone", "company_name", "title", "stage", "owner_name",
                    "tags", "source", "website", "address", "postal_code", "city", "country", "consent",
                    "consent_source", "notes", "created_at", "last_contacted_at"]
_COMPANY_COLUMNS = ["name", "industry", "email", "phone", "website", "stage", "owner_name", "tags", "source",
                    "address", "postal_code", "city", "country", "consent", "consent_source", "notes", "contacts",
                    "created_at", "last_contacted_at"]
_HEADERS = {**FIELD_LABELS, "company_name": "Company", "owner_name": "Owner", "contacts": "Contacts",
            "created_at": "Created", "last_contacted_at": "Last contacted"}


def export_columns(kind: Kind, custom_defs: Sequence[FieldDef]) -> tuple[list[str], list[str]]:
    """(columns, headers) of an export: the list's fields, then each custom field (`custom.<key>`)."""
    columns = list(_CONTACT_COLUMNS if kind is CONTACT else _COMPANY_COLUMNS)
    headers = [_HEADERS.get(c, c) for c in columns]
    for definition in custom_defs:
        columns.append(definition.form_key)
        headers.append(definition.label)
    return columns, headers


def _value(row: Mapping[str, object], column: str) -> object:
    """The cell value of `column`: custom fields from the jsonb, tags joined, yes/no for flags."""
    if column.startswith("custom."):
        value = (row.get("custom") or {}).get(column[7:])
    else:
        value = row.get(column)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value


def _text(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def export_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str], headers: Sequence[str]) -> Iterator[bytes]:
    """UTF-8 CSV (with a BOM, so Excel reads accents right), yielded a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(h) for h in headers])
    for n, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(_text(_value(row, c))) for c in columns])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _excel(value: object) -> object:
    """A cell openpyxl can write: naive UTC datetimes, text without XML-illegal characters."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def export_xlsx(rows: Iterable[Mapping[str, object]], columns: Sequence[str], headers: Sequence[str],
                sheet_title: str = "Export") -> bytes:
    """An .xlsx workbook of the rows, written in openpyxl's streaming (write-only) mode."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title[:31])
    sheet.append([_excel(safe_cell(h)) for h in headers])
    for row in rows:
        sheet.append([_excel(safe_cell(_value(row, c))) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
