"""Duplicates: likely duplicate contacts or companies, and a merge screen to keep one of each pair.

The pairs and the merge itself come from lib.merge; this page shows them side by side, lets the
user pick the surviving value of every field that differs, previews the result, and merges
(or marks the pair "not a duplicate"). The versions the user compared are kept in the session,
so a colleague's edit in the meantime is caught instead of silently merged over.
"""

from __future__ import annotations

import streamlit as st

from lib import custom_fields, merge
from lib.audit import latest_change
from lib.csv_export import to_csv
from lib.customers import CONTACT, FIELD_LABELS, STAGE_LABELS
from lib.errors import ConflictError, UserError
from lib.text import md_escape
from lib.validation import country_name, format_phone
from lib.workspaces import can_write
from ui import session
from ui.widgets import kind_picker

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id

if flash := st.session_state.pop("dup_flash", None):
    st.toast(flash, icon=":material/merge:")

st.title("Duplicates")
if not can_write(current.role):
    st.info("Only agents and above review and merge duplicates.")
    st.stop()

kind = kind_picker("dup_kind")

if last := st.session_state.get("dup_last"):
    st.success(f"Merged into **{md_escape(last['name'])}**.", icon=":material/check_circle:")
    st.page_link("views/customer.py", label=f"Open {md_escape(last['name'])}", icon=":material/open_in_new:",
                 query_params={"customer": last["id"]})

# The pairs scan the whole workspace: kept in this session until any record of the workspace
# changes (its newest audit entry moves), so clicking through the merge screen is quick.
pairs_key = f"dup_pairs:{ws}:{kind.name}"
marker = latest_change(db, claims, ws)
cached = st.session_state.get(pairs_key)
if cached is None or cached[0] != marker:
    cached = st.session_state[pairs_key] = (marker, merge.candidate_pairs(db, claims, ws, kind))
pairs = cached[1]
if not pairs:
    st.info(
        f"**No likely duplicates** among your {kind.plural}. Pairs show up here when two {kind.plural} share an "
        "email address or phone number, or have similar names"
        + (" at the same company or email domain" if kind is CONTACT else "")
        + ". Pairs marked *Not a duplicate* stay hidden.",
        icon=":material/done_all:",
    )
    st.stop()


def _name(record: dict, side: str) -> str:
    return record[f"{side}_name"] or record[f"{side}_email"] or "(no name)"


rows = []
for p in pairs:
    row = {"Left": _name(p, "a"), "Right": _name(p, "b"), "Score": p["score"], "Reason": p["reason"],
           "Left email": p["a_email"], "Right email": p["b_email"],
           "Left phone": format_phone(p["a_phone"]), "Right phone": format_phone(p["b_phone"])}
    if kind is CONTACT:
        row.update({"Left company": p["a_company"], "Right company": p["b_company"]})
    rows.append(row)
st.caption(f"{len(pairs)} likely duplicate pair{'s' if len(pairs) != 1 else ''}, most likely first. "
           "Select one to compare and merge.")
table_key = f"dup_pairs_{kind.name}"
event = st.dataframe(
    rows, hide_index=True, on_select="rerun", selection_mode="single-row", key=table_key,
    column_config={"Score": st.column_config.ProgressColumn("Score", min_value=0.0, max_value=1.0, format="%.2f")},
)
st.download_button("Download CSV", data=to_csv(rows, list(rows[0])), file_name=f"relata-duplicate-{kind.plural}.csv",
                   mime="text/csv", icon=":material/download:", key="dup_csv", on_click="ignore")
picked = [i for i in (event.selection.rows if event else []) if i < len(pairs)]
if not picked:
    st.stop()
pair = pairs[picked[0]]
a_id, b_id = str(pair["a_id"]), str(pair["b_id"])
loaded = merge.load_pair(db, claims, ws, kind, a_id, b_id)
if loaded is None:
    st.warning(f"One of these {kind.plural} no longer exists.")
    st.stop()
a, b = loaded["a"], loaded["b"]
# The versions the user is comparing: a change by someone else after this is a conflict.
seen_key = f"dup_seen_{a_id}_{b_id}"
seen = st.session_state.setdefault(seen_key, {a_id: a["version"], b_id: b["version"]})
labels = {d.form_key: d.label for d in custom_fields.definitions(db, claims, ws, kind.name)}


def record_name(record: dict) -> str:
    return record[kind.name_column] or record.get("email") or "(no name)"


def shown(field: str, record: dict) -> str:
    """A field's value as a person reads it (plain text; escape before markdown)."""
    if field.startswith("custom."):
        value = (record.get("custom") or {}).get(field.split(".", 1)[1])
    elif field == "company_id":
        value = record.get("company_name")
    elif field == "owner_id":
        value = record.get("owner_name")
    elif field == "stage":
        value = STAGE_LABELS.get(record["stage"])
    elif field == "phone":
        value = format_phone(record["phone"])
    elif field == "country":
        value = country_name(record["country"])
    elif field == "consent":
        value = ("Yes" + (f" ({record['consent_source']})" if record.get("consent_source") else "")
                 if record["consent"] else "No")
    elif field == "tags":
        value = ", ".join(record.get("tags") or [])
    else:
        value = record.get(field)
    return "—" if value in (None, "", []) else str(value)


