"""Importing contacts and companies from CSV or Excel (.xlsx), all or nothing.

    python -m lib.importer PATH --workspace WS --email USER_EMAIL [--kind contact|company] [--update] [--load-valid]
    python -m lib.importer PATH --workspace WS --email USER_EMAIL --kind deal [--pipeline NAME]
        [--stage "Engaging=Qualified" ...] [--currency USD] [--load-valid]
    python -m lib.importer orders.csv.gz --workspace WS --email USER_EMAIL --kind order [--currency GBP] [--load-valid]

PATH may be gzip-compressed (`.csv.gz`): `unpack` decompresses it in memory first.

The steps, one transaction as the user:

1. `read_table` streams the file's rows: the encoding (UTF-8 with or without BOM, else cp1252,
   else Latin-1) and the delimiter (, ; tab |) are detected; Excel rows are read with openpyxl in
   read-only mode. Nothing is held per row, so memory stays flat beyond the uploaded bytes.
2. Python cleans what needs a library (phone numbers, countries, dates, tags, yes/no, stages,
   custom field values; repeated values are parsed once) and `COPY`s every row, with the reason
   when a value is bad, into a temporary staging table (`on commit drop`).
3. SQL checks the rest over the whole file at once: required values, email syntax, emails
   repeated inside the file (the first line wins), emails already in the workspace (skip or
   update), owners, custom field types and required custom fields.
4. One `INSERT … SELECT` (and one `UPDATE … FROM` for updates; for contacts, one insert of the
   companies named in the file that do not exist yet). These run under row-level security like
   any other write of the user; `COPY` straight into the tables would not be allowed.

If any row is rejected and the caller did not ask to load the valid rows, the transaction is
rolled back and nothing at all is written; the result lists every rejected line and why.
`preview` runs the very same steps on the first rows and rolls back, so what it shows is what
the import will do.

Deals (`run_deal_import`, see the "deals" section) follow the same steps onto a chosen pipeline:
each stage value found in the file is mapped to one of its stages, companies and contacts are
matched or created, and every deal is inserted directly at its stage.

Order lines (`--kind order`, the retail layout `InvoiceNo, StockCode, …`) live in
`lib.order_import`, which reuses this module's reading, mapping guesses and rejected rows: the
same steps create customers (by external id), products (by SKU), orders and their lines.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import re
import sys
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Callable, Iterator

import psycopg
from psycopg import sql

from lib import custom_fields
from lib.csv_export import to_csv
from lib.customers import CONTACT, FIELD_LABELS, KINDS, STAGE_LABELS, STAGES, Kind, kind_of
from lib.db import Claims, Database
from lib.errors import UserError
from lib.validation import (clean_bool, clean_country, clean_currency, clean_date, clean_number, clean_phone, clean_tags,
                            clean_url)

Progress = Callable[[float, str], None]

DELIMITERS = ",;\t|"
SAMPLE_CHARS = 64 * 1024
CHUNK = 1 << 20
PROGRESS_EVERY = 5000
PREVIEW_ROWS = 20
MAX_UNPACKED = 1 << 30  # what a .gz upload may grow to
# Emails as the load accepts them (checked in SQL over the whole file).
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- reading files ---------------------------------------------------------------------------

@dataclass
class Table:
    """A file's header and a way to stream its rows as (line number, values), any number of times.

    `fraction` tells how far the current pass has read (for progress bars).
    """

    headers: list[str]
    _open: Callable[["Table"], Iterator[tuple[int, list[str]]]] = field(repr=False)
    format: str = "csv"
    encoding: str | None = None
    delimiter: str | None = None
    fraction: float = 0.0

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        self.fraction = 0.0
        return self._open(self)


def unpack(data: bytes, filename: str, limit: int = MAX_UNPACKED) -> tuple[bytes, str]:
    """A gzip-compressed upload (`orders.csv.gz`) decompressed, and its name without `.gz`;
    anything else as it is. UserError when it would grow beyond `limit` bytes."""
    if data[:2] != b"\x1f\x8b":
        return data, filename
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
            raw = packed.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"This .gz file cannot be decompressed ({exc}).") from None
    if len(raw) > limit:
        raise UserError(f"Decompressed, this file is larger than {limit // 2**20:,} MiB; split it.")
    name = filename[:-3] if filename.lower().endswith(".gz") else filename
    return raw, name


def read_table(data: bytes, filename: str) -> Table:
    """The table in an uploaded CSV or .xlsx file; UserError when it cannot be read."""
    name = (filename or "").lower()
    if name.endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return _xlsx_table(data)
    if name.endswith((".xls", ".numbers", ".ods")):
        raise UserError("Save the spreadsheet as .xlsx (Excel) or .csv and upload that.")
    return _csv_table(data)


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether all of `data` decodes, without holding the decoded text (chunk by chunk)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    try:
        for start in range(0, len(view), CHUNK):
            decoder.decode(view[start:start + CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(data: bytes) -> str:
    """utf-8-sig (with a BOM), utf-8, cp1252 (Windows Western) or, failing all, latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        if _decodes(data, encoding):
            return encoding
    return "latin-1"


def detect_delimiter(sample: str) -> str:
    """`csv.Sniffer` over , ; tab |, checked against the header line (the sniffer may guess wrong)."""
    lines = sample.splitlines()
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    if len(lines) > 1 and "\n" in sample:
        sample = sample[: sample.rfind("\n")]  # whole lines only
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and counts.get(sniffed, 0) > 0:
        return sniffed
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _clean_headers(raw: list[object]) -> list[str]:
    """Trimmed headers without trailing blanks; blank ones named `Column N`, repeated ones numbered."""
    headers = [" ".join(str(h).split()) if h is not None else "" for h in raw]
    while headers and not headers[-1]:
        headers.pop()
    seen: dict[str, int] = {}
    result = []
    for i, header in enumerate(headers):
        header = header or f"Column {i + 1}"
        seen[header.lower()] = seen.get(header.lower(), 0) + 1
        result.append(header if seen[header.lower()] == 1 else f"{header} ({seen[header.lower()]})")
    return result


def _csv_table(data: bytes) -> Table:
    encoding = detect_encoding(data)
    sample = codecs.getincrementaldecoder(encoding)(errors="ignore").decode(data[: SAMPLE_CHARS * 2])[:SAMPLE_CHARS]
    if not sample.strip():
        raise UserError("The file is empty.")
    delimiter = detect_delimiter(sample.lstrip("\ufeff"))
    strip_nul = b"\x00" in data

    def open_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
        raw = io.BytesIO(data)  # shares `data`'s buffer, no copy
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        size = max(len(data), 1)
        last_line = 0
        try:
            for values in reader:
                line, last_line = last_line + 1, reader.line_num
                if strip_nul:
                    values = [v.replace("\x00", "") for v in values]
                yield line, values
                if line % 1000 == 0:
                    table.fraction = raw.tell() / size
        except csv.Error as exc:
            raise UserError(f"Line {last_line + 1} of the file cannot be read: {exc}.") from None
        finally:
            table.fraction = 1.0

    table = Table([], open_rows, "csv", encoding, delimiter)
    table.headers = _header_from(table)
    return table


def _cell_text(value: object) -> str:
    """An Excel cell as the text a CSV would have held."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # phone numbers and postal codes typed as numbers
    return str(value)


def _xlsx_table(data: bytes) -> Table:
    import openpyxl

    def open_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # zipfile, XML and openpyxl errors alike: not a readable workbook
            raise UserError(f"This is not an Excel (.xlsx) file we can read ({exc}).") from None
        try:
            sheet = book.worksheets[0]
            total = sheet.max_row or 0
            for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [_cell_text(v) for v in row]
                if total and line % 1000 == 0:
                    table.fraction = min(line / total, 1.0)
        finally:
            table.fraction = 1.0
            book.close()

    table = Table([], open_rows, "xlsx")
    table.headers = _header_from(table)
    return table


def _header_from(table: Table) -> list[str]:
    """The first non-empty row, as headers."""
    rows = table.rows()
    try:
        for _line, values in rows:
            if any(str(v).strip() for v in values):
                headers = _clean_headers(values)
                if headers:
                    return headers
    finally:
        rows.close()
    raise UserError("The file has no header row: its first line should name the columns.")


def data_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header row, blank rows left out."""
    seen_header = False
    for line, values in table.rows():
        if not any(v.strip() for v in values if v):
            continue
        if not seen_header:
            seen_header = True
            continue
        yield line, values


