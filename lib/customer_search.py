"""The customer lists: search, filters, sort and keyset pages, all computed in Postgres.

Search folds case and accents (`private.fold`) and matches with pg_trgm, so `Zoe Muller`
finds `Zoë Müller` and `Smiht` finds `Smith` (typos are tolerated in names; emails, phones and
websites match as substrings); digits in the query also match phone numbers typed in any
format. The database's private.search_scored returns the matches with their relevance, and
the list reads records by id from there. Pages are keyset pages (`after` = the last row's sort
key), so page 200 costs what page 1 costs; the total is counted separately with the same
filters, exactly up to COUNT_CAP if that takes at most COUNT_BUDGET_MS, else estimated.

The same Filters describe a saved segment (lib.segments): beside the list's own filters they
can ask for consent, an open deal or ticket, recent or no activity (`last_contacted_at`, which
the activities trigger keeps), membership of a static list, and an RFM segment (a contact is in
it when it is the scored customer itself, i.e. its orders without a company, or when its company
is). `where_sql` turns them into one WHERE clause on the alias `c`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Iterator

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lib import custom_fields
from lib.customers import CONTACT, Kind
from lib.db import Claims, Database

PAGE_SIZE = 50
COUNT_CAP = 10_000  # totals are exact up to here; beyond, the list says "more than 10,000"
COUNT_BUDGET_MS = 60  # a count that needs longer (a rare filter under RLS) shows the planner's estimate
SIMILARITY_THRESHOLD = 0.4  # pg_trgm word similarity: low enough for one typo in a short name

SORTS = {
    "relevance": "Best match",
    "name": "Name A–Z",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "last_contacted": "Recently contacted",
}
# sort -> ([(expression, descending)], tie-breaker on id descending?)
_ORDER = {
    "name": (["c.{name}"], False),
    "newest": (["c.created_at"], True),
    "oldest": (["c.created_at"], False),
    "last_contacted": (["coalesce(c.last_contacted_at, '-infinity'::timestamptz)"], True),
    "relevance": (["score"], True),
}


@dataclass(frozen=True)
class Filters:
    """What the list shows. Empty tuples and None mean 'no restriction'."""

    search: str = ""
    stages: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()  # user ids; "" stands for "no owner"
    tags: tuple[str, ...] = ()  # any of these
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    contacted_from: date | None = None
    contacted_to: date | None = None
    custom: dict[str, Any] = field(default_factory=dict)  # key -> value, or (low, high) for numbers/dates
    archived: bool = False  # True: the archive instead of the active records
    company_id: str | None = None  # contacts of one company
    ids: tuple[str, ...] = ()  # exactly these records (e.g. a selection being exported)
    consent: bool | None = None  # True: marketing consent given; False: not given
    open_deal: bool | None = None  # True: has an open deal (its own, not its company's); False: has none
    open_ticket: bool | None = None  # True: has a ticket not solved or closed; False: has none
    active_days: int | None = None  # last activity within the last N days
    inactive_days: int | None = None  # no activity for N days or more (never contacted included)
    in_list: str | None = None  # members of this static list (a segment of kind 'static'); contacts only
    rfm_segments: tuple[str, ...] = ()  # in any of these RFM segments (lib.analytics.customers.SEGMENTS)
    rfm_currency: str = ""  # the currency RFM is scored in; "" = the one with the most sales
    rfm_snapshot: date | None = None  # RFM as of this day; None = at the latest data


@dataclass
class Page:
    rows: list[dict]
    total: int  # exact up to COUNT_CAP; COUNT_CAP + 1 means "more than COUNT_CAP"
    next_after: tuple | None  # pass as `after` for the next page; None on the last page
    total_estimated: bool = False  # the count ran out of COUNT_BUDGET_MS: `total` is the planner's estimate

    @property
    def total_capped(self) -> bool:
        return self.total > COUNT_CAP

    def total_text(self) -> str:
        if self.total_estimated:
            return f"about {_round(self.total):,}"
        return f"more than {COUNT_CAP:,}" if self.total_capped else f"{self.total:,}"


def _round(n: int) -> int:
    """Two significant digits: an estimate should not look exact."""
    if n < 100:
        return n
    step = 10 ** (len(str(n)) - 2)
    return round(n / step) * step


def _fold_query(text: str) -> str:
    return " ".join(text.split())


def _like_pattern(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


# (id, score) of the records matching the search, contacts also through their company's name.
_SEARCHED = "private.search_scored('{table}', %(ws)s, %(pat)s, %(q)s, %(phone)s)"


def _search_params(q: str) -> dict[str, Any]:
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 5 and re.fullmatch(r"[\d\s()+./-]+", q):
        # A phone number, typed in any format: match its digits (without trunk zeros).
        return {"q": q, "pat": _like_pattern(digits.lstrip("0")), "phone": True}
    return {"q": q, "pat": _like_pattern(q), "phone": False}


OPEN_TICKET = "t.status in ('new', 'open', 'pending_customer', 'on_hold')"


def _where(kind: Kind, workspace_id: str, f: Filters, defs: list[custom_fields.FieldDef],
           rfm_ids: list[str] | None = None, whole: bool = False) -> tuple[sql.Composed, dict]:
    """The filters as SQL on `c`, and the search's parameters (the caller joins its matches).
    `rfm_ids`: the customers of `f.rfm_segments`; `whole`: see `where_sql`."""
    parts: list[sql.Composable] = [sql.SQL("c.workspace_id = %(ws)s")]
    params: dict[str, Any] = {"ws": workspace_id}
    parts.append(sql.SQL("c.archived_at is not null" if f.archived else "c.archived_at is null"))
    q = _fold_query(f.search or "")
    if q:
        # Matching runs in private.search_scored, on trigram indexes (under row-level security
        # Postgres cannot use an index for LIKE or `<%`: not leakproof); the list joins its ids.
        params.update(_search_params(q))
    for column, values, cast in (("stage", f.stages, "text"), ("source", f.sources, "text"), ("country", f.countries, "text")):
        if values:
            params[column + "s"] = list(values)
            parts.append(sql.SQL(f"c.{column} = any(%({column}s)s::{cast}[])"))
    if f.owners:
        owners = [o for o in f.owners if o]
        params["owners"] = owners
        clause = "c.owner_id = any(%(owners)s::uuid[])"
        if "" in f.owners:
            clause = f"({clause} or c.owner_id is null)"
        parts.append(sql.SQL(clause))
    if f.tags:
        params["tags"] = list(f.tags)
        parts.append(sql.SQL("c.tags && %(tags)s::text[]"))
    for column, low, high in (("created_at", f.created_from, f.created_to),
                              ("last_contacted_at", f.contacted_from, f.contacted_to)):
        if low:
            params[column + "_low"] = low
            parts.append(sql.SQL(f"c.{column} >= %({column}_low)s::date"))
        if high:
            params[column + "_high"] = high + timedelta(days=1)
            parts.append(sql.SQL(f"c.{column} < %({column}_high)s::date"))
    if f.company_id:
        params["company_id"] = f.company_id
        parts.append(sql.SQL("c.company_id = %(company_id)s::uuid"))
    if f.ids:
        params["ids"] = list(f.ids)
        parts.append(sql.SQL("c.id = any(%(ids)s::uuid[])"))
    parts += _segment_parts(kind, f, params, rfm_ids, whole)
    by_key = {d.key: d for d in defs}
    for n, (key, wanted) in enumerate(sorted(f.custom.items())):
        definition = by_key.get(key)
        if definition is None or wanted in (None, "", ()):
            continue
        params[f"ck{n}"] = key
        if definition.field_type in ("number", "date") and isinstance(wanted, (tuple, list)):
            cast = "numeric" if definition.field_type == "number" else "date"
            low, high = wanted
            if low is not None:
                params[f"cl{n}"] = low
                parts.append(sql.SQL(f"(c.custom ->> %(ck{n})s)::{cast} >= %(cl{n})s"))
            if high is not None:
                params[f"ch{n}"] = high
                parts.append(sql.SQL(f"(c.custom ->> %(ck{n})s)::{cast} <= %(ch{n})s"))
        elif definition.field_type == "text":
            params[f"cv{n}"] = _like_pattern(str(wanted))
            parts.append(sql.SQL(f"(c.custom ->> %(ck{n})s) ilike %(cv{n})s"))
        else:
            params[f"cv{n}"] = Jsonb({key: wanted})
            parts.append(sql.SQL(f"c.custom @> %(cv{n})s"))
    return sql.SQL(" and ").join(parts), params


def _segment_parts(kind: Kind, f: Filters, params: dict, rfm_ids: list[str] | None,
                   whole: bool) -> list[sql.Composable]:
    """The criteria segments add: consent, open deal/ticket, activity, static list, RFM segment.
    Plain comparisons and subqueries: row-level security applies to the deals, tickets and list
    members they read as to everything else."""
    parts: list[sql.Composable] = []
    own = "contact_id" if kind is CONTACT else "company_id"
    if f.consent is not None:
        params["consent"] = bool(f.consent)
        parts.append(sql.SQL("c.consent = %(consent)s::boolean"))
    # Records with an open deal, an open ticket, on the list: (SQL of their ids, its column, wanted).
    related = [
        (f"select d.{own} from public.deals d where d.workspace_id = %(ws)s and d.status = 'open'", f"d.{own}",
         f.open_deal),
        (f"select t.{own} from public.tickets t where t.workspace_id = %(ws)s and {OPEN_TICKET}", f"t.{own}",
         f.open_ticket),
        ("select m.contact_id from public.segment_members m where m.workspace_id = %(ws)s"
         " and m.segment_id = %(in_list)s::uuid", "m.contact_id", True if f.in_list else None),
    ]
    if f.in_list:
        if kind is not CONTACT:
            raise ValueError("Static lists hold contacts.")
        params["in_list"] = f.in_list
    wanted = [ids for ids, _, want in related if want]
    if wanted and whole and kind is CONTACT and not (f.stages or f.countries or f.owners or f.ids or f.company_id):
        # All of them, and nothing else narrows the contacts: look the related ids up in
        # contacts_segment_ws_id_idx (one sorted index scan) instead of semi-joining them against
        # every contact of the workspace (docs/benchmarks.md, "Segments"). One array, so it is
        # the index condition. (A page stops early walking its sort order with a semi join.)
        parts.append(sql.SQL("c.id = any(array(" + " intersect ".join(f"({ids})" for ids in wanted) + "))"))
    else:
        parts += [sql.SQL(f"c.id in ({ids})") for ids in wanted]
    parts += [sql.SQL(f"not exists ({ids} and {column} = c.id)") for ids, column, want in related if want is False]
    if f.active_days is not None:
        params["active_days"] = int(f.active_days)
        parts.append(sql.SQL("c.last_contacted_at >= now() - make_interval(days => %(active_days)s::int)"))
    if f.inactive_days is not None:
        # Never contacted counts as inactive.
        params["inactive_days"] = int(f.inactive_days)
        parts.append(sql.SQL("coalesce(c.last_contacted_at, '-infinity'::timestamptz)"
                             " < now() - make_interval(days => %(inactive_days)s::int)"))
    if f.rfm_segments:
        if rfm_ids is None:
            raise ValueError("RFM filters need where_sql(), which looks their customers up.")
        # IN (unnest …): hashed once per statement. `= any(array)` would search the array row by
        # row once the statement is prepared and planned generically.
        params["rfm_ids"] = rfm_ids
        parts.append(sql.SQL("(c.id in (select unnest(%(rfm_ids)s::uuid[]))"
                             " or c.company_id in (select unnest(%(rfm_ids)s::uuid[])))"
                             if kind is CONTACT else "c.id in (select unnest(%(rfm_ids)s::uuid[]))"))
    return parts


def rfm_customer_ids(conn: psycopg.Connection, workspace_id: str, f: Filters, cache: dict | None = None) -> list[str]:
    """The customers (company or contact ids) in `f.rfm_segments` now, scored as the caller sees the
    orders; `cache` (a dict) keeps each workspace's scores per currency and snapshot for a batch of calls."""
    from lib.analytics import customers as ca
    from lib.analytics.common import SALE

    currency = f.rfm_currency
    if not currency:
        row = conn.execute(f"select o.currency from public.orders o where o.workspace_id = %s and {SALE}"
                           " group by o.currency order by count(*) desc, o.currency limit 1", [workspace_id]).fetchone()
        currency = row["currency"] if row else None
    at = f.rfm_snapshot or (ca.snapshot_after_last_sale(conn, workspace_id, currency) if currency else None)
    if at is None:
        return []
    key = (workspace_id, currency, at)
    if cache is None or key not in cache:
        scored = {r["customer_id"]: r["segment"] for r in ca.scored_customers(conn, workspace_id, currency, at, None)}
        if cache is None:
            return [c for c, segment in scored.items() if segment in f.rfm_segments]
        cache[key] = scored
    return [c for c, segment in cache[key].items() if segment in f.rfm_segments]


