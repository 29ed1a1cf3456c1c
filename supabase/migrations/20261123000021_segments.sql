-- Saved customer segments: a name and a definition, members computed when needed.
--
-- The Customers analytics page saves an RFM segment ("At risk as of 2011-12-10, GBP") as a row
-- here: `kind` says which rule the definition follows ('rfm' for now; the marketing issue adds
-- its own kinds), `definition` holds that rule's parameters (segment name, currency, snapshot
-- date or null for "always at the latest data"), `member_count` the number of members when it
-- was saved. Members are not stored: lib.segments recomputes them from the definition as the
-- reading user, so merged or deleted customers drop out by themselves and row-level security
-- decides what each reader gets (see docs/architecture.md, "Analytics: segments").
-- Policies: members read; agents and above write; admins delete.

create table public.segments (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  kind text not null check (kind ~ '^[a-z_]{1,30}$'),
  definition jsonb not null check (jsonb_typeof(definition) = 'object'),
  member_count integer not null default 0 check (member_count >= 0),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create unique index segments_name_key on public.segments (workspace_id, lower(btrim(name)));
create index segments_created_by_idx on public.segments (created_by);

create trigger stamp_author before insert on public.segments
  for each row execute function private.stamp_author();
create trigger bump_version before update on public.segments
  for each row execute function private.bump_version();
create trigger audit after insert or update or delete on public.segments
  for each row execute function private.audit_row();
alter table public.segments enable row level security;
revoke all on public.segments from anon;
revoke truncate, trigger, references, update on public.segments from authenticated;
create policy segments_select on public.segments for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')));
create policy segments_insert on public.segments for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy segments_update on public.segments for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')))
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy segments_delete on public.segments for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')));
grant update (name, definition, member_count) on public.segments to authenticated;