# -- mapping columns to fields ----------------------------------------------------------------

EXTRA_LABELS = {
    "full_name": "Full name (split into first and last)",
    "company": "Company (by name)",
    "owner": "Owner (member email or name)",
}
TEXT_LIMITS = {
    "first_name": 100, "last_name": 100, "title": 100, "industry": 100, "name": 200, "company": 200,
    "address": 300, "city": 100, "postal_code": 20, "source": 100, "consent_source": 100, "owner": 200,
}
SYNONYMS = {
    "email": ["email", "e mail", "email address", "e mail address", "mail", "courriel", "adresse email",
              "adresse e mail", "adresse mail", "correo", "correo electronico", "work email", "primary email"],
    "phone": ["phone", "phone number", "tel", "tel number", "telephone", "telephone number", "mobile",
              "mobile phone", "mobile number", "cell", "cell phone", "portable", "numero de telephone",
              "work phone", "telefon", "telefono"],
    "first_name": ["first name", "firstname", "first", "given name", "forename", "prenom", "vorname", "nombre"],
    "last_name": ["last name", "lastname", "last", "surname", "family name", "nom", "nom de famille",
                  "nachname", "apellido", "apellidos"],
    "full_name": ["name", "full name", "fullname", "contact", "contact name", "nom complet", "person",
                  "display name"],
    "company": ["company", "company name", "societe", "entreprise", "organisation", "organization", "org",
                "account", "account name", "employer", "business", "business name", "firma", "raison sociale",
                "unternehmen", "empresa"],
    "name": ["name", "company", "company name", "societe", "entreprise", "organisation", "organization",
             "account", "account name", "business", "business name", "firma", "raison sociale", "nom",
             "unternehmen", "empresa"],
    "title": ["title", "job title", "position", "role", "job", "fonction", "poste", "titre"],
    "industry": ["industry", "sector", "secteur", "branche", "industrie"],
    "website": ["website", "web site", "web", "url", "site", "site web", "homepage", "www", "domain"],
    "address": ["address", "street", "street address", "adresse", "address line 1", "rue", "strasse"],
    "city": ["city", "town", "ville", "locality", "ort", "ciudad", "stadt"],
    "postal_code": ["postal code", "postcode", "post code", "zip", "zip code", "zipcode", "code postal", "cp",
                    "plz"],
    "country": ["country", "pays", "country code", "land", "pais", "nation"],
    "owner": ["owner", "account owner", "contact owner", "owner email", "owner name", "assigned to",
              "assignee", "responsable", "sales rep"],
    "source": ["source", "lead source", "origin", "origine", "channel"],
    "stage": ["stage", "lifecycle stage", "lifecycle", "status", "lead status", "etape", "statut"],
    "tags": ["tags", "tag", "labels", "label", "categories", "category", "groups", "segments"],
    "consent": ["consent", "marketing consent", "opt in", "optin", "newsletter", "subscribed",
                "email opt in", "accepts marketing"],
    "consent_source": ["consent source", "opt in source"],
    "notes": ["notes", "note", "comment", "comments", "remarks", "description", "commentaire", "commentaires"],
}


# Deals are imported onto a pipeline: their stage by the file's own stage names (mapped on the
# page), their company and contact by name or email (created when missing).
DEAL = Kind("deal", "deals", "deal", "deals", "title", ())
DEAL_FIELDS = {
    "title": "Deal title", "value": "Value", "currency": "Currency", "expected_close_date": "Expected close date",
    "stage": "Stage (mapped to the pipeline)", "company": "Company (by name)", "contact_email": "Contact email",
    "contact_name": "Contact name", "owner": "Owner (member email or name)", "source": "Source",
    "lost_reason": "Lost reason", "product": "Product (names the deal when there is no title)",
}
DEAL_SYNONYMS = {
    "title": ["title", "deal", "deal name", "deal title", "opportunity name", "opportunity title", "name", "subject"],
    "value": ["value", "amount", "deal value", "deal amount", "close value", "closed value", "opportunity amount",
              "revenue", "montant"],
    "currency": ["currency", "currency code", "devise"],
    "expected_close_date": ["close date", "expected close date", "expected close", "closing date", "close",
                            "date de cloture"],
    "stage": ["stage", "deal stage", "sales stage", "pipeline stage", "status", "deal status", "etape", "statut"],
    "company": SYNONYMS["company"],
    "contact_email": ["contact email", "email", "e mail", "email address", "contact e mail", "courriel"],
    "contact_name": ["contact", "contact name", "contact person", "person", "full name"],
    "owner": SYNONYMS["owner"] + ["deal owner", "opportunity owner", "sales agent", "agent", "salesperson",
                                  "sales person", "rep"],
    "source": SYNONYMS["source"],
    "lost_reason": ["lost reason", "loss reason", "reason lost", "reason"],
    "product": ["product", "product name", "item", "produit"],
}


def record_kind(kind: Kind | str) -> Kind:
    """contact, company or deal, by name or as is."""
    if isinstance(kind, Kind):
        return kind
    return DEAL if kind == DEAL.name else kind_of(kind)


def import_fields(kind: Kind) -> list[str]:
    """The built-in fields a column can fill: the kind's fields, with the company and owner by
    name rather than id, and (contacts) a full name split into first and last."""
    fields = []
    for name in kind.fields:
        if name == "custom":
            continue
        fields.append({"company_id": "company", "owner_id": "owner"}.get(name, name))
    if kind is CONTACT:
        fields.insert(fields.index("last_name") + 1, "full_name")
    return fields


def field_label(name: str, defs: list[custom_fields.FieldDef] = ()) -> str:
    if name.startswith("custom."):
        for definition in defs:
            if definition.form_key == name:
                return f"{definition.label} (custom)"
    return EXTRA_LABELS.get(name) or FIELD_LABELS.get(name, name)


def field_options(kind: Kind, defs: list[custom_fields.FieldDef]) -> dict[str, str]:
    """{field: label} of everything a column can be mapped to."""
    if record_kind(kind) is DEAL:
        return dict(DEAL_FIELDS)
    options = {f: field_label(f) for f in import_fields(kind)}
    options.update({d.form_key: field_label(d.form_key, defs) for d in defs})
    return options


def normalise_header(text: str) -> str:
    """`E-mail_Address ` -> `e mail address`: case, accents, punctuation and underscores ignored."""
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def _candidates(kind: Kind, defs: list[custom_fields.FieldDef]) -> list[tuple[str, str]]:
    """(normalised name, field), the most specific first."""
    if kind is DEAL:
        return [(synonym, name) for name, label in DEAL_FIELDS.items()
                for synonym in [normalise_header(name), normalise_header(label)] + DEAL_SYNONYMS[name]]
    pairs = []
    for name in import_fields(kind):
        for synonym in [normalise_header(name), normalise_header(field_label(name))] + SYNONYMS.get(name, []):
            pairs.append((synonym, name))
    for definition in defs:
        for synonym in (definition.key, definition.label, definition.form_key, f"{definition.label} custom"):
            pairs.append((normalise_header(synonym), definition.form_key))
    return pairs


def guess_mapping(headers: list[str], kind: Kind | str, custom_defs: list[custom_fields.FieldDef] = ()) -> dict[str, str | None]:
    """{header: field or None}: exact (normalised) names first, then headers that contain a name.

    Each field is given to one column at most (the leftmost that matches).
    """
    return guess_from(headers, _candidates(record_kind(kind), list(custom_defs)))


def guess_from(headers: list[str], pairs: list[tuple[str, str]]) -> dict[str, str | None]:
    """`guess_mapping` over any (normalised synonym, field) pairs, the most specific first."""
    exact: dict[str, str] = {}
    for synonym, name in pairs:
        exact.setdefault(synonym, name)
    mapping: dict[str, str | None] = {h: None for h in headers}
    taken: set[str] = set()
    for header in headers:
        name = exact.get(normalise_header(header))
        if name and name not in taken:
            mapping[header], _ = name, taken.add(name)
    # Short words ("last", "tel") only match whole headers: "Last contacted" is not a last name.
    by_length = sorted(((s, n) for s, n in pairs if len(s) >= 5), key=lambda p: -len(p[0]))
    for header in headers:
        if mapping[header] or normalise_header(header) in exact:
            continue  # mapped, or exactly a field already given to an earlier column
        words = f" {normalise_header(header)} "
        for synonym, name in by_length:
            if name not in taken and f" {synonym} " in words:
                mapping[header] = name
                taken.add(name)
                break
    return mapping


