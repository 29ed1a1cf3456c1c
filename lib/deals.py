"""Deals in pipelines: creating and editing them, moving them between stages (won and lost ask
for their value and reason), the board's columns with totals, and the admins' stage settings.

Every call is one transaction as the signed-in user. The database keeps the rest honest: a
deal's status follows its stage (`private.place_deal`) and every move is written to
`deal_stage_history` by a trigger, so conversion and velocity come from facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from lib import versioned
from lib.db import Claims, Database
from lib.errors import FormErrors, UserError
from lib.text import contains_pattern, md_escape
from lib.validation import clean_currency, clean_date, clean_name, clean_number, collect, optional_text

CARDS_PER_COLUMN = 20  # per stage, then "Show more": every card is redrawn on each rerun
DEAL_FIELDS = ("title", "contact_id", "company_id", "value", "currency", "expected_close_date", "owner_id",
               "pipeline_id", "stage_id", "source")
AGENTS_ONLY = "Your role cannot change deals; agents and above can."
ADMINS_ONLY = "Only owners and admins can change pipelines and stages."


def pipelines(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """The workspace's pipelines, default first, each with its stages in order."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select p.id, p.name, p.is_default, p.version,"
            " coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name, 'position', s.position,"
            "   'probability', s.probability, 'kind', s.kind, 'rotting_days', s.rotting_days, 'version', s.version)"
            "   order by s.position, s.name) filter (where s.id is not null), '[]') as stages"
            " from public.pipelines p left join public.stages s on s.pipeline_id = p.id"
            " where p.workspace_id = %s group by p.id order by p.is_default desc, p.position, p.name",
            [workspace_id],
        ).fetchall()
    return [{**r, "id": str(r["id"])} for r in rows]


def lost_reasons(db: Database, claims: Claims, workspace_id: str) -> dict[str, str]:
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select id, name from public.lost_reasons where workspace_id = %s and archived_at is null"
            " order by position, name",
            [workspace_id],
        ).fetchall()
    return {str(r["id"]): r["name"] for r in rows}


def _amount(value: object) -> float:
    number = clean_number(value, "value")
    if number is None:
        return 0
    if number < 0:
        raise ValueError("The value cannot be negative.")
    return number


def _uuid_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """The values to store for the deal fields present in `data`; FormErrors per bad field."""
    checks = {
        "title": (clean_name, data.get("title"), "deal title", 200),
        "value": (_amount, data.get("value")),
        "currency": (clean_currency, data.get("currency") or "EUR"),
        "expected_close_date": (clean_date, data.get("expected_close_date"), "expected close date"),
        "source": (optional_text, data.get("source"), "source"),
        "contact_id": (_uuid_or_none, data.get("contact_id")),
        "company_id": (_uuid_or_none, data.get("company_id")),
        "owner_id": (_uuid_or_none, data.get("owner_id")),
        "pipeline_id": (_uuid_or_none, data.get("pipeline_id")),
        "stage_id": (_uuid_or_none, data.get("stage_id")),
    }
    values, errors = collect({k: v for k, v in checks.items() if k in data})
    if errors:
        raise FormErrors(errors)
    return values


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(AGENTS_ONLY)
    if isinstance(exc, (psycopg.errors.ForeignKeyViolation, psycopg.errors.CheckViolation)):
        return UserError(md_escape(exc.diag.message_primary or "A linked record no longer exists."))
    raise exc


def _write(conn: psycopg.Connection, statement: str | sql.Composed, params: list) -> dict | None:
    try:
        with conn.transaction():
            return conn.execute(statement, params).fetchone()
    except psycopg.Error as exc:
        raise _refused(exc) from None


def _save(conn: psycopg.Connection, workspace_id: str, deal_id: str, values: dict, version: int) -> int:
    return versioned.save(
        conn, "deals", workspace_id, deal_id, version, values, what="deal", refused=_refused,
        current=lambda: _get(conn, workspace_id, deal_id), denied=AGENTS_ONLY,
        conflict=lambda now: f"Someone else changed this deal meanwhile: it is now in "
                             f"“{md_escape(now['stage_name'])}”.")


def create(db: Database, claims: Claims, workspace_id: str, data: dict[str, Any]) -> str:
    """A new deal; without pipeline or stage it lands in the default pipeline's first stage."""
    values = clean({f: data.get(f) for f in DEAL_FIELDS})
    with db.as_user(claims) as conn:
        row = _write(
            conn,
            sql.SQL("insert into public.deals (workspace_id, {columns}) values (%s, {placeholders}) returning id").format(
                columns=sql.SQL(", ").join(map(sql.Identifier, values)),
                placeholders=sql.SQL(", ").join(sql.Placeholder() * len(values))),
            [workspace_id, *values.values()],
        )
    return str(row["id"])


