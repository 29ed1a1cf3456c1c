-- Customers list at scale: search on a narrow private table, ranked in the search function.
--
-- Why (bench/customers.py list, docs/benchmarks.md "Customers: list query"): a misspelled common
-- surname matches ~13,700 of 1,000,000 contacts. private.search_matches() rechecked every trigram
-- candidate on the 1 GB contacts heap, and the list query then fetched every match again by id
-- to score and sort it, only to show 50.
--
-- private.customer_search holds just what search reads (id, workspace, a contact's company, the
-- folded name, search_text) behind trigram indexes per kind: at 1,100,000 contacts 155 MB
-- against the contacts heap's 365 MB. Statement-level triggers with transition tables keep it
-- in step with contacts and companies (one set-based statement per insert/update/delete
-- statement, so imports stay fast). It lives in `private`: no grants to anyone, RLS on with no
-- policy, read only by the security-definer functions below, which answer only for a workspace
-- the caller is a member of.
--
-- Matching: the whole query as a substring of search_text (name, email, phone digits, website),
-- or by pg_trgm word similarity to the NAME (was: to all of search_text). Word similarity costs
-- ~7 µs per candidate on a 60-character search_text and ~2 µs on a name, and a common surname
-- has ~15,000 candidates; typos in an email address or a phone number are no longer tolerated
-- (their substrings still match). Relevance = word similarity of the query to the name.
--
-- private.search_scored() returns (id, score) of the matches; the list query sorts those pairs,
-- then reads contacts by primary key (row-level security applies to every row it reads) until
-- its page of 51 is full. private.search_matches() keeps its contract on the new table.
-- The trigram indexes on contacts/companies.search_text are no longer read and are dropped.

create table private.customer_search (
  id uuid primary key,
  workspace_id uuid not null,
  kind text not null check (kind in ('contacts', 'companies')),
  company_id uuid,           -- a contact's company
  name_text text not null,   -- folded name: typo-tolerant matching and the relevance score
  search_text text not null  -- the record's search_text: substrings (name, email, phone digits, website)
);
create index customer_search_contacts_name_idx on private.customer_search
  using gin (name_text extensions.gin_trgm_ops) where kind = 'contacts';
create index customer_search_contacts_text_idx on private.customer_search
  using gin (search_text extensions.gin_trgm_ops) where kind = 'contacts';
create index customer_search_companies_name_idx on private.customer_search
  using gin (name_text extensions.gin_trgm_ops) where kind = 'companies';
create index customer_search_companies_text_idx on private.customer_search
  using gin (search_text extensions.gin_trgm_ops) where kind = 'companies';
create index customer_search_company_idx on private.customer_search (company_id) where company_id is not null;
alter table private.customer_search enable row level security;
revoke all on private.customer_search from public, anon, authenticated, service_role;

insert into private.customer_search (id, workspace_id, kind, company_id, name_text, search_text)
select id, workspace_id, 'contacts', company_id, private.fold(full_name), search_text from public.contacts
union all
select id, workspace_id, 'companies', null, private.fold(name), search_text from public.companies;

create or replace function private.customer_search_sync() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'DELETE' then
    delete from private.customer_search s using old_rows o where s.id = o.id;
    return null;
  end if;
  if tg_table_name = 'contacts' then
    insert into private.customer_search as s (id, workspace_id, kind, company_id, name_text, search_text)
    select n.id, n.workspace_id, 'contacts', n.company_id, private.fold(n.full_name), n.search_text from new_rows n
    on conflict (id) do update
       set workspace_id = excluded.workspace_id, company_id = excluded.company_id,
           name_text = excluded.name_text, search_text = excluded.search_text
     where (s.workspace_id, s.company_id, s.search_text, s.name_text)
           is distinct from (excluded.workspace_id, excluded.company_id, excluded.search_text, excluded.name_text);
  else
    insert into private.customer_search as s (id, workspace_id, kind, company_id, name_text, search_text)
    select n.id, n.workspace_id, 'companies', null, private.fold(n.name), n.search_text from new_rows n
    on conflict (id) do update
       set workspace_id = excluded.workspace_id, name_text = excluded.name_text, search_text = excluded.search_text
     where (s.workspace_id, s.search_text, s.name_text)
           is distinct from (excluded.workspace_id, excluded.search_text, excluded.name_text);
  end if;
  return null;
end
$$;
revoke all on function private.customer_search_sync() from public;

do $$
declare
  v_table text;
