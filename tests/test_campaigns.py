"""Campaigns: validation and status flow, the audience dry run and snapshot with consent
exclusions and their reasons, launch (outbox rows, unique Message-IDs, signed unsubscribe links,
send time, idempotency), rescheduling and cancelling, posts and the calendar, attribution across
workspaces, and the figures (ROI, cost per lead) worked by hand."""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from lib import audit, campaign_results, campaigns, deals, mailer, orders, templates, unsubscribe, workspaces
from lib.errors import ConflictError, FormErrors, UserError

BASE = "https://crm.example.com"


def _contact(conn, ws: str, first: str, email: str | None, consent: bool, source: str | None = None) -> str:
    return str(conn.execute(
        "insert into public.contacts (workspace_id, first_name, last_name, email, consent, consent_source)"
        " values (%s, %s, 'Tester', %s, %s, %s) returning id", [ws, first, email, consent, source]).fetchone()["id"])


def static_list(db, claims, ws: str, name: str, contact_ids: list[str]) -> str:
    """A static list written as the app writes one: a segment of kind 'static' and its member rows."""
    with db.as_user(claims) as conn:
        segment = str(conn.execute(
            "insert into public.segments (workspace_id, name, kind, definition, member_count)"
            " values (%s, %s, 'static', '{}', %s) returning id", [ws, name, len(contact_ids)]).fetchone()["id"])
        conn.execute("insert into public.segment_members (workspace_id, segment_id, contact_id)"
                     " select %s, %s, unnest(%s::uuid[])", [ws, segment, contact_ids])
    return segment


@pytest.fixture
def audience(factory, db):
    """A workspace with a list of 8 contacts: 4 reachable, and one of each exclusion."""
    owner, ws = factory.owner("Campaign Shop")
    with db.as_user(owner.claims) as conn:
        people = {
            "ann": _contact(conn, ws, "Ann", "ann@example.com", True, "web form"),
            "bob": _contact(conn, ws, "<Bob>", "bob@example.com", True, "event"),
            "cy": _contact(conn, ws, "Cy", "cy@example.com", True),
            "noemail": _contact(conn, ws, "Nomail", None, True),
            "noconsent": _contact(conn, ws, "Noconsent", "nc@example.com", False),
            "unsub": _contact(conn, ws, "Unsub", "unsub@example.com", False, "unsubscribe link"),
            "event_unsub": _contact(conn, ws, "Evunsub", "evu@example.com", False, "portal"),
            "came_back": _contact(conn, ws, "Cameback", "back@example.com", True, "customer portal"),
        }
        for who, when in (("event_unsub", "now() - interval '3 days'"), ("came_back", "now() - interval '30 days'")):
            conn.execute(f"insert into public.email_events (workspace_id, contact_id, kind, occurred_at)"
                         f" values (%s, %s, 'unsubscribe', {when})", [ws, people[who]])
        # came_back consented again after unsubscribing: reachable again.
        conn.execute("update public.contacts set consent_at = now() - interval '1 day' where id = %s",
                     [people["came_back"]])
    segment = static_list(db, owner.claims, ws, "Everyone", list(people.values()))
    template = templates.create(db, owner.claims, ws, {
        "name": "Spring", "subject": "Spring for {{ contact.first_name }}",
        "body": "Hello {{ contact.first_name }},\nnew season at {{ workspace.name }}.\nLeave: {{ unsubscribe_url }}"})
    return owner, ws, people, segment, template


def _campaign(db, owner, ws, segment=None, template=None, **extra) -> str:
    return campaigns.create(db, owner.claims, ws, {"name": "Spring sale", "channel": "email", "segment_id": segment,
                                                   "template_id": template, "currency": "EUR", **extra})


def test_validation(db, audience):
    owner, ws, *_ = audience
    with pytest.raises(FormErrors) as caught:
        campaigns.create(db, owner.claims, ws, {"name": " ", "channel": "fax", "starts_on": "2026-05-10",
                                                "ends_on": "2026-05-01", "budget": "-5", "actual_cost": "1.234",
                                                "currency": "euro", "segment_id": "nope"})
    assert set(caught.value.errors) == {"name", "channel", "ends_on", "budget", "actual_cost", "currency",
                                        "segment_id"}


