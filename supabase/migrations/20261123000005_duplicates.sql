-- Duplicates: remembering "not a duplicate", and the one step of a merge users cannot do alone.
--
-- Candidate pairs are computed by lib/merge.py in one statement under row-level security: records
-- are compared (pg_trgm similarity of private.fold(name)) only within groups sharing an email,
-- a phone, a company, an email domain or a word of a company's name. No trigram index serves
-- that: under RLS Postgres uses an index only for leakproof operators, and pg_trgm's `%` is not
-- (only a superuser could mark it), so such a query would scan anyway; grouping is faster.
-- public.duplicate_dismissals keeps the pairs a colleague marked as not duplicates. It has no
-- foreign keys: a pair names two contacts or two companies, and a merge deletes the merged
-- record's dismissals itself (they must not be moved onto the survivor like related rows).
-- private.merge_absorb() carries the merged record's stage dates and last contact over to the
-- survivor (columns users do not write) and deletes the merged record (hard deletes are for
-- admins otherwise); everything else in a merge runs as the user under row-level security.

create table public.duplicate_dismissals (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  record_type text not null check (record_type in ('contact', 'company')),
  record_a uuid not null,
  record_b uuid not null,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  check (record_a < record_b),
  unique (workspace_id, record_type, record_a, record_b)
);
create index duplicate_dismissals_b_idx on public.duplicate_dismissals (workspace_id, record_b);
create index duplicate_dismissals_created_by_idx on public.duplicate_dismissals (created_by);

create trigger bump_version before update on public.duplicate_dismissals
  for each row execute function private.bump_version();
create trigger audit after insert or update or delete on public.duplicate_dismissals
  for each row execute function private.audit_row();
alter table public.duplicate_dismissals enable row level security;
revoke all on public.duplicate_dismissals from anon;
revoke truncate, trigger, references, update on public.duplicate_dismissals from authenticated;

-- Every member reads; agents and above (who may merge) dismiss pairs and take dismissals back.
-- Nothing about a dismissal is edited (no update privilege); the update policy is there so
-- that every command has its one policy, as on every other table.
create policy duplicate_dismissals_select on public.duplicate_dismissals for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')));
create policy duplicate_dismissals_insert on public.duplicate_dismissals for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy duplicate_dismissals_update on public.duplicate_dismissals for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')))
  with check (workspace_id in (select private.my_workspace_ids('agent')));
create policy duplicate_dismissals_delete on public.duplicate_dismissals for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')));

-- The last step of a merge, after the user moved the related rows and updated the survivor:
-- the survivor keeps the earliest date each stage was entered and the latest contact, and the
-- merged record is deleted. Both records must be of one workspace where the caller is an agent.
create or replace function private.merge_absorb(p_table text, p_survivor uuid, p_merged uuid)
returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_workspace uuid;
  v_other uuid;
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
  execute format(
    'update public.%1$I s set lead_at = least(s.lead_at, m.lead_at), prospect_at = least(s.prospect_at, m.prospect_at),
            customer_at = least(s.customer_at, m.customer_at), churned_at = least(s.churned_at, m.churned_at),
            last_contacted_at = greatest(s.last_contacted_at, m.last_contacted_at)
       from public.%1$I m where s.id = $1 and m.id = $2', p_table) using p_survivor, p_merged;
  execute format('delete from public.%I where id = $1', p_table) using p_merged;
end
$$;
revoke all on function private.merge_absorb(text, uuid, uuid) from public;
grant execute on function private.merge_absorb(text, uuid, uuid) to authenticated;
