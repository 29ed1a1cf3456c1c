"""Pipeline analytics on the real database: deals with a dated stage history (one lost, reopened and
won) give known win rates by owner, source and product, days per stage and lost reasons."""

from __future__ import annotations

from datetime import date

import pytest

from lib import deals
from lib.analytics import common, pipeline as pl
from tests import analytics_data as ad

MARCH = common.Period(date(2026, 3, 1), date(2026, 3, 31))  # previous: 2026-01-29 .. 2026-02-28


@pytest.fixture(scope="module")
def pipe(factory, db):
    owner, ws = factory.owner("Pipeline Stats Co")
    agent = factory.member(owner, ws, "agent")
    s = ad.stages(db, owner, ws)
    reasons = {name: rid for rid, name in deals.lost_reasons(db, owner.claims, ws).items()}
    lead, qual, won, lost = s["Lead in"], s["Qualified"], s["Won"], s["Lost"]
    p1 = ad.deal(db, owner, ws, [(lead, "2026-02-01"), (qual, "2026-02-10"), (won, "2026-03-05")], 100,
                 owner=agent.id, source="Web")
    p2 = ad.deal(db, owner, ws, [(lead, "2026-02-05"), (lost, "2026-03-08")], 200, owner=agent.id, source="Web",
                 lost_reason=reasons["Price"])
    ad.deal(db, owner, ws, [(lead, "2026-03-02"), (qual, "2026-03-04"), (won, "2026-03-20")], 300,
            owner=owner.id, source="Referral")
    ad.deal(db, owner, ws, [(lead, "2026-03-01"), (lost, "2026-03-15")], 50, currency="USD",
            lost_reason=reasons["Competitor"])
    ad.deal(db, owner, ws, [(lead, "2026-01-30"), (won, "2026-02-15")], 70, owner=owner.id, source="Referral")
    ad.deal(db, owner, ws, [(lead, "2026-02-20"), (lost, "2026-02-25"), (lead, "2026-03-10"), (won, "2026-03-25")],
            80, owner=agent.id, source="Web", lost_reason=reasons["Price"])
    ad.deal(db, owner, ws, [(lead, "2026-03-03")], 40, owner=agent.id)
    with db.as_user(owner.claims) as conn:
        a, b = ad.product(conn, ws, "A"), ad.product(conn, ws, "B")
        ad.order(conn, ws, "1", "2026-03-06", [(a, 1, 60), (b, 1, 40)], deal_id=p1)
        ad.order(conn, ws, "2", "2026-03-01", [(a, 2, 100)], deal_id=p2, status="draft")  # a quote
    return owner, ws, agent, lead["pipeline_id"]


def _table(rows, *columns):
    return {r["label"]: tuple(r[c] for c in columns) for r in rows}


def test_win_rates(pipe, db):
    owner, ws, agent, pipeline_id = pipe
    r = pl.report(db, owner.claims, ws, pipeline_id, "EUR", MARCH)
    # March: won P1, P3, P6 (reopened after February's loss); lost P2, P4 (USD: no value here)
    assert r.summary == {"won": 3, "lost": 2, "win_rate": 0.6, "won_value": 480.0, "lost_value": 200.0}
    assert r.previous_summary == {"won": 1, "lost": 1, "win_rate": 0.5}
    assert r.funnel.win_rate == r.summary["win_rate"] and r.previous_funnel.win_rate == 0.5  # the funnel's rule
    assert _table(r.by_owner, "won", "lost", "win_rate", "prev_won", "prev_lost") == {
        "Agent User": (2, 1, pytest.approx(2 / 3), 0, 1), "Olive Owner": (1, 0, 1.0, 1, 0),
        pl.UNASSIGNED: (0, 1, 0.0, 0, 0)}
    assert [x["label"] for x in r.by_owner] == ["Agent User", "Olive Owner", pl.UNASSIGNED]
    assert _table(r.by_source, "won", "lost", "won_value") == {
        "Web": (2, 1, 180.0), "Referral": (1, 0, 300.0), pl.NO_SOURCE: (0, 1, 0.0)}
    assert _table(r.by_product, "won", "lost") == {"Product A": (1, 1), "Product B": (1, 0), pl.NO_ORDER: (2, 1)}
    closed = {d["value"]: (d["kind"], d["owner"], d["source"], d["reason"], d["products"]) for d in r.deals}
    assert closed == {100.0: ("won", "Agent User", "Web", None, ["Product A", "Product B"]),
                      200.0: ("lost", "Agent User", "Web", "Price", ["Product A"]),
                      300.0: ("won", "Olive Owner", "Referral", None, [pl.NO_ORDER]),
                      50.0: ("lost", pl.UNASSIGNED, pl.NO_SOURCE, "Competitor", [pl.NO_ORDER]),
                      80.0: ("won", "Agent User", "Web", None, [pl.NO_ORDER])}
    assert [d["value"] for d in r.deals] == [80.0, 300.0, 50.0, 200.0, 100.0]  # latest close first
    assert pl.currencies(db, owner.claims, ws) == ["EUR", "USD"]


