-- Campaign references stay inside one workspace.
--
-- A foreign key only says the referenced row exists, not that it belongs to the same workspace:
-- a member of two workspaces could credit a deal of one to a campaign of the other, or point a
-- campaign at another workspace's segment or template, through the API as well as the app.
-- These triggers refuse that, as private.check_same_workspace does for contacts and companies:
-- deals, orders, campaign members and posts, outbox rows and email events name a campaign of
-- their own workspace; a campaign names a segment and a template of its own workspace. The
-- WHEN clause keeps the cost to rows that do name one (bulk inserts without a campaign pay nothing).
--
-- Merging two contacts moves every row pointing at the merged one to the survivor (lib/merge.py,
-- as the user): the marketing tables' contact_id becomes updatable for that, as 0019 did for the
-- portal's tables (a list or campaign holding both keeps one row: the merge drops the duplicate).

create or replace function private.check_campaign_workspace() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if not exists (select 1 from public.campaigns c where c.id = new.campaign_id and c.workspace_id = new.workspace_id) then
    raise exception 'That campaign does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;

create or replace function private.check_campaign_refs() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.segment_id is not null and not exists (
       select 1 from public.segments s where s.id = new.segment_id and s.workspace_id = new.workspace_id) then
    raise exception 'That segment does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  if new.template_id is not null and not exists (
       select 1 from public.email_templates t where t.id = new.template_id and t.workspace_id = new.workspace_id) then
    raise exception 'That template does not exist in this workspace.' using errcode = 'foreign_key_violation';
  end if;
  return new;
end
$$;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['deals', 'orders', 'campaign_members', 'campaign_posts', 'outbox', 'email_events'] loop
    execute format('create trigger check_campaign_workspace before insert or update of campaign_id on public.%I
                      for each row when (new.campaign_id is not null)
                      execute function private.check_campaign_workspace()', v_table);
  end loop;
end
$$;

create trigger check_campaign_refs before insert or update of segment_id, template_id on public.campaigns
  for each row when (new.segment_id is not null or new.template_id is not null)
  execute function private.check_campaign_refs();

grant update (contact_id) on public.segment_members, public.campaign_members, public.outbox, public.email_events
  to authenticated;
