-- Customers: references stay inside one workspace, and a merge can only delete what it emptied.
--
-- Foreign keys check that a contact or company exists, not that it belongs to the row's own
-- workspace, and row-level security checks only the row's own workspace_id. So every table that
-- points at contacts or companies attaches private.check_same_workspace() (contact_id and
-- company_id must be records of the row's workspace); later domains attach it to their tables too.
-- The definer trigger that moves "last contacted" only touches records of the activity's workspace.
-- private.merge_absorb() deletes the merged record as its definer, so it first proves that no row
-- of any table still references it (found through pg_constraint, like the merge itself): it is
-- only the last step of a merge, never a way around the admins-only delete.

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
  return new;
end
$$;

create trigger check_same_workspace before insert or update of company_id on public.contacts
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id, company_id on public.deals
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id, company_id on public.activities
  for each row execute function private.check_same_workspace();
create trigger check_same_workspace before insert or update of contact_id, company_id on public.tasks
  for each row execute function private.check_same_workspace();

create or replace function private.touch_last_contacted() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.contact_id is not null then
    update public.contacts set last_contacted_at = new.occurred_at
     where id = new.contact_id and workspace_id = new.workspace_id
       and (last_contacted_at is null or last_contacted_at < new.occurred_at);
  end if;
  if new.company_id is not null then
    update public.companies set last_contacted_at = new.occurred_at
     where id = new.company_id and workspace_id = new.workspace_id
       and (last_contacted_at is null or last_contacted_at < new.occurred_at);
  end if;
  return null;
end
$$;

-- Authorship is the database's to say: whatever an insert sends, created_by is the caller.
create or replace function private.stamp_author() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (select auth.uid()) is not null then
    new.created_by := (select auth.uid());
  end if;
  return new;
end
$$;
create trigger stamp_author before insert on public.companies for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.contacts for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.deals for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.activities for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.tasks for each row execute function private.stamp_author();

create or replace function private.merge_absorb(p_table text, p_survivor uuid, p_merged uuid)
returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_workspace uuid;
  v_other uuid;
  v_ref record;
  v_left boolean;
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot merge % records.', p_table;
  end if;
  if p_survivor = p_merged then
    raise exception 'A record cannot be merged into itself.';
  end if;
  execute format('select workspace_id from public.%I where id = $1', p_table) into v_workspace using p_survivor;
  execute format('select workspace_id from public.%I where id = $1', p_table) into v_other using p_merged;
  if v_workspace is null or v_other is distinct from v_workspace
     or v_workspace not in (select private.my_workspace_ids('agent')) then
    raise exception 'Record not found.' using errcode = 'insufficient_privilege';
  end if;
  -- Every row that pointed at the merged record must have been moved by the caller first.
  for v_ref in
    select n.nspname as schema_name, c.relname as table_name, a.attname as column_name
      from pg_catalog.pg_constraint k
      join pg_catalog.pg_class c on c.oid = k.conrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
     where k.contype = 'f' and k.confrelid = format('public.%I', p_table)::regclass
       and cardinality(k.conkey) = 1
  loop
    execute format('select exists (select 1 from %I.%I where %I = $1)', v_ref.schema_name, v_ref.table_name,
                   v_ref.column_name) into v_left using p_merged;
    if v_left then
      raise exception 'Move every record linked to the merged one first (%.% still points at it).',
        v_ref.table_name, v_ref.column_name using errcode = 'foreign_key_violation';
    end if;
  end loop;
  execute format(
    'update public.%1$I s set lead_at = least(s.lead_at, m.lead_at), prospect_at = least(s.prospect_at, m.prospect_at),
            customer_at = least(s.customer_at, m.customer_at), churned_at = least(s.churned_at, m.churned_at),
            last_contacted_at = greatest(s.last_contacted_at, m.last_contacted_at)
       from public.%1$I m where s.id = $1 and m.id = $2', p_table) using p_survivor, p_merged;
  execute format('delete from public.%I where id = $1', p_table) using p_merged;
end
$$;

-- A merge entry is written only for a merge that happened: the merged record must be gone.
create or replace function private.log_merge(p_table text, p_survivor uuid, p_merged uuid, p_details jsonb)
returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_workspace uuid;
  v_still boolean;
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot merge % records.', p_table;
  end if;
  execute format('select workspace_id from public.%I where id = $1', p_table) into v_workspace using p_survivor;
  execute format('select exists (select 1 from public.%I where id = $1)', p_table) into v_still using p_merged;
  if v_workspace is null or v_still or v_workspace not in (select private.my_workspace_ids('agent')) then
    raise exception 'Record not found.' using errcode = 'insufficient_privilege';
  end if;
  insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
  values (v_workspace, p_table, p_survivor::text, 'merge', (select auth.uid()),
          jsonb_build_object('merged_id', p_merged) || coalesce(p_details, '{}'));
end
$$;
