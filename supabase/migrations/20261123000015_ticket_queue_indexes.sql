-- Ticket queues at scale: the open queues in their own order.
--
-- The queues list open tickets (new, open, pending customer, on hold) most urgent first. With the
-- status as the second column of tickets_queue_idx, four statuses could not come back in due-time
-- order, so a page of 50 sorted all open tickets first (171 ms p95 at 66,717 open of 200,000:
-- docs/benchmarks.md "Tickets: queue"). These partial indexes hold only open tickets, in queue
-- order, for the whole team and per assignee, so a page stops after its rows.

create index tickets_open_queue_idx on public.tickets (workspace_id, resolution_due_at, id)
  where status in ('new', 'open', 'pending_customer', 'on_hold');
create index tickets_open_assignee_queue_idx on public.tickets (workspace_id, assignee_id, resolution_due_at, id)
  where status in ('new', 'open', 'pending_customer', 'on_hold');
