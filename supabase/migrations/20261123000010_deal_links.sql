-- Deals on the timeline: activities and tasks may belong to a deal, and the customer timeline
-- carries the deal each event is about, so a deal page shows its own history and the deal
-- shows on its customer's 360 page. References stay in their workspace (check_same_workspace
-- now also checks deal_id).

alter table public.activities add column deal_id uuid references public.deals (id) on delete set null;
alter table public.tasks add column deal_id uuid references public.deals (id) on delete set null;
create index activities_deal_idx on public.activities (deal_id, occurred_at desc);
create index tasks_deal_idx on public.tasks (deal_id);
grant update (deal_id) on public.activities, public.tasks to authenticated;

create or replace function private.check_same_workspace() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_row jsonb := to_jsonb(new);
begin
  if (v_row ->> 'contact_id') is not null and not exists (
       select 1 from public.contacts c
        where c.id = (v_row ->> 'contact_id')::uuid and c.workspace_id = new.workspace_id) then
    raise exception 'That contact does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  if (v_row ->> 'company_id') is not null and not exists (
       select 1 from public.companies c
        where c.id = (v_row ->> 'company_id')::uuid and c.workspace_id = new.workspace_id) then
    raise exception 'That company does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  if (v_row ->> 'deal_id') is not null and not exists (
       select 1 from public.deals d
        where d.id = (v_row ->> 'deal_id')::uuid and d.workspace_id = new.workspace_id) then
    raise exception 'That deal does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;
drop trigger check_same_workspace on public.activities;
drop trigger check_same_workspace on public.tasks;
create trigger check_same_workspace before insert or update of contact_id, company_id, deal_id on public.activities
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id, company_id, deal_id on public.tasks
  for each row execute function private.check_same_workspace();

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
    from public.audit_log l where l.table_name in ('contacts', 'companies') and l.table_name = 'companies';
revoke all on public.customer_timeline from anon;
