"""Knowledge base: categories and markdown articles (draft or published), ranked full-text search,
view counts, and published articles suggested for a ticket's text. Every call is one
transaction as the signed-in user.

Matching runs in the database (`private.kb_match`, on the GIN index of kb_articles.search,
folded with lower+unaccent so accents and case do not matter); the rows themselves are read
through row-level security: viewers see published articles only, agents and above drafts too.
Bodies are markdown shown with `st.markdown`, which does not render raw HTML.
"""

from __future__ import annotations

import psycopg

from lib import versioned
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import md_escape
from lib.validation import clean_name, collect

STATUSES = ("draft", "published")
MAX_BODY = 100_000
ARTICLE_COLUMNS = (
    "a.id, a.workspace_id, a.category_id, c.name as category_name, a.title, a.body, a.status, a.published_at,"
    " a.view_count, a.created_by, p.display_name as author_name, a.created_at, a.updated_at, a.version"
)
DETAIL_JOINS = (
    " left join public.kb_categories c on c.id = a.category_id left join public.profiles p on p.id = a.created_by"
)
ARTICLE_JOINS = " from public.kb_articles a" + DETAIL_JOINS
LIST_COLUMNS = ARTICLE_COLUMNS.replace(" a.body,", " left(a.body, 300) as excerpt,")


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError("Your role cannot change the knowledge base; agents and above can.")
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return FormErrors({"name": "A category with this name already exists."})
    if isinstance(exc, (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        return UserError(md_escape(exc.diag.message_primary or "That change is not allowed."))
    raise exc


def _write(conn: psycopg.Connection, statement: str, params: list) -> dict | None:
    try:
        with conn.transaction():
            return conn.execute(statement, params).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from exc


def _body(value: object) -> str:
    text = str(value or "").strip()
    if len(text) > MAX_BODY:
        raise ValueError(f"The article can be at most {MAX_BODY:,} characters long.")
    return text


def _status(value: object) -> str:
    if value not in STATUSES:
        raise ValueError("Choose draft or published.")
    return str(value)


def clean(title: object, body: object, status: object = "draft") -> dict:
    """The article's fields checked; FormErrors names each field that is wrong."""
    values, errors = collect({
        "title": (clean_name, title, "title", 200),
        "body": (_body, body),
        "status": (_status, status),
    })
    if errors:
        raise FormErrors(errors)
    return values


# -- categories ------------------------------------------------------------------------------


def categories(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """Categories in their order, each with the number of articles the caller can see."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select c.id, c.name, c.position, c.version, count(a.id) as articles"
            " from public.kb_categories c left join public.kb_articles a on a.category_id = c.id"
            " where c.workspace_id = %s group by c.id order by c.position, c.name",
            [workspace_id]).fetchall()


def create_category(db: Database, claims: Claims, workspace_id: str, name: str, position: int | None = None) -> str:
    values, errors = collect({"name": (clean_name, name, "category name", 100)})
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        row = _write(
            conn,
            "insert into public.kb_categories (workspace_id, name, position)"
            " values (%s, %s, coalesce(%s, (select coalesce(max(position) + 1, 0) from public.kb_categories"
            "  where workspace_id = %s))) returning id",
            [workspace_id, values["name"], position, workspace_id])
    return str(row["id"])


def delete_category(db: Database, claims: Claims, workspace_id: str, category_id: str) -> None:
    """Admins only; the category's articles stay, without a category."""
    with db.as_user(claims) as conn:
        row = _write(conn, "delete from public.kb_categories where workspace_id = %s and id = %s returning id",
                     [workspace_id, category_id])
    if row is None:
        raise UserError("Only admins can delete categories.")


# -- articles --------------------------------------------------------------------------------


def create(db: Database, claims: Claims, workspace_id: str, title: str, body: str, *,
           category_id: str | None = None, status: str = "draft") -> str:
    values = clean(title, body, status)
    with db.as_user(claims) as conn:
        row = _write(
            conn,
            "insert into public.kb_articles (workspace_id, category_id, title, body, status)"
            " values (%s, %s, %s, %s, %s) returning id",
            [workspace_id, category_id or None, values["title"], values["body"], values["status"]])
    return str(row["id"])


def get(db: Database, claims: Claims, workspace_id: str, article_id: str, *, count_view: bool = False) -> dict | None:
    """The article if the caller can read it; with count_view, one more view is counted first."""
    with db.as_user(claims) as conn:
        if count_view:
            conn.execute("select private.count_article_view(%s)", [article_id])
        return _get(conn, workspace_id, article_id)


def _get(conn: psycopg.Connection, workspace_id: str, article_id: str) -> dict | None:
    return conn.execute(f"select {ARTICLE_COLUMNS}{ARTICLE_JOINS} where a.workspace_id = %s and a.id = %s",
                        [workspace_id, article_id]).fetchone()


def count_view(db: Database, claims: Claims, article_id: str) -> int | None:
    """One more view; the new count, or None when the caller may not read the article."""
    with db.as_user(claims) as conn:
        return conn.execute("select private.count_article_view(%s) as n", [article_id]).fetchone()["n"]


def update(db: Database, claims: Claims, workspace_id: str, article_id: str, version: int, *, title: str,
           body: str, category_id: str | None, status: str) -> int:
    """Save an edit made on `version`; ConflictError when someone saved a newer one first."""
    values = clean(title, body, status)
    return _update(db, claims, workspace_id, article_id, version,
                   {"category_id": category_id or None, "title": values["title"], "body": values["body"],
                    "status": values["status"]})


def publish(db: Database, claims: Claims, workspace_id: str, article_id: str, version: int) -> int:
    return _update(db, claims, workspace_id, article_id, version, {"status": "published"})


def unpublish(db: Database, claims: Claims, workspace_id: str, article_id: str, version: int) -> int:
    return _update(db, claims, workspace_id, article_id, version, {"status": "draft"})


def _update(db: Database, claims: Claims, workspace_id: str, article_id: str, version: int, values: dict) -> int:
    with db.as_user(claims) as conn:
        return versioned.save(
            conn, "kb_articles", workspace_id, article_id, version, values, what="article", refused=_refused,
            current=lambda: _get(conn, workspace_id, article_id),
            denied="Your role cannot change the knowledge base; agents and above can.",
            conflict=lambda now: f"Someone else changed “{md_escape(now['title'])}” meanwhile; "
                                 "reload it to see their version.")


def delete(db: Database, claims: Claims, workspace_id: str, article_id: str) -> None:
    """Admins only."""
    with db.as_user(claims) as conn:
        row = _write(conn, "delete from public.kb_articles where workspace_id = %s and id = %s returning id",
                     [workspace_id, article_id])
    if row is None:
        raise UserError("Only admins can delete articles.")


def articles(db: Database, claims: Claims, workspace_id: str, category_id: str | None = None, *,
             limit: int = 200) -> list[dict]:
    """Articles the caller can see (of one category if given), newest first, with an excerpt."""
    where = " where a.workspace_id = %s" + (" and a.category_id = %s" if category_id else "")
    params = [workspace_id, *([category_id] if category_id else []), limit]
    with db.as_user(claims) as conn:
        return conn.execute(f"select {LIST_COLUMNS}{ARTICLE_JOINS}{where}"
                            " order by a.status, a.published_at desc nulls last, a.updated_at desc limit %s",
                            params).fetchall()


# -- search ----------------------------------------------------------------------------------


def _ranked(db: Database, claims: Claims, workspace_id: str, tsquery_sql: str, text: str, limit: int,
            drafts: bool) -> list[dict]:
    with db.as_user(claims) as conn:
        return conn.execute(
            f"select {LIST_COLUMNS}, m.rank from private.kb_match(%s, {tsquery_sql}, %s, %s) m"
            f" join public.kb_articles a on a.id = m.id"
            f"{DETAIL_JOINS}"
            " order by m.rank desc, a.published_at desc nulls last, a.id",
            [workspace_id, text, limit, drafts]).fetchall()


def search(db: Database, claims: Claims, workspace_id: str, query: str, limit: int = 20) -> list[dict]:
    """Articles matching a search box query (web-search syntax: words, "a phrase", -not, or),
    best first: title matches above body matches. Agents and above find drafts too."""
    query = " ".join(str(query or "").split())
    if not query:
        return []
    return _ranked(db, claims, workspace_id, "websearch_to_tsquery('simple', private.fold(%s))", query[:500],
                   limit, True)


def suggest_for_ticket(db: Database, claims: Claims, workspace_id: str, subject: str | None,
                       description: str | None = None, limit: int = 3) -> list[dict]:
    """Published articles sharing the most telling words with a ticket's subject and description."""
    text = f"{subject or ''}\n{description or ''}".strip()
    if not text:
        return []
    return _ranked(db, claims, workspace_id, "private.kb_any_words(%s)", text, limit, False)
