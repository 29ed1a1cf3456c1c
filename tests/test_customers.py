"""Contacts and companies on the real database: validation, search, filters, pages, edits,
conflicts, bulk changes, lead conversion, activities, tasks and the timeline."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.types.json import Jsonb

from lib import activities, custom_fields, customers, customer_search as search, deals
from lib.customers import COMPANY, CONTACT
from lib.errors import ConflictError, FormErrors, UserError
from lib.validation import clean_country, clean_currency, clean_number, clean_phone, clean_url


@pytest.fixture
def shop(factory, db):
    owner, ws = factory.owner("Corner Shop")
    return owner, ws


def add(db, owner, ws, **data) -> str:
    return customers.create(db, owner.claims, ws, CONTACT, data)


# -- validation ----------------------------------------------------------------------------

def test_phones_are_normalised_and_checked():
    assert clean_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert clean_phone("0049 30 1234567") == "+49301234567"
    assert clean_phone("+1 (415) 555-0100") == "+14155550100"
    with pytest.raises(ValueError, match="country code"):
        clean_phone("06 12 34 56 78")
    with pytest.raises(ValueError):
        clean_phone("12", "FR")
    assert clean_phone("  ") is None


def test_countries_and_urls():
    assert clean_country("france") == "FR" and clean_country("DEU") == "DE" and clean_country("gb") == "GB"
    with pytest.raises(ValueError, match="country"):
        clean_country("Atlantis")
    assert clean_url("example.com") == "https://example.com"
    with pytest.raises(ValueError):
        clean_url("not a url")


def test_numbers_as_people_type_them():
    typed = {"2,000": 2000, "1,234,567": 1234567, "1,500.25": 1500.25, "1.500,25": 1500.25, "12,5": 12.5,
             "1,5": 1.5, "1.5": 1.5, "1.234.567": 1234567, "1 500": 1500, "1\u00a0500,5": 1500.5, "-1,25": -1.25}
    assert {text: clean_number(text) for text in typed} == typed
    for bad in ("1,2,3", "abc", "1.2.3,4,5"):
        with pytest.raises(ValueError, match="not a number"):
            clean_number(bad)


def test_currencies():
    assert clean_currency(" gbp ") == "GBP" and clean_currency("", "EUR") == "EUR"
    for bad in ("US", "EURO", "ÉUR", "€"):  # three ASCII letters, as the tables' checks want
        with pytest.raises(ValueError, match="three-letter currency code"):
            clean_currency(bad)
    with pytest.raises(ValueError, match="^Enter"):
        clean_currency(None)


def test_form_errors_name_each_bad_field(db, shop):
    owner, ws = shop
    with pytest.raises(FormErrors) as caught:
        add(db, owner, ws, first_name="Ann", email="ann@", phone="12", country="Atlantis", website="nope", stage="vip")
    assert set(caught.value.errors) >= {"email", "phone", "country", "website", "stage"}
    with pytest.raises(FormErrors) as caught:
        add(db, owner, ws, first_name=" ", last_name="", email="")
    assert "first_name" in caught.value.errors


def test_emails_are_unique_per_workspace_ignoring_case(db, shop, factory):
    owner, ws = shop
    add(db, owner, ws, first_name="Ann", email="Ann@Example.com")
    with pytest.raises(FormErrors) as caught:
        add(db, owner, ws, first_name="Annie", email="ann@example.COM")
    assert "email" in caught.value.errors
    other, other_ws = factory.owner()
    add(db, other, other_ws, first_name="Ann", email="ann@example.com")  # another workspace: fine


@pytest.mark.parametrize("field_type, options, good, bad, stored", [
    ("text", "", "Gold", "x" * 1001, "Gold"),
    ("number", "", "1.234,5", "lots", 1234.5),
    ("date", "", "31/12/2024", "2024-13-45", "2024-12-31"),
    ("select", "Basic, Pro", "pro", "Enterprise", "Pro"),
    ("checkbox", "", "yes", "perhaps", True),
    ("url", "", "shop.example.com/x", "not a url", "https://shop.example.com/x"),
])
def test_custom_fields_are_validated_on_every_write(db, shop, admin_conn, field_type, options, good, bad, stored):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Extra info", field_type, options)
    contact = add(db, owner, ws, first_name="Cus", last_name="Tom", custom={"extra_info": good})
    assert customers.get(db, owner.claims, ws, CONTACT, contact)["custom"] == {"extra_info": stored}
    with pytest.raises(FormErrors) as caught:
        add(db, owner, ws, first_name="Bad", custom={"extra_info": bad})
    assert "custom.extra_info" in caught.value.errors
    # The database refuses a wrong kind of value even when the app is bypassed.
    wrong = {"text": 5, "number": "5", "date": "yesterday", "select": "Enterprise", "checkbox": "yes", "url": "ftp:x"}
    with pytest.raises(psycopg.errors.CheckViolation):
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.contacts (workspace_id, first_name, custom) values (%s, 'X', %s)",
                         [ws, Jsonb({"extra_info": wrong[field_type]})])
    with pytest.raises(psycopg.errors.CheckViolation, match="Unknown custom field"):
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.contacts (workspace_id, first_name, custom) values (%s, 'X', %s)",
                         [ws, Jsonb({"nope": 1})])


def test_required_custom_field_and_only_admins_define_fields(db, shop, factory):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", "Basic, Pro", required=True)
    with pytest.raises(FormErrors) as caught:
        add(db, owner, ws, first_name="No", custom={})
    assert caught.value.errors == {"custom.plan": "Enter Plan."}
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        custom_fields.define(db, agent.claims, ws, "contact", "Secret", "text")


# -- search, filters, pages ----------------------------------------------------------------

@pytest.fixture
def people(db, shop):
    owner, ws = shop
    co = customers.create(db, owner.claims, ws, COMPANY, {"name": "Bäckerei Schütz", "country": "DE"})
    ids = {
        "zoe": add(db, owner, ws, first_name="Zoë", last_name="Müller", email="zoe@example.com", company_id=co,
                   stage="customer", tags=["vip"], source="fair", country="DE"),
        "john": add(db, owner, ws, first_name="John", last_name="Smith", email="js@example.com",
                    phone="06 12 34 56 78", country="FR", owner_id=owner.id, tags="newsletter, VIP"),
        "ana": add(db, owner, ws, first_name="Ana", last_name="González", stage="prospect", source="web"),
    }
    return owner, ws, co, ids


def names(page) -> list[str]:
    return [r["name"] for r in page.rows]


def test_search_tolerates_typos_and_accents(db, people):
    owner, ws, _, _ = people
    find = lambda q: names(search.page(db, owner.claims, ws, CONTACT, search.Filters(search=q), "relevance"))  # noqa: E731
    assert find("Smiht") == ["John Smith"]
    assert find("Jon Smiht") == ["John Smith"]  # every word matches on its own
    assert find("Zoe Smith") == []
    assert find("zoe muller") == ["Zoë Müller"]
    assert find("Gonzales") == ["Ana González"]
    assert find("+33 6 12 34 56 78") == ["John Smith"] == find("0612345678")
    assert find("schutz") == ["Zoë Müller"]  # by company name
    assert find("js@example")[0] == "John Smith"
    assert find("qwxz") == []


def test_filters(db, people):
    owner, ws, co, _ = people
    run = lambda **f: sorted(names(search.page(db, owner.claims, ws, CONTACT, search.Filters(**f))))  # noqa: E731
    assert run(stages=("customer", "prospect")) == ["Ana González", "Zoë Müller"]
    assert run(owners=(owner.id,)) == ["John Smith"]
    assert run(owners=("",)) == ["Ana González", "Zoë Müller"]
    assert run(tags=("vip",)) == ["John Smith", "Zoë Müller"]
    assert run(sources=("web",)) == ["Ana González"]
    assert run(countries=("FR",)) == ["John Smith"]
    assert run(company_id=co) == ["Zoë Müller"]
    assert len(run(created_from=date.today(), created_to=date.today())) == 3
    assert run(created_to=date.today() - timedelta(days=1)) == []


def test_custom_field_filters(db, shop):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", "Basic, Pro")
    custom_fields.define(db, owner.claims, ws, "contact", "Seats", "number")
    add(db, owner, ws, first_name="A", custom={"plan": "Pro", "seats": 5})
    add(db, owner, ws, first_name="B", custom={"plan": "Basic", "seats": 50})
    run = lambda custom: names(search.page(db, owner.claims, ws, CONTACT, search.Filters(custom=custom)))  # noqa: E731
    assert run({"plan": "Pro"}) == ["A"]
    assert run({"seats": (10, None)}) == ["B"]
    assert run({"seats": (1, 100)}) == ["A", "B"]


@pytest.mark.parametrize("sort", ["name", "newest", "oldest", "last_contacted"])
def test_keyset_pages_cover_every_row_once(db, shop, sort):
    owner, ws = shop
    for n in range(23):
        add(db, owner, ws, first_name=f"P{n % 7}", last_name="Same" if n % 2 else "Other")
    seen, after = [], None
    while True:
        page = search.page(db, owner.claims, ws, CONTACT, search.Filters(), sort, after=after, limit=5)
        assert page.total == 23
        seen.extend(r["id"] for r in page.rows)
        if page.next_after is None:
            break
        after = page.next_after
    assert len(seen) == len(set(seen)) == 23


def test_keyset_pages_by_relevance_cover_every_match_once(db, shop):
    owner, ws = shop
    for n in range(23):  # equal scores on purpose: ties are broken by id
        add(db, owner, ws, first_name=f"P{n % 4}", last_name=("Smith", "Smyth", "Smithson")[n % 3])
    add(db, owner, ws, first_name="Nobody", last_name="Else")
    wanted = search.Filters(search="Smith")
    seen, scores, after = [], [], None
    while True:
        page = search.page(db, owner.claims, ws, CONTACT, wanted, "relevance", after=after, limit=5)
        seen.extend(r["id"] for r in page.rows)
        scores.extend(r["score"] for r in page.rows)
        if page.next_after is None:
            break
        after = page.next_after
    by_name = search.page(db, owner.claims, ws, CONTACT, wanted, "name", limit=100)
    assert len(seen) == len(set(seen)) == by_name.total == page.total
    assert set(seen) == {r["id"] for r in by_name.rows}
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    exported = list(search.iter_rows(db, owner.claims, ws, CONTACT, wanted, "relevance"))
    assert [r["id"] for r in exported] == seen


def test_search_follows_every_write(db, people, factory):
    owner, ws, co, ids = people
    find = lambda q, kind=CONTACT: names(search.page(db, owner.claims, ws, kind, search.Filters(search=q), "relevance"))  # noqa: E731
    customers.update(db, owner.claims, ws, CONTACT, ids["john"], {"last_name": "Walker"}, 1)
    assert find("Smith") == [] and find("Walkr") == ["John Walker"]
    customers.update(db, owner.claims, ws, COMPANY, co, {"name": "Konditorei Klein"}, 1)
    assert find("schutz") == [] and find("konditorei") == ["Zoë Müller"]
    assert find("Konditorei", COMPANY) == ["Konditorei Klein"]
    customers.update(db, owner.claims, ws, CONTACT, ids["ana"], {"company_id": co}, 1)
    assert sorted(find("konditorei")) == ["Ana González", "Zoë Müller"]
    other, other_ws = factory.owner("Elsewhere")
    add(db, other, other_ws, first_name="John", last_name="Walker")
    assert find("Walker") == ["John Walker"]  # one, not the other workspace's namesake
    assert names(search.page(db, other.claims, ws, CONTACT, search.Filters(search="Walker"), "relevance")) == []


def test_a_slow_count_falls_back_to_the_estimate(db, people):
    owner, ws, _, _ = people
    slow = psycopg.sql.SQL("select count(*) as n from (select 1 from public.contacts c, pg_sleep(0.2)"
                           " where c.workspace_id = %(ws)s limit 10001) counted")
    with db.as_user(owner.claims) as conn:
        before = conn.execute("select current_setting('statement_timeout') as t").fetchone()["t"]
        total, estimated = search.count_rows(conn, slow, {"ws": ws}, budget_ms=20)
        assert estimated and total >= 0
        assert conn.execute("select current_setting('statement_timeout') as t").fetchone()["t"] == before
        assert search.count_rows(conn, psycopg.sql.SQL("select 3 as n"), {}) == (3, False)
        assert conn.execute("select current_setting('statement_timeout') as t").fetchone()["t"] == before
    assert search.Page([], 12_345, None, total_estimated=True).total_text() == "about 12,000"
    assert search.Page([], 42, None, total_estimated=True).total_text() == "about 42"
    assert search.Page([], 42, None).total_text() == "42"


def test_a_searched_total_is_estimated_from_the_matches(db, shop):
    owner, ws = shop
    for n in range(12):
        add(db, owner, ws, first_name=f"S{n}", last_name="Smith", stage="customer" if n % 3 == 0 else "lead")
    f = search.Filters(search="Smith", stages=("customer",))
    page = search.page(db, owner.claims, ws, CONTACT, f, "relevance")
    assert len(page.rows) == 4 and "match_count" not in page.rows[0]
    # What the page falls back to when its count runs out of time (the timeout itself is tested
    # above): the 12 matches times the share of the list the stage filter keeps, as estimated.
    with db.as_user(owner.claims) as conn:
        estimate = search._estimate_searched(conn, CONTACT, f, ws, matches=12)
    assert 1 <= estimate <= 12
    assert search.Page([], estimate, None, total_estimated=True).total_text().startswith("about ")


def test_totals_are_exact_up_to_a_cap(db, shop, monkeypatch):
    owner, ws = shop
    for n in range(7):
        add(db, owner, ws, first_name=f"Cap{n}")
    monkeypatch.setattr(search, "COUNT_CAP", 5)
    page = search.page(db, owner.claims, ws, CONTACT, search.Filters(), limit=3)
    assert page.total_capped and page.total_text() == "more than 5" and len(page.rows) == 3
    monkeypatch.setattr(search, "COUNT_CAP", 7)
    assert search.page(db, owner.claims, ws, CONTACT, search.Filters()).total_text() == "7"


def test_archived_records_leave_the_list(db, people):
    owner, ws, _, ids = people
    customers.bulk(db, owner.claims, ws, CONTACT, [ids["ana"]], "archive")
    assert "Ana González" not in names(search.page(db, owner.claims, ws, CONTACT, search.Filters()))
    assert names(search.page(db, owner.claims, ws, CONTACT, search.Filters(archived=True))) == ["Ana González"]
    customers.bulk(db, owner.claims, ws, CONTACT, [ids["ana"]], "restore")
    assert search.page(db, owner.claims, ws, CONTACT, search.Filters(archived=True)).total == 0


# -- edits, conflicts, bulk ----------------------------------------------------------------

def test_concurrent_edit_is_a_conflict_showing_the_stored_version(db, people, factory):
    owner, ws, _, ids = people
    colleague = factory.member(owner, ws, "agent")
    record = customers.get(db, owner.claims, ws, CONTACT, ids["john"])
    customers.update(db, colleague.claims, ws, CONTACT, ids["john"], {"stage": "customer"}, record["version"])
    with pytest.raises(ConflictError) as caught:
        customers.update(db, owner.claims, ws, CONTACT, ids["john"], {"title": "CEO"}, record["version"])
    assert caught.value.current["stage"] == "customer"
    stored = customers.get(db, owner.claims, ws, CONTACT, ids["john"])
    assert stored["title"] is None and stored["customer_at"] is not None
    assert customers.update(db, owner.claims, ws, CONTACT, ids["john"], {"title": "CEO"}, stored["version"]) == stored["version"] + 1


def test_viewer_reads_but_cannot_write(db, people, factory):
    owner, ws, _, ids = people
    viewer = factory.member(owner, ws, "viewer")
    assert search.page(db, viewer.claims, ws, CONTACT, search.Filters()).total == 3
    with pytest.raises(UserError):
        customers.create(db, viewer.claims, ws, CONTACT, {"first_name": "Nope"})
    record = customers.get(db, viewer.claims, ws, CONTACT, ids["john"])
    with pytest.raises(UserError):
        customers.update(db, viewer.claims, ws, CONTACT, ids["john"], {"title": "x"}, record["version"])
    with pytest.raises(UserError):
        customers.bulk(db, viewer.claims, ws, CONTACT, [ids["john"]], "set_stage", "churned")


def test_only_admins_delete(db, people, factory):
    owner, ws, _, ids = people
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError, match="archive"):
        customers.delete(db, agent.claims, ws, CONTACT, ids["ana"])
    customers.delete(db, owner.claims, ws, CONTACT, ids["ana"])
    assert customers.get(db, owner.claims, ws, CONTACT, ids["ana"]) is None


def test_bulk_actions(db, people, factory):
    owner, ws, _, ids = people
    agent = factory.member(owner, ws, "agent")
    everyone = list(ids.values())
    assert customers.bulk(db, agent.claims, ws, CONTACT, everyone, "assign_owner", agent.id) == 3
    assert customers.bulk(db, agent.claims, ws, CONTACT, everyone, "add_tag", " Spring Sale ") == 3
    assert customers.bulk(db, agent.claims, ws, CONTACT, everyone, "remove_tag", "vip") == 3
    assert customers.bulk(db, agent.claims, ws, CONTACT, everyone, "set_stage", "churned") == 3
    rows = search.page(db, owner.claims, ws, CONTACT, search.Filters()).rows
    assert {str(r["owner_id"]) for r in rows} == {agent.id}
    assert all(r["tags"] in (["spring sale"], ["newsletter", "spring sale"]) for r in rows)
    assert {r["stage"] for r in rows} == {"churned"}
    with pytest.raises(FormErrors):
        customers.bulk(db, agent.claims, ws, CONTACT, everyone, "set_stage", "vip")
    stranger, _ = factory.owner()
    with pytest.raises(FormErrors):  # not a member: refused before anything is written
        customers.bulk(db, agent.claims, ws, CONTACT, everyone, "assign_owner", stranger.id)


def test_duplicate_warning(db, people):
    owner, ws, co, ids = people
    found = customers.likely_duplicates(db, owner.claims, ws, CONTACT, {"first_name": "Zoe", "last_name": "Muller",
                                                                         "company_id": co})
    assert [(str(r["id"]), r["reason"]) for r in found] == [(ids["zoe"], "similar name")]
    found = customers.likely_duplicates(db, owner.claims, ws, CONTACT, {"first_name": "X", "phone": "+33612345678"})
    assert [r["reason"] for r in found] == ["same phone"]
    found = customers.likely_duplicates(db, owner.claims, ws, CONTACT, {"email": "JS@example.com"})
    assert [r["reason"] for r in found] == ["same email"]
    assert customers.likely_duplicates(db, owner.claims, ws, CONTACT, {"email": "js@example.com"},
                                       exclude_id=ids["john"]) == []


def test_lead_conversion_creates_company_and_first_deal(db, people):
    owner, ws, _, ids = people
    version = customers.get(db, owner.claims, ws, CONTACT, ids["ana"])["version"]
    with pytest.raises(FormErrors):
        customers.convert_lead(db, owner.claims, ws, ids["ana"], version, deal_title="Deal", deal_value="a lot")
    made = customers.convert_lead(db, owner.claims, ws, ids["ana"], version, company_name="González SL",
                                  deal_title="Website", deal_value="1.500,00")
    contact = customers.get(db, owner.claims, ws, CONTACT, ids["ana"])
    assert contact["stage"] == "customer" and str(contact["company_id"]) == made["company_id"]
    assert contact["company_name"] == "González SL"
    figures = activities.summary(db, owner.claims, ws, CONTACT, ids["ana"])
    assert figures["open_deals_value"] == 1500 and figures["open_deals"] == 1
    # Another currency is reported apart, never added.
    deals.create(db, owner.claims, ws, {"title": "Export", "value": "200", "currency": "GBP", "contact_id": ids["ana"]})
    figures = activities.summary(db, owner.claims, ws, CONTACT, ids["ana"])
    assert (figures["currency"], figures["open_deals_value"], figures["open_deals"]) == ("EUR", 1500, 2)
    assert figures["open_by_currency"] == {"EUR": 1500, "GBP": 200} and figures["lifetime_revenue"] == 0
    with pytest.raises(ConflictError):
        customers.convert_lead(db, owner.claims, ws, ids["ana"], version)


# -- activities, tasks, timeline -----------------------------------------------------------

def test_logging_an_activity_touches_last_contact_without_a_version_bump(db, people):
    owner, ws, co, ids = people
    before = customers.get(db, owner.claims, ws, CONTACT, ids["zoe"])
    when = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    activities.log_activity(db, owner.claims, ws, CONTACT, ids["zoe"], "call", "Intro", "Talked **prices**", "outbound", when)
    after = customers.get(db, owner.claims, ws, CONTACT, ids["zoe"])
    assert after["last_contacted_at"] == when and after["version"] == before["version"]
    assert customers.get(db, owner.claims, ws, COMPANY, co)["last_contacted_at"] == when
    with pytest.raises(FormErrors):
        activities.log_activity(db, owner.claims, ws, CONTACT, ids["zoe"], "fax", "", "")
    page = search.page(db, owner.claims, ws, CONTACT, search.Filters(contacted_from=date(2026, 1, 1),
                                                                      contacted_to=date(2026, 1, 31)))
    assert names(page) == ["Zoë Müller"]


def test_timeline_newest_first_and_company_includes_its_contacts(db, people):
    owner, ws, co, ids = people
    for n in range(4):
        activities.log_activity(db, owner.claims, ws, CONTACT, ids["zoe"], "note", f"Note {n}",
                                occurred_at=datetime(2026, 2, 1 + n, tzinfo=timezone.utc))
    activities.create_task(db, owner.claims, ws, "Send catalogue", kind=CONTACT, record_id=ids["zoe"])
    first = activities.timeline(db, owner.claims, ws, CONTACT, ids["zoe"], limit=3)
    rest = activities.timeline(db, owner.claims, ws, CONTACT, ids["zoe"], before=first.next_before, limit=50)
    events = first.events + rest.events
    times = [e["happened_at"] for e in events]
    assert times == sorted(times, reverse=True)
    kinds = {e["kind"] for e in events}
    assert {"activity", "task", "change"} <= kinds
    assert [e["title"] for e in events if e["kind"] == "activity"] == ["Note 3", "Note 2", "Note 1", "Note 0"]
    company_events = activities.timeline(db, owner.claims, ws, COMPANY, co, limit=100).events
    assert {e["title"] for e in company_events if e["kind"] == "activity"} == {"Note 0", "Note 1", "Note 2", "Note 3"}


def test_my_tasks_groups_and_overdue_count(db, people, factory):
    owner, ws, _, ids = people
    today = date.today()
    for title, due in [("Late", today - timedelta(days=2)), ("Now", today), ("Later", today + timedelta(days=3)), ("Someday", None)]:
        activities.create_task(db, owner.claims, ws, title, kind=CONTACT, record_id=ids["john"], due_date=due)
    colleague = factory.member(owner, ws, "agent")
    activities.create_task(db, owner.claims, ws, "Theirs", due_date=today - timedelta(days=1), assignee_id=colleague.id)
    groups = activities.my_tasks(db, owner.claims, ws)
    assert [t["title"] for t in groups["overdue"]] == ["Late"]
    assert [t["title"] for t in groups["today"]] == ["Now"]
    assert [t["title"] for t in groups["upcoming"]] == ["Later", "Someday"]
    assert activities.overdue_count(db, owner.claims, ws) == 1
    activities.set_task_done(db, owner.claims, ws, str(groups["overdue"][0]["id"]))
    assert activities.overdue_count(db, owner.claims, ws) == 0
    assert activities.overdue_count(db, colleague.claims, ws) == 1


# -- integrity (review findings) -----------------------------------------------------------

def test_records_cannot_point_into_another_workspace(db, people, factory, admin_conn):
    owner, ws, co, ids = people
    stranger, other_ws = factory.owner("Elsewhere")
    theirs = customers.create(db, stranger.claims, other_ws, COMPANY, {"name": "Their Co"})
    with pytest.raises(UserError):
        activities.log_activity(db, owner.claims, ws, COMPANY, theirs, "call", "Sneaky")
    for statement, params in [
        ("insert into public.activities (workspace_id, company_id, channel, subject) values (%s, %s, 'call', 'x')", [ws, theirs]),
        ("insert into public.contacts (workspace_id, first_name, company_id) values (%s, 'x', %s)", [ws, theirs]),
        ("update public.contacts set company_id = %s where workspace_id = %s", [theirs, ws]),
    ]:
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            with db.as_user(owner.claims) as conn:
                conn.execute(statement, params)
    assert admin_conn.execute("select last_contacted_at from public.companies where id = %s",
                              [theirs]).fetchone()["last_contacted_at"] is None


def test_merge_absorb_only_deletes_a_record_nothing_points_at(db, people, factory):
    owner, ws, co, ids = people
    agent = factory.member(owner, ws, "agent")
    activities.log_activity(db, owner.claims, ws, CONTACT, ids["ana"], "note", "Keep me")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        with db.as_user(agent.claims) as conn:
            conn.execute("select private.merge_absorb('contacts', %s, %s)", [ids["john"], ids["ana"]])
    assert customers.get(db, owner.claims, ws, CONTACT, ids["ana"]) is not None
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no merge happened: no merge entry either
        with db.as_user(agent.claims) as conn:
            conn.execute("select private.log_merge('contacts', %s, %s, '{}')", [ids["john"], ids["ana"]])


def test_created_by_is_always_the_caller(db, people, factory):
    owner, ws, _, _ = people
    colleague = factory.member(owner, ws, "agent")
    with db.as_user(colleague.claims) as conn:
        row = conn.execute("insert into public.contacts (workspace_id, first_name, created_by) values (%s, 'F', %s)"
                           " returning created_by", [ws, owner.id]).fetchone()
    assert str(row["created_by"]) == colleague.id


def test_editing_some_custom_fields_keeps_the_others(db, shop):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", "Basic, Pro")
    custom_fields.define(db, owner.claims, ws, "contact", "Seats", "number", required=True)
    rid = add(db, owner, ws, first_name="C", custom={"plan": "Pro", "seats": 3})
    version = customers.update(db, owner.claims, ws, CONTACT, rid, {"custom": {"plan": "Basic"}}, 1)
    assert customers.get(db, owner.claims, ws, CONTACT, rid)["custom"] == {"plan": "Basic", "seats": 3}
    customers.update(db, owner.claims, ws, CONTACT, rid, {"custom": {"plan": ""}}, version)
    assert customers.get(db, owner.claims, ws, CONTACT, rid)["custom"] == {"seats": 3}


def test_a_company_typed_on_a_contact_is_created_with_it_or_not_at_all(db, shop):
    owner, ws = shop
    with pytest.raises(FormErrors):
        add(db, owner, ws, first_name="Bad", email="bad@", new_company_name="Ghost Ltd")
    assert search.page(db, owner.claims, ws, COMPANY, search.Filters()).total == 0
    rid = add(db, owner, ws, first_name="Good", new_company_name="Real Ltd")
    assert customers.get(db, owner.claims, ws, CONTACT, rid)["company_name"] == "Real Ltd"


def test_convert_lead_checks_currency(db, people):
    owner, ws, _, ids = people
    with pytest.raises(FormErrors) as caught:
        customers.convert_lead(db, owner.claims, ws, ids["ana"], 1, deal_title="D", deal_value=5, currency="euro")
    assert "currency" in caught.value.errors
