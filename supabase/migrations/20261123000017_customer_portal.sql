-- Customer portal: a contact invited to the portal signs in and sees only their own tickets
-- (public replies only), can open tickets, reply and rate solved ones, and reads the published
-- knowledge base. Every rule is in the database, not in the screens.
--
-- public.portal_users links a signed-in user to one contact of one workspace. Rows are made only
-- by accepting a portal invitation (an `invitations` row with role 'portal' and the contact,
-- bound to the contact's email; agents may send these), and removed by agents to end access.
-- A portal user is not a workspace member, so every existing policy (my_workspace_ids) already
-- shuts them out; the policies below add a portal branch, merged with `or` into the one policy
-- per table and command. The private.my_portal_* helpers are security definer with a fixed
-- search_path, called as `(select …)` so they run once per statement.
-- Contacts and companies get no portal branch: RLS works per row, and those rows carry internal
-- fields (notes, tags, owner, stage, custom fields). private.portal_profile() returns just the
-- master data of the caller's own contact and company; private.portal_update_profile() changes
-- only phone, address and marketing consent, with optimistic locking.
-- private.guard_portal_write() runs as the invoker on direct API writes: a portal user's ticket
-- starts new, normal priority, unassigned, on their own contact's company; their only ticket
-- update is the rating of a solved or closed ticket; their replies (public and from the customer,
-- by policy) never go on a closed ticket. A customer reply (portal or email) brings a ticket that
-- is pending the customer back to open and reopens a solved one.

create table public.portal_users (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  contact_id uuid not null references public.contacts (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, user_id)
);
create index portal_users_user_idx on public.portal_users (user_id, contact_id);
create index portal_users_contact_idx on public.portal_users (contact_id);

create trigger bump_version before update on public.portal_users
  for each row execute function private.bump_version();
create trigger audit after insert or update or delete on public.portal_users
  for each row execute function private.audit_row();
create trigger check_same_workspace before insert or update of contact_id on public.portal_users
  for each row execute function private.check_same_workspace();

-- Portal invitations live with the team's: role 'portal', for one contact, to its email.
alter table public.invitations drop constraint invitations_role_check;
alter table public.invitations add constraint invitations_role_check
  check (role in ('admin', 'manager', 'agent', 'viewer', 'portal'));
alter table public.invitations add column contact_id uuid references public.contacts (id) on delete cascade;
alter table public.invitations add constraint invitations_portal_contact_check
  check ((role = 'portal') = (contact_id is not null) and (role <> 'portal' or email is not null));
create index invitations_contact_idx on public.invitations (contact_id) where contact_id is not null;
create trigger check_same_workspace before insert or update of contact_id on public.invitations
  for each row execute function private.check_same_workspace();

-- -- helpers ------------------------------------------------------------------------------------
create or replace function private.my_portal_contact_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select p.contact_id from public.portal_users p where p.user_id = (select auth.uid())
$$;
create or replace function private.my_portal_workspace_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select p.workspace_id from public.portal_users p where p.user_id = (select auth.uid())
$$;
create or replace function private.my_portal_ticket_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select t.id from public.portal_users p join public.tickets t on t.contact_id = p.contact_id
   where p.user_id = (select auth.uid())
$$;
-- The company of one of the caller's own portal contacts (the caller cannot read contacts).
create or replace function private.my_portal_company_id(p_contact uuid) returns uuid
language sql stable security definer set search_path = '' as $$
  select c.company_id from public.contacts c
   where c.id = p_contact and c.id in (select private.my_portal_contact_ids())
$$;
revoke all on function private.my_portal_contact_ids(), private.my_portal_workspace_ids(),
  private.my_portal_ticket_ids(), private.my_portal_company_id(uuid) from public;
grant execute on function private.my_portal_contact_ids(), private.my_portal_workspace_ids(),
  private.my_portal_ticket_ids(), private.my_portal_company_id(uuid) to authenticated, service_role;

-- The team sees the names of its workspace's portal users (authors of customer replies).
create or replace function private.co_member_ids()
returns setof uuid
language sql stable security definer set search_path = '' as $$
  select other.user_id
    from public.workspace_members me
    join public.workspace_members other on other.workspace_id = me.workspace_id
   where me.user_id = (select auth.uid())
  union
  select p.user_id
    from public.workspace_members me
    join public.portal_users p on p.workspace_id = me.workspace_id
   where me.user_id = (select auth.uid())
$$;

-- -- accepting an invitation: team member or portal user ------------------------------------------
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
  if v_inv.role = 'portal' then
    if exists (select 1 from public.workspace_members m
                where m.workspace_id = v_inv.workspace_id and m.user_id = v_uid) then
      raise exception 'You are a member of this workspace already; the portal is for its customers.'
        using errcode = 'P0002';
    end if;
    insert into public.portal_users (workspace_id, user_id, contact_id)
    values (v_inv.workspace_id, v_uid, v_inv.contact_id)
    on conflict (workspace_id, user_id) do update set contact_id = excluded.contact_id;
  else
    insert into public.workspace_members (workspace_id, user_id, role)
    values (v_inv.workspace_id, v_uid, v_inv.role)
    on conflict (workspace_id, user_id) do nothing;
  end if;
  update public.invitations set accepted_at = now(), accepted_by = v_uid where id = v_inv.id;
  return v_inv.workspace_id;
end
$$;

-- -- the portal user's own master data ------------------------------------------------------------
create or replace function private.portal_profile(p_workspace uuid)
returns table (contact_id uuid, first_name text, last_name text, email text, phone text, address text,
               city text, postal_code text, country text, consent boolean, consent_at timestamptz,
               version integer, company_name text, company_phone text, company_address text,
               company_city text, company_postal_code text, company_country text, workspace_name text)
language sql stable security definer set search_path = '' as $$
  select c.id, c.first_name, c.last_name, c.email, c.phone, c.address, c.city, c.postal_code, c.country,
         c.consent, c.consent_at, c.version, co.name, co.phone, co.address, co.city, co.postal_code,
         co.country, w.name
    from public.portal_users p
    join public.contacts c on c.id = p.contact_id
    join public.workspaces w on w.id = p.workspace_id
    left join public.companies co on co.id = c.company_id
   where p.user_id = (select auth.uid()) and p.workspace_id = p_workspace
$$;

-- Returns the new version; null when the row changed since p_version was read (or is not theirs).
create or replace function private.portal_update_profile(
  p_workspace uuid, p_version integer, p_phone text, p_address text, p_city text, p_postal_code text,
  p_country text, p_consent boolean) returns integer
language sql security definer set search_path = '' as $$
  update public.contacts c
     set phone = p_phone, address = p_address, city = p_city, postal_code = p_postal_code,
         country = p_country, consent = p_consent,
         consent_source = case when p_consent is distinct from c.consent then 'customer portal'
                               else c.consent_source end
    from public.portal_users p
   where p.user_id = (select auth.uid()) and p.workspace_id = p_workspace
     and c.id = p.contact_id and c.version = p_version
  returning c.version
$$;
revoke all on function private.portal_profile(uuid),
  private.portal_update_profile(uuid, integer, text, text, text, text, text, boolean) from public;
grant execute on function private.portal_profile(uuid),
  private.portal_update_profile(uuid, integer, text, text, text, text, text, boolean) to authenticated;

-- -- what a portal user may write -----------------------------------------------------------------
-- Invoker rights on purpose: definer code (triggers that stamp first responses, reopen tickets)
-- runs as its owner and passes; only direct writes as `authenticated` by non-agents are checked.
create or replace function private.guard_portal_write() returns trigger
language plpgsql set search_path = '' as $$
declare
  v_changed text[];
begin
  if current_user <> 'authenticated' or new.workspace_id in (select private.my_workspace_ids('agent')) then
    return new;
  end if;
  if tg_table_name = 'tickets' then
    if tg_op = 'INSERT' then
      new.status := 'new';
      new.priority := 'normal';
      new.channel := 'portal';
      new.assignee_id := null;
      new.message_id := null;
      new.csat := null;
      new.csat_comment := null;
      new.company_id := private.my_portal_company_id(new.contact_id);
      return new;
    end if;
    select array_agg(n.key) into v_changed
      from jsonb_each(to_jsonb(new)) n join jsonb_each(to_jsonb(old)) o using (key)
     where n.value is distinct from o.value
       and n.key not in ('csat', 'csat_comment', 'version', 'updated_at');
    if v_changed is not null then
      raise exception 'Customers can only rate their tickets.' using errcode = 'insufficient_privilege';
    end if;
    if old.status not in ('solved', 'closed') or new.csat is null then
      raise exception 'You can rate a request once it is solved.' using errcode = 'check_violation';
    end if;
  elsif tg_table_name = 'ticket_comments' then
    new.message_id := null;
    if exists (select 1 from public.tickets t where t.id = new.ticket_id and t.status = 'closed') then
      raise exception 'This request is closed. Open a new one and mention %.',
        (select 'T-' || t.number from public.tickets t where t.id = new.ticket_id)
        using errcode = 'check_violation';
    end if;
  end if;
  return new;
end
$$;
create trigger guard_portal_write before insert or update on public.tickets
  for each row execute function private.guard_portal_write();
create trigger guard_portal_write before insert on public.ticket_comments
  for each row execute function private.guard_portal_write();

-- A reply from the customer puts the ticket back in the team's court.
create or replace function private.note_customer_reply() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.from_customer and new.is_public then
    update public.tickets set status = 'open'
     where id = new.ticket_id and status in ('pending_customer', 'solved');
  end if;
  return null;
end
$$;
create trigger note_customer_reply after insert on public.ticket_comments
  for each row execute function private.note_customer_reply();

-- -- policies: one per table and command, staff branch or portal branch ---------------------------
alter table public.portal_users enable row level security;
revoke all on public.portal_users from anon;
revoke truncate, trigger, references, update on public.portal_users from authenticated;
create policy portal_users_select on public.portal_users for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')) or user_id = (select auth.uid()));
-- No insert policy: access comes only from accepting an invitation (private.accept_invitation).
create policy portal_users_delete on public.portal_users for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')));

drop policy invitations_select on public.invitations;
drop policy invitations_insert on public.invitations;
drop policy invitations_update on public.invitations;
drop policy invitations_delete on public.invitations;
create policy invitations_select on public.invitations for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin'))
         or (role = 'portal' and workspace_id in (select private.my_workspace_ids('agent'))));
