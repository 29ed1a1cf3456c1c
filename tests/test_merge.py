"""Duplicates and merge (lib.merge, views/duplicates.py) on the real database."""

from __future__ import annotations

import time
import uuid

import pytest

from lib import activities, custom_fields, customers, merge
from lib.customers import COMPANY, CONTACT
from lib.errors import ConflictError, UserError
from tests.test_app_flows import fresh_app, sign_in, texts


def _email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def _contact(db, user, ws, **data) -> str:
    return customers.create(db, user.claims, ws, CONTACT, data)


def _pair_ids(pairs) -> set[frozenset]:
    return {frozenset((str(p["a_id"]), str(p["b_id"]))) for p in pairs}


def _version(db, user, ws, kind, record_id) -> int:
    return customers.get(db, user.claims, ws, kind, record_id)["version"]


@pytest.fixture
def shop(factory):
    owner, ws = factory.owner("Dupes Ltd")
    return owner, ws


# -- candidate pairs -----------------------------------------------------------------------------


def test_pairs_by_phone_name_at_company_and_email_domain(db, shop):
    owner, ws = shop
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Harbour Bikes"})
    same_phone = (_contact(db, owner, ws, first_name="Ann", last_name="Lee", phone="+33612345678"),
                  _contact(db, owner, ws, first_name="Bob", last_name="Ray", phone="+33 6 12 34 56 78"))
    same_company = (_contact(db, owner, ws, first_name="Jonathan", last_name="Smith", company_id=company),
                    _contact(db, owner, ws, first_name="Jonathon", last_name="Smith", company_id=company))
    same_domain = (_contact(db, owner, ws, first_name="Zoé", last_name="Müller", email="zoe@wind.example"),
                   _contact(db, owner, ws, first_name="Zoe", last_name="Muller", email="z.muller@wind.example"))
    # Look-alikes without anything else in common are no pair.
    _contact(db, owner, ws, first_name="Jonathan", last_name="Smith", email="js@elsewhere.example")
    unrelated = _contact(db, owner, ws, first_name="Carla", last_name="Diaz")

    pairs = merge.candidate_pairs(db, owner.claims, ws, "contact")
    found = {frozenset((str(p["a_id"]), str(p["b_id"]))): p for p in pairs}
    assert set(found) == {frozenset(same_phone), frozenset(same_company), frozenset(same_domain)}
    assert "same phone" in found[frozenset(same_phone)]["reason"]
    assert found[frozenset(same_company)]["reason"] == "similar name at the same company"
    assert found[frozenset(same_company)]["a_company"] == "Harbour Bikes"
    assert "same email domain" in found[frozenset(same_domain)]["reason"]
    assert all(0 < p["score"] <= 1 for p in pairs)
    assert all(unrelated not in pair for pair in found)

    # Archived records are not proposed.
    customers.set_archived(db, owner.claims, ws, CONTACT, [same_phone[1]], True)
    assert frozenset(same_phone) not in _pair_ids(merge.candidate_pairs(db, owner.claims, ws, CONTACT))


def test_company_pairs_by_similar_name(db, shop):
    owner, ws = shop
    a = customers.create(db, owner.claims, ws, COMPANY, {"name": "Café Lumière SARL"})
    b = customers.create(db, owner.claims, ws, COMPANY, {"name": "Cafe Lumiere"})
    customers.create(db, owner.claims, ws, COMPANY, {"name": "Northwind Traders"})
    pairs = merge.candidate_pairs(db, owner.claims, ws, COMPANY)
    assert _pair_ids(pairs) == {frozenset((a, b))}
    assert pairs[0]["reason"] == "similar name"


def test_dismissed_pairs_do_not_come_back(db, shop, factory):
    owner, ws = shop
    a = _contact(db, owner, ws, first_name="Ann", phone="+33612345670")
    b = _contact(db, owner, ws, first_name="Anne", phone="+33612345670")
    assert frozenset((a, b)) in _pair_ids(merge.candidate_pairs(db, owner.claims, ws, CONTACT))
    merge.dismiss(db, owner.claims, ws, CONTACT, b, a)
    merge.dismiss(db, owner.claims, ws, CONTACT, a, b)  # twice is fine
    assert frozenset((a, b)) not in _pair_ids(merge.candidate_pairs(db, owner.claims, ws, CONTACT))
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="cannot"):
        merge.dismiss(db, viewer.claims, ws, CONTACT, a, b)


