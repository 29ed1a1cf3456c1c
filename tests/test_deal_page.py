"""The deal page and the Pipelines settings with Streamlit's AppTest on the real database: deep link
through sign-in, activities on the deal and its customer's timeline, moves with their history, the
edit conflict, and admins shaping pipelines and stages while agents only read."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib import activities, customers, deals
from lib.customers import CONTACT
from lib.errors import FormErrors, UserError
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def deal_setup(factory, db):
    owner, ws = factory.owner("Deal Page Ltd")
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Dora", "last_name": "Deal"})
    deal_id = deals.create(db, owner.claims, ws, {"title": "Fleet of bikes", "value": 1200, "contact_id": contact})
    stages = {s["name"]: str(s["id"]) for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]}
    return owner, ws, contact, deal_id, stages


def table_with(at, column: str):
    """The first dataframe that has `column` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def signed_in_on_deal(owner, deal_id):
    at = sign_in(fresh_app(deal=deal_id), owner.email)
    assert not at.exception
    return at


def test_deep_link_survives_sign_in_and_unknown_deal_says_so(deal_setup):
    owner, _, _, deal_id, _ = deal_setup
    at = signed_in_on_deal(owner, deal_id)
    assert at.title[0].value == "Fleet of bikes"
    body = texts(at)
    assert "Lead in" in body and "Qualified" in body  # the stage path
    at = open_page(at, "views/deal.py", deal="not-a-deal")
    assert not at.exception and at.title[0].value == "Deal not found"


def test_activity_on_the_deal_shows_on_the_deal_and_the_customer_timeline(deal_setup, db):
    owner, ws, contact, deal_id, _ = deal_setup
    at = signed_in_on_deal(owner, deal_id)
    at.text_input(key="deal_log_subject").input("Called about <b>fleet</b>")
    at.text_area(key="deal_log_body").input("Wants **ten** bikes")
    at.button(key="deal_log_submit").click().run()
    assert not at.exception
    body = texts(at)
    assert "Wants **ten** bikes" in body and "\\<b\\>fleet\\</b\\>" in body
    events = activities.timeline(db, owner.claims, ws, CONTACT, contact).events
    logged = [e for e in events if e["kind"] == "activity"]
    assert [e["body"] for e in logged] == ["Wants **ten** bikes"] and str(logged[0]["deal_id"]) == deal_id

    at.text_input(key="deal_task_title").input("Send the fleet quote")
    at.date_input(key="deal_task_due").set_value(date.today() + timedelta(days=2))
    at.button(key="deal_task_submit").click().run()
    assert not at.exception
    tasks = activities.deal_tasks(db, owner.claims, ws, deal_id)
    assert [t["title"] for t in tasks] == ["Send the fleet quote"] and str(tasks[0]["contact_id"]) == contact
    at.checkbox(key=f"deal_task_done_{tasks[0]['id']}").check().run()
    assert not at.exception and activities.deal_tasks(db, owner.claims, ws, deal_id) == []


def test_moves_from_the_page_write_history_and_won_asks_its_value(deal_setup, db):
    owner, ws, _, deal_id, stages = deal_setup
    at = signed_in_on_deal(owner, deal_id)
    at.selectbox(key=f"deal_move_target_{deal_id}").select(stages["Qualified"]).run()
    at.button(key="deal_move_submit").click().run()
    assert not at.exception
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Qualified"

    at.selectbox(key=f"deal_move_target_{deal_id}").select(stages["Won"]).run()
    at.button(key="deal_move_submit").click().run()
    assert not at.exception
    at.text_input(key="deal_won_value").input("")
    at.button(key="deal_close_confirm").click().run()
    assert "Enter the value the deal was won for." in [e.value for e in at.error]
    assert deals.get(db, owner.claims, ws, deal_id)["status"] == "open"
    at.text_input(key="deal_won_value").input("1 350")
    at.button(key="deal_close_confirm").click().run()
    assert not at.exception
    deal = deals.get(db, owner.claims, ws, deal_id)
    assert (deal["status"], float(deal["value"])) == ("won", 1350)

    table = table_with(at, "Entered")
    assert list(table["To"]) == ["Lead in", "Qualified", "Won"]
    assert list(table["From"]) == ["(created)", "Lead in", "Qualified"]
    assert [h["to_stage"] for h in deals.history(db, owner.claims, ws, deal_id)] == ["Lead in", "Qualified", "Won"]


