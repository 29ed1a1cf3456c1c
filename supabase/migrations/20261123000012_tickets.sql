-- Service desk, step 1: tickets with gapless numbers, allowed status transitions, SLA due times
-- that pause while waiting for the customer, comments (public replies and internal notes) and
-- attachments stored in the database.
--
-- Numbers (T-1001, T-1002, …) come from private.ticket_counters inside the inserting transaction:
-- the counter row is locked until commit, so concurrent tickets take turns, and a rolled-back
-- insert rolls its number back too — no gaps, no duplicates.
-- SLA policies are one per priority per workspace (first response and resolution targets in
-- minutes); every new workspace gets defaults. Due times are set when a ticket is created or its
-- priority changes, and pushed back by the time spent in "pending customer". Breaches are
-- computed when read (due time passed without the response/solution), never stored stale.
-- The first public reply by someone other than the requester sets first_responded_at.
-- Policies: members read; agents and above write tickets, replies and attachments; admins edit
-- SLA policies and hard-delete tickets.

create table private.ticket_counters (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  last_number integer not null
);
alter table private.ticket_counters enable row level security;
revoke all on private.ticket_counters from public, anon, authenticated, service_role;

create table public.sla_policies (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  priority text not null check (priority in ('low', 'normal', 'high', 'urgent')),
  first_response_minutes integer not null check (first_response_minutes between 1 and 525600),
  resolution_minutes integer not null check (resolution_minutes between 1 and 525600),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, priority)
);

create table public.tickets (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  number integer not null,
  subject text not null check (length(btrim(subject)) between 1 and 200),
  description text check (length(description) <= 50000),
  channel text not null default 'email' check (channel in ('email', 'phone', 'portal', 'chat', 'social', 'walk-in')),
  priority text not null default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
  status text not null default 'new'
    check (status in ('new', 'open', 'pending_customer', 'on_hold', 'solved', 'closed')),
  category text check (length(category) <= 100),
  contact_id uuid references public.contacts (id) on delete set null,
  company_id uuid references public.companies (id) on delete set null,
  assignee_id uuid references auth.users (id) on delete set null,
  sla_policy_id uuid references public.sla_policies (id) on delete set null,
  first_response_due_at timestamptz,
  resolution_due_at timestamptz,
  first_responded_at timestamptz,
  solved_at timestamptz,
  closed_at timestamptz,
  paused_at timestamptz,
  paused_minutes integer not null default 0,
  reopen_count integer not null default 0,
  csat integer check (csat between 1 and 5),
  csat_comment text check (length(csat_comment) <= 2000),
  message_id text check (length(message_id) <= 998),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, number)
);
create unique index tickets_message_id_key on public.tickets (workspace_id, message_id) where message_id is not null;
create index tickets_queue_idx on public.tickets (workspace_id, status, resolution_due_at, id);
create index tickets_assignee_idx on public.tickets (workspace_id, assignee_id, status);
create index tickets_assignee_fk_idx on public.tickets (assignee_id);
create index tickets_contact_idx on public.tickets (contact_id);
create index tickets_company_idx on public.tickets (company_id);
create index tickets_sla_idx on public.tickets (sla_policy_id);
create index tickets_created_by_idx on public.tickets (created_by);
create index tickets_created_idx on public.tickets (workspace_id, created_at desc, id desc);