def get(db: Database, claims: Claims, workspace_id: str, deal_id: str) -> dict | None:
    with db.as_user(claims) as conn:
        return _get(conn, workspace_id, deal_id)


def _get(conn: psycopg.Connection, workspace_id: str, deal_id: str) -> dict | None:
    return conn.execute(
        "select d.*, s.name as stage_name, s.kind as stage_kind, s.probability, p.name as pipeline_name,"
        " k.full_name as contact_name, co.name as company_name, o.display_name as owner_name,"
        " r.name as lost_reason"
        " from public.deals d join public.stages s on s.id = d.stage_id join public.pipelines p on p.id = d.pipeline_id"
        " left join public.contacts k on k.id = d.contact_id left join public.companies co on co.id = d.company_id"
        " left join public.profiles o on o.id = d.owner_id left join public.lost_reasons r on r.id = d.lost_reason_id"
        " where d.workspace_id = %s and d.id = %s",
        [workspace_id, deal_id],
    ).fetchone()


def update(db: Database, claims: Claims, workspace_id: str, deal_id: str, data: dict[str, Any], version: int) -> int:
    """Save the fields in `data` if nobody saved since `version`; returns the new version."""
    values = clean(data)
    if not values:
        return version
    with db.as_user(claims) as conn:
        return _save(conn, workspace_id, deal_id, values, version)


def move(db: Database, claims: Claims, workspace_id: str, deal_id: str, stage_id: str, version: int, *,
         won_value: object = None, lost_reason_id: str | None = None) -> int:
    """Move a deal to a stage of its pipeline. Won asks for the final value, lost for a reason.

    Refused with ConflictError when the deal changed since `version` (the board then refreshes).
    """
    with db.as_user(claims) as conn:
        stage = conn.execute(
            "select s.id, s.kind, s.name from public.stages s join public.deals d on d.pipeline_id = s.pipeline_id"
            " where s.id = %s and d.id = %s and d.workspace_id = %s",
            [stage_id, deal_id, workspace_id],
        ).fetchone()
        if stage is None:
            raise UserError("That stage is not part of this deal's pipeline.")
        values: dict[str, object] = {"stage_id": stage_id}
        if stage["kind"] == "won":
            try:
                value = clean_number(won_value, "won value")
            except ValueError as exc:
                raise FormErrors({"won_value": str(exc)}) from None
            if value is None or value < 0:
                raise FormErrors({"won_value": "Enter the value the deal was won for."})
            values["value"] = value
        elif stage["kind"] == "lost":
            if not lost_reason_id:
                raise FormErrors({"lost_reason_id": "Choose why the deal was lost."})
            values["lost_reason_id"] = lost_reason_id
        return _save(conn, workspace_id, deal_id, values, version)


@dataclass(frozen=True)
class BoardFilters:
    owners: tuple[str, ...] = ()
    close_from: date | None = None
    close_to: date | None = None
    search: str = ""


@dataclass
class Column:
    stage: dict
    count: int
    total: float
    weighted: float
    cards: list[dict] = field(default_factory=list)


