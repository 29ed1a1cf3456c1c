"""Service analytics on the real database: known tickets with known timestamps give exact backlog,
mix, SLA compliance, medians, CSAT and per-assignee figures; the page opens."""

from __future__ import annotations

from datetime import date
from functools import partial

import psycopg
import pytest
from psycopg.rows import dict_row

from lib import service_analytics as sa, tickets

START, END = date(2026, 1, 1), date(2026, 1, 10)


def _ticket(db, admin_conn, user, ws, *, created: str, channel="email", priority="normal", category=None,
            assignee=None, fr_due=None, responded=None, res_due=None, solved=None, csat=None) -> str:
    ticket = tickets.create(db, user.claims, ws, "Help", channel=channel, priority=priority, category=category,
                            assignee_id=assignee)
    if solved:
        version = tickets.get(db, user.claims, ws, ticket["id"])["version"]
        tickets.set_status(db, user.claims, ws, ticket["id"], "solved", version)
    # timestamps without a zone are read in the session's zone, as the report's day boundaries are
    admin_conn.execute(
        "update public.tickets set created_at = %s::timestamp, first_response_due_at = %s::timestamp,"
        " first_responded_at = %s::timestamp, resolution_due_at = %s::timestamp, solved_at = %s::timestamp,"
        " csat = %s where id = %s",
        [created, fr_due or created, responded, res_due or created, solved, csat, ticket["id"]])
    return ticket["id"]


@pytest.fixture(scope="module")
def desk(factory, db, runtime):
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin_conn:
        return _known_tickets(factory, db, admin_conn)


def _known_tickets(factory, db, admin_conn):
    owner, ws = factory.owner("Service Stats Co")
    agent = factory.member(owner, ws, "agent")
    add = partial(_ticket, db, admin_conn, owner, ws)
    # A: answered after 60 min (met), solved after 22 h (met), rated 5
    add(created="2026-01-02 10:00", priority="high", category="Billing", assignee=agent.id,
        fr_due="2026-01-02 14:00", responded="2026-01-02 11:00",
        res_due="2026-01-03 10:00", solved="2026-01-03 08:00", csat=5)
    # B: answered after 600 min (missed), solved after 5 days (missed), rated 2
    add(created="2026-01-03 09:00", channel="phone", category="Billing", assignee=agent.id,
        fr_due="2026-01-03 17:00", responded="2026-01-03 19:00",
        res_due="2026-01-06 09:00", solved="2026-01-08 09:00", csat=2)
    # C: never answered, never solved, both due times long past (missed, missed), unassigned
    add(created="2026-01-05 12:00", priority="low", fr_due="2026-01-06 12:00", res_due="2026-01-12 12:00")
    # D: answered after 30 min (met), solved after 120 min (met), rated 4, assigned to the owner
    add(created="2026-01-09 08:00", channel="chat", priority="urgent", category="Bug", assignee=owner.id,
        fr_due="2026-01-09 09:00", responded="2026-01-09 08:30",
        res_due="2026-01-09 12:00", solved="2026-01-09 10:00", csat=4)
    # E: created before the period, solved inside it: only in the backlog
    add(created="2025-12-20 10:00", solved="2026-01-04 12:00", csat=1)
    # F: created after the period: nowhere
    add(created="2026-01-11 10:00", channel="social", csat=3)
    return owner, ws, agent


def test_backlog_counts_open_tickets_at_the_end_of_each_day(desk, db):
    owner, ws, _ = desk
    r = sa.report(db, owner.claims, ws, START, END)
    assert [b["day"] for b in r.backlog] == [date(2026, 1, d) for d in range(1, 11)]
    assert [b["open"] for b in r.backlog] == [1, 2, 2, 1, 2, 2, 2, 1, 1, 1]


