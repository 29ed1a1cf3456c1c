-- Customers: companies, contacts, custom fields, activities, tasks, first deals, one timeline.
--
-- Contacts and companies share one shape (owner, source, lifecycle stage with the date each
-- stage was entered, tags, marketing consent, archive flag, custom fields as jsonb checked
-- against public.custom_field_definitions on every write). Search runs in Postgres: a stored
-- `search_text` (lower-cased, accents removed) behind a pg_trgm GIN index tolerates typos and
-- accents. `last_contacted_at` is kept by a trigger on activities and does not bump `version`,
-- so logging a call never turns a colleague's edit into a conflict.
-- `deals` starts minimal here (lead conversion creates a first deal; the 360 header sums open
-- and won deals); the deals issue adds pipelines and stages to it.
-- public.customer_timeline is the one union view every later domain adds its branch to.
-- Policies: every member reads; agents and above write; hard deletes are for admins.

create extension if not exists pg_trgm with schema extensions;
create extension if not exists unaccent with schema extensions;

-- Lower case without accents: immutable so stored columns and indexes may use it.
create or replace function private.fold(p_text text) returns text
language sql immutable parallel safe strict set search_path = '' as $$
  select lower(extensions.unaccent('extensions.unaccent'::regdictionary, p_text))
$$;
grant execute on function private.fold(text) to anon, authenticated, service_role;

-- Bookkeeping columns: not audited, and changing only them does not bump `version`.
create or replace function private.audit_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select array['updated_at', 'version', 'token_hash', 'last_contacted_at', 'search_text']
$$;

create or replace function private.version_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select private.audit_ignored_columns() || array['full_name']
$$;

create or replace function private.bump_version() returns trigger
language plpgsql set search_path = '' as $$
begin
  -- Generated columns are not computed yet in a BEFORE trigger's NEW, so they are left out too.
  if (to_jsonb(new) - private.version_ignored_columns()) = (to_jsonb(old) - private.version_ignored_columns()) then
    return new;
  end if;
  new.version := old.version + 1;
  new.updated_at := now();
  return new;
end
$$;

-- Merges are written to the audit log as their own action.
alter table public.audit_log drop constraint audit_log_action_check;
alter table public.audit_log add constraint audit_log_action_check
  check (action in ('insert', 'update', 'delete', 'merge'));
create index audit_log_customer_idx on public.audit_log (workspace_id, ((row_id)::uuid))
  where table_name in ('contacts', 'companies');

create table public.custom_field_definitions (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  record_type text not null check (record_type in ('contact', 'company')),
  key text not null check (key ~ '^[a-z][a-z0-9_]{0,39}$'),
  label text not null check (length(btrim(label)) between 1 and 60),
  field_type text not null check (field_type in ('text', 'number', 'date', 'select', 'checkbox', 'url')),
  options text[] not null default '{}',
  required boolean not null default false,
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, record_type, key),
  check (field_type <> 'select' or cardinality(options) > 0)
);