def test_references_stay_in_the_workspace(db, audience):
    """The owner belongs to two workspaces: neither the app nor plain SQL lets them mix the two."""
    owner, ws, people, segment, template = audience
    other = workspaces.create_workspace(db, owner.claims, "Second shop")
    their_segment = static_list(db, owner.claims, other, "Theirs", [])
    their_campaign = campaigns.create(db, owner.claims, other, {"name": "Theirs"})
    with pytest.raises(FormErrors) as caught:
        _campaign(db, owner, ws, their_segment, template)
    assert set(caught.value.errors) == {"segment_id"}
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="segment does not exist in this workspace"):
        with db.as_user(owner.claims) as conn:
            conn.execute("insert into public.campaigns (workspace_id, name, segment_id) values (%s, 'x', %s)",
                         [ws, their_segment])
    deal = _won_deal(db, owner, ws, people["ann"], 100)
    with pytest.raises(FormErrors):
        campaign_results.attribute(db, owner.claims, ws, "deal", deal, their_campaign)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="campaign does not exist in this workspace"):
        with db.as_user(owner.claims) as conn:
            conn.execute("update public.deals set campaign_id = %s where id = %s", [their_campaign, deal])


def test_dry_run_counts_exclusions_with_reasons(db, audience):
    owner, ws, people, segment, template = audience
    dry = campaigns.audience(db, owner.claims, ws, segment)
    assert dry == {"total": 8, "targeted": 4, "excluded": {"no email": 1, "no consent": 1, "unsubscribed": 2}}
    with pytest.raises(FormErrors):
        campaigns.audience(db, owner.claims, ws, None)
    sample = campaigns.audience_sample(db, owner.claims, ws, segment, limit=4)
    assert {r["id"] for r in sample} == {people[k] for k in ("ann", "bob", "cy", "came_back")}
    found = campaigns.audience_sample(db, owner.claims, ws, segment, search="UNSUB@")
    assert [(r["id"], r["reason"]) for r in found] == [(people["unsub"], "unsubscribed")]
    assert campaigns.audience_sample(db, owner.claims, ws, segment, search="50%") == []  # % is literal


def test_launch_and_sending_are_audited_per_campaign_and_statement(db, audience, admin_conn):
    """One audit entry per table and statement with counts and status moves, no copy of the bodies."""
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    campaigns.launch(db, owner.claims, ws, campaign)
    worker = mailer.Worker(db, mailer.SmtpConfig("127.0.0.1", 1), workspace_id=ws)
    assert len(worker.claim()) == 4
    entries = admin_conn.execute(
        "select table_name, row_id, action, changes from public.audit_log"
        " where workspace_id = %s and table_name in ('outbox', 'campaign_members') order by id", [ws]).fetchall()
    def shown(e: dict) -> tuple:
        return e["table_name"], e["row_id"], e["action"], {k: v for k, v in e["changes"].items() if k != "contacts"}

    assert [shown(e) for e in entries] == [
        ("campaign_members", campaign, "insert", {"rows": 8, "status": {"targeted": 4, "excluded": 4}}),
        ("outbox", campaign, "insert", {"rows": 4, "status": {"queued": 4}}),
        ("outbox", campaign, "update", {"rows": 4, "status": {"queued → sending": 4}}),
    ]
    # Home's recent activity shows what people did, not the worker's bookkeeping.
    recent = workspaces.overview(db, owner.claims, ws)["activity"]
    assert [a["table_name"] for a in recent if a["table_name"] in ("outbox", "campaign_members")] == [
        "outbox", "campaign_members"]  # the launch, by the owner; not the claim
    # A statement of a few rows says whom it touched.
    assert sorted(entries[0]["changes"]["contacts"]) == sorted(people.values())
    assert sorted(entries[2]["changes"]["contacts"]) == sorted(people[k] for k in ("ann", "bob", "cy", "came_back"))
    assert [audit.describe(e) for e in entries] == [
        "added 8 campaign members (excluded: 4, targeted: 4)", "added 4 emails in the outbox (queued: 4)",
        "changed 4 emails in the outbox (queued → sending: 4)"]
    with db.as_user(owner.claims) as conn:  # a person's edit of one member reads the same way
        conn.execute("update public.campaign_members set status = 'converted' where contact_id = %s",
                     [people["ann"]])
    last = admin_conn.execute("select * from public.audit_log where workspace_id = %s order by id desc limit 1",
                              [ws]).fetchone()
    assert audit.describe(last) == "changed 1 campaign member (targeted → converted: 1)"
    assert last["changed_by"] is not None and str(last["changed_by"]) == owner.id
    assert last["changes"]["contacts"] == [people["ann"]]
    # An update that changes nothing is not news (a second click on a link sets what is set).
    with db.as_user(owner.claims) as conn:
        conn.execute("update public.campaign_members set status = status where campaign_id = %s", [campaign])
    assert admin_conn.execute("select max(id) as id from public.audit_log where workspace_id = %s",
                              [ws]).fetchone()["id"] == last["id"]
    # Deleting the campaign: its emails stay, filed under the campaign they belonged to.
    campaigns.set_status(db, owner.claims, ws, campaign, "cancelled", campaigns.get(db, owner.claims, ws, campaign)["version"])
    with db.as_user(owner.claims) as conn:
        conn.execute("delete from public.campaigns where id = %s", [campaign])
    detached = admin_conn.execute(
        "select row_id, changes from public.audit_log where workspace_id = %s and table_name = 'outbox'"
        " and action = 'update' order by id desc limit 1", [ws]).fetchone()
    assert detached["row_id"] == campaign and detached["changes"]["status"].get("campaign removed") == 4