def test_pairs_are_quick_on_thousands_of_contacts(db, shop):
    owner, ws = shop
    with db.as_user(owner.claims) as conn:
        companies = [r["id"] for r in conn.execute(
            "insert into public.companies (workspace_id, name) select %s, 'Company ' || g"
            " from generate_series(1, 500) g returning id", [ws]).fetchall()]
        conn.execute(
            "insert into public.contacts (workspace_id, first_name, last_name, email, phone, company_id)"
            " select %s, 'First' || g, 'Last' || (g * 7919 %% 3001), 'p' || g || '@d' || (g %% 40) || '.example',"
            "        '+3361' || lpad(g::text, 7, '0'), (%s::uuid[])[1 + g %% 500]"
            "   from generate_series(1, 3200) g",
            [ws, companies])
    started = time.perf_counter()
    pairs = merge.candidate_pairs(db, owner.claims, ws, CONTACT, limit=100)
    elapsed = time.perf_counter() - started
    assert len(pairs) <= 100
    assert elapsed < 2.0, f"candidate pairs took {elapsed:.2f}s on 3,200 contacts"


# -- merging contacts ----------------------------------------------------------------------------------


@pytest.fixture
def two_contacts(db, shop):
    """A survivor and a look-alike with activities, tasks, a deal, tags, notes and custom values."""
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", ["Basic", "Pro"])
    custom_fields.define(db, owner.claims, ws, "contact", "Shoe size", "number")
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Harbour Bikes"})
    survivor = _contact(db, owner, ws, first_name="Jon", last_name="Smith", email=_email("jon"), company_id=company,
                        tags=["vip"], notes="Prefers mornings.", custom={"plan": "Basic"}, stage="lead")
    merged = _contact(db, owner, ws, first_name="Jonathan", last_name="Smith", email=_email("jonathan"),
                      phone="+33612340000", tags=["newsletter", "vip"], notes="Met at the fair.",
                      custom={"plan": "Pro", "shoe_size": 44}, stage="customer")
    activities.log_activity(db, owner.claims, ws, CONTACT, merged, "call", "First call")
    activities.log_activity(db, owner.claims, ws, CONTACT, merged, "note", "A note")
    activities.create_task(db, owner.claims, ws, "Call back", kind=CONTACT, record_id=merged)
    with db.as_user(owner.claims) as conn:
        conn.execute("insert into public.deals (workspace_id, title, contact_id, value) values (%s, 'Bikes', %s, 900)",
                     [ws, merged])
    return owner, ws, survivor, merged


def _count(admin_conn, table, column, record_id) -> int:
    return admin_conn.execute(f"select count(*) as n from public.{table} where {column} = %s",
                              [record_id]).fetchone()["n"]


def test_merge_moves_related_rows_and_applies_choices(db, admin_conn, two_contacts):
    owner, ws, survivor, merged = two_contacts
    before = customers.get(db, owner.claims, ws, CONTACT, merged)
    summary = merge.merge(db, owner.claims, ws, "contact", survivor, merged,
                          {"first_name": "merged", "email": "merged", "stage": "merged", "custom.plan": "merged"},
                          _version(db, owner, ws, CONTACT, survivor), before["version"])
    assert summary["moved"] == {"activities": 2, "tasks": 1, "deals": 1}
    for table in ("activities", "tasks", "deals"):
        assert _count(admin_conn, table, "contact_id", merged) == 0
    assert _count(admin_conn, "activities", "contact_id", survivor) == 2
    assert _count(admin_conn, "contacts", "id", merged) == 0

    result = customers.get(db, owner.claims, ws, CONTACT, survivor)
    assert result["first_name"] == "Jonathan" and result["last_name"] == "Smith"
    assert result["email"] == before["email"]  # taken over from the merged record (unique per workspace)
    assert result["phone"] == "+33612340000"  # the survivor had none
    assert result["company_id"] is not None  # the survivor's, the merged one had none
    assert result["stage"] == "customer" and result["customer_at"] == before["customer_at"]
    assert result["tags"] == ["newsletter", "vip"]
    assert result["notes"] == "Prefers mornings." + merge.NOTES_SEPARATOR + "Met at the fair."
    assert result["custom"] == {"plan": "Pro", "shoe_size": 44}
    assert result["last_contacted_at"] is not None
    assert result["version"] == summary["version"]

    log = admin_conn.execute(
        "select changed_by, changes from public.audit_log where table_name = 'contacts' and row_id = %s"
        " and action = 'merge'", [survivor]).fetchall()
    assert len(log) == 1
    assert str(log[0]["changed_by"]) == owner.id
    assert log[0]["changes"]["merged_id"] == merged
    assert log[0]["changes"]["merged"]["first_name"] == "Jonathan"
    assert log[0]["changes"]["moved"] == {"activities": 2, "tasks": 1, "deals": 1}