def where_sql(conn: psycopg.Connection, workspace_id: str, kind: Kind, f: Filters,
              rfm_cache: dict | None = None, whole: bool = False) -> tuple[sql.Composed, dict]:
    """`f` as one WHERE clause on the alias `c` (contacts or companies) and its named parameters;
    custom field definitions and RFM segment members are looked up on `conn` (as its user).
    `whole`: every match is wanted (a count, all ids, an export), not a page in some order."""
    defs = custom_fields.definitions_in(conn, workspace_id, kind.name)
    rfm_ids = rfm_customer_ids(conn, workspace_id, f, rfm_cache) if f.rfm_segments else None
    return _where(kind, workspace_id, f, defs, rfm_ids, whole)


def _select(kind: Kind, f: Filters, matches: str | None = None) -> str:
    """The list's columns and joins; with a search, driven by its (id, score) pairs `matches`."""
    table = "public.contacts" if kind is CONTACT else "public.companies"
    score, source = "0::real", f"{table} c"
    if matches:
        # The matches first, then each record by primary key (under RLS, as every read): for the
        # relevance order Sort -> Nested Loop -> Index Scan, which stops once the page is full.
        score, source = "m.score", f"{matches} m join {table} c on c.id = m.id"
    if kind is CONTACT:
        return (
            "select c.id, c.full_name as name, c.first_name, c.last_name, c.title, c.email, c.phone,"
            " c.company_id, co.name as company_name, c.stage, c.owner_id, p.display_name as owner_name,"
            " c.tags, c.source, c.website, c.address, c.postal_code, c.city, c.country, c.consent, c.consent_source,"
            " c.notes, c.created_at, c.last_contacted_at, c.archived_at, c.custom, c.version, " + score + " as score"
            + (", m.match_count" if matches else "") + " from " + source + " left join public.companies co on co.id = c.company_id"
            " left join public.profiles p on p.id = c.owner_id"
        )
    return (
        "select c.id, c.name, c.industry, c.email, c.phone, c.website, c.stage, c.owner_id,"
        " p.display_name as owner_name, c.tags, c.source, c.address, c.postal_code, c.city, c.country, c.consent,"
        " c.consent_source, c.notes, c.created_at,"
        " c.last_contacted_at, c.archived_at, c.custom, c.version, " + score + " as score,"
        + (" m.match_count," if matches else "") +
        " (select count(*) from public.contacts k where k.company_id = c.id) as contacts"
        " from " + source + " left join public.profiles p on p.id = c.owner_id"
    )


