"""Import: contacts, companies, deals or order lines from a CSV, Excel or .csv.gz file — map
columns, preview, load all or nothing.

The work happens in lib.importer and lib.order_import (one transaction as the user: staging
table, checks in SQL, set-based inserts); this page keeps the user's choices across reruns
(session keys `import_…`), shows the preview the importer computes, a progress bar while loading,
and the summary with the rejected rows to download. Deals also choose a pipeline and which of its
stages each stage value found in the file goes to; order lines choose the currency of their prices
when the file has no currency column.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from lib import custom_fields, deals, importer, order_import
from lib.errors import UserError
from lib.text import md_escape
from lib.workspaces import can_write
from ui import session
from ui.forms import attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

st.title("Import")
if not can_write(current.role):
    st.info("Only agents and above import customers, deals and orders.")
    st.stop()

KIND_LABELS = {"contact": "Contacts", "company": "Companies", "deal": "Deals", "order": "Orders (order lines)"}
kind_name = st.segmented_control(
    "Records", list(KIND_LABELS), format_func=KIND_LABELS.get, default="contact", key="import_kind",
    label_visibility="collapsed") or "contact"
is_order = kind_name == "order"
kind = order_import.ORDER if is_order else importer.record_kind(kind_name)
is_deal = kind is importer.DEAL
EXAMPLES = {
    "contact": "for example *First name, Last name, Email, Phone, Company, Country, Stage, Tags*. "
               "Each contact needs a name or an email; companies named in a *Company* column are found by name "
               "or created. ",
    "company": "for example *Name, Industry, Email, Phone, Website, Country, Stage, Tags*. Each company needs a name. ",
    "deal": "for example *Title, Company, Contact, Contact email, Value, Currency, Stage, Close date, Owner* — "
            "another CRM's opportunities export works as it is. Each deal needs a title (without a title column, "
            "the company and product name it). You choose the pipeline and which of its stages each stage in "
            "the file goes to; companies and contacts are found by name or email, or created. ",
    "order": "for example the retail layout *InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, "
             "CustomerID, Country*. Each line needs an order number, a quantity (negative for a return), a date "
             "and a unit price. Customers (by customer id), products (by SKU) and orders are found or created; "
             "order numbers starting with C are cancellations; lines without a customer id are anonymous sales. "
             "A large file can be uploaded gzip-compressed (.csv.gz). ",
}

uploaded = st.file_uploader(f"CSV or Excel file of {kind.plural}", type=["csv", "tsv", "txt", "xlsx", "gz"],
                            key="import_file")
if uploaded is None:
    st.session_state.pop("import_result", None)
    with st.container(border=True):
        st.markdown(
            f"**What the file should look like.** One {kind.label} per row and a first row naming the columns, "
            + EXAMPLES[kind.name]
            + "CSV (comma, semicolon or tab; UTF-8 or Windows encoding) or Excel .xlsx. You choose which column "
            "fills which field next, and see every row checked before anything is saved."
        )
        st.download_button(
            f"Download a template ({kind.plural})",
            data=order_import.template_csv() if is_order else importer.template_csv(kind),
            file_name=f"relata-{kind.table}-template.csv", mime="text/csv", icon=":material/download:",
            key="import_template", on_click="ignore",
        )
    st.stop()

try:
    data, filename = importer.unpack(uploaded.getvalue(), uploaded.name)
    table = importer.read_table(data, filename)
except UserError as exc:
    st.error(str(exc))
    st.stop()

# A new file (or another record kind) starts from freshly guessed columns.
signature = f"{kind.name}:{uploaded.name}:{hashlib.sha256(data).hexdigest()}"
defs = [] if is_deal or is_order else custom_fields.definitions(db, claims, ws, kind.name)
if st.session_state.get("import_signature") != signature:
    st.session_state.import_signature = signature
    st.session_state.pop("import_result", None)
    guessed = order_import.guess_mapping(table.headers) if is_order else importer.guess_mapping(table.headers, kind, defs)
    for i, name in enumerate(guessed.values()):
        st.session_state[f"import_map_{i}"] = name or ""

described = "Excel workbook" if table.format == "xlsx" else (
    f"CSV, {table.encoding} encoding, {'tab' if table.delimiter == chr(9) else repr(table.delimiter)} delimiter")
st.caption(f"{md_escape(uploaded.name)} · {described} · {len(table.headers)} columns")

st.subheader("Columns")
st.caption("Which field each column fills. Columns left on “ignore” are not imported.")
choices = {"": "— ignore —", **(order_import.FIELDS if is_order else importer.field_options(kind, defs))}
grid = st.columns(3)
mapping: dict[str, str | None] = {}
for i, header in enumerate(table.headers):
    key = f"import_map_{i}"
    if st.session_state.get(key) not in choices:
        st.session_state[key] = ""
    mapping[header] = grid[i % 3].selectbox(md_escape(header) or f"Column {i + 1}", list(choices), format_func=choices.get,
                                            key=key) or None
used = [f for f in mapping.values() if f]
repeated = sorted({choices[f] for f in used if used.count(f) > 1})
if repeated:
    st.warning("Several columns fill " + md_escape(", ".join(repeated)) + "; only the first of them is used.")
if kind.name == "contact" and not {"first_name", "last_name", "full_name", "email"} & set(used):
    st.warning("Map a name or an email column: each contact needs one.")
if kind.name == "company" and "name" not in used:
    st.warning("Map the company name column: each company needs one.")
if is_deal and not {"title", "company", "product"} & set(used):
    st.warning("Map a title column (or a company or product column to name the deals): each deal needs one.")
if is_order and order_import.missing_fields(mapping):
    st.warning("Map a column to each of: " + ", ".join(order_import.missing_fields(mapping)) + " (every line needs them).")


def stage_choices() -> tuple[str, dict[str, str | None], str]:
    """The chosen pipeline, {file stage value: stage id or None} as assigned on the page, the currency."""
    pipelines = deals.pipelines(db, claims, ws)
    names = {p["id"]: p["name"] for p in pipelines}
    st.subheader("Pipeline and stages")
    pipeline_id = st.selectbox("Pipeline", list(names), format_func=names.get, key="import_pipeline")
    stages = next(p for p in pipelines if p["id"] == pipeline_id)["stages"]
    column = next((h for h, f in mapping.items() if f == "stage"), None)
    found: dict[str, int] = {}
    if column is not None:
        cache_key = f"{signature}:{column}"
        if st.session_state.get("import_stage_values", (None,))[0] != cache_key:
            st.session_state.import_stage_values = (cache_key, importer.stage_values(table, mapping))
        found = st.session_state.import_stage_values[1]
    options = {"": "— not mapped: rows rejected —", **{str(s["id"]): s["name"] for s in stages}}
    # New stage values or another pipeline: guess the stages again.
    stage_signature = f"{signature}:{pipeline_id}:{list(found)}"
    if st.session_state.get("import_stage_signature") != stage_signature:
        st.session_state.import_stage_signature = stage_signature
        for i, stage_id in enumerate(importer.guess_stage_map(list(found), stages).values()):
            st.session_state[f"import_stage_{i}"] = stage_id or ""
    stage_map: dict[str, str | None] = {}
    if not found:
        first_open = next((s["name"] for s in stages if s["kind"] == "open"), stages[0]["name"] if stages else "")
        st.caption(f"No stage column: every deal goes into the first open stage, {md_escape(first_open)}."
                   if column is None else f"The stage column is empty: every deal goes into {md_escape(first_open)}.")
    else:
        st.caption("Which stage of the pipeline each stage found in the file goes to. Won and lost stages close "
                   "the deals on their close date; lost deals get the lost reason named in the file, else “Other”.")
        grid = st.columns(3)
        for i, (value, count) in enumerate(found.items()):
            key = f"import_stage_{i}"
            if st.session_state.get(key) not in options:
                st.session_state[key] = ""
            stage_map[value] = grid[i % 3].selectbox(
                f"{md_escape(value)} ({count:,} rows)", list(options), format_func=options.get, key=key) or None
        unmapped = [f"{md_escape(v)} ({found[v]:,} rows)" for v, s in stage_map.items() if not s]
        if unmapped:
            st.warning("Stage values not mapped to a stage: " + ", ".join(unmapped) + ". Those rows will be rejected.")
    currency = None
    if "currency" not in used:
        currency = st.text_input("Currency of the values", value="EUR", max_chars=3, key="import_currency",
                                 help="Three letters, such as EUR or USD; the file has no currency column.")
    return pipeline_id, stage_map, currency


deal_options: dict = {}
if is_deal:
    pipeline_id, stage_map, currency = stage_choices()
    deal_options = {"pipeline_id": pipeline_id, "stage_map": stage_map, "currency": currency}

st.subheader("Options")
on_existing = "skip"
order_currency = None
if is_order and "currency" not in used:
    order_currency = st.text_input("Currency of the prices", value="EUR", max_chars=3, key="import_order_currency",
                                   help="Three letters, such as EUR, GBP or USD; the file has no currency column.")
if not is_deal and not is_order:
    on_existing = st.radio(
        "When a record with the same email already exists",
        ["skip", "update"], format_func={"skip": "Skip it", "update": "Update it with the file's values"}.get,
        key="import_existing", horizontal=True,
    )
load_valid = st.checkbox(
    "Load the valid rows even if some rows have problems", key="import_load_valid",
    help="Otherwise a file with any rejected row loads nothing, so you can fix it and import it again.",
)

st.subheader("Preview")
ready = bool(used) and not (is_order and order_import.missing_fields(mapping))
if ready:
    if is_order:
        rows = attempt(lambda: order_import.preview(db, claims, ws, data, filename, mapping, currency=order_currency))
    elif is_deal:
        rows = attempt(lambda: importer.preview_deals(db, claims, ws, data, filename, mapping,
                                                      pipeline_id=deal_options["pipeline_id"],
                                                      stage_map=deal_options["stage_map"]))
    else:
        rows = attempt(lambda: importer.preview(db, claims, ws, kind, data, filename, mapping,
                                                on_existing=on_existing))
    if rows:
        icons = {"new": "✅ new", "update": "🔄 update", "skip": "⏭️ skip", "rejected": "❌ rejected"}
        st.dataframe(
            # The file's columns are keyed apart: a file may well have its own "Status" column.
            [{"Line": r.line, "Status": icons[r.status], "Check": r.reason,
              **{f"col:{i}": (r.values[i] if i < len(r.values) else "") for i in range(len(table.headers))}}
             for r in rows],
            column_config={f"col:{i}": st.column_config.Column(h or f"Column {i + 1}") for i, h in enumerate(table.headers)},
            hide_index=True, key="import_preview_table",
        )
        st.caption(f"The first {len(rows)} rows, checked as the import will check them.")
    elif rows is not None:
        st.info("The file has a header row but no data rows.")
else:
    st.info("Map the required columns to see the preview." if used else "Map at least one column to see the preview.")

if st.button(f"Import {kind.plural}", type="primary", icon=":material/upload:", key="import_run", disabled=not ready):
    bar = st.progress(0.0, text="Starting…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    if is_order:
        result = attempt(lambda: order_import.run_import(
            db, claims, ws, data, filename, mapping, currency=order_currency, load_valid_rows=load_valid,
            progress=report))
    else:
        result = attempt(lambda: importer.run_import(
            db, claims, ws, kind, data, filename, mapping, on_existing=on_existing,
            load_valid_rows=load_valid, progress=report, **deal_options))
    if result is not None:
        st.session_state.import_result = result
        message = order_import.summary(result) if is_order else importer.summary(result, kind)
        st.toast(message, icon=":material/check_circle:" if result.written else ":material/error:")

result = st.session_state.get("import_result")
if result is not None:
    st.subheader("Result")
    (st.success if result.written else st.error)(
        order_import.summary(result) if is_order else importer.summary(result, kind))
    if is_order:
        orders, lines, rejected, new_customers, new_products = st.columns(5)
        orders.metric("Orders", f"{result.orders:,}")
        lines.metric("Lines", f"{result.inserted:,}")
        rejected.metric("Rejected", f"{len(result.rejected):,}")
        new_customers.metric("New customers", f"{result.companies_created:,}")
        new_products.metric("New products", f"{result.products_created:,}")
        if result.written:
            st.caption(f"{result.cancelled:,} cancelled orders · {result.anonymous_lines:,} lines without a customer "
                       f"(anonymous sales) · {result.customers_reused:,} existing customers and "
                       f"{result.products_reused:,} existing products reused.")
        note = order_import.countries_note(result)
        if note:
            st.caption(md_escape(note))
    elif is_deal:
        added, rejected, new_companies, new_contacts = st.columns(4)
        added.metric("Added", f"{result.inserted:,}")
        rejected.metric("Rejected", f"{len(result.rejected):,}")
        new_companies.metric("New companies", f"{result.companies_created:,}")
        new_contacts.metric("New contacts", f"{result.contacts_created:,}")
        if result.by_stage:
            st.caption(("By stage: " if result.written else "Valid rows by stage: ")
                       + ", ".join(f"{md_escape(name)} {n:,}" for name, n in result.by_stage.items()) + ".")
    else:
        added, updated, skipped, rejected = st.columns(4)
        added.metric("Added", f"{result.inserted:,}")
        updated.metric("Updated", f"{result.updated:,}")
        skipped.metric("Skipped", f"{result.skipped:,}")
        rejected.metric("Rejected", f"{len(result.rejected):,}")
    if result.rejected:
        st.download_button(
            f"Download the {len(result.rejected):,} rejected rows (CSV)", data=importer.rejected_csv(result),
            file_name=f"relata-{kind.table}-rejected.csv", mime="text/csv", icon=":material/download:",
            key="import_rejected_download", on_click="ignore",
        )
        st.dataframe(
            [{"Line": line, "Reason": reason} for line, reason, _ in result.rejected[:200]],
            hide_index=True, key="import_rejected_table",
        )
    if result.written and result.inserted + result.updated:
        if is_order:
            st.page_link("views/orders.py", label="Open the orders", icon=":material/receipt_long:")
        elif is_deal:
            st.page_link("views/deals.py", label="Open the deals board", icon=":material/view_kanban:")
        else:
            st.page_link("views/customers.py", label=f"Open the {kind.plural}", icon=":material/groups:")