# -- cleaning rows in Python ------------------------------------------------------------------

STAGING_COLUMNS = {
    "contact": ["first_name", "last_name", "company", "title", "email", "phone", "website", "address", "city",
                "postal_code", "country", "owner", "source", "stage", "tags", "consent", "consent_source",
                "notes", "custom"],
    "company": ["name", "industry", "email", "phone", "website", "address", "city", "postal_code", "country",
                "owner", "source", "stage", "tags", "consent", "consent_source", "notes", "custom"],
}
STAGING_TYPES = {"tags": "text[]", "consent": "boolean", "custom": "jsonb"}
_STAGE_WORDS = {**{s: s for s in STAGES}, **{label.lower(): s for s, label in STAGE_LABELS.items()}}


def unneutralise(text: str) -> str:
    """Undo our own export's protection against formulas: `'=x` back to `=x`."""
    if text[:1] == "'" and text[1:2] and text[1:2] in "=+-@\t\r":
        return text[1:]
    return text


def _text_cleaner(name: str) -> Callable[[str], str]:
    limit = TEXT_LIMITS.get(name, 100)
    label = field_label(name)

    def clean(raw: str) -> str:
        text = " ".join(raw.split())
        if len(text) > limit:
            raise ValueError(f"{label} can be at most {limit} characters long.")
        return text
    return clean


def _notes(raw: str) -> str:
    if len(raw) > 10000:
        raise ValueError("Notes can be at most 10,000 characters long.")
    return raw


def _clean_stage(raw: str) -> str:
    stage = _STAGE_WORDS.get(raw.lower())
    if stage is None:
        raise ValueError(f"“{raw}” is not a stage; use {', '.join(STAGE_LABELS.values())}.")
    return stage


def _email(raw: str) -> str:
    return raw.lower()  # the syntax is checked in SQL, over the whole file


def _cached(check: Callable[..., Any], size: int = 20000) -> Callable[..., Any]:
    """`check` remembered per argument, failures included (a bad value repeated is parsed once)."""
    @lru_cache(maxsize=size)
    def outcome(*args):
        try:
            return True, check(*args)
        except ValueError as exc:
            return False, str(exc)

    def cached(*args):
        ok, value = outcome(*args)
        if not ok:
            raise ValueError(value)
        return value
    return cached


_country = _cached(clean_country)
_phone = _cached(clean_phone, 4096)  # mostly unique values: keep the cache small
_tags = _cached(lambda raw: tuple(clean_tags(raw)))
_url = _cached(clean_url)
_bool = _cached(lambda raw: clean_bool(raw, "marketing consent"))


def _split_name(full: str) -> tuple[str | None, str | None]:
    """`Ann Example` -> (Ann, Example); `Example, Ann` -> (Ann, Example)."""
    text = " ".join(full.split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = text.partition(" ")
    return first or None, last or None


def mapped_columns(headers: list[str], mapping: dict[str, str | None], fields, what: str) -> dict[str, int]:
    """{field: index of the first column mapped to it}, in file order; UserError for a column
    mapped to something that is not one of `fields` (a field of `what`)."""
    columns: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = mapping.get(header)
        if not name or name in columns:
            continue
        if name not in fields:
            raise UserError(f"The column “{header}” is mapped to “{name}”, which is not a field of {what}.")
        columns[name] = index
    return columns


class RowCleaner:
    """Turns a file row into the staged values of the mapped fields, plus the reasons it is bad."""

    def __init__(self, kind: Kind, headers: list[str], mapping: dict[str, str | None],
                 defs: list[custom_fields.FieldDef]):
        self.kind = kind
        self.width = len(headers)
        defs_by_key = {d.form_key: d for d in defs}
        allowed = set(field_options(kind, defs))
        self.steps: list[tuple[int, str, str, Callable[[str], Any]]] = []
        self.country_index = self.phone_index = None
        found = mapped_columns(headers, mapping, allowed, kind.plural)
        for name, index in found.items():
            if name == "phone":
                self.phone_index = index
                continue
            if name == "country":
                self.country_index = index
            self.steps.append((index, name, field_label(name, defs), self._cleaner(name, defs_by_key)))
        self.mapped = mapped = list(found)
        self.custom_keys = [defs_by_key[n].key for n in mapped if n in defs_by_key]
        columns = STAGING_COLUMNS[kind.name]
        present = {n for n in mapped if not n.startswith("custom.")}
        if "full_name" in present:
            present |= {"first_name", "last_name"}
        if self.custom_keys:
            present.add("custom")
        self.columns = [c for c in columns if c in present]
        self._slot = {c: i for i, c in enumerate(self.columns)}

    @staticmethod
    def _cleaner(name: str, defs_by_key: dict[str, custom_fields.FieldDef]) -> Callable[[str], Any]:
        if name in defs_by_key:
            definition = defs_by_key[name]
            return _cached(lambda raw: custom_fields.clean_value(definition, raw), 5000)
        special = {"email": _email, "country": _country, "website": _url, "stage": _clean_stage, "tags": _tags,
                   "consent": _bool, "notes": _notes}
        return special.get(name) or _text_cleaner(name)

    def clean(self, values: list[str]) -> tuple[list[Any], str | None]:
        """The staged values (in `self.columns` order) and the reasons the row is bad, or None."""
        out: list[Any] = [None] * len(self.columns)
        slot = self._slot
        errors: list[str] = []
        custom: dict[str, Any] = {}
        full_name = None
        width = len(values)
        for index, name, label, check in self.steps:
            raw = values[index].strip() if index < width else ""
            if not raw:
                continue
            if raw[0] == "'":
                raw = unneutralise(raw)
            try:
                value = check(raw)
            except ValueError as exc:
                errors.append(f"{label}: {exc}")
                continue
            if name == "full_name":
                full_name = value
            elif name[0] == "c" and name.startswith("custom."):
                if value is not None:
                    custom[name[7:]] = value
            else:
                out[slot[name]] = list(value) if name == "tags" else value
        if self.phone_index is not None:
            raw = values[self.phone_index].strip() if self.phone_index < width else ""
            if raw:
                try:
                    out[slot["phone"]] = _phone(unneutralise(raw), out[slot["country"]] if "country" in slot else None)
                except ValueError as exc:
                    errors.append(f"Phone: {exc}")
        if full_name:
            first, last = _split_name(full_name)
            if out[slot["first_name"]] is None and out[slot["last_name"]] is None:
                out[slot["first_name"]], out[slot["last_name"]] = first, last
        if custom:
            out[slot["custom"]] = custom
        if width > self.width and any(v.strip() for v in values[self.width:]):
            errors.append(f"This line has {width} values but the header names {self.width} columns "
                          "(a delimiter or quote out of place?).")
        return out, "; ".join(errors) or None


# -- the load ---------------------------------------------------------------------------------

@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: list[tuple[int, str, list[str]]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: int = 0  # data rows in the file
    companies_created: int = 0
    written: bool = False  # False: rolled back because of rejected rows (nothing was written)
    # Deals only:
    contacts_created: int = 0
    unassigned: int = 0  # deals whose owner in the file is not (exactly one) member: left without owner
    unmapped_stages: list[str] = field(default_factory=list)  # the file's stage values no stage was chosen for
    by_stage: dict[str, int] = field(default_factory=dict)  # stage name -> deals (valid rows), pipeline order

    @property
    def valid(self) -> int:
        """Rows that were (or, when nothing was written, would have been) inserted, updated or skipped."""
        return self.rows - len(self.rejected)


class _Abandon(Exception):
    """Leaves the user transaction by rolling it back, carrying what to return."""

    def __init__(self, payload: object):
        super().__init__("rolled back")
        self.payload = payload


def _noop(_fraction: float, _message: str) -> None:
    pass


def _create_staging(conn: psycopg.Connection, columns: list[str]) -> None:
    definitions = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(STAGING_TYPES.get(c, "text"))) for c in columns]
    conn.execute(sql.SQL(
        "create temp table import_staging (line integer primary key, error text, action text not null default 'insert',"
        " target_id uuid, owner_id uuid, {}) on commit drop").format(sql.SQL(", ").join(definitions)))


