-- Front office: products, orders with their lines, invoices; external customer numbers.
--
-- products: one per SKU per workspace, with list price and (optional) cost for margins.
-- orders: a sale to a customer (a company, a contact, both, or nobody: an anonymous sale), with
-- status draft → confirmed → shipped → invoiced → paid (or cancelled), its dates, country and
-- currency. `customer_id` is the customer analytics count by: the company when there is one, else
-- the contact. Order numbers are text (imports keep the source's, e.g. "536365" or "C536379");
-- the app numbers its own orders SO-1001, SO-1002, … from private.order_counters.
-- order_lines: product (optional), description, quantity (negative = a return), unit price,
-- discount %; `amount` is computed. The order's `total_amount` and `line_count` are kept by
-- statement-level triggers over the changed lines (transition tables), so a bulk import of
-- 500,000 lines refreshes each order once, not once per line; they are bookkeeping, neither
-- audited nor bumping the order's version.
-- invoices: gapless per-workspace numbers (private.invoice_counters, locked until commit like
-- ticket numbers), one live invoice per order, amounts frozen at issue; only status, due and
-- paid dates change afterwards.
-- contacts.external_id / companies.external_id: the customer's number in another system (the
-- retail import's CustomerID), unique per workspace.
-- References stay inside their workspace through composite foreign keys (workspace_id, id).
-- Policies: members read; agents and above write; admins delete.

alter table public.contacts add column external_id text check (length(external_id) between 1 and 100);
alter table public.companies add column external_id text check (length(external_id) between 1 and 100);
create unique index contacts_external_id_key on public.contacts (workspace_id, external_id) where external_id is not null;
create unique index companies_external_id_key on public.companies (workspace_id, external_id) where external_id is not null;
grant update (external_id) on public.contacts, public.companies to authenticated;

create or replace function private.audit_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select array['updated_at', 'version', 'token_hash', 'last_contacted_at', 'search_text', 'search', 'view_count',
               'total_amount', 'line_count']
$$;

-- Generated columns are not computed yet in a BEFORE trigger's NEW, so bump_version leaves them out.
create or replace function private.version_ignored_columns() returns text[]
language sql immutable set search_path = '' as $$
  select private.audit_ignored_columns() || array['full_name', 'customer_id', 'amount']
$$;

create table private.order_counters (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  last_number integer not null
);
create table private.invoice_counters (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  last_number integer not null
);
alter table private.order_counters enable row level security;
alter table private.invoice_counters enable row level security;
revoke all on private.order_counters, private.invoice_counters from public, anon, authenticated, service_role;

create table public.products (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  sku text not null check (length(btrim(sku)) between 1 and 64),
  name text not null check (length(btrim(name)) between 1 and 300),
  category text check (length(category) <= 100),
  price numeric(14, 4) not null default 0 check (price >= 0),
  cost numeric(14, 4) check (cost >= 0),
  currency text not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  active boolean not null default true,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, sku),
  unique (workspace_id, id)
);
create index products_name_idx on public.products (workspace_id, name);
create index products_created_by_idx on public.products (created_by);

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  number text not null check (length(btrim(number)) between 1 and 64),
  contact_id uuid references public.contacts (id) on delete set null,
  company_id uuid references public.companies (id) on delete set null,
  customer_id uuid generated always as (coalesce(company_id, contact_id)) stored,
  status text not null default 'draft'
    check (status in ('draft', 'confirmed', 'shipped', 'invoiced', 'paid', 'cancelled')),
  ordered_at timestamptz not null default now(),
  shipped_at timestamptz,
  paid_at timestamptz,
  cancelled_at timestamptz,
  country text check (country ~ '^[A-Z]{2}$'),
  currency text not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  notes text check (length(notes) <= 10000),
  total_amount numeric(16, 2) not null default 0,
  line_count integer not null default 0,
  deal_id uuid references public.deals (id) on delete set null,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, number),
  unique (workspace_id, id)
);
create index orders_ordered_idx on public.orders (workspace_id, ordered_at, id);
create index orders_customer_idx on public.orders (workspace_id, customer_id, ordered_at);
create index orders_status_idx on public.orders (workspace_id, status, ordered_at desc);
create index orders_contact_idx on public.orders (contact_id);
create index orders_company_idx on public.orders (company_id);
create index orders_deal_idx on public.orders (deal_id);
create index orders_created_by_idx on public.orders (created_by);

