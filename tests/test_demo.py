"""Demo data: sizes, every stage, the service desk (tickets, replies, SLA, CSAT, knowledge base),
the front office (products, orders, returns, invoices) and the analytics it feeds, determinism,
refusal on a non-empty workspace, isolation."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from decimal import Decimal

from lib import activities, customer_search, customers, demo, demo_desk, demo_shop, knowledge, orders, tickets
from lib import service_analytics as sa
from lib.errors import UserError

TODAY = date(2026, 11, 23)


STEP_SECONDS: dict[str, float] = {}  # how long each step of the module's load took


@pytest.fixture(scope="module")
def loaded(factory, db):
    """One demo workspace for the module: (owner, workspace id, counts, seconds it took)."""
    owner, ws = factory.owner("Demo A")
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    counts = demo.load_demo(db, owner.claims, ws, seed=7, today=TODAY,
                            progress=lambda _, label: marks.append((label, time.perf_counter())))
    STEP_SECONDS.update({label: end - start for (label, start), (_, end) in zip(marks, marks[1:])})
    return owner, ws, counts, time.perf_counter() - started


def _rows(admin_conn, ws: str, query: str) -> list[dict]:
    return admin_conn.execute(query, {"ws": ws}).fetchall()


def test_sizes_and_speed(loaded, admin_conn):
    owner, ws, counts, seconds = loaded
    assert counts["companies"] >= 500 and counts["contacts"] >= 3000
    assert counts["activities"] >= 3000 and counts["tasks"] >= 300 and counts["deals"] >= 20
    assert counts["custom_fields"] == len(demo.CUSTOM_FIELDS)
    assert 300 <= counts["tickets"] <= 1500 and 15 <= counts["kb_articles"] <= 25
    assert 3000 <= counts["orders"] <= 6000
    stored = _rows(admin_conn, ws, """
        select (select count(*) from public.companies where workspace_id = %(ws)s) as companies,
               (select count(*) from public.contacts where workspace_id = %(ws)s) as contacts,
               (select count(*) from public.activities where workspace_id = %(ws)s) as activities,
               (select count(*) from public.tasks where workspace_id = %(ws)s) as tasks,
               (select count(*) from public.deals where workspace_id = %(ws)s) as deals,
               (select count(*) from public.tickets where workspace_id = %(ws)s) as tickets,
               (select count(*) from public.kb_articles where workspace_id = %(ws)s) as kb_articles,
               (select count(*) from public.orders where workspace_id = %(ws)s) as orders""")[0]
    assert stored == {k: counts[k] for k in stored}
    assert seconds < 40, f"demo load took {seconds:.1f} s"  # ~8 s on a quiet 2-core machine


def test_realistic_records(loaded, db, admin_conn):
    owner, ws, counts, _ = loaded
    stages = {r["stage"]: r for r in _rows(admin_conn, ws, """
        select stage, count(*) as n, bool_and(lead_at <= coalesce(prospect_at, lead_at)
                                              and coalesce(prospect_at, lead_at) <= coalesce(customer_at, 'infinity')
                                              and coalesce(customer_at, lead_at) <= coalesce(churned_at, 'infinity')
                                              and created_at = lead_at) as ordered,
               count(distinct country) as countries, count(distinct owner_id) as owners,
               count(*) filter (where consent) as consented, count(*) filter (where tags <> '{}') as tagged,
               count(*) filter (where custom <> '{}') as custom
          from public.contacts where workspace_id = %(ws)s group by stage""")}
    assert set(stages) == set(customers.STAGES)
    assert all(s["ordered"] and s["n"] >= 100 and s["countries"] >= 5 for s in stages.values())
    assert all(s["consented"] and s["tagged"] and s["custom"] for s in stages.values())
    phones = [r["phone"] for r in _rows(admin_conn, ws, "select phone from public.contacts"
                                        " where workspace_id = %(ws)s and phone is not null")]
    assert len(phones) > 2000 and all(re.fullmatch(r"\+[0-9]{6,16}", p) for p in phones)
    channels = {r["channel"] for r in _rows(admin_conn, ws, "select distinct channel from public.activities"
                                            " where workspace_id = %(ws)s")}
    assert channels == set(activities.CHANNELS)
    contacted = _rows(admin_conn, ws, """
        select count(*) filter (where c.last_contacted_at is distinct from m.latest) as wrong
          from public.contacts c join (select contact_id, max(occurred_at) as latest from public.activities
                                        where workspace_id = %(ws)s group by contact_id) m on m.contact_id = c.id""")
    assert contacted[0]["wrong"] == 0
    tasks = activities.my_tasks(db, owner.claims, ws, today=TODAY, limit=5000)
    assert tasks["overdue"] and tasks["today"] and tasks["upcoming"]
    assert _rows(admin_conn, ws, "select count(*) as n from public.tasks where workspace_id = %(ws)s"
                                 " and done_at is not null")[0]["n"] > 0
    statuses = {r["status"] for r in _rows(admin_conn, ws, "select distinct status from public.deals"
                                           " where workspace_id = %(ws)s")}
    assert statuses == {"open", "won", "lost"}


def test_search_finds_demo_records(loaded, db):
    owner, ws, _, _ = loaded
    page = customer_search.page(db, owner.claims, ws, customers.CONTACT, customer_search.Filters(stages=("customer",)))
    assert page.total > 500 and len(page.rows) == customer_search.PAGE_SIZE
    name = page.rows[0]["last_name"]
    found = customer_search.page(db, owner.claims, ws, customers.CONTACT, customer_search.Filters(search=name))
    assert any(r["last_name"] == name for r in found.rows)


def test_same_seed_same_data(loaded, factory, db, admin_conn):
    _, ws_a, counts_a, _ = loaded
    owner_b, ws_b = factory.owner("Demo B")
    counts_b = demo.load_demo(db, owner_b.claims, ws_b, seed=7, today=TODAY)
    assert counts_b == counts_a
    query = ("select full_name, email, phone, stage, country, tags, custom, lead_at, customer_at"
             " from public.contacts where workspace_id = %(ws)s order by email, full_name, phone, lead_at, tags")
    assert _rows(admin_conn, ws_a, query) == _rows(admin_conn, ws_b, query)
    companies = "select name, email, phone, stage, industry from public.companies where workspace_id = %(ws)s order by name"
    assert _rows(admin_conn, ws_a, companies) == _rows(admin_conn, ws_b, companies)
    desk = ("select t.number, t.subject, t.description, t.channel, t.priority, t.status, t.category, t.created_at,"
            " t.first_responded_at, t.solved_at, t.closed_at, t.csat, t.csat_comment, t.reopen_count, k.email"
            " from public.tickets t left join public.contacts k on k.id = t.contact_id"
            " where t.workspace_id = %(ws)s order by t.number")
    assert _rows(admin_conn, ws_a, desk) == _rows(admin_conn, ws_b, desk)
    replies = ("select t.number, c.created_at, c.from_customer, c.is_public, c.body from public.ticket_comments c"
               " join public.tickets t on t.id = c.ticket_id where c.workspace_id = %(ws)s"
               " order by t.number, c.created_at, c.body")
    assert _rows(admin_conn, ws_a, replies) == _rows(admin_conn, ws_b, replies)
    articles = ("select a.title, a.status, a.view_count, a.created_at, c.name from public.kb_articles a"
                " left join public.kb_categories c on c.id = a.category_id"
                " where a.workspace_id = %(ws)s order by a.title")
    assert _rows(admin_conn, ws_a, articles) == _rows(admin_conn, ws_b, articles)
    products = "select sku, name, category, price, cost, currency from public.products where workspace_id = %(ws)s order by sku"
    assert _rows(admin_conn, ws_a, products) == _rows(admin_conn, ws_b, products)
    sold = ("select o.number, o.status, o.ordered_at, o.shipped_at, o.paid_at, o.cancelled_at, o.country, o.currency,"
            " o.total_amount, o.line_count, o.notes, co.name as company, k.email as contact"
            " from public.orders o left join public.companies co on co.id = o.company_id"
            " left join public.contacts k on k.id = o.contact_id where o.workspace_id = %(ws)s order by o.number")
    assert _rows(admin_conn, ws_a, sold) == _rows(admin_conn, ws_b, sold)
    lines = ("select o.number, l.position, p.sku, l.description, l.quantity, l.unit_price, l.discount, l.amount"
             " from public.order_lines l join public.orders o on o.id = l.order_id"
             " left join public.products p on p.id = l.product_id where l.workspace_id = %(ws)s"
             " order by o.number, l.position")
    assert _rows(admin_conn, ws_a, lines) == _rows(admin_conn, ws_b, lines)
    invoices = ("select i.number, o.number as order_number, i.status, i.issued_on, i.due_on, i.paid_on, i.currency,"
                " i.subtotal, i.tax_rate, i.tax_amount, i.total from public.invoices i"
                " join public.orders o on o.id = i.order_id where i.workspace_id = %(ws)s order by i.number")
    assert _rows(admin_conn, ws_a, invoices) == _rows(admin_conn, ws_b, invoices)
    marketing = ("select c.name, c.channel, c.status, c.starts_on, c.actual_cost, s.name as segment, t.name as template,"
                 " (select count(*) from public.campaign_posts p where p.campaign_id = c.id) as posts,"
                 " (select count(*) from public.deals d where d.campaign_id = c.id) as deals,"
                 " (select count(*) from public.orders o where o.campaign_id = c.id) as orders"
                 " from public.campaigns c left join public.segments s on s.id = c.segment_id"
                 " left join public.email_templates t on t.id = c.template_id where c.workspace_id = %(ws)s"
                 " order by c.starts_on, c.name")
    assert _rows(admin_conn, ws_a, marketing) == _rows(admin_conn, ws_b, marketing)
    members = ("select c.name, k.email, k.full_name, m.status, m.excluded_reason, m.sent_at, m.clicked_at"
               " from public.campaign_members m join public.campaigns c on c.id = m.campaign_id"
               " join public.contacts k on k.id = m.contact_id where m.workspace_id = %(ws)s"
               " order by c.name, k.email, k.full_name")
    assert _rows(admin_conn, ws_a, members) == _rows(admin_conn, ws_b, members)



def test_tickets_span_18_months_on_every_channel(loaded, admin_conn):
    owner, ws, counts, _ = loaded
    rows = _rows(admin_conn, ws, "select * from public.tickets where workspace_id = %(ws)s order by number")
    assert [r["number"] for r in rows] == list(range(1001, 1001 + counts["tickets"]))  # gapless
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)  # numbered oldest first
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=timezone.utc)
    assert midnight - timedelta(days=549) <= rows[0]["created_at"] <= midnight - timedelta(days=500)
    assert midnight - timedelta(days=3) <= rows[-1]["created_at"] < midnight
    assert {r["channel"] for r in rows} == set(tickets.CHANNELS)
    assert {r["priority"] for r in rows} == set(tickets.PRIORITIES)
    assert {r["status"] for r in rows} == set(tickets.STATUSES)
    assert len({r["category"] for r in rows}) >= 6 and any(r["category"] is None for r in rows)
    old = [r for r in rows if r["created_at"] < midnight - timedelta(days=30)]
    assert sum(r["status"] in ("solved", "closed") for r in old) >= 0.95 * len(old)
    recent = [r for r in rows if r["created_at"] >= midnight - timedelta(days=7)]
    assert sum(r["status"] in ("new", "open", "pending_customer", "on_hold") for r in recent) >= 5
    for r in rows:
        assert (r["solved_at"] is not None) == (r["status"] in ("solved", "closed")), r["number"]
        assert (r["closed_at"] is not None) == (r["status"] == "closed"), r["number"]
        assert (r["paused_at"] is not None) == (r["status"] == "pending_customer"), r["number"]
        assert r["created_at"] <= (r["first_responded_at"] or r["created_at"]) <= midnight
        assert r["created_at"] <= (r["solved_at"] or r["created_at"]) <= (r["closed_at"] or midnight) <= midnight
        assert r["first_response_due_at"] and r["resolution_due_at"] > r["created_at"]  # the trigger's SLA
    assert any(r["reopen_count"] for r in rows) and all(r["status"] == "open" for r in rows if r["reopen_count"])
    # linked to demo contacts and their companies, assigned to members or nobody
    linked = _rows(admin_conn, ws, """
        select count(*) as n, count(k.id) as with_contact,
               count(*) filter (where t.company_id is distinct from k.company_id) as other_company,
               count(*) filter (where k.lead_at > t.created_at) as before_contact,
               count(*) filter (where t.assignee_id is not null and m.user_id is null) as stranger,
               count(*) filter (where t.assignee_id is null and t.status not in ('solved', 'closed')) as unassigned_open
          from public.tickets t left join public.contacts k on k.id = t.contact_id
          left join public.workspace_members m on m.workspace_id = t.workspace_id and m.user_id = t.assignee_id
         where t.workspace_id = %(ws)s""")[0]
    assert linked["with_contact"] >= 0.99 * linked["n"]
    assert linked["other_company"] == linked["before_contact"] == linked["stranger"] == 0
    assert linked["unassigned_open"] > 0
    on_timeline = _rows(admin_conn, ws, "select count(*) as n from public.customer_timeline"
                                        " where workspace_id = %(ws)s and kind = 'ticket'")[0]["n"]
    assert on_timeline == counts["tickets"]


def test_tickets_have_sla_breaches_and_ratings(loaded, db):
    owner, ws, counts, _ = loaded
    with db.as_user(owner.claims) as conn:
        rows = conn.execute(f"select {tickets.TICKET_COLUMNS}{tickets.TICKET_JOINS} where t.workspace_id = %s",
                            [ws]).fetchall()
    late_answer = sum(bool(r["first_response_breached"]) for r in rows)
    late_solution = sum(bool(r["resolution_breached"]) for r in rows)
    assert 0.02 * len(rows) < late_answer < 0.25 * len(rows)
    assert 0.02 * len(rows) < late_solution < 0.25 * len(rows)
    solved = [r for r in rows if r["status"] in ("solved", "closed")]
    assert all(r["csat"] is None for r in rows if r["status"] not in ("solved", "closed"))
    rated = [r for r in solved if r["csat"] is not None]
    assert 0.3 * len(solved) < len(rated) < 0.6 * len(solved)
    assert {r["csat"] for r in rated} == {1, 2, 3, 4, 5}
    assert any(r["csat_comment"] for r in rated) and all(r["csat"] for r in rows if r["csat_comment"])
    assert sum(r["csat"] for r in rated) / len(rated) > 3.5  # mostly happy customers


def test_tickets_have_their_conversation(loaded, admin_conn):
    owner, ws, counts, _ = loaded
    kinds = {(r["from_customer"], r["is_public"]): r["n"] for r in _rows(admin_conn, ws, """
        select from_customer, is_public, count(*) as n from public.ticket_comments
         where workspace_id = %(ws)s group by 1, 2""")}
    assert set(kinds) == {(False, True), (True, True), (False, False)}  # replies both ways, internal notes
    assert sum(kinds.values()) > counts["tickets"]
    checks = admin_conn.execute("""
        select count(*) filter (where t.first_responded_at is distinct from f.first_reply) as wrong_first_response,
               count(*) filter (where t.status = 'new' and f.first_reply is not null) as answered_new,
               (select count(*) from public.ticket_comments c join public.tickets x on x.id = c.ticket_id
                 where c.workspace_id = %(ws)s and (c.created_at < x.created_at or c.created_at > now())) as misdated,
               (select count(*) from public.ticket_comments c where c.workspace_id = %(ws)s
                 and not c.from_customer and c.author_id is distinct from %(owner)s) as other_authors
          from public.tickets t
          left join (select ticket_id, min(created_at) as first_reply from public.ticket_comments
                      where workspace_id = %(ws)s and is_public and not from_customer group by ticket_id) f
            on f.ticket_id = t.id
         where t.workspace_id = %(ws)s""", {"ws": ws, "owner": owner.id}).fetchone()
    assert checks == {"wrong_first_response": 0, "answered_new": 0, "misdated": 0, "other_authors": 0}
    bodies = [r["body"] for r in _rows(admin_conn, ws, "select body from public.ticket_comments"
                                                       " where workspace_id = %(ws)s")]
    assert not [b for b in bodies if "{" in b or "}" in b]  # every placeholder filled


def test_knowledge_base(loaded, db, admin_conn):
    owner, ws, counts, _ = loaded
    categories = knowledge.categories(db, owner.claims, ws)
    assert [c["name"] for c in categories] == list(demo_desk.KB_CATEGORIES)
    assert all(c["articles"] for c in categories)
    articles = knowledge.articles(db, owner.claims, ws)
    assert len(articles) == counts["kb_articles"]
    published = [a for a in articles if a["status"] == "published"]
    drafts = [a for a in articles if a["status"] == "draft"]
    assert len(published) >= 15 and 1 <= len(drafts) <= 4
    assert all(a["view_count"] > 0 for a in published) and all(a["view_count"] == 0 for a in drafts)
    assert all(a["created_at"] < datetime.now(timezone.utc) - timedelta(days=10) for a in articles)
    assert knowledge.search(db, owner.claims, ws, "refund")
    ticket = _rows(admin_conn, ws, "select subject, description from public.tickets where workspace_id = %(ws)s"
                                   " and category = 'Returns & refunds' order by number limit 1")[0]
    assert knowledge.suggest_for_ticket(db, owner.claims, ws, ticket["subject"], ticket["description"])


def test_service_analytics_and_queues_on_demo_data(loaded, db):
    owner, ws, counts, _ = loaded
    report = sa.report(db, owner.claims, ws, TODAY - timedelta(days=548), TODAY)
    assert report.tickets == counts["tickets"]
    assert {r["channel"] for r in report.by_channel} == set(tickets.CHANNELS)
    assert len(report.by_category) >= 6 and len(report.by_priority) == 4
    assert 60 <= report.first_response_sla.percent < 100 and 60 <= report.resolution_sla.percent < 100
    assert report.median_first_response_minutes and report.median_resolution_minutes
    assert report.csat_average and report.rated > 100
    assert len(report.backlog) > 50 and any(b["open"] for b in report.backlog)
    assert report.by_assignee and sum(r["tickets"] for r in report.by_assignee) == counts["tickets"]
    recent = sa.report(db, owner.claims, ws, TODAY - timedelta(days=30), TODAY - timedelta(days=1))
    assert 0 < recent.tickets < counts["tickets"]
    assert tickets.queue(db, owner.claims, ws, "open").rows
    assert tickets.queue(db, owner.claims, ws, "mine").rows
    assert tickets.queue(db, owner.claims, ws, "solved").rows


# -- front office ----------------------------------------------------------------------------------

MIDNIGHT = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=timezone.utc)


def test_products(loaded, admin_conn):
    owner, ws, _, _ = loaded
    rows = _rows(admin_conn, ws, "select * from public.products where workspace_id = %(ws)s order by sku")
    assert 60 <= len(rows) <= 120 and len(rows) == len(demo_shop.PRODUCTS)
    assert 6 <= len({r["category"] for r in rows}) <= 10
    assert all(r["price"] > 0 and r["currency"] == "EUR" and r["active"] for r in rows)
    costed = [r for r in rows if r["cost"] is not None]
    assert 0.8 * len(rows) <= len(costed) < len(rows)  # margins where the cost is known
    assert all(r["cost"] < r["price"] for r in costed)


def test_orders_span_24_months_with_every_status(loaded, admin_conn):
    owner, ws, counts, _ = loaded
    rows = _rows(admin_conn, ws, """
        select o.*, coalesce(co.created_at, k.created_at) as customer_created, k.company_id as contact_company,
               k.created_at as contact_created
          from public.orders o left join public.companies co on co.id = o.company_id
          left join public.contacts k on k.id = o.contact_id
         where o.workspace_id = %(ws)s order by o.number""")
    assert len(rows) == counts["orders"]
    assert [r["number"] for r in rows] == [f"D-{100001 + i}" for i in range(len(rows))]  # numbered by date
    assert [r["ordered_at"] for r in rows] == sorted(r["ordered_at"] for r in rows)
    assert MIDNIGHT - timedelta(days=731) <= rows[0]["ordered_at"] <= MIDNIGHT - timedelta(days=700)
    assert MIDNIGHT - timedelta(days=3) <= rows[-1]["ordered_at"] < MIDNIGHT
    months = {(r["ordered_at"].year, r["ordered_at"].month) for r in rows}
    assert len(months) == 25  # every month of the 24, the first and the current one partly
    by_status = {s: [r for r in rows if r["status"] == s] for s in orders.STATUSES}
    assert all(by_status.values()), {s: len(v) for s, v in by_status.items()}
    assert 0.01 * len(rows) < len(by_status["cancelled"]) < 0.06 * len(rows)
    assert len(by_status["paid"]) > 0.8 * len(rows)
    for r in rows:
        sent = r["status"] in ("shipped", "invoiced", "paid")
        assert (r["shipped_at"] is not None) == sent, r["number"]
        assert (r["paid_at"] is not None) == (r["status"] == "paid"), r["number"]
        assert (r["cancelled_at"] is not None) == (r["status"] == "cancelled"), r["number"]
        assert r["ordered_at"] <= (r["shipped_at"] or r["ordered_at"]) <= (r["paid_at"] or MIDNIGHT) <= MIDNIGHT
        assert r["ordered_at"] < (r["cancelled_at"] or MIDNIGHT) <= MIDNIGHT
        assert r["total_amount"] > 0 and r["line_count"] >= 1
        # the customer existed when ordering; a company's order is placed by one of its people
        assert r["customer_id"] is None or r["customer_created"] <= r["ordered_at"], r["number"]
        if r["company_id"] and r["contact_id"]:
            assert r["contact_company"] == r["company_id"] and r["contact_created"] <= r["ordered_at"]
    anonymous = [r for r in rows if r["customer_id"] is None]
    assert 0.03 * len(rows) < len(anonymous) < 0.08 * len(rows)
    assert any(r["company_id"] for r in rows) and any(r["contact_id"] and not r["company_id"] for r in rows)
    currencies = {c: sum(r["currency"] == c for r in rows) for c in {r["currency"] for r in rows}}
    assert len(currencies) >= 2 and currencies["EUR"] > 0.8 * len(rows)  # one dominant currency
    assert len({r["country"] for r in rows}) >= 10
    repeat = _rows(admin_conn, ws, """
        select count(*) filter (where n >= 2) as repeat, count(*) filter (where n >= 10) as regular, count(*) as buyers
          from (select customer_id, count(*) as n from public.orders where workspace_id = %(ws)s
                  and customer_id is not null and status <> 'cancelled' group by 1) c""")[0]
    assert repeat["buyers"] > 300 and repeat["repeat"] > 0.5 * repeat["buyers"] and repeat["regular"] > 50


def test_order_lines_and_returns(loaded, admin_conn):
    owner, ws, counts, _ = loaded
    totals = _rows(admin_conn, ws, """
        select count(*) filter (where o.total_amount <> l.total or o.line_count <> l.n) as wrong_totals,
               sum(l.n) as lines, count(*) filter (where l.returned > 0) as with_return,
               count(*) filter (where l.returned > 0 and o.shipped_at is null) as returned_unshipped
          from public.orders o
          join (select order_id, sum(amount) as total, count(*) as n, count(*) filter (where quantity < 0) as returned
                  from public.order_lines where workspace_id = %(ws)s group by order_id) l on l.order_id = o.id
         where o.workspace_id = %(ws)s""")[0]
    assert totals["wrong_totals"] == 0 and totals["returned_unshipped"] == 0
    assert 2 * counts["orders"] <= totals["lines"] <= 20000
    assert 0.02 * counts["orders"] < totals["with_return"] < 0.08 * counts["orders"]
    returns = _rows(admin_conn, ws, """
        select r.description, r.unit_price = s.unit_price as same_price, -r.quantity <= s.quantity as not_more
          from public.order_lines r join public.order_lines s
            on s.order_id = r.order_id and s.product_id = r.product_id and s.quantity > 0
         where r.workspace_id = %(ws)s and r.quantity < 0""")
    assert returns and all(r["same_price"] and r["not_more"] and "returned" in r["description"] for r in returns)
    discounted = _rows(admin_conn, ws, "select count(*) as n from public.order_lines where workspace_id = %(ws)s"
                                       " and discount > 0")[0]["n"]
    assert discounted > 0


def test_invoices_numbered_in_issue_order(loaded, admin_conn):
    owner, ws, _, _ = loaded
    rows = _rows(admin_conn, ws, """
        select i.*, o.status as order_status, o.total_amount, o.currency as order_currency, o.shipped_at, o.paid_at,
               o.contact_id as order_contact, o.company_id as order_company
          from public.invoices i join public.orders o on o.id = i.order_id
         where i.workspace_id = %(ws)s order by i.number""")
    assert [r["number"] for r in rows] == list(range(1001, 1001 + len(rows)))  # gapless
    assert [r["issued_on"] for r in rows] == sorted(r["issued_on"] for r in rows)  # numbers follow dates
    invoiced = _rows(admin_conn, ws, "select count(*) as n from public.orders where workspace_id = %(ws)s"
                                     " and status in ('invoiced', 'paid')")[0]["n"]
    assert len(rows) == invoiced == len({r["order_id"] for r in rows})  # one per invoiced or paid order
    for r in rows:
        assert r["subtotal"] == r["total_amount"] and r["currency"] == r["order_currency"], r["number"]
        assert r["tax_amount"] == (r["subtotal"] * r["tax_rate"] / 100).quantize(Decimal("0.01"))
        assert r["total"] == r["subtotal"] + r["tax_amount"]
        assert (r["contact_id"], r["company_id"]) == (r["order_contact"], r["order_company"])
        assert {"issued": "invoiced", "paid": "paid"}[r["status"]] == r["order_status"], r["number"]
        assert (r["paid_on"] is not None) == (r["status"] == "paid")
        assert r["shipped_at"].date() <= r["issued_on"] <= r["due_on"] and r["issued_on"] < TODAY
        assert r["paid_on"] is None or (r["issued_on"] <= r["paid_on"] < TODAY and r["paid_on"] == r["paid_at"].date())
    assert {r["tax_rate"] for r in rows} >= {Decimal(20), Decimal(19), Decimal(0)}
    unpaid = [r for r in rows if r["status"] == "issued"]
    overdue = [r for r in unpaid if r["due_on"] < TODAY]
    assert 3 <= len(overdue) < len(unpaid) < 0.1 * len(rows)
    assert any(r["paid_on"] and r["paid_on"] > r["due_on"] for r in rows)  # some pay late
    on_timeline = _rows(admin_conn, ws, """
        select count(*) filter (where kind = 'invoice') as invoices, count(*) filter (where kind = 'order') as orders,
               max(happened_at) as latest
          from public.customer_timeline where workspace_id = %(ws)s and kind in ('order', 'invoice')""")[0]
    assert on_timeline["invoices"] == len(rows) and on_timeline["orders"] > 0 and on_timeline["latest"] < MIDNIGHT


def test_analytics_have_data(loaded, db):
    """Every analytics page has something to show on a demo workspace."""
    from lib.analytics import basket, common, sales
    from lib.analytics import customers as people

    owner, ws, _, _ = loaded
    found = common.currencies(db, owner.claims, ws)
    assert found[0] == "EUR" and "GBP" in found
    first, last = common.sales_span(db, owner.claims, ws)
    assert TODAY - timedelta(days=731) <= first <= TODAY - timedelta(days=700) and last >= TODAY - timedelta(days=3)
    everything = common.Period(first, last)
    report = sales.sales_report(db, owner.claims, ws, "EUR", everything)
    assert len([m for m in report.months if m["revenue"]]) >= 24
    assert len(report.countries) >= 8 and len(report.categories) == len(demo_shop.CATEGORIES)
    assert report.margin["margin"] > 0 and report.margin["costed_revenue"] < report.margin["revenue"]
    snapshot = last + timedelta(days=1)
    segments = people.rfm_segments(db, owner.claims, ws, "EUR", snapshot)
    filled = [r["segment"] for r in segments.rows if r["customers"]]
    assert len(filled) >= 5 and {"Champions", "At risk", "Lost"} <= set(filled), filled
    cohorts = people.cohorts(db, owner.claims, ws, "EUR", first, last)
    months, width, cells = cohorts.matrix()
    assert len(months) >= 20 and width >= 24 and cells
    assert cohorts.average_retention(1) > cohorts.average_retention(12) > 0  # retention decays
    clv = people.lifetime_value(db, owner.claims, ws, "EUR", snapshot)
    assert clv.customers > 300 and clv.median and clv.has_costs and clv.top
    churn = people.churn_risk(db, owner.claims, ws, "EUR", snapshot)
    assert churn.at_risk and len(churn.at_risk) < churn.assessed  # some regulars stopped coming
    pairs = basket.rules(db, owner.claims, ws, everything, min_support=0.01)
    together = {(r["antecedent"], r["consequent"]) for r in pairs.rules}
    assert len(together) >= 6  # at least 3 pairs, each both ways
    assert {("Cast-iron pan", "Pan scraper"), ("Label printer", "Label tape")} <= together
    assert all(r["lift"] > 1 for r in pairs.rules if (r["antecedent"], r["consequent"]) in
               {(a, b) for a, partners in demo_shop.BUNDLES.items() for b, _ in partners})


def test_marketing(loaded, db, admin_conn):
    """Segments, templates and a year of campaigns with results; no email left to send."""
    from lib import campaign_results, campaigns, demo_marketing, segments

    owner, ws, counts, _ = loaded
    assert counts["campaigns"] == len(demo_marketing.CAMPAIGNS)
    assert STEP_SECONDS["Segments, email templates and campaigns"] < 1.0, STEP_SECONDS
    rows = campaign_results.comparison(db, owner.claims, ws)
    assert {r["channel"] for r in rows} == set(campaigns.CHANNELS) - {"other"}
    assert {r["status"] for r in rows} == {"completed", "running", "draft"}
    paid = [r for r in rows if r["actual_cost"]]
    assert len(paid) == 5 and sum(1 for r in paid if r["revenue"] > 0) >= 4, [(r["name"], r["revenue"]) for r in rows]
    assert all(r["roi"] is not None for r in paid) and any(r["leads"] for r in paid)
    assert any(r["roi"] > 0 for r in paid), [(r["name"], r["roi"]) for r in paid]
    statuses = {r["status"] for r in _rows(admin_conn, ws, "select distinct status from public.campaign_members"
                                           " where workspace_id = %(ws)s")}
    assert {"sent", "opened_link", "converted", "unsubscribed", "excluded"} <= statuses
    mail = _rows(admin_conn, ws, """
        select (select count(*) from public.outbox where workspace_id = %(ws)s) as emails,
               (select count(*) from public.outbox where workspace_id = %(ws)s and status <> 'sent') as unsent,
               (select count(*) from public.campaign_members where workspace_id = %(ws)s and sent_at is not null) as sent,
               (select count(*) from public.email_events where workspace_id = %(ws)s and kind = 'click') as clicks,
               (select count(*) from public.customer_timeline where workspace_id = %(ws)s and kind = 'email') as timeline,
               (select bool_and(not k.consent and k.consent_source = 'unsubscribe link')
                  from public.email_events e join public.contacts k on k.id = e.contact_id
                 where e.workspace_id = %(ws)s and e.kind = 'unsubscribe') as withdrawn""")[0]
    assert mail["emails"] == mail["sent"] == mail["timeline"] > 100 and mail["unsent"] == 0
    assert mail["clicks"] > 10 and mail["withdrawn"]
    saved = {s["kind"]: s for s in segments.list_segments(db, owner.claims, ws)}
    assert set(saved) >= {"static", "filter"}
    for segment in saved.values():
        assert segments.count(db, owner.claims, ws, segment["id"]) > 20
    draft = next(r for r in rows if r["status"] == "draft")
    dry = campaigns.audience(db, owner.claims, ws, campaigns.get(db, owner.claims, ws, draft["id"])["segment_id"])
    assert dry["targeted"] > 20 and dry["excluded"].get("unsubscribed", 0) >= 0
    plan = campaigns.calendar(db, owner.claims, ws, TODAY - timedelta(days=365), TODAY + timedelta(days=30))
    assert len(plan["campaigns"]) == len(rows) and len(plan["posts"]) >= 10


def test_refuses_a_workspace_with_customers(loaded, factory, db):
    owner, ws, _, _ = loaded
    with pytest.raises(UserError, match="already has customers"):
        demo.load_demo(db, owner.claims, ws)
    other, other_ws = factory.owner("Has one contact")
    customers.create(db, other.claims, other_ws, customers.CONTACT, {"first_name": "Only", "last_name": "One"})
    with pytest.raises(UserError, match="already has customers"):
        demo.load_demo(db, other.claims, other_ws)
    assert demo.has_customers(db, other.claims, other_ws)


def test_only_owners_and_admins_load(factory, db):
    owner, ws = factory.owner("Agents cannot")
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError, match="owners and admins"):
        demo.load_demo(db, agent.claims, ws)
    assert not demo.has_customers(db, owner.claims, ws)


def test_rows_stay_in_their_workspace(loaded, factory, db):
    owner, ws, _, _ = loaded
    outsider, outsider_ws = factory.owner("Outsider")
    for table in ("companies", "contacts", "activities", "tasks", "deals", "custom_field_definitions", "tickets",
                  "ticket_comments", "kb_categories", "kb_articles", "products", "orders", "order_lines", "invoices",
                  "segments", "segment_members", "email_templates", "campaigns", "campaign_members",
                  "campaign_posts", "outbox", "email_events"):
        with db.as_user(outsider.claims) as conn:
            n = conn.execute(f"select count(*) as n from public.{table} where workspace_id = %s", [ws]).fetchone()["n"]
        assert n == 0, table
    assert not demo.has_customers(db, outsider.claims, outsider_ws)
    assert demo.has_customers(db, owner.claims, ws)


def test_steps_are_extensible(factory, db, monkeypatch):
    owner, ws = factory.owner("Extended")
    seen = {}

    def extra_step(d: demo.Demo) -> int:
        seen["contacts"] = len(d.contacts)
        return 0

    monkeypatch.setattr(demo, "STEPS", demo.STEPS + [demo.Step("extra", "Extra", extra_step)])
    monkeypatch.setattr(demo, "N_CONTACTS", 50)
    monkeypatch.setattr(demo, "N_COMPANIES", 10)
    progress = []
    counts = demo.load_demo(db, owner.claims, ws, progress=lambda f, text: progress.append((f, text)))
    assert counts["extra"] == 0 and seen["contacts"] == 50 == counts["contacts"]
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_home_button_loads_demo_data(monkeypatch):
    from tests.test_app_flows import fresh_app, sign_up, texts
    from tests.conftest import unique_email

    monkeypatch.setattr(demo, "N_CONTACTS", 60)
    monkeypatch.setattr(demo, "N_COMPANIES", 12)
    at = sign_up(fresh_app(), unique_email("demo"))
    assert "No customers yet" in texts(at)
    at = at.button(key="load_demo").click().run()
    assert not at.exception
    assert "Demo data loaded: 12 companies, 60 contacts." in [t.value for t in at.toast]
    assert "No customers yet" not in texts(at)
    assert not [b for b in at.button if b.key == "load_demo"]