create policy invitations_insert on public.invitations for insert to authenticated
  with check (created_by = (select auth.uid())
              and (workspace_id in (select private.my_workspace_ids('admin'))
                   or (role = 'portal' and workspace_id in (select private.my_workspace_ids('agent')))));
create policy invitations_update on public.invitations for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin'))
         or (role = 'portal' and workspace_id in (select private.my_workspace_ids('agent'))))
  with check (workspace_id in (select private.my_workspace_ids('admin'))
              or (role = 'portal' and workspace_id in (select private.my_workspace_ids('agent'))));
create policy invitations_delete on public.invitations for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('admin'))
         or (role = 'portal' and workspace_id in (select private.my_workspace_ids('agent'))));

drop policy workspaces_select on public.workspaces;
create policy workspaces_select on public.workspaces for select to authenticated
  using (id in (select private.my_workspace_ids('viewer')) or id in (select private.my_portal_workspace_ids()));

drop policy tickets_select on public.tickets;
drop policy tickets_insert on public.tickets;
drop policy tickets_update on public.tickets;
create policy tickets_select on public.tickets for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer'))
         or contact_id in (select private.my_portal_contact_ids()));
create policy tickets_insert on public.tickets for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent'))
              or (contact_id in (select private.my_portal_contact_ids())
                  and workspace_id in (select private.my_portal_workspace_ids())));
