"""Fill one workspace with at least one row in every table of schema `public`.

`tests/test_security_catalog.py` builds two workspaces A and B, calls `populate_workspace` on B
and then checks, table by table, that A's members can neither see nor change B's rows. It
FAILS for any public table in which B has no row, with a message pointing here: an empty table
would make the isolation checks pass without testing anything.

So: every issue that adds a table to `public` extends this function, so that the new table
gets at least one row belonging to the workspace, written the way the app writes it (through
the lib/ functions, or as plain SQL inside `db.as_user(owner.claims)` so row-level security and
the triggers run as they do in the app). Keep it cheap: no extra sign-ups (bcrypt), few round
trips.

Tables covered today and where their rows come from:
    workspaces         the owner's sign-up (`Factory.owner`), renamed here (an update too)
    workspace_members  the owner's membership, made by the sign-up
    invitations        one open, email-bound invitation made here with `workspaces.invite`
    profiles           the owner's profile, made by the sign-up (trigger on auth.users)
    custom_field_definitions  one select field, `custom_fields.define`
    companies, contacts       one each through `customers.create` (contact at the company)
    deals                     a first deal through `customers.convert_lead`
    pipelines, stages, lost_reasons   the default ones every new workspace gets (trigger)
    deal_stage_history        the first deal's entry into its stage (trigger)
    sla_policies              the defaults every new workspace gets (trigger)
    service_calendars, business_hours   the default UTC calendar, Mon–Fri 09:00–17:00 (trigger)
    holidays                  one day off added with `sla.add_holiday`
    tickets, ticket_comments, ticket_attachments   one ticket with a reply and a text attachment
    canned_responses   one reply template with a merge field (`tickets.create_canned`)
    portal_users       the contact, invited with `portal.invite`, signs up through the link
    products, orders, order_lines, invoices   one product sold once to the contact, invoiced
    segment_members, email_templates, campaigns, campaign_members, campaign_posts, outbox,
    email_events       a static list, a template, a campaign to the list, a post, an email, a click
    segments           the RFM segment "Lost" saved with `segments.save_rfm`
    activities, tasks         one call logged and one task created through `lib.activities`
    duplicate_dismissals      a look-alike contact dismissed with `merge.dismiss`
    audit_log          written by the audit triggers for all of the above
"""

from __future__ import annotations

import uuid

from lib import activities, custom_fields, customers, merge, tickets, workspaces
from lib.auth.adapters import AuthUser
from lib.db import Database


