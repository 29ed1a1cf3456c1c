-- Service desk: SLA targets counted in business hours, with a holiday list.
--
-- Each workspace gets a service calendar: a time zone (an IANA name such as Europe/Berlin,
-- checked against pg_timezone_names; default UTC) in public.service_calendars, opening hours per
-- ISO weekday (1 = Monday … 7 = Sunday; at most one span a day, no row = closed, closes may be
-- 24:00) in public.business_hours, and days off in public.holidays. Every workspace starts with
-- Monday to Friday 09:00–17:00 UTC (new ones by trigger, existing ones here).
-- An SLA policy with business_hours = true counts its targets in open minutes only:
-- private.add_business_minutes walks forward through the open spans in the calendar's time zone,
-- skipping closed weekdays and holidays (a workspace without any open hours falls back to
-- calendar time; the walk stops after 3,700 days and adds what is left as calendar time).
-- Spans are computed as real instants, so a DST change inside an open span counts the hour
-- that really passed. Due times are fixed when set: later calendar changes do not move them.
-- Pauses (pending customer): leaving the pause now also records the open minutes that passed
-- during it (business_minutes_between) in tickets.paused_business_minutes, next to the calendar
-- minutes in paused_minutes. A business-hours policy pushes its due times on by those open
-- minutes (due := add_business_minutes(due, open minutes paused)); a priority change recomputes
-- from created_at + target + the paused minutes of the new policy's kind. Calendar-time
-- policies behave exactly as before.
-- Policies: members read the calendar, hours and holidays; admins change them.

create table public.service_calendars (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  time_zone text not null default 'UTC' check (length(time_zone) between 1 and 64),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);

create table public.business_hours (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  weekday smallint not null check (weekday between 1 and 7),
  opens time not null,
  closes time not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, weekday),
  check (opens < closes)
);

create table public.holidays (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  day date not null,
  name text not null check (length(btrim(name)) between 1 and 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, day)
);

alter table public.sla_policies add column business_hours boolean not null default false;
alter table public.tickets add column paused_business_minutes integer not null default 0;

create or replace function private.check_time_zone() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if not exists (select 1 from pg_catalog.pg_timezone_names z where z.name = new.time_zone) then
    raise exception 'Unknown time zone: %. Use a name such as Europe/Berlin or UTC.', new.time_zone
      using errcode = 'check_violation';
  end if;
  return new;
end
$$;
create trigger check_time_zone before insert or update of time_zone on public.service_calendars
  for each row execute function private.check_time_zone();

-- Default calendar for every workspace (new ones by trigger, existing ones here).
create or replace function private.create_default_service_hours(p_workspace uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select 1 from public.service_calendars c where c.workspace_id = p_workspace) then
    return;
  end if;
  insert into public.service_calendars (workspace_id) values (p_workspace);
  insert into public.business_hours (workspace_id, weekday, opens, closes)
  select p_workspace, d, '09:00', '17:00' from generate_series(1, 5) d
  on conflict (workspace_id, weekday) do nothing;
end
$$;
revoke all on function private.create_default_service_hours(uuid) from public, anon, authenticated;
create or replace function private.add_default_service_hours() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform private.create_default_service_hours(new.id);
  return null;
end
$$;
create trigger add_default_service_hours after insert on public.workspaces
  for each row execute function private.add_default_service_hours();
select private.create_default_service_hours(w.id) from public.workspaces w;

-- A workspace's calendar: time zone and, per ISO weekday (array index 1–7), the open span
-- (nulls when closed). any_open is false when no weekday has hours.
create or replace function private.service_calendar(p_workspace uuid, out time_zone text, out opens time[],
                                                    out closes time[], out any_open boolean)
language sql stable security definer set search_path = '' as $$
  select coalesce((select c.time_zone from public.service_calendars c where c.workspace_id = p_workspace), 'UTC'),
         array_agg(h.opens order by d), array_agg(h.closes order by d), count(h.weekday) > 0
    from generate_series(1, 7) d
    left join public.business_hours h on h.workspace_id = p_workspace and h.weekday = d
$$;
revoke all on function private.service_calendar(uuid) from public, anon, authenticated;

-- p_start plus p_minutes of open time.
create or replace function private.add_business_minutes(p_workspace uuid, p_start timestamptz, p_minutes integer)
returns timestamptz
language plpgsql stable security definer set search_path = '' as $$
declare
  v_cal record;
  v_holidays date[];
  v_day date;
  v_weekday integer;
  v_from timestamptz;
  v_close timestamptz;
  v_left numeric;
  v_open_secs numeric;
begin
  if p_start is null or p_minutes is null then
    return null;
  end if;
  if p_minutes <= 0 then
    return p_start;
  end if;
  select * into v_cal from private.service_calendar(p_workspace);
  if not v_cal.any_open then
    return p_start + make_interval(mins => p_minutes);
  end if;
  v_day := (p_start at time zone v_cal.time_zone)::date;
  select coalesce(array_agg(h.day), '{}') into v_holidays from public.holidays h
   where h.workspace_id = p_workspace and h.day between v_day and v_day + 3700;
  v_left := p_minutes * 60;
  for i in 1..3700 loop
    v_weekday := extract(isodow from v_day);
    if v_cal.opens[v_weekday] is not null and not (v_day = any (v_holidays)) then
      v_from := greatest(p_start, (v_day + v_cal.opens[v_weekday]) at time zone v_cal.time_zone);
      v_close := (v_day + v_cal.closes[v_weekday]) at time zone v_cal.time_zone;
      if v_from < v_close then
        v_open_secs := extract(epoch from v_close - v_from);
        if v_left <= v_open_secs then
          return v_from + make_interval(secs => v_left);
        end if;
        v_left := v_left - v_open_secs;
      end if;
    end if;
    v_day := v_day + 1;
  end loop;
  return greatest(p_start, v_day::timestamp at time zone v_cal.time_zone) + make_interval(secs => v_left);