def test_launch_now_snapshots_and_queues_one_email_each(db, audience, admin_conn):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    result = campaigns.launch(db, owner.claims, ws, campaign, version=1)
    assert result == {"targeted": 4, "excluded": {"no email": 1, "no consent": 1, "unsubscribed": 2},
                      "queued": 4, "already": False}
    members = {r["contact_id"]: r for r in campaigns.members(db, owner.claims, ws, campaign)}
    assert members[people["unsub"]]["status"] == "excluded"
    assert members[people["unsub"]]["excluded_reason"] == "unsubscribed"
    assert members[people["event_unsub"]]["excluded_reason"] == "unsubscribed"
    assert members[people["noemail"]]["excluded_reason"] == "no email"
    assert members[people["ann"]]["status"] == "targeted"
    rows = admin_conn.execute("select *, send_after <= now() as due from public.outbox where campaign_id = %s",
                              [campaign]).fetchall()
    assert len(rows) == 4 and len({r["message_id"] for r in rows}) == 4
    assert {str(r["contact_id"]) for r in rows} == {people[k] for k in ("ann", "bob", "cy", "came_back")}
    assert all(r["status"] == "queued" and r["due"] for r in rows)
    # The unsubscribe link is a placeholder the worker signs at send time (the key stays out of requests).
    worker = mailer.Worker(db, mailer.SmtpConfig("127.0.0.1", 1), public_url=BASE)
    for row in rows:
        assert "?unsubscribe=" not in row["body_text"] + row["body_html"]
        assert mailer.UNSUBSCRIBE_URL_MARK in row["body_text"] and mailer.UNSUBSCRIBE_URL_MARK in row["body_html"]
        link, text, body = worker.bodies(row)
        token = parse_qs(urlsplit(link).query)["unsubscribe"][0]
        assert link.startswith(BASE + "/?unsubscribe=") and f"Leave: {link}" in text
        assert unsubscribe.verify(db, token) == (ws, str(row["contact_id"]))
        assert f'href="{html.escape(link)}"' in body
    bob = next(r for r in rows if str(r["contact_id"]) == people["bob"])
    assert bob["subject"] == "Spring for <Bob>" and "&lt;Bob&gt;" in bob["body_html"]
    assert bob["to_email"] == "bob@example.com"
    shown = campaigns.get(db, owner.claims, ws, campaign)
    assert shown["status"] == "running" and shown["launched_at"] is not None


def test_launching_twice_does_nothing(db, audience, admin_conn):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    campaigns.launch(db, owner.claims, ws, campaign)
    with db.as_user(owner.claims) as conn:  # the list grows after the launch
        extra = _contact(conn, ws, "Late", "late@example.com", True)
        conn.execute("insert into public.segment_members (workspace_id, segment_id, contact_id) values (%s, %s, %s)",
                     [ws, segment, extra])
    again = campaigns.launch(db, owner.claims, ws, campaign)
    assert again["already"] and again["queued"] == 0 and again["targeted"] == 4
    counts = admin_conn.execute(
        "select (select count(*) from public.outbox where campaign_id = %(c)s) as outbox,"
        " (select count(*) from public.campaign_members where campaign_id = %(c)s) as members", {"c": campaign}).fetchone()
    assert counts == {"outbox": 4, "members": 8}
    with pytest.raises(UserError):
        campaigns.set_status(db, owner.claims, ws, campaign, "scheduled", campaigns.get(
            db, owner.claims, ws, campaign)["version"])


