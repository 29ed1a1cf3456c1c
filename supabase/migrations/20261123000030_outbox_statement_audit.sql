-- The outbox and campaign members are audited per campaign and statement, not per row.
--
-- Both tables are written in bulk by machines more than by people: a launch inserts one member
-- and one outbox row per recipient, and the mail worker claims a hundred rows per statement and
-- marks each one sent. The row trigger (private.audit_row) diffed every outbox row as jsonb,
-- message bodies included, and wrote one audit row per row: a third of the worker's time.
-- This statement trigger reads the transition tables and writes one audit row per campaign
-- touched by the statement (row_id = the campaign, null for test sends): how many rows, and how
-- many of them moved from one status to another ("sending → sent": 100). Bodies are not copied
-- into the log; the outbox row itself keeps its status, attempts, last error and times.
-- (PL/pgSQL plans a trigger function per table, so one function serves both tables: each has
-- workspace_id, campaign_id and status.)

create or replace function private.audit_by_campaign() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select s.workspace_id, tg_table_name, s.campaign_id::text, 'insert', (select auth.uid()),
           jsonb_build_object('rows', sum(s.n), 'status', jsonb_object_agg(s.status, s.n))
      from (select workspace_id, campaign_id, status, count(*) as n from new_rows group by 1, 2, 3) s
     group by s.workspace_id, s.campaign_id;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select s.workspace_id, tg_table_name, s.campaign_id::text, 'delete', (select auth.uid()),
           jsonb_build_object('rows', sum(s.n), 'status', jsonb_object_agg(s.status, s.n))
      from (select workspace_id, campaign_id, status, count(*) as n from old_rows group by 1, 2, 3) s
     group by s.workspace_id, s.campaign_id;
  else
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select s.workspace_id, tg_table_name, s.campaign_id::text, 'update', (select auth.uid()),
           jsonb_build_object('rows', sum(s.n),
                              'status', coalesce(jsonb_object_agg(s.move, s.n) filter (where s.move is not null), '{}'))
      from (select n.workspace_id, n.campaign_id,
                   case when o.status is distinct from n.status then o.status || ' → ' || n.status end as move,
                   count(*) as n
              from new_rows n join old_rows o on o.id = n.id
             group by 1, 2, 3) s
     group by s.workspace_id, s.campaign_id;
  end if;
  return null;
end
$$;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['outbox', 'campaign_members'] loop
    execute format('drop trigger audit on public.%I', v_table);
    execute format('create trigger audit_insert after insert on public.%I referencing new table as new_rows
                      for each statement execute function private.audit_by_campaign()', v_table);
    execute format('create trigger audit_update after update on public.%I
                      referencing old table as old_rows new table as new_rows
                      for each statement execute function private.audit_by_campaign()', v_table);
    execute format('create trigger audit_delete after delete on public.%I referencing old table as old_rows
                      for each statement execute function private.audit_by_campaign()', v_table);
  end loop;
end
$$;
