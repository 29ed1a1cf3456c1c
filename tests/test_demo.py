"""Demo data: sizes, every stage, determinism, refusal on a non-empty workspace, isolation."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest

from lib import activities, customer_search, customers, demo
from lib.errors import UserError

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def loaded(factory, db):
    """One demo workspace for the module: (owner, workspace id, counts, seconds it took)."""
    owner, ws = factory.owner("Demo A")
    started = time.perf_counter()
    counts = demo.load_demo(db, owner.claims, ws, seed=7, today=TODAY)
    return owner, ws, counts, time.perf_counter() - started


def _rows(admin_conn, ws: str, query: str) -> list[dict]:
    return admin_conn.execute(query, {"ws": ws}).fetchall()


def test_sizes_and_speed(loaded, admin_conn):
    owner, ws, counts, seconds = loaded
    assert counts["companies"] >= 500 and counts["contacts"] >= 3000
    assert counts["activities"] >= 3000 and counts["tasks"] >= 300 and counts["deals"] >= 20
    assert counts["custom_fields"] == len(demo.CUSTOM_FIELDS)
    stored = _rows(admin_conn, ws, """
        select (select count(*) from public.companies where workspace_id = %(ws)s) as companies,
               (select count(*) from public.contacts where workspace_id = %(ws)s) as contacts,
               (select count(*) from public.activities where workspace_id = %(ws)s) as activities,
               (select count(*) from public.tasks where workspace_id = %(ws)s) as tasks,
               (select count(*) from public.deals where workspace_id = %(ws)s) as deals""")[0]
    assert stored == {k: counts[k] for k in stored}
    assert seconds < 15, f"demo load took {seconds:.1f} s"


def test_realistic_records(loaded, db, admin_conn):
    owner, ws, counts, _ = loaded
    stages = {r["stage"]: r for r in _rows(admin_conn, ws, """
        select stage, count(*) as n, bool_and(lead_at <= coalesce(prospect_at, lead_at)
                                              and coalesce(prospect_at, lead_at) <= coalesce(customer_at, 'infinity')
                                              and coalesce(customer_at, lead_at) <= coalesce(churned_at, 'infinity')
                                              and created_at = lead_at) as ordered,
               count(distinct country) as countries, count(distinct owner_id) as owners,
               count(*) filter (where consent) as consented, count(*) filter (where tags <> '{}') as tagged,
               count(*) filter (where custom <> '{}') as custom
          from public.contacts where workspace_id = %(ws)s group by stage""")}
    assert set(stages) == set(customers.STAGES)
    assert all(s["ordered"] and s["n"] >= 100 and s["countries"] >= 5 for s in stages.values())
    assert all(s["consented"] and s["tagged"] and s["custom"] for s in stages.values())
    phones = [r["phone"] for r in _rows(admin_conn, ws, "select phone from public.contacts"
                                        " where workspace_id = %(ws)s and phone is not null")]
    assert len(phones) > 2000 and all(re.fullmatch(r"\+[0-9]{6,16}", p) for p in phones)
    channels = {r["channel"] for r in _rows(admin_conn, ws, "select distinct channel from public.activities"
                                            " where workspace_id = %(ws)s")}
    assert channels == set(activities.CHANNELS)
    contacted = _rows(admin_conn, ws, """
        select count(*) filter (where c.last_contacted_at is distinct from m.latest) as wrong
          from public.contacts c join (select contact_id, max(occurred_at) as latest from public.activities
                                        where workspace_id = %(ws)s group by contact_id) m on m.contact_id = c.id""")
    assert contacted[0]["wrong"] == 0
    tasks = activities.my_tasks(db, owner.claims, ws, today=TODAY, limit=5000)
    assert tasks["overdue"] and tasks["today"] and tasks["upcoming"]
    assert _rows(admin_conn, ws, "select count(*) as n from public.tasks where workspace_id = %(ws)s"
                                 " and done_at is not null")[0]["n"] > 0
    statuses = {r["status"] for r in _rows(admin_conn, ws, "select distinct status from public.deals"
                                           " where workspace_id = %(ws)s")}
    assert statuses == {"open", "won", "lost"}


def test_search_finds_demo_records(loaded, db):
    owner, ws, _, _ = loaded
    page = customer_search.page(db, owner.claims, ws, customers.CONTACT, customer_search.Filters(stages=("customer",)))
    assert page.total > 500 and len(page.rows) == customer_search.PAGE_SIZE
    name = page.rows[0]["last_name"]
    found = customer_search.page(db, owner.claims, ws, customers.CONTACT, customer_search.Filters(search=name))
    assert any(r["last_name"] == name for r in found.rows)


def test_same_seed_same_data(loaded, factory, db, admin_conn):
    _, ws_a, counts_a, _ = loaded
    owner_b, ws_b = factory.owner("Demo B")
    counts_b = demo.load_demo(db, owner_b.claims, ws_b, seed=7, today=TODAY)
    assert counts_b == counts_a
    query = ("select full_name, email, phone, stage, country, tags, custom, lead_at, customer_at"
             " from public.contacts where workspace_id = %(ws)s order by email, full_name, phone, lead_at, tags")
    assert _rows(admin_conn, ws_a, query) == _rows(admin_conn, ws_b, query)
    companies = "select name, email, phone, stage, industry from public.companies where workspace_id = %(ws)s order by name"
    assert _rows(admin_conn, ws_a, companies) == _rows(admin_conn, ws_b, companies)


def test_refuses_a_workspace_with_customers(loaded, factory, db):
    owner, ws, _, _ = loaded
    with pytest.raises(UserError, match="already has customers"):
        demo.load_demo(db, owner.claims, ws)
    other, other_ws = factory.owner("Has one contact")
    customers.create(db, other.claims, other_ws, customers.CONTACT, {"first_name": "Only", "last_name": "One"})
    with pytest.raises(UserError, match="already has customers"):
        demo.load_demo(db, other.claims, other_ws)
    assert demo.has_customers(db, other.claims, other_ws)


def test_only_owners_and_admins_load(factory, db):
    owner, ws = factory.owner("Agents cannot")
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError, match="owners and admins"):
        demo.load_demo(db, agent.claims, ws)
    assert not demo.has_customers(db, owner.claims, ws)


def test_rows_stay_in_their_workspace(loaded, factory, db):
    owner, ws, _, _ = loaded
    outsider, outsider_ws = factory.owner("Outsider")
    for table in ("companies", "contacts", "activities", "tasks", "deals", "custom_field_definitions"):
        with db.as_user(outsider.claims) as conn:
            n = conn.execute(f"select count(*) as n from public.{table} where workspace_id = %s", [ws]).fetchone()["n"]
        assert n == 0, table
    assert not demo.has_customers(db, outsider.claims, outsider_ws)
    assert demo.has_customers(db, owner.claims, ws)


def test_steps_are_extensible(factory, db, monkeypatch):
    owner, ws = factory.owner("Extended")
    seen = {}

    def extra_step(d: demo.Demo) -> int:
        seen["contacts"] = len(d.contacts)
        return 0

    monkeypatch.setattr(demo, "STEPS", demo.STEPS + [demo.Step("extra", "Extra", extra_step)])
    monkeypatch.setattr(demo, "N_CONTACTS", 50)
    monkeypatch.setattr(demo, "N_COMPANIES", 10)
    progress = []
    counts = demo.load_demo(db, owner.claims, ws, progress=lambda f, text: progress.append((f, text)))
    assert counts["extra"] == 0 and seen["contacts"] == 50 == counts["contacts"]
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_home_button_loads_demo_data(monkeypatch):
    from tests.test_app_flows import fresh_app, sign_up, texts
    from tests.conftest import unique_email

    monkeypatch.setattr(demo, "N_CONTACTS", 60)
    monkeypatch.setattr(demo, "N_COMPANIES", 12)
    at = sign_up(fresh_app(), unique_email("demo"))
    assert "No customers yet" in texts(at)
    at = at.button(key="load_demo").click().run()
    assert not at.exception
    assert "Demo data loaded: 12 companies, 60 contacts." in [t.value for t in at.toast]
    assert "No customers yet" not in texts(at)
    assert not [b for b in at.button if b.key == "load_demo"]
