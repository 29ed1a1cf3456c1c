-- A credited deal that is won, or a credited order that becomes a sale, converts the contact's
-- campaign membership whenever it happens; and the campaign audit keeps the campaign and skips
-- updates that change nothing.
--
-- 1. private.convert_campaign_member (after insert/update on deals and orders): until now only
--    crediting an already-won deal (lib/campaign_results.attribute) marked the member converted,
--    so "credit an open deal, win it later" never counted in the member funnel. The trigger runs
--    with the caller's rights (RLS applies: whoever may change the deal may change members).
-- 2. private.audit_by_campaign (migration …30) again: an update is filed under the campaign the
--    rows had before (`on delete set null` left the entry without one), rows where nothing but
--    version/updated_at changed are not counted (a second click on a link), a campaign that was
--    removed shows as the move "campaign removed", and a statement of at most 20 rows lists its
--    contacts, so a person's edit of a few members says whom it touched.

create or replace function private.convert_campaign_member() returns trigger
language plpgsql set search_path = '' as $$
begin
  update public.campaign_members m
     set status = 'converted', converted_at = coalesce(m.converted_at, now())
   where m.workspace_id = new.workspace_id and m.campaign_id = new.campaign_id and m.contact_id = new.contact_id
     and m.status not in ('excluded', 'unsubscribed', 'converted');
  return null;
end
$$;

create trigger convert_campaign_member_insert after insert on public.deals for each row
  when (new.campaign_id is not null and new.contact_id is not null and new.status = 'won')
  execute function private.convert_campaign_member();
create trigger convert_campaign_member_update after update on public.deals for each row
  when (new.campaign_id is not null and new.contact_id is not null and new.status = 'won'
        and (old.status is distinct from 'won' or old.campaign_id is distinct from new.campaign_id
             or old.contact_id is distinct from new.contact_id))
  execute function private.convert_campaign_member();
create trigger convert_campaign_member_insert after insert on public.orders for each row
  when (new.campaign_id is not null and new.contact_id is not null
        and new.status in ('confirmed', 'shipped', 'invoiced', 'paid'))
  execute function private.convert_campaign_member();
create trigger convert_campaign_member_update after update on public.orders for each row
  when (new.campaign_id is not null and new.contact_id is not null
        and new.status in ('confirmed', 'shipped', 'invoiced', 'paid')
        and (old.status not in ('confirmed', 'shipped', 'invoiced', 'paid')
             or old.campaign_id is distinct from new.campaign_id or old.contact_id is distinct from new.contact_id))
  execute function private.convert_campaign_member();

-- The insert and delete triggers name their transition table alike (changed_rows), so one
-- statement serves both; the update trigger compares old_rows with new_rows.
create or replace function private.audit_by_campaign() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op in ('INSERT', 'DELETE') then
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select s.workspace_id, tg_table_name, s.campaign_id::text, lower(tg_op), (select auth.uid()),
           jsonb_strip_nulls(jsonb_build_object(
             'rows', sum(s.n), 'status', jsonb_object_agg(s.move, s.n),
             'contacts', case when sum(s.n) <= 20 then jsonb_path_query_array(jsonb_agg(s.contacts), '$[*][*]') end))
      from (select r.workspace_id, r.campaign_id, r.status as move, count(*) as n,
                   jsonb_agg(r.contact_id) filter (where r.total <= 20) as contacts
              from (select x.*, count(*) over (partition by x.workspace_id, x.campaign_id) as total
                      from changed_rows x) r
             group by 1, 2, 3) s
     group by s.workspace_id, s.campaign_id;
  else
    insert into public.audit_log (workspace_id, table_name, row_id, action, changed_by, changes)
    select s.workspace_id, tg_table_name, s.campaign_id::text, 'update', (select auth.uid()),
           jsonb_strip_nulls(jsonb_build_object(
             'rows', sum(s.n),
             'status', coalesce(jsonb_object_agg(s.move, s.n) filter (where s.move is not null), '{}'),
             'contacts', case when sum(s.n) <= 20 then jsonb_path_query_array(jsonb_agg(s.contacts), '$[*][*]') end))
      from (select r.workspace_id, r.campaign_id, r.move, count(*) as n,
                   jsonb_agg(r.contact_id) filter (where r.total <= 20) as contacts
              from (select c.*, count(*) over (partition by c.workspace_id, c.campaign_id) as total
                      from (select n.workspace_id, coalesce(o.campaign_id, n.campaign_id) as campaign_id, n.contact_id,
                                   case when o.status is distinct from n.status then o.status || ' → ' || n.status
                                        when n.campaign_id is null and o.campaign_id is not null then 'campaign removed'
                                   end as move
                              from new_rows n join old_rows o on o.id = n.id
                             where to_jsonb(o) - 'version' - 'updated_at'
                                   is distinct from to_jsonb(n) - 'version' - 'updated_at') c) r
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
    execute format('drop trigger audit_insert on public.%I', v_table);
    execute format('drop trigger audit_delete on public.%I', v_table);
    execute format('create trigger audit_insert after insert on public.%I referencing new table as changed_rows
                      for each statement execute function private.audit_by_campaign()', v_table);
    execute format('create trigger audit_delete after delete on public.%I referencing old table as changed_rows
                      for each statement execute function private.audit_by_campaign()', v_table);
  end loop;
end
$$;
