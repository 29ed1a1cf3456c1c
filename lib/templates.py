"""Email templates: saved subject + body with merge fields, rendered by a sandboxed Jinja2.

The body is plain text with merge fields ({{ contact.first_name }}, {{ workspace.name }},
{{ unsubscribe_url }}, …; `{% if %}` works too). Each email gets two parts from it:

- text: the template rendered without escaping;
- HTML: the same template where the literal text is escaped and its line breaks and web
  addresses become `<br>` and links (a Jinja extension rewrites the template's text tokens),
  while merge values are escaped by autoescape. The unsubscribe link is a real link there.

Values are data, never template code: a contact named `{{ 7*7 }}` stays `{{ 7*7 }}`, one named
`<script>` becomes `&lt;script&gt;` in HTML. The environment is Jinja's immutable sandbox
(no `''.__class__`, no mutating values), with `range` capped, `*`/`**` checked and the output
size capped, since templates are written by workspace members, not the app's developers.
Saving validates: a syntax error names its line, an unknown merge field is listed with the
known ones (a strict test render, so nothing undefined slips through). A body that does not
place `{{ unsubscribe_url }}` itself gets it in a footer: every email carries the link.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterator

import psycopg
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from lib import mailer, versioned
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import contains_pattern, md_escape
from lib.validation import clean_name, collect

MERGE_FIELDS = {
    "contact.first_name": "The contact's first name",
    "contact.last_name": "The contact's last name",
    "contact.full_name": "The contact's full name",
    "contact.email": "The contact's email address",
    "contact.company": "The contact's company name",
    "workspace.name": "Your workspace's name (the sender)",
    "unsubscribe_url": "The contact's own unsubscribe link (added as a footer when the body does not place it)",
}
OBJECTS = {"contact": ("first_name", "last_name", "full_name", "email", "company"), "workspace": ("name",)}
MAX_RANGE = 1000
MAX_OUTPUT = 200_000  # characters per rendered part
MAX_SUBJECT = 998  # an email header line
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
SAMPLE_CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "full_name": "Ada Lovelace",
                  "email": "ada@example.com", "company": "Analytical Engines Ltd"}


def _limited_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"A loop can repeat at most {MAX_RANGE} times.")
    return numbers


def _text_to_html(text: str) -> str:
    """Literal template text as HTML: escaped, web addresses linked, line breaks kept."""
    escaped = html.escape(text, quote=True)
    linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return linked.replace("\r\n", "\n").replace("\n", "<br>\n")


class _TextAsHtml(Extension):
    """Rewrites the template's own text for the HTML part (expressions are left to autoescape)."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        for token in stream:
            yield Token(token.lineno, "data", _text_to_html(token.value)) if token.type == "data" else token


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError("That power is too large.")
        if operator == "*":
            sized = left if isinstance(left, (str, list, tuple)) else right if isinstance(right, (str, list, tuple)) else None
            times = right if sized is left else left
            if sized is not None and isinstance(times, int) and len(sized) * times > MAX_OUTPUT:
                raise SecurityError("That repetition is too long.")
        return super().call_binop(context, operator, left, right)


def _environment(for_html: bool) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=for_html, keep_trailing_newline=True,
                   extensions=[_TextAsHtml] if for_html else [])
    env.globals = {"range": _limited_range}
    return env


TEXT_ENV, HTML_ENV = _environment(False), _environment(True)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_PLAIN_SYNTAX = (  # Jinja's wording -> what a template's author can act on
    (re.compile(r"innermost block that needs to be closed is '(\w+)'"),
     lambda m: f"A {{% {m[1]} %}} is not closed: add {{% end{m[1]} %}} where it ends."),
    (re.compile(r"expected (token )?'end of print statement'"),
     lambda m: "A merge field is not closed or has extra words: write it like {{ contact.first_name }}."),
    (re.compile(r"unexpected '}'"), lambda m: "A merge field has a brace too many or too few: {{ … }}."),
    (re.compile(r"unknown tag '(end\w+)'"), lambda m: f"{{% {m[1]} %}} closes a block that was never opened."),
)


