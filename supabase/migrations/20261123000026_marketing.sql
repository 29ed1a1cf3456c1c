-- Marketing: segments of contacts (live filters and static lists), campaigns with their audience,
-- members, costs and attribution, email templates, the email outbox and what recipients did.
--
-- segments gains two kinds beside 'rfm': 'filter' (a saved, live filter over contacts; members
-- computed when read) and 'static' (a frozen list: its members are rows of segment_members).
-- campaigns: channel, dates, budget/actual cost, status, audience (a segment); at launch the
-- audience is snapshotted into campaign_members (one row per contact, with why a contact was
-- excluded: no consent, unsubscribed, no email). Deals and orders may carry a campaign: the
-- campaign's attributed revenue and ROI come from them.
-- campaign_posts: non-email channels planned on the campaign calendar (nothing is posted).
-- email_templates: subject and body with merge fields (rendered by a sandboxed Jinja2).
-- outbox: one row per recipient and message, with a stable Message-ID; a worker claims rows
-- (FOR UPDATE SKIP LOCKED) as service_role, so a row is sent by one worker at a time, and a
-- crashed claim is retried after its lease expires. email_events: clicks and unsubscribes.
-- private.app_secrets holds the key that signs unsubscribe links (read by service_role only).
-- Policies: members read; agents and above write; admins delete. The worker and the public
-- unsubscribe page act as service_role (server-side code, never a browser's role; locally the
-- app's login role may switch to it, see supabase/local/bootstrap.sql).

create table private.app_secrets (
  name text primary key,
  value text not null,
  created_at timestamptz not null default now()
);
alter table private.app_secrets enable row level security;
revoke all on private.app_secrets from public, anon, authenticated;
grant select on private.app_secrets to service_role;
insert into private.app_secrets (name, value)
values ('unsubscribe_key', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
on conflict (name) do nothing;

alter table public.segments drop constraint if exists segments_kind_check;
alter table public.segments add constraint segments_kind_check check (kind in ('rfm', 'filter', 'static'));

create table public.segment_members (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  segment_id uuid not null references public.segments (id) on delete cascade,
  contact_id uuid not null references public.contacts (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (segment_id, contact_id)
);
create index segment_members_contact_idx on public.segment_members (contact_id);
create index segment_members_workspace_idx on public.segment_members (workspace_id);

create table public.email_templates (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  subject text not null check (length(btrim(subject)) between 1 and 300),
  body text not null check (length(body) between 1 and 100000),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index email_templates_workspace_idx on public.email_templates (workspace_id, name);
create index email_templates_created_by_idx on public.email_templates (created_by);

create table public.campaigns (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  channel text not null default 'email' check (channel in ('email', 'social', 'event', 'ads', 'other')),
  status text not null default 'draft'
    check (status in ('draft', 'scheduled', 'running', 'completed', 'cancelled')),
  starts_on date,
  ends_on date,
  budget numeric(14, 2) check (budget >= 0),
  actual_cost numeric(14, 2) check (actual_cost >= 0),
  currency text not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  segment_id uuid references public.segments (id) on delete set null,
  template_id uuid references public.email_templates (id) on delete set null,
  scheduled_at timestamptz,
  launched_at timestamptz,
  description text check (length(description) <= 10000),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  check (ends_on is null or starts_on is null or ends_on >= starts_on)
);
create index campaigns_workspace_idx on public.campaigns (workspace_id, starts_on desc);
create index campaigns_segment_idx on public.campaigns (segment_id);
create index campaigns_template_idx on public.campaigns (template_id);
create index campaigns_created_by_idx on public.campaigns (created_by);

create table public.campaign_members (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  campaign_id uuid not null references public.campaigns (id) on delete cascade,
  contact_id uuid not null references public.contacts (id) on delete cascade,
  status text not null default 'targeted'
    check (status in ('targeted', 'excluded', 'sent', 'failed', 'opened_link', 'replied', 'converted', 'unsubscribed')),
  excluded_reason text check (length(excluded_reason) <= 200),
  sent_at timestamptz,
  clicked_at timestamptz,
  converted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (campaign_id, contact_id)
);
create index campaign_members_contact_idx on public.campaign_members (contact_id);
create index campaign_members_workspace_idx on public.campaign_members (workspace_id, campaign_id, status);

create table public.campaign_posts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  campaign_id uuid not null references public.campaigns (id) on delete cascade,
  channel text not null check (channel in ('social', 'event', 'ads', 'other')),
  planned_at timestamptz not null,
  title text not null check (length(btrim(title)) between 1 and 200),
  content text check (length(content) <= 10000),
  done boolean not null default false,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index campaign_posts_calendar_idx on public.campaign_posts (workspace_id, planned_at);
create index campaign_posts_campaign_idx on public.campaign_posts (campaign_id);
create index campaign_posts_created_by_idx on public.campaign_posts (created_by);

create table public.outbox (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  campaign_id uuid references public.campaigns (id) on delete set null,
  contact_id uuid references public.contacts (id) on delete set null,
  to_email text not null check (to_email ~ '^[^@\s]+@[^@\s]+$'),
  subject text not null check (length(subject) <= 998),
  body_text text not null,
  body_html text,
  message_id text not null unique check (length(message_id) <= 998),
  status text not null default 'queued' check (status in ('queued', 'sending', 'sent', 'failed')),
  send_after timestamptz not null default now(),
  attempts integer not null default 0,
  claimed_at timestamptz,
  claimed_by text,
  sent_at timestamptz,
  last_error text check (length(last_error) <= 2000),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index outbox_due_idx on public.outbox (send_after) where status in ('queued', 'sending');
create index outbox_campaign_idx on public.outbox (campaign_id, status);
create index outbox_contact_idx on public.outbox (contact_id);
create index outbox_workspace_idx on public.outbox (workspace_id, created_at desc);
create index outbox_created_by_idx on public.outbox (created_by);

create table public.email_events (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  outbox_id uuid references public.outbox (id) on delete set null,
  campaign_id uuid references public.campaigns (id) on delete set null,
  contact_id uuid references public.contacts (id) on delete set null,
  kind text not null check (kind in ('click', 'unsubscribe')),
  url text check (length(url) <= 2000),
  occurred_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index email_events_contact_idx on public.email_events (contact_id, occurred_at desc);
create index email_events_campaign_idx on public.email_events (campaign_id, kind);
create index email_events_outbox_idx on public.email_events (outbox_id);
create index email_events_workspace_idx on public.email_events (workspace_id, occurred_at desc);

-- deals.campaign_id exists since the deals migration (a plain uuid, waiting for this table).
alter table public.deals add constraint deals_campaign_id_fkey
  foreign key (campaign_id) references public.campaigns (id) on delete set null;
alter table public.orders add column campaign_id uuid references public.campaigns (id) on delete set null;
create index if not exists deals_campaign_idx on public.deals (campaign_id);
create index orders_campaign_idx on public.orders (campaign_id);
grant update (campaign_id) on public.deals, public.orders to authenticated;

create trigger check_same_workspace before insert or update of contact_id on public.segment_members
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id on public.campaign_members
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id on public.outbox
  for each row execute function private.check_same_workspace();
create trigger stamp_author before insert on public.email_templates for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.campaigns for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.campaign_posts for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.outbox for each row execute function private.stamp_author();

do $$
declare
  v_table text;
begin
  foreach v_table in array array['segment_members', 'email_templates', 'campaigns', 'campaign_members',
                                  'campaign_posts', 'outbox', 'email_events'] loop
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

grant update (name, subject, body) on public.email_templates to authenticated;
grant update (name, channel, status, starts_on, ends_on, budget, actual_cost, currency, segment_id, template_id,
              scheduled_at, launched_at, description) on public.campaigns to authenticated;
grant update (status, excluded_reason, sent_at, clicked_at, converted_at) on public.campaign_members to authenticated;
grant update (channel, planned_at, title, content, done) on public.campaign_posts to authenticated;
-- The outbox is written by users (queue, cancel) and by the worker (service_role, which bypasses RLS).
grant update (status, send_after) on public.outbox to authenticated;
grant select, insert, update on public.outbox, public.email_events, public.campaign_members to service_role;
grant select, update (consent, consent_at, consent_source) on public.contacts to service_role;
