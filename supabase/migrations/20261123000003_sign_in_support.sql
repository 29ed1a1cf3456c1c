-- Sign-in support shared by local and Supabase sign-in: throttling and browser sessions.
--
-- private.sign_in_failures: failed attempts per email; 5 within 15 minutes lock that email
-- until the oldest of them is 15 minutes old. A success clears the email's failures
-- (only the signed-in user can clear, and only their own).
-- private.app_sessions: a browser keeps a random token in a cookie; only its sha256 is stored.
-- A session ends on sign-out or after an idle time the app chooses (default 8 h).
-- Both tables live in the non-exposed schema private and are reached only through the
-- security definer functions below; the API roles have no grant on the tables themselves.

create table private.sign_in_failures (
  id bigint generated always as identity primary key,
  email text not null,
  failed_at timestamptz not null default now()
);
create index sign_in_failures_email_idx on private.sign_in_failures (email, failed_at desc);

create table private.app_sessions (
  token_hash text primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  ended_at timestamptz
);
create index app_sessions_user_idx on private.app_sessions (user_id);

alter table private.sign_in_failures enable row level security;
alter table private.app_sessions enable row level security;

create or replace function private.sign_in_locked_until(p_email text) returns timestamptz
language sql stable security definer set search_path = '' as $$
  select case when count(*) >= 5 then min(f.failed_at) + interval '15 minutes' end
  from (select failed_at from private.sign_in_failures
         where email = lower(btrim(p_email)) and failed_at > now() - interval '15 minutes'
         order by failed_at desc limit 5) f
$$;

create or replace function private.record_sign_in_failure(p_email text) returns void
language sql security definer set search_path = '' as $$
  insert into private.sign_in_failures (email) values (lower(btrim(p_email)));
  delete from private.sign_in_failures where failed_at < now() - interval '1 day';
$$;

-- Only a signed-in user clears failures, and only for their own email.
create or replace function private.clear_sign_in_failures() returns void
language sql security definer set search_path = '' as $$
  delete from private.sign_in_failures where email = lower((select auth.email()));
$$;

-- After a password change: every other browser session of the user ends.
create or replace function private.end_other_sessions(p_keep_token_hash text) returns void
language sql security definer set search_path = '' as $$
  update private.app_sessions set ended_at = now()
   where user_id = (select auth.uid()) and ended_at is null
     and token_hash is distinct from p_keep_token_hash
$$;

create or replace function private.start_session(p_token_hash text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if (select auth.uid()) is null then
    raise exception 'no signed-in user' using errcode = 'insufficient_privilege';
  end if;
  insert into private.app_sessions (token_hash, user_id) values (p_token_hash, (select auth.uid()));
end
$$;

-- The user of a live session, which is touched; nothing for an ended or idle one.
create or replace function private.resume_session(p_token_hash text, p_idle interval)
returns table (user_id uuid, email text)
language sql security definer set search_path = '' as $$
  update private.app_sessions s
     set last_seen_at = now()
    from auth.users u
   where s.token_hash = p_token_hash and s.ended_at is null
     and s.last_seen_at > now() - p_idle and u.id = s.user_id
  returning s.user_id, u.email::text
$$;

create or replace function private.end_session(p_token_hash text) returns void
language sql security definer set search_path = '' as $$
  update private.app_sessions set ended_at = now() where token_hash = p_token_hash and ended_at is null
$$;

revoke all on function private.sign_in_locked_until(text), private.record_sign_in_failure(text),
  private.clear_sign_in_failures(), private.end_other_sessions(text),
  private.start_session(text), private.resume_session(text, interval), private.end_session(text) from public;
grant execute on function private.sign_in_locked_until(text), private.record_sign_in_failure(text),
  private.resume_session(text, interval), private.end_session(text) to anon, authenticated;
grant execute on function private.start_session(text), private.clear_sign_in_failures(),
  private.end_other_sessions(text) to authenticated;
