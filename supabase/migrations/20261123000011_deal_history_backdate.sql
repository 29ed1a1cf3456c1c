-- Deals: put the real dates on deal stage history written today (demo data, imports of old deals).
--
-- deal_stage_history is written only by the trigger private.record_deal_stage, with now() as
-- its timestamps, so deals created in one go (the demo generator, an import of another CRM's
-- opportunities) would all look as if they had moved today. private.backdate_deal_history
-- lets an owner or admin of a workspace give the history rows of that workspace's deals their
-- real times: p_rows is a JSON array of {"deal_id": uuid, "times": [timestamptz, ...]}, one
-- time per history row of the deal, oldest first (ascending, none in the future). Each row's
-- entered_at becomes its time and left_at the next row's time (the last row stays open if the
-- deal is still in that stage); the deal's created_at becomes the first time, stage_entered_at
-- the last, and closed_at the last when the deal is won or lost. The deal updates go through
-- the audit trigger like any other change, so the log records who rewrote which dates.
-- A list that does not match the deal's history row count is refused, as a whole.

create or replace function private.backdate_times(p_rows jsonb)
returns table (deal_id uuid, n integer, at timestamptz, next_at timestamptz)
language sql stable set search_path = '' as $$
  select (r.value ->> 'deal_id')::uuid, t.n::integer, t.at::timestamptz,
         lead(t.at::timestamptz) over (partition by r.value ->> 'deal_id' order by t.n)
    from jsonb_array_elements(p_rows) r
    cross join lateral jsonb_array_elements_text(r.value -> 'times') with ordinality as t (at, n)
$$;
revoke all on function private.backdate_times(jsonb) from public;

create or replace function private.backdate_deal_history(p_workspace uuid, p_rows jsonb) returns integer
language plpgsql security definer set search_path = '' as $$
declare
  v_bad uuid;
  v_rows integer;
begin
  if p_workspace is null or p_workspace not in (select private.my_workspace_ids('admin')) then
    raise exception 'Only owners and admins can change the dates of deal history.'
      using errcode = 'insufficient_privilege';
  end if;
  -- Ascending, not in the future, and exactly one time per history row of a deal of this workspace.
  select b.deal_id into v_bad from private.backdate_times(p_rows) b
   where b.at > now() or b.next_at < b.at limit 1;
  if v_bad is null then
    select coalesce(b.deal_id, h.deal_id) into v_bad
      from (select t.deal_id, count(*) as n from private.backdate_times(p_rows) t group by t.deal_id) b
      left join (select x.deal_id, count(*) as n from public.deal_stage_history x
                  where x.workspace_id = p_workspace
                    and x.deal_id in (select t.deal_id from private.backdate_times(p_rows) t)
                  group by x.deal_id) h on h.deal_id = b.deal_id
     where b.n is distinct from h.n
     limit 1;
  end if;
  if v_bad is not null then
    raise exception 'The times given for deal % do not match its stage history.', v_bad
      using errcode = 'invalid_parameter_value';
  end if;

  with times as (
    select * from private.backdate_times(p_rows)
  ), numbered as (
    select h.id, h.deal_id, row_number() over (partition by h.deal_id order by h.entered_at, h.id) as n
      from public.deal_stage_history h
     where h.workspace_id = p_workspace and h.deal_id in (select t.deal_id from times t)
  )
  update public.deal_stage_history h
     set entered_at = t.at,
         left_at = case when t.next_at is null then h.left_at else t.next_at end
    from numbered x join times t on t.deal_id = x.deal_id and t.n = x.n
   where h.id = x.id;
  get diagnostics v_rows = row_count;

  update public.deals d
     set created_at = f.first_at,
         stage_entered_at = f.last_at,
         closed_at = case when d.status = 'open' then null else f.last_at end
    from (select t.deal_id, min(t.at) as first_at, max(t.at) as last_at
            from private.backdate_times(p_rows) t group by t.deal_id) f
   where d.id = f.deal_id and d.workspace_id = p_workspace;
  return v_rows;
end
$$;
revoke all on function private.backdate_deal_history(uuid, jsonb) from public;
grant execute on function private.backdate_deal_history(uuid, jsonb) to authenticated;