def test_launch_needs_audience_template_role_and_email_channel(db, factory, audience):
    owner, ws, people, segment, template = audience
    with pytest.raises(FormErrors) as caught:
        campaigns.launch(db, owner.claims, ws, _campaign(db, owner, ws, None, template))
    assert "segment_id" in caught.value.errors
    with pytest.raises(FormErrors) as caught:
        campaigns.launch(db, owner.claims, ws, _campaign(db, owner, ws, segment, None))
    assert "template_id" in caught.value.errors
    social = campaigns.create(db, owner.claims, ws, {"name": "Posts", "channel": "social", "segment_id": segment})
    with pytest.raises(UserError, match="Only email campaigns"):
        campaigns.launch(db, owner.claims, ws, social)
    campaign = _campaign(db, owner, ws, segment, template)
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="role"):
        campaigns.launch(db, viewer.claims, ws, campaign)
    campaigns.update(db, owner.claims, ws, campaign, {"name": "Renamed", "channel": "email", "segment_id": segment,
                                                      "template_id": template}, 1)
    with pytest.raises(ConflictError):
        campaigns.launch(db, owner.claims, ws, campaign, version=1)
    assert campaigns.get(db, owner.claims, ws, campaign)["launched_at"] is None


def test_scheduled_send_time_reschedule_and_cancel(db, audience, admin_conn):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    at = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    result = campaigns.launch(db, owner.claims, ws, campaign, send_at=at)
    assert result["queued"] == 4
    shown = campaigns.get(db, owner.claims, ws, campaign)
    assert shown["status"] == "scheduled" and shown["scheduled_at"] == at
    after = {r["send_after"] for r in admin_conn.execute("select send_after from public.outbox where campaign_id = %s",
                                                         [campaign]).fetchall()}
    assert after == {at}
    later = at + timedelta(days=1)
    version = campaigns.reschedule(db, owner.claims, ws, campaign, later, shown["version"])
    assert {r["send_after"] for r in admin_conn.execute(
        "select send_after from public.outbox where campaign_id = %s", [campaign]).fetchall()} == {later}
    version = campaigns.reschedule(db, owner.claims, ws, campaign, None, version)  # send now
    assert campaigns.get(db, owner.claims, ws, campaign)["status"] == "running"
    assert admin_conn.execute("select bool_and(send_after <= now()) as due from public.outbox where campaign_id = %s",
                              [campaign]).fetchone()["due"]
    campaigns.set_status(db, owner.claims, ws, campaign, "cancelled", version)
    statuses = {r["status"] for r in admin_conn.execute("select status from public.outbox where campaign_id = %s",
                                                        [campaign]).fetchall()}
    assert statuses == {"failed"}  # never sent
    assert campaigns.outbox_counts(db, owner.claims, ws, campaign) == {"failed": 4, "overdue": 0}


def test_status_flow_for_other_channels(db, audience):
    owner, ws, *_ = audience
    event = campaigns.create(db, owner.claims, ws, {"name": "Fair", "channel": "event", "starts_on": date(2026, 6, 1),
                                                    "ends_on": date(2026, 6, 3), "budget": "1200.50"})
    shown = campaigns.get(db, owner.claims, ws, event)
    assert shown["status"] == "draft" and shown["budget"] == Decimal("1200.50")
    version = campaigns.set_status(db, owner.claims, ws, event, "scheduled", shown["version"])
    version = campaigns.set_status(db, owner.claims, ws, event, "running", version)
    with pytest.raises(ConflictError):
        campaigns.set_status(db, owner.claims, ws, event, "completed", version - 1)
    version = campaigns.set_status(db, owner.claims, ws, event, "completed", version)
    with pytest.raises(UserError):
        campaigns.set_status(db, owner.claims, ws, event, "running", version)


def test_posts_and_calendar(db, factory, audience):
    owner, ws, *_ = audience
    event = campaigns.create(db, owner.claims, ws, {"name": "Fair", "channel": "social", "starts_on": "2026-06-01",
                                                    "ends_on": "2026-06-30"})
    with pytest.raises(FormErrors) as caught:
        campaigns.create_post(db, owner.claims, ws, event, {"channel": "email", "title": ""})
    assert set(caught.value.errors) == {"channel", "title", "planned_at"}
    post = campaigns.create_post(db, owner.claims, ws, event, {"channel": "social", "title": "Teaser",
                                                               "content": "Coming soon", "planned_at": date(2026, 6, 5)})
    version = campaigns.update_post(db, owner.claims, ws, post, {"channel": "social", "title": "Teaser",
                                                                 "planned_at": date(2026, 6, 6), "done": True}, 1)
    with pytest.raises(ConflictError):
        campaigns.update_post(db, owner.claims, ws, post, {"channel": "ads", "title": "x",
                                                           "planned_at": date(2026, 6, 6)}, 1)
    assert version == 2 and campaigns.posts(db, owner.claims, ws, event)[0]["done"]
    june = campaigns.calendar(db, owner.claims, ws, date(2026, 6, 1), date(2026, 6, 30))
    assert [c["name"] for c in june["campaigns"]] == ["Fair"]
    assert [(p["title"], p["planned_at"].date()) for p in june["posts"]] == [("Teaser", date(2026, 6, 6))]
    july = campaigns.calendar(db, owner.claims, ws, date(2026, 7, 1), date(2026, 7, 31))
    assert july == {"campaigns": [], "posts": []}
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        campaigns.delete_post(db, agent.claims, ws, post)
    campaigns.delete_post(db, owner.claims, ws, post)


