"""Contacts and companies: checking input, create, read, edit with conflict detection, archive,
delete, bulk changes, duplicate warnings and lead conversion. Every call is one transaction as
the signed-in user, so row-level security decides what each one may touch.

The two record kinds share one shape; `KINDS` says where they differ. Search and the list
live in `lib.customer_search`; activities, tasks and the timeline in `lib.activities`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lib import custom_fields
from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import (
    clean_bool,
    clean_country,
    clean_name,
    clean_phone,
    clean_tags,
    clean_url,
    optional_email,
    optional_text,
)

STAGES = ("lead", "prospect", "customer", "churned")
STAGE_LABELS = {"lead": "Lead", "prospect": "Prospect", "customer": "Customer", "churned": "Churned"}
SHARED_FIELDS = (
    "email", "phone", "website", "address", "city", "postal_code", "country", "owner_id", "source",
    "stage", "tags", "consent", "consent_source", "notes", "custom",
)


@dataclass(frozen=True)
class Kind:
    """One record kind: its table, the column that names a record, and the fields users edit."""

    name: str
    table: str
    label: str
    plural: str
    name_column: str
    fields: tuple[str, ...]

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier("public", self.table)


CONTACT = Kind("contact", "contacts", "contact", "contacts", "full_name",
               ("first_name", "last_name", "company_id", "title") + SHARED_FIELDS)
COMPANY = Kind("company", "companies", "company", "companies", "name", ("name", "industry") + SHARED_FIELDS)
KINDS = {"contact": CONTACT, "company": COMPANY}

FIELD_LABELS = {
    "first_name": "First name", "last_name": "Last name", "name": "Name", "company_id": "Company",
    "title": "Job title", "industry": "Industry", "email": "Email", "phone": "Phone", "website": "Website",
    "address": "Address", "city": "City", "postal_code": "Postal code", "country": "Country",
    "owner_id": "Owner", "source": "Source", "stage": "Stage", "tags": "Tags",
    "consent": "Marketing consent", "consent_source": "Consent source", "notes": "Notes",
}


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown record kind {name!r}") from None


def _stage(value: object) -> str:
    text = str(value or "lead").strip().lower()
    if text not in STAGES:
        raise ValueError(f"Choose a stage: {', '.join(STAGE_LABELS.values())}.")
    return text


def _notes(value: object) -> str | None:
    """Free text that keeps its line breaks."""
    text = str(value).strip() if value is not None else ""
    if len(text) > 10000:
        raise ValueError("Notes can be at most 10,000 characters long.")
    return text or None


def _uuid_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def clean(kind: Kind, data: dict[str, Any], defs: list[custom_fields.FieldDef], editing: bool = False) -> dict[str, Any]:
    """The values to store for the fields present in `data`; FormErrors naming each bad field.

    `data["custom"]` maps custom field keys to raw values. Only keys present are checked, so an
    edit form and a bulk import can send what they have; the name rule needs the full record.
    """
    country = None
    try:
        country = clean_country(data.get("country"))
    except ValueError:
        pass
    checks = {
        "first_name": (optional_text, data.get("first_name"), "first name"),
        "last_name": (optional_text, data.get("last_name"), "last name"),
        "name": (clean_name, data.get("name"), "company name", 200),
        "title": (optional_text, data.get("title"), "job title"),
        "industry": (optional_text, data.get("industry"), "industry"),
        "company_id": (_uuid_or_none, data.get("company_id")),
        "email": (optional_email, data.get("email")),
        "phone": (clean_phone, data.get("phone"), country),
        "website": (clean_url, data.get("website")),
        "address": (optional_text, data.get("address"), "address", 300),
        "city": (optional_text, data.get("city"), "city"),
        "postal_code": (optional_text, data.get("postal_code"), "postal code", 20),
        "country": (clean_country, data.get("country")),
        "owner_id": (_uuid_or_none, data.get("owner_id")),
        "source": (optional_text, data.get("source"), "source"),
        "stage": (_stage, data.get("stage")),
        "tags": (clean_tags, data.get("tags")),
        "consent": (clean_bool, data.get("consent"), "marketing consent"),
        "consent_source": (optional_text, data.get("consent_source"), "consent source"),
        "notes": (_notes, data.get("notes")),
    }
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, (check, *args) in checks.items():
        if field not in kind.fields or field not in data:
            continue
        try:
            values[field] = check(*args)
        except ValueError as exc:
            errors[field] = str(exc)
    if "custom" in data:
        values["custom"], custom_errors = custom_fields.clean_values(defs, data.get("custom") or {}, only_present=editing)
        errors.update(custom_errors)
    if kind is CONTACT and {"first_name", "last_name", "email"} <= data.keys():
        if not values.get("first_name") and not values.get("last_name") and not values.get("email") \
                and not {"first_name", "last_name", "email"} & errors.keys():
            errors["first_name"] = "Enter a name or an email address."
    if errors:
        raise FormErrors(errors)
    return values


def _check_references(conn: psycopg.Connection, workspace_id: str, values: dict[str, Any]) -> None:
    """Owner must be a member and company a company of this workspace (one round trip)."""
    owner, company = values.get("owner_id"), values.get("company_id")
    if not owner and not company:
        return
    row = conn.execute(
        "select (%s::uuid is null or exists (select 1 from public.workspace_members"
        "          where workspace_id = %s and user_id = %s::uuid)) as owner_ok,"
        " (%s::uuid is null or exists (select 1 from public.companies where workspace_id = %s and id = %s::uuid)) as company_ok",
        [owner, workspace_id, owner, company, workspace_id, company],
    ).fetchone()
    errors = {}
    if not row["owner_ok"]:
        errors["owner_id"] = "Choose a member of this workspace as owner."
    if not row["company_ok"]:
        errors["company_id"] = "That company does not exist in this workspace."
    if errors:
        raise FormErrors(errors)


def _email_taken(conn: psycopg.Connection, kind: Kind, workspace_id: str, email: str | None, exclude: str | None):
    if not email:
        return None
    return conn.execute(
        sql.SQL("select id, {name} as name from {table} where workspace_id = %s and lower(email) = lower(%s)"
                " and (%s::uuid is null or id <> %s::uuid)").format(
            name=sql.Identifier(kind.name_column), table=kind.ident),
        [workspace_id, email, exclude, exclude],
    ).fetchone()


def _taken_message(kind: Kind, taken: dict) -> str:
    who = md_escape(taken["name"]) if taken["name"] else f"Another {kind.label}"
    return f"{who} already has this email address: [open it](customer?customer={taken['id']})."


def _new_company(conn: psycopg.Connection, kind: Kind, workspace_id: str, data: dict, values: dict) -> None:
    """A company typed by name on a contact's form is created in the contact's own transaction."""
    name = data.get("new_company_name")
    if kind is not CONTACT or not name or not str(name).strip():
        return
    try:
        values["company_id"] = create_in(conn, COMPANY, workspace_id, {
            "name": name, "stage": values.get("stage") or "lead", "owner_id": values.get("owner_id"),
            "country": values.get("country"), "tags": [], "consent": False})
    except FormErrors as exc:
        raise FormErrors({"company_id": next(iter(exc.errors.values()))}) from None


def _db_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: Jsonb(v) if k == "custom" else v for k, v in values.items()}


def _write_error(kind: Kind, exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return FormErrors({"email": f"Another {kind.label} already has this email address."})
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(f"Your role cannot change {kind.plural}.")
    if isinstance(exc, psycopg.errors.CheckViolation):
        return UserError(f"The {kind.label} was not saved: {md_escape(exc.diag.message_primary)}")
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return UserError(md_escape(exc.diag.message_primary or "A linked record no longer exists."))
    raise exc


def create_in(conn: psycopg.Connection, kind: Kind, workspace_id: str, data: dict[str, Any]) -> str:
    """Check and insert one record inside an open user transaction; returns its id."""
    defs = custom_fields.definitions_in(conn, workspace_id, kind.name)
    full = {f: data.get(f) for f in kind.fields}
    values = clean(kind, full, defs)
    _new_company(conn, kind, workspace_id, data, values)
    _check_references(conn, workspace_id, values)
    taken = _email_taken(conn, kind, workspace_id, values.get("email"), None)
    if taken:
        raise FormErrors({"email": _taken_message(kind, taken)})
    values = _db_values(values)
    query = sql.SQL("insert into {table} (workspace_id, {cols}) values (%s, {vals}) returning id").format(
        table=kind.ident,
        cols=sql.SQL(", ").join(map(sql.Identifier, values)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    try:
        with conn.transaction():
            row = conn.execute(query, [workspace_id, *values.values()]).fetchone()
    except psycopg.Error as exc:
        raise _write_error(kind, exc) from exc
    if row is None:
        raise UserError(f"Your role cannot add {kind.plural}.")
    return str(row["id"])


def create(db: Database, claims: Claims, workspace_id: str, kind: Kind, data: dict[str, Any]) -> str:
    with db.as_user(claims) as conn:
        return create_in(conn, kind, workspace_id, data)


RECORD_COLUMNS = {
    CONTACT: "c.*, co.name as company_name",
    COMPANY: "c.*, null::text as company_name",
}


def get(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str) -> dict | None:
    with db.as_user(claims) as conn:
        return get_in(conn, kind, workspace_id, record_id)


def get_in(conn: psycopg.Connection, kind: Kind, workspace_id: str, record_id: str) -> dict | None:
    join = "left join public.companies co on co.id = c.company_id" if kind is CONTACT else ""
    return conn.execute(
        sql.SQL("select " + RECORD_COLUMNS[kind] + ", p.display_name as owner_name from {table} c "
                + join + " left join public.profiles p on p.id = c.owner_id"
                " where c.workspace_id = %s and c.id = %s").format(table=kind.ident),
        [workspace_id, record_id],
    ).fetchone()


def update(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str,
           data: dict[str, Any], version: int) -> int:
    """Save the fields in `data` if nobody saved since `version`; returns the new version.

    ConflictError carries the stored record, so the form can show both versions.
    """
    with db.as_user(claims) as conn:
        defs = custom_fields.definitions_in(conn, workspace_id, kind.name)
        values = clean(kind, data, defs, editing=True)
        _new_company(conn, kind, workspace_id, data, values)
        _check_references(conn, workspace_id, values)
        taken = _email_taken(conn, kind, workspace_id, values.get("email"), record_id)
        if taken:
            raise FormErrors({"email": _taken_message(kind, taken)})
        if not values:
            return version
        values = _db_values(values)
        query = sql.SQL("update {table} set {assignments} where workspace_id = %s and id = %s and version = %s"
                        " returning version").format(
            table=kind.ident,
            # Custom values sent are merged into the stored ones; an emptied field (null) is dropped.
            assignments=sql.SQL(", ").join(
                sql.SQL("custom = jsonb_strip_nulls(custom || {})").format(sql.Placeholder()) if k == "custom"
                else sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in values),
        )
        try:
            with conn.transaction():
                row = conn.execute(query, [*values.values(), workspace_id, record_id, version]).fetchone()
        except psycopg.Error as exc:
            raise _write_error(kind, exc) from exc
        if row:
            return row["version"]
        current = get_in(conn, kind, workspace_id, record_id)
    if current is None:
        raise UserError(f"This {kind.label} no longer exists.")
    if current["version"] == version:
        raise UserError(f"Your role cannot change {kind.plural}.")
    raise ConflictError(
        f"Someone else saved this {kind.label} while you were editing (now version {current['version']}).", current
    )


def changed_fields(mine: dict[str, Any], theirs: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """Fields where the stored record (`theirs`) differs from what the editor started from (`base`)."""
    return [f for f in mine if f in theirs and f in base and theirs[f] != base[f]]


def set_archived(db: Database, claims: Claims, workspace_id: str, kind: Kind, ids: list[str], archived: bool) -> int:
    with db.as_user(claims) as conn:
        return conn.execute(
            sql.SQL("update {table} set archived_at = case when %s then coalesce(archived_at, now()) end"
                    " where workspace_id = %s and id = any(%s::uuid[])").format(table=kind.ident),
            [archived, workspace_id, ids],
        ).rowcount


def delete(db: Database, claims: Claims, workspace_id: str, kind: Kind, record_id: str) -> None:
    """Hard delete (admins): the record's activities and tasks go with it."""
    with db.as_user(claims) as conn:
        gone = conn.execute(
            sql.SQL("delete from {table} where workspace_id = %s and id = %s").format(table=kind.ident),
            [workspace_id, record_id],
        ).rowcount
    if not gone:
        raise UserError(f"Only owners and admins can delete {kind.plural}; archive it instead.")


