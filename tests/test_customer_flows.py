"""Customer screens with Streamlit's AppTest on the real database: create, edit (and conflict),
search, bulk actions, the Customer 360 page, My tasks and custom fields in Settings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from lib import activities, custom_fields, customers
from lib.customers import CONTACT
from tests.test_app_flows import fresh_app, sign_in, texts


@pytest.fixture
def owner_app(factory):
    owner, ws = factory.owner("Flow Shop")
    at = sign_in(fresh_app(), owner.email)
    assert not at.exception
    return owner, ws, at


def open_page(at: AppTest, path: str, **query) -> AppTest:
    at.query_params.clear()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(path)
    return at.run()


def fill(at: AppTest, prefix: str, **values) -> None:
    for field, value in values.items():
        at.text_input(key=f"{prefix}_{field}").input(value)


def test_empty_list_says_what_to_do(owner_app):
    _, _, at = owner_app
    at = open_page(at, "views/customers.py")
    assert not at.exception
    assert "No contacts yet" in texts(at)


def test_create_contact_with_errors_kept_then_saved(owner_app, db):
    owner, ws, at = owner_app
    at = open_page(at, "views/customers.py")
    at.button(key="cust_new").click().run()
    fill(at, "new_contact", first_name="Nora", last_name="Quinn", email="nora@", phone="12")
    at.button(key="new_contact_save").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "valid email" in errors and "phone" in errors
    assert at.text_input(key="new_contact_email").value == "nora@"  # what the user typed stays
    at.text_input(key="new_contact_email").input("nora@example.com")
    at.text_input(key="new_contact_phone").input("+44 20 7946 0958")
    at.button(key="new_contact_save").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    record = customers.locate(db, owner.claims, ws, at.query_params["customer"])
    assert record and record[1]["phone"] == "+442079460958"
    assert at.title[0].value == "Nora Quinn"


def test_duplicate_warning_then_save_anyway(owner_app, db):
    owner, ws, at = owner_app
    customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Dup", "last_name": "Licate", "phone": "+33612345678"})
    at = open_page(at, "views/customers.py")
    at.button(key="cust_new").click().run()
    fill(at, "new_contact", first_name="Other", phone="+33 6 12 34 56 78")
    at.button(key="new_contact_save").click().run()
    assert "looks like a record you already have" in texts(at)
    at.checkbox(key="new_contact_anyway").check()
    at.button(key="new_contact_save").click().run()
    assert not at.exception
    assert at.title[0].value == "Other"


def test_search_and_bulk_stage_change(owner_app, db):
    owner, ws, at = owner_app
    for first, last in [("Élodie", "Bernard"), ("Marc", "Petit"), ("Lucas", "Martin")]:
        customers.create(db, owner.claims, ws, CONTACT, {"first_name": first, "last_name": last})
    at = open_page(at, "views/customers.py")
    at.text_input(key="cust_search_contact").input("elodie bernrd").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["Élodie Bernard"]
    at.text_input(key="cust_search_contact").input("").run()
    assert len(at.dataframe[0].value) == 3
    at.session_state["cust_table_contact"] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    at.selectbox(key="cust_bulk_action").select("set_stage").run()
    at.selectbox(key="cust_bulk_stage").select("customer").run()
    at.button(key="cust_bulk_apply").click().run()
    assert not at.exception
    stages = [customers.get(db, owner.claims, ws, CONTACT, str(r))["stage"]
              for r in _ids(db, owner, ws)]
    assert sorted(stages) == ["customer", "customer", "lead"]


def _ids(db, owner, ws):
    with db.as_user(owner.claims) as conn:
        return [r["id"] for r in conn.execute("select id from public.contacts where workspace_id = %s", [ws])]


def test_edit_and_conflict_shows_both_versions(owner_app, db, factory):
    owner, ws, at = owner_app
    rid = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Vera", "last_name": "Lang"})
    at = open_page(at, "views/customer.py", customer=rid)
    assert at.title[0].value == "Vera Lang"
    prefix = f"edit_{rid}"
    # A colleague saves first …
    colleague = factory.member(owner, ws, "agent")
    customers.update(db, colleague.claims, ws, CONTACT, rid, {"title": "Buyer"}, 1)
    # … then our edit conflicts and both versions are shown.
    at.text_input(key=f"{prefix}_title").input("Owner")
    at.button(key=f"{prefix}_save").click().run()
    assert not at.exception
    assert "Someone else saved" in texts(at)
    conflict = at.dataframe[0].value
    assert list(conflict["Yours"]) == ["Owner"] and list(conflict["Saved by someone else"]) == ["Buyer"]
    at.button(key=f"{prefix}_keep_mine").click().run()
    at.button(key=f"{prefix}_save").click().run()
    assert not at.exception
    assert customers.get(db, owner.claims, ws, CONTACT, rid)["title"] == "Owner"


def test_customer_360_log_activity_task_and_deep_link(factory, db):
    owner, ws = factory.owner("Deep Link Ltd")
    rid = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Ian", "last_name": "Deep"})
    # The deep link survives sign-in.
    at = fresh_app(customer=rid)
    at = sign_in(at, owner.email)
    assert not at.exception
    assert at.title[0].value == "Ian Deep"
    at.text_input(key="log_subject").input("Called about <b>prices</b>")
    at.text_area(key="log_body").input("Wants a **quote**")
    at.button(key="log_submit").click().run()
    assert not at.exception
    body = texts(at)
    assert "Wants a **quote**" in body and "\\<b\\>prices\\</b\\>" in body  # subject escaped, body is markdown
    at.text_input(key="task_title").input("Send quote")
    at.date_input(key="task_due").set_value(date.today() - timedelta(days=1))
    at.button(key="task_submit").click().run()
    assert not at.exception
    assert activities.overdue_count(db, owner.claims, ws) == 1
    at = open_page(at, "views/tasks.py")
    assert "Send quote" in texts(at)
    at.checkbox(key=next(c.key for c in at.checkbox if c.key.startswith("my_task_done_"))).check().run()
    assert activities.overdue_count(db, owner.claims, ws) == 0


def test_convert_lead_from_360(owner_app, db):
    owner, ws, at = owner_app
    rid = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Lea", "last_name": "Lead"})
    at = open_page(at, "views/customer.py", customer=rid)
    at.text_input(key="convert_company").input("Lead & Co")
    at.text_input(key="convert_deal_title").input("Starter pack")
    at.text_input(key="convert_deal_value").input("250")
    at.button(key="convert_submit").click().run()
    assert not at.exception
    record = customers.get(db, owner.claims, ws, CONTACT, rid)
    assert record["stage"] == "customer" and record["company_name"] == "Lead & Co"


def test_unknown_customer_link(owner_app):
    _, _, at = owner_app
    at = open_page(at, "views/customer.py", customer="not-a-uuid")
    assert not at.exception
    assert at.title[0].value == "Customer not found"


def test_custom_field_defined_in_settings_shows_in_the_form(owner_app, db):
    owner, ws, at = owner_app
    at = at.switch_page("views/settings.py").run()
    at.text_input(key="field_label").input("Loyalty card")
    at.selectbox(key="field_type").select("checkbox")
    at.button(key="field_submit").click().run()
    assert not at.exception
    assert [d.key for d in custom_fields.definitions(db, owner.claims, ws)] == ["loyalty_card"]
    at = open_page(at, "views/customers.py")
    at.button(key="cust_new").click().run()
    assert at.checkbox(key="new_contact_custom_loyalty_card") is not None
