-- Service desk: the knowledge base. Categories and markdown articles (draft or published), a
-- ranked full-text search, view counts, and suggestions of published articles for a ticket's text.
--
-- Search: kb_articles.search is a stored tsvector, the title weighted A and the body B, built
-- with the 'simple' configuration on private.fold() text (lower + unaccent), so it works for
-- any language and "Reseau" finds "Réseau". Under row-level security the `@@` operator (not
-- leakproof) cannot be an index condition, so private.kb_match() runs the match as its definer
-- on the GIN index, for one workspace the caller is a member of, and returns ids with their
-- rank; the caller's query then reads those rows through RLS as usual (as search_matches in
-- 20261123000006 does for customers).
-- View counts: private.count_article_view() adds one as its definer, after checking the caller
-- may read the article; view_count is left out of the version (optimistic locking) and of the
-- audit log, so reading an article neither conflicts with an editor nor fills the log.
-- Policies: members read published articles, agents and above also drafts; agents and above
-- write; admins delete.

create or replace function private.audit_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select array['updated_at', 'version', 'token_hash', 'last_contacted_at', 'search_text', 'search', 'view_count']
$$;

create or replace function private.version_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select private.audit_ignored_columns() || array['full_name']
$$;

create table public.kb_categories (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, id)
);
create unique index kb_categories_name_key on public.kb_categories (workspace_id, private.fold(name));

create table public.kb_articles (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  category_id uuid,
  title text not null check (length(btrim(title)) between 1 and 200),
  body text not null default '' check (length(body) <= 100000),
  status text not null default 'draft' check (status in ('draft', 'published')),
  published_at timestamptz,
  view_count integer not null default 0,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  search tsvector generated always as (
    setweight(to_tsvector('simple', private.fold(title)), 'A')
    || setweight(to_tsvector('simple', private.fold(body)), 'B')) stored,
  -- The category must be one of the article's own workspace.
  foreign key (workspace_id, category_id) references public.kb_categories (workspace_id, id)
    on delete set null (category_id)
);
create index kb_articles_search_idx on public.kb_articles using gin (search);
create index kb_articles_list_idx on public.kb_articles (workspace_id, category_id, status, title);
create index kb_articles_category_idx on public.kb_articles (category_id);
create index kb_articles_created_by_idx on public.kb_articles (created_by);

-- published_at follows the status; new articles start unread.
create or replace function private.prepare_kb_article() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    new.view_count := 0;
  end if;
  if new.status = 'published' and (tg_op = 'INSERT' or old.status <> 'published') then
    new.published_at := now();
  elsif new.status = 'draft' then
    new.published_at := null;
  end if;
  return new;
end
$$;
create trigger prepare_kb_article before insert or update on public.kb_articles
  for each row execute function private.prepare_kb_article();
create trigger stamp_author before insert on public.kb_articles for each row execute function private.stamp_author();

-- Ids and ranks of the articles of p_workspace matching p_query (drafts only for agents and
-- above who ask for them), best first. Nothing for a workspace the caller is not a member of.
create or replace function private.kb_match(p_workspace uuid, p_query tsquery, p_limit integer, p_drafts boolean)
returns table (id uuid, rank real)
language sql stable security definer set search_path = '' as $$
  select a.id, ts_rank(a.search, p_query) as rank
    from public.kb_articles a
   where a.workspace_id = p_workspace
     and p_workspace in (select private.my_workspace_ids('viewer'))
     and (a.status = 'published'
          or (p_drafts and p_workspace in (select private.my_workspace_ids('agent'))))
     and a.search @@ p_query
   order by rank desc, a.published_at desc nulls last, a.id
   limit least(greatest(p_limit, 0), 100)
$$;
revoke all on function private.kb_match(uuid, tsquery, integer, boolean) from public;
grant execute on function private.kb_match(uuid, tsquery, integer, boolean) to authenticated, service_role;

-- Any of the words of a text (a ticket's subject and description) as a tsquery: words of 3+
-- letters, English stop words left out, at most 64 distinct words. Lexemes are quoted for the
-- tsquery input syntax, so no character of the text can change the query's meaning.
create or replace function private.kb_any_words(p_text text) returns tsquery
language sql stable set search_path = '' as $$
  select coalesce(string_agg('''' || replace(replace(w, '\', '\\'), '''', '''''') || '''', ' | '), '')::tsquery
    from (select w
            from unnest(tsvector_to_array(to_tsvector('simple', private.fold(left(p_text, 5000))))) as w
           where length(w) >= 3 and ts_lexize('english_stem', w) <> '{}'
           limit 64) as words
$$;
grant execute on function private.kb_any_words(text) to authenticated, service_role;

-- One more view of an article the caller may read; returns the new count (null if they may not).
create or replace function private.count_article_view(p_article uuid) returns integer
language sql security definer set search_path = '' as $$
  update public.kb_articles a set view_count = a.view_count + 1
   where a.id = p_article
     and a.workspace_id in (select private.my_workspace_ids('viewer'))
     and (a.status = 'published' or a.workspace_id in (select private.my_workspace_ids('agent')))
  returning a.view_count
$$;
revoke all on function private.count_article_view(uuid) from public;
grant execute on function private.count_article_view(uuid) to authenticated, service_role;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['kb_categories', 'kb_articles'] loop
    execute format('create trigger bump_version before update on public.%I
                      for each row execute function private.bump_version()', v_table);
    execute format('create trigger audit after insert or update or delete on public.%I
                      for each row execute function private.audit_row()', v_table);
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on public.%I from anon', v_table);
    execute format('revoke truncate, trigger, references, update on public.%I from authenticated', v_table);
    execute format('create policy %I on public.%I for insert to authenticated
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_insert', v_table);
    execute format('create policy %I on public.%I for update to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''agent'')))
                      with check (workspace_id in (select private.my_workspace_ids(''agent'')))',
                   v_table || '_update', v_table);
    execute format('create policy %I on public.%I for delete to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''admin'')))',
                   v_table || '_delete', v_table);
  end loop;
end
$$;
create policy kb_categories_select on public.kb_categories for select to authenticated
  using (workspace_id in (select private.my_workspace_ids('viewer')));
create policy kb_articles_select on public.kb_articles for select to authenticated
  using ((status = 'published' and workspace_id in (select private.my_workspace_ids('viewer')))
         or workspace_id in (select private.my_workspace_ids('agent')));

grant update (name, position) on public.kb_categories to authenticated;
grant update (category_id, title, body, status) on public.kb_articles to authenticated;