def _copy_rows(conn: psycopg.Connection, table: Table, cleaner: RowCleaner, progress: Progress,
               start: float, end: float, limit: int | None = None) -> int:
    """COPY every data row (or the first `limit`) into the staging table; returns how many."""
    from psycopg.types.json import Jsonb

    custom_slot = cleaner.columns.index("custom") if "custom" in cleaner.columns else None
    statement = sql.SQL("copy import_staging (line, error, {}) from stdin").format(
        sql.SQL(", ").join(map(sql.Identifier, cleaner.columns)))
    count = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for line, values in data_rows(table):
            staged, error = cleaner.clean(values)
            if custom_slot is not None and staged[custom_slot] is not None:
                staged[custom_slot] = Jsonb(staged[custom_slot])
            copy.write_row((line, error, *staged))
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(start + (end - start) * table.fraction, f"Reading the file: {count:,} rows")
            if limit is not None and count >= limit:
                break
    return count


def _validate(conn: psycopg.Connection, kind: Kind, workspace_id: str, cleaner: RowCleaner, on_existing: str) -> None:
    """Every check that needs the whole file or the database, written into `error` and `action`."""
    conn.execute("analyze import_staging")
    columns = set(cleaner.columns)
    params = {"ws": workspace_id, "record_type": kind.name, "email_re": EMAIL_PATTERN}
    has = lambda c: c in columns  # noqa: E731
    if kind is CONTACT:
        names = [c for c in ("first_name", "last_name", "email") if has(c)]
        required = (f"coalesce({', '.join('s.' + c for c in names)}) is null" if names else "true",
                    "'Enter a name or an email address.'")
    else:
        required = ("s.name is null" if has("name") else "true", "'Enter the company name.'")
    rules = [required]
    if has("email"):
        rules.append(("s.email !~ %(email_re)s", "format('Email: “%%s” is not a valid email address.', s.email)"))
    if has("owner"):
        rules.append(("s.owner is not null and o.n = 0",
                      "format('Owner: “%%s” is not a member of this workspace (use their email or name).', s.owner)"))
        rules.append(("s.owner is not null and o.n > 1",
                      "format('Owner: several members are called “%%s”; use their email.', s.owner)"))
    if has("custom"):
        rules.append(("bad.label is not null", "format('%%s: expects a %%s value.', bad.label, bad.field_type)"))
    case = " ".join(f"when {test} then {message}" for test, message in rules)
    owner_join = owner_value = ""
    if has("owner"):
        owner_join = (
            " left join lateral (select count(distinct m.user_id) as n, min(m.user_id::text)::uuid as id"
            "   from members m where m.email = lower(s.owner)"
            "      or (m.name = lower(s.owner) and not exists (select 1 from members e where e.email = lower(s.owner)))"
            " ) o on s.owner is not null")
        owner_value = ", case when o.n = 1 then o.id end as owner_id"
    custom_join = ""
    if has("custom"):
        custom_join = (
            " left join lateral (select coalesce(d.label, f.key) as label, coalesce(d.field_type, 'known') as field_type"
            "   from jsonb_each(s.custom) f left join defs d on d.key = f.key"
            "  where d.key is null or (jsonb_typeof(f.value) <> 'null' and not case d.field_type"
            "    when 'number' then jsonb_typeof(f.value) = 'number'"
            "    when 'checkbox' then jsonb_typeof(f.value) = 'boolean'"
            "    when 'date' then jsonb_typeof(f.value) = 'string' and (f.value #>> '{}') ~ '^\\d{4}-\\d{2}-\\d{2}$'"
            "    when 'select' then jsonb_typeof(f.value) = 'string' and (f.value #>> '{}') = any (d.options)"
            "    when 'url' then jsonb_typeof(f.value) = 'string' and (f.value #>> '{}') ~ '^https?://[^\\s]+$'"
            "    else jsonb_typeof(f.value) = 'string' and length(f.value #>> '{}') <= 1000 end)"
            "  limit 1) bad on s.custom is not null")
    conn.execute(
        "with members as materialized ("
        "   select m.user_id, lower(p.email) as email, lower(p.display_name) as name"
        "     from public.workspace_members m join public.profiles p on p.id = m.user_id"
        "    where m.workspace_id = %(ws)s),"
        " defs as materialized (select key, label, field_type, options from public.custom_field_definitions"
        "    where workspace_id = %(ws)s and record_type = %(record_type)s)"
        " update import_staging t set error = v.error, owner_id = v.owner_id"
        " from (select s.line, case " + case + " end as error" + (owner_value or ", null::uuid as owner_id") +
        "   from import_staging s" + owner_join + custom_join + " where s.error is null) v"
        " where t.line = v.line and (v.error is not null or v.owner_id is not null)",
        params,
    )
    if has("email"):
        conn.execute(
            "update import_staging s set error = format('Same email as line %s.', f.first_line)"  # no params: % as is
            " from (select email, min(line) as first_line from import_staging"
            "        where error is null and email is not null group by email having count(*) > 1) f"
            " where s.error is null and s.email = f.email and s.line > f.first_line")
        conn.execute(
            sql.SQL("update import_staging s set action = %(action)s, target_id = c.id from {table} c"
                    " where c.workspace_id = %(ws)s and lower(c.email) = s.email and s.error is null").format(
                table=kind.ident),
            {"ws": workspace_id, "action": "update" if on_existing == "update" else "skip"},
        )
    custom = "s.custom" if has("custom") else "null::jsonb"
    conn.execute(
        "update import_staging s set error = format('%%s: a value is required.', d.label)"
        " from public.custom_field_definitions d"
        " where d.workspace_id = %(ws)s and d.record_type = %(record_type)s and d.required"
        "   and d.field_type <> 'checkbox' and s.error is null and s.action = 'insert'"
        f"   and not coalesce({custom} ? d.key, false)",
        params,
    )


def _stage_file(conn: psycopg.Connection, kind: Kind, workspace_id: str, table: Table, mapping: dict[str, str | None],
           on_existing: str, progress: Progress, limit: int | None = None) -> tuple[RowCleaner, int]:
    if on_existing not in ("skip", "update"):
        raise ValueError(f"on_existing must be 'skip' or 'update', not {on_existing!r}")
    defs = custom_fields.definitions_in(conn, workspace_id, kind.name)
    cleaner = RowCleaner(kind, table.headers, mapping, defs)
    if not cleaner.mapped:
        raise UserError("Map at least one column to a field.")
    _create_staging(conn, cleaner.columns)
    progress(0.0, "Reading the file")
    count = _copy_rows(conn, table, cleaner, progress, 0.0, 0.6, limit)
    progress(0.6, f"Checking {count:,} rows")
    _validate(conn, kind, workspace_id, cleaner, on_existing)
    return cleaner, count


def _company_lookup(workspace_id_param: str = "%(ws)s") -> str:
    """The workspace's companies by lower-cased name (the oldest one when a name repeats)."""
    return ("(select distinct on (lower(name)) lower(name) as key, id from public.companies"
            f" where workspace_id = {workspace_id_param} order by lower(name), created_at, id)")


def _load(conn: psycopg.Connection, kind: Kind, workspace_id: str, cleaner: RowCleaner, result: ImportResult,
          progress: Progress) -> None:
    """The writes: new companies named by contacts, one insert, one update."""
    columns = [c for c in cleaner.columns if c not in ("company", "owner")]
    params = {"ws": workspace_id}
    has_company = "company" in cleaner.columns
    if has_company:
        progress(0.72, "Creating companies")
        result.companies_created = conn.execute(
            "insert into public.companies (workspace_id, name)"
            " select %(ws)s, n.company from (select distinct on (lower(company)) company from import_staging"
            "   where error is null and action <> 'skip' and company is not null order by lower(company), line) n"
            " where not exists (select 1 from public.companies c where c.workspace_id = %(ws)s and lower(c.name) = lower(n.company))",
            params,
        ).rowcount
    defaults = {"stage": "coalesce(s.stage, 'lead')", "tags": "coalesce(s.tags, '{}')",
                "consent": "coalesce(s.consent, false)", "custom": "coalesce(s.custom, '{}')"}
    targets = columns + (["owner_id"] if "owner" in cleaner.columns else []) + (["company_id"] if has_company else [])
    values = [defaults.get(c, f"s.{c}") for c in columns]
    values += ["s.owner_id"] if "owner" in cleaner.columns else []
    values += ["co.id"] if has_company else []
    join = f" left join {_company_lookup()} co on co.key = lower(s.company)" if has_company else ""
    progress(0.75, "Saving")
    result.inserted = conn.execute(
        sql.SQL("insert into {table} (workspace_id, {targets}) select %(ws)s, ").format(
            table=kind.ident, targets=sql.SQL(", ").join(map(sql.Identifier, targets)))
        # Not passed through .format(): the defaults hold literal braces ('{}').
        + sql.SQL(", ".join(values) + " from import_staging s" + join
                  + " where s.error is null and s.action = 'insert' order by s.line"),
        params,
    ).rowcount
    progress(0.9, "Updating existing records")
    assignments = []
    for column in columns:
        if column == "custom":
            assignments.append("custom = c.custom || coalesce(s.custom, '{}')")
        elif column == "tags":
            assignments.append("tags = case when cardinality(s.tags) > 0 then s.tags else c.tags end")
        else:
            assignments.append(f"{column} = coalesce(s.{column}, c.{column})")
    if "owner" in cleaner.columns:
        assignments.append("owner_id = coalesce(s.owner_id, c.owner_id)")
    if has_company:
        assignments.append("company_id = coalesce(co.id, c.company_id)")
    if assignments and conn.execute("select 1 from import_staging where error is null and action = 'update' limit 1").fetchone():
        source = "import_staging s" + (f" left join {_company_lookup()} co on co.key = lower(s.company)" if has_company else "")
        result.updated = conn.execute(
            sql.SQL("update {table} c set ").format(table=kind.ident)
            + sql.SQL(", ".join(assignments) + " from " + source + " where c.id = s.target_id"
                      " and c.workspace_id = %(ws)s and s.error is null and s.action = 'update'"),
            params,
        ).rowcount
    result.skipped = conn.execute(
        "select count(*) as n from import_staging where error is null and action = 'skip'").fetchone()["n"]


