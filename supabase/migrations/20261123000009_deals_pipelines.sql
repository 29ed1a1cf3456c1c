-- Deals: pipelines and their stages, lost reasons, and the stage history written by a trigger.
--
-- A workspace has one or more pipelines; each has ordered stages with a win probability, a kind
-- (open, won, lost) and an optional "rotting" age after which a deal in it is flagged. A new
-- workspace gets the default pipeline (Lead in, Qualified, Proposal, Negotiation, Won, Lost) and
-- a list of lost reasons. A deal's status follows its stage's kind; moving it to another stage
-- closes the stage-history row it was in and opens the next one (private.record_deal_stage), so
-- velocity and conversion come from facts. Stages that still hold deals cannot be deleted (the
-- foreign key restricts it): move the deals first.
-- deal_stage_history is written only by that trigger: members read it, nobody writes it through
-- the API, and it is not audited itself (the deal's own audit rows already say who moved it).

create table public.pipelines (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  position integer not null default 0,
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index pipelines_workspace_idx on public.pipelines (workspace_id, position);
create unique index pipelines_default_key on public.pipelines (workspace_id) where is_default;

create table public.stages (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  pipeline_id uuid not null references public.pipelines (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 60),
  position integer not null default 0,
  probability integer not null default 0 check (probability between 0 and 100),
  kind text not null default 'open' check (kind in ('open', 'won', 'lost')),
  rotting_days integer check (rotting_days between 1 and 3650),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index stages_pipeline_idx on public.stages (pipeline_id, position);
create index stages_workspace_idx on public.stages (workspace_id);

create table public.lost_reasons (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  position integer not null default 0,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, name)
);

alter table public.deals
  add column pipeline_id uuid references public.pipelines (id) on delete restrict,
  add column stage_id uuid references public.stages (id) on delete restrict,
  add column stage_entered_at timestamptz not null default now(),
  add column lost_reason_id uuid references public.lost_reasons (id) on delete set null,
  add column campaign_id uuid;
create index deals_board_idx on public.deals (workspace_id, pipeline_id, stage_id, stage_entered_at);
create index deals_stage_idx on public.deals (stage_id);
create index deals_lost_reason_idx on public.deals (lost_reason_id);
create index deals_close_idx on public.deals (workspace_id, expected_close_date) where status = 'open';

create table public.deal_stage_history (
  id bigint generated always as identity primary key,
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  deal_id uuid not null references public.deals (id) on delete cascade,
  from_stage_id uuid references public.stages (id) on delete set null,
  to_stage_id uuid references public.stages (id) on delete set null,
  entered_at timestamptz not null default now(),
  left_at timestamptz,
  changed_by uuid default auth.uid() references auth.users (id) on delete set null
);
create index deal_stage_history_deal_idx on public.deal_stage_history (deal_id, entered_at);
create index deal_stage_history_workspace_idx on public.deal_stage_history (workspace_id, entered_at);
create index deal_stage_history_to_idx on public.deal_stage_history (to_stage_id);
create index deal_stage_history_from_idx on public.deal_stage_history (from_stage_id);
create index deal_stage_history_changed_by_idx on public.deal_stage_history (changed_by);

-- The default pipeline and lost reasons of one workspace (new workspaces, and those that exist).
create or replace function private.create_default_pipeline(p_workspace uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_pipeline uuid;
begin
  insert into public.pipelines (workspace_id, name, position, is_default)
  values (p_workspace, 'Sales', 0, true) returning id into v_pipeline;
  insert into public.stages (workspace_id, pipeline_id, name, position, probability, kind, rotting_days)
  values (p_workspace, v_pipeline, 'Lead in', 0, 10, 'open', 14),
         (p_workspace, v_pipeline, 'Qualified', 1, 25, 'open', 21),
         (p_workspace, v_pipeline, 'Proposal', 2, 50, 'open', 21),
         (p_workspace, v_pipeline, 'Negotiation', 3, 75, 'open', 14),
         (p_workspace, v_pipeline, 'Won', 4, 100, 'won', null),
         (p_workspace, v_pipeline, 'Lost', 5, 0, 'lost', null);
  insert into public.lost_reasons (workspace_id, name, position)
  select p_workspace, r.name, r.n
    from unnest(array['Price', 'Competitor', 'No budget', 'No decision', 'Timing', 'Other'])
         with ordinality as r(name, n)
  on conflict (workspace_id, name) do nothing;
  return v_pipeline;
end
$$;
revoke all on function private.create_default_pipeline(uuid) from public;

create or replace function private.add_default_pipeline() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform private.create_default_pipeline(new.id);
  return null;
end
$$;
create trigger add_default_pipeline after insert on public.workspaces
  for each row execute function private.add_default_pipeline();

-- A deal's pipeline and stage: defaults on insert, same workspace always, status from the stage.
create or replace function private.place_deal() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_stage public.stages;
begin
  if new.pipeline_id is null then
    select p.id into new.pipeline_id from public.pipelines p
     where p.workspace_id = new.workspace_id order by p.is_default desc, p.position, p.created_at limit 1;
  end if;
  if new.stage_id is null then
    select s.id into new.stage_id from public.stages s
     where s.pipeline_id = new.pipeline_id and s.kind = coalesce(new.status, 'open')
     order by s.position limit 1;
  end if;
  select * into v_stage from public.stages s where s.id = new.stage_id;
  if v_stage.id is null or v_stage.workspace_id <> new.workspace_id or v_stage.pipeline_id <> new.pipeline_id then
    raise exception 'That stage is not part of this deal''s pipeline.' using errcode = 'foreign_key_violation';
  end if;
  new.status := v_stage.kind;  -- always: a deal's status is its stage's kind
  if tg_op = 'INSERT' or new.stage_id is distinct from old.stage_id then
    new.stage_entered_at := now();
    new.closed_at := case when v_stage.kind = 'open' then null else coalesce(new.closed_at, now()) end;
    if v_stage.kind <> 'lost' then
      new.lost_reason_id := null;
    end if;
  end if;
  return new;
end
$$;
create trigger place_deal before insert or update on public.deals
  for each row execute function private.place_deal();

create or replace function private.record_deal_stage() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' then
    if new.stage_id is not distinct from old.stage_id then
      return null;
    end if;
    update public.deal_stage_history set left_at = now()
     where deal_id = new.id and left_at is null;
  end if;
  insert into public.deal_stage_history (workspace_id, deal_id, from_stage_id, to_stage_id, changed_by)
  values (new.workspace_id, new.id, case when tg_op = 'UPDATE' then old.stage_id end, new.stage_id,
          (select auth.uid()));
  return null;
end
$$;
create trigger record_deal_stage after insert or update of stage_id on public.deals
  for each row execute function private.record_deal_stage();

-- Existing workspaces and deals (lead conversions of the customers issue).
select private.create_default_pipeline(w.id) from public.workspaces w
 where not exists (select 1 from public.pipelines p where p.workspace_id = w.id);
update public.deals d set pipeline_id = d.pipeline_id where d.stage_id is null;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['pipelines', 'stages', 'lost_reasons'] loop
    execute format('create trigger bump_version before update on public.%I
                      for each row execute function private.bump_version()', v_table);
    execute format('create trigger audit after insert or update or delete on public.%I
                      for each row execute function private.audit_row()', v_table);
  end loop;
  foreach v_table in array array['pipelines', 'stages', 'lost_reasons', 'deal_stage_history'] loop
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on public.%I from anon', v_table);
    execute format('revoke truncate, trigger, references, update on public.%I from authenticated', v_table);
    execute format('create policy %I on public.%I for select to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''viewer'')))',
                   v_table || '_select', v_table);
  end loop;
  -- Admins shape pipelines, stages and the lost reasons; the history is the trigger's alone.
  foreach v_table in array array['pipelines', 'stages', 'lost_reasons'] loop
    execute format('create policy %I on public.%I for insert to authenticated
                      with check (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_insert', v_table);
    execute format('create policy %I on public.%I for update to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''admin'')))
                      with check (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_update', v_table);
    execute format('create policy %I on public.%I for delete to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_delete', v_table);
  end loop;
end
$$;
revoke insert, delete on public.deal_stage_history from authenticated;
grant update (name, position, is_default) on public.pipelines to authenticated;
grant update (name, position, probability, kind, rotting_days) on public.stages to authenticated;
grant update (name, position, archived_at) on public.lost_reasons to authenticated;
grant update (pipeline_id, stage_id, lost_reason_id, campaign_id) on public.deals to authenticated;

-- Pipelines, stages and lost reasons belong to the deal's workspace too.
create or replace function private.check_deal_refs() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.lost_reason_id is not null and not exists (
       select 1 from public.lost_reasons r where r.id = new.lost_reason_id and r.workspace_id = new.workspace_id) then
    raise exception 'That lost reason does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;
create trigger check_deal_refs before insert or update of lost_reason_id on public.deals
  for each row execute function private.check_deal_refs();

create or replace function private.check_stage_pipeline() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if not exists (select 1 from public.pipelines p where p.id = new.pipeline_id and p.workspace_id = new.workspace_id) then
    raise exception 'That pipeline does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;
create trigger check_stage_pipeline before insert or update of pipeline_id on public.stages
  for each row execute function private.check_stage_pipeline();