# -- attribution and figures ----------------------------------------------------------------------


def _won_deal(db, owner, ws: str, contact: str | None, value: int, currency: str = "EUR") -> str:
    with db.as_user(owner.claims) as conn:
        return str(conn.execute(
            "insert into public.deals (workspace_id, title, value, currency, contact_id, pipeline_id, stage_id)"
            " select %s, 'Deal', %s, %s, %s, s.pipeline_id, s.id from public.stages s"
            " where s.workspace_id = %s and s.kind = 'won' limit 1 returning id",
            [ws, value, currency, contact, ws]).fetchone()["id"])


def _sale(db, owner, ws: str, contact: str, amount: str, currency: str = "EUR") -> str:
    made = orders.create_order(db, owner.claims, ws, {"contact_id": contact, "currency": currency, "lines": [
        {"description": "Goods", "quantity": "1", "unit_price": amount}]})
    orders.set_status(db, owner.claims, ws, made["id"], "confirmed", 1)
    return made["id"]


def test_roi_and_cost_per_lead_worked_by_hand(db, audience):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template, actual_cost="500", budget="600")
    campaigns.launch(db, owner.claims, ws, campaign)
    # Ann's won deal (1,500 EUR) and Cy's confirmed order (300 EUR) come from the campaign;
    # a GBP order and an open deal are credited too, but do not add to EUR revenue.
    campaign_results.attribute(db, owner.claims, ws, "deal", _won_deal(db, owner, ws, people["ann"], 1500), campaign)
    campaign_results.attribute(db, owner.claims, ws, "order", _sale(db, owner, ws, people["cy"], "300"), campaign)
    campaign_results.attribute(db, owner.claims, ws, "order", _sale(db, owner, ws, people["bob"], "999", "GBP"), campaign)
    draft = orders.create_order(db, owner.claims, ws, {"contact_id": people["bob"], "lines": [
        {"description": "Draft", "quantity": "1", "unit_price": "50"}]})
    campaign_results.attribute(db, owner.claims, ws, "order", draft["id"], campaign)  # not a sale: not revenue
    figures = campaign_results.figures(db, owner.claims, ws, campaign)
    assert figures["deal_revenue"] == Decimal("1500") and figures["order_revenue"] == Decimal("300")
    assert figures["revenue"] == Decimal("1800") and figures["other_currency"] == 1
    assert figures["roi"] == pytest.approx(2.6)  # (1,800 − 500) / 500
    # Leads: Ann (converted by her won deal, and the deal's contact) and Cy (converted by a sale).
    # Bob's GBP sale converts him too: leads are people, whatever the currency.
    assert figures["members"]["converted"] == 3 and figures["leads"] == 3
    assert figures["cost_per_lead"] == pytest.approx(500 / 3)
    campaign_results.attribute(db, owner.claims, ws, "order", draft["id"], None)
    assert campaign_results.roi(Decimal("1800"), Decimal("500")) == pytest.approx(2.6)
    assert campaign_results.roi(100, None) is None and campaign_results.roi(100, 0) is None
    assert campaign_results.cost_per_lead(Decimal("500"), 2) == 250 and campaign_results.cost_per_lead(500, 0) is None
    attributed = campaign_results.attributed(db, owner.claims, ws, campaign)
    assert len(attributed["deals"]) == 1 and len(attributed["orders"]) == 2


