-- Email delivery on the customer's timeline.
--
-- The outbox worker (lib/mailer.py, as service_role) needs no SQL of its own: it claims rows with
-- one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) and records each outcome in its own
-- transaction (see docs/architecture.md, "Marketing: email delivery").
--
-- public.customer_timeline (security_invoker, so RLS applies) gains two branches: emails sent to
-- the contact (kind 'email': detail = the campaign's name or 'email', title = subject, at sent_at)
-- and what the contact did with them (kind 'email_event': detail = 'click' or 'unsubscribe',
-- title = the email's subject, body = the clicked URL).

create or replace view public.customer_timeline with (security_invoker = on) as
  select a.workspace_id, a.contact_id, a.company_id, a.occurred_at as happened_at,
         'activity'::text as kind, a.channel as detail, a.direction, a.subject as title, a.body,
         a.created_by as actor_id, 'activities'::text as source_table, a.id::text as source_id,
         a.deal_id
    from public.activities a
  union all
  select t.workspace_id, t.contact_id, t.company_id, t.created_at,
         'task', case when t.done_at is null then 'open' else 'done' end, null, t.title, t.notes,
         t.created_by, 'tasks', t.id::text, t.deal_id
    from public.tasks t
  union all
  select d.workspace_id, d.contact_id, d.company_id, coalesce(d.closed_at, d.created_at),
         'deal', d.status, null, d.title,
         d.value::text || ' ' || d.currency, d.created_by, 'deals', d.id::text, d.id
    from public.deals d
  union all
  select l.workspace_id, (l.row_id)::uuid, null::uuid, l.changed_at,
         'change', l.action, null, null, l.changes::text, l.changed_by, 'audit_log', l.id::text, null::uuid
    from public.audit_log l where l.table_name in ('contacts', 'companies') and l.table_name = 'contacts'
  union all
  select l.workspace_id, null::uuid, (l.row_id)::uuid, l.changed_at,
         'change', l.action, null, null, l.changes::text, l.changed_by, 'audit_log', l.id::text, null::uuid
    from public.audit_log l where l.table_name in ('contacts', 'companies') and l.table_name = 'companies'
  union all
  select k.workspace_id, k.contact_id, k.company_id, k.created_at,
         'ticket', k.status, null, 'T-' || k.number || ' ' || k.subject, null,
         k.created_by, 'tickets', k.id::text, null::uuid
    from public.tickets k
  union all
  select o.workspace_id, o.contact_id, o.company_id, o.ordered_at,
         'order', o.status, null, o.number, o.total_amount::text || ' ' || o.currency,
         o.created_by, 'orders', o.id::text, o.deal_id
    from public.orders o
  union all
  select i.workspace_id, i.contact_id, i.company_id, i.created_at,
         'invoice', i.status, null, 'INV-' || i.number, i.total::text || ' ' || i.currency,
         i.created_by, 'invoices', i.id::text, null::uuid
    from public.invoices i
  union all
  select m.workspace_id, m.contact_id, null::uuid, m.sent_at,
         'email', coalesce(c.name, 'email'), 'outbound', m.subject, null,
         m.created_by, 'outbox', m.id::text, null::uuid
    from public.outbox m left join public.campaigns c on c.id = m.campaign_id
   where m.status = 'sent' and m.contact_id is not null
  union all
  select e.workspace_id, e.contact_id, null::uuid, e.occurred_at,
         'email_event', e.kind, 'inbound', m.subject, e.url,
         null::uuid, 'email_events', e.id::text, null::uuid
    from public.email_events e left join public.outbox m on m.id = e.outbox_id
   where e.contact_id is not null;

revoke all on public.customer_timeline from anon;
