-- Merging contacts keeps their customer portal: the merge (lib/merge.py) points every row that
-- references the merged contact at the survivor, which needs UPDATE on the contact_id columns of
-- portal_users and invitations. Agents and above may make that move, as for every other row of
-- the contact; the portal user then sees the survivor's tickets, which are theirs now.

grant update (contact_id) on public.portal_users to authenticated;
grant update (contact_id) on public.invitations to authenticated;
create policy portal_users_update on public.portal_users for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')))
  with check (workspace_id in (select private.my_workspace_ids('agent')));