def board(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, f: BoardFilters = BoardFilters(),
          shown: dict[str, int] | None = None, today: date | None = None) -> list[Column]:
    """One column per stage: count, total and weighted value (value × probability) of the deals
    matching `f`, and the first cards (50, or `shown[stage_id]` after "show more"), oldest in stage first.
    """
    shown = shown or {}
    where = ["d.workspace_id = %(ws)s", "d.pipeline_id = %(pipeline)s"]
    params: dict[str, Any] = {"ws": workspace_id, "pipeline": pipeline_id, "today": today or date.today(),
                              "limits": shown, "default_limit": CARDS_PER_COLUMN}
    if f.owners:
        params["owners"] = list(f.owners)
        where.append("d.owner_id = any(%(owners)s::uuid[])")
    if f.close_from:
        params["close_from"] = f.close_from
        where.append("d.expected_close_date >= %(close_from)s")
    if f.close_to:
        params["close_to"] = f.close_to
        where.append("d.expected_close_date <= %(close_to)s")
    if f.search.strip():
        params["pat"] = contains_pattern(f.search)
        where.append("(d.title ilike %(pat)s or co.name ilike %(pat)s or k.full_name ilike %(pat)s)")
    filters = " and ".join(where)
    from psycopg.types.json import Jsonb

    params["limits"] = Jsonb(shown)
    with db.as_user(claims) as conn:
        stages = conn.execute(
            "select id, name, position, probability, kind, rotting_days from public.stages"
            " where workspace_id = %s and pipeline_id = %s order by position, name",
            [workspace_id, pipeline_id],
        ).fetchall()
        totals = conn.execute(
            "select d.stage_id, count(*) as n, coalesce(sum(d.value), 0) as total"
            " from public.deals d left join public.companies co on co.id = d.company_id"
            " left join public.contacts k on k.id = d.contact_id"
            f" where {filters} group by d.stage_id",
            params,
        ).fetchall()
        cards = conn.execute(
            "select * from (select d.id, d.title, d.value, d.currency, d.stage_id, d.expected_close_date, d.version,"
            " d.stage_entered_at, d.owner_id, o.display_name as owner_name, co.name as company_name,"
            " k.full_name as contact_name, d.contact_id, d.company_id,"
            " (%(today)s - d.stage_entered_at::date) as days_in_stage,"
            " (d.status = 'open' and d.expected_close_date < %(today)s) as overdue,"
            " (d.status = 'open' and s.rotting_days is not null"
            "   and d.stage_entered_at < %(today)s::timestamptz - make_interval(days => s.rotting_days)) as rotting,"
            " row_number() over (partition by d.stage_id order by d.stage_entered_at, d.id) as n"
            " from public.deals d join public.stages s on s.id = d.stage_id"
            " left join public.companies co on co.id = d.company_id left join public.contacts k on k.id = d.contact_id"
            " left join public.profiles o on o.id = d.owner_id"
            f" where {filters}) c"
            " where c.n <= coalesce((%(limits)s::jsonb ->> c.stage_id::text)::int, %(default_limit)s)"
            " order by c.stage_id, c.n",
            params,
        ).fetchall()
    by_stage = {str(t["stage_id"]): t for t in totals}
    columns = []
    for stage in stages:
        key = str(stage["id"])
        total = float(by_stage[key]["total"]) if key in by_stage else 0.0
        columns.append(Column(
            stage={**stage, "id": key}, count=by_stage[key]["n"] if key in by_stage else 0, total=total,
            weighted=total * stage["probability"] / 100,
            cards=[c for c in cards if str(c["stage_id"]) == key],
        ))
    return columns


# -- admins: stages --------------------------------------------------------------------------

def add_stage(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, name: str, probability: object,
              kind: str = "open", rotting_days: object = None) -> str:
    values, errors = collect({"name": (clean_name, name, "stage name", 60)})
    probability_value, rotting = _stage_numbers(probability, rotting_days, errors)
    if kind not in ("open", "won", "lost"):
        errors["kind"] = "Choose open, won or lost."
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        row = _admin_write(
            conn,
            "insert into public.stages (workspace_id, pipeline_id, name, position, probability, kind, rotting_days)"
            " select %s, %s, %s, coalesce(max(position) + 1, 0), %s, %s, %s from public.stages where pipeline_id = %s"
            " returning id",
            [workspace_id, pipeline_id, values["name"], probability_value, kind, rotting, pipeline_id],
        )
    return str(row["id"])


def _stage_numbers(probability: object, rotting_days: object, errors: dict[str, str]) -> tuple[int, int | None]:
    try:
        value = clean_number(probability, "probability")
        if value is None or not 0 <= value <= 100:
            raise ValueError("The win probability is a percentage from 0 to 100.")
    except ValueError as exc:
        errors["probability"] = str(exc)
        value = 0
    try:
        rotting = clean_number(rotting_days, "rotting days")
        if rotting is not None and not 1 <= rotting <= 3650:
            raise ValueError("Rotting days: leave empty, or 1 to 3650.")
    except ValueError as exc:
        errors["rotting_days"] = str(exc)
        rotting = None
    return int(value), int(rotting) if rotting is not None else None


def _admin_write(conn: psycopg.Connection, statement: str, params: list) -> dict:
    try:
        with conn.transaction():
            row = conn.execute(statement, params).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        row = None
    if row is None:
        raise UserError(ADMINS_ONLY)
    return row


def _admin_refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(ADMINS_ONLY)
    raise exc