end
$$;
revoke all on function private.add_business_minutes(uuid, timestamptz, integer) from public, anon, authenticated;

-- Open minutes between two instants (rounded to whole minutes).
create or replace function private.business_minutes_between(p_workspace uuid, p_from timestamptz, p_to timestamptz)
returns integer
language plpgsql stable security definer set search_path = '' as $$
declare
  v_cal record;
  v_holidays date[];
  v_day date;
  v_last date;
  v_weekday integer;
  v_from timestamptz;
  v_to timestamptz;
  v_secs numeric := 0;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    return 0;
  end if;
  select * into v_cal from private.service_calendar(p_workspace);
  if not v_cal.any_open then
    return round(extract(epoch from p_to - p_from) / 60);
  end if;
  v_day := (p_from at time zone v_cal.time_zone)::date;
  v_last := least((p_to at time zone v_cal.time_zone)::date, v_day + 3700);
  select coalesce(array_agg(h.day), '{}') into v_holidays from public.holidays h
   where h.workspace_id = p_workspace and h.day between v_day and v_last;
  while v_day <= v_last loop
    v_weekday := extract(isodow from v_day);
    if v_cal.opens[v_weekday] is not null and not (v_day = any (v_holidays)) then
      v_from := greatest(p_from, (v_day + v_cal.opens[v_weekday]) at time zone v_cal.time_zone);
      v_to := least(p_to, (v_day + v_cal.closes[v_weekday]) at time zone v_cal.time_zone);
      if v_from < v_to then
        v_secs := v_secs + extract(epoch from v_to - v_from);
      end if;
    end if;
    v_day := v_day + 1;
  end loop;
  return round(v_secs / 60);
end
$$;
revoke all on function private.business_minutes_between(uuid, timestamptz, timestamptz) from public, anon, authenticated;

-- Number, SLA due times (calendar or business time), transitions, pause and the
-- solved/closed/reopen bookkeeping. As in 20261123000012_tickets.sql, plus business hours.
create or replace function private.prepare_ticket() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_policy public.sla_policies;
  v_paused integer;
  v_paused_business integer;
  v_business boolean;
begin
  if tg_op = 'INSERT' then
    insert into private.ticket_counters as c (workspace_id, last_number) values (new.workspace_id, 1001)
    on conflict (workspace_id) do update set last_number = c.last_number + 1
    returning last_number into new.number;
    new.status := coalesce(new.status, 'new');
    new.paused_minutes := 0;
    new.paused_business_minutes := 0;
    new.reopen_count := 0;
  elsif not private.ticket_transition_allowed(old.status, new.status) then
    raise exception 'A ticket cannot go from % to %.', replace(old.status, '_', ' '), replace(new.status, '_', ' ')
      using errcode = 'check_violation';
  end if;
  if tg_op = 'INSERT' or new.priority is distinct from old.priority then
    select * into v_policy from public.sla_policies p
     where p.workspace_id = new.workspace_id and p.priority = new.priority;
    new.sla_policy_id := v_policy.id;
    if v_policy.business_hours then
      new.first_response_due_at := private.add_business_minutes(
        new.workspace_id, new.created_at, v_policy.first_response_minutes + new.paused_business_minutes);
      new.resolution_due_at := private.add_business_minutes(
        new.workspace_id, new.created_at, v_policy.resolution_minutes + new.paused_business_minutes);
    else
      new.first_response_due_at := new.created_at + make_interval(mins => v_policy.first_response_minutes + new.paused_minutes);
      new.resolution_due_at := new.created_at + make_interval(mins => v_policy.resolution_minutes + new.paused_minutes);
    end if;
  end if;
  if tg_op = 'UPDATE' and new.status is distinct from old.status then
    if new.status = 'pending_customer' then
      new.paused_at := now();
    elsif old.status = 'pending_customer' and old.paused_at is not null then
      -- Waiting for the customer does not count against the targets.
      v_paused := round(extract(epoch from now() - old.paused_at) / 60);
      v_paused_business := private.business_minutes_between(new.workspace_id, old.paused_at, now());
      new.paused_minutes := old.paused_minutes + v_paused;
      new.paused_business_minutes := old.paused_business_minutes + v_paused_business;
      new.paused_at := null;
      select p.business_hours into v_business from public.sla_policies p where p.id = new.sla_policy_id;
      if v_business then
        new.resolution_due_at := private.add_business_minutes(new.workspace_id, new.resolution_due_at, v_paused_business);
        if new.first_responded_at is null then
          new.first_response_due_at := private.add_business_minutes(
            new.workspace_id, new.first_response_due_at, v_paused_business);
        end if;
      else
        new.resolution_due_at := new.resolution_due_at + make_interval(mins => v_paused);
        if new.first_responded_at is null then
          new.first_response_due_at := new.first_response_due_at + make_interval(mins => v_paused);
        end if;
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

do $$
declare
  v_table text;
begin
  foreach v_table in array array['service_calendars', 'business_hours', 'holidays'] loop
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

grant update (time_zone) on public.service_calendars to authenticated;
grant update (opens, closes) on public.business_hours to authenticated;
grant update (day, name) on public.holidays to authenticated;
grant update (business_hours) on public.sla_policies to authenticated;