def _rejections(conn: psycopg.Connection) -> dict[int, str]:
    rows = conn.execute("select line, error from import_staging where error is not null order by line").fetchall()
    return {r["line"]: r["error"] for r in rows}


def _with_raw_values(table: Table, reasons: dict[int, str]) -> list[tuple[int, str, list[str]]]:
    """(line, reason, the line's values as in the file), read again from the file."""
    if not reasons:
        return []
    found = []
    for line, values in data_rows(table):
        if line in reasons:
            found.append((line, reasons[line], list(values)))
            if len(found) == len(reasons):
                break
    return found


def _write_error(kind: Kind, exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(f"Your role cannot import {kind.plural}.")
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return UserError(f"Another {kind.label} with one of these emails was saved meanwhile; import again.")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.DataError)):
        return UserError(f"Nothing was imported: {exc.diag.message_primary}")
    return UserError(f"Nothing was imported: {exc.diag.message_primary or exc}")


def run_import(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, data: bytes, filename: str,
               mapping: dict[str, str | None], *, on_existing: str = "skip", load_valid_rows: bool = False,
               progress: Progress | None = None, **deal_options: Any) -> ImportResult:
    """Import the file in one transaction as the user; see the module docstring.

    Deals go to `run_deal_import` (with `deal_options`: pipeline_id, stage_map, currency).
    Raises UserError when the file cannot be read or the user may not write records.
    """
    kind = record_kind(kind)
    if kind is DEAL:
        return run_deal_import(db, claims, workspace_id, data, filename, mapping, load_valid_rows=load_valid_rows,
                               progress=progress, **deal_options)
    progress = progress or _noop
    table = read_table(data, filename)
    result = ImportResult(headers=list(table.headers))
    try:
        with db.as_user(claims) as conn:
            if not conn.execute("select %s::uuid in (select private.my_workspace_ids('agent')) as ok",
                                [workspace_id]).fetchone()["ok"]:
                raise UserError(f"Your role cannot import {kind.plural}.")
            cleaner, result.rows = _stage_file(conn, kind, workspace_id, table, mapping, on_existing, progress)
            reasons = _rejections(conn)
            if reasons:
                progress(0.7, f"{len(reasons):,} rows have problems")
                result.rejected = _with_raw_values(table, reasons)
            if reasons and not load_valid_rows:
                result.skipped = conn.execute(
                    "select count(*) as n from import_staging where error is null and action = 'skip'").fetchone()["n"]
                raise _Abandon(result)
            _load(conn, kind, workspace_id, cleaner, result, progress)
            result.written = True
    except _Abandon:
        progress(1.0, "Nothing was imported")
        return result
    except psycopg.Error as exc:
        raise _write_error(kind, exc) from exc
    progress(1.0, "Done")
    return result


@dataclass
class PreviewRow:
    line: int
    status: str  # "new", "update", "skip" or "rejected"
    reason: str
    values: list[str]