def update_stage(db: Database, claims: Claims, workspace_id: str, stage_id: str, name: str, probability: object,
                 rotting_days: object, version: int) -> None:
    values, errors = collect({"name": (clean_name, name, "stage name", 60)})
    probability_value, rotting = _stage_numbers(probability, rotting_days, errors)
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        versioned.save(conn, "stages", workspace_id, stage_id, version,
                       {"name": values["name"], "probability": probability_value, "rotting_days": rotting},
                       what="stage", refused=_admin_refused, denied=ADMINS_ONLY,
                       conflict="Someone else changed this stage meanwhile; look again.")


def delete_stage(db: Database, claims: Claims, workspace_id: str, stage_id: str, move_to: str | None = None) -> int:
    """Delete a stage; its deals must be moved first (to `move_to`, in the same transaction).

    Returns how many deals were moved.
    """
    with db.as_user(claims) as conn:
        held = conn.execute("select count(*) as n from public.deals where workspace_id = %s and stage_id = %s",
                            [workspace_id, stage_id]).fetchone()["n"]
        if held and not move_to:
            raise FormErrors({"move_to": f"This stage still holds {held} deal{'s' if held != 1 else ''}. "
                                         "Choose a stage to move them to first."})
        if held:
            if move_to == stage_id:
                raise FormErrors({"move_to": "Choose another stage."})
            kinds = conn.execute(
                "select (select kind from public.stages where id = %s) as old_kind,"
                " (select kind from public.stages where id = %s and pipeline_id ="
                "   (select pipeline_id from public.stages where id = %s)) as new_kind",
                [stage_id, move_to, stage_id],
            ).fetchone()
            if kinds["new_kind"] != kinds["old_kind"]:
                # Won deals stay won and open deals open: a stage deletion never rewrites outcomes.
                raise FormErrors({"move_to": "Choose a stage of the same pipeline and kind (open, won or lost)."})
            _write(conn, "update public.deals set stage_id = %s where workspace_id = %s and stage_id = %s returning 1",
                   [move_to, workspace_id, stage_id])
        _admin_write(conn, "delete from public.stages where workspace_id = %s and id = %s returning id",
                     [workspace_id, stage_id])
    return held


# -- the deal page: stage path and history ---------------------------------------------------