def test_mix_compliance_medians_and_csat(desk, db):
    owner, ws, _ = desk
    r = sa.report(db, owner.claims, ws, START, END)
    assert r.tickets == 4
    assert {x["channel"]: x["tickets"] for x in r.by_channel} == {"email": 2, "phone": 1, "chat": 1}
    assert {x["priority"]: x["tickets"] for x in r.by_priority} == {"high": 1, "normal": 1, "low": 1, "urgent": 1}
    assert {x["category"]: x["tickets"] for x in r.by_category} == {"Billing": 2, "Bug": 1, sa.UNCATEGORISED: 1}
    assert (r.first_response_sla.met, r.first_response_sla.total, r.first_response_sla.percent) == (2, 4, 50.0)
    assert (r.resolution_sla.met, r.resolution_sla.total, r.resolution_sla.percent) == (2, 4, 50.0)
    assert r.median_first_response_minutes == 60.0  # of 60, 600, 30
    assert r.median_resolution_minutes == 1320.0  # of 1320, 7200, 120
    assert r.csat_average == round(11 / 3, 2)
    assert [(c["rating"], c["tickets"]) for c in r.csat_distribution] == [(1, 0), (2, 1), (3, 0), (4, 1), (5, 1)]
    assert r.rated == 3


def test_per_assignee(desk, db):
    owner, ws, agent = desk
    rows = {x["assignee_id"]: x for x in sa.report(db, owner.claims, ws, START, END).by_assignee}
    assert set(rows) == {agent.id, owner.id, None}
    a = rows[agent.id]
    assert (a["tickets"], a["solved"], a["median_first_response_minutes"], a["median_resolution_minutes"]) == \
        (2, 2, 330.0, 4260.0)
    assert (a["first_response_sla_percent"], a["resolution_sla_percent"], a["csat_average"], a["rated"]) == \
        (50.0, 50.0, 3.5, 2)
    u = rows[None]
    assert (u["assignee"], u["tickets"], u["solved"], u["first_response_sla_percent"], u["csat_average"]) == \
        (sa.UNASSIGNED, 1, 0, 0.0, None)
    assert rows[owner.id]["median_resolution_minutes"] == 120.0


def test_unanswered_ticket_inside_its_due_time_is_not_counted_yet(desk, db, admin_conn):
    owner, ws, _ = desk
    fresh = tickets.create(db, owner.claims, ws, "Just arrived")
    day = date.today()
    r = sa.report(db, owner.claims, ws, day, day)
    assert r.tickets == 1 and r.first_response_sla.total == 0 and r.resolution_sla.total == 0
    assert r.backlog[-1]["open"] >= 1
    admin_conn.execute("delete from public.tickets where id = %s", [fresh["id"]])


def test_long_periods_show_weekly_backlog_and_other_workspaces_see_nothing(desk, db, factory):
    owner, ws, _ = desk
    days = sa.backlog_days(date(2025, 1, 1), date(2025, 12, 31))
    assert days[-1] == date(2025, 12, 31) and all((b - a).days == 7 for a, b in zip(days, days[1:]))
    assert days[0] >= date(2025, 1, 1) and (days[0] - date(2025, 1, 1)).days < 7
    year = sa.report(db, owner.claims, ws, date(2025, 7, 1), date(2026, 6, 30))
    assert year.tickets == 6 and year.backlog[-1]["day"] == date(2026, 6, 30)
    assert {b["day"]: b["open"] for b in year.backlog}[date(2026, 1, 6)] == 2  # B and C
    viewer = factory.member(owner, ws, "viewer")
    assert sa.report(db, viewer.claims, ws, START, END).tickets == 4
    stranger, _ = factory.owner("Elsewhere")
    other = sa.report(db, stranger.claims, ws, START, END)
    assert other.tickets == 0 and not any(b["open"] for b in other.backlog) and other.by_assignee == []
    with pytest.raises(ValueError):
        sa.report(db, owner.claims, ws, END, START)


def test_duration_label():
    assert [sa.duration_label(m) for m in (None, 45, 210, 4260)] == ["–", "45 min", "3.5 h", "3.0 d"]


def _page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    at = sign_in(fresh_app(), email)
    return at.switch_page("views/service_analytics.py").run()


def test_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("quiet")
    factory.owner("Quiet desk", email=email)
    at = _page(email)
    assert not at.exception
    assert "Tickets from the Tickets page, inbound email or the portal appear here" in texts(at)


def test_page_shows_charts_and_downloads(factory, db):
    from tests.test_app_flows import texts

    owner, ws = factory.owner("Busy desk")
    agent = factory.member(owner, ws, "agent")
    tickets.create(db, owner.claims, ws, "Printer on fire", channel="phone", category="Hardware",
                   assignee_id=agent.id)
    at = _page(owner.email)
    assert not at.exception
    assert "Service analytics" in texts(at)
    assert len(at.get("plotly_chart")) == 7
    assert len(at.get("download_button")) == 7
    assert at.metric[0].value == "1"
