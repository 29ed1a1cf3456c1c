-- Seed for `supabase db reset` / `supabase start`: intentionally empty.
--
-- Relata's workspaces belong to the users who sign up, so there is nothing to seed before the
-- first sign-up. Demo data comes from `python -m lib.demo` (customers issue), which writes
-- through the same row-level security as the app.
select 1;