def stage_path(db: Database, claims: Claims, workspace_id: str, deal_id: str) -> list[dict]:
    """The stages of the deal's pipeline in order; `current` marks its stage, `visited` those it has been in."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select s.id, s.name, s.kind, s.probability, s.rotting_days, s.id = d.stage_id as current,"
            " exists (select 1 from public.deal_stage_history h where h.deal_id = d.id and h.to_stage_id = s.id)"
            "   as visited"
            " from public.deals d join public.stages s on s.pipeline_id = d.pipeline_id"
            " where d.workspace_id = %s and d.id = %s order by s.position, s.name",
            [workspace_id, deal_id],
        ).fetchall()
    return [{**r, "id": str(r["id"])} for r in rows]


def history(db: Database, claims: Claims, workspace_id: str, deal_id: str) -> list[dict]:
    """The deal's stage history, oldest first: from, to, entered, left, days spent and who moved it.

    A stage deleted since shows as None (the history keeps its dates, not its name).
    """
    with db.as_user(claims) as conn:
        return conn.execute(
            "select h.id, f.name as from_stage, t.name as to_stage, h.entered_at, h.left_at,"
            " round((extract(epoch from coalesce(h.left_at, now()) - h.entered_at) / 86400)::numeric, 1) as days,"
            " coalesce(p.display_name, p.email) as changed_by"
            " from public.deal_stage_history h left join public.stages f on f.id = h.from_stage_id"
            " left join public.stages t on t.id = h.to_stage_id left join public.profiles p on p.id = h.changed_by"
            " where h.workspace_id = %s and h.deal_id = %s order by h.entered_at, h.id",
            [workspace_id, deal_id],
        ).fetchall()


# -- admins: pipelines -----------------------------------------------------------------------

NEW_PIPELINE_STAGES = (("New", 10, "open", 14), ("Won", 100, "won", None), ("Lost", 0, "lost", None))


def _pipeline_name(conn: psycopg.Connection, workspace_id: str, name: str, exclude_id: str | None = None) -> str:
    values, errors = collect({"name": (clean_name, name, "pipeline name", 100)})
    if not errors and conn.execute(
        "select 1 from public.pipelines where workspace_id = %s and lower(name) = lower(%s)"
        " and id is distinct from %s::uuid",
        [workspace_id, values["name"], exclude_id],
    ).fetchone():
        errors["name"] = "A pipeline with this name already exists."
    if errors:
        raise FormErrors(errors)
    return values["name"]


def add_pipeline(db: Database, claims: Claims, workspace_id: str, name: str) -> str:
    """A new pipeline with one open stage plus Won and Lost, placed after the others."""
    with db.as_user(claims) as conn:
        clean_title = _pipeline_name(conn, workspace_id, name)
        with conn.transaction():
            row = _admin_write(
                conn,
                "insert into public.pipelines (workspace_id, name, position)"
                " select %s, %s, coalesce(max(position) + 1, 0) from public.pipelines where workspace_id = %s"
                " returning id",
                [workspace_id, clean_title, workspace_id],
            )
            for position, (stage, probability, kind, rotting) in enumerate(NEW_PIPELINE_STAGES):
                _admin_write(
                    conn,
                    "insert into public.stages (workspace_id, pipeline_id, name, position, probability, kind, rotting_days)"
                    " values (%s, %s, %s, %s, %s, %s, %s) returning id",
                    [workspace_id, row["id"], stage, position, probability, kind, rotting],
                )
    return str(row["id"])


def rename_pipeline(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, name: str, version: int) -> int:
    """Rename a pipeline if nobody changed it since `version`; returns the new version."""
    with db.as_user(claims) as conn:
        clean_title = _pipeline_name(conn, workspace_id, name, exclude_id=pipeline_id)
        return versioned.save(conn, "pipelines", workspace_id, pipeline_id, version, {"name": clean_title},
                              what="pipeline", refused=_admin_refused, denied=ADMINS_ONLY,
                              conflict="Someone else changed this pipeline meanwhile; look again.")


def delete_pipeline(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, move_to: str | None = None) -> int:
    """Delete a pipeline (never the default one); its deals must move first, in the same transaction.

    `move_to` is an open stage of another pipeline: open deals go there, won and lost deals to that
    pipeline's first won or lost stage, so their status, value and lost reason stay. Returns how many moved.
    """
    with db.as_user(claims) as conn:
        pipeline = conn.execute("select is_default from public.pipelines where workspace_id = %s and id = %s",
                                [workspace_id, pipeline_id]).fetchone()
        if pipeline is None:
            raise UserError("This pipeline no longer exists.")
        if pipeline["is_default"]:
            raise UserError("The default pipeline cannot be deleted.")
        held = conn.execute("select count(*) as n from public.deals where workspace_id = %s and pipeline_id = %s",
                            [workspace_id, pipeline_id]).fetchone()["n"]
        if held and not move_to:
            raise FormErrors({"move_to": f"This pipeline still holds {held} deal{'s' if held != 1 else ''}. "
                                         "Choose a stage of another pipeline to move them to first."})
        if held:
            target = conn.execute(
                "select pipeline_id from public.stages where workspace_id = %s and id = %s and kind = 'open'"
                " and pipeline_id <> %s",
                [workspace_id, move_to, pipeline_id],
            ).fetchone()
            if target is None:
                raise FormErrors({"move_to": "Choose an open stage of another pipeline."})
            with conn.transaction():
                _write(
                    conn,
                    "update public.deals d set pipeline_id = %(target)s, stage_id = case when d.status = 'open'"
                    "   then %(stage)s::uuid else (select s.id from public.stages s where s.pipeline_id = %(target)s"
                    "   and s.kind = d.status order by s.position limit 1) end"
                    " where d.workspace_id = %(ws)s and d.pipeline_id = %(pipeline)s returning 1",
                    {"target": target["pipeline_id"], "stage": move_to, "ws": workspace_id, "pipeline": pipeline_id},
                )
                _admin_write(conn, "delete from public.pipelines where workspace_id = %s and id = %s returning id",
                             [workspace_id, pipeline_id])
        else:
            _admin_write(conn, "delete from public.pipelines where workspace_id = %s and id = %s returning id",
                         [workspace_id, pipeline_id])
    return held


def reorder_stages(db: Database, claims: Claims, workspace_id: str, pipeline_id: str, stage_ids: list[str]) -> None:
    """Put the pipeline's stages in the order of `stage_ids` (all of them, each once)."""
    with db.as_user(claims) as conn:
        existing = {str(r["id"]) for r in conn.execute(
            "select id from public.stages where workspace_id = %s and pipeline_id = %s", [workspace_id, pipeline_id])}
        if set(map(str, stage_ids)) != existing or len(stage_ids) != len(existing):
            raise UserError("The stages changed meanwhile; look again.")
        with conn.transaction():
            for position, stage_id in enumerate(stage_ids):
                _admin_write(conn, "update public.stages set position = %s where workspace_id = %s and id = %s"
                             " returning id", [position, workspace_id, stage_id])
