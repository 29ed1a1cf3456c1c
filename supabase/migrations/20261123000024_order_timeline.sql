-- Orders and invoices on the customer's timeline, and correcting an invoiced order.
--
-- public.customer_timeline (security_invoker, so RLS applies) gains an order branch and an
-- invoice branch: a customer's 360 page shows what they bought next to calls, deals and tickets.
-- An invoiced order may go back to confirmed once its invoice is void (then corrected and
-- invoiced again); while a live invoice exists, it may not.

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
    from public.invoices i;
revoke all on public.customer_timeline from anon;

create or replace function private.order_transition_allowed(p_from text, p_to text) returns boolean
language sql immutable set search_path = '' as $$
  select p_from = p_to or (p_from, p_to) in (
    ('draft', 'confirmed'), ('draft', 'cancelled'),
    ('confirmed', 'shipped'), ('confirmed', 'invoiced'), ('confirmed', 'cancelled'),
    ('shipped', 'invoiced'), ('shipped', 'cancelled'),
    ('invoiced', 'paid'), ('invoiced', 'cancelled'), ('invoiced', 'confirmed'))
$$;

create or replace function private.check_order_invoices() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.status = 'invoiced' and new.status in ('confirmed', 'cancelled') and exists (
       select 1 from public.invoices i where i.order_id = new.id and i.status <> 'void') then
    raise exception 'Void the order''s invoice first.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;
create trigger check_order_invoices before update of status on public.orders
  for each row execute function private.check_order_invoices();