create policy tickets_update on public.tickets for update to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent'))
         or contact_id in (select private.my_portal_contact_ids()))
  with check (workspace_id in (select private.my_workspace_ids('agent'))
              or contact_id in (select private.my_portal_contact_ids()));

drop policy ticket_comments_select on public.ticket_comments;
drop policy ticket_comments_insert on public.ticket_comments;
create policy ticket_comments_select on public.ticket_comments for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer'))
         or (is_public and ticket_id in (select private.my_portal_ticket_ids())));
create policy ticket_comments_insert on public.ticket_comments for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent'))
              or (is_public and from_customer and ticket_id in (select private.my_portal_ticket_ids())));

-- Attachments of public replies, and those the portal user added themselves.
drop policy ticket_attachments_select on public.ticket_attachments;
drop policy ticket_attachments_insert on public.ticket_attachments;
create policy ticket_attachments_select on public.ticket_attachments for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer'))
         or (ticket_id in (select private.my_portal_ticket_ids())
             and (created_by = (select auth.uid())
                  or comment_id in (select c.id from public.ticket_comments c where c.is_public))));
create policy ticket_attachments_insert on public.ticket_attachments for insert to authenticated
  with check (workspace_id in (select private.my_workspace_ids('agent'))
              or (ticket_id in (select private.my_portal_ticket_ids())
                  and (comment_id is null
                       or comment_id in (select c.id from public.ticket_comments c
                                          where c.is_public and c.author_id = (select auth.uid())))));

drop policy kb_categories_select on public.kb_categories;
drop policy kb_articles_select on public.kb_articles;
create policy kb_categories_select on public.kb_categories for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer'))
         or workspace_id in (select private.my_portal_workspace_ids()));
create policy kb_articles_select on public.kb_articles for select to authenticated
  using ((status = 'published' and (workspace_id in (select private.my_workspace_ids('viewer'))
                                    or workspace_id in (select private.my_portal_workspace_ids())))
         or workspace_id in (select private.my_workspace_ids('agent')));

-- Knowledge-base search and view counts for portal readers too (published articles only).
create or replace function private.kb_match(p_workspace uuid, p_query tsquery, p_limit integer, p_drafts boolean)
returns table (id uuid, rank real)
language sql stable security definer set search_path = '' as $$
  select a.id, ts_rank(a.search, p_query) as rank
    from public.kb_articles a
   where a.workspace_id = p_workspace
     and (p_workspace in (select private.my_workspace_ids('viewer'))
          or p_workspace in (select private.my_portal_workspace_ids()))
     and (a.status = 'published'
          or (p_drafts and p_workspace in (select private.my_workspace_ids('agent'))))
     and a.search @@ p_query
   order by rank desc, a.published_at desc nulls last, a.id
   limit least(greatest(p_limit, 0), 100)
$$;
create or replace function private.count_article_view(p_article uuid) returns integer
language sql security definer set search_path = '' as $$
  update public.kb_articles a set view_count = a.view_count + 1
   where a.id = p_article
     and ((a.status = 'published' and (a.workspace_id in (select private.my_workspace_ids('viewer'))
                                       or a.workspace_id in (select private.my_portal_workspace_ids())))
          or a.workspace_id in (select private.my_workspace_ids('agent')))
  returning a.view_count
$$;