begin
  foreach v_table in array array['contacts', 'companies'] loop
    execute format('create trigger customer_search_insert after insert on public.%I
                      referencing new table as new_rows
                      for each statement execute function private.customer_search_sync()', v_table);
    execute format('create trigger customer_search_update after update on public.%I
                      referencing old table as old_rows new table as new_rows
                      for each statement execute function private.customer_search_sync()', v_table);
    execute format('create trigger customer_search_delete after delete on public.%I
                      referencing old table as old_rows
                      for each statement execute function private.customer_search_sync()', v_table);
  end loop;
end
$$;

-- The ways a record of private.customer_search matches a query ($2: its folded LIKE pattern,
-- $3: the folded query), each a condition one trigram index answers, to be UNIONed (an OR
-- would be evaluated again as a filter on every candidate): the whole query as a substring of
-- search_text; a single word by word similarity to the name; several words (of 3+ letters)
-- each as a substring or by word similarity, so that "jurgen schmitd" intersects small sets.
create or replace function private.search_conditions(p_query text) returns text[]
language plpgsql stable set search_path = '' as $$
declare
  v_words text[];
  v_condition text := 'true';
begin
  select coalesce(array_agg(w order by n), '{}') into v_words
    from unnest(regexp_split_to_array(private.fold(btrim(p_query)), '\s+')) with ordinality as t(w, n)
   where length(w) >= 3;
  if cardinality(v_words) <= 1 then
    return array['search_text like $2', 'name_text operator(extensions.%>) $3'];
  end if;
  for i in 1 .. cardinality(v_words) loop
    v_condition := v_condition || format(
      ' and (search_text like %L or name_text operator(extensions.%%>) %L)',
      '%' || replace(replace(replace(v_words[i], '\', '\\'), '%', '\%'), '_', '\_') || '%', v_words[i]);
  end loop;
  return array['search_text like $2', v_condition];
end
$$;
revoke all on function private.search_conditions(text) from public;

-- (id, name_text) of the records of one kind in workspace $1 matching the search, as a UNION query.
create or replace function private.search_ids_sql(p_kind text, p_phone boolean, p_query text) returns text
language sql stable set search_path = '' as $$
  select string_agg(format('select id, name_text from private.customer_search where kind = %L and workspace_id = $1 and %s',
                           p_kind, c), ' union ')
    from unnest(case when p_phone then array['search_text like $2'] else private.search_conditions(p_query) end) c
$$;
revoke all on function private.search_ids_sql(text, boolean, text) from public;

-- (id, relevance) of the records of `p_table` in `p_workspace` matching the search: `p_pattern`
-- is the LIKE pattern of the query (of its digits when `p_phone`), `p_query` the query as typed.
-- Contacts also match through their company's name. Relevance is pg_trgm's word similarity of
-- the folded query to the record's folded name.
create or replace function private.search_scored(p_table text, p_workspace uuid, p_pattern text, p_query text,
                                                 p_phone boolean default false)
returns table (id uuid, score real)
language plpgsql stable security definer set search_path = '' rows 1000 as $$
declare
  v_ids text;
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot search %.', p_table;
  end if;
  if p_workspace is null or p_workspace not in (select private.my_workspace_ids('viewer')) then
    return;
  end if;
  v_ids := private.search_ids_sql(p_table, p_phone, p_query);
  if p_table = 'contacts' and not p_phone then
    v_ids := v_ids || ' union select id, name_text from private.customer_search where kind = ''contacts'''
             || ' and workspace_id = $1 and company_id in (select id from ('
             || private.search_ids_sql('companies', false, p_query) || ') co)';
  end if;
  return query execute 'select m.id, extensions.word_similarity($3, m.name_text) from (' || v_ids || ') m'
    using p_workspace, private.fold(p_pattern), private.fold(btrim(p_query));
end
$$;
revoke all on function private.search_scored(text, uuid, text, text, boolean) from public;
grant execute on function private.search_scored(text, uuid, text, text, boolean) to authenticated, service_role;

-- Same contract as before (ids of one table's own matches), on the narrow table.
create or replace function private.search_matches(p_table text, p_workspace uuid, p_pattern text, p_query text)
returns setof uuid
language plpgsql stable security definer set search_path = '' as $$
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot search %.', p_table;
  end if;
  if p_workspace is null or p_workspace not in (select private.my_workspace_ids('viewer')) then
    return;
  end if;
  return query execute 'select id from (' || private.search_ids_sql(p_table, p_query is null, p_query) || ') m'
    using p_workspace, private.fold(p_pattern), private.fold(btrim(p_query));
end
$$;

drop index if exists public.contacts_search_idx;
drop index if exists public.companies_search_idx;
