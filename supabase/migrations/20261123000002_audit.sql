-- Audit log: who changed which row of which table, when, and which fields.
--
-- private.audit_row() is one generic trigger that every domain table attaches with
--   create trigger audit after insert or update or delete on public.<table>
--     for each row execute function private.audit_row();
-- It reads the row's workspace_id (a workspace's own id for public.workspaces) and id, and
-- stores inserts and deletes as the whole row, updates as {field: {old, new}} of what changed.
-- Columns named in private.audit_ignored_columns() (bookkeeping and secrets) are left out.
-- Members read their workspace's audit rows; no policy lets anyone write or change them, and
-- there is no foreign key to workspaces so the log outlives what it describes.

create table public.audit_log (
  id bigint generated always as identity primary key,
  workspace_id uuid not null,
  table_name text not null,
  row_id text,
  action text not null check (action in ('insert', 'update', 'delete')),
  changed_by uuid,
  changed_at timestamptz not null default now(),
  changes jsonb not null default '{}'
);
create index audit_log_workspace_idx on public.audit_log (workspace_id, changed_at desc, id desc);
create index audit_log_row_idx on public.audit_log (workspace_id, table_name, row_id);

alter table public.audit_log enable row level security;
revoke all on public.audit_log from anon;
revoke insert, update, delete, truncate, trigger, references on public.audit_log from authenticated;

-- Invitation rows (invitee emails) are for admins, as the invitations table itself is.
create policy audit_log_select on public.audit_log for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer'))
         and (table_name <> 'invitations' or workspace_id in (select private.my_workspace_ids('admin'))));

create or replace function private.audit_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select array['updated_at', 'version', 'token_hash']
$$;

create or replace function private.audit_row() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_old jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  v_new jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_ignored text[] := private.audit_ignored_columns();
  v_changes jsonb;
begin
  if tg_op = 'UPDATE' then
    select coalesce(jsonb_object_agg(n.key, jsonb_build_object('old', v_old -> n.key, 'new', n.value)), '{}')
      into v_changes
      from jsonb_each(v_new) n
     where n.value is distinct from v_old -> n.key and n.key <> all (v_ignored);
    if v_changes = '{}' then
      return null;
    end if;
  else
    v_changes := v_row - v_ignored;
  end if;
  insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
  values (
    coalesce((v_row ->> 'workspace_id')::uuid,
             case when tg_table_name = 'workspaces' then (v_row ->> 'id')::uuid end),
    tg_table_name, v_row ->> 'id', lower(tg_op), (select auth.uid()), v_changes);
  return null;
end
$$;

create trigger audit after insert or update or delete on public.workspaces
  for each row execute function private.audit_row();
create trigger audit after insert or update or delete on public.workspace_members
  for each row execute function private.audit_row();
create trigger audit after insert or update or delete on public.invitations
  for each row execute function private.audit_row();