def test_credit_first_convert_when_won_or_sold(db, audience):
    """Crediting an open deal or a draft order, then winning or confirming it, converts the member."""
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    campaigns.launch(db, owner.claims, ws, campaign)
    deal = deals.create(db, owner.claims, ws, {"title": "Bikes for Ann", "value": "800", "contact_id": people["ann"]})
    campaign_results.attribute(db, owner.claims, ws, "deal", deal, campaign)
    draft = orders.create_order(db, owner.claims, ws, {"contact_id": people["cy"], "currency": "EUR", "lines": [
        {"description": "Goods", "quantity": "1", "unit_price": "40"}]})
    campaign_results.attribute(db, owner.claims, ws, "order", draft["id"], campaign)

    def status(who: str) -> str:
        return next(m["status"] for m in campaigns.members(db, owner.claims, ws, campaign)
                    if str(m["contact_id"]) == people[who])

    assert (status("ann"), status("cy")) == ("targeted", "targeted")
    won = next(s["id"] for s in deals.stage_path(db, owner.claims, ws, deal) if s["kind"] == "won")
    deals.move(db, owner.claims, ws, deal, won, deals.get(db, owner.claims, ws, deal)["version"], won_value="750")
    orders.set_status(db, owner.claims, ws, draft["id"], "confirmed", orders.get(db, owner.claims, ws, draft["id"])["version"])
    assert (status("ann"), status("cy")) == ("converted", "converted")
    figures = campaign_results.figures(db, owner.claims, ws, campaign)
    assert figures["revenue"] == Decimal("790.00") and figures["leads"] == 2


def test_leads_count_deal_contacts_and_marked_members_once(db, audience):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template, actual_cost="300")
    campaigns.launch(db, owner.claims, ws, campaign)
    assert campaigns.mark_members(db, owner.claims, ws, campaign, [people["bob"], people["unsub"]], "converted") == 1
    campaigns.mark_members(db, owner.claims, ws, campaign, [people["cy"]], "replied")
    with db.as_user(owner.claims) as conn:
        outsider = _contact(conn, ws, "Walkin", "walk@example.com", False)
    for contact in (people["bob"], outsider, None):  # Bob counted once; a deal without contact counts itself
        with db.as_user(owner.claims) as conn:
            deal = str(conn.execute("insert into public.deals (workspace_id, title, contact_id) values (%s, 'Open', %s)"
                                    " returning id", [ws, contact]).fetchone()["id"])
        campaign_results.attribute(db, owner.claims, ws, "deal", deal, campaign)
    figures = campaign_results.figures(db, owner.claims, ws, campaign)
    assert figures["leads"] == 3 and figures["revenue"] == 0 and figures["roi"] == pytest.approx(-1.0)
    assert figures["cost_per_lead"] == pytest.approx(100.0)
    assert figures["members"] == {"targeted": 2, "converted": 1, "replied": 1, "excluded": 4}
    with pytest.raises(UserError):
        campaigns.mark_members(db, owner.claims, ws, campaign, [people["bob"]], "sent")


def test_comparison_lists_every_campaign_with_ratios(db, audience):
    owner, ws, people, segment, template = audience
    first = _campaign(db, owner, ws, segment, template, actual_cost="100", starts_on="2026-01-01")
    campaigns.create(db, owner.claims, ws, {"name": "Ads", "channel": "ads", "actual_cost": "50",
                                            "currency": "GBP", "starts_on": "2026-02-01"})
    campaign_results.attribute(db, owner.claims, ws, "deal", _won_deal(db, owner, ws, people["ann"], 250), first)
    rows = campaign_results.comparison(db, owner.claims, ws)
    assert [r["name"] for r in rows] == ["Ads", "Spring sale"]
    assert rows[1]["roi"] == pytest.approx(1.5) and rows[0]["roi"] == pytest.approx(-1.0)
    assert rows[1]["currency"] == "EUR" and rows[0]["currency"] == "GBP"


def test_update_locks_what_was_sent(db, audience):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    campaigns.launch(db, owner.claims, ws, campaign)
    version = campaigns.get(db, owner.claims, ws, campaign)["version"]
    base = {"name": "Spring sale", "channel": "email", "segment_id": segment, "template_id": template}
    with pytest.raises(FormErrors) as caught:
        campaigns.update(db, owner.claims, ws, campaign, {**base, "segment_id": None}, version)
    assert set(caught.value.errors) == {"segment_id"}
    version = campaigns.update(db, owner.claims, ws, campaign, {**base, "actual_cost": "42"}, version)
    with pytest.raises(ConflictError):
        campaigns.update(db, owner.claims, ws, campaign, {**base, "actual_cost": "43"}, version - 1)
    assert campaigns.get(db, owner.claims, ws, campaign)["actual_cost"] == Decimal("42")