def test_a_move_over_a_colleagues_newer_change_is_refused(deal_setup, db, factory):
    owner, ws, _, deal_id, stages = deal_setup
    at = signed_in_on_deal(owner, deal_id)
    at.selectbox(key=f"deal_move_target_{deal_id}").select(stages["Qualified"]).run()
    colleague = factory.member(owner, ws, "agent")  # moves it while we look at the page
    deals.move(db, colleague.claims, ws, deal_id, stages["Proposal"], 1)
    at.button(key="deal_move_submit").click().run()
    assert not at.exception
    assert any("Someone else changed this deal" in w.value for w in at.warning)
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Proposal"


def test_edit_with_a_conflict_shows_both_versions(deal_setup, db, factory):
    owner, ws, _, deal_id, _ = deal_setup
    at = signed_in_on_deal(owner, deal_id)
    prefix = f"deal_edit_{deal_id}"
    colleague = factory.member(owner, ws, "agent")
    deals.update(db, colleague.claims, ws, deal_id, {"title": "Fleet of e-bikes"}, 1)
    at.text_input(key=f"{prefix}_title").input("Fleet of cargo bikes")
    at.text_input(key=f"{prefix}_value").input("1500")
    at.button(key=f"{prefix}_save").click().run()
    assert not at.exception
    assert "Someone else saved this deal" in texts(at)
    conflict = table_with(at, "Saved by someone else")
    assert list(conflict["Field"]) == ["Title", "Value"]
    assert list(conflict["Yours"]) == ["Fleet of cargo bikes", "1,500.00"]
    assert list(conflict["Saved by someone else"]) == ["Fleet of e-bikes", "1,200.00"]
    at.button(key=f"{prefix}_keep_mine").click().run()
    at.button(key=f"{prefix}_save").click().run()
    assert not at.exception
    deal = deals.get(db, owner.claims, ws, deal_id)
    assert deal["title"] == "Fleet of cargo bikes" and float(deal["value"]) == 1500


def test_viewer_sees_the_deal_without_edit_controls(deal_setup, factory):
    owner, ws, _, deal_id, _ = deal_setup
    viewer = factory.member(owner, ws, "viewer")
    at = signed_in_on_deal(viewer, deal_id)
    assert at.title[0].value == "Fleet of bikes"
    keys = {w.key for w in at.button} | {w.key for w in at.text_input} | {w.key for w in at.selectbox}
    assert not any(k and (k.startswith("deal_move") or k.startswith("deal_log") or k.startswith("deal_edit"))
                   for k in keys)


# -- Settings → Pipelines ------------------------------------------------------------------

def open_pipelines(at):
    return open_page(at, "views/settings.py")


def test_admin_adds_edits_and_deletes_stages_moving_their_deals(deal_setup, db):
    owner, ws, _, deal_id, stages = deal_setup
    pipeline_id = deals.pipelines(db, owner.claims, ws)[0]["id"]
    at = open_pipelines(signed_in_on_deal(owner, deal_id))
    assert not at.exception
    assert "Lead in" in list(table_with(at, "Probability %")["Stage"])

    at.selectbox(key="pipeline_pick").select(pipeline_id).run()
    at.text_input(key="stage_add_name").input("Demo")
    at.text_input(key="stage_add_probability").input("140")
    at.button(key="stage_add_submit").click().run()
    assert any("percentage" in e.value for e in at.error)  # beside the field, nothing stored
    at.text_input(key="stage_add_probability").input("40")
    at.button(key="stage_add_submit").click().run()
    assert not at.exception
    names = [s["name"] for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]]
    assert names.index("Demo") < names.index("Won")  # open stages come before the closed ones
    demo = next(s for s in deals.pipelines(db, owner.claims, ws)[0]["stages"] if s["name"] == "Demo")

    at.selectbox(key="stage_edit_pick").select(str(demo["id"])).run()
    at.text_input(key=f"stage_edit_name_{demo['id']}").input("Demo call")
    at.text_input(key=f"stage_edit_probability_{demo['id']}").input("45")
    at.text_input(key=f"stage_edit_rotting_{demo['id']}").input("7")
    at.button(key="stage_edit_save").click().run()
    assert not at.exception
    demo = next(s for s in deals.pipelines(db, owner.claims, ws)[0]["stages"] if s["id"] == demo["id"])
    assert (demo["name"], demo["probability"], demo["rotting_days"]) == ("Demo call", 45, 7)

    # "Lead in" holds the deal: deleting asks where to move it first.
    at.selectbox(key="stage_edit_pick").select(stages["Lead in"]).run()
    at.checkbox(key="stage_delete_confirm").check().run()
    at.button(key="stage_delete").click().run()
    assert any("still holds 1 deal" in e.value for e in at.error)
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Lead in"
    at.selectbox(key="stage_delete_move_to").select(str(demo["id"])).run()
    at.button(key="stage_delete").click().run()
    assert not at.exception
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Demo call"
    assert "Lead in" not in [s["name"] for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]]