def related(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in counts.items()) or "nothing linked"


with st.container(border=True):
    st.subheader("Compare and merge")
    left, right = st.columns(2)
    for col, record, counts, side in ((left, a, loaded["a_related"], "Left"), (right, b, loaded["b_related"], "Right")):
        col.markdown(f"**{side}: {md_escape(record_name(record))}**")
        col.caption(f"Created {record['created_at']:%Y-%m-%d} · {md_escape(related(counts))}")
        col.page_link("views/customer.py", label="Open", icon=":material/open_in_new:",
                      query_params={"customer": str(record["id"])})
    keep = st.radio(
        "Which record stays? (it keeps its link and history; the other one's activities, tasks, deals and "
        "everything else linked to it move over)",
        ["left", "right"], horizontal=True, key=f"dup_keep_{a_id}_{b_id}",
        format_func=lambda s: f"{s.title()}: {md_escape(record_name(a if s == 'left' else b))}",
    )
    survivor, merged = (a, b) if keep == "left" else (b, a)
    side_of = {"left": a, "right": b}
    chosen: dict[str, str] = {}
    fields = merge.differences(kind, a, b)
    if fields:
        st.markdown("**Pick the value to keep for each field that differs**")
    for field in fields:
        default = merge.default_side(field, survivor, merged)
        default_col = keep if default == "survivor" else ("right" if keep == "left" else "left")
        pick = st.radio(
            FIELD_LABELS.get(field) or md_escape(labels.get(field, field)), ["left", "right"], horizontal=True,
            index=0 if default_col == "left" else 1, key=f"dup_f_{a_id}_{b_id}_{keep}_{field}",
            format_func=lambda s, f=field: md_escape(shown(f, side_of[s])),
        )
        chosen[field] = "survivor" if pick == keep else "merged"
    st.caption("Tags are combined, notes from both are kept, and custom fields one side leaves empty are filled "
               "from the other.")

    values = merge.merged_values(kind, survivor, merged, chosen)
    names = {"company_name": {str(r["company_id"]): r["company_name"] for r in (a, b) if r.get("company_id")},
             "owner_name": {str(r["owner_id"]): r["owner_name"] for r in (a, b) if r.get("owner_id")}}
    preview = dict(values, company_name=names["company_name"].get(str(values.get("company_id"))),
                   owner_name=names["owner_name"].get(str(values.get("owner_id"))))
    result_rows = [{"Field": FIELD_LABELS.get(f, f), "Result": shown(f, preview)}
                   for f in kind.fields if f != "custom" and shown(f, preview) != "—"]
    result_rows += [{"Field": labels.get(f"custom.{k}", k), "Result": shown(f"custom.{k}", preview)}
                    for k in values["custom"]]
    st.markdown("**Result**")
    st.dataframe(result_rows, hide_index=True, width="stretch")

    merge_col, dismiss_col, _ = st.columns([1, 1, 3])
    if merge_col.button("Merge", type="primary", icon=":material/merge:", key="dup_merge"):
        try:
            summary = merge.merge(db, claims, ws, kind, str(survivor["id"]), str(merged["id"]), chosen,
                                  seen[str(survivor["id"])], seen[str(merged["id"])])
        except ConflictError as exc:
            # What the page shows now is the latest: the next Merge is checked against that.
            st.session_state[seen_key] = {a_id: a["version"], b_id: b["version"]}
            st.warning(f"{exc} The values above are the latest.", icon=":material/sync_problem:")
        except UserError as exc:
            st.error(str(exc))
        else:
            moved = sum(summary["moved"].values())
            parts = [values.get("first_name"), values.get("last_name")] if kind is CONTACT else [values.get("name")]
            survivor_name = " ".join(filter(None, parts)) or values.get("email") or "(no name)"
            st.session_state.dup_flash = f"Merged. {moved} linked record{'s' if moved != 1 else ''} moved."
            st.session_state.dup_last = {"id": summary["survivor_id"], "name": survivor_name}
            st.session_state.pop(table_key, None)
            st.session_state.pop(seen_key, None)
            st.session_state.pop(pairs_key, None)
            st.rerun()
    if dismiss_col.button("Not a duplicate", icon=":material/block:", key="dup_dismiss"):
        try:
            merge.dismiss(db, claims, ws, kind, a_id, b_id)
        except UserError as exc:
            st.error(str(exc))
        else:
            st.session_state.dup_flash = "Marked as not a duplicate; this pair will not be proposed again."
            st.session_state.pop(table_key, None)
            st.session_state.pop("dup_last", None)
            st.session_state.pop(pairs_key, None)
            st.rerun()
