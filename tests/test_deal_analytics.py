"""Forecast and funnel on the real database: known deals and known moves give known figures;
the history back-dating function and the demo deals it dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from lib import deal_analytics as da, deals, demo
from lib.deal_analytics import add_months, month_start


def _stages(db, user, ws) -> dict[str, dict]:
    default = deals.pipelines(db, user.claims, ws)[0]
    return {s["name"]: {**s, "pipeline_id": default["id"]} for s in default["stages"]}


def _deal(db, user, ws, stage: dict, value: float, close: date | None, currency: str = "EUR", owner=None) -> str:
    return deals.create(db, user.claims, ws, {"title": f"Deal {value}", "value": value, "currency": currency,
                                              "expected_close_date": close, "stage_id": stage["id"],
                                              "pipeline_id": stage["pipeline_id"], "owner_id": owner})


def _move(db, user, ws, deal_id: str, stage: dict, **extra) -> None:
    version = deals.get(db, user.claims, ws, deal_id)["version"]
    deals.move(db, user.claims, ws, deal_id, str(stage["id"]), version, **extra)


def _second_pipeline(db, user, ws) -> dict:
    with db.as_user(user.claims) as conn:
        pipeline = conn.execute("insert into public.pipelines (workspace_id, name, position) values (%s, 'Partners', 1)"
                                " returning id", [ws]).fetchone()["id"]
    stage = deals.add_stage(db, user.claims, ws, str(pipeline), "Talking", 40)
    deals.add_stage(db, user.claims, ws, str(pipeline), "Signed", 100, kind="won")
    return {"id": stage, "pipeline_id": str(pipeline)}


TODAY = date.today()
THIS = month_start(TODAY)
NEXT = add_months(THIS, 1)


@pytest.fixture(scope="module")
def known(factory, db):
    owner, ws = factory.owner("Forecast Co")
    agent = factory.member(owner, ws, "agent")
    s = _stages(db, owner, ws)
    partners = _second_pipeline(db, owner, ws)
    _deal(db, owner, ws, s["Lead in"], 1000, THIS + timedelta(days=3))           # 10 %
    _deal(db, owner, ws, s["Proposal"], 2000, THIS + timedelta(days=20))        # 50 %
    _deal(db, owner, ws, s["Negotiation"], 500, NEXT + timedelta(days=1), owner=agent.id)  # 75 %
    _deal(db, owner, ws, partners, 300, NEXT + timedelta(days=5), owner=agent.id)  # 40 %, other pipeline
    _deal(db, owner, ws, s["Qualified"], 700, THIS, currency="USD")             # 25 %
    won = _deal(db, owner, ws, s["Proposal"], 9999, THIS + timedelta(days=2))
    _move(db, owner, ws, won, s["Won"], won_value=9999)
    lost = _deal(db, owner, ws, s["Proposal"], 8888, THIS + timedelta(days=2))
    _move(db, owner, ws, lost, s["Lost"], lost_reason_id=next(iter(deals.lost_reasons(db, owner.claims, ws))))
    _deal(db, owner, ws, s["Proposal"], 400, THIS - timedelta(days=1))          # overdue
    _deal(db, owner, ws, s["Proposal"], 123, None)                              # no close date
    _deal(db, owner, ws, s["Proposal"], 456, add_months(THIS, 12))               # beyond 12 months
    return owner, ws, agent, partners


def _by(rows, *keys):
    return {tuple(r[k] for k in keys): (r["deals"], r["unweighted"], r["weighted"]) for r in rows}


def test_forecast_sums_per_month(known, db):
    owner, ws, agent, partners = known
    f = da.forecast(db, owner.claims, ws, today=TODAY)
    assert f.currencies == ["EUR", "USD"]
    assert f.months[0] == THIS and len(f.months) == 12
    totals = _by(f.totals, "period", "currency")
    assert totals[(THIS, "EUR")] == (2, 3000.0, 1100.0)
    assert totals[(NEXT, "EUR")] == (2, 800.0, 375.0 + 120.0)
    assert totals[(THIS, "USD")] == (1, 700.0, 175.0)
    assert totals[(None, "EUR")] == (1, 400.0, 200.0)  # overdue, in its own period
    assert totals[(add_months(THIS, 5), "EUR")] == (0, 0.0, 0.0)  # empty months are there too
    assert len(f.totals) == 2 * 12 + 1
    assert (f.undated, f.later) == (1, 1)  # won, lost and these two are not in any month
    owners = _by(f.by_owner, "period", "currency", "owner")
    assert owners[(NEXT, "EUR", "Agent User")] == (2, 800.0, 495.0)
    assert owners[(THIS, "EUR", "Unassigned")] == (2, 3000.0, 1100.0)
    pipelines = _by(f.by_pipeline, "period", "currency", "pipeline")
    assert pipelines[(NEXT, "EUR", "Partners")] == (1, 300.0, 120.0)
    assert pipelines[(NEXT, "EUR", "Sales")] == (1, 500.0, 375.0)
    assert f.rows("owner", "USD") == [r for r in f.by_owner if r["currency"] == "USD"]


def test_forecast_filters(known, db):
    owner, ws, agent, partners = known
    mine = da.forecast(db, owner.claims, ws, owner_ids=[agent.id], today=TODAY)
    assert _by(mine.totals, "period", "currency")[(NEXT, "EUR")] == (2, 800.0, 495.0)
    assert mine.currencies == ["EUR"] and mine.undated == 0
    other = da.forecast(db, owner.claims, ws, pipeline_id=partners["pipeline_id"], today=TODAY, months_ahead=3)
    assert [r for r in other.totals if r["deals"]] == [
        {"period": NEXT, "label": da.period_label(NEXT), "currency": "EUR", "deals": 1, "unweighted": 300.0,
         "weighted": 120.0}]
    assert len(other.months) == 3


def test_forecast_is_per_workspace(known, factory, db):
    outsider, outsider_ws = factory.owner("Nosy Ltd")
    _, ws, _, _ = known
    f = da.forecast(db, outsider.claims, ws, today=TODAY)
    assert f.totals == [] and f.currencies == [] and f.undated == 0


def test_funnel_from_known_moves(factory, db):
    owner, ws = factory.owner("Funnel Co")
    s = _stages(db, owner, ws)
    reason = next(iter(deals.lost_reasons(db, owner.claims, ws)))
    a, b, c, d, e = (_deal(db, owner, ws, s["Lead in"], 100, None) for _ in range(5))
    for stage in ("Qualified", "Proposal"):
        _move(db, owner, ws, a, s[stage])
    _move(db, owner, ws, a, s["Won"], won_value=120)
    _move(db, owner, ws, b, s["Qualified"])
    _move(db, owner, ws, b, s["Lost"], lost_reason_id=reason)
    _move(db, owner, ws, d, s["Proposal"])  # skips Qualified
    _move(db, owner, ws, e, s["Qualified"])
    _move(db, owner, ws, e, s["Lead in"])  # back again: entered once, moved on once
    pipeline = s["Lead in"]["pipeline_id"]
    f = da.funnel(db, owner.claims, ws, pipeline, TODAY - timedelta(days=1), TODAY)
    figures = [(r["name"], r["entered"], r["advanced"]) for r in f.stages]
    assert figures == [("Lead in", 5, 4), ("Qualified", 3, 1), ("Proposal", 2, 1), ("Negotiation", 0, 0)]
    assert [r["conversion"] for r in f.stages] == [0.8, pytest.approx(1 / 3), 0.5, None]
    assert (f.won, f.lost, f.win_rate) == (1, 1, 0.5)
    assert c  # c never moved: entered Lead in, did not move on
    empty = da.funnel(db, owner.claims, ws, pipeline, TODAY - timedelta(days=30), TODAY - timedelta(days=2))
    assert all(r["entered"] == 0 for r in empty.stages) and empty.win_rate is None


def test_backdated_history_counts_in_its_period(factory, db):
    owner, ws = factory.owner("Old Deals")
    agent = factory.member(owner, ws, "agent")
    s = _stages(db, owner, ws)
    deal = _deal(db, owner, ws, s["Lead in"], 100, None)
    _move(db, owner, ws, deal, s["Qualified"])
    now = datetime.now(timezone.utc)
    times = [(now - timedelta(days=40)).isoformat(), (now - timedelta(days=30)).isoformat()]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_user(agent.claims) as conn:
            conn.execute("select private.backdate_deal_history(%s, %s::jsonb)",
                         [ws, f'[{{"deal_id": "{deal}", "times": ["{times[0]}", "{times[1]}"]}}]'])
    for wrong in ([times[0]], [times[1], times[0]], [times[0], (now + timedelta(days=1)).isoformat()]):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            with db.as_user(owner.claims) as conn:
                conn.execute("select private.backdate_deal_history(%s, jsonb_build_array(jsonb_build_object("
                             "'deal_id', %s::text, 'times', %s::jsonb)))", [ws, deal, str(wrong).replace("'", '"')])
    with db.as_user(owner.claims) as conn:
        n = conn.execute("select private.backdate_deal_history(%s, jsonb_build_array(jsonb_build_object("
                         "'deal_id', %s::text, 'times', %s::jsonb)))",
                         [ws, deal, str(times).replace("'", '"')]).fetchone()["backdate_deal_history"]
        history = conn.execute("select entered_at, left_at from public.deal_stage_history where deal_id = %s"
                               " order by entered_at", [deal]).fetchall()
    assert n == 2
    assert [(h["entered_at"], h["left_at"]) for h in history] == [
        (datetime.fromisoformat(times[0]), datetime.fromisoformat(times[1])), (datetime.fromisoformat(times[1]), None)]
    stored = deals.get(db, owner.claims, ws, deal)
    assert stored["created_at"] == datetime.fromisoformat(times[0])
    assert stored["stage_entered_at"] == datetime.fromisoformat(times[1])
    f = da.funnel(db, owner.claims, ws, s["Lead in"]["pipeline_id"], TODAY - timedelta(days=45), TODAY - timedelta(days=35))
    assert [(r["entered"], r["advanced"]) for r in f.stages][:2] == [(1, 1), (0, 0)]
    # another workspace's owner cannot touch it
    outsider, outsider_ws = factory.owner("Elsewhere")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with db.as_user(outsider.claims) as conn:
            conn.execute("select private.backdate_deal_history(%s, '[]'::jsonb)", [ws])
    with pytest.raises(psycopg.errors.InvalidParameterValue):  # its deals are not in the outsider's workspace
        with db.as_user(outsider.claims) as conn:
            conn.execute("select private.backdate_deal_history(%s, jsonb_build_array(jsonb_build_object("
                         "'deal_id', %s::text, 'times', %s::jsonb)))",
                         [outsider_ws, deal, str(times).replace("'", '"')])


def test_demo_deals_have_history_and_every_stage_kind(factory, db, admin_conn, monkeypatch):
    monkeypatch.setattr(demo, "N_CONTACTS", 300)
    monkeypatch.setattr(demo, "N_COMPANIES", 60)
    owner, ws = factory.owner("Demo deals")
    counts = demo.load_demo(db, owner.claims, ws, seed=3)
    assert counts["deals"] == sum(demo.N_DEALS.values())
    kinds = admin_conn.execute(
        "select p.name, s.kind, count(*) as n, count(d.lost_reason_id) as reasons from public.deals d"
        " join public.stages s on s.id = d.stage_id join public.pipelines p on p.id = d.pipeline_id"
        " where d.workspace_id = %s group by p.name, s.kind", [ws]).fetchall()
    found = {(k["name"], k["kind"]): k for k in kinds}
    assert set(found) == {(p, k) for p in ("Sales", demo.PARTNER_PIPELINE) for k in ("open", "won", "lost")}
    assert all(k["reasons"] == (k["n"] if k["kind"] == "lost" else 0) for k in kinds)
    assert all(found[("Sales", k)]["n"] >= 50 for k in ("open", "won", "lost"))
    checks = admin_conn.execute("""
        with h as (select h.*, lead(h.entered_at) over (partition by h.deal_id order by h.entered_at, h.id) as next_at,
                          row_number() over (partition by h.deal_id order by h.entered_at desc, h.id desc) as from_end
                     from public.deal_stage_history h where h.workspace_id = %(ws)s)
        select count(distinct d.id) as deals, count(h.id) as rows,
               count(*) filter (where h.left_at is distinct from h.next_at) as unchained,
               count(*) filter (where h.from_end = 1 and (h.to_stage_id <> d.stage_id or h.entered_at <> d.stage_entered_at)) as stale,
               count(*) filter (where h.entered_at < now() - interval '549 days' or h.entered_at > now()) as out_of_range,
               count(*) filter (where h.from_end = 1 and d.status <> 'open' and d.closed_at <> h.entered_at) as bad_close,
               count(distinct date_trunc('month', h.entered_at)) as months,
               count(distinct d.owner_id) as owners
          from public.deals d join h on h.deal_id = d.id where d.workspace_id = %(ws)s""", {"ws": ws}).fetchone()
    assert checks["deals"] == counts["deals"] and checks["rows"] > 2 * counts["deals"]
    assert checks["unchained"] == checks["stale"] == checks["out_of_range"] == checks["bad_close"] == 0
    assert checks["months"] >= 18
    sales = next(p for p in deals.pipelines(db, owner.claims, ws) if p["name"] == "Sales")
    f = da.funnel(db, owner.claims, ws, sales["id"], date.today() - timedelta(days=365), date.today())
    assert all(r["entered"] > 10 and 0 < r["conversion"] < 1 for r in f.stages)
    assert 0.15 < f.win_rate < 0.6
    forecast = da.forecast(db, owner.claims, ws)
    assert forecast.currencies and sum(r["deals"] for r in forecast.totals) > 40


def _forecast_page(email: str):
    from tests.test_app_flows import fresh_app, sign_in

    at = sign_in(fresh_app(), email)
    return at.switch_page("views/forecast.py").run()


def test_forecast_page_empty_states(factory):
    from tests.conftest import unique_email
    from tests.test_app_flows import texts

    email = unique_email("empty")
    factory.owner("Nothing yet", email=email)
    at = _forecast_page(email)
    assert not at.exception
    assert "Give open deals an expected close date" in texts(at)
    assert "No deal moved in" in texts(at)


def test_forecast_page_shows_chart_table_and_funnel(known, factory, db):
    from tests.test_app_flows import texts

    owner, ws, agent, _ = known
    at = _forecast_page(owner.email)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    table = at.dataframe[0].value
    assert table.iloc[0]["Month"] == da.OVERDUE and table["Deals"].sum() == 5
    assert at.selectbox(key="fc_currency").options == ["EUR", "USD"]
    assert "1 without an expected close date" in texts(at)
    at = at.segmented_control(key="fc_breakdown").set_value("owner").run()
    assert set(at.dataframe[0].value["Owner"]) == {"Unassigned", "Agent User"}
    at = at.multiselect(key="fc_owners").select(agent.id).run()
    assert at.dataframe[0].value["Deals"].sum() == 2
    funnel = at.dataframe[1].value
    assert list(funnel["Stage"]) == ["Lead in", "Qualified", "Proposal", "Negotiation"]
    assert funnel["Entered"].sum() >= 1