def populate_workspace(db: Database, owner: AuthUser, workspace_id: str) -> None:
    """Make sure every current public table holds at least one row of `workspace_id`.

    `owner` must own `workspace_id` (e.g. from `Factory.owner()`); everything runs as them.
    """
    # workspaces + workspace_members + profiles exist since the sign-up; an update on the
    # workspace adds a bumped version and an 'update' audit row.
    with db.as_user(owner.claims) as conn:
        version = conn.execute(
            "select version from public.workspaces where id = %s", [workspace_id]
        ).fetchone()["version"]
    workspaces.rename(db, owner.claims, workspace_id, f"Populated {workspace_id[:8]}", version)

    # invitations (and their audit rows): one open invitation bound to an email address.
    workspaces.invite(
        db, owner.claims, workspace_id, "agent", email=f"invitee-{uuid.uuid4().hex[:12]}@example.com"
    )

    # customers: a custom field, a company, a contact there (with a custom value), a first
    # deal through lead conversion, an activity and a task.
    custom_fields.define(db, owner.claims, workspace_id, "contact", "Plan", "select", ["Basic", "Pro"])
    company_id = customers.create(db, owner.claims, workspace_id, customers.COMPANY,
                                  {"name": "Populated Co", "country": "FR"})
    contact_id = customers.create(db, owner.claims, workspace_id, customers.CONTACT, {
        "first_name": "Pop", "last_name": "Ulated", "email": f"pop-{uuid.uuid4().hex[:8]}@example.com",
        "company_id": company_id, "custom": {"plan": "Pro"}})
    customers.convert_lead(db, owner.claims, workspace_id, contact_id, 1, deal_title="First order", deal_value=100)
    activities.log_activity(db, owner.claims, workspace_id, customers.CONTACT, contact_id, "call", "Intro call")
    activities.create_task(db, owner.claims, workspace_id, "Send the quote", kind=customers.CONTACT,
                           record_id=contact_id, due_date="2030-01-01")

    # Add new tables below, e.g.
    #   with db.as_user(owner.claims) as conn:
    #       conn.execute("insert into public.contacts (workspace_id, name) values (%s, %s)",
    #                    [workspace_id, "Populated contact"])

    # duplicate_dismissals: a second "Pop Ulated" at the same company, marked "not a duplicate".
    twin_id = customers.create(db, owner.claims, workspace_id, customers.CONTACT,
                               {"first_name": "Pop", "last_name": "Ulated", "company_id": company_id})
    merge.dismiss(db, owner.claims, workspace_id, customers.CONTACT, contact_id, twin_id)

    # tickets: one for the contact, with a public reply and a small text attachment.
    ticket = tickets.create(db, owner.claims, workspace_id, "Populated ticket", "Help", contact_id=contact_id)
    tickets.reply(db, owner.claims, workspace_id, ticket["id"], "On it.")
    tickets.attach(db, owner.claims, workspace_id, ticket["id"], "note.txt", "text/plain", b"hello")

    # holidays: one day off (service_calendars and business_hours come from the workspace trigger).
    from lib import sla

    sla.add_holiday(db, owner.claims, workspace_id, "2030-12-25", "Christmas Day")

    # kb_categories, kb_articles: one category with a published article, viewed once.
    from lib import knowledge

    kb_category = knowledge.create_category(db, owner.claims, workspace_id, "Getting started")
    kb_article = knowledge.create(db, owner.claims, workspace_id, "Reset your password", "Open **Settings**.",
                                  category_id=kb_category, status="published")
    knowledge.count_view(db, owner.claims, kb_article)

    # canned_responses: one reply template with a merge field.
    tickets.create_canned(db, owner.claims, workspace_id, "Thanks", "Hello {{contact.first_name}}, thanks!")

    # portal_users: the contact, invited to the customer portal, signs up through the link.
    from lib import portal
    from lib.auth.adapters import LocalAuth
    from lib.auth.service import AuthService

    token = portal.invite(db, owner.claims, workspace_id, contact_id)
    email = customers.get(db, owner.claims, workspace_id, customers.CONTACT, contact_id)["email"]
    AuthService(db, LocalAuth(db)).sign_up(email, "portal pass 42", "Pop Ulated", invite_token=token)

    # products, orders, order_lines, invoices: a product, an order of it for the contact, invoiced.
    with db.as_user(owner.claims) as conn:
        product_id = conn.execute(
            "insert into public.products (workspace_id, sku, name, price, cost) values (%s, 'SKU-1', 'Widget', 10, 4)"
            " returning id", [workspace_id]).fetchone()["id"]
        order_id = conn.execute(
            "insert into public.orders (workspace_id, contact_id, company_id, status) values (%s, %s, %s, 'confirmed')"
            " returning id", [workspace_id, contact_id, company_id]).fetchone()["id"]
        conn.execute("insert into public.order_lines (workspace_id, order_id, product_id, quantity, unit_price)"
                     " values (%s, %s, %s, 3, 10)", [workspace_id, order_id, product_id])
        conn.execute("insert into public.invoices (workspace_id, order_id, currency, subtotal, tax_amount, total)"
                     " values (%s, %s, 'EUR', 30, 6, 36)", [workspace_id, order_id])

    # segments: the RFM segment of that sale's customer, saved as of the latest data.
    from lib import segments

    segments.save_rfm(db, owner.claims, workspace_id, "Lapsed", "Lost", "EUR", None)  # one customer: R = F = 1

    # segment_members, email_templates, campaigns, campaign_members, campaign_posts, outbox,
    # email_events: a static list with the contact, a template, an email campaign to that list
    # with the contact as member, a planned social post, one queued email and a click on it.
    with db.as_user(owner.claims) as conn:
        segment = conn.execute(
            "insert into public.segments (workspace_id, name, kind, definition) values (%s, 'VIPs', 'static', '{}')"
            " returning id", [workspace_id]).fetchone()["id"]
        conn.execute("insert into public.segment_members (workspace_id, segment_id, contact_id) values (%s, %s, %s)",
                     [workspace_id, segment, contact_id])
        template = conn.execute(
            "insert into public.email_templates (workspace_id, name, subject, body)"
            " values (%s, 'Welcome', 'Hello {{ contact.first_name }}', 'Hi {{ contact.first_name }}!') returning id",
            [workspace_id]).fetchone()["id"]
        campaign = conn.execute(
            "insert into public.campaigns (workspace_id, name, segment_id, template_id, budget)"
            " values (%s, 'Spring', %s, %s, 100) returning id", [workspace_id, segment, template]).fetchone()["id"]
        conn.execute("insert into public.campaign_members (workspace_id, campaign_id, contact_id) values (%s, %s, %s)",
                     [workspace_id, campaign, contact_id])
        conn.execute("insert into public.campaign_posts (workspace_id, campaign_id, channel, planned_at, title)"
                     " values (%s, %s, 'social', now(), 'Spring post')", [workspace_id, campaign])
        outbox = conn.execute(
            "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, message_id)"
            " values (%s, %s, %s, %s, 'Hello', 'Hi', %s) returning id",
            [workspace_id, campaign, contact_id, email, f"<{uuid.uuid4()}@relata.test>"]).fetchone()["id"]
        conn.execute("insert into public.email_events (workspace_id, outbox_id, campaign_id, contact_id, kind, url)"
                     " values (%s, %s, %s, %s, 'click', 'https://example.com')",
                     [workspace_id, outbox, campaign, contact_id])