create table public.ticket_comments (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  ticket_id uuid not null references public.tickets (id) on delete cascade,
  author_id uuid default auth.uid() references auth.users (id) on delete set null,
  from_customer boolean not null default false,
  is_public boolean not null default true,
  body text not null check (length(btrim(body)) between 1 and 50000),
  message_id text check (length(message_id) <= 998),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index ticket_comments_ticket_idx on public.ticket_comments (ticket_id, created_at);
create index ticket_comments_workspace_idx on public.ticket_comments (workspace_id);
create index ticket_comments_author_idx on public.ticket_comments (author_id);
create unique index ticket_comments_message_id_key on public.ticket_comments (workspace_id, message_id)
  where message_id is not null;

create table public.ticket_attachments (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  ticket_id uuid not null references public.tickets (id) on delete cascade,
  comment_id uuid references public.ticket_comments (id) on delete cascade,
  filename text not null check (length(btrim(filename)) between 1 and 255),
  content_type text not null check (length(content_type) <= 100),
  size_bytes integer not null check (size_bytes between 0 and 10485760),
  data bytea not null check (length(data) <= 10485760),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index ticket_attachments_ticket_idx on public.ticket_attachments (ticket_id);
create index ticket_attachments_comment_idx on public.ticket_attachments (comment_id);
create index ticket_attachments_workspace_idx on public.ticket_attachments (workspace_id);
create index ticket_attachments_created_by_idx on public.ticket_attachments (created_by);

-- Default SLA targets for every workspace (new ones by trigger, existing ones here).
create or replace function private.create_default_sla(p_workspace uuid) returns void
language sql security definer set search_path = '' as $$
  insert into public.sla_policies (workspace_id, priority, first_response_minutes, resolution_minutes)
  values (p_workspace, 'urgent', 60, 240), (p_workspace, 'high', 240, 1440),
         (p_workspace, 'normal', 480, 4320), (p_workspace, 'low', 1440, 10080)
  on conflict (workspace_id, priority) do nothing
$$;
revoke all on function private.create_default_sla(uuid) from public;
create or replace function private.add_default_sla() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform private.create_default_sla(new.id);
  return null;
end
$$;
create trigger add_default_sla after insert on public.workspaces
  for each row execute function private.add_default_sla();
select private.create_default_sla(w.id) from public.workspaces w;

-- Allowed status changes (anything else is refused with a message naming both).
create or replace function private.ticket_transition_allowed(p_from text, p_to text) returns boolean
language sql immutable set search_path = '' as $$
  select p_from = p_to or (p_from, p_to) in (
    ('new', 'open'), ('new', 'pending_customer'), ('new', 'on_hold'), ('new', 'solved'),
    ('open', 'pending_customer'), ('open', 'on_hold'), ('open', 'solved'),
    ('pending_customer', 'open'), ('pending_customer', 'on_hold'), ('pending_customer', 'solved'),
    ('on_hold', 'open'), ('on_hold', 'pending_customer'), ('on_hold', 'solved'),
    ('solved', 'open'), ('solved', 'closed'))
$$;

-- Number, SLA due times, transitions, pause and the solved/closed/reopen bookkeeping.
create or replace function private.prepare_ticket() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_policy public.sla_policies;
  v_paused integer;
begin
  if tg_op = 'INSERT' then
    insert into private.ticket_counters as c (workspace_id, last_number) values (new.workspace_id, 1001)
    on conflict (workspace_id) do update set last_number = c.last_number + 1
    returning last_number into new.number;
    new.status := coalesce(new.status, 'new');
    new.paused_minutes := 0;
    new.reopen_count := 0;
  elsif not private.ticket_transition_allowed(old.status, new.status) then
    raise exception 'A ticket cannot go from % to %.', replace(old.status, '_', ' '), replace(new.status, '_', ' ')
      using errcode = 'check_violation';
  end if;
  if tg_op = 'INSERT' or new.priority is distinct from old.priority then
    select * into v_policy from public.sla_policies p
     where p.workspace_id = new.workspace_id and p.priority = new.priority;
    new.sla_policy_id := v_policy.id;
    new.first_response_due_at := new.created_at + make_interval(mins => v_policy.first_response_minutes + new.paused_minutes);
    new.resolution_due_at := new.created_at + make_interval(mins => v_policy.resolution_minutes + new.paused_minutes);
  end if;
  if tg_op = 'UPDATE' and new.status is distinct from old.status then
    if new.status = 'pending_customer' then
      new.paused_at := now();
    elsif old.status = 'pending_customer' and old.paused_at is not null then
      -- Waiting for the customer does not count against the targets.
      v_paused := round(extract(epoch from now() - old.paused_at) / 60);
      new.paused_minutes := old.paused_minutes + v_paused;
      new.paused_at := null;
      new.resolution_due_at := new.resolution_due_at + make_interval(mins => v_paused);
      if new.first_responded_at is null then
        new.first_response_due_at := new.first_response_due_at + make_interval(mins => v_paused);
      end if;
    end if;
    if new.status = 'solved' then
      new.solved_at := now();
    elsif old.status = 'solved' and new.status = 'open' then
      new.reopen_count := old.reopen_count + 1;
      new.solved_at := null;
    end if;
    if new.status = 'closed' then
      new.closed_at := now();
    end if;
  end if;
  return new;
end
$$;
create trigger prepare_ticket before insert or update on public.tickets
  for each row execute function private.prepare_ticket();

-- The first public reply from the team (not the customer) is the first response.
create or replace function private.note_first_response() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.is_public and not new.from_customer then
    update public.tickets set first_responded_at = new.created_at,
           status = case when status = 'new' then 'open' else status end
     where id = new.ticket_id and first_responded_at is null;
  end if;
  return null;
end
$$;
create trigger note_first_response after insert on public.ticket_comments
  for each row execute function private.note_first_response();

-- Comments and attachments belong to a ticket of their own workspace.
create or replace function private.check_ticket_workspace() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if not exists (select 1 from public.tickets t where t.id = new.ticket_id and t.workspace_id = new.workspace_id) then
    raise exception 'That ticket does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;
create trigger check_ticket_workspace before insert or update of ticket_id on public.ticket_comments
  for each row execute function private.check_ticket_workspace();
create trigger check_ticket_workspace before insert or update of ticket_id on public.ticket_attachments
  for each row execute function private.check_ticket_workspace();
create trigger check_same_workspace before insert or update of contact_id, company_id on public.tickets
  for each row execute function private.check_same_workspace();
create trigger stamp_author before insert on public.tickets for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.ticket_attachments for each row execute function private.stamp_author();

create or replace function private.stamp_comment_author() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (select auth.uid()) is not null then
    new.author_id := (select auth.uid());
  end if;
  return new;
end
$$;
create trigger stamp_author before insert on public.ticket_comments
  for each row execute function private.stamp_comment_author();

do $$
declare
  v_table text;
begin
  foreach v_table in array array['sla_policies', 'tickets', 'ticket_comments', 'ticket_attachments'] loop
    execute format('create trigger bump_version before update on public.%I
                      for each row execute function private.bump_version()', v_table);
    execute format('create trigger audit after insert or update or delete on public.%I
                      for each row execute function private.audit_row()', v_table);
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on public.%I from anon', v_table);
    execute format('revoke truncate, trigger, references, update on public.%I from authenticated', v_table);
    execute format('create policy %I on public.%I for select to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''viewer'')))',
                   v_table || '_select', v_table);
  end loop;
  foreach v_table in array array['tickets', 'ticket_comments', 'ticket_attachments'] loop
    execute format('create policy %I on public.%I for insert to authenticated
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_insert', v_table);
    execute format('create policy %I on public.%I for update to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''agent'')))
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_update', v_table);
    execute format('create policy %I on public.%I for delete to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_delete', v_table);
  end loop;
end
$$;
create policy sla_policies_insert on public.sla_policies for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('admin')));
create policy sla_policies_update on public.sla_policies for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')))
  with check (workspace_id in (select private.my_workspace_ids('admin')));
create policy sla_policies_delete on public.sla_policies for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')));

grant update (first_response_minutes, resolution_minutes) on public.sla_policies to authenticated;
grant update (subject, description, channel, priority, status, category, contact_id, company_id, assignee_id,
              csat, csat_comment) on public.tickets to authenticated;
grant update (body, is_public) on public.ticket_comments to authenticated;
grant update (filename) on public.ticket_attachments to authenticated;
