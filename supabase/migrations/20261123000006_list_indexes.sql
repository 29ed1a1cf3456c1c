-- Customers list at scale: search that can use its trigram indexes under row-level security.
--
-- Why (bench/customers.py list, docs/benchmarks.md "Customers: list query"): with row-level
-- security on, Postgres applies the policy's condition before any condition of the query that
-- is not LEAKPROOF, and may not use such a condition as an index condition. pg_trgm's `<%` and
-- `LIKE` are not leakproof (and only a superuser may mark them so; Supabase's `postgres` is not
-- one), so for a signed-in member a search scanned every contact of the workspace: 0.4–0.9 s at
-- 100,000 contacts where the table owner, without RLS, took 25 ms on the trigram index.
--
-- private.search_matches() runs the same matching (folded LIKE or pg_trgm word similarity, at
-- the caller's `pg_trgm.word_similarity_threshold`) as its definer, on the trigram index, and
-- returns only ids of the one workspace asked for, and only if the caller is a member of it. The
-- list query keeps row-level security on every row it reads: it filters `id = any(<these ids>)`,
-- which is leakproof and uses the primary key.

create or replace function private.search_matches(p_table text, p_workspace uuid, p_pattern text, p_query text)
returns setof uuid
language plpgsql stable security definer set search_path = '' as $$
declare
  v_words text[];
  v_patterns text[];
  v_condition text := '';
begin
  if p_table not in ('contacts', 'companies') then
    raise exception 'Cannot search %.', p_table;
  end if;
  if p_workspace is null or p_workspace not in (select private.my_workspace_ids('viewer')) then
    return;
  end if;
  if p_query is null then
    -- Digits of a phone number: a plain substring match.
    return query execute format(
      'select id from public.%I where workspace_id = $1 and search_text like $2', p_table)
      using p_workspace, p_pattern;
    return;
  end if;
  -- Several words ("jurgen schmitd"): each word of 3+ letters must match on its own (as a
  -- substring or by word similarity), so the trigram index intersects small candidate sets
  -- instead of fetching everyone who shares the first name or the surname.
  select coalesce(array_agg(w order by n), '{}'),
         coalesce(array_agg('%' || replace(replace(replace(w, '\', '\\'), '%', '\%'), '_', '\_') || '%' order by n), '{}')
    into v_words, v_patterns
    from unnest(regexp_split_to_array(private.fold(btrim(p_query)), '\s+')) with ordinality as t(w, n)
   where length(w) >= 3;
  if cardinality(v_words) <= 1 then
    v_condition := ' and (search_text like private.fold($2) or private.fold($4) operator(extensions.<%) search_text)';
  else
    for i in 1 .. cardinality(v_words) loop
      v_condition := v_condition
        || format(' and (search_text like $5[%s] or $3[%s] operator(extensions.<%%) search_text)', i, i);
    end loop;
    v_condition := ' and (search_text like private.fold($2) or (true' || v_condition || '))';
  end if;
  return query execute format('select id from public.%I where workspace_id = $1', p_table) || v_condition
    using p_workspace, p_pattern, v_words, p_query, v_patterns;
end
$$;
revoke all on function private.search_matches(text, uuid, text, text) from public;
grant execute on function private.search_matches(text, uuid, text, text) to authenticated, service_role;