def _order(kind: Kind, sort: str) -> tuple[list[str], bool]:
    expressions, descending = _ORDER[sort]
    return [e.format(name=kind.name_column) for e in expressions], descending


def effective_sort(f: Filters, sort: str) -> str:
    """Best match only makes sense with a search; without one, name order."""
    if sort == "relevance" and not _fold_query(f.search or ""):
        return "name"
    return sort if sort in SORTS else "name"


def _prepare(conn: psycopg.Connection, f: Filters) -> None:
    if _fold_query(f.search or ""):
        conn.execute("select set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(SIMILARITY_THRESHOLD)])


def _matches(kind: Kind, sort: str, params: dict, after: tuple | None) -> str:
    """The search's (id, score, match_count) as a subquery; by relevance, sorted and after `after`."""
    matches = (f"(select s.id, s.score, count(*) over () as match_count"
               f" from {_SEARCHED.format(table=kind.table)} s)")
    if sort != "relevance":
        return matches
    keyset = ""
    if after is not None:
        params["after_0"], params["after_1"] = after
        # The score comes back as a Python float; `::real` makes it equal to the stored real again.
        keyset = " where (s.score, s.id) < (%(after_0)s::real, %(after_1)s::uuid)"
    return f"(select s.* from {matches} s{keyset} order by s.score desc, s.id desc)"


def _list_query(kind: Kind, f: Filters, sort: str, where: sql.Composed, params: dict,
                after: tuple | None, limit: int | None) -> sql.Composed:
    """The rows of the list in `sort` order after the key `after`, at most `limit` of them."""
    tail = "" if limit is None else f" limit {int(limit)}"
    matches = _matches(kind, sort, params, after) if _fold_query(f.search or "") else None
    select = sql.SQL(_select(kind, f, matches))
    if sort == "relevance":
        return select + sql.SQL(" where ") + where + sql.SQL(" order by m.score desc, m.id desc" + tail)
    expressions, descending = _order(kind, sort)
    keys = expressions + ["c.id"]
    keyset = sql.SQL("")
    if after is not None:
        placeholders = ", ".join(f"%(after_{i})s" for i in range(len(keys)))
        for i, value in enumerate(after):
            params[f"after_{i}"] = value
        keyset = sql.SQL(f" and ({', '.join(keys)}) {'<' if descending else '>'} ({placeholders})")
    direction = " desc" if descending else ""
    order = ", ".join(k + direction for k in keys)
    return select + sql.SQL(" where ") + where + keyset + sql.SQL(f" order by {order}{tail}")


def page_query(conn: psycopg.Connection, workspace_id: str, kind: Kind, f: Filters, sort: str = "name",
               after: tuple | None = None, limit: int = PAGE_SIZE) -> tuple[sql.Composed, sql.Composed, dict]:
    """The SQL of one page (limit + 1 rows, to tell whether more follow), of its total, and their parameters."""
    sort = effective_sort(f, sort)
    where, params = where_sql(conn, workspace_id, kind, f)
    query = _list_query(kind, f, sort, where, params, after, int(limit) + 1)
    source = sql.SQL("{table} c").format(table=kind.ident)
    if "q" in params:
        source = sql.SQL(f"{_SEARCHED.format(table=kind.table)} m join ") + source + sql.SQL(" on c.id = m.id")
    count = (sql.SQL("select count(*) as n from (select 1 from ") + source + sql.SQL(" where ") + where
             + sql.SQL(f" limit {COUNT_CAP + 1}) counted"))
    return query, count, params


def page(db: Database, claims: Claims, workspace_id: str, kind: Kind, f: Filters, sort: str = "name",
         after: tuple | None = None, limit: int = PAGE_SIZE, with_total: bool = True) -> Page:
    """One page of records after the sort key `after` (None: the first page), and the total."""
    sort = effective_sort(f, sort)
    with db.as_user(claims) as conn:
        _prepare(conn, f)
        query, count, params = page_query(conn, workspace_id, kind, f, sort, after, limit)
        rows = conn.execute(query, params).fetchall()
        matches = [row.pop("match_count", None) for row in rows][:1]
        total, estimated = count_rows(conn, count, params) if with_total else (-1, False)
        if estimated and matches:
            total = _estimate_searched(conn, kind, f, workspace_id, matches[0])
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = _sort_key(rows[-1], sort, kind) if more and rows else None
    return Page(rows, total, next_after, estimated)


def count_rows(conn: psycopg.Connection, count: sql.Composed, params: dict,
               budget_ms: int = COUNT_BUDGET_MS) -> tuple[int, bool]:
    """(total, estimated): the count of `page_query`, or the planner's estimate if it takes over `budget_ms`."""
    previous = conn.execute("select current_setting('statement_timeout') as t").fetchone()["t"]
    try:
        with conn.transaction():  # a savepoint: a cancelled count leaves the page's transaction usable
            conn.execute("select set_config('statement_timeout', %s, true)", [f"{int(budget_ms)}ms"])
            total = conn.execute(count, params).fetchone()["n"]
            conn.execute("select set_config('statement_timeout', %s, true)", [previous])
        return total, False
    except psycopg.errors.QueryCanceled:
        plan = conn.execute(sql.SQL("explain (format json) ") + count, params).fetchone()
        return _estimated_rows(next(iter(plan.values()))[0]["Plan"]), True


def _estimate_searched(conn: psycopg.Connection, kind: Kind, f: Filters, workspace_id: str, matches: int) -> int:
    """A searched total: the search's matches (known from the page) times the share of the list
    that the other filters keep, as the planner estimates it (the estimate of a join with the
    search function knows nothing of its row count)."""
    plain = replace(f, search="")
    shares = []
    for filters in (plain, Filters(archived=f.archived)):
        where, params = where_sql(conn, workspace_id, kind, filters)
        statement = sql.SQL("explain (format json) select 1 from {table} c where ").format(table=kind.ident) + where
        plan = conn.execute(statement, params).fetchone()
        shares.append(max(1, _estimated_rows(next(iter(plan.values()))[0]["Plan"])))
    return min(matches, round(matches * shares[0] / shares[1]))


def _estimated_rows(plan: dict) -> int:
    """Rows the planner expects under the count's Aggregate and Limit (the capped subquery)."""
    while plan.get("Node Type") in ("Aggregate", "Limit", "Subquery Scan") and plan.get("Plans"):
        plan = plan["Plans"][0]
    return int(plan.get("Plan Rows", 0))


def _sort_key(row: dict, sort: str, kind: Kind) -> tuple:
    if sort == "name":
        return (row["name"], row["id"])
    if sort in ("newest", "oldest"):
        return (row["created_at"], row["id"])
    if sort == "last_contacted":
        return (row["last_contacted_at"] or "-infinity", row["id"])
    return (row["score"], row["id"])


def options(db: Database, claims: Claims, workspace_id: str, kind: Kind) -> dict[str, list[str]]:
    """Values in use for the filter pickers: tags, sources and countries."""
    with db.as_user(claims) as conn:
        row = conn.execute(
            sql.SQL(
                "select array(select distinct unnest(tags) from {t} where workspace_id = %(ws)s order by 1) as tags,"
                " array(select distinct source from {t} where workspace_id = %(ws)s and source is not null order by 1) as sources,"
                " array(select distinct country from {t} where workspace_id = %(ws)s and country is not null order by 1) as countries"
            ).format(t=kind.ident),
            {"ws": workspace_id},
        ).fetchone()
    return {k: list(v) for k, v in row.items()}


def iter_rows(db: Database, claims: Claims, workspace_id: str, kind: Kind, f: Filters, sort: str = "name",
              batch: int = 2000) -> Iterator[dict]:
    """Every row matching `f`, streamed from a server-side cursor (for exports)."""
    sort = effective_sort(f, sort)
    with db.as_user(claims) as conn:
        _prepare(conn, f)
        where, params = where_sql(conn, workspace_id, kind, f, whole=True)
        query = _list_query(kind, f, sort, where, params, None, None)
        with conn.cursor(name="export_rows") as cursor:
            cursor.itersize = batch
            cursor.execute(query, params)
            yield from cursor


def only(f: Filters, ids: list[str]) -> Filters:
    """The same filters narrowed to the given records."""
    return replace(f, ids=tuple(ids))
