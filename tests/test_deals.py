"""Deals on the real database: default pipeline, stage history on every move, board totals,
won/lost requirements, conflicts, guarded stage deletion."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib import customers, deals
from lib.customers import CONTACT
from lib.errors import ConflictError, FormErrors, UserError


@pytest.fixture
def sales(factory, db):
    owner, ws = factory.owner("Deal Shop")
    pipeline = deals.pipelines(db, owner.claims, ws)[0]
    stages = {s["name"]: str(s["id"]) for s in pipeline["stages"]}
    return owner, ws, pipeline, stages


def history(admin_conn, deal_id):
    return admin_conn.execute(
        "select s1.name as from_name, s2.name as to_name, h.left_at is null as current"
        " from public.deal_stage_history h left join public.stages s1 on s1.id = h.from_stage_id"
        " left join public.stages s2 on s2.id = h.to_stage_id where h.deal_id = %s order by h.id",
        [deal_id],
    ).fetchall()


def test_new_workspace_gets_the_default_pipeline_and_lost_reasons(db, sales):
    owner, ws, pipeline, stages = sales
    assert pipeline["name"] == "Sales" and pipeline["is_default"]
    assert list(stages) == ["Lead in", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert [s["kind"] for s in pipeline["stages"]] == ["open"] * 4 + ["won", "lost"]
    assert "Price" in deals.lost_reasons(db, owner.claims, ws).values()


def test_a_new_deal_lands_in_the_first_stage_and_lead_conversion_deals_too(db, sales):
    owner, ws, _, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Website", "value": "1 200"})
    deal = deals.get(db, owner.claims, ws, deal_id)
    assert deal["stage_name"] == "Lead in" and deal["status"] == "open" and float(deal["value"]) == 1200
    contact = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Lea"})
    made = customers.convert_lead(db, owner.claims, ws, contact, 1, deal_title="First order", deal_value=50)
    assert deals.get(db, owner.claims, ws, made["deal_id"])["stage_name"] == "Lead in"


def test_every_move_is_written_to_the_stage_history(db, admin_conn, sales):
    owner, ws, _, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Bikes", "value": 900})
    version = deals.move(db, owner.claims, ws, deal_id, stages["Qualified"], 1)
    version = deals.move(db, owner.claims, ws, deal_id, stages["Proposal"], version)
    deals.move(db, owner.claims, ws, deal_id, stages["Won"], version, won_value="950")
    rows = history(admin_conn, deal_id)
    assert [(r["from_name"], r["to_name"]) for r in rows] == [
        (None, "Lead in"), ("Lead in", "Qualified"), ("Qualified", "Proposal"), ("Proposal", "Won")]
    assert [r["current"] for r in rows] == [False, False, False, True]
    deal = deals.get(db, owner.claims, ws, deal_id)
    assert deal["status"] == "won" and deal["closed_at"] is not None and float(deal["value"]) == 950


def test_won_and_lost_need_their_fields(db, sales):
    owner, ws, _, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Maybe"})
    with pytest.raises(FormErrors) as caught:
        deals.move(db, owner.claims, ws, deal_id, stages["Won"], 1)
    assert "won_value" in caught.value.errors
    with pytest.raises(FormErrors) as caught:
        deals.move(db, owner.claims, ws, deal_id, stages["Lost"], 1)
    assert "lost_reason_id" in caught.value.errors
    reason = next(i for i, n in deals.lost_reasons(db, owner.claims, ws).items() if n == "Price")
    deals.move(db, owner.claims, ws, deal_id, stages["Lost"], 1, lost_reason_id=reason)
    deal = deals.get(db, owner.claims, ws, deal_id)
    assert deal["status"] == "lost" and deal["lost_reason"] == "Price"


def test_a_move_over_a_newer_change_is_refused(db, sales, factory):
    owner, ws, _, stages = sales
    colleague = factory.member(owner, ws, "agent")
    deal_id = deals.create(db, owner.claims, ws, {"title": "Race"})
    deals.move(db, colleague.claims, ws, deal_id, stages["Qualified"], 1)
    with pytest.raises(ConflictError, match="Qualified"):
        deals.move(db, owner.claims, ws, deal_id, stages["Proposal"], 1)
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Qualified"


def test_status_always_follows_the_stage(db, sales):
    owner, ws, _, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Sneaky"})
    with db.as_user(owner.claims) as conn:
        conn.execute("update public.deals set status = 'won' where id = %s", [deal_id])
    assert deals.get(db, owner.claims, ws, deal_id)["status"] == "open"


def test_board_totals_and_weighted_values(db, sales):
    owner, ws, pipeline, stages = sales
    for title, value, stage in [("A", 100, "Lead in"), ("B", 300, "Lead in"), ("C", 1000, "Proposal")]:
        deal_id = deals.create(db, owner.claims, ws, {"title": title, "value": value})
        if stage != "Lead in":
            deals.move(db, owner.claims, ws, deal_id, stages[stage], 1)
    columns = {c.stage["name"]: c for c in deals.board(db, owner.claims, ws, pipeline["id"])}
    assert (columns["Lead in"].count, columns["Lead in"].total, columns["Lead in"].weighted) == (2, 400, 40)
    assert (columns["Proposal"].count, columns["Proposal"].total, columns["Proposal"].weighted) == (1, 1000, 500)
    assert columns["Won"].count == 0 and columns["Won"].cards == []
    assert [c["title"] for c in columns["Lead in"].cards] == ["A", "B"]
    limited = deals.board(db, owner.claims, ws, pipeline["id"], shown={stages["Lead in"]: 1})
    lead_in = next(c for c in limited if c.stage["name"] == "Lead in")
    assert lead_in.count == 2 and len(lead_in.cards) == 1
    searched = deals.board(db, owner.claims, ws, pipeline["id"], deals.BoardFilters(search="c"))
    assert sum(c.count for c in searched) == 1


def test_rotting_and_overdue_flags(db, admin_conn, sales):
    owner, ws, pipeline, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Old", "expected_close_date": date.today() - timedelta(days=1)})
    admin_conn.execute("update public.deals set stage_entered_at = now() - interval '30 days' where id = %s", [deal_id])
    card = next(c for c in deals.board(db, owner.claims, ws, pipeline["id"]) if c.stage["name"] == "Lead in").cards[0]
    assert card["overdue"] and card["rotting"] and card["days_in_stage"] == 30


def test_a_stage_with_deals_is_deleted_only_after_moving_them(db, sales, factory):
    owner, ws, pipeline, stages = sales
    deal_id = deals.create(db, owner.claims, ws, {"title": "Held"})
    with pytest.raises(FormErrors, match="still holds 1 deal"):
        deals.delete_stage(db, owner.claims, ws, stages["Lead in"])
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        deals.delete_stage(db, agent.claims, ws, stages["Lead in"], move_to=stages["Qualified"])
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Lead in"  # nothing half-done
    with pytest.raises(FormErrors, match="same pipeline and kind"):
        deals.delete_stage(db, owner.claims, ws, stages["Lead in"], move_to=stages["Won"])
    assert deals.delete_stage(db, owner.claims, ws, stages["Lead in"], move_to=stages["Qualified"]) == 1
    assert deals.get(db, owner.claims, ws, deal_id)["stage_name"] == "Qualified"
    names = [s["name"] for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]]
    assert "Lead in" not in names


def test_admins_add_and_edit_stages(db, sales, factory):
    owner, ws, pipeline, stages = sales
    new_id = deals.add_stage(db, owner.claims, ws, pipeline["id"], "Demo", 40, rotting_days=7)
    with pytest.raises(FormErrors):
        deals.add_stage(db, owner.claims, ws, pipeline["id"], "Bad", 140)
    deals.update_stage(db, owner.claims, ws, new_id, "Demo call", 45, None, 1)
    stage = next(s for s in deals.pipelines(db, owner.claims, ws)[0]["stages"] if s["id"] == new_id)
    assert (stage["name"], stage["probability"], stage["rotting_days"]) == ("Demo call", 45, None)
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        deals.add_stage(db, agent.claims, ws, pipeline["id"], "Nope", 10)


def test_a_new_workspaces_defaults_are_not_news_on_home(db, sales):
    from lib import workspaces

    owner, ws, _, _ = sales
    assert {a["table_name"] for a in workspaces.overview(db, owner.claims, ws)["activity"]} == {
        "workspaces", "workspace_members"}
    deals.create(db, owner.claims, ws, {"title": "Real news"})
    assert "deals" in {a["table_name"] for a in workspaces.overview(db, owner.claims, ws)["activity"]}