def test_admin_adds_renames_and_deletes_a_pipeline(deal_setup, db):
    owner, ws, _, deal_id, _ = deal_setup
    at = open_pipelines(signed_in_on_deal(owner, deal_id))
    at.text_input(key="pipeline_add_name").input("Partners")
    at.button(key="pipeline_add_submit").click().run()
    assert not at.exception
    partners = next(p for p in deals.pipelines(db, owner.claims, ws) if p["name"] == "Partners")
    assert [(s["name"], s["kind"]) for s in partners["stages"]] == [("New", "open"), ("Won", "won"), ("Lost", "lost")]
    at.selectbox(key="pipeline_pick").select(partners["id"]).run()
    at.text_input(key=f"pipeline_rename_{partners['id']}").input("Partner deals")
    at.button(key="pipeline_rename_submit").click().run()
    assert not at.exception
    assert any(p["name"] == "Partner deals" for p in deals.pipelines(db, owner.claims, ws))
    at.checkbox(key="pipeline_delete_confirm").check().run()
    at.button(key="pipeline_delete").click().run()
    assert not at.exception
    assert [p["name"] for p in deals.pipelines(db, owner.claims, ws)] == ["Sales"]


def test_agent_reads_pipelines_without_edit_controls(deal_setup, factory):
    owner, ws, _, deal_id, _ = deal_setup
    agent = factory.member(owner, ws, "agent")
    at = open_pipelines(signed_in_on_deal(agent, deal_id))
    assert not at.exception
    assert "Lead in" in list(table_with(at, "Probability %")["Stage"])
    keys = {w.key for w in at.button} | {w.key for w in at.text_input}
    assert not any(k and (k.startswith("stage_") or k.startswith("pipeline_")) for k in keys)


# -- lib additions ------------------------------------------------------------------------

def test_pipeline_admin_rules(deal_setup, db, factory):
    owner, ws, _, deal_id, stages = deal_setup
    sales = deals.pipelines(db, owner.claims, ws)[0]
    with pytest.raises(FormErrors, match="already exists"):
        deals.add_pipeline(db, owner.claims, ws, "sales")
    with pytest.raises(UserError, match="default pipeline"):
        deals.delete_pipeline(db, owner.claims, ws, sales["id"])
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        deals.add_pipeline(db, agent.claims, ws, "Agents' own")
    other = deals.add_pipeline(db, owner.claims, ws, "Renewals")
    with pytest.raises(UserError):
        deals.rename_pipeline(db, agent.claims, ws, other, "Nope", 1)
    assert deals.rename_pipeline(db, owner.claims, ws, other, "Renewals 2026", 1) == 2
    # Deals of a pipeline move to another one before it goes; a won deal stays won, with its value.
    renewal_stages = {s["name"]: s["id"] for s in next(p for p in deals.pipelines(db, owner.claims, ws)
                                                        if p["id"] == other)["stages"]}
    open_deal = deals.create(db, owner.claims, ws, {"title": "Renewal A", "pipeline_id": other})
    won_deal = deals.create(db, owner.claims, ws, {"title": "Renewal B", "pipeline_id": other, "value": 80})
    deals.move(db, owner.claims, ws, won_deal, renewal_stages["Won"], 1, won_value=90)
    with pytest.raises(FormErrors, match="still holds 2 deals"):
        deals.delete_pipeline(db, owner.claims, ws, other)
    with pytest.raises(FormErrors, match="open stage of another pipeline"):
        deals.delete_pipeline(db, owner.claims, ws, other, move_to=stages["Won"])
    assert deals.delete_pipeline(db, owner.claims, ws, other, move_to=stages["Qualified"]) == 2
    assert deals.get(db, owner.claims, ws, open_deal)["stage_name"] == "Qualified"
    won = deals.get(db, owner.claims, ws, won_deal)
    assert (won["stage_name"], won["status"], float(won["value"])) == ("Won", "won", 90)
    # Reordering takes every stage once.
    order = [s["id"] for s in sales["stages"]]
    with pytest.raises(UserError):
        deals.reorder_stages(db, owner.claims, ws, sales["id"], order[:-1])
    deals.reorder_stages(db, owner.claims, ws, sales["id"], [order[1], order[0], *order[2:]])
    assert [s["name"] for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]][:2] == ["Qualified", "Lead in"]
    path = deals.stage_path(db, owner.claims, ws, deal_id)
    assert [s["name"] for s in path if s["current"]] == ["Lead in"] and path[1]["visited"]
