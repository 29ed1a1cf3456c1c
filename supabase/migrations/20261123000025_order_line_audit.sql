-- Order lines are audited per order and statement, not per line.
--
-- An order's lines are part of the order: saving an order replaces its lines in one statement,
-- and an import inserts half a million lines in a few statements. A row trigger wrote one audit
-- row per line (31 s of a 53 s retail import); this statement trigger reads the transition
-- tables and writes one audit row per order touched by the statement, row_id = the order:
-- insert/delete carry how many lines and their amount; update carries each changed line's
-- field changes (old → new), like private.audit_row does for a row.

drop trigger audit on public.order_lines;

create or replace function private.audit_order_lines() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select n.workspace_id, 'order_lines', n.order_id::text, 'insert', (select auth.uid()),
           jsonb_build_object('lines', count(*), 'amount', sum(n.amount))
      from new_rows n group by n.workspace_id, n.order_id;
  elsif tg_op = 'DELETE' then
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select o.workspace_id, 'order_lines', o.order_id::text, 'delete', (select auth.uid()),
           jsonb_build_object('lines', count(*), 'amount', sum(o.amount))
      from old_rows o group by o.workspace_id, o.order_id;
  else
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select n.workspace_id, 'order_lines', n.order_id::text, 'update', (select auth.uid()),
           jsonb_build_object('lines', jsonb_agg(jsonb_build_object('id', n.id, 'changes', d.changes)))
      from new_rows n join old_rows o on o.id = n.id
      cross join lateral (
        select coalesce(jsonb_object_agg(k.key, jsonb_build_object('old', to_jsonb(o) -> k.key, 'new', k.value)),
                        '{}') as changes
          from jsonb_each(to_jsonb(n)) k
         where k.value is distinct from to_jsonb(o) -> k.key and k.key <> all (private.audit_ignored_columns())) d
     where d.changes <> '{}'
     group by n.workspace_id, n.order_id;
  end if;
  return null;
end
$$;

create trigger audit_insert after insert on public.order_lines
  referencing new table as new_rows for each statement execute function private.audit_order_lines();
create trigger audit_update after update on public.order_lines
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.audit_order_lines();
create trigger audit_delete after delete on public.order_lines
  referencing old table as old_rows for each statement execute function private.audit_order_lines();