def test_concurrent_edit_raises_conflict_and_changes_nothing(db, admin_conn, two_contacts):
    owner, ws, survivor, merged = two_contacts
    v_survivor, v_merged = _version(db, owner, ws, CONTACT, survivor), _version(db, owner, ws, CONTACT, merged)
    customers.update(db, owner.claims, ws, CONTACT, merged, {"title": "Buyer"}, v_merged)  # a colleague saves
    with pytest.raises(ConflictError):
        merge.merge(db, owner.claims, ws, CONTACT, survivor, merged, {}, v_survivor, v_merged)
    assert _count(admin_conn, "contacts", "id", merged) == 1
    assert _count(admin_conn, "activities", "contact_id", merged) == 2
    assert _version(db, owner, ws, CONTACT, survivor) == v_survivor


def test_viewer_cannot_merge(db, admin_conn, factory, two_contacts):
    owner, ws, survivor, merged = two_contacts
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="agents and above"):
        merge.merge(db, viewer.claims, ws, CONTACT, survivor, merged, {},
                    _version(db, owner, ws, CONTACT, survivor), _version(db, owner, ws, CONTACT, merged))
    assert _count(admin_conn, "contacts", "id", merged) == 1


def test_agent_merges_and_gone_records_are_reported(db, factory, two_contacts):
    owner, ws, survivor, merged = two_contacts
    agent = factory.member(owner, ws, "agent")
    versions = _version(db, owner, ws, CONTACT, survivor), _version(db, owner, ws, CONTACT, merged)
    merge.merge(db, agent.claims, ws, CONTACT, survivor, merged, {}, *versions)
    with pytest.raises(UserError, match="no longer exists"):
        merge.merge(db, agent.claims, ws, CONTACT, survivor, merged, {}, *versions)


def test_table_added_later_is_moved_too(db, admin_conn, two_contacts):
    """A table no code knows about, with a foreign key to contacts, is found through the catalog."""
    owner, ws, survivor, merged = two_contacts
    admin_conn.execute(
        "create table public.test_loyalty_cards (id uuid primary key default gen_random_uuid(),"
        " workspace_id uuid not null, contact_id uuid references public.contacts (id) on delete cascade,"
        " program text not null, unique (contact_id, program));"
        " alter table public.test_loyalty_cards enable row level security;"
        " create policy test_loyalty_cards_all on public.test_loyalty_cards for all to authenticated"
        "   using (workspace_id in (select private.my_workspace_ids('agent')));"
        " grant select, insert, update, delete on public.test_loyalty_cards to authenticated;")
    try:
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.test_loyalty_cards (workspace_id, contact_id, program) values"
                         " (%s, %s, 'bronze'), (%s, %s, 'silver'), (%s, %s, 'silver')",
                         [ws, merged, ws, merged, ws, survivor])
        summary = merge.merge(db, owner.claims, ws, CONTACT, survivor, merged, {},
                              _version(db, owner, ws, CONTACT, survivor), _version(db, owner, ws, CONTACT, merged))
        # bronze moves; the merged record's silver card is a twin of the survivor's and is dropped.
        assert summary["moved"]["test_loyalty_cards"] == 1
        assert summary["dropped"] == {"test_loyalty_cards": 1}
        cards = admin_conn.execute("select contact_id::text, program from public.test_loyalty_cards"
                                   " order by program").fetchall()
        assert [(c["contact_id"], c["program"]) for c in cards] == [(survivor, "bronze"), (survivor, "silver")]
    finally:
        admin_conn.execute("drop table public.test_loyalty_cards")