def _problem_line(exc: TemplateSyntaxError) -> str:
    message = str(exc.message)
    for pattern, plain in _PLAIN_SYNTAX:
        if found := pattern.search(message):
            message = plain(found)
            break
    return f"Line {exc.lineno}: {message}" if exc.lineno else message


def _fields_used(ast: nodes.Template) -> tuple[set[str], set[str]]:
    """(names the template reads from outside, `object.field` pairs it reads)."""
    names = meta.find_undeclared_variables(ast)
    pairs = {f"{n.node.name}.{n.attr}" for n in ast.find_all(nodes.Getattr)
             if isinstance(n.node, nodes.Name) and n.node.name in names}
    return names, pairs


def _unknown_fields(ast: nodes.Template) -> list[str]:
    names, pairs = _fields_used(ast)
    unknown = {n for n in names if n not in OBJECTS and n != "unsubscribe_url"}
    unknown |= {p for p in pairs if p.split(".")[0] in OBJECTS and p not in MERGE_FIELDS}
    return sorted(unknown)


def _check(source: str, field: str, errors: dict[str, str]) -> None:
    """A syntax error (with its line) or unknown merge fields in `source`, recorded under `field`."""
    try:
        ast = TEXT_ENV.parse(source)
        HTML_ENV.parse(source)
    except TemplateSyntaxError as exc:
        errors[field] = md_escape(_problem_line(exc))
        return
    unknown = _unknown_fields(ast)
    if unknown:
        errors[field] = ("Unknown merge field: " + ", ".join(md_escape("{{ " + u + " }}") for u in unknown)
                         + ". Use " + ", ".join(md_escape("{{ " + f + " }}") for f in MERGE_FIELDS) + ".")
    elif field == "subject" and "unsubscribe_url" in _fields_used(ast)[0]:
        errors[field] = md_escape("The unsubscribe link goes in the body, not the subject: move {{ unsubscribe_url }}.")


def validate(subject: str, body: str) -> None:
    """FormErrors for `subject`/`body` that do not parse, read unknown fields or fail a test render."""
    errors: dict[str, str] = {}
    _check(subject, "subject", errors)
    _check(body, "body", errors)
    if not errors:
        try:
            compile_template(subject, body).render(SAMPLE_CONTACT, "Sample workspace", "https://example.com/u")
        except (SecurityError, UndefinedError, TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            errors["body"] = md_escape(f"The template cannot be rendered: {exc}")
    if errors:
        raise FormErrors(errors)


def _text(value: object, what: str, max_length: int) -> str:
    text = str(value or "").replace("\r\n", "\n")
    if not text.strip():
        raise ValueError(f"Write the {what}.")
    if len(text) > max_length:
        raise ValueError(f"The {what} can be at most {max_length:,} characters long.")
    return text


def clean_template(data: dict) -> dict:
    values, errors = collect({
        "name": (clean_name, data.get("name"), "template name", 200),
        "subject": (clean_name, data.get("subject"), "subject", 300),
        "body": (_text, data.get("body"), "body", 100_000),
    })
    if "subject" in values and "body" in values:
        try:
            validate(values["subject"], values["body"])
        except FormErrors as exc:
            errors.update(exc.errors)
    if errors:
        raise FormErrors(errors)
    return values


# -- rendering ------------------------------------------------------------------------------------


def _bounded(chunks: Iterator[str]) -> str:
    out, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"The email would be longer than {MAX_OUTPUT:,} characters.")
        out.append(chunk)
    return "".join(out)


def _value(value: object) -> str:
    """A merge value as text. A value can never be read as the mail worker's unsubscribe link
    placeholder: a contact named "%%unsubscribe_url%%" stays that, not a link."""
    return "" if value is None else str(value).replace("%%", "%\u200b%")


def _plain(contact: dict) -> dict[str, str]:
    values = {k: _value(contact.get(k)) for k in OBJECTS["contact"]}
    if not values["full_name"]:
        values["full_name"] = " ".join(v for v in (values["first_name"], values["last_name"]) if v)
    return values


