"""SLA settings: the targets per priority, whether they count business hours only, and the
service calendar those hours come from (time zone, opening hours per weekday, holidays).

Members read all of it; owners and admins change it (row-level security). The database does
the counting (`private.add_business_minutes`, called by `private.prepare_ticket`): due times
are fixed when a ticket is created or its priority changes, so changes here apply to tickets
from then on.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, time
from functools import lru_cache

import psycopg

from lib import versioned
from lib.db import Claims, Database
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import clean_date, clean_name, collect

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
PRIORITY_ORDER = ("urgent", "high", "normal", "low")
MAX_TARGET_MINUTES = 525600
ADMINS_ONLY = "Only owners and admins can change SLA targets and service hours."
_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?", re.I)
_CLOCK = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The IANA time zone names a calendar may use, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


# -- parsing and formatting ----------------------------------------------------------------------
def parse_duration(value: object, what: str) -> int:
    """Minutes from 90, "90m", "4h", "1d 2h" or "2h30m"; ValueError with a readable message."""
    text = str(value if value is not None else "").strip().lower()
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif text.isdigit():
        minutes = int(text)
    else:
        match = _DURATION.fullmatch(text)
        if not text or not match or not any(match.groups()):
            raise ValueError(f"Enter the {what} as minutes or like 4h, 1d 2h or 2h30m.")
        days, hours, mins = (int(g or 0) for g in match.groups())
        minutes = days * 1440 + hours * 60 + mins
    if not 1 <= minutes <= MAX_TARGET_MINUTES:
        raise ValueError(f"The {what} must be between 1 minute and 365 days.")
    return minutes


def format_duration(minutes: int | None) -> str:
    """1500 -> "1d 1h"; 90 -> "1h 30m"."""
    if not minutes:
        return ""
    days, rest = divmod(int(minutes), 1440)
    hours, mins = divmod(rest, 60)
    return " ".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)


def parse_clock(value: object, what: str) -> str:
    """"HH:MM" from a time, "9", "9:00", "09.30" or "24:00" (end of day)."""
    if isinstance(value, time):
        return f"{value:%H:%M}"
    text = str(value if value is not None else "").strip()
    match = _CLOCK.fullmatch(text)
    hours, mins = (int(match.group(1)), int(match.group(2) or 0)) if match else (-1, 0)
    if not (0 <= hours <= 23 and 0 <= mins <= 59) and (hours, mins) != (24, 0):
        raise ValueError(f"Enter the {what} as HH:MM, e.g. 09:00 (24:00 for midnight at the end of the day).")
    return f"{hours:02d}:{mins:02d}"


def clean_time_zone(value: object) -> str:
    name = str(value if value is not None else "").strip()
    if name not in time_zones():
        raise ValueError(f"“{md_escape(name)}” is not a time zone. Choose one such as Europe/Berlin or UTC."
                         if name else "Choose a time zone.")
    return name


# -- SLA policies -------------------------------------------------------------------------------
def policies(db: Database, claims: Claims, workspace_id: str) -> list[dict]:
    """The workspace's SLA policies, most urgent first."""
    with db.as_user(claims) as conn:
        rows = conn.execute(
            "select id, priority, first_response_minutes, resolution_minutes, business_hours, version"
            " from public.sla_policies where workspace_id = %s", [workspace_id]).fetchall()
    return sorted(rows, key=lambda r: PRIORITY_ORDER.index(r["priority"]))


def _describe(policy: dict) -> str:
    clock = "business hours" if policy["business_hours"] else "calendar time"
    return (f"first response {format_duration(policy['first_response_minutes'])}, resolution "
            f"{format_duration(policy['resolution_minutes'])}, {clock}")


def _refused(exc: psycopg.Error) -> UserError:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UserError(ADMINS_ONLY)
    raise exc


def _save_policy(conn: psycopg.Connection, workspace_id: str, policy_id: str, values: dict, version: int) -> int:
    return versioned.save(
        conn, "sla_policies", workspace_id, policy_id, version, values, what="SLA policy", refused=_refused,
        denied=ADMINS_ONLY,
        conflict=lambda now: f"Someone else changed the {now['priority']} SLA targets meanwhile "
                             f"(now {_describe(now)}).")