BULK_ACTIONS = {
    "assign_owner": "Assign owner",
    "add_tag": "Add tag",
    "remove_tag": "Remove tag",
    "set_stage": "Change stage",
    "archive": "Archive",
    "restore": "Restore",
}


def bulk(db: Database, claims: Claims, workspace_id: str, kind: Kind, ids: list[str], action: str,
         value: object = None) -> int:
    """Apply one change to every selected record in one statement (one transaction); returns the count."""
    if not ids:
        raise UserError(f"Select at least one {kind.label} first.")
    if action == "archive" or action == "restore":
        count = set_archived(db, claims, workspace_id, kind, ids, action == "archive")
        if count == 0:
            raise UserError(f"Nothing changed: your role cannot change {kind.plural}, or they no longer exist.")
        return count
    if action == "assign_owner":
        assignment, param = sql.SQL("owner_id = %s::uuid"), _uuid_or_none(value)
    elif action in ("add_tag", "remove_tag"):
        try:
            tags = clean_tags(value)
        except ValueError as exc:
            raise FormErrors({"value": str(exc)}) from None
        if not tags:
            raise FormErrors({"value": "Enter a tag (several: separate them with commas)."})
        assignment = sql.SQL(
            "tags = array(select distinct t from unnest(tags || %s::text[]) t order by t)" if action == "add_tag"
            else "tags = array(select t from unnest(tags) t where t <> all(%s::text[]) order by t)")
        param = tags
    elif action == "set_stage":
        try:
            param = _stage(value)
        except ValueError as exc:
            raise FormErrors({"value": str(exc)}) from None
        assignment = sql.SQL("stage = %s")
    else:
        raise ValueError(f"unknown bulk action {action!r}")
    with db.as_user(claims) as conn:
        if action == "assign_owner":
            _check_references(conn, workspace_id, {"owner_id": param})
        count = conn.execute(
            sql.SQL("update {table} set {assignment} where workspace_id = %s and id = any(%s::uuid[])").format(
                table=kind.ident, assignment=assignment),
            [param, workspace_id, ids],
        ).rowcount
    if count == 0:
        raise UserError(f"Nothing changed: your role cannot change {kind.plural}, or they no longer exist.")
    return count


