"""Customers: contacts and companies — search, filters, sort, pages of 50, bulk changes, export, new.

Everything is filtered, sorted and paged in Postgres (lib.customer_search); this page only keeps
the user's choices and the page cursors in the session.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lib import custom_fields, customers, customer_search as search
from lib.customers import CONTACT, STAGE_LABELS, STAGES
from lib.errors import UserError
from lib.text import md_escape
from lib.validation import country_name, format_phone
from lib.workspaces import can_write, members
from ui.paging import pager
from ui import customer_filters, customer_form, session
from ui.widgets import kind_picker

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")

title_col, new_col = st.columns([4, 1], vertical_alignment="bottom")
kind = kind_picker("cust_kind", default=st.query_params.get("kind", "contact"))
st.query_params["kind"] = kind.name
title_col.title("Customers")
if writer and new_col.button(f"New {kind.label}", icon=":material/add:", type="primary", key="cust_new"):
    st.session_state.cust_new_open = not st.session_state.get("cust_new_open", False)

if writer and st.session_state.get("cust_new_open"):
    with st.container(border=True):
        st.subheader(f"New {kind.label}")
        created = customer_form.show(rt, user, ws, kind, None, prefix=f"new_{kind.name}")
        if created:
            st.session_state.cust_new_open = False
            st.session_state.flash = f"{kind.label.capitalize()} added."
            st.switch_page("views/customer.py", query_params={"customer": created})

defs = custom_fields.definitions(db, claims, ws, kind.name)
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}


@st.cache_data(ttl=120, max_entries=500, show_spinner=False)
def filter_options(workspace_id: str, kind_name: str, _claims) -> dict[str, list[str]]:
    """Tags, sources and countries in use in one workspace: the same for every member of it (they
    all see all its customers), and a scan of the whole table, so kept for two minutes."""
    return search.options(db, _claims, workspace_id, customers.kind_of(kind_name))


in_use = filter_options(ws, kind.name, claims)

search_col, sort_col = st.columns([3, 1])
query = search_col.text_input(
    "Search", key=f"cust_search_{kind.name}", placeholder="Name, email, phone" + (" or company" if kind is CONTACT else ""),
    label_visibility="collapsed", icon=":material/search:",
)
# Starting a search switches to best match; clearing it goes back to names.
searching, was_searching = bool(query.strip()), st.session_state.get(f"cust_searching_{kind.name}", False)
if searching != was_searching:
    st.session_state[f"cust_sort_{kind.name}"] = "relevance" if searching else "name"
    st.session_state[f"cust_searching_{kind.name}"] = searching
sort = sort_col.selectbox("Sort", list(search.SORTS), format_func=search.SORTS.get, key=f"cust_sort_{kind.name}",
                          index=1, label_visibility="collapsed")

with st.expander("Filters", icon=":material/filter_list:"):
    picked = customer_filters.filter_widgets("cust_f", kind.name, defs, in_use, people)
filters = replace(picked, search=query)
archived = filters.archived

# Keyset pages: a stack of cursors, started afresh whenever the filters or the sort change.
signature = repr((kind.name, filters, sort))
if st.session_state.get("cust_signature") != signature:
    st.session_state.cust_signature = signature
    st.session_state.cust_cursors = [None]
cursors: list = st.session_state.cust_cursors
result = search.page(db, claims, ws, kind, filters, sort, after=cursors[-1])

active_filters = filters != search.Filters(archived=archived) or archived
if result.total == 0 and not active_filters and len(cursors) == 1:
    st.info(
        f"No {kind.plural} yet. Add your first one with **New {kind.label}**, bring your list in from a spreadsheet "
        "on the **Import** page, or load demo data from **Home** to look around.",
        icon=":material/person_add:",
    )
    if writer:
        st.page_link("views/import_customers.py", label="Import a CSV or Excel file", icon=":material/upload_file:")
    st.stop()

rows = []
for r in result.rows:
    row = {"Name": r["name"] or r["email"]}
    if kind is CONTACT:
        row["Company"] = r["company_name"] or ""
        row["Job title"] = r["title"] or ""
    else:
        row["Industry"] = r["industry"] or ""
        row["Contacts"] = r["contacts"]
    row.update({
        "Email": r["email"] or "", "Phone": format_phone(r["phone"]), "Stage": STAGE_LABELS[r["stage"]],
        "Owner": r["owner_name"] or "", "Tags": ", ".join(r["tags"]), "Source": r["source"] or "",
        "Country": country_name(r["country"]), "Last contacted": r["last_contacted_at"], "Created": r["created_at"],
    })
    for d in defs:
        row[f"custom:{d.key}"] = r["custom"].get(d.key)  # keyed apart: a label may equal a built-in column
    row["open_link"] = f"customer?customer={r['id']}"
    rows.append(row)

first = (len(cursors) - 1) * search.PAGE_SIZE
shown = f"{first + 1:,}–{first + len(rows):,} of {result.total_text()}" if rows else "0"
st.caption(f"{shown} {kind.plural}" + (" in the archive" if archived else "") + ". Select rows to open or change them.")
event = st.dataframe(
    rows, hide_index=True, on_select="rerun", selection_mode="multi-row", key=f"cust_table_{kind.name}",
    column_config={
        "open_link": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
        **{f"custom:{d.key}": st.column_config.Column(d.label) for d in defs},
        "Last contacted": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
        "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
    },
)

pager("cust", cursors, result.next_after, f"Page {len(cursors)}" + (
    "" if result.total_capped or result.total_estimated else f" of {max(1, -(-result.total // search.PAGE_SIZE)):,}"))

selected_rows = [i for i in (event.selection.rows if event else []) if i < len(result.rows)]
selected = [str(result.rows[i]["id"]) for i in selected_rows]
if len(selected) == 1:
    name = result.rows[selected_rows[0]]["name"] or result.rows[selected_rows[0]]["email"]
    if st.button(f"Open {md_escape(name)}", icon=":material/open_in_new:", type="primary", key="cust_open"):
        st.switch_page("views/customer.py", query_params={"customer": selected[0]})

if selected and writer:
    with st.container(border=True):
        st.markdown(f"**{len(selected)} selected** — change them all at once")
        action_col, value_col, apply_col = st.columns([2, 2, 1], vertical_alignment="bottom")
        actions = [a for a in customers.BULK_ACTIONS if (a == "restore") == archived]
        action = action_col.selectbox("Action", actions, format_func=customers.BULK_ACTIONS.get, key="cust_bulk_action")
        value = None
        if action == "assign_owner":
            value = value_col.selectbox("Owner", ["", *people], format_func=lambda o: people.get(o, "Nobody"),
                                        key="cust_bulk_owner")
        elif action in ("add_tag", "remove_tag"):
            value = value_col.text_input("Tag", key="cust_bulk_tag")
        elif action == "set_stage":
            value = value_col.selectbox("Stage", STAGES, format_func=STAGE_LABELS.get, key="cust_bulk_stage")
        if apply_col.button("Apply", type="primary", key="cust_bulk_apply"):
            try:
                count = customers.bulk(db, claims, ws, kind, selected, action, value)
            except UserError as exc:
                st.error(str(exc))
            else:
                st.session_state.flash = f"{customers.BULK_ACTIONS[action]}: {count} {kind.plural if count != 1 else kind.label} changed."
                st.session_state.pop(f"cust_table_{kind.name}", None)
                filter_options.clear()
                st.rerun()



def export_file(fmt: str) -> bytes:
    """The whole filtered list (not just this page), built only when the button is clicked."""
    from lib import export

    columns, headers = export.export_columns(kind, defs)
    rows = search.iter_rows(db, claims, ws, kind, filters, sort)
    if fmt == "csv":
        return b"".join(export.export_csv(rows, columns, headers))
    return export.export_xlsx(rows, columns, headers)


csv_col, xlsx_col, _ = st.columns([1, 1, 3])
csv_col.download_button(
    "Download CSV", data=lambda: export_file("csv"), file_name=f"relata-{kind.plural}.csv", mime="text/csv",
    icon=":material/download:", key="cust_csv", on_click="ignore",
)
xlsx_col.download_button(
    "Download Excel", data=lambda: export_file("xlsx"), file_name=f"relata-{kind.plural}.xlsx",
    icon=":material/table_view:", key="cust_xlsx", on_click="ignore",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