def set_business_hours(db: Database, claims: Claims, workspace_id: str, policy_id: str, business_hours: bool,
                       version: int) -> int:
    """Count a policy's targets in business hours (True) or calendar time; returns the new version."""
    with db.as_user(claims) as conn:
        return _save_policy(conn, workspace_id, policy_id, {"business_hours": bool(business_hours)}, version)


def save_policies(db: Database, claims: Claims, workspace_id: str, changes: dict[str, dict]) -> int:
    """Save several policies at once, all or nothing. `changes` maps a policy id to
    {"priority", "first_response", "resolution", "business_hours", "version"}; targets are
    minutes or text such as "4h". Errors are keyed "<priority>.first_response" and
    "<priority>.resolution". Returns how many policies were saved."""
    cleaned: dict[str, tuple[dict, int]] = {}
    errors: dict[str, str] = {}
    for policy_id, change in changes.items():
        priority = change.get("priority", "")
        values, problems = collect({
            "first_response_minutes": (parse_duration, change.get("first_response"), "first-response target"),
            "resolution_minutes": (parse_duration, change.get("resolution"), "resolution target"),
        })
        errors.update({f"{priority}.{field.removesuffix('_minutes')}": message for field, message in problems.items()})
        if not problems and values["resolution_minutes"] < values["first_response_minutes"]:
            errors[f"{priority}.resolution"] = "The resolution target cannot be shorter than the first response."
        values["business_hours"] = bool(change.get("business_hours"))
        cleaned[policy_id] = (values, int(change["version"]))
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        with conn.transaction():
            for policy_id, (values, version) in cleaned.items():
                _save_policy(conn, workspace_id, policy_id, values, version)
    return len(cleaned)


# -- service calendar: time zone and opening hours -----------------------------------------------
def calendar(db: Database, claims: Claims, workspace_id: str) -> dict:
    """{"time_zone", "version", "hours": {weekday: ("09:00", "17:00") or None}} (1 = Monday)."""
    with db.as_user(claims) as conn:
        cal = conn.execute("select time_zone, version from public.service_calendars where workspace_id = %s",
                           [workspace_id]).fetchone()
        rows = conn.execute(
            "select weekday, to_char(opens, 'HH24:MI') as opens,"
            " case when closes = '24:00' then '24:00' else to_char(closes, 'HH24:MI') end as closes"
            " from public.business_hours where workspace_id = %s", [workspace_id]).fetchall()
    hours: dict[int, tuple[str, str] | None] = {day: None for day in WEEKDAYS}
    hours.update({r["weekday"]: (r["opens"], r["closes"]) for r in rows})
    return {"time_zone": cal["time_zone"] if cal else "UTC", "version": cal["version"] if cal else 0, "hours": hours}


def _clean_hours(hours: dict[int, object]) -> tuple[dict[int, tuple[str, str] | None], dict[str, str]]:
    cleaned: dict[int, tuple[str, str] | None] = {}
    errors: dict[str, str] = {}
    for day, name in WEEKDAYS.items():
        span = hours.get(day)
        if not span:
            cleaned[day] = None
            continue
        try:
            opens, closes = parse_clock(span[0], f"{name} opening time"), parse_clock(span[1], f"{name} closing time")
        except ValueError as exc:
            errors[f"hours.{day}"] = str(exc)
            continue
        if opens == "24:00" or closes <= opens:
            errors[f"hours.{day}"] = f"On {name} the closing time must come after the opening time."
            continue
        cleaned[day] = (opens, closes)
    return cleaned, errors


