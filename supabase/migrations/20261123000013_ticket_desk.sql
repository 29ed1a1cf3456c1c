-- Service desk, pages: canned responses (reply templates with merge fields such as
-- {{contact.first_name}}, filled in by lib.tickets.render_canned) and tickets on the customer's
-- 360 timeline.
--
-- Canned responses belong to a workspace: members read them, agents and above write them,
-- admins delete them. The customer timeline keeps every earlier branch and column unchanged and
-- gains one branch: each ticket as kind 'ticket' (detail = status, title = "T-1001 Subject").

create table public.canned_responses (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  body text not null check (length(btrim(body)) between 1 and 20000),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create unique index canned_responses_title_key on public.canned_responses (workspace_id, lower(btrim(title)));
create index canned_responses_created_by_idx on public.canned_responses (created_by);

create trigger stamp_author before insert on public.canned_responses
  for each row execute function private.stamp_author();
create trigger bump_version before update on public.canned_responses
  for each row execute function private.bump_version();
create trigger audit after insert or update or delete on public.canned_responses
  for each row execute function private.audit_row();
alter table public.canned_responses enable row level security;
revoke all on public.canned_responses from anon;
revoke truncate, trigger, references, update on public.canned_responses from authenticated;
create policy canned_responses_select on public.canned_responses for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')));
create policy canned_responses_insert on public.canned_responses for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy canned_responses_update on public.canned_responses for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')))
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy canned_responses_delete on public.canned_responses for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')));
grant update (title, body) on public.canned_responses to authenticated;

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
    from public.tickets k;
revoke all on public.customer_timeline from anon;