class Compiled:
    """A template compiled once and rendered for many recipients."""

    def __init__(self, subject: str, body: str):
        self.subject = TEXT_ENV.from_string(subject)
        self.text = TEXT_ENV.from_string(body)
        self.html = HTML_ENV.from_string(body)
        names, _ = _fields_used(TEXT_ENV.parse(body))
        self.needs_footer = "unsubscribe_url" not in names

    def render(self, contact: dict, workspace_name: str, unsubscribe_url: str) -> Rendered:
        values = {"contact": _plain(contact), "workspace": {"name": _value(workspace_name)}}
        link = Markup('<a href="{0}">{0}</a>').format(unsubscribe_url)
        subject = " ".join(_bounded(self.subject.generate(**values, unsubscribe_url=unsubscribe_url)).split())
        text = _bounded(self.text.generate(**values, unsubscribe_url=unsubscribe_url))
        body = _bounded(self.html.generate(**values, unsubscribe_url=link))
        if self.needs_footer:
            sender = values["workspace"]["name"] or "us"
            text = text.rstrip("\n") + f"\n\n--\nYou receive this email from {sender}. Unsubscribe: {unsubscribe_url}\n"
            body += str(Markup('<br>\n<br>\n<small>You receive this email from {0}. <a href="{1}">Unsubscribe</a>'
                               '</small>').format(sender, unsubscribe_url))
        document = ('<!DOCTYPE html>\n<html><body style="font-family: sans-serif; line-height: 1.5">\n'
                    f"{body}\n</body></html>\n")
        return Rendered(subject[:MAX_SUBJECT], text, document)


def compile_template(subject: str, body: str) -> Compiled:
    """Compile (raises jinja2's TemplateSyntaxError; saved templates were validated already)."""
    return Compiled(subject, body)


def render(subject: str, body: str, contact: dict, workspace_name: str, unsubscribe_url: str) -> Rendered:
    return compile_template(subject, body).render(contact, workspace_name, unsubscribe_url)


def _render_or_explain(subject: str, body: str, contact: dict, workspace_name: str, url: str) -> Rendered:
    validate(subject, body)
    try:
        return render(subject, body, contact, workspace_name, url)
    except (SecurityError, UndefinedError, TemplateError) as exc:
        raise FormErrors({"body": md_escape(f"The template cannot be rendered: {exc}")}) from None


# -- storage --------------------------------------------------------------------------------------


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot change email templates; agents and above can.")
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        return UserError(md_escape(exc.diag.message_primary or "That change is not allowed."))
    raise exc


def create(db: Database, claims: Claims, workspace_id: str, data: dict) -> str:
    values = clean_template(data)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.email_templates (workspace_id, name, subject, body)"
                    " values (%(ws)s, %(name)s, %(subject)s, %(body)s) returning id",
                    {"ws": workspace_id, **values}).fetchone()
        except psycopg.Error as exc:
            raise _refused(exc) from exc
    return str(row["id"])


def update(db: Database, claims: Claims, workspace_id: str, template_id: str, data: dict, version: int) -> int:
    """Save if nobody saved since `version`; returns the new version, ConflictError otherwise."""
    values = clean_template(data)
    with db.as_user(claims) as conn:
        return versioned.save(conn, "email_templates", workspace_id, template_id, version,
                              {k: values[k] for k in ("name", "subject", "body")}, what="template",
                              refused=_refused, current=lambda: _get(conn, workspace_id, template_id))


def delete(db: Database, claims: Claims, workspace_id: str, template_id: str) -> None:
    """Admins delete; campaigns that used the template keep their queued emails (already rendered)."""
    with db.as_user(claims) as conn:
        gone = conn.execute("delete from public.email_templates where workspace_id = %s and id = %s",
                            [workspace_id, template_id]).rowcount
    if not gone:
        raise UserError("Only admins can delete templates (or it was deleted already).")


def _get(conn: psycopg.Connection, workspace_id: str, template_id: str) -> dict | None:
    return conn.execute("select * from public.email_templates where workspace_id = %s and id = %s",
                        [workspace_id, template_id]).fetchone()


