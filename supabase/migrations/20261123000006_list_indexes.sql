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
  else
    return query execute format(
      'select id from public.%I where workspace_id = $1'
      ' and (search_text like private.fold($2) or private.fold($3) operator(extensions.<%%) search_text)', p_table)
      using p_workspace, p_pattern, p_query;
  end if;
end
$$;
revoke all on function private.search_matches(text, uuid, text, text) from public;
grant execute on function private.search_matches(text, uuid, text, text) to authenticated, service_role;