def save_calendar(db: Database, claims: Claims, workspace_id: str, time_zone: str,
                  hours: dict[int, tuple[object, object] | None], version: int) -> int:
    """Store the time zone and the opening hours (weekday 1–7 -> (opens, closes), None or
    missing = closed) if nobody saved in between; returns the calendar's new version."""
    values, errors = collect({"time_zone": (clean_time_zone, time_zone)})
    spans, hour_errors = _clean_hours(hours)
    errors.update(hour_errors)
    if errors:
        raise FormErrors(errors)
    try:
        with db.as_user(claims) as conn:
            row = conn.execute(
                "update public.service_calendars set time_zone = %s where workspace_id = %s and version = %s"
                " returning version", [values["time_zone"], workspace_id, version]).fetchone()
            if row is None:
                current = conn.execute("select time_zone, version from public.service_calendars"
                                       " where workspace_id = %s", [workspace_id]).fetchone()
                if current is not None and current["version"] != version:
                    raise ConflictError("Someone else changed the service hours meanwhile. "
                                        "Save again to keep yours, or reload to see theirs.", current)
                if current is not None:
                    raise UserError(ADMINS_ONLY)
                row = conn.execute("insert into public.service_calendars (workspace_id, time_zone) values (%s, %s)"
                                   " returning version", [workspace_id, values["time_zone"]]).fetchone()
            conn.execute("delete from public.business_hours where workspace_id = %s and weekday <> all(%s::smallint[])",
                         [workspace_id, [d for d, span in spans.items() if span]])
            for day, span in spans.items():
                if span:
                    conn.execute(
                        "insert into public.business_hours (workspace_id, weekday, opens, closes)"
                        " values (%s, %s, %s::time, %s::time) on conflict (workspace_id, weekday) do update"
                        " set opens = excluded.opens, closes = excluded.closes"
                        " where (business_hours.opens, business_hours.closes)"
                        "   is distinct from (excluded.opens, excluded.closes)",
                        [workspace_id, day, span[0], span[1]])
    except psycopg.errors.InsufficientPrivilege as exc:
        raise UserError(ADMINS_ONLY) from exc
    except psycopg.errors.CheckViolation as exc:
        raise FormErrors({"time_zone": md_escape(exc.diag.message_primary or "That time zone is unknown.")}) from exc
    return row["version"]


# -- holidays -----------------------------------------------------------------------------------
def holidays(db: Database, claims: Claims, workspace_id: str, *, since: date | None = None) -> list[dict]:
    """Days off, earliest first (from `since` on when given)."""
    with db.as_user(claims) as conn:
        return conn.execute(
            "select id, day, name, version from public.holidays where workspace_id = %s"
            " and (%s::date is null or day >= %s::date) order by day", [workspace_id, since, since]).fetchall()


def _required_date(value: object) -> date:
    day = clean_date(value, "date")
    if day is None:
        raise ValueError("Enter the date of the holiday.")
    return day


def add_holiday(db: Database, claims: Claims, workspace_id: str, day: object, name: str) -> str:
    """Add a day off; returns its id. One holiday per date."""
    values, errors = collect({"day": (_required_date, day), "name": (clean_name, name, "holiday name", 100)})
    if errors:
        raise FormErrors(errors)
    with db.as_user(claims) as conn:
        try:
            with conn.transaction():
                row = conn.execute("insert into public.holidays (workspace_id, day, name) values (%s, %s, %s)"
                                   " returning id", [workspace_id, values["day"], values["name"]]).fetchone()
        except psycopg.errors.UniqueViolation:
            taken = conn.execute("select name from public.holidays where workspace_id = %s and day = %s",
                                 [workspace_id, values["day"]]).fetchone()
            called = f" (“{md_escape(taken['name'])}”)" if taken else ""
            raise FormErrors({"day": f"{values['day']:%Y-%m-%d} is already a holiday{called}."}) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise UserError(ADMINS_ONLY) from exc
    return str(row["id"])


def delete_holiday(db: Database, claims: Claims, workspace_id: str, holiday_id: str) -> None:
    with db.as_user(claims) as conn:
        deleted = conn.execute("delete from public.holidays where workspace_id = %s and id = %s",
                               [workspace_id, holiday_id]).rowcount
        still_there = not deleted and conn.execute(
            "select 1 from public.holidays where workspace_id = %s and id = %s", [workspace_id, holiday_id]).fetchone()
    if still_there:
        raise UserError(ADMINS_ONLY)
    if not deleted:
        raise UserError("This holiday no longer exists.")
