"""The demo's marketing (the last step of `lib.demo`): email templates, a static list of VIP
customers and a live filter of lapsed customers with consent, and a year of campaigns on every
channel with their costs: two past newsletters (members sent, clicked, converted, unsubscribed,
the emails on the customers' timelines), a trade fair, a LinkedIn series still running, search
ads, and a draft newsletter ready to try the dry run and scheduling on. Deals and orders are
credited set-based, from the real demo data: a newsletter gets its members' won deals and sales
of the following weeks; the fair, LinkedIn and the ads get the deals (and the ads the private
sales) of their source in their weeks. Nothing is queued: no demo email can ever be sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lib import customer_search, mailer, segments, templates

if TYPE_CHECKING:
    from lib.demo import Demo

TEMPLATES = {
    "newsletter": ("Monthly newsletter", "{{ workspace.name }}: what's new this month",
                   "Hello {{ contact.first_name }},\n\nthis month at {{ workspace.name }}: new lamps for darker "
                   "evenings, our best-selling coffee back in stock, and free delivery above 50 EUR.\n\n"
                   "See everything at https://shop.example.com/new\n\nWarm regards,\nThe {{ workspace.name }} team\n\n"
                   "Not interested any more? {{ unsubscribe_url }}"),
    "sale": ("Spring sale", "{{ contact.first_name }}, 20 % off for our best customers",
             "Hello {{ contact.first_name }},\n\n{% if contact.company %}as {{ contact.company }} is one of our best "
             "customers{% else %}as one of our best customers{% endif %}, you get 20 % off everything until Sunday "
             "with the code SPRING20.\n\nShop now: https://shop.example.com/sale\n\n{{ workspace.name }}"),
    "winback": ("We miss you", "We miss you, {{ contact.first_name }}",
                "Hello {{ contact.first_name }},\n\nit has been a while! Here is 15 % off your next order with the "
                "code WELCOMEBACK.\n\nhttps://shop.example.com\n\n{{ workspace.name }}\n\n"
                "Unsubscribe: {{ unsubscribe_url }}"),
}
# key, name, channel, days ago it started, length in days, budget, actual cost, template, audience, source
CAMPAIGNS = (
    ("spring", "Spring sale for VIPs", "email", 230, 7, 1500, 1350, "sale", "vip", None),
    ("fair", "Home & Office trade fair", "event", 170, 3, 2500, 2870, None, None, "Trade fair"),
    ("ads", "Search ads: lighting", "ads", 140, 60, 5000, 4800, None, None, "Google Ads"),
    ("winback", "Win back lapsed customers", "email", 75, 14, 800, 640, "winback", "lapsed", None),
    ("linkedin", "LinkedIn: office makeovers", "social", 35, 56, 800, 420, None, None, "LinkedIn"),
    ("autumn", "Autumn newsletter", "email", -10, 1, 250, None, "newsletter", "lapsed", None),
)
POSTS = {
    "fair": (("event", 0, "Booth set-up, hall 3"), ("event", 1, "Talk: the ergonomic home office"),
             ("event", 5, "Follow-up calls with the leads")),
    "ads": (("ads", 0, "Ads live: desk and floor lamps"), ("ads", 30, "Budget review, keywords trimmed")),
    "linkedin": (("social", 0, "Before/after: a 12-desk office"), ("social", 7, "Customer story: Café Lumière"),
                 ("social", 14, "Poll: standing or sitting?"), ("social", 21, "Behind the scenes at the workshop"),
                 ("social", 35, "Autumn collection teaser"), ("social", 49, "Year-end offers for teams")),
}
ATTRIBUTION_DAYS = 45  # deals and sales this long after a campaign starts are credited to it
SALE = "o.status in ('confirmed', 'shipped', 'invoiced', 'paid')"


def _audiences(demo: Demo, rng) -> dict[str, tuple[dict, list[dict]]]:
    """The two saved segments: ({segment row}, [member contacts])."""
    ws = demo.workspace_id
    customers = [c for c in demo.contacts if c["stage"] == "customer"]
    vips = rng.sample(customers, min(160, len(customers)))
    lapsed_filter = customer_search.Filters(stages=("churned",), consent=True)
    lapsed = [c for c in demo.contacts if c["stage"] == "churned" and c["consent"]]
    return {
        "vip": ({"id": str(uuid.uuid4()), "workspace_id": ws, "name": "VIP customers", "kind": "static",
                 "definition": {"frozen_from": None}, "member_count": len(vips)}, vips),
        "lapsed": ({"id": str(uuid.uuid4()), "workspace_id": ws, "name": "Lapsed customers with consent",
                    "kind": "filter", "definition": segments.to_definition(lapsed_filter),
                    "member_count": len(lapsed)}, lapsed),
    }


def _reason(contact: dict, unsubscribed: set[str]) -> str | None:
    if not contact["email"]:
        return "no email"
    if contact["id"] in unsubscribed:
        return "unsubscribed"
    return None if contact["consent"] else "no consent"


def _credited(demo: Demo, targeted: list[str], start: datetime) -> tuple[list[dict], list[dict]]:
    """Won deals and sales of `targeted` contacts in the weeks after `start` (in a stable order)."""
    window = {"ws": demo.workspace_id, "ids": targeted, "start": start,
              "end": start + timedelta(days=ATTRIBUTION_DAYS)}
    deals = demo.conn.execute(
        "select id::text as id, contact_id::text as contact_id, coalesce(closed_at, created_at) as at"
        " from public.deals where workspace_id = %(ws)s and status = 'won' and contact_id = any(%(ids)s::uuid[])"
        " and coalesce(closed_at, created_at) >= %(start)s and coalesce(closed_at, created_at) < %(end)s"
        " order by 3, title", window).fetchall()
    sales = demo.conn.execute(
        f"select o.id::text as id, o.contact_id::text as contact_id, o.ordered_at as at from public.orders o"
        f" where o.workspace_id = %(ws)s and {SALE} and o.contact_id = any(%(ids)s::uuid[])"
        f" and o.ordered_at >= %(start)s and o.ordered_at < %(end)s order by o.number", window).fetchall()
    return deals, sales


def make_campaigns(demo: Demo) -> int:
    """Templates, segments, campaigns, members, sent emails, clicks and unsubscribes, posts, credited
    deals and orders; returns the number of campaigns."""
    from lib.demo import insert_rows

    rng, ws, conn = demo.rng("campaigns"), demo.workspace_id, demo.conn
    sender = templates.workspace_name(conn, ws)
    companies = {c["id"]: c["name"] for c in demo.companies}
    tpl_rows = {key: {"id": str(uuid.uuid4()), "workspace_id": ws, "name": name, "subject": subject, "body": body,
                      "created_at": demo.now - timedelta(days=260)} for key, (name, subject, body) in TEMPLATES.items()}
    audiences = _audiences(demo, rng)
    campaigns, members, outbox, events, posts = [], [], [], [], []
    credit = {"deals": ([], []), "orders": ([], [])}  # record ids, campaign ids
    unsubscribed: set[str] = set()
    for key, name, channel, days_ago, length, budget, cost, template, audience, source in CAMPAIGNS:
        start = (demo.now - timedelta(days=days_ago)).replace(hour=9, minute=0)
        future = days_ago < 0
        row = {"id": str(uuid.uuid4()), "workspace_id": ws, "name": name, "channel": channel,
               "status": "draft" if future else "running" if days_ago < length else "completed",
               "starts_on": start.date(), "ends_on": (start + timedelta(days=length - 1)).date(), "budget": budget,
               "actual_cost": cost, "currency": "EUR", "template_id": tpl_rows[template]["id"] if template else None,
               "segment_id": audiences[audience][0]["id"] if audience else None,
               "scheduled_at": None if future or channel != "email" else start,
               "launched_at": None if future or channel != "email" else start,
               "created_at": start - timedelta(days=14)}
        campaigns.append(row)
        for post_channel, offset, title in POSTS.get(key, ()):
            at = start + timedelta(days=offset, hours=rng.randint(0, 6))
            posts.append({"id": str(uuid.uuid4()), "workspace_id": ws, "campaign_id": row["id"], "channel": post_channel,
                          "planned_at": at, "title": title, "done": at < demo.now,
                          "content": f"{title}. #homeoffice #design",
                          "created_at": start - timedelta(days=10)})
        if future or channel != "email":
            continue
        compiled = templates.compile_template(tpl_rows[template]["subject"], tpl_rows[template]["body"])
        people = audiences[audience][1]
        reasons = {c["id"]: _reason(c, unsubscribed) for c in people}
        targeted = [c for c in people if reasons[c["id"]] is None]
        deals, sales = _credited(demo, [c["id"] for c in targeted], start)
        converted = {r["contact_id"]: r["at"] for r in deals + sales}
        for kind, found in (("deals", deals), ("orders", sales)):
            credit[kind][0].extend(r["id"] for r in found)
            credit[kind][1].extend(row["id"] for _ in found)
        for contact in people:
            reason = reasons[contact["id"]]
            sent = start + timedelta(minutes=rng.randint(0, 90))
            status = "excluded" if reason else "converted" if contact["id"] in converted else rng.choices(
                ("sent", "opened_link", "unsubscribed"), (70, 27, 3))[0]
            clicked = sent + timedelta(hours=rng.randint(1, 60)) if status in ("opened_link", "converted") else None
            members.append({"id": str(uuid.uuid4()), "workspace_id": ws, "campaign_id": row["id"],
                            "contact_id": contact["id"], "status": status, "excluded_reason": reason,
                            "sent_at": None if reason else sent, "clicked_at": clicked,
                            "converted_at": converted.get(contact["id"]), "created_at": start})
            if reason:
                continue
            email = compiled.render({**contact, "company": companies.get(contact["company_id"])}, sender,
                                    mailer.UNSUBSCRIBE_URL_MARK)
            outbox_id = str(uuid.uuid4())
            outbox.append({"id": outbox_id, "workspace_id": ws, "campaign_id": row["id"], "contact_id": contact["id"],
                           "to_email": contact["email"], "subject": email.subject, "body_text": email.text,
                           "body_html": email.html, "message_id": mailer.new_message_id(ws, "demo.invalid"),
                           "status": "sent", "send_after": start, "attempts": 1, "sent_at": sent, "created_at": start})
            if clicked:
                events.append({"id": str(uuid.uuid4()), "workspace_id": ws, "outbox_id": outbox_id,
                               "campaign_id": row["id"], "contact_id": contact["id"], "kind": "click",
                               "url": "https://shop.example.com", "occurred_at": clicked})
            if status == "unsubscribed":
                unsubscribed.add(contact["id"])
                events.append({"id": str(uuid.uuid4()), "workspace_id": ws, "outbox_id": outbox_id,
                               "campaign_id": row["id"], "contact_id": contact["id"], "kind": "unsubscribe",
                               "url": None, "occurred_at": sent + timedelta(hours=rng.randint(1, 48))})

    insert_rows(conn, "email_templates", {"id": "uuid", "workspace_id": "uuid", "name": "text", "subject": "text",
                                          "body": "text", "created_at": "timestamptz"}, list(tpl_rows.values()))
    insert_rows(conn, "segments", {"id": "uuid", "workspace_id": "uuid", "name": "text", "kind": "text",
                                   "definition": "jsonb", "member_count": "int"}, [a[0] for a in audiences.values()])
    vip_segment, vips = audiences["vip"]
    insert_rows(conn, "segment_members", {"workspace_id": "uuid", "segment_id": "uuid", "contact_id": "uuid"},
                [{"workspace_id": ws, "segment_id": vip_segment["id"], "contact_id": c["id"]} for c in vips])
    count = insert_rows(conn, "campaigns", {
        "id": "uuid", "workspace_id": "uuid", "name": "text", "channel": "text", "status": "text", "starts_on": "date",
        "ends_on": "date", "budget": "numeric", "actual_cost": "numeric", "currency": "text", "template_id": "uuid",
        "segment_id": "uuid", "scheduled_at": "timestamptz", "launched_at": "timestamptz",
        "created_at": "timestamptz"}, campaigns)
    insert_rows(conn, "campaign_members", {
        "id": "uuid", "workspace_id": "uuid", "campaign_id": "uuid", "contact_id": "uuid", "status": "text",
        "excluded_reason": "text", "sent_at": "timestamptz", "clicked_at": "timestamptz",
        "converted_at": "timestamptz", "created_at": "timestamptz"}, members)
    insert_rows(conn, "outbox", {
        "id": "uuid", "workspace_id": "uuid", "campaign_id": "uuid", "contact_id": "uuid", "to_email": "text",
        "subject": "text", "body_text": "text", "body_html": "text", "message_id": "text", "status": "text",
        "send_after": "timestamptz", "attempts": "int", "sent_at": "timestamptz", "created_at": "timestamptz"}, outbox)
    insert_rows(conn, "email_events", {
        "id": "uuid", "workspace_id": "uuid", "outbox_id": "uuid", "campaign_id": "uuid", "contact_id": "uuid",
        "kind": "text", "url": "text", "occurred_at": "timestamptz"}, events)
    insert_rows(conn, "campaign_posts", {
        "id": "uuid", "workspace_id": "uuid", "campaign_id": "uuid", "channel": "text", "planned_at": "timestamptz",
        "title": "text", "content": "text", "done": "boolean", "created_at": "timestamptz"}, posts)
    # Unsubscribed through a newsletter: consent withdrawn, as the public unsubscribe page does.
    conn.execute("update public.contacts set consent = false, consent_source = 'unsubscribe link'"
                 " where workspace_id = %s and id = any(%s::uuid[])", [ws, sorted(unsubscribed)])
    for table, (ids, campaign_ids) in credit.items():
        conn.execute(f"update public.{table} t set campaign_id = u.campaign_id"
                     " from unnest(%s::uuid[], %s::uuid[]) as u (id, campaign_id)"
                     " where t.workspace_id = %s and t.id = u.id and t.campaign_id is null",
                     [ids, campaign_ids, ws])
    # The fair, LinkedIn and the ads: deals of their source in their weeks; the ads also private sales.
    by_source = [(c["id"], c["starts_on"], source) for c, spec in zip(campaigns, CAMPAIGNS)
                 if (source := spec[9])]
    params = [[c for c, _, _ in by_source], [d for _, d, _ in by_source], [s for _, _, s in by_source], ws,
              ATTRIBUTION_DAYS]
    conn.execute(
        "update public.deals d set campaign_id = u.campaign_id"
        " from unnest(%s::uuid[], %s::date[], %s::text[]) as u (campaign_id, starts_on, source)"
        " where d.workspace_id = %s and d.campaign_id is null and d.source = u.source"
        " and d.created_at >= u.starts_on and d.created_at < u.starts_on + %s", params)
    conn.execute(
        "update public.orders o set campaign_id = u.campaign_id"
        " from unnest(%s::uuid[], %s::date[], %s::text[]) as u (campaign_id, starts_on, source),"
        " public.contacts k where o.workspace_id = %s and o.campaign_id is null and o.company_id is null"
        " and k.id = o.contact_id and k.source = u.source and u.source = 'Google Ads'"
        " and o.ordered_at >= u.starts_on and o.ordered_at < u.starts_on + %s", params)
    return count
