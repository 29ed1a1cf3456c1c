-- Tenancy: workspaces, their members and roles, invitations, and user profiles.
--
-- One business = one workspace. Every later table carries workspace_id and is guarded by the
-- helper private.my_workspace_ids(min_role): security definer with search_path = '' in the
-- schema private, which the Supabase API does not expose, and called as `(select ...)` so
-- Postgres evaluates it once per statement, not once per row (Supabase's RLS advice).
-- Roles, highest first: owner, admin, manager, agent, viewer. Viewers only read; owners and
-- admins manage members; only owners make or unmake owners; a workspace keeps one owner.

create schema if not exists private;
grant usage on schema private to anon, authenticated, service_role;

-- Shared trigger: bump version (optimistic locking) and updated_at on every update.
create or replace function private.bump_version() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.version := old.version + 1;
  new.updated_at := now();
  return new;
end
$$;

create or replace function private.role_rank(p_role text) returns integer
language sql immutable set search_path = '' as $$
  select case p_role
    when 'owner' then 5 when 'admin' then 4 when 'manager' then 3
    when 'agent' then 2 when 'viewer' then 1 else 0 end
$$;

create table public.workspaces (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 100),
  created_by uuid not null default auth.uid() references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index workspaces_created_by_idx on public.workspaces (created_by);

create table public.workspace_members (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'manager', 'agent', 'viewer')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, user_id)
);
create index workspace_members_user_id_idx on public.workspace_members (user_id, workspace_id, role);

create table public.invitations (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  email text check (email is null or email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  role text not null check (role in ('admin', 'manager', 'agent', 'viewer')),
  token_hash text not null unique,
  expires_at timestamptz not null default now() + interval '7 days',
  created_by uuid not null default auth.uid() references auth.users (id),
  created_at timestamptz not null default now(),
  accepted_by uuid references auth.users (id),
  accepted_at timestamptz,
  revoked_at timestamptz,
  updated_at timestamptz not null default now(),
  version integer not null default 1
);
create index invitations_workspace_id_idx on public.invitations (workspace_id, created_at desc);

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null check (length(btrim(display_name)) between 1 and 100),
  email text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1
);

create trigger bump_version before update on public.workspaces
  for each row execute function private.bump_version();
create trigger bump_version before update on public.workspace_members
  for each row execute function private.bump_version();
create trigger bump_version before update on public.invitations
  for each row execute function private.bump_version();
create trigger bump_version before update on public.profiles
  for each row execute function private.bump_version();

-- Workspaces the signed-in user belongs to with at least p_min_role.
create or replace function private.my_workspace_ids(p_min_role text default 'viewer')
returns setof uuid
language sql stable security definer set search_path = '' as $$
  select m.workspace_id
  from public.workspace_members m
  where m.user_id = (select auth.uid())
    and private.role_rank(m.role) >= private.role_rank(p_min_role)
$$;

-- Users who share at least one workspace with the signed-in user (for profile names).
create or replace function private.co_member_ids()
returns setof uuid
language sql stable security definer set search_path = '' as $$
  select distinct other.user_id
  from public.workspace_members me
  join public.workspace_members other on other.workspace_id = me.workspace_id
  where me.user_id = (select auth.uid())
$$;

revoke all on function private.my_workspace_ids(text), private.co_member_ids() from public;
grant execute on function private.my_workspace_ids(text), private.co_member_ids(), private.role_rank(text)
  to authenticated, service_role;

-- The creator of a workspace becomes its owner.
create or replace function private.add_workspace_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.workspace_members (workspace_id, user_id, role)
  values (new.id, new.created_by, 'owner');
  return null;
end
$$;
create trigger add_owner after insert on public.workspaces
  for each row execute function private.add_workspace_owner();

-- A workspace that still exists keeps at least one owner.
create or replace function private.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role = 'owner'
     and exists (select 1 from public.workspaces w where w.id = old.workspace_id)
     and not exists (select 1 from public.workspace_members m
                     where m.workspace_id = old.workspace_id and m.role = 'owner') then
    raise exception 'A workspace needs at least one owner. Make someone else owner first.'
      using errcode = 'check_violation';
  end if;
  return null;
end
$$;
create constraint trigger keep_an_owner after update or delete on public.workspace_members
  deferrable initially immediate
  for each row execute function private.keep_an_owner();

-- Profiles are made by the sign-up, from the display name GoTrue stores in user metadata;
-- the email is copied so colleagues can see it without access to auth.users.
create or replace function private.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, display_name, email)
  values (new.id, coalesce(nullif(btrim(new.raw_user_meta_data ->> 'display_name'), ''),
                           split_part(new.email, '@', 1), 'user'), new.email)
  on conflict (id) do nothing;
  return new;
end
$$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function private.handle_new_user();

create or replace function private.handle_user_email_change() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end
$$;
create trigger on_auth_user_email_changed after update of email on auth.users
  for each row when (old.email is distinct from new.email)
  execute function private.handle_user_email_change();