def test_days_per_stage_and_lost_reasons(pipe, db):
    owner, ws, _, pipeline_id = pipe
    r = pl.report(db, owner.claims, ws, pipeline_id, "EUR", MARCH)
    days = {s["stage"]: s for s in r.stage_days}
    assert list(days) == ["Lead in", "Qualified", "Proposal", "Negotiation"]
    # Lead in stays that ended in March: 31, 2, 14 and 15 days; in February: 9, 16 and 5
    lead = days["Lead in"]
    assert (lead["stays"], lead["avg_days"], lead["median_days"]) == (4, 15.5, 14.5)
    assert (lead["prev_stays"], lead["prev_avg_days"], lead["open_now"]) == (3, 10.0, 1)
    assert (days["Qualified"]["stays"], days["Qualified"]["avg_days"]) == (2, 19.5)  # 23 and 16
    assert days["Proposal"]["stays"] == 0 and days["Proposal"]["avg_days"] is None
    # the reason is the deal's current one: P6, lost in February and won since, has none any more
    assert [(x["reason"], x["deals"], x["share"], x["lost_value"], x["prev_deals"]) for x in r.lost_reasons] == [
        ("Competitor", 1, 0.5, 0.0, 0), ("Price", 1, 0.5, 200.0, 0), (pl.NO_REASON, 0, 0.0, 0.0, 1)]


def test_other_workspaces_see_nothing(pipe, db, factory):
    owner, ws, _, pipeline_id = pipe
    other, _ = factory.owner("Peeking Co")
    r = pl.report(db, other.claims, ws, pipeline_id, "EUR", MARCH)
    assert r.summary["won"] == r.summary["lost"] == 0 and r.by_owner == [] and r.lost_reasons == []


# -- page -------------------------------------------------------------------------------------------

def _page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    return sign_in(fresh_app(), email).switch_page("views/analytics_pipeline.py").run()


def test_page_empty_state(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("nodeals")
    factory.owner("No deals yet", email=email)
    at = _page(email)
    assert not at.exception
    assert "No deals yet. Add deals on the Deals page" in texts(at)


def test_page_with_deals(pipe):
    owner, *_ = pipe
    at = _page(owner.email)
    at.segmented_control(key="pa_preset").set_value("custom").run()
    at.date_input(key="pa_dates").set_value((date(2026, 3, 1), date(2026, 3, 31))).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric} == {"Won": "3", "Lost": "2", "Win rate": "60.0 %",
                                                     "Won value": "480 EUR"}
    assert len(at.get("plotly_chart")) == 6  # funnel, owner, source, product, lost reasons, days
    assert len(at.get("download_button")) == 7
    assert len(at.dataframe[-2].value) == 5  # the closed deals


def test_span_starts_at_the_first_history_row(pipe, db):
    owner, ws, *_ = pipe
    assert pl.span(db, owner.claims, ws) == (date(2026, 1, 30), date.today())
