"""Exports of the customer list on the real database: columns (custom fields, owner, company,
tags), streaming, formula neutralising, Excel, and files that import back unchanged."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from lib import custom_fields, customers, customer_search as search, export, importer
from lib.customers import COMPANY, CONTACT

FIELDS_COMPARED = ["first_name", "last_name", "email", "phone", "title", "stage", "tags", "source", "city", "country",
                   "consent", "custom"]


@pytest.fixture
def filled(db, factory):
    owner, ws = factory.owner("Export Shop")
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", "Basic, Pro")
    custom_fields.define(db, owner.claims, ws, "contact", "Seats", "number")
    custom_fields.define(db, owner.claims, ws, "contact", "Renewal", "date")
    acme = customers.create(db, owner.claims, ws, COMPANY, {"name": "Acme Äpfel GmbH", "country": "DE"})
    people = [
        {"first_name": "Zoë", "last_name": "Müller", "email": "zoe@example.com", "phone": "+49 30 1234567",
         "company_id": acme, "title": "Einkauf", "stage": "customer", "tags": ["vip", "fair 2025"], "source": "fair",
         "city": "Berlin", "country": "DE", "consent": True, "owner_id": owner.id,
         "custom": {"plan": "Pro", "seats": 12.5, "renewal": "2026-01-31"}},
        {"first_name": "=cmd|' /C calc'!A0", "last_name": "+Plus", "email": "evil@example.com", "phone": "",
         "stage": "lead", "tags": [], "source": "-minus", "city": "@at", "country": "", "consent": False,
         "custom": {"plan": "Basic"}},
        {"first_name": "", "last_name": "", "email": "only-email@example.com", "stage": "prospect", "tags": ["a"],
         "consent": False, "custom": {}},
    ]
    for person in people:
        customers.create(db, owner.claims, ws, CONTACT, person)
    return owner, ws


def rows_of(db, owner, ws, kind=CONTACT, filters=search.Filters()):
    return search.iter_rows(db, owner.claims, ws, kind, filters)


def test_columns_include_custom_fields_owner_and_company(db, filled):
    owner, ws = filled
    defs = custom_fields.definitions(db, owner.claims, ws, "contact")
    columns, headers = export.export_columns(CONTACT, defs)
    assert columns[-3:] == ["custom.plan", "custom.seats", "custom.renewal"]
    assert {"company_name", "owner_name", "tags"} <= set(columns)
    assert headers[:5] == ["First name", "Last name", "Email", "Phone", "Company"]
    columns, headers = export.export_columns(COMPANY, [])
    assert columns[0] == "name" and "Contacts" in headers


def test_csv_is_streamed_and_neutralised(db, filled):
    owner, ws = filled
    defs = custom_fields.definitions(db, owner.claims, ws, "contact")
    columns, headers = export.export_columns(CONTACT, defs)
    chunks = list(export.export_csv(rows_of(db, owner, ws), columns, headers))
    text = b"".join(chunks).decode("utf-8")
    assert text.startswith("\ufeffFirst name,")
    table = {r[2]: dict(zip(headers, r)) for r in csv.reader(io.StringIO(text.lstrip("\ufeff")))}
    zoe, evil = table["zoe@example.com"], table["evil@example.com"]
    assert (zoe["Company"], zoe["Owner"], zoe["Tags"], zoe["Marketing consent"]) == ("Acme Äpfel GmbH", "Olive Owner", "fair 2025, vip", "yes")
    assert (zoe["Plan"], zoe["Seats"], zoe["Renewal"], zoe["Phone"]) == ("Pro", "12.5", "2026-01-31", "'+49301234567")
    assert (evil["First name"], evil["Last name"], evil["Source"], evil["City"]) == ("'=cmd|' /C calc'!A0", "'+Plus", "'-minus", "'@at")
    many = [{"first_name": f"P{i}", "tags": []} for i in range(1200)]
    assert len(list(export.export_csv(iter(many), ["first_name"], ["First name"]))) == 3  # 500 rows a chunk


def test_only_the_filtered_rows(db, filled):
    owner, ws = filled
    columns, headers = export.export_columns(CONTACT, [])
    text = b"".join(export.export_csv(rows_of(db, owner, ws, filters=search.Filters(stages=("customer",))),
                                      columns, headers)).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 2  # header + Zoë


def test_xlsx_is_neutralised_and_readable(db, filled):
    owner, ws = filled
    defs = custom_fields.definitions(db, owner.claims, ws, "contact")
    columns, headers = export.export_columns(CONTACT, defs)
    data = export.export_xlsx(rows_of(db, owner, ws), columns, headers, sheet_title="Contacts")
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == headers
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no formulas at all
    evil = next(r for r in values if r[2] == "evil@example.com")
    assert evil[:2] == ["'=cmd|' /C calc'!A0", "'+Plus"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_imports_back_unchanged(db, filled, factory, fmt):
    owner, ws = filled
    defs = custom_fields.definitions(db, owner.claims, ws, "contact")
    columns, headers = export.export_columns(CONTACT, defs)
    if fmt == "csv":
        data = b"".join(export.export_csv(rows_of(db, owner, ws), columns, headers))
    else:
        data = export.export_xlsx(rows_of(db, owner, ws), columns, headers)
    # A second workspace with the same custom fields and an owner of the same name.
    other, other_ws = factory.owner("Import Target")
    for d in defs:
        custom_fields.define(db, other.claims, other_ws, "contact", d.label, d.field_type, list(d.options))
    other_defs = custom_fields.definitions(db, other.claims, other_ws, "contact")
    filename = f"export.{fmt}"
    mapping = importer.guess_mapping(importer.read_table(data, filename).headers, CONTACT, other_defs)
    assert mapping["Owner"] == "owner" and mapping["Company"] == "company" and mapping["Plan"] == "custom.plan"
    assert mapping["Created"] is None and mapping["Last contacted"] is None
    result = importer.run_import(db, other.claims, other_ws, CONTACT, data, filename, mapping)
    assert result.written and result.rejected == [] and (result.inserted, result.companies_created) == (3, 1)

    def snapshot(user, workspace):
        return sorted(({f: r[f] for f in FIELDS_COMPARED} | {"company": r["company_name"], "owner": r["owner_name"]}
                       for r in rows_of(db, user, workspace)), key=lambda r: r["email"])
    assert snapshot(other, other_ws) == snapshot(owner, ws)