def test_delete_is_for_admins_and_cancels_unsent_emails(db, factory, audience, admin_conn):
    owner, ws, people, segment, template = audience
    campaign = _campaign(db, owner, ws, segment, template)
    campaigns.launch(db, owner.claims, ws, campaign)
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        campaigns.delete(db, agent.claims, ws, campaign)
    assert campaigns.outbox_counts(db, owner.claims, ws, campaign) == {"queued": 4, "overdue": 0}
    campaigns.delete(db, owner.claims, ws, campaign)
    assert admin_conn.execute("select count(*) filter (where status = 'queued') as queued from public.outbox"
                              " where workspace_id = %s", [ws]).fetchone()["queued"] == 0


# -- the pages ------------------------------------------------------------------------------------


def test_scheduling_a_campaign_on_the_page(db, audience, admin_conn):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws, people, segment, template = audience
    at = open_page(sign_in(fresh_app(), owner.email), "views/campaigns.py")
    assert not at.exception and "No campaigns yet" in texts(at)
    campaign = campaigns.create(db, owner.claims, ws, {"name": "Autumn letter", "channel": "email"})
    at = open_page(at, "views/campaign.py", campaign=campaign)
    assert not at.exception
    at.selectbox(key="cmp_segment").set_value(segment)
    at.selectbox(key="cmp_template").set_value(template)
    at = at.run()
    draft = campaigns.get(db, owner.claims, ws, campaign)  # kept as soon as chosen: a draft survives leaving
    assert (str(draft["segment_id"]), str(draft["template_id"]), draft["status"]) == (segment, template, "draft")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Will be emailed"] == "4" and metrics["Excluded"] == "4"  # the dry run, before launching
    reasons = next(d.value for d in at.dataframe if "Reason" in d.value.columns)
    assert dict(zip(reasons["Reason"], reasons["Contacts"])) == {
        "Unsubscribed": 2, "No email address": 1, "No marketing consent": 1}
    at.selectbox(key="cmp_preview_member").set_value(people["bob"])
    at = at.run()
    assert "&lt;Bob&gt;" in " ".join(h.proto.body for h in at.get("html"))
    at.radio(key="cmp_when").set_value("later")
    at = at.run()
    day = date.today() + timedelta(days=3)
    at.date_input(key="cmp_send_day").set_value(day)
    at.time_input(key="cmp_send_time").set_value(time(9, 30))
    at = at.button(key="cmp_launch").click().run()
    assert not at.exception
    shown = campaigns.get(db, owner.claims, ws, campaign)
    when = datetime(day.year, day.month, day.day, 9, 30, tzinfo=timezone.utc)  # AppTest's browser: UTC
    assert shown["status"] == "scheduled" and shown["scheduled_at"] == when
    assert str(shown["segment_id"]) == segment and str(shown["template_id"]) == template
    rows = admin_conn.execute("select send_after from public.outbox where campaign_id = %s", [campaign]).fetchall()
    assert len(rows) == 4 and {r["send_after"] for r in rows} == {when}
    assert "4 to be emailed, 4 excluded" in texts(at)
    assert not at.warning
    # The send time passed long ago and nothing went out: the page says no worker is sending.
    admin_conn.execute("update public.outbox set send_after = now() - interval '20 minutes' where campaign_id = %s",
                       [campaign])
    admin_conn.execute("update public.campaigns set scheduled_at = now() - interval '20 minutes' where id = %s",
                       [campaign])
    at = open_page(at, "views/campaign.py", campaign=campaign)
    assert "to 4 recipients, 4 excluded" in texts(at)
    assert "4 emails are more than 10 minutes past their send time" in at.warning[0].value
    at = open_page(at, "views/campaigns.py")
    assert not at.exception and "Autumn letter" in list(at.dataframe[0].value["Name"])


def test_campaign_pages_for_other_channels_and_viewers(db, factory, audience):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws, people, segment, template = audience
    event = campaigns.create(db, owner.claims, ws, {"name": "Trade fair", "channel": "event", "actual_cost": "500",
                                                    "starts_on": date.today(), "ends_on": date.today()})
    campaign_results.attribute(db, owner.claims, ws, "deal", _won_deal(db, owner, ws, people["ann"], 1500), event)
    at = open_page(sign_in(fresh_app(), owner.email), "views/campaign.py", campaign=event)
    assert not at.exception and "No posts planned yet" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ROI"] == "200.0 %" and metrics["Leads"] == "1"
    at.text_input(key="cmp_post_new_title").input("Booth set-up")
    at = at.button(key="cmp_post_new_save").click().run()
    assert not at.exception
    assert [p["title"] for p in campaigns.posts(db, owner.claims, ws, event)] == ["Booth set-up"]
    at = at.button(key="cmp_step_scheduled").click().run()
    assert campaigns.get(db, owner.claims, ws, event)["status"] == "scheduled"
    at = open_page(at, "views/campaigns.py")
    assert not at.exception
    at = open_page(at, "views/campaign.py", campaign="not-a-uuid")
    assert at.title[0].value == "Campaign not found"
    viewer = factory.member(owner, ws, "viewer")
    at = open_page(sign_in(fresh_app(), viewer.email), "views/campaign.py", campaign=event)
    assert not at.exception and not [b for b in at.button if str(b.key).startswith("cmp_step_")]


