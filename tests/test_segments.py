"""Segments on the real database: every filter criterion counted on generated contacts against
the count worked out in Python from the generated rows; static lists stay frozen while live
filters follow changes; member ids (list and SQL); a contact's segments; row-level security;
the CSV; the Segments page under AppTest."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from lib import custom_fields, segments
from lib.analytics import customers as ca
from lib.customer_search import Filters
from lib.errors import FormErrors, UserError

UTC = timezone.utc
N = 240
STAGES = ("lead", "prospect", "customer", "churned")
COUNTRIES = ("DE", "FR", "GB", None)
TAGS = ("vip", "newsletter", "b2b")
SOURCES = ("Website", "Referral", None)
CONTACTED_DAYS = (None, 5, 40, 200)  # far from the 30 / 90 day limits used below
TIERS = ("gold", "silver", None)


@dataclass
class Person:
    id: str
    name: str
    stage: str
    country: str | None
    tags: list[str]
    consent: bool
    owner: str | None
    source: str | None
    contacted_days: int | None
    created: datetime
    tier: str | None
    score: int | None
    archived: bool
    company_id: str | None
    open_deal: bool
    won_deal: bool
    open_ticket: bool
    solved_ticket: bool


@dataclass
class Shop:
    ws: str
    owner: object
    agent: object
    viewer: object
    stranger: object
    stranger_ws: str
    people: list[Person]
    companies: list[str]
    rfm: dict  # customer id -> RFM segment
    rfm_pick: tuple[str, ...] = ()  # two segments to filter on: of the best company and of a lapsed lone buyer

    def active(self):
        return [p for p in self.people if not p.archived]

    def expected(self, predicate) -> set[str]:
        return {p.id for p in self.active() if predicate(p)}

    def rfm_of(self, p: Person) -> set[str]:
        return {self.rfm[c] for c in (p.id, p.company_id) if c in self.rfm}


def _generate(admin_conn, db, owner, ws, owners: list[str]) -> tuple[list[Person], list[str], dict, tuple]:
    rng = random.Random(8)
    now = datetime.now(UTC)
    companies = [str(admin_conn.execute("insert into public.companies (workspace_id, name) values (%s, %s) returning id",
                                        [ws, f"Segment Co {i}"]).fetchone()["id"]) for i in range(6)]
    people = []
    for i in range(N):
        days = rng.choice(CONTACTED_DAYS)
        p = Person(
            id="", name=f"{rng.choice(['Anna', 'Jörg', 'Léa', 'Tom'])} Seg{i:03d}", stage=rng.choice(STAGES),
            country=rng.choice(COUNTRIES), tags=sorted(rng.sample(TAGS, rng.randint(0, 2))),
            consent=rng.random() < 0.5, owner=rng.choice(owners + [None]), source=rng.choice(SOURCES),
            contacted_days=days, created=now - timedelta(days=rng.choice((3, 100, 400))),
            tier=rng.choice(TIERS), score=rng.choice((None, 10, 50, 90)), archived=rng.random() < 0.06,
            company_id=rng.choice(companies + [None] * 6), open_deal=rng.random() < 0.2, won_deal=rng.random() < 0.2,
            open_ticket=rng.random() < 0.15, solved_ticket=rng.random() < 0.15)
        custom = {k: v for k, v in (("tier", p.tier), ("score", p.score)) if v is not None}
        p.id = str(admin_conn.execute(
            "insert into public.contacts (workspace_id, first_name, last_name, email, stage, country, tags, consent,"
            " owner_id, source, last_contacted_at, created_at, custom, archived_at, company_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
            [ws, *p.name.split(" "), f"seg{i}@example.com", p.stage, p.country, p.tags, p.consent, p.owner, p.source,
             now - timedelta(days=days) if days is not None else None, p.created, Jsonb(custom),
             now if p.archived else None, p.company_id]).fetchone()["id"])
        for wanted, status in ((p.open_deal, "open"), (p.won_deal, "won")):
            if wanted:
                admin_conn.execute("insert into public.deals (workspace_id, title, contact_id, status)"
                                   " values (%s, %s, %s, %s)", [ws, f"Deal {i}", p.id, status])
        for wanted, status in ((p.open_ticket, "pending_customer"), (p.solved_ticket, "solved")):
            if wanted:
                admin_conn.execute("insert into public.tickets (workspace_id, subject, contact_id, status)"
                                   " values (%s, %s, %s, %s)", [ws, f"Ticket {i}", p.id, status])
        people.append(p)
    # Sales for RFM: two companies and two contacts without a company buy, at different times and amounts.
    with db.as_user(owner.claims) as conn:
        product = conn.execute("insert into public.products (workspace_id, sku, name, price) values (%s, 'S1', 'S1', 10)"
                               " returning id", [ws]).fetchone()["id"]
        loners = [p for p in people if p.company_id is None and not p.archived][:2]
        buyers = [("company_id", companies[0], 1, 5), ("company_id", companies[1], 300, 1),
                  ("contact_id", loners[0].id, 2, 4), ("contact_id", loners[1].id, 400, 1)]
        for n, (column, cid, days_ago, orders) in enumerate(buyers):
            for k in range(orders):
                order = conn.execute(
                    f"insert into public.orders (workspace_id, number, {column}, status, ordered_at, currency)"
                    " values (%s, %s, %s, 'paid', %s, 'EUR') returning id",
                    [ws, f"SEG-{n}-{k}", cid, now - timedelta(days=days_ago + 30 * k)]).fetchone()["id"]
                conn.execute("insert into public.order_lines (workspace_id, order_id, product_id, position, quantity,"
                             " unit_price) values (%s, %s, %s, 0, 1, %s)", [ws, order, product, 100 * (orders - k)])
        at = ca.snapshot_after_last_sale(conn, ws, "EUR")
        rfm = {r["customer_id"]: r["segment"] for r in ca.scored_customers(conn, ws, "EUR", at, None)}
    pick = tuple(sorted({rfm[companies[0]], rfm[loners[1].id]}))
    return people, companies, rfm, pick


@pytest.fixture(scope="module")
def shop(db, factory, runtime) -> Shop:
    import psycopg
    from psycopg.rows import dict_row

    owner, ws = factory.owner("Segment Shop")
    agent = factory.member(owner, ws, "agent")
    viewer = factory.member(owner, ws, "viewer")
    stranger, stranger_ws = factory.owner("Other Shop")
    custom_fields.define(db, owner.claims, ws, "contact", "Tier", "select", "gold, silver")
    custom_fields.define(db, owner.claims, ws, "contact", "Score", "number")
    with psycopg.connect(runtime.admin_conninfo, row_factory=dict_row, autocommit=True) as admin_conn:
        people, companies, rfm, pick = _generate(admin_conn, db, owner, ws, [owner.id, agent.id])
    return Shop(ws, owner, agent, viewer, stranger, stranger_ws, people, companies, rfm, pick)


def member_set(db, shop, f: Filters, who=None) -> set[str]:
    """The ids `f` selects, in both shapes of the SQL (for every match, and for a page), which must agree."""
    from lib import customer_search as search
    from lib.customers import CONTACT

    found = []
    with db.as_user((who or shop.owner).claims) as conn:
        for whole in (True, False):
            where, params = search.where_sql(conn, shop.ws, CONTACT, f, whole=whole)
            found.append({str(r["id"]) for r in conn.execute(sql.SQL("select c.id from public.contacts c where ")
                                                             + where, params).fetchall()})
    assert found[0] == found[1]
    return found[0]


def criteria(shop: Shop):
    """(label, Filters, predicate on a generated Person)."""
    today = date.today()
    agent = shop.agent.id
    return [
        ("everyone active", Filters(), lambda p: True),
        ("stage customer or prospect", Filters(stages=("customer", "prospect")), lambda p: p.stage in ("customer", "prospect")),
        ("owner agent", Filters(owners=(agent,)), lambda p: p.owner == agent),
        ("no owner", Filters(owners=("",)), lambda p: p.owner is None),
        ("tag vip", Filters(tags=("vip",)), lambda p: "vip" in p.tags),
        ("tag vip or b2b", Filters(tags=("vip", "b2b")), lambda p: bool({"vip", "b2b"} & set(p.tags))),
        ("source Referral", Filters(sources=("Referral",)), lambda p: p.source == "Referral"),
        ("country DE", Filters(countries=("DE",)), lambda p: p.country == "DE"),
        ("created in the last 50 days", Filters(created_from=today - timedelta(days=50)),
         lambda p: p.created.date() >= today - timedelta(days=50)),
        ("custom select tier gold", Filters(custom={"tier": "gold"}), lambda p: p.tier == "gold"),
        ("custom number score 40-100", Filters(custom={"score": (40, 100)}), lambda p: p.score is not None and p.score >= 40),
        ("consent", Filters(consent=True), lambda p: p.consent),
        ("no consent", Filters(consent=False), lambda p: not p.consent),
        ("has open deal", Filters(open_deal=True), lambda p: p.open_deal),
        ("has no open deal", Filters(open_deal=False), lambda p: not p.open_deal),
        ("has open ticket", Filters(open_ticket=True), lambda p: p.open_ticket),
        ("has no open ticket", Filters(open_ticket=False), lambda p: not p.open_ticket),
        ("active in the last 30 days", Filters(active_days=30),
         lambda p: p.contacted_days is not None and p.contacted_days <= 30),
        ("no activity for 90 days (never included)", Filters(inactive_days=90),
         lambda p: p.contacted_days is None or p.contacted_days >= 90),
        (f"RFM {shop.rfm_pick}", Filters(rfm_segments=shop.rfm_pick), lambda p: bool(shop.rfm_of(p) & set(shop.rfm_pick))),
        ("customers in DE with consent", Filters(stages=("customer",), countries=("DE",), consent=True),
         lambda p: p.stage == "customer" and p.country == "DE" and p.consent),
        ("customers with an open deal", Filters(stages=("customer",), open_deal=True),
         lambda p: p.stage == "customer" and p.open_deal),
        ("open deal and open ticket", Filters(open_deal=True, open_ticket=True), lambda p: p.open_deal and p.open_ticket),
        ("DE, open ticket, no open deal", Filters(countries=("DE",), open_ticket=True, open_deal=False),
         lambda p: p.country == "DE" and p.open_ticket and not p.open_deal),
        ("vip and not contacted for 90 days", Filters(tags=("vip",), inactive_days=90),
         lambda p: "vip" in p.tags and (p.contacted_days is None or p.contacted_days >= 90)),
    ]


def test_every_criterion_counts_exactly(shop, db):
    assert len(shop.rfm) == 4 and len(shop.rfm_pick) == 2  # four scored buyers; two segments picked
    for label, f, predicate in criteria(shop):
        expected = shop.expected(predicate)
        assert segments.count_filters(db, shop.agent.claims, shop.ws, f) == len(expected), label
        assert member_set(db, shop, f, shop.agent) == expected, label
        preview = segments.preview_filters(db, shop.agent.claims, shop.ws, f)
        assert len(preview) == min(20, len(expected)), label
        assert {str(r["id"]) for r in preview} <= expected, label
        assert [r["name"] for r in preview] == sorted(r["name"] for r in preview), label
    # The generated data exercises each criterion: neither nobody nor everybody (but the first).
    for label, f, predicate in criteria(shop)[1:]:
        assert 0 < len(shop.expected(predicate)) < len(shop.active()), label


def test_rfm_segment_reaches_company_contacts_and_lone_buyers(shop, db):
    champion_co = next(c for c, s in shop.rfm.items() if c in shop.companies and s)
    segment = shop.rfm[champion_co]
    expected = shop.expected(lambda p: segment in shop.rfm_of(p))
    assert {p.id for p in shop.active() if p.company_id == champion_co} <= expected
    assert member_set(db, shop, Filters(rfm_segments=(segment,))) == expected


def test_definition_round_trip_and_saved_filter_segment(shop, db):
    f = Filters(stages=("customer", "lead"), owners=("", shop.agent.id), tags=("vip",), countries=("DE", "FR"),
                created_from=date(2020, 1, 2), contacted_to=date.today(), custom={"score": (40, None), "tier": "gold"},
                consent=True, open_deal=False, inactive_days=10, rfm_segments=("Lost",), rfm_currency="EUR")
    definition = segments.to_definition(f)
    assert definition["filters"]["created_from"] == "2020-01-02"
    assert segments.from_definition(definition) == f
    assert segments.from_definition({"filters": {"search": "x", "ids": ["a"], "bogus": 1}}) == Filters()
    said = segments.describe({"kind": "filter", "definition": definition}, {shop.agent.id: "Agent User"})
    assert said.startswith("Live filter: active contacts with stage Customer or Lead; owner nobody or Agent User;")
    assert "consent given; no open deal; no activity for 10 days" in said

    live = Filters(countries=("DE",), consent=True)
    saved = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "DE with consent", live)
    expected = shop.expected(lambda p: p.country == "DE" and p.consent)
    assert saved["member_count"] == len(expected)
    assert segments.count(db, shop.viewer.claims, shop.ws, saved["id"]) == len(expected)
    with db.as_user(shop.viewer.claims) as conn:
        assert set(segments.member_ids(conn, shop.ws, saved["id"])) == expected
    listed = {s["name"]: s for s in segments.list_segments(db, shop.viewer.claims, shop.ws)}
    assert listed["DE with consent"]["kind"] == "filter"
    assert listed["DE with consent"]["created_by_name"] == "Agent User"
    with pytest.raises(FormErrors):
        segments.save_filter_segment(db, shop.agent.claims, shop.ws, " de WITH consent", live)
    with pytest.raises(FormErrors):
        segments.save_filter_segment(db, shop.agent.claims, shop.ws, "  ", live)
    segments.update_filter_segment(db, shop.agent.claims, shop.ws, saved["id"], Filters(countries=("FR",)))
    assert segments.count(db, shop.agent.claims, shop.ws, saved["id"]) == len(shop.expected(lambda p: p.country == "FR"))


def test_static_list_stays_frozen_while_the_live_filter_follows(shop, db, admin_conn):
    f = Filters(countries=("GB",), stages=("lead",))
    frozen = segments.save_static_list(db, shop.agent.claims, shop.ws, "GB leads, frozen", filters=f)
    live = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "GB leads, live", f)
    before = shop.expected(lambda p: p.country == "GB" and p.stage == "lead")
    assert frozen["member_count"] == live["member_count"] == len(before)
    leaving = next(p for p in shop.active() if p.id in before)
    joining = next(p for p in shop.active() if p.country == "GB" and p.stage != "lead")
    with db.as_user(shop.agent.claims) as conn:
        conn.execute("update public.contacts set stage = 'prospect' where id = %s", [leaving.id])
        conn.execute("update public.contacts set stage = 'lead' where id = %s", [joining.id])
    try:
        with db.as_user(shop.agent.claims) as conn:
            assert set(segments.member_ids(conn, shop.ws, frozen["id"])) == before
            assert set(segments.member_ids(conn, shop.ws, live["id"])) == before - {leaving.id} | {joining.id}
        # Adding and removing members is set-based, counted once, and keeps member_count.
        extra = [p.id for p in shop.active() if p.id not in before and p.id != joining.id][:3]
        assert segments.add_members(db, shop.agent.claims, shop.ws, frozen["id"], extra + extra[:1]) == 3
        assert segments.add_members(db, shop.agent.claims, shop.ws, frozen["id"], extra) == 0
        assert segments.remove_members(db, shop.agent.claims, shop.ws, frozen["id"], [extra[0], leaving.id]) == 2
        assert segments.count(db, shop.agent.claims, shop.ws, frozen["id"]) == len(before) + 1
        stored = {s["id"]: s for s in segments.list_segments(db, shop.agent.claims, shop.ws)}[frozen["id"]]
        assert stored["member_count"] == len(before) + 1
        # A live filter can ask for list membership, alone or with other criteria.
        on_list = before - {leaving.id} | set(extra[1:])
        assert member_set(db, shop, Filters(in_list=frozen["id"])) == on_list
        assert member_set(db, shop, Filters(in_list=frozen["id"], stages=("lead",))) == {
            p.id for p in shop.active() if p.id in on_list and p.stage == "lead"}
        assert member_set(db, shop, Filters(in_list=frozen["id"], open_deal=True)) == {
            p.id for p in shop.active() if p.id in on_list and p.open_deal}
        # Freezing more matches later adds only the new ones.
        assert segments.add_members(db, shop.agent.claims, shop.ws, frozen["id"], filters=f) == 1  # joining
    finally:
        with db.as_user(shop.agent.claims) as conn:
            conn.execute("update public.contacts set stage = 'lead' where id = %s", [leaving.id])
            conn.execute("update public.contacts set stage = %s where id = %s", [joining.stage, joining.id])


def test_static_list_by_ids_and_errors(shop, db):
    ids = [p.id for p in shop.active()[:5]]
    made = segments.save_static_list(db, shop.agent.claims, shop.ws, "Five", contact_ids=ids)
    assert made["member_count"] == 5
    empty = segments.save_static_list(db, shop.agent.claims, shop.ws, "Empty for now")
    assert empty["member_count"] == 0 and segments.count(db, shop.agent.claims, shop.ws, empty["id"]) == 0
    with pytest.raises(UserError):
        segments.add_members(db, shop.agent.claims, shop.ws, made["id"], ["not-a-uuid"])
    live = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "Live one", Filters(tags=("vip",)))
    with pytest.raises(UserError, match="not a static list"):
        segments.add_members(db, shop.agent.claims, shop.ws, live["id"], ids)
    # A contact of another workspace is not added.
    with db.as_user(shop.stranger.claims) as conn:
        foreign = str(conn.execute("insert into public.contacts (workspace_id, first_name) values (%s, 'Far')"
                                   " returning id", [shop.stranger_ws]).fetchone()["id"])
    assert segments.add_members(db, shop.agent.claims, shop.ws, made["id"], [foreign]) == 0


def test_member_ids_sql_for_set_based_use(shop, db):
    f = Filters(open_ticket=True, consent=True)
    saved = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "Open tickets with consent", f)
    with db.as_user(shop.agent.claims) as conn:
        query, params = segments.member_ids_sql(conn, shop.ws, saved["id"])
        assert not any(k.startswith("campaign_") for k in params)
        wrapped = sql.SQL("select count(*) as n, count(*) filter (where %(campaign_x)s) as x from (") + query + sql.SQL(") m")
        row = conn.execute(wrapped, {**params, "campaign_x": True}).fetchone()
        ids = segments.member_ids(conn, shop.ws, saved["id"])
    expected = shop.expected(lambda p: p.open_ticket and p.consent)
    assert row["n"] == row["x"] == len(expected) and set(ids) == expected


def test_segments_of_contact(shop, db):
    p = next(x for x in shop.active() if x.consent and x.country == "FR" and x.open_deal)
    other = next(x for x in shop.active() if not x.consent)
    mine = segments.save_static_list(db, shop.agent.claims, shop.ws, "Contact's list", contact_ids=[p.id])
    yes = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "FR consent", Filters(countries=("FR",), consent=True))
    no = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "FR no consent", Filters(countries=("FR",), consent=False))
    found = {s["id"]: s for s in segments.segments_of_contact(db, shop.viewer.claims, shop.ws, p.id)}
    assert mine["id"] in found and found[mine["id"]]["kind"] == "static"
    assert yes["id"] in found and no["id"] not in found
    assert mine["id"] not in {s["id"] for s in segments.segments_of_contact(db, shop.viewer.claims, shop.ws, other.id)}
    # An RFM segment saved from analytics shows on its members' pages.
    buyer = next(x for x in shop.active() if x.company_id == shop.companies[0])
    rfm = segments.save_rfm(db, shop.owner.claims, shop.ws, "Top company", shop.rfm[shop.companies[0]], "EUR", None)
    assert rfm["id"] in {s["id"] for s in segments.segments_of_contact(db, shop.agent.claims, shop.ws, buyer.id)}
    assert segments.segments_of_contact(db, shop.stranger.claims, shop.ws, p.id) == []
    assert segments.segments_of_contact(db, shop.viewer.claims, shop.ws, "nonsense") == []


def test_row_level_security(shop, db):
    saved = segments.save_filter_segment(db, shop.agent.claims, shop.ws, "Everyone", Filters())
    lst = segments.save_static_list(db, shop.agent.claims, shop.ws, "Some", contact_ids=[shop.active()[0].id])
    # Another workspace's member sees nothing of it.
    assert segments.count_filters(db, shop.stranger.claims, shop.ws, Filters()) == 0
    assert segments.list_segments(db, shop.stranger.claims, shop.ws) == []
    for call in (segments.count, segments.preview, segments.get):
        with pytest.raises(UserError):
            call(db, shop.stranger.claims, shop.ws, saved["id"])
    with pytest.raises(UserError):
        segments.save_filter_segment(db, shop.stranger.claims, shop.ws, "Theirs", Filters())
    # A viewer reads and counts, but cannot save, edit lists or delete.
    assert segments.count(db, shop.viewer.claims, shop.ws, saved["id"]) == len(shop.active())
    with pytest.raises(UserError, match="role"):
        segments.save_filter_segment(db, shop.viewer.claims, shop.ws, "Mine", Filters())
    with pytest.raises(UserError, match="role"):
        segments.save_static_list(db, shop.viewer.claims, shop.ws, "Mine too")
    with pytest.raises(UserError):
        segments.add_members(db, shop.viewer.claims, shop.ws, lst["id"], [shop.active()[1].id])
    with pytest.raises(UserError):
        segments.remove_members(db, shop.viewer.claims, shop.ws, lst["id"], [shop.active()[0].id])
    assert segments.count(db, shop.viewer.claims, shop.ws, lst["id"]) == 1
    with pytest.raises(UserError, match="admins"):
        segments.delete_segment(db, shop.agent.claims, shop.ws, saved["id"])
    segments.delete_segment(db, shop.owner.claims, shop.ws, saved["id"])
    with pytest.raises(UserError):
        segments.get(db, shop.owner.claims, shop.ws, saved["id"])


def test_members_csv_is_safe(shop, db, admin_conn):
    evil = str(admin_conn.execute("insert into public.contacts (workspace_id, first_name, last_name, email)"
                                  " values (%s, '=HYPERLINK(1)', 'Evil', 'evil@example.com') returning id",
                                  [shop.ws]).fetchone()["id"])
    lst = segments.save_static_list(db, shop.agent.claims, shop.ws, "CSV list", contact_ids=[evil, shop.active()[0].id])
    text = segments.members_csv(db, shop.viewer.claims, shop.ws, lst["id"]).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "evil@example.com" in text
    assert len(text.strip().splitlines()) == 3


# -- the page ------------------------------------------------------------------------------------


def test_segments_page_builds_saves_and_lists(factory, db):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws = factory.owner("Segment Page Shop")
    with db.as_user(owner.claims) as conn:
        for i, (stage, country, consent) in enumerate([("customer", "DE", True), ("customer", "DE", False),
                                                       ("lead", "DE", True), ("customer", "FR", True)]):
            conn.execute("insert into public.contacts (workspace_id, first_name, last_name, email, stage, country, consent)"
                         " values (%s, %s, 'Page', %s, %s, %s, %s)", [ws, f"P{i}", f"p{i}@example.com", stage, country, consent])
    at = sign_in(fresh_app(), owner.email)
    at = open_page(at, "views/segments.py")
    assert not at.exception
    assert "No segments yet" in texts(at)
    assert at.metric[0].value == "4"
    at.multiselect(key="seg_f_stage_contact").select("customer").run()
    at.segmented_control(key="seg_f_consent").set_value("yes").run()
    assert not at.exception
    assert at.metric[0].value == "2"
    at.text_input(key="seg_name").input("Customers with consent").run()
    at.button(key="seg_save").click().run()
    assert not at.exception, at.exception
    saved = {s["name"]: s for s in segments.list_segments(db, owner.claims, ws)}
    assert saved["Customers with consent"]["kind"] == "filter"
    assert segments.from_definition(saved["Customers with consent"]["definition"]) == Filters(stages=("customer",), consent=True)
    # The saved tab lists it with its live count and opens it (the query parameter points at it).
    assert saved["Customers with consent"]["id"] in at.query_params["segment"]
    listed = at.dataframe[0].value
    assert list(listed["Name"]) == ["Customers with consent"] and list(listed["Members now"]) == [2]
    # Freeze the same filter as a list, then see it among the segments.
    at.text_input(key="seg_name").input("Frozen customers").run()
    at.button(key="seg_freeze").click().run()
    assert not at.exception
    kinds = {s["name"]: s["kind"] for s in segments.list_segments(db, owner.claims, ws)}
    assert kinds == {"Customers with consent": "filter", "Frozen customers": "static"}
    frozen = next(s["id"] for s in segments.list_segments(db, owner.claims, ws) if s["name"] == "Frozen customers")
    assert at.selectbox(key="seg_open").value == frozen  # the one just saved is the one open
    assert at.session_state["seg_tabs"] == "Saved segments"
    live = saved["Customers with consent"]["id"]
    at.selectbox(key="seg_open").set_value(live).run()  # picking another one keeps it, and the link follows
    assert at.selectbox(key="seg_open").value == live and live in at.query_params["segment"]
    at.run()
    assert at.selectbox(key="seg_open").value == live
    # A duplicate name is refused beside the form.
    at.button(key="seg_save").click().run()
    assert "exists already" in " ".join(e.value for e in at.error)


def test_segment_badges_markdown():
    from ui.segment_badges import badges_markdown

    text = badges_markdown([{"id": "1", "name": "VIP [*]", "kind": "static"}, {"id": "2", "name": "DE", "kind": "filter"}])
    assert "segments?segment=1" in text and r"VIP \[\*\]" in text and ":blue-badge[" in text


def test_static_list_on_the_page_add_and_remove(factory, db):
    from tests.test_app_flows import fresh_app, sign_in
    from tests.test_customer_flows import open_page

    owner, ws = factory.owner("List Page Shop")
    with db.as_user(owner.claims) as conn:
        ids = [str(conn.execute("insert into public.contacts (workspace_id, first_name, last_name, email)"
                                " values (%s, %s, 'Lister', %s) returning id", [ws, name, f"{name.lower()}@example.com"]
                                ).fetchone()["id"]) for name in ("Ada", "Bea", "Cyd")]
    made = segments.save_static_list(db, owner.claims, ws, "Hand picked", contact_ids=ids[:2])
    at = sign_in(fresh_app(), owner.email)
    at = open_page(at, "views/segments.py", segment=made["id"])
    assert not at.exception
    assert at.selectbox(key="seg_open").value == made["id"]
    at.text_input(key="seg_add_q").input("Cyd").run()
    at.multiselect(key="seg_add_pick").select(ids[2]).run()
    at.button(key="seg_add").click().run()
    assert not at.exception
    with db.as_user(owner.claims) as conn:
        assert set(segments.member_ids(conn, ws, made["id"])) == set(ids)
    # Select the first preview row (by name: Ada) as the table's selection event would, and remove it.
    at.session_state[f"seg_preview_{made['id']}"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="seg_remove").click().run()
    assert not at.exception
    with db.as_user(owner.claims) as conn:
        assert set(segments.member_ids(conn, ws, made["id"])) == set(ids[1:])
    assert at.metric[0].value == "2"