def preview(db: Database, claims: Claims, workspace_id: str, kind: Kind | str, data: bytes, filename: str,
            mapping: dict[str, str | None], *, on_existing: str = "skip", limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first `limit` rows with what the import would do with each (the same checks, rolled back)."""
    kind = kind_of(kind) if isinstance(kind, str) else kind
    table = read_table(data, filename)
    try:
        with db.as_user(claims) as conn:
            _stage_file(conn, kind, workspace_id, table, mapping, on_existing, _noop, limit)
            rows = conn.execute("select line, error, action from import_staging order by line").fetchall()
            raise _Abandon(rows)
    except _Abandon as done:
        staged = {r["line"]: r for r in done.payload}
    result = []
    for line, values in data_rows(table):
        row = staged.get(line)
        if row is None:
            break
        status = "rejected" if row["error"] else {"insert": "new"}.get(row["action"], row["action"])
        reason = row["error"] or {"update": "updates the record with this email",
                                  "skip": "a record with this email exists: skipped"}.get(row["action"], "ok")
        result.append(PreviewRow(line, status, reason, list(values)))
    return result


def rejected_csv(result: ImportResult) -> bytes:
    """The rejected rows as CSV: line, reason and the row's own columns."""
    columns = ["line", "reason"] + [f"col{i}" for i in range(len(result.headers))]
    rows = ({"line": line, "reason": reason, **{f"col{i}": v for i, v in enumerate(values)}}
            for line, reason, values in result.rejected)
    return to_csv(rows, columns, ["Line", "Reason"] + result.headers)


def template_csv(kind: Kind | str) -> bytes:
    """An example file to start from: the usual columns and two rows."""
    kind = record_kind(kind)
    if kind is DEAL:
        columns = ["Title", "Company", "Contact", "Contact email", "Value", "Currency", "Stage", "Close date",
                   "Owner", "Source", "Lost reason"]
        rows = [["Harbour Bikes — 20 e-bikes", "Harbour Bikes", "Ann Example", "ann@example.com", "24000", "GBP",
                 "Proposal", "2026-12-15", "", "Trade fair", ""],
                ["Dupont SARL — service contract", "Dupont SARL", "Jean Dupont", "", "3500", "EUR", "Lost",
                 "2026-10-01", "", "Website", "Price"]]
    elif kind is CONTACT:
        columns = ["First name", "Last name", "Email", "Phone", "Company", "Job title", "City", "Country",
                   "Stage", "Tags", "Marketing consent"]
        rows = [["Ann", "Example", "ann@example.com", "+44 20 7946 0000", "Harbour Bikes", "Buyer", "London",
                 "GB", "Lead", "newsletter, vip", "yes"],
                ["Jean", "Dupont", "jean.dupont@example.fr", "06 12 34 56 78", "Dupont SARL", "Gérant", "Lyon",
                 "France", "Customer", "", "no"]]
    else:
        columns = ["Name", "Industry", "Email", "Phone", "Website", "City", "Country", "Stage", "Tags"]
        rows = [["Harbour Bikes", "Retail", "hello@harbour.example", "+44 20 7946 0001", "harbour.example",
                 "London", "GB", "Customer", "retail"],
                ["Dupont SARL", "Construction", "", "04 72 00 00 00", "", "Lyon", "France", "Lead", ""]]
    return to_csv((dict(zip(columns, r)) for r in rows), columns)


# -- deals ------------------------------------------------------------------------------------
#
# The same all-or-nothing steps as contacts: the file is cleaned in Python (numbers, dates, the
# file's stage value -> a stage of the chosen pipeline) and COPYed into `import_staging`; SQL
# resolves owners and lost reasons over the whole file; then set-based inserts create the missing
# companies (by name) and contacts (by email, else by full name at that company) and the deals
# themselves, straight at their stage: `private.place_deal` sets the status from the stage's kind
# and `private.record_deal_stage` writes each deal's first history row.
#
# Choices: an owner that is not exactly one member of the workspace is not a reason to reject a
# row: the deal is imported unassigned and counted in `unassigned` (another CRM's sales agents are
# seldom all members yet). A blank stage puts the deal in the pipeline's first open stage; a stage
# value with no stage chosen for it rejects the row. Without a title column the deal is named
# "company — product" from whichever of those columns are mapped. Lost deals get the lost reason
# of the same name, else "Other" (when the workspace has it). Won and lost deals are closed on
# their close date.

DEAL_STAGING = {
    "title": "text", "value": "numeric", "currency": "text", "expected_close_date": "date", "stage_id": "uuid",
    "stage_kind": "text", "company": "text", "contact_email": "text", "contact_first": "text",
    "contact_last": "text", "owner": "text", "source": "text", "lost_reason": "text",
}
DEAL_TEXT_LIMITS = {"title": 200, "company": 200, "contact_name": 200, "owner": 200, "source": 100,
                    "lost_reason": 100, "product": 200}
MAX_VALUE = 10**12  # deals.value is numeric(14, 2)
# Usual names of the open steps of a sales process, in order: the n-th group goes to the n-th open stage.
OPEN_STAGE_HINTS = (("lead", "new", "prospect", "open", "cold", "inbound", "identif"),
                    ("qualif", "engag", "contact", "discover", "warm", "interest", "meeting"),
                    ("propos", "quote", "demo", "present", "offer", "solution"),
                    ("negotiat", "commit", "contract", "verbal", "decision", "review"))
WON_WORDS = {"won", "win", "signed", "success", "booked", "gagne", "closedwon"}
LOST_WORDS = {"lost", "lose", "loss", "dead", "perdu", "cancelled", "canceled", "closedlost", "disqualified"}


def _column_index(headers: list[str], mapping: dict[str, str | None], name: str) -> int | None:
    """The first column mapped to `name`."""
    for index, header in enumerate(headers):
        if mapping.get(header) == name:
            return index
    return None


def stage_values(table: Table, mapping: dict[str, str | None]) -> dict[str, int]:
    """{stage value: rows} of the file's stage column, case-insensitively (as first written), blanks left out."""
    index = _column_index(table.headers, mapping, "stage")
    if index is None:
        return {}
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for _line, values in data_rows(table):
        raw = " ".join(values[index].split()) if index < len(values) else ""
        if raw:
            key = raw.lower()
            first.setdefault(key, raw)
            counts[key] = counts.get(key, 0) + 1
    return {first[key]: counts[key] for key in first}


def guess_stage(value: str, stages: list[dict]) -> str | None:
    """The id of the stage a file's stage value most likely means, or None.

    The stage of the same name (case and accents ignored), then one whose name the value contains,
    then won/lost words ("Closed Won"), then the usual names of open steps by their order."""
    text = normalise_header(value)
    words = set(text.split()) | {text.replace(" ", "")}
    for stage in stages:
        if normalise_header(stage["name"]) == text:
            return str(stage["id"])
    by_kind = {kind: [s for s in stages if s["kind"] == kind] for kind in ("open", "won", "lost")}
    for kind, vocabulary in (("won", WON_WORDS), ("lost", LOST_WORDS)):
        if words & vocabulary and by_kind[kind]:
            return str(by_kind[kind][0]["id"])
    for stage in stages:
        if f" {normalise_header(stage['name'])} " in f" {text} ":
            return str(stage["id"])
    opens = by_kind["open"]
    for position, hints in enumerate(OPEN_STAGE_HINTS):
        if opens and any(word.startswith(hints) for word in text.split()):
            return str(opens[min(position, len(opens) - 1)]["id"])
    return None


def guess_stage_map(values: list[str], stages: list[dict]) -> dict[str, str | None]:
    """{file value: stage id or None} for each stage value found in a file."""
    return {value: guess_stage(value, stages) for value in values}


def _amount(raw: str) -> float:
    number = clean_number(raw, "value")
    if number is None or number < 0 or number >= MAX_VALUE:
        raise ValueError(f"“{raw}” is not an amount of 0 or more.")
    return round(number, 2)


def _date(raw: str) -> date:
    return clean_date(raw, "date")


class DealCleaner:
    """A file row -> the staged deal values (DEAL_STAGING order) and the reasons it is bad."""

    def __init__(self, headers: list[str], mapping: dict[str, str | None], stages: list[dict],
                 stage_map: dict[str, str | None]):
        self.width = len(headers)
        self.index = mapped_columns(headers, mapping, DEAL_FIELDS, "deals")
        kinds = {str(s["id"]): s["kind"] for s in stages}
        self.stage_of = {value.lower(): (stage, kinds[stage]) for value, stage in stage_map.items()
                         if stage and stage in kinds}
        first_open = next((s for s in stages if s["kind"] == "open"), stages[0] if stages else None)
        self.default_stage = (str(first_open["id"]), first_open["kind"]) if first_open else (None, None)
        self.unmapped: dict[str, str] = {}  # lower-cased -> as first met
        checks = {"value": _amount, "currency": clean_currency, "expected_close_date": _date}
        self.checks = {name: _cached(checks[name]) if name in checks else self._text(name) for name in self.index}

    @staticmethod
    def _text(name: str) -> Callable[[str], str]:
        limit, label = DEAL_TEXT_LIMITS.get(name, 200), DEAL_FIELDS[name]

        def clean(raw: str) -> str:
            text = " ".join(raw.split())
            if len(text) > limit:
                raise ValueError(f"{label} can be at most {limit} characters long.")
            return text
        return clean

    def clean(self, values: list[str]) -> tuple[list[Any], str | None]:
        width = len(values)
        got: dict[str, Any] = {}
        errors: list[str] = []
        for name, index in self.index.items():
            raw = values[index].strip() if index < width else ""
            if not raw:
                continue
            if name == "stage":
                got[name] = " ".join(raw.split())
                continue
            try:
                got[name] = self.checks[name](unneutralise(raw))
            except ValueError as exc:
                errors.append(f"{DEAL_FIELDS[name].split(' (')[0]}: {exc}")
        if "title" not in self.index and not got.get("title"):
            built = " — ".join(v for v in (got.get("company"), got.get("product")) if v)
            got["title"] = built[:200] or None
        stage_id, stage_kind = self.default_stage
        if got.get("stage"):
            found = self.stage_of.get(got["stage"].lower())
            if found is None:
                self.unmapped.setdefault(got["stage"].lower(), got["stage"])
                errors.append(f"Stage: “{got['stage']}” is not mapped to a stage of the pipeline.")
            else:
                stage_id, stage_kind = found
        first, last = _split_name(got["contact_name"]) if got.get("contact_name") else (None, None)
        email = got.get("contact_email")
        row = [got.get("title"), got.get("value"), got.get("currency"), got.get("expected_close_date"), stage_id,
               stage_kind, got.get("company"), email.lower() if email else None, first, last, got.get("owner"),
               got.get("source"), got.get("lost_reason")]
        if width > self.width and any(v.strip() for v in values[self.width:]):
            errors.append(f"This line has {width} values but the header names {self.width} columns "
                          "(a delimiter or quote out of place?).")
        return row, "; ".join(errors) or None


def _pipeline_stages(conn: psycopg.Connection, workspace_id: str, pipeline_id: str | None) -> tuple[dict, list[dict]]:
    """The chosen pipeline (default: the workspace's default one) and its stages in order."""
    pipeline = conn.execute(
        "select id, name from public.pipelines where workspace_id = %s and (id = %s or %s::uuid is null)"
        " order by is_default desc, position, name limit 1",
        [workspace_id, pipeline_id, pipeline_id],
    ).fetchone()
    if pipeline is None:
        raise UserError("That pipeline does not exist in this workspace.")
    stages = conn.execute("select id, name, kind from public.stages where pipeline_id = %s order by position, name",
                          [pipeline["id"]]).fetchall()
    return pipeline, stages


def _stage_deals(conn: psycopg.Connection, workspace_id: str, table: Table, mapping: dict[str, str | None],
                 pipeline_id: str | None, stage_map: dict[str, str | None] | None, progress: Progress,
                 limit: int | None = None) -> tuple[dict, DealCleaner, int]:
    pipeline, stages = _pipeline_stages(conn, workspace_id, pipeline_id)
    if stage_map is None:
        stage_map = guess_stage_map(list(stage_values(table, mapping)), stages)
    cleaner = DealCleaner(table.headers, mapping, stages, stage_map)
    if not cleaner.index:
        raise UserError("Map at least one column to a field.")
    conn.execute(
        "create temp table import_staging (line integer primary key, error text, note text, owner_id uuid,"
        " company_id uuid, contact_id uuid, lost_reason_id uuid, "
        + ", ".join(f"{name} {kind}" for name, kind in DEAL_STAGING.items()) + ") on commit drop")
    progress(0.0, "Reading the file")
    statement = "copy import_staging (line, error, " + ", ".join(DEAL_STAGING) + ") from stdin"
    count = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for line, values in data_rows(table):
            staged, error = cleaner.clean(values)
            copy.write_row((line, error, *staged))
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(0.6 * table.fraction, f"Reading the file: {count:,} rows")
            if limit is not None and count >= limit:
                break
    progress(0.6, f"Checking {count:,} rows")
    _validate_deals(conn, workspace_id)
    return pipeline, cleaner, count


def _validate_deals(conn: psycopg.Connection, workspace_id: str) -> None:
    """Required title and email syntax (errors); owners and lost reasons resolved (never errors)."""
    conn.execute("analyze import_staging")
    params = {"ws": workspace_id, "email_re": EMAIL_PATTERN}
    conn.execute(
        "update import_staging s set error = case"
        "   when s.title is null then 'Deal title: a value is required (map a title, company or product column).'"
        "   when s.contact_email !~ %(email_re)s"
        "     then format('Contact email: “%%s” is not a valid email address.', s.contact_email) end"
        " where s.error is null and (s.title is null or s.contact_email !~ %(email_re)s)",
        params,
    )
    conn.execute(
        "with members as materialized ("
        "   select m.user_id, lower(p.email) as email, lower(p.display_name) as name"
        "     from public.workspace_members m join public.profiles p on p.id = m.user_id"
        "    where m.workspace_id = %(ws)s)"
        " update import_staging t set owner_id = o.id,"
        "   note = case when o.id is null then format('Owner “%%s” is not one member of this workspace: left unassigned.',"
        "     t.owner) end"
        " from import_staging s left join lateral ("
        "   select case when count(distinct m.user_id) = 1 then min(m.user_id::text)::uuid end as id from members m"
        "    where m.email = lower(s.owner)"
        "       or (m.name = lower(s.owner) and not exists (select 1 from members e where e.email = lower(s.owner)))"
        " ) o on true"
        " where t.line = s.line and s.owner is not null and s.error is null",
        params,
    )
    conn.execute(
        "update import_staging s set lost_reason_id = coalesce("
        "   (select r.id from public.lost_reasons r where r.workspace_id = %(ws)s and r.archived_at is null"
        "     and lower(r.name) = lower(s.lost_reason) order by r.position limit 1),"
        "   (select r.id from public.lost_reasons r where r.workspace_id = %(ws)s and r.archived_at is null"
        "     and lower(r.name) = 'other' order by r.position limit 1))"
        " where s.error is null and s.stage_kind = 'lost'",
        params,
    )


def _load_deals(conn: psycopg.Connection, workspace_id: str, pipeline: dict, currency: str | None,
                result: ImportResult, progress: Progress) -> None:
    """The writes: missing companies, missing contacts, then the deals at their stages."""
    params = {"ws": workspace_id, "pipeline": pipeline["id"], "currency": currency or "EUR"}
    progress(0.7, "Creating companies")
    result.companies_created = conn.execute(
        "insert into public.companies (workspace_id, name)"
        " select %(ws)s, n.company from (select distinct on (lower(company)) company from import_staging"
        "   where error is null and company is not null order by lower(company), line) n"
        " where not exists (select 1 from public.companies c where c.workspace_id = %(ws)s and lower(c.name) = lower(n.company))",
        params,
    ).rowcount
    conn.execute(f"update import_staging s set company_id = co.id from {_company_lookup()} co"
                 " where co.key = lower(s.company) and s.error is null", params)
    progress(0.75, "Creating contacts")
    match_by_email = (
        "update import_staging s set contact_id = c.id from public.contacts c"
        " where c.workspace_id = %(ws)s and lower(c.email) = s.contact_email and s.error is null and s.contact_id is null")
    # Without an email, a contact is the one of that full name at the deal's company (or with none).
    nobody = "'00000000-0000-0000-0000-000000000000'::uuid"
    match_by_name = (
        "update import_staging s set contact_id = k.id"
        " from (select distinct on (lower(full_name), company_id) lower(full_name) as key, company_id, id"
        "   from public.contacts where workspace_id = %(ws)s and full_name <> ''"
        "   order by lower(full_name), company_id, created_at, id) k"
        f" where k.key = lower(concat_ws(' ', s.contact_first, s.contact_last))"
        f" and coalesce(k.company_id, {nobody}) = coalesce(s.company_id, {nobody})"
        " and s.error is null and s.contact_id is null and s.contact_email is null"
        " and coalesce(s.contact_first, s.contact_last) is not null")
    conn.execute(match_by_email, params)
    conn.execute(match_by_name, params)
    created = conn.execute(
        "insert into public.contacts (workspace_id, first_name, last_name, email, company_id)"
        " select %(ws)s, n.contact_first, n.contact_last, n.contact_email, n.company_id"
        " from (select distinct on (contact_email) contact_email, contact_first, contact_last, company_id"
        "   from import_staging where error is null and contact_id is null and contact_email is not null"
        "   order by contact_email, line) n",
        params,
    ).rowcount
    created += conn.execute(
        "insert into public.contacts (workspace_id, first_name, last_name, company_id)"
        " select %(ws)s, n.contact_first, n.contact_last, n.company_id"
        " from (select distinct on (lower(concat_ws(' ', contact_first, contact_last)), company_id)"
        "   contact_first, contact_last, company_id from import_staging"
        "   where error is null and contact_id is null and contact_email is null"
        "     and coalesce(contact_first, contact_last) is not null"
        "   order by lower(concat_ws(' ', contact_first, contact_last)), company_id, line) n",
        params,
    ).rowcount
    result.contacts_created = created
    if created:
        conn.execute(match_by_email, params)
        conn.execute(match_by_name, params)
    progress(0.85, "Saving the deals")
    result.inserted = conn.execute(
        "insert into public.deals (workspace_id, title, value, currency, expected_close_date, pipeline_id, stage_id,"
        "   company_id, contact_id, owner_id, source, lost_reason_id, closed_at)"
        " select %(ws)s, s.title, coalesce(s.value, 0), coalesce(s.currency, %(currency)s), s.expected_close_date,"
        "   %(pipeline)s, s.stage_id, s.company_id, s.contact_id, s.owner_id, s.source, s.lost_reason_id,"
        "   case when s.stage_kind <> 'open' then s.expected_close_date::timestamptz end"
        " from import_staging s where s.error is null order by s.line",
        params,
    ).rowcount


def _deal_counts(conn: psycopg.Connection, result: ImportResult) -> None:
    """Valid rows per stage (pipeline order) and how many go unassigned."""
    rows = conn.execute(
        "select st.name, count(*) as n from import_staging s join public.stages st on st.id = s.stage_id"
        " where s.error is null group by st.name, st.position order by st.position, st.name").fetchall()
    result.by_stage = {r["name"]: r["n"] for r in rows}
    result.unassigned = conn.execute(
        "select count(*) as n from import_staging where error is null and owner is not null and owner_id is null"
    ).fetchone()["n"]


def run_deal_import(db: Database, claims: Claims, workspace_id: str, data: bytes, filename: str,
                    mapping: dict[str, str | None], *, pipeline_id: str | None = None,
                    stage_map: dict[str, str | None] | None = None, currency: str | None = None,
                    load_valid_rows: bool = False, progress: Progress | None = None) -> ImportResult:
    """Import deals onto a pipeline in one transaction as the user (see the section comment).

    `stage_map` is {file stage value: stage id or None}; None guesses it (`guess_stage_map`).
    Deals without a currency column get `currency` (default EUR).
    """
    progress = progress or _noop
    if currency:
        try:
            currency = clean_currency(currency)
        except ValueError as exc:
            raise UserError(f"Currency: {exc}") from None
    table = read_table(data, filename)
    result = ImportResult(headers=list(table.headers))
    try:
        with db.as_user(claims) as conn:
            if not conn.execute("select %s::uuid in (select private.my_workspace_ids('agent')) as ok",
                                [workspace_id]).fetchone()["ok"]:
                raise UserError("Your role cannot import deals.")
            pipeline, cleaner, result.rows = _stage_deals(conn, workspace_id, table, mapping, pipeline_id,
                                                          stage_map, progress)
            result.unmapped_stages = list(cleaner.unmapped.values())
            _deal_counts(conn, result)
            reasons = _rejections(conn)
            if reasons:
                progress(0.65, f"{len(reasons):,} rows have problems")
                result.rejected = _with_raw_values(table, reasons)
            if reasons and not load_valid_rows:
                raise _Abandon(result)
            _load_deals(conn, workspace_id, pipeline, currency, result, progress)
            result.written = True
    except _Abandon:
        progress(1.0, "Nothing was imported")
        return result
    except psycopg.Error as exc:
        raise _write_error(DEAL, exc) from exc
    progress(1.0, "Done")
    return result


def preview_deals(db: Database, claims: Claims, workspace_id: str, data: bytes, filename: str,
                  mapping: dict[str, str | None], *, pipeline_id: str | None = None,
                  stage_map: dict[str, str | None] | None = None, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first `limit` rows with their stage (or why they are rejected): the same checks, rolled back."""
    table = read_table(data, filename)
    try:
        with db.as_user(claims) as conn:
            _stage_deals(conn, workspace_id, table, mapping, pipeline_id, stage_map, _noop, limit)
            rows = conn.execute(
                "select s.line, s.error, s.note, st.name as stage from import_staging s"
                " left join public.stages st on st.id = s.stage_id order by s.line").fetchall()
            raise _Abandon(rows)
    except _Abandon as done:
        staged = {r["line"]: r for r in done.payload}
    result = []
    for line, values in data_rows(table):
        row = staged.get(line)
        if row is None:
            break
        reason = row["error"] or " ".join(filter(None, [f"→ {row['stage']}.", row["note"]]))
        result.append(PreviewRow(line, "rejected" if row["error"] else "new", reason, list(values)))
    return result


# -- command line -----------------------------------------------------------------------------

def _lookup_user_and_workspace(admin_conninfo: str, email: str, workspace: str) -> tuple[str, str]:
    with psycopg.connect(admin_conninfo) as conn:
        user = conn.execute("select id from auth.users where lower(email) = lower(%s)", [email]).fetchone()
        if user is None:
            raise UserError(f"No user with the email {email}.")
        found = conn.execute(
            "select w.id from public.workspaces w join public.workspace_members m on m.workspace_id = w.id"
            " where m.user_id = %s and (w.id::text = %s or lower(w.name) = lower(%s)) order by w.created_at",
            [user[0], workspace, workspace],
        ).fetchall()
    if not found:
        raise UserError(f"{email} is not a member of a workspace {workspace!r}.")
    if len(found) > 1:
        raise UserError(f"{email} has several workspaces named {workspace!r}; give its id.")
    return str(user[0]), str(found[0][0])


def main(argv: list[str] | None = None) -> int:
    from lib.config import load_settings
    from lib.runtime import open_runtime

    parser = argparse.ArgumentParser(prog="python -m lib.importer",
                                     description="Import contacts, companies, deals or order lines as a user.")
    parser.add_argument("path")
    parser.add_argument("--workspace", required=True, help="workspace id or name")
    parser.add_argument("--email", required=True, help="the importing user's email")
    parser.add_argument("--kind", choices=sorted([*KINDS, DEAL.name, "order"]), default="contact",
                        help="order: order lines (the retail layout InvoiceNo, StockCode, …; see lib.order_import)")
    parser.add_argument("--pipeline", help="deals: the pipeline's name (default: the default pipeline)")
    parser.add_argument("--stage", action="append", default=[], metavar="VALUE=STAGE",
                        help="deals: put the file's stage VALUE into the pipeline's STAGE (repeatable; others are guessed)")
    parser.add_argument("--currency", help="deals and orders: currency of rows without a currency column (default EUR)")
    parser.add_argument("--update", action="store_true", help="update records whose email exists (default: skip them)")
    parser.add_argument("--load-valid", action="store_true", help="load the valid rows even if some are rejected")
    args = parser.parse_args(argv)
    runtime = open_runtime(load_settings())
    try:
        user_id, workspace_id = _lookup_user_and_workspace(runtime.admin_conninfo, args.email, args.workspace)
        claims = Claims(user_id, args.email)
        with open(args.path, "rb") as handle:
            data, filename = unpack(handle.read(), args.path)
        if args.kind == "order":
            from lib import order_import

            result = order_import.command_line(runtime.db, claims, workspace_id, data, filename, args)
            print(order_import.summary(result))
            return _print_rejected(result)
        kind = record_kind(args.kind)
        table = read_table(data, filename)
        if kind is DEAL:
            result = _deals_from_command_line(runtime.db, claims, workspace_id, table, data, filename, args)
        else:
            defs = custom_fields.definitions(runtime.db, claims, workspace_id, kind.name)
            mapping = guess_mapping(table.headers, kind, defs)
            for header, name in mapping.items():
                print(f"  {header!r:30} -> {field_label(name, defs) if name else '(ignored)'}")
            result = run_import(runtime.db, claims, workspace_id, kind, data, filename, mapping,
                                on_existing="update" if args.update else "skip", load_valid_rows=args.load_valid)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result, kind))
    return _print_rejected(result)


def _print_rejected(result: ImportResult) -> int:
    """The first 50 rejected lines; the exit status (0 when something was written)."""
    for line, reason, _values in result.rejected[:50]:
        print(f"  line {line}: {reason}")
    if len(result.rejected) > 50:
        print(f"  … and {len(result.rejected) - 50:,} more")
    return 0 if result.written else 1


def pipeline_named(pipelines: list[dict], name: str | None) -> dict:
    """The pipeline of that name (case-insensitive), or the default one when no name is given."""
    if not name:
        return pipelines[0]
    for pipeline in pipelines:
        if pipeline["name"].lower() == name.strip().lower():
            return pipeline
    raise UserError(f"No pipeline named {name!r}; there are: {', '.join(p['name'] for p in pipelines)}.")


def _deals_from_command_line(db: Database, claims: Claims, workspace_id: str, table: Table, data: bytes,
                             filename: str, args: argparse.Namespace) -> ImportResult:
    from lib import deals

    pipeline = pipeline_named(deals.pipelines(db, claims, workspace_id), args.pipeline)
    stages = pipeline["stages"]
    mapping = guess_mapping(table.headers, DEAL)
    for header, name in mapping.items():
        print(f"  {header!r:30} -> {DEAL_FIELDS[name] if name else '(ignored)'}")
    stage_map = guess_stage_map(list(stage_values(table, mapping)), stages)
    by_name = {s["name"].lower(): str(s["id"]) for s in stages}
    for choice in args.stage:
        value, _, stage = choice.partition("=")
        if stage.strip().lower() not in by_name:
            raise UserError(f"--stage {choice!r}: {pipeline['name']} has no stage {stage.strip()!r}.")
        key = next((k for k in stage_map if k.lower() == value.strip().lower()), value.strip())
        stage_map[key] = by_name[stage.strip().lower()]
    names = {str(s["id"]): s["name"] for s in stages}
    print(f"Pipeline {pipeline['name']}:")
    for value, stage_id in stage_map.items():
        print(f"  stage {value!r:24} -> {names.get(stage_id, '(not mapped: rows rejected)')}")
    return run_deal_import(db, claims, workspace_id, data, filename, mapping, pipeline_id=pipeline["id"],
                           stage_map=stage_map, currency=args.currency, load_valid_rows=args.load_valid)


def summary(result: ImportResult, kind: Kind) -> str:
    """One sentence saying what happened."""
    kind = record_kind(kind)
    if kind is DEAL and result.written:
        extra = [f"{n:,} new {what}" for n, what in ((result.companies_created, "companies"),
                                                      (result.contacts_created, "contacts")) if n]
        if result.unassigned:
            extra.append(f"{result.unassigned:,} without an owner (not a member)")
        return (f"Deals: {result.inserted:,} added, {len(result.rejected):,} rejected"
                + (f" ({', '.join(extra)})" if extra else "") + ".")
    if not result.written:
        return (f"Nothing was imported: {len(result.rejected):,} of {result.rows:,} rows have problems. "
                "Fix them, or choose to load the valid rows.")
    parts = [f"{result.inserted:,} added", f"{result.updated:,} updated", f"{result.skipped:,} skipped",
             f"{len(result.rejected):,} rejected"]
    extra = f" ({result.companies_created:,} new companies)" if result.companies_created else ""
    return f"{kind.plural.capitalize()}: " + ", ".join(parts) + extra + "."


if __name__ == "__main__":
    sys.exit(main())