def test_crediting_a_campaign_from_the_deal_and_order_pages(db, factory, audience):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws, people, segment, template = audience
    deal = _won_deal(db, owner, ws, people["ann"], 1500)
    sale = _sale(db, owner, ws, people["bob"], "300")
    at = open_page(sign_in(fresh_app(), owner.email), "views/deal.py", deal=deal)
    assert not at.exception and not [s for s in at.selectbox if s.key == f"deal_campaign_{deal}"]  # no campaign yet
    fair = campaigns.create(db, owner.claims, ws, {"name": "Trade fair", "channel": "event", "actual_cost": "500"})
    campaigns.create(db, owner.claims, ws, {"name": "Spring letter", "channel": "email"})
    at = open_page(at, "views/deal.py", deal=deal)
    assert "Not credited to a campaign" in texts(at)
    at.selectbox(key=f"deal_campaign_{deal}").set_value(fair)
    at = at.button(key=f"deal_campaign_save_{deal}").click().run()
    assert not at.exception
    assert [t.value for t in at.toast] == ["Credited to Trade fair."]
    assert "Campaign: Trade fair" in [link.label for link in at.get("page_link")]
    at = open_page(at, "views/order.py", order=sale)
    at.selectbox(key=f"order_campaign_{sale}").set_value(fair)
    at = at.button(key=f"order_campaign_save_{sale}").click().run()
    assert not at.exception
    figures = campaign_results.figures(db, owner.claims, ws, fair)
    assert (figures["revenue"], figures["leads"], round(figures["roi"], 2)) == (Decimal("1800.00"), 1, 2.6)
    # Picking a campaign that started after the order, in another currency: the picker says both.
    later = campaigns.create(db, owner.claims, ws, {"name": "Next year", "channel": "ads", "currency": "GBP",
                                                    "starts_on": date.today() + timedelta(days=30)})
    at = open_page(at, "views/order.py", order=sale)
    at.selectbox(key=f"order_campaign_{sale}").set_value(later).run()
    assert "before the campaign started" in texts(at) and "not added to its revenue" in texts(at)
    # Taking the credit back, and a viewer sees the credit without a picker.
    at.selectbox(key=f"order_campaign_{sale}").set_value("")
    at = at.button(key=f"order_campaign_save_{sale}").click().run()
    assert not at.exception and campaign_results.figures(db, owner.claims, ws, fair)["revenue"] == Decimal("1500.00")
    viewer = factory.member(owner, ws, "viewer")
    at = open_page(sign_in(fresh_app(), viewer.email), "views/deal.py", deal=deal)
    assert not at.exception and "Campaign: Trade fair" in [link.label for link in at.get("page_link")]
    assert not [s for s in at.selectbox if s.key == f"deal_campaign_{deal}"]


def test_pages_render_demo_campaigns(db, factory, monkeypatch):
    """Every campaign screen and tab draws the demo's campaigns (a small demo) without error."""
    from lib import demo
    from tests.test_app_flows import fresh_app, sign_in
    from tests.test_customer_flows import open_page

    monkeypatch.setattr(demo, "N_CONTACTS", 400)
    monkeypatch.setattr(demo, "N_COMPANIES", 60)
    owner, ws = factory.owner("Small demo")
    demo.load_demo(db, owner.claims, ws, seed=3)
    at = open_page(sign_in(fresh_app(), owner.email), "views/campaigns.py")
    assert not at.exception
    assert len(at.dataframe[0].value) == 6 and at.get("plotly_chart")
    at.selectbox(key="cmp_month").set_value((date.today() - timedelta(days=170)).replace(day=1))  # the fair
    at = at.run()
    assert not at.exception and "cmp_calendar_chart" in {c.key for c in at.get("plotly_chart")}
    assert "Home & Office trade fair" in " ".join(str(d.value) for d in at.dataframe)
    for row in campaign_results.comparison(db, owner.claims, ws):
        at = open_page(at, "views/campaign.py", campaign=row["id"])
        assert not at.exception, row["name"]
    at = open_page(at, "views/email_templates.py")
    assert not at.exception and len(at.dataframe[0].value) == 3