def likely_duplicates(db: Database, claims: Claims, workspace_id: str, kind: Kind, data: dict[str, Any],
                      exclude_id: str | None = None, limit: int = 5) -> list[dict]:
    """Existing records that look like `data`: same email, same phone, or a similar name at the same company."""
    email = phone = None
    try:
        email = optional_email(data.get("email"))
    except ValueError:
        pass
    try:
        phone = clean_phone(data.get("phone"), clean_country(data.get("country")))
    except ValueError:
        pass
    if kind is CONTACT:
        name = " ".join(filter(None, [str(data.get("first_name") or "").strip(), str(data.get("last_name") or "").strip()]))
        company = _uuid_or_none(data.get("company_id"))
    else:
        name, company = str(data.get("name") or "").strip(), None
    same_company = "c.company_id = %(company)s::uuid" if kind is CONTACT else "true"
    query = sql.SQL(
        "select c.id, c.{name_col} as name, c.email, c.phone,"
        " case when %(email)s::text is not null and lower(c.email) = lower(%(email)s) then 'same email'"
        "      when %(phone)s::text is not null and c.phone = %(phone)s then 'same phone'"
        "      else 'similar name' end as reason"
        " from {table} c where c.workspace_id = %(ws)s and (%(exclude)s::uuid is null or c.id <> %(exclude)s::uuid)"
        " and ((%(email)s::text is not null and lower(c.email) = lower(%(email)s))"
        "   or (%(phone)s::text is not null and c.phone = %(phone)s)"
        "   or (%(name)s <> '' and (%(company)s::uuid is not null or %(is_company)s)"
        "       and " + same_company + " and extensions.similarity(private.fold(c.{name_col}), private.fold(%(name)s)) >= 0.6))"
        " order by (c.email is not distinct from %(email)s) desc, c.{name_col} limit %(limit)s"
    ).format(name_col=sql.Identifier(kind.name_column), table=kind.ident)
    params = {"email": email, "phone": phone, "name": name, "company": company, "ws": workspace_id,
              "exclude": exclude_id, "limit": limit, "is_company": kind is COMPANY}
    with db.as_user(claims) as conn:
        return conn.execute(query, params).fetchall()


