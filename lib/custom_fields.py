"""Custom fields: the definitions workspace admins make per record type, and checking values.

Values live in each record's `custom` jsonb, keyed by the definition's `key`. They are checked
here first (a message beside the field) and again by a trigger in the database on every write
(`private.check_custom_fields`), so no path can store a value of the wrong kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import md_escape
from lib.validation import clean_bool, clean_date, clean_name, clean_number, clean_url, collect

RECORD_TYPES = ("contact", "company")
FIELD_TYPES = {
    "text": "Text",
    "number": "Number",
    "date": "Date",
    "select": "Single select",
    "checkbox": "Checkbox",
    "url": "Web address",
}


@dataclass(frozen=True)
class FieldDef:
    id: str
    record_type: str
    key: str
    label: str
    field_type: str
    options: tuple[str, ...] = field(default_factory=tuple)
    required: bool = False
    position: int = 0
    version: int = 1

    @property
    def form_key(self) -> str:
        return f"custom.{self.key}"


def key_from_label(label: str) -> str:
    """`Customer since (year)` -> `customer_since_year`: the stable key values are stored under."""
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if not key or not key[0].isalpha():
        key = "f_" + key
    return key[:40].rstrip("_")


def definitions(db: Database, claims: Claims, workspace_id: str, record_type: str | None = None) -> list[FieldDef]:
    with db.as_user(claims) as conn:
        return definitions_in(conn, workspace_id, record_type)


def definitions_in(conn, workspace_id: str, record_type: str | None = None) -> list[FieldDef]:
    rows = conn.execute(
        "select id, record_type, key, label, field_type, options, required, position, version"
        " from public.custom_field_definitions where workspace_id = %s and (%s::text is null or record_type = %s)"
        " order by record_type, position, label",
        [workspace_id, record_type, record_type],
    ).fetchall()
    return [FieldDef(**{**r, "id": str(r["id"]), "options": tuple(r["options"])}) for r in rows]


def _clean_options(value: object) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else str(value or "").replace(";", ",").replace("\n", ",").split(",")
    options = []
    for item in items:
        text = " ".join(str(item).split())
        if text and text not in options:
            if len(text) > 60:
                raise ValueError("Each option can be at most 60 characters long.")
            options.append(text)
    return options


def define(db: Database, claims: Claims, workspace_id: str, record_type: str, label: str, field_type: str,
           options: object = (), required: bool = False) -> FieldDef:
    """Add a field (admins only). Its key is made from the label and never changes."""
    values, errors = collect({"label": (clean_name, label, "field name", 60), "options": (_clean_options, options)})
    if record_type not in RECORD_TYPES:
        errors["record_type"] = "Choose contacts or companies."
    if field_type not in FIELD_TYPES:
        errors["field_type"] = "Choose a field type."
    elif field_type == "select" and not values.get("options") and "options" not in errors:
        errors["options"] = "List the choices, separated by commas."
    if errors:
        raise FormErrors(errors)
    key = key_from_label(values["label"])
    with db.as_user(claims) as conn:
        taken = conn.execute(
            "select 1 from public.custom_field_definitions where workspace_id = %s and record_type = %s and key = %s",
            [workspace_id, record_type, key],
        ).fetchone()
        if taken:
            raise FormErrors({"label": f"There is already a field named like “{md_escape(values['label'])}”."})
        try:
            row = _insert_definition(conn, workspace_id, record_type, key, values, field_type, required)
        except psycopg.errors.InsufficientPrivilege:
            row = None
    if row is None:
        raise UserError("Only owners and admins can define custom fields.")
    return FieldDef(**{**row, "id": str(row["id"]), "options": tuple(row["options"])})


def _insert_definition(conn, workspace_id, record_type, key, values, field_type, required) -> dict | None:
    with conn.transaction():
        return conn.execute(
            "insert into public.custom_field_definitions (workspace_id, record_type, key, label, field_type, options, required, position)"
            " select %s, %s, %s, %s, %s, %s, %s, coalesce(max(position) + 1, 0) from public.custom_field_definitions"
            "  where workspace_id = %s and record_type = %s"
            " returning id, record_type, key, label, field_type, options, required, position, version",
            [workspace_id, record_type, key, values["label"], field_type,
             values["options"] if field_type == "select" else [], required, workspace_id, record_type],
        ).fetchone()


def update_definition(db: Database, claims: Claims, field_id: str, label: str, options: object, required: bool) -> None:
    values, errors = collect({"label": (clean_name, label, "field name", 60), "options": (_clean_options, options)})
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        done = conn.execute(
            "update public.custom_field_definitions set label = %s, required = %s,"
            " options = case when field_type = 'select' then %s else options end where id = %s returning id",
            [values["label"], required, values["options"], field_id],
        ).fetchone()
    if done is None:
        raise UserError("Only owners and admins can change custom fields.")


def remove_definition(db: Database, claims: Claims, workspace_id: str, field_id: str) -> None:
    """Delete a field and its stored values, in one transaction."""
    with db.as_user(claims) as conn:
        row = conn.execute(
            "delete from public.custom_field_definitions where id = %s and workspace_id = %s returning record_type, key",
            [field_id, workspace_id],
        ).fetchone()
        if row is None:
            raise UserError("Only owners and admins can remove custom fields.")
        table = sql.Identifier("public", "contacts" if row["record_type"] == "contact" else "companies")
        conn.execute(
            sql.SQL("update {} set custom = custom - %s where workspace_id = %s and custom ? %s").format(table),
            [row["key"], workspace_id, row["key"]],
        )


def clean_value(definition: FieldDef, value: object) -> object:
    """The value to store for `definition` (None when empty); ValueError with a readable message."""
    label = md_escape(definition.label)  # messages are shown as markdown
    if value is None or (isinstance(value, str) and not value.strip()):
        if definition.required and definition.field_type != "checkbox":
            raise ValueError(f"Enter {label}.")
        return None
    kind = definition.field_type
    if kind == "text":
        text = " ".join(str(value).split())
        if len(text) > 1000:
            raise ValueError(f"{label} can be at most 1000 characters long.")
        return text
    if kind == "number":
        return clean_number(value, label)
    if kind == "date":
        return clean_date(value, label).isoformat()
    if kind == "checkbox":
        return clean_bool(value, label)
    if kind == "url":
        return clean_url(value, label)
    if kind == "select":
        text = " ".join(str(value).split())
        for option in definition.options:
            if option.lower() == text.lower():
                return option
        raise ValueError(f"{label} must be one of: {md_escape(', '.join(definition.options))}.")
    raise ValueError(f"{label} has an unknown type.")


def clean_values(defs: list[FieldDef], raw: dict[str, object], only_present: bool = False) -> tuple[dict[str, object], dict[str, str]]:
    """Check the defined fields in `raw` (keys are field keys); errors keyed `custom.<key>`.

    For a new record (`only_present=False`) every definition is checked, so required fields must
    be there, and empty values are left out. For an edit (`only_present=True`) only the keys sent
    are checked, and an emptied field comes back as None: the caller merges the result into the
    stored values and drops the Nones, so fields the edit did not send are kept.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for definition in defs:
        if only_present and definition.key not in raw:
            continue
        try:
            value = clean_value(definition, raw.get(definition.key))
        except ValueError as exc:
            errors[definition.form_key] = str(exc)
            continue
        if value is not None or only_present:
            values[definition.key] = value
    return values, errors