create table public.order_lines (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  order_id uuid not null,
  product_id uuid,
  position integer not null default 0,
  description text check (length(description) <= 500),
  quantity numeric(14, 3) not null check (quantity <> 0),
  unit_price numeric(14, 4) not null check (unit_price >= 0),
  discount numeric(5, 2) not null default 0 check (discount between 0 and 100),
  amount numeric(16, 2) generated always as (round(quantity * unit_price * (1 - discount / 100), 2)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  foreign key (workspace_id, order_id) references public.orders (workspace_id, id) on delete cascade,
  foreign key (workspace_id, product_id) references public.products (workspace_id, id) on delete set null (product_id)
);
create index order_lines_order_idx on public.order_lines (order_id, position);
create index order_lines_product_idx on public.order_lines (workspace_id, product_id);

create table public.invoices (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  number integer not null,
  order_id uuid not null,
  contact_id uuid references public.contacts (id) on delete set null,
  company_id uuid references public.companies (id) on delete set null,
  status text not null default 'issued' check (status in ('issued', 'paid', 'void')),
  issued_on date not null default current_date,
  due_on date not null default current_date + 30,
  paid_on date,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal numeric(16, 2) not null,
  tax_rate numeric(5, 2) not null default 0 check (tax_rate between 0 and 100),
  tax_amount numeric(16, 2) not null,
  total numeric(16, 2) not null,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version integer not null default 1,
  unique (workspace_id, number),
  check (due_on >= issued_on),
  check (total = subtotal + tax_amount),
  foreign key (workspace_id, order_id) references public.orders (workspace_id, id) on delete cascade
);
create unique index invoices_live_order_key on public.invoices (order_id) where status <> 'void';
create index invoices_issued_idx on public.invoices (workspace_id, issued_on desc, number desc);
create index invoices_contact_idx on public.invoices (contact_id);
create index invoices_company_idx on public.invoices (company_id);
create index invoices_created_by_idx on public.invoices (created_by);

-- Allowed order status changes.
create or replace function private.order_transition_allowed(p_from text, p_to text) returns boolean
language sql immutable set search_path = '' as $$
  select p_from = p_to or (p_from, p_to) in (
    ('draft', 'confirmed'), ('draft', 'cancelled'),
    ('confirmed', 'shipped'), ('confirmed', 'invoiced'), ('confirmed', 'cancelled'),
    ('shipped', 'invoiced'), ('shipped', 'cancelled'),
    ('invoiced', 'paid'), ('invoiced', 'cancelled'))
$$;

-- App-made orders get the next SO-number; status changes are checked and stamp their dates.
-- Inserts may carry any status and dates (imports of history); updates follow the transitions.
create or replace function private.prepare_order() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_number integer;
begin
  if tg_op = 'INSERT' then
    if new.number is null or btrim(new.number) = '' then
      insert into private.order_counters as c (workspace_id, last_number) values (new.workspace_id, 1001)
      on conflict (workspace_id) do update set last_number = c.last_number + 1
      returning last_number into v_number;
      new.number := 'SO-' || v_number;
    end if;
    new.total_amount := 0;
    new.line_count := 0;
    return new;
  end if;
  if not private.order_transition_allowed(old.status, new.status) then
    raise exception 'An order cannot go from % to %.', old.status, new.status using errcode = 'check_violation';
  end if;
  if new.status is distinct from old.status then
    if new.status = 'shipped' then
      new.shipped_at := coalesce(new.shipped_at, now());
    elsif new.status = 'paid' then
      new.paid_at := coalesce(new.paid_at, now());
    elsif new.status = 'cancelled' then
      new.cancelled_at := coalesce(new.cancelled_at, now());
    end if;
  end if;
  return new;
end
$$;
create trigger prepare_order before insert or update on public.orders
  for each row execute function private.prepare_order();

-- Totals of the orders whose lines a statement changed, from the transition tables.
create or replace function private.refresh_order_totals() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    update public.orders o set total_amount = s.total, line_count = s.n
      from (select l.order_id, sum(l.amount) as total, count(*) as n from public.order_lines l
             where l.order_id in (select distinct order_id from new_rows) group by l.order_id) s
     where o.id = s.order_id;
  else
    update public.orders o
       set total_amount = coalesce((select sum(l.amount) from public.order_lines l where l.order_id = o.id), 0),
           line_count = (select count(*) from public.order_lines l where l.order_id = o.id)
     where o.id in (select order_id from old_rows);
    if tg_op = 'UPDATE' then
      update public.orders o
         set total_amount = coalesce((select sum(l.amount) from public.order_lines l where l.order_id = o.id), 0),
             line_count = (select count(*) from public.order_lines l where l.order_id = o.id)
       where o.id in (select order_id from new_rows except select order_id from old_rows);
    end if;
  end if;
  return null;
end
$$;
create trigger refresh_order_totals_insert after insert on public.order_lines
  referencing new table as new_rows for each statement execute function private.refresh_order_totals();
create trigger refresh_order_totals_update after update on public.order_lines
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.refresh_order_totals();
create trigger refresh_order_totals_delete after delete on public.order_lines
  referencing old table as old_rows for each statement execute function private.refresh_order_totals();

-- Invoice numbers: gapless per workspace; the customer is the order's.
create or replace function private.prepare_invoice() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    insert into private.invoice_counters as c (workspace_id, last_number) values (new.workspace_id, 1001)
    on conflict (workspace_id) do update set last_number = c.last_number + 1
    returning last_number into new.number;
    select o.contact_id, o.company_id into new.contact_id, new.company_id
      from public.orders o where o.id = new.order_id and o.workspace_id = new.workspace_id;
  elsif old.status = 'void' and new.status <> 'void' then
    raise exception 'A void invoice stays void; issue a new one.' using errcode = 'check_violation';
  end if;
  if new.status = 'paid' then
    new.paid_on := coalesce(new.paid_on, current_date);
  end if;
  return new;
end
$$;
create trigger prepare_invoice before insert or update on public.invoices
  for each row execute function private.prepare_invoice();

create trigger check_same_workspace before insert or update of contact_id, company_id on public.orders
  for each row execute function private.check_same_workspace();
create trigger stamp_author before insert on public.products for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.orders for each row execute function private.stamp_author();
create trigger stamp_author before insert on public.invoices for each row execute function private.stamp_author();

do $$
declare
  v_table text;
begin
  foreach v_table in array array['products', 'orders', 'order_lines', 'invoices'] loop
    execute format('create trigger bump_version before update on public.%I
                      for each row execute function private.bump_version()', v_table);
    execute format('create trigger audit after insert or update or delete on public.%I
                      for each row execute function private.audit_row()', v_table);
    execute format('alter table public.%I enable row level security', v_table);
    execute format('revoke all on public.%I from anon', v_table);
    execute format('revoke truncate, trigger, references, update on public.%I from authenticated', v_table);
    execute format('create policy %I on public.%I for select to authenticated
                      using (workspace_id in (select private.my_workspace_ids(''viewer'')))',
                   v_table || '_select', v_table);
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

grant update (sku, name, category, price, cost, currency, active) on public.products to authenticated;
grant update (contact_id, company_id, status, ordered_at, shipped_at, paid_at, country, currency, notes, deal_id)
  on public.orders to authenticated;
grant update (product_id, position, description, quantity, unit_price, discount) on public.order_lines to authenticated;
grant update (status, due_on, paid_on, contact_id, company_id) on public.invoices to authenticated;
