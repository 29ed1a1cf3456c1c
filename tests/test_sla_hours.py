"""SLA business hours on the real database: counting open time across nights, weekends,
holidays and a DST change, due times of tickets under business-hours policies (creation,
priority change, pause), the settings' validation and who may change them; then the
Settings › SLA & hours tab with AppTest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from lib import sla, tickets
from lib.errors import ConflictError, FormErrors, UserError
from tests.test_app_flows import fresh_app, sign_in

UTC = timezone.utc


def at(text: str) -> datetime:
    """An instant written in UTC, e.g. at("2026-03-06 16:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add(admin_conn, ws: str, start: datetime, minutes: int) -> datetime:
    return admin_conn.execute("select private.add_business_minutes(%s, %s, %s) as t",
                              [ws, start, minutes]).fetchone()["t"].astimezone(UTC)


def between(admin_conn, ws: str, start: datetime, end: datetime) -> int:
    return admin_conn.execute("select private.business_minutes_between(%s, %s, %s) as m",
                              [ws, start, end]).fetchone()["m"]


def save_hours(db, owner, ws, time_zone: str, hours: dict) -> None:
    sla.save_calendar(db, owner.claims, ws, time_zone, hours, sla.calendar(db, owner.claims, ws)["version"])


def use_business_hours(db, owner, ws, priority: str, first: int | None = None, resolution: int | None = None) -> None:
    policy = next(p for p in sla.policies(db, owner.claims, ws) if p["priority"] == priority)
    sla.save_policies(db, owner.claims, ws, {policy["id"]: {
        "priority": priority, "first_response": first or policy["first_response_minutes"],
        "resolution": resolution or policy["resolution_minutes"], "business_hours": True,
        "version": policy["version"]}})


def open_ticket_at(db, owner, ws: str, created: datetime, priority: str) -> str:
    with db.as_user(owner.claims) as conn:
        return str(conn.execute("insert into public.tickets (workspace_id, subject, priority, created_at)"
                                " values (%s, 'Clock test', %s, %s) returning id", [ws, priority, created]).fetchone()["id"])


@pytest.fixture
def desk(factory):
    return factory.owner("Office Hours Ltd")


def test_every_workspace_starts_with_weekdays_nine_to_five_utc(db, desk):
    owner, ws = desk
    cal = sla.calendar(db, owner.claims, ws)
    assert cal["time_zone"] == "UTC" and cal["version"] == 1
    assert cal["hours"] == {1: ("09:00", "17:00"), 2: ("09:00", "17:00"), 3: ("09:00", "17:00"),
                            4: ("09:00", "17:00"), 5: ("09:00", "17:00"), 6: None, 7: None}
    assert not any(p["business_hours"] for p in sla.policies(db, owner.claims, ws))


def test_adding_business_minutes_skips_nights_weekends_and_holidays(db, admin_conn, desk):
    owner, ws = desk
    assert add(admin_conn, ws, at("2026-03-02 10:00"), 60) == at("2026-03-02 11:00")  # Monday, same day
    assert add(admin_conn, ws, at("2026-03-02 16:30"), 60) == at("2026-03-03 09:30")  # over the night
    assert add(admin_conn, ws, at("2026-03-02 07:00"), 30) == at("2026-03-02 09:30")  # before opening
    # Friday 16:00 plus 4 open hours: 1 h on Friday, 3 h on Monday.
    assert add(admin_conn, ws, at("2026-03-06 16:00"), 240) == at("2026-03-09 12:00")
    assert add(admin_conn, ws, at("2026-03-07 12:00"), 60) == at("2026-03-09 10:00")  # from a Saturday
    assert add(admin_conn, ws, at("2026-03-06 17:00"), 480) == at("2026-03-09 17:00")  # a whole day, to closing
    assert add(admin_conn, ws, at("2026-03-02 10:00:30"), 1) == at("2026-03-02 10:01:30")  # seconds kept
    assert between(admin_conn, ws, at("2026-03-06 16:00"), at("2026-03-09 12:00")) == 240
    assert between(admin_conn, ws, at("2026-03-06 16:00"), at("2026-03-09 11:00")) == 180
    assert between(admin_conn, ws, at("2026-03-07 00:00"), at("2026-03-08 23:59")) == 0

    sla.add_holiday(db, owner.claims, ws, "2026-03-09", "Founders' day")  # that Monday off
    assert add(admin_conn, ws, at("2026-03-06 16:00"), 240) == at("2026-03-10 12:00")
    assert between(admin_conn, ws, at("2026-03-06 16:00"), at("2026-03-10 12:00")) == 240


def test_other_time_zone_and_a_dst_change(db, admin_conn, desk):
    owner, ws = desk
    week = {d: ("09:00", "17:00") for d in range(1, 6)}
    save_hours(db, owner, ws, "Europe/Berlin", {**week, 7: ("00:00", "24:00")})
    assert sla.calendar(db, owner.claims, ws)["hours"][7] == ("00:00", "24:00")
    # Berlin moves to summer time on Sunday 29 March 2026 (Friday 16:00 CET is 15:00 UTC). An hour
    # on Friday, then Sunday is open all day: 61 minutes end at Sunday 00:01 CET.
    assert add(admin_conn, ws, at("2026-03-27 15:00"), 61) == at("2026-03-28 23:01")
    # That Sunday has 23 hours: starting at its midnight, 23 open hours end at Monday 00:00 local.
    assert add(admin_conn, ws, at("2026-03-28 23:00"), 23 * 60) == at("2026-03-29 22:00")
    assert between(admin_conn, ws, at("2026-03-28 23:00"), at("2026-03-29 22:00")) == 23 * 60
    save_hours(db, owner, ws, "Europe/Berlin", week)
    # An hour on Friday, an hour on Monday from 09:00 CEST (07:00 UTC).
    assert add(admin_conn, ws, at("2026-03-27 15:00"), 120) == at("2026-03-30 08:00")
    # In winter the same local hours are an hour later in UTC.
    assert add(admin_conn, ws, at("2026-03-02 07:30"), 60) == at("2026-03-02 09:00")


def test_no_open_hours_falls_back_to_calendar_time(db, admin_conn, desk):
    owner, ws = desk
    save_hours(db, owner, ws, "UTC", {})
    assert sla.calendar(db, owner.claims, ws)["hours"] == {d: None for d in range(1, 8)}
    assert add(admin_conn, ws, at("2026-03-06 16:00"), 240) == at("2026-03-06 20:00")
    assert between(admin_conn, ws, at("2026-03-06 16:00"), at("2026-03-07 16:00")) == 1440


def test_ticket_due_times_in_business_hours_follow_priority(db, desk):
    owner, ws = desk
    use_business_hours(db, owner, ws, "urgent", first=240, resolution=960)
    ticket_id = open_ticket_at(db, owner, ws, at("2026-03-06 16:00"), "urgent")  # a Friday
    ticket = tickets.get(db, owner.claims, ws, ticket_id)
    assert ticket["first_response_due_at"] == at("2026-03-09 12:00")  # 1 h Friday + 3 h Monday
    assert ticket["resolution_due_at"] == at("2026-03-10 16:00")  # 1 h Fri + 8 h Mon + 7 h Tue
    # A calendar-time priority counts around the clock, as before …
    version = tickets.set_priority(db, owner.claims, ws, ticket_id, "low", ticket["version"])
    ticket = tickets.get(db, owner.claims, ws, ticket_id)
    assert ticket["first_response_due_at"] == at("2026-03-07 16:00")  # low: 24 h later, a Saturday
    assert ticket["resolution_due_at"] == at("2026-03-13 16:00")
    # … and back to urgent, business hours again.
    tickets.set_priority(db, owner.claims, ws, ticket_id, "urgent", version)
    assert tickets.get(db, owner.claims, ws, ticket_id)["first_response_due_at"] == at("2026-03-09 12:00")


def test_pause_counts_open_minutes_for_business_hours_policies(db, admin_conn, desk):
    owner, ws = desk
    use_business_hours(db, owner, ws, "high")
    made = tickets.create(db, owner.claims, ws, "Waiting on the customer", priority="high")
    before = tickets.get(db, owner.claims, ws, made["id"])
    version = tickets.set_status(db, owner.claims, ws, made["id"], "pending_customer", before["version"])
    # A week waiting for the customer: 7 × 24 calendar hours, but 5 × 8 open hours.
    admin_conn.execute("update public.tickets set paused_at = paused_at - interval '7 days' where id = %s",
                       [made["id"]])
    version = tickets.get(db, owner.claims, ws, made["id"])["version"]
    version = tickets.set_status(db, owner.claims, ws, made["id"], "open", version)
    after = tickets.get(db, owner.claims, ws, made["id"])
    assert after["paused_minutes"] == 7 * 1440 and after["paused_business_minutes"] == 5 * 480
    # 2,400 open minutes from a due time inside the open hours land on the same time a week on.
    assert after["first_response_due_at"] - before["first_response_due_at"] == timedelta(days=7)
    assert after["resolution_due_at"] - before["resolution_due_at"] == timedelta(days=7)
    # A priority change keeps the pause: due = created + target + paused open minutes.
    use_business_hours(db, owner, ws, "urgent")
    tickets.set_priority(db, owner.claims, ws, made["id"], "urgent", version)
    moved = tickets.get(db, owner.claims, ws, made["id"])
    assert moved["first_response_due_at"] == add(admin_conn, ws, moved["created_at"], 60 + 2400)


def test_calendar_time_policies_are_unchanged(db, admin_conn, desk):
    owner, ws = desk
    made = tickets.create(db, owner.claims, ws, "Around the clock", priority="normal")
    ticket = tickets.get(db, owner.claims, ws, made["id"])
    assert ticket["first_response_due_at"] - ticket["created_at"] == timedelta(hours=8)
    version = tickets.set_status(db, owner.claims, ws, made["id"], "pending_customer", ticket["version"])
    admin_conn.execute("update public.tickets set paused_at = paused_at - interval '7 days' where id = %s",
                       [made["id"]])
    tickets.set_status(db, owner.claims, ws, made["id"], "open", version + 1)
    after = tickets.get(db, owner.claims, ws, made["id"])
    assert after["resolution_due_at"] - ticket["resolution_due_at"] == timedelta(days=7)
    assert after["paused_business_minutes"] == 2400  # recorded, for a later switch to business hours


def test_validation_messages(db, admin_conn, desk):
    owner, ws = desk
    version = sla.calendar(db, owner.claims, ws)["version"]
    with pytest.raises(FormErrors) as caught:
        sla.save_calendar(db, owner.claims, ws, "Mars/Olympus", {1: ("17:00", "09:00"), 2: ("25:00", "26:00"),
                                                                 3: ("08:00", "24:00")}, version)
    assert "not a time zone" in caught.value.errors["time_zone"]
    assert "Monday the closing time must come after" in caught.value.errors["hours.1"]
    assert "HH:MM" in caught.value.errors["hours.2"]
    assert "hours.3" not in caught.value.errors
    with pytest.raises(FormErrors, match="Choose a time zone"):
        sla.save_calendar(db, owner.claims, ws, "", {}, version)
    # The database refuses unknown zones too, whoever writes.
    with pytest.raises(psycopg.errors.CheckViolation, match="Unknown time zone"):
        admin_conn.execute("update public.service_calendars set time_zone = 'Mars/Olympus' where workspace_id = %s",
                           [ws])

    sla.add_holiday(db, owner.claims, ws, "2026-12-25", "Christmas Day")
    with pytest.raises(FormErrors) as caught:
        sla.add_holiday(db, owner.claims, ws, "25.12.2026", "Xmas")
    assert caught.value.errors == {"day": "2026-12-25 is already a holiday (“Christmas Day”)."}
    with pytest.raises(FormErrors) as caught:
        sla.add_holiday(db, owner.claims, ws, "", "x" * 101)
    assert caught.value.errors == {"day": "Enter the date of the holiday.",
                                   "name": "The holiday name can be at most 100 characters long."}
    with pytest.raises(FormErrors, match="not a date"):
        sla.add_holiday(db, owner.claims, ws, "someday", "Party")
    assert [h["name"] for h in sla.holidays(db, owner.claims, ws)] == ["Christmas Day"]

    policy = sla.policies(db, owner.claims, ws)[0]
    with pytest.raises(FormErrors) as caught:
        sla.save_policies(db, owner.claims, ws, {policy["id"]: {
            "priority": "urgent", "first_response": "soon", "resolution": "0", "version": policy["version"]}})
    assert set(caught.value.errors) == {"urgent.first_response", "urgent.resolution"}
    with pytest.raises(FormErrors, match="cannot be shorter"):
        sla.save_policies(db, owner.claims, ws, {policy["id"]: {
            "priority": "urgent", "first_response": "2h", "resolution": "1h", "version": policy["version"]}})
    assert sla.parse_duration("1d 2h30m", "target") == 1590 and sla.format_duration(1590) == "1d 2h 30m"


def test_who_may_change_what(db, desk, factory):
    owner, ws = desk
    viewer = factory.member(owner, ws, "viewer")
    other, other_ws = factory.owner("Elsewhere Ltd")
    holiday = sla.add_holiday(db, owner.claims, ws, "2026-05-01", "Labour Day")
    cal = sla.calendar(db, viewer.claims, ws)
    assert cal["version"] == 1  # members read the calendar …
    assert [h["name"] for h in sla.holidays(db, viewer.claims, ws)] == ["Labour Day"]
    with pytest.raises(UserError, match="Only owners and admins"):  # … but do not change it
        sla.save_calendar(db, viewer.claims, ws, "Europe/Paris", cal["hours"], cal["version"])
    with pytest.raises(UserError, match="Only owners and admins"):
        sla.add_holiday(db, viewer.claims, ws, "2026-05-08", "Victory Day")
    with pytest.raises(UserError, match="Only owners and admins"):
        sla.delete_holiday(db, viewer.claims, ws, holiday)
    policy = sla.policies(db, viewer.claims, ws)[0]
    with pytest.raises(UserError, match="Only owners and admins"):
        sla.set_business_hours(db, viewer.claims, ws, policy["id"], True, policy["version"])
    # Another workspace sees nothing and changes nothing.
    assert sla.holidays(db, other.claims, ws) == [] and sla.policies(db, other.claims, ws) == []
    assert sla.calendar(db, other.claims, ws)["version"] == 0
    with pytest.raises(UserError, match="no longer exists"):
        sla.delete_holiday(db, other.claims, ws, holiday)
    with pytest.raises(UserError):
        sla.add_holiday(db, other.claims, ws, "2026-05-08", "Victory Day")
    assert sla.holidays(db, other.claims, other_ws) == []
    # The owner's own changes work, with optimistic locking.
    version = sla.set_business_hours(db, owner.claims, ws, policy["id"], True, policy["version"])
    with pytest.raises(ConflictError, match="business hours"):
        sla.set_business_hours(db, owner.claims, ws, policy["id"], False, policy["version"])
    sla.set_business_hours(db, owner.claims, ws, policy["id"], False, version)
    saved = sla.save_calendar(db, owner.claims, ws, "Europe/Paris", cal["hours"], cal["version"])
    with pytest.raises(ConflictError):
        sla.save_calendar(db, owner.claims, ws, "UTC", cal["hours"], cal["version"])
    assert saved == 2 and sla.calendar(db, viewer.claims, ws)["time_zone"] == "Europe/Paris"
    sla.delete_holiday(db, owner.claims, ws, holiday)
    assert sla.holidays(db, owner.claims, ws) == []


# -- Settings › SLA & hours -----------------------------------------------------------------------


def open_tab(email: str):
    app = sign_in(fresh_app(), email)
    app.switch_page("views/settings.py").run()
    assert not app.exception
    return app


def test_admin_edits_targets_hours_and_holidays(db, factory):
    owner, ws = factory.owner("Settings Hours Co")
    app = open_tab(owner.email)
    app.text_input(key="sla_first_urgent").set_value("2h")
    app.checkbox(key="sla_business_urgent").check()
    app = app.button(key="sla_save").click().run()
    assert not app.exception and "SLA targets saved." in [t.value for t in app.toast]
    urgent = sla.policies(db, owner.claims, ws)[0]
    assert (urgent["priority"], urgent["first_response_minutes"], urgent["business_hours"]) == ("urgent", 120, True)

    app.text_input(key="sla_resolution_high").set_value("soon")
    app = app.button(key="sla_save").click().run()
    assert any("resolution target as minutes" in e.value for e in app.error)

    app.selectbox(key="calendar_time_zone").set_value("Europe/Berlin")
    app.checkbox(key="calendar_open_6").check()
    app.text_input(key="calendar_opens_6").set_value("10:00")
    app.text_input(key="calendar_closes_6").set_value("14:00")
    app.checkbox(key="calendar_open_5").uncheck()
    app = app.button(key="calendar_save").click().run()
    assert not app.exception and "Opening hours saved." in [t.value for t in app.toast]
    cal = sla.calendar(db, owner.claims, ws)
    assert cal["time_zone"] == "Europe/Berlin" and cal["hours"][6] == ("10:00", "14:00") and cal["hours"][5] is None

    app.text_input(key="calendar_closes_1").set_value("08:00")
    app = app.button(key="calendar_save").click().run()
    assert any("Monday the closing time" in e.value for e in app.error)

    app.date_input(key="holiday_day").set_value(datetime(2026, 12, 24).date())
    app.text_input(key="holiday_name").set_value("Christmas Eve")
    app = app.button(key="holiday_add").click().run()
    assert not app.exception and [h["name"] for h in sla.holidays(db, owner.claims, ws)] == ["Christmas Eve"]
    holiday_id = sla.holidays(db, owner.claims, ws)[0]["id"]
    app = app.button(key=f"holiday_delete_{holiday_id}").click().run()
    assert not app.exception and sla.holidays(db, owner.claims, ws) == []


def test_viewer_reads_targets_hours_and_holidays(db, factory):
    owner, ws = factory.owner("Settings Hours View Co")
    viewer = factory.member(owner, ws, "viewer")
    sla.add_holiday(db, owner.claims, ws, "2026-12-25", "Christmas Day")
    app = open_tab(viewer.email)
    keys = {getattr(b, "key", None) for b in app.button}
    assert not keys & {"sla_save", "calendar_save", "holiday_add"}
    tables = {d.value.columns[0]: d.value for d in app.dataframe}
    assert list(tables["Priority"]["Priority"]) == ["Urgent", "High", "Normal", "Low"]
    assert list(tables["Day"]["Hours"])[:6] == ["09:00–17:00"] * 5 + ["Closed"]
    assert list(tables["Date"]["Holiday"]) == ["Christmas Day"]
    assert any(sla.ADMINS_ONLY in c.value for c in app.caption)
