-- Every helper function a policy calls is PARALLEL SAFE, with a realistic row estimate.
--
-- Migration …28 did this for private.my_workspace_ids(). A policy that calls a function marked
-- PARALLEL UNSAFE (the default) makes every query on its table run without parallel workers,
-- and the default estimate of 1000 rows makes the planner hash the function's result rather
-- than probe an index. These helpers only read, and parallel workers run with the leader's role
-- and settings (request.jwt.claims included), so they give the same answer in a worker. The
-- estimates: a user shares workspaces with a few dozen people; a portal user is linked to one
-- contact of one workspace and has some tickets. tests/test_security_catalog.py checks that no
-- policy calls an unsafe function.

alter function private.co_member_ids() parallel safe rows 50;
alter function private.my_portal_contact_ids() parallel safe rows 1;
alter function private.my_portal_workspace_ids() parallel safe rows 1;
alter function private.my_portal_ticket_ids() parallel safe rows 20;