create table public.companies (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  email text check (email ~ '^[^@\s]+@[^@\s]+$'),
  phone text check (phone ~ '^\+[0-9]{6,16}$'),
  website text check (length(website) <= 300),
  industry text check (length(industry) <= 100),
  address text check (length(address) <= 300),
  city text check (length(city) <= 100),
  postal_code text check (length(postal_code) <= 20),
  country text check (country ~ '^[A-Z]{2}$'),
  owner_id uuid references auth.users (id) on delete set null,
  source text check (length(source) <= 100),
  stage text not null default 'lead' check (stage in ('lead', 'prospect', 'customer', 'churned')),
  lead_at timestamptz,
  prospect_at timestamptz,
  customer_at timestamptz,
  churned_at timestamptz,
  tags text[] not null default '{}',
  consent boolean not null default false,
  consent_at timestamptz,
  consent_source text check (length(consent_source) <= 100),
  archived_at timestamptz,
  custom jsonb not null default '{}' check (jsonb_typeof(custom) = 'object'),
  notes text check (length(notes) <= 10000),
  last_contacted_at timestamptz,
  search_text text generated always as (
    private.fold(name || ' ' || coalesce(email, '') || ' ' || coalesce(substr(phone, 2), '') || ' '
                 || coalesce(website, ''))) stored,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create unique index companies_email_key on public.companies (workspace_id, lower(email)) where email is not null;
create index companies_name_idx on public.companies (workspace_id, name, id);
create index companies_created_idx on public.companies (workspace_id, created_at desc, id desc);
create index companies_search_idx on public.companies using gin (search_text extensions.gin_trgm_ops);
create index companies_tags_idx on public.companies using gin (tags);
create index companies_custom_idx on public.companies using gin (custom jsonb_path_ops);
create index companies_owner_idx on public.companies (owner_id);
create index companies_created_by_idx on public.companies (created_by);

create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  company_id uuid references public.companies (id) on delete set null,
  first_name text check (length(first_name) <= 100),
  last_name text check (length(last_name) <= 100),
  full_name text generated always as (btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) stored,
  title text check (length(title) <= 100),
  email text check (email ~ '^[^@\s]+@[^@\s]+$'),
  phone text check (phone ~ '^\+[0-9]{6,16}$'),
  website text check (length(website) <= 300),
  address text check (length(address) <= 300),
  city text check (length(city) <= 100),
  postal_code text check (length(postal_code) <= 20),
  country text check (country ~ '^[A-Z]{2}$'),
  owner_id uuid references auth.users (id) on delete set null,
  source text check (length(source) <= 100),
  stage text not null default 'lead' check (stage in ('lead', 'prospect', 'customer', 'churned')),
  lead_at timestamptz,
  prospect_at timestamptz,
  customer_at timestamptz,
  churned_at timestamptz,
  tags text[] not null default '{}',
  consent boolean not null default false,
  consent_at timestamptz,
  consent_source text check (length(consent_source) <= 100),
  archived_at timestamptz,
  custom jsonb not null default '{}' check (jsonb_typeof(custom) = 'object'),
  notes text check (length(notes) <= 10000),
  last_contacted_at timestamptz,
  search_text text generated always as (
    private.fold(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '')
                 || ' ' || coalesce(substr(phone, 2), ''))) stored,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  check (full_name <> '' or email is not null)
);
create unique index contacts_email_key on public.contacts (workspace_id, lower(email)) where email is not null;
create index contacts_name_idx on public.contacts (workspace_id, full_name, id);
create index contacts_created_idx on public.contacts (workspace_id, created_at desc, id desc);
create index contacts_contacted_idx on public.contacts
  (workspace_id, coalesce(last_contacted_at, '-infinity'::timestamptz) desc, id desc);
create index contacts_phone_idx on public.contacts (workspace_id, phone) where phone is not null;
create index contacts_company_idx on public.contacts (company_id);
create index contacts_search_idx on public.contacts using gin (search_text extensions.gin_trgm_ops);
create index contacts_name_trgm_idx on public.contacts using gin (private.fold(full_name) extensions.gin_trgm_ops);
create index contacts_tags_idx on public.contacts using gin (tags);
create index contacts_custom_idx on public.contacts using gin (custom jsonb_path_ops);
create index contacts_owner_idx on public.contacts (owner_id);
create index contacts_created_by_idx on public.contacts (created_by);

