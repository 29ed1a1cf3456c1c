"""CSV export that spreadsheet programs cannot execute: cells starting with = + - @ (or a tab or
carriage return) get a leading apostrophe, as OWASP recommends against formula injection."""

from __future__ import annotations

import csv
import io
from typing import Iterable, Mapping, Sequence

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return "" if value is None else value


def to_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str], headers: Sequence[str] | None = None) -> bytes:
    """UTF-8 CSV (with BOM, so Excel reads accents right) of `columns` from each row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in (headers or columns)])
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
