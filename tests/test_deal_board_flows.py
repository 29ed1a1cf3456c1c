"""The funnel board with Streamlit's AppTest on the real database: columns with counts and totals,
filters, moving a card (won asks for the value, lost for a reason), conflicts, new deals, viewers."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import customers, deals
from lib.customers import COMPANY
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def board_app(factory, db):
    """An owner signed in on /deals with three deals in the default pipeline."""
    owner, ws = factory.owner("Board Shop")
    stages = {s["name"]: str(s["id"]) for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]}
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Harbour Bikes"})
    ids = {
        "Fleet": deals.create(db, owner.claims, ws, {"title": "Fleet of 20", "value": 12000, "company_id": company}),
        "Helmets": deals.create(db, owner.claims, ws, {"title": "Helmets", "value": 800}),
        "Repairs": deals.create(db, owner.claims, ws, {"title": "Repairs *contract*", "value": 2000}),
    }
    deals.move(db, owner.claims, ws, ids["Repairs"], stages["Proposal"], 1)
    at = sign_in(fresh_app(), owner.email)
    assert not at.exception
    return owner, ws, stages, ids, open_page(at, "views/deals.py")


def headers(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if " · " in m.value and m.value.startswith("**")]


def card_titles(at: AppTest) -> set[str]:
    """Titles of the cards (a card's markdown is "**title**  \\n value currency")."""
    return {m.value[2:m.value.index("**  \n")] for m in at.markdown if m.value.startswith("**") and "**  \n" in m.value}


def test_board_shows_columns_with_counts_and_totals(board_app):
    *_, at = board_app
    assert not at.exception
    assert headers(at) == ["**Lead in** · 2", "**Qualified** · 0", "**Proposal** · 1", "**Negotiation** · 0",
                           "**Won** · 0", "**Lost** · 0"]
    captions = [c.value for c in at.caption]
    assert "12,800 · weighted 1,280 (10 %)" in captions
    assert "2,000 · weighted 1,000 (50 %)" in captions
    assert "Harbour Bikes · 0 d in stage · No owner" in captions
    # User text is escaped wherever markdown renders it.
    assert r"Repairs \*contract\*" in card_titles(at)


def test_filters_narrow_the_board(board_app, db, factory):
    owner, ws, _, ids, at = board_app
    colleague = factory.member(owner, ws, "agent")
    deals.update(db, owner.claims, ws, ids["Helmets"], {"owner_id": colleague.id}, 1)
    at.run()
    at.multiselect(key="deal_f_owner").select(colleague.id).run()
    assert not at.exception
    assert card_titles(at) == {"Helmets"}
    at.multiselect(key="deal_f_owner").unselect(colleague.id).run()
    at.text_input(key="deal_search").input("harbour").run()
    assert card_titles(at) == {"Fleet of 20"}
    at.text_input(key="deal_search").input("nothing like this").run()
    assert "No deals match these filters." in texts(at)


def test_moving_a_card_changes_its_stage(board_app, db):
    owner, ws, stages, ids, at = board_app
    at.selectbox(key=f"deal_move_{ids['Helmets']}").select(stages["Qualified"]).run()
    assert not at.exception
    assert deals.get(db, owner.claims, ws, ids["Helmets"])["stage_name"] == "Qualified"
    assert "**Qualified** · 1" in headers(at)
    assert [t.value for t in at.toast] == ["Moved to Qualified."]
    assert at.selectbox(key=f"deal_move_{ids['Helmets']}").value is None


def test_moving_to_won_asks_for_the_value(board_app, db):
    owner, ws, stages, ids, at = board_app
    at.selectbox(key=f"deal_move_{ids['Fleet']}").select(stages["Won"]).run()
    assert not at.exception
    assert deals.get(db, owner.claims, ws, ids["Fleet"])["stage_name"] == "Lead in"  # not yet: the dialog asks
    value = at.number_input(key=f"deal_won_value_{ids['Fleet']}")
    assert value.value == 12000
    value.set_value(11500).run()
    at.button(key="deal_won_submit").click().run()
    assert not at.exception
    deal = deals.get(db, owner.claims, ws, ids["Fleet"])
    assert deal["status"] == "won" and float(deal["value"]) == 11500
    assert "**Won** · 1" in headers(at)
    assert "deal_dialog" not in at.session_state
    assert "Deal won." in [t.value for t in at.toast]


def test_moving_to_lost_requires_a_reason(board_app, db):
    owner, ws, stages, ids, at = board_app
    at.selectbox(key=f"deal_move_{ids['Helmets']}").select(stages["Lost"]).run()
    at.button(key="deal_lost_submit").click().run()
    assert not at.exception
    assert "Choose why the deal was lost." in [e.value for e in at.error]
    assert deals.get(db, owner.claims, ws, ids["Helmets"])["status"] == "open"
    reasons = {name: rid for rid, name in deals.lost_reasons(db, owner.claims, ws).items()}
    at.selectbox(key=f"deal_lost_reason_{ids['Helmets']}").select(reasons["Price"]).run()
    at.button(key="deal_lost_submit").click().run()
    assert not at.exception
    deal = deals.get(db, owner.claims, ws, ids["Helmets"])
    assert deal["status"] == "lost" and deal["lost_reason"] == "Price"


def test_a_conflicting_move_shows_the_message_and_changes_nothing(board_app, db, factory):
    owner, ws, stages, ids, at = board_app
    colleague = factory.member(owner, ws, "agent")
    deals.move(db, colleague.claims, ws, ids["Helmets"], stages["Negotiation"], 1)
    # Our board still shows the old card, and we move it from there.
    at.selectbox(key=f"deal_move_{ids['Helmets']}").select(stages["Qualified"]).run()
    assert not at.exception
    assert any("Someone else changed this deal" in w.value and "Negotiation" in w.value for w in at.warning)
    assert deals.get(db, owner.claims, ws, ids["Helmets"])["stage_name"] == "Negotiation"
    assert "**Negotiation** · 1" in headers(at)  # the board shows what is stored now


def test_a_conflicting_won_move_closes_the_dialog_with_the_message(board_app, db, factory):
    owner, ws, stages, ids, at = board_app
    at.selectbox(key=f"deal_move_{ids['Fleet']}").select(stages["Won"]).run()
    colleague = factory.member(owner, ws, "agent")
    deals.update(db, colleague.claims, ws, ids["Fleet"], {"value": 9000}, 1)
    at.button(key="deal_won_submit").click().run()
    assert not at.exception
    assert any("Someone else changed this deal" in w.value for w in at.warning)
    deal = deals.get(db, owner.claims, ws, ids["Fleet"])
    assert deal["status"] == "open" and float(deal["value"]) == 9000
    assert "deal_dialog" not in at.session_state


def test_new_deal_form_checks_fields_then_creates(board_app, db):
    owner, ws, stages, _, at = board_app
    at.text_input(key="deal_new_currency").input("E1")
    at.button(key="deal_new_submit").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "title" in errors.lower() and "currency" in errors
    at.text_input(key="deal_new_title").input("Cargo bikes")
    at.text_input(key="deal_new_currency").input("usd")
    at.number_input(key="deal_new_value").set_value(4500)
    at.selectbox(key="deal_new_stage").select(stages["Qualified"])
    at.button(key="deal_new_submit").click().run()
    assert not at.exception
    assert "**Qualified** · 1" in headers(at)
    assert "Cargo bikes" in card_titles(at)
    assert at.text_input(key="deal_new_title").value == ""  # the form starts afresh
    made = [c for col in deals.board(db, owner.claims, ws, deals.pipelines(db, owner.claims, ws)[0]["id"])
            for c in col.cards if c["title"] == "Cargo bikes"]
    assert made and made[0]["currency"] == "USD" and float(made[0]["value"]) == 4500


def test_show_more_raises_the_column_limit(board_app, db):
    owner, ws, stages, _, at = board_app
    for n in range(deals.CARDS_PER_COLUMN):
        deals.create(db, owner.claims, ws, {"title": f"Bulk {n}", "value": 1})
    at.run()
    lead_in_cards = lambda: sum(1 for t in card_titles(at) if t.startswith(("Bulk", "Fleet", "Helmets")))  # noqa: E731
    assert lead_in_cards() == deals.CARDS_PER_COLUMN
    at.button(key=f"deal_more_{stages['Lead in']}").click().run()
    assert not at.exception
    assert lead_in_cards() == deals.CARDS_PER_COLUMN + 2


def test_csv_download_is_offered(board_app):  # its content is checked in the browser journey
    *_, at = board_app
    button = at.get("download_button")[0]
    assert button.proto.label == "Download CSV"


def test_empty_pipeline_says_what_to_do(factory):
    owner, _ = factory.owner("Empty Board")
    at = open_page(sign_in(fresh_app(), owner.email), "views/deals.py")
    assert not at.exception
    assert "No deals in this pipeline yet" in texts(at)


def test_viewer_sees_the_board_without_move_or_new_controls(board_app, factory):
    owner, ws, _, ids, _ = board_app
    viewer = factory.member(owner, ws, "viewer")
    at = open_page(sign_in(fresh_app(), viewer.email), "views/deals.py")
    assert not at.exception
    assert card_titles(at) >= {"Fleet of 20", "Helmets"}
    keys = {w.key for w in at.selectbox} | {b.key for b in at.button}
    assert not any(k and (k.startswith("deal_move_") or k.startswith("deal_new_")) for k in keys)