create table public.deals (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  contact_id uuid references public.contacts (id) on delete set null,
  company_id uuid references public.companies (id) on delete set null,
  value numeric(14, 2) not null default 0 check (value >= 0),
  currency text not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'open' check (status in ('open', 'won', 'lost')),
  expected_close_date date,
  closed_at timestamptz,
  owner_id uuid references auth.users (id) on delete set null,
  source text check (length(source) <= 100),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index deals_workspace_idx on public.deals (workspace_id, status);
create index deals_contact_idx on public.deals (contact_id);
create index deals_company_idx on public.deals (company_id);
create index deals_owner_idx on public.deals (owner_id);
create index deals_created_by_idx on public.deals (created_by);

create table public.activities (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  contact_id uuid references public.contacts (id) on delete cascade,
  company_id uuid references public.companies (id) on delete cascade,
  channel text not null check (channel in ('call', 'email', 'meeting', 'chat', 'social', 'note')),
  direction text check (direction in ('inbound', 'outbound')),
  subject text check (length(subject) <= 200),
  body text check (length(body) <= 20000),
  occurred_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  check (contact_id is not null or company_id is not null)
);
create index activities_workspace_idx on public.activities (workspace_id, occurred_at desc);
create index activities_contact_idx on public.activities (contact_id, occurred_at desc);
create index activities_company_idx on public.activities (company_id, occurred_at desc);
create index activities_created_by_idx on public.activities (created_by);

create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  contact_id uuid references public.contacts (id) on delete cascade,
  company_id uuid references public.companies (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  notes text check (length(notes) <= 5000),
  due_date date,
  assignee_id uuid references auth.users (id) on delete set null,
  priority text not null default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
  done_at timestamptz,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index tasks_assignee_idx on public.tasks (workspace_id, assignee_id, due_date) where done_at is null;
create index tasks_assignee_fk_idx on public.tasks (assignee_id);
create index tasks_contact_idx on public.tasks (contact_id);
create index tasks_company_idx on public.tasks (company_id);
create index tasks_created_by_idx on public.tasks (created_by);

create or replace function private.is_date(p_text text) returns boolean
language plpgsql immutable set search_path = '' as $$
begin
  perform p_text::date;
  return true;
exception when others then
  return false;
end
$$;

-- Custom field values: every key defined for the record type, every value of its field's kind.
create or replace function private.check_custom_fields() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_record_type text := tg_argv[0];
  v_field record;
  v_def public.custom_field_definitions;
  v_ok boolean;
begin
  if new.custom = '{}'::jsonb then
    return new;
  end if;
  -- A write into someone else's workspace is left for row-level security to refuse.
  if (select auth.uid()) is not null and new.workspace_id not in (select private.my_workspace_ids('agent')) then
    return new;
  end if;
  for v_field in select key, value from jsonb_each(new.custom) loop
    select * into v_def from public.custom_field_definitions d
     where d.workspace_id = new.workspace_id and d.record_type = v_record_type and d.key = v_field.key;
    if not found then
      raise exception 'Unknown custom field "%".', v_field.key using errcode = 'check_violation';
    end if;
    continue when jsonb_typeof(v_field.value) = 'null';
    v_ok := case v_def.field_type
        when 'number' then jsonb_typeof(v_field.value) = 'number'
        when 'checkbox' then jsonb_typeof(v_field.value) = 'boolean'
        when 'date' then jsonb_typeof(v_field.value) = 'string'
                         and (v_field.value #>> '{}') ~ '^\d{4}-\d{2}-\d{2}$'
                         and private.is_date(v_field.value #>> '{}')
        when 'select' then jsonb_typeof(v_field.value) = 'string' and (v_field.value #>> '{}') = any (v_def.options)
        when 'url' then jsonb_typeof(v_field.value) = 'string' and (v_field.value #>> '{}') ~ '^https?://[^\s]+$'
        else jsonb_typeof(v_field.value) = 'string' and length(v_field.value #>> '{}') <= 1000
      end;
    if not v_ok then
      raise exception 'Custom field "%" expects a % value.', v_def.label, v_def.field_type
        using errcode = 'check_violation';
    end if;
  end loop;
  return new;
end
$$;

-- The date each lifecycle stage was (last) entered.
create or replace function private.stamp_stage() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op = 'INSERT' or new.stage is distinct from old.stage then
    case new.stage
      when 'lead' then new.lead_at := case when tg_op = 'INSERT' then coalesce(new.lead_at, now()) else now() end;
      when 'prospect' then new.prospect_at := case when tg_op = 'INSERT' then coalesce(new.prospect_at, now()) else now() end;
      when 'customer' then new.customer_at := case when tg_op = 'INSERT' then coalesce(new.customer_at, now()) else now() end;
      when 'churned' then new.churned_at := case when tg_op = 'INSERT' then coalesce(new.churned_at, now()) else now() end;
    end case;
  end if;
  if new.consent and new.consent_at is null then
    new.consent_at := now();
  elsif not new.consent then
    new.consent_at := null;
  end if;
  return new;
end
$$;

-- Logging an activity moves the customer's "last contacted" forward (not a user edit: no
-- version bump, not audited; the definer may write the column users cannot).
create or replace function private.touch_last_contacted() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.contact_id is not null then
    update public.contacts set last_contacted_at = new.occurred_at
     where id = new.contact_id and (last_contacted_at is null or last_contacted_at < new.occurred_at);
  end if;
  if new.company_id is not null then
    update public.companies set last_contacted_at = new.occurred_at
     where id = new.company_id and (last_contacted_at is null or last_contacted_at < new.occurred_at);
  end if;
  return null;
end
$$;

create trigger check_custom_fields before insert or update of custom on public.contacts
  for each row execute function private.check_custom_fields('contact');
create trigger check_custom_fields before insert or update of custom on public.companies
  for each row execute function private.check_custom_fields('company');
create trigger stamp_stage before insert or update on public.contacts
  for each row execute function private.stamp_stage();
create trigger stamp_stage before insert or update on public.companies
  for each row execute function private.stamp_stage();
create trigger touch_last_contacted after insert or update of occurred_at on public.activities
  for each row execute function private.touch_last_contacted();

do $$
declare
  v_table text;
begin
  foreach v_table in array array['custom_field_definitions', 'companies', 'contacts', 'deals', 'activities', 'tasks'] loop
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
end
$$;

-- Writes: admins define custom fields; agents and above write records; admins hard-delete
-- contacts, companies and deals; agents delete tasks, and activities they logged themselves.
create policy custom_field_definitions_insert on public.custom_field_definitions for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('admin')));
create policy custom_field_definitions_update on public.custom_field_definitions for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')))
  with check (workspace_id in (select private.my_workspace_ids('admin')));
create policy custom_field_definitions_delete on public.custom_field_definitions for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')));

do $$
declare
  v_table text;
begin
  foreach v_table in array array['companies', 'contacts', 'deals', 'activities', 'tasks'] loop
    execute format('create policy %I on public.%I for insert to authenticated
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_insert', v_table);
    execute format('create policy %I on public.%I for update to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''agent'')))
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_update', v_table);
  end loop;
  foreach v_table in array array['companies', 'contacts', 'deals'] loop
    execute format('create policy %I on public.%I for delete to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_delete', v_table);
  end loop;
end
$$;
create policy tasks_delete on public.tasks for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')));
create policy activities_delete on public.activities for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent'))
         and (created_by = (select auth.uid()) or workspace_id in (select private.my_workspace_ids('admin'))));

-- Columns users may change (ids, workspace, authorship and bookkeeping are set by the database).
grant update (label, field_type, options, required, position) on public.custom_field_definitions to authenticated;
grant update (name, email, phone, website, industry, address, city, postal_code, country, owner_id, source,
              stage, tags, consent, consent_at, consent_source, archived_at, custom, notes)
  on public.companies to authenticated;
grant update (company_id, first_name, last_name, title, email, phone, website, address, city, postal_code,
              country, owner_id, source, stage, tags, consent, consent_at, consent_source, archived_at,
              custom, notes)
  on public.contacts to authenticated;
grant update (title, contact_id, company_id, value, currency, status, expected_close_date, closed_at,
              owner_id, source)
  on public.deals to authenticated;
grant update (contact_id, company_id, channel, direction, subject, body, occurred_at) on public.activities to authenticated;
grant update (contact_id, company_id, title, notes, due_date, assignee_id, priority, done_at) on public.tasks to authenticated;

-- A merge is recorded as one audit entry on the surviving record (the moves and the delete
-- are audited row by row by the triggers as usual).
create or replace function private.log_merge(p_table text, p_survivor uuid, p_merged uuid, p_details jsonb)
returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_workspace uuid;
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot merge % records.', p_table;
  end if;
  execute format('select workspace_id from public.%I where id = $1', p_table) into v_workspace using p_survivor;
  if v_workspace is null or v_workspace not in (select private.my_workspace_ids('agent')) then
    raise exception 'Record not found.' using errcode = 'insufficient_privilege';
  end if;
  insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
  values (v_workspace, p_table, p_survivor::text, 'merge', (select auth.uid()),
          jsonb_build_object('merged_id', p_merged) || coalesce(p_details, '{}'));
end
$$;
revoke all on function private.log_merge(text, uuid, uuid, jsonb) from public;
grant execute on function private.log_merge(text, uuid, uuid, jsonb) to authenticated;

-- Everything that touched a customer, one row per event. Later domains (tickets, orders,
-- campaigns) replace this view with one more `union all` branch of the same columns.
create view public.customer_timeline with (security_invoker = on) as
  select a.workspace_id, a.contact_id, a.company_id, a.occurred_at as happened_at,
         'activity'::text as kind, a.channel as detail, a.direction, a.subject as title, a.body,
         a.created_by as actor_id, 'activities'::text as source_table, a.id::text as source_id
    from public.activities a
  union all
  select t.workspace_id, t.contact_id, t.company_id, t.created_at,
         'task', case when t.done_at is null then 'open' else 'done' end, null, t.title, t.notes,
         t.created_by, 'tasks', t.id::text
    from public.tasks t
  union all
  select d.workspace_id, d.contact_id, d.company_id, coalesce(d.closed_at, d.created_at),
         'deal', d.status, null, d.title,
         d.value::text || ' ' || d.currency, d.created_by, 'deals', d.id::text
    from public.deals d
  union all
  select l.workspace_id, (l.row_id)::uuid, null::uuid, l.changed_at,
         'change', l.action, null, null, l.changes::text, l.changed_by, 'audit_log', l.id::text
    from public.audit_log l where l.table_name in ('contacts', 'companies') and l.table_name = 'contacts'
  union all
  select l.workspace_id, null::uuid, (l.row_id)::uuid, l.changed_at,
         'change', l.action, null, null, l.changes::text, l.changed_by, 'audit_log', l.id::text
    from public.audit_log l where l.table_name in ('contacts', 'companies') and l.table_name = 'companies';
revoke all on public.customer_timeline from anon;