def get(db: Database, claims: Claims, workspace_id: str, template_id: str) -> dict | None:
    with db.as_user(claims) as conn:
        return _get(conn, workspace_id, template_id)


def list_templates(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Templates by name, with how many campaigns use each."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select t.id::text as id, t.name, t.subject, t.body, t.version, t.updated_at,"
            " (select count(*) from public.campaigns c where c.template_id = t.id) as campaigns"
            " from public.email_templates t where t.workspace_id = %s order by lower(t.name), t.id",
            [workspace_id]).fetchall()


# -- recipients, preview and test send ------------------------------------------------------------

CONTACT_FIELDS = (
    "k.id, k.first_name, k.last_name, k.full_name, k.email, co.name as company"
    " from public.contacts k left join public.companies co on co.id = k.company_id"
)


def contact_values(conn: psycopg.Connection, workspace_id: str, contact_id: str) -> dict | None:
    return conn.execute(f"select {CONTACT_FIELDS} where k.workspace_id = %s and k.id = %s",
                        [workspace_id, contact_id]).fetchone()


def contact_matches(db: Database, claims: Claims, workspace_id: str, search: str = "", limit: int = 20) -> list[dict]:
    """Contacts with an email whose name or email contains `search` (for the preview picker)."""
    pattern = contains_pattern(search)
    with db.as_user(claims) as conn:
        return conn.execute(
            "select id::text as id, full_name, email from public.contacts where workspace_id = %s"
            " and archived_at is null and email is not null and (full_name ilike %s or email ilike %s)"
            " order by full_name, email limit %s", [workspace_id, pattern, pattern, limit]).fetchall()


def workspace_name(conn: psycopg.Connection, workspace_id: str) -> str:
    row = conn.execute("select name from public.workspaces where id = %s", [workspace_id]).fetchone()
    return row["name"] if row else ""


def preview_url(base_url: str) -> str:
    """What {{ unsubscribe_url }} shows in a preview or a test send (no real contact to unsubscribe)."""
    return f"{(base_url or '').rstrip('/')}/?unsubscribe=preview"


def preview(db: Database, claims: Claims, workspace_id: str, subject: str, body: str,
            contact_id: str | None, base_url: str) -> Rendered:
    """The email as `contact_id` (or a sample contact) would get it; FormErrors for a bad template."""
    with db.as_user(claims) as conn:
        contact = contact_values(conn, workspace_id, contact_id) if contact_id else None
        sender = workspace_name(conn, workspace_id)
    return _render_or_explain(subject, body, contact or SAMPLE_CONTACT, sender, preview_url(base_url))


def test_send(db: Database, claims: Claims, workspace_id: str, subject: str, body: str,
              contact_id: str | None = None) -> str:
    """Queue ONE email of this template to the signed-in user (merge values from `contact_id`, else
    the user); the mail worker sends it. Returns the outbox row id."""
    with db.as_user(claims) as conn:
        contact = contact_values(conn, workspace_id, contact_id) if contact_id else None
        if contact is None:
            profile = conn.execute("select display_name from public.profiles where id = %s", [claims.sub]).fetchone()
            name = (profile or {}).get("display_name") or ""
            first, _, last = name.partition(" ")
            contact = {"first_name": first, "last_name": last, "full_name": name, "email": claims.email,
                       "company": ""}
        sender = workspace_name(conn, workspace_id)
    # As in a campaign email, the worker puts the link in (one that says it is a test).
    email = _render_or_explain(subject, body, contact, sender, mailer.UNSUBSCRIBE_URL_MARK)

    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    "insert into public.outbox (workspace_id, to_email, subject, body_text, body_html, message_id)"
                    " values (%s, %s, %s, %s, %s, %s) returning id",
                    [workspace_id, claims.email, ("[Test] " + email.subject)[:MAX_SUBJECT], email.text, email.html,
                     mailer.new_message_id(workspace_id)]).fetchone()
        except psycopg.Error as exc:
            raise _refused(exc) from exc
    return str(row["id"])