def convert_lead(db: Database, claims: Claims, workspace_id: str, contact_id: str, version: int, *,
                 company_name: str | None = None, company_id: str | None = None,
                 deal_title: str | None = None, deal_value: object = None, currency: str = "EUR") -> dict:
    """Lead -> customer in one transaction, optionally creating its company and a first deal.

    Returns {"company_id": …, "deal_id": …} of what exists afterwards (None where nothing).
    """
    from lib.validation import clean_number

    errors: dict[str, str] = {}
    currency = str(currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors["currency"] = "Use a three-letter currency code such as EUR or USD."
    value = 0
    if deal_title is not None and deal_title.strip():
        try:
            value = clean_number(deal_value, "deal value") or 0
            if value < 0:
                raise ValueError("The deal value cannot be negative.")
        except ValueError as exc:
            errors["deal_value"] = str(exc)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        contact = get_in(conn, CONTACT, workspace_id, contact_id)
        if contact is None:
            raise UserError("This contact no longer exists.")
        if contact["version"] != version:
            raise ConflictError("Someone else changed this contact meanwhile; look again before converting.", contact)
        if company_id:
            _check_references(conn, workspace_id, {"company_id": company_id})
        if company_name and company_name.strip() and not company_id:
            try:
                company_id = create_in(conn, COMPANY, workspace_id, {
                    "name": company_name, "stage": "customer", "owner_id": contact["owner_id"],
                    "country": contact["country"], "source": contact["source"], "tags": [], "consent": False,
                    "custom": {}})
            except FormErrors as exc:
                raise FormErrors({"company_name": next(iter(exc.errors.values()))}) from None
        company_id = company_id or (str(contact["company_id"]) if contact["company_id"] else None)
        row = conn.execute(
            "update public.contacts set stage = 'customer', company_id = %s"
            " where workspace_id = %s and id = %s and version = %s returning version",
            [company_id, workspace_id, contact_id, version],
        ).fetchone()
        if row is None:
            raise UserError("Your role cannot convert leads.")
        deal_id = None
        if deal_title and deal_title.strip():
            deal_id = _insert_deal(conn,
                "insert into public.deals (workspace_id, title, contact_id, company_id, value, currency, owner_id, source)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
                [workspace_id, " ".join(deal_title.split())[:200], contact_id, company_id, value, currency,
                 contact["owner_id"], contact["source"]])
    return {"company_id": company_id, "deal_id": str(deal_id) if deal_id else None}


def _insert_deal(conn: psycopg.Connection, statement: str, params: list) -> str:
    try:
        with conn.transaction():
            return conn.execute(statement, params).fetchone()["id"]
    except psycopg.Error as exc:
        raise _write_error(CONTACT, exc) from exc


def locate(db: Database, claims: Claims, workspace_id: str, record_id: str) -> tuple[Kind, dict] | None:
    """The contact or company with this id (deep links name only the id), or None."""
    try:
        uuid_text = str(uuid.UUID(str(record_id)))
    except ValueError:
        return None
    with db.as_user(claims) as conn:
        for kind in (CONTACT, COMPANY):
            record = get_in(conn, kind, workspace_id, uuid_text)
            if record is not None:
                return kind, record
    return None


def company_choices(db: Database, claims: Claims, workspace_id: str, limit: int = 5000) -> dict[str, str]:
    """{id: name} of the workspace's active companies, for pickers."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select id, name from public.companies where workspace_id = %s and archived_at is null order by name limit %s",
            [workspace_id, limit],
        ).fetchall()
    return {str(r["id"]): r["name"] for r in rows}


def contact_choices(db: Database, claims: Claims, workspace_id: str, company_id: str | None = None,
                    limit: int = 500) -> dict[str, str]:
    """{id: "name (email)"} of active contacts, of one company when given, for pickers."""
    where = "workspace_id = %s and archived_at is null" + (" and company_id = %s" if company_id else "")
    params = [workspace_id] + ([company_id] if company_id else []) + [limit]
    with db.as_user(claims) as conn:
        rows = conn.execute(
            f"select id, full_name, email from public.contacts where {where} order by full_name, id limit %s",
            params).fetchall()
    return {str(r["id"]): " ".join(p for p in (r["full_name"], f"({r['email']})" if r["email"] else "") if p)
            for r in rows}