-- Invitation links: the token is shown once; only its sha256 is stored.
create or replace function private.accept_invitation(p_token text) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  v_uid uuid := (select auth.uid());
  v_inv public.invitations;
begin
  if v_uid is null then
    raise exception 'Sign in to accept an invitation.' using errcode = 'insufficient_privilege';
  end if;
  select * into v_inv from public.invitations
   where token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
   for update;
  if not found or v_inv.revoked_at is not null then
    raise exception 'This invitation link is not valid. Ask for a new one.' using errcode = 'P0002';
  end if;
  if v_inv.accepted_at is not null then
    raise exception 'This invitation has already been used. Ask for a new one.' using errcode = 'P0002';
  end if;
  if v_inv.expires_at < now() then
    raise exception 'This invitation expired on %. Ask for a new one.',
      to_char(v_inv.expires_at, 'YYYY-MM-DD') using errcode = 'P0002';
  end if;
  if v_inv.email is not null and lower(v_inv.email) is distinct from lower((select auth.jwt()) ->> 'email') then
    raise exception 'This invitation was sent to another email address.' using errcode = 'P0002';
  end if;
  insert into public.workspace_members (workspace_id, user_id, role)
  values (v_inv.workspace_id, v_uid, v_inv.role)
  on conflict (workspace_id, user_id) do nothing;
  update public.invitations set accepted_at = now(), accepted_by = v_uid where id = v_inv.id;
  return v_inv.workspace_id;
end
$$;
revoke all on function private.accept_invitation(text) from public;
grant execute on function private.accept_invitation(text) to authenticated;

-- What an invitation link offers, for the page that accepts it (before or after sign-up).
create or replace function private.invitation_preview(p_token text)
returns table (workspace_name text, role text, email text, expires_at timestamptz, usable boolean)
language sql stable security definer set search_path = '' as $$
  select w.name, i.role, i.email, i.expires_at,
         i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
  from public.invitations i
  join public.workspaces w on w.id = i.workspace_id
  where i.token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
$$;
revoke all on function private.invitation_preview(text) from public;
grant execute on function private.invitation_preview(text) to anon, authenticated;

-- Row-level security: one policy per operation, for signed-in users only.
alter table public.workspaces enable row level security;
alter table public.workspace_members enable row level security;
alter table public.invitations enable row level security;
alter table public.profiles enable row level security;
revoke all on public.workspaces, public.workspace_members, public.invitations, public.profiles from anon;
-- TRUNCATE ignores RLS; TRIGGER and REFERENCES are not for API users either.
revoke truncate, trigger, references
  on public.workspaces, public.workspace_members, public.invitations, public.profiles from authenticated;
-- Only these columns may be changed by users; the rest is set by defaults and triggers.
revoke update on public.workspaces, public.workspace_members, public.invitations, public.profiles from authenticated;
grant update (name) on public.workspaces to authenticated;
grant update (role) on public.workspace_members to authenticated;
grant update (revoked_at) on public.invitations to authenticated;
grant update (display_name) on public.profiles to authenticated;

create policy workspaces_select on public.workspaces for select to authenticated
  using (id in (select private.my_workspace_ids('viewer')));
create policy workspaces_insert on public.workspaces for insert to authenticated
  with check (created_by = (select auth.uid()));
create policy workspaces_update on public.workspaces for update to authenticated
  using (id in (select private.my_workspace_ids('admin')))
  with check (id in (select private.my_workspace_ids('admin')));
create policy workspaces_delete on public.workspaces for delete to authenticated
  using (id in (select private.my_workspace_ids('owner')));

create policy workspace_members_select on public.workspace_members for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')));
-- No insert policy: people join only through private.accept_invitation() or by creating a
-- workspace, never by an admin writing someone's user id into the table.
create policy workspace_members_update on public.workspace_members for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin'))
         and (role <> 'owner' or workspace_id in (select private.my_workspace_ids('owner'))))
  with check (workspace_id in (select private.my_workspace_ids('admin'))
              and (role <> 'owner' or workspace_id in (select private.my_workspace_ids('owner'))));
create policy workspace_members_delete on public.workspace_members for delete to authenticated
  using (user_id = (select auth.uid())
         or (workspace_id in (select private.my_workspace_ids('admin'))
             and (role <> 'owner' or workspace_id in (select private.my_workspace_ids('owner')))));

create policy invitations_select on public.invitations for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')));
create policy invitations_insert on public.invitations for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('admin')) and created_by = (select auth.uid()));
create policy invitations_update on public.invitations for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')))
  with check (workspace_id in (select private.my_workspace_ids('admin')));
create policy invitations_delete on public.invitations for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin')));

create policy profiles_select on public.profiles for select to authenticated
  using (id = (select auth.uid()) or id in (select private.co_member_ids()));
create policy profiles_insert on public.profiles for insert to authenticated
  with check (id = (select auth.uid()));
create policy profiles_update on public.profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));
create policy profiles_delete on public.profiles for delete to authenticated
  using (id = (select auth.uid()));