def test_merging_companies_moves_their_contacts(db, admin_conn, shop):
    owner, ws = shop
    survivor = customers.create(db, owner.claims, ws, COMPANY, {"name": "Northwind", "tags": ["b2b"]})
    merged = customers.create(db, owner.claims, ws, COMPANY, {"name": "Northwind Ltd", "website": "https://nw.example",
                                                              "tags": ["retail"]})
    people = [_contact(db, owner, ws, first_name=n, company_id=merged) for n in ("Ada", "Bea")]
    activities.log_activity(db, owner.claims, ws, COMPANY, merged, "meeting", "Kick-off")
    summary = merge.merge(db, owner.claims, ws, COMPANY, survivor, merged, {"name": "merged"},
                          _version(db, owner, ws, COMPANY, survivor), _version(db, owner, ws, COMPANY, merged))
    assert summary["moved"]["contacts"] == 2 and summary["moved"]["activities"] == 1
    for person in people:
        assert str(customers.get(db, owner.claims, ws, CONTACT, person)["company_id"]) == survivor
    result = customers.get(db, owner.claims, ws, COMPANY, survivor)
    assert result["name"] == "Northwind Ltd" and result["website"] == "https://nw.example"
    assert result["tags"] == ["b2b", "retail"]
    assert _count(admin_conn, "companies", "id", merged) == 0
    assert _count(admin_conn, "audit_log", "row_id", survivor) >= 2  # insert + merge at least


def test_merged_values_per_field():
    survivor = {"first_name": "Jo", "last_name": None, "email": "a@x.example", "tags": ["a"], "notes": None,
                "custom": {"plan": "Basic", "size": 1}, "consent": False, "consent_at": None, "consent_source": None}
    merged = {"first_name": "Joanna", "last_name": "Ray", "email": "b@x.example", "tags": ["b", "a"], "notes": "Hi",
              "custom": {"plan": "Pro", "color": "red"}, "consent": True, "consent_at": "2026-01-01",
              "consent_source": "fair"}
    values = merge.merged_values(CONTACT, survivor, merged, {"consent": "merged"})
    assert values["first_name"] == "Jo" and values["last_name"] == "Ray" and values["email"] == "a@x.example"
    assert values["tags"] == ["a", "b"] and values["notes"] == "Hi"
    assert values["custom"] == {"plan": "Basic", "size": 1, "color": "red"}
    assert (values["consent"], values["consent_at"], values["consent_source"]) == (True, "2026-01-01", "fair")
    assert "first_name" in merge.differences(CONTACT, survivor, merged)
    assert "custom.plan" in merge.differences(CONTACT, survivor, merged)
    assert "tags" not in merge.differences(CONTACT, survivor, merged)
    with pytest.raises(ValueError):
        merge.merged_values(CONTACT, survivor, merged, {"first_name": "left"})


# -- the Duplicates page -----------------------------------------------------------------------------


def test_duplicates_page_merges_a_pair(db, admin_conn, shop):
    owner, ws = shop
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/duplicates.py").run()
    assert not at.exception
    assert "No likely duplicates" in texts(at)

    a = _contact(db, owner, ws, first_name="Maria", last_name="Garcia", phone="+34600111222", email=_email("maria"))
    b = _contact(db, owner, ws, first_name="María", last_name="García", phone="+34600111222", title="CEO")
    activities.log_activity(db, owner.claims, ws, CONTACT, b, "call", "Hello")
    at.switch_page("views/duplicates.py").run()
    assert not at.exception
    table = at.dataframe[0]
    assert len(table.value) == 1
    # Select the first row as the dataframe's selection event would.
    at.session_state["dup_pairs_contact"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.button(key="dup_merge")
    at.radio(key=f"dup_keep_{a}_{b}" if a < b else f"dup_keep_{b}_{a}").set_value("left" if a < b else "right")
    at = at.button(key="dup_merge").click().run()
    assert not at.exception, at.exception
    assert _count(admin_conn, "contacts", "id", b) == 0
    assert _count(admin_conn, "activities", "contact_id", a) == 1
    assert any("Merged" in t.value for t in at.toast)
    assert at.session_state["dup_last"]["id"] == a  # the page links to the survivor
    assert "No likely duplicates" in texts(at)


def test_duplicates_page_not_a_duplicate(db, shop):
    owner, ws = shop
    customers.create(db, owner.claims, ws, COMPANY, {"name": "Northwind"})
    customers.create(db, owner.claims, ws, COMPANY, {"name": "Northwind Ltd"})
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/duplicates.py").run()
    at.segmented_control(key="dup_kind").set_value("company").run()
    assert len(at.dataframe[0].value) == 1
    at.session_state["dup_pairs_company"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at = at.run()
    assert not at.exception
    assert "Northwind Ltd" in " ".join(str(r.options) for r in at.radio)
    at = at.button(key="dup_dismiss").click().run()
    assert not at.exception
    assert "No likely duplicates" in texts(at)
