-- Segments: agents edit static lists; live segment counts over 1,000,000 contacts within 300 ms.
--
-- segment_members: removing a contact from a static list is editing the list, as adding one is,
-- so agents (who create lists and add to them) may delete membership rows; deleting the list
-- itself (public.segments) stays with admins.
--
-- Counting (bench/segments.py, docs/benchmarks.md "Segments: counting over 1,000,000 contacts"):
-- a segment count is `select count(*) from contacts c where <filters>` as the signed-in member.
-- Before this migration every typical segment was a sequential scan of the wide contacts heap
-- (365 MB at 1.1 M rows): 0.4–1.8 s. Three changes:
-- 1. contacts_segment_idx: the columns segments filter on, active contacts only, so a count is an
--    index-only scan. Equalities on stage, country, consent and owner narrow it (Postgres 18 skips
--    over leading columns that are not filtered); source, last activity, tags, company (RFM
--    segments) and the id (for joins to deals, tickets, lists) are carried along. `tags && …` cannot use the GIN index under
--    row-level security (not leakproof) but is checked on the index tuple instead of the heap.
-- 2. contacts_segment_ws_id_idx: narrow (workspace, id) of active contacts, for counting everyone
--    and for looking members of a static list (or owners of open deals) up without the heap.
-- 3. private.my_workspace_ids(), which every policy calls, is PARALLEL SAFE (it only reads, and
--    parallel workers get the caller's role and claims) so member queries may use parallel
--    workers at all, and declares ROWS 5 (was the default 1000): the planner charged building a
--    1000-row hash for the policy on every inner index probe, and so never chose a nested loop
--    for a small list joined to contacts.

drop policy if exists segment_members_delete on public.segment_members;
create policy segment_members_delete on public.segment_members for delete to authenticated
  using (workspace_id in (select private.my_workspace_ids('agent')));

create index contacts_segment_idx on public.contacts (workspace_id, stage, country, consent, owner_id)
  include (source, last_contacted_at, tags, company_id, id) where archived_at is null;
create index contacts_segment_ws_id_idx on public.contacts (workspace_id, id) where archived_at is null;

alter function private.my_workspace_ids(text) parallel safe rows 5;
