"""Segments: saved live filters, static lists and RFM segments of contacts, with live counts; a
filter builder with a live count and preview, saved as a live segment or frozen as a list.

All logic is in lib.segments (counts and members through lib.customer_search's filters); `?segment=<id>`
opens that segment (the customer page's segment badges link here).
"""

from __future__ import annotations

import streamlit as st

from lib import custom_fields, customer_search as search, segments
from lib.analytics import common
from lib.customers import CONTACT
from lib.errors import FormErrors, UserError
from lib.text import md_escape
from lib.workspaces import can_manage_members, can_write, members
from ui import segment_builder, session

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer, admin = can_write(current.role), can_manage_members(current.role)

if flash := st.session_state.pop("seg_flash", None):
    st.toast(flash, icon=":material/check_circle:")


@st.cache_data(ttl=60, max_entries=5000, show_spinner=False)
def live_count(workspace_id: str, segment_id: str, version: int, _claims) -> int:
    """A saved segment's member count, kept a minute (every member of a workspace sees the same contacts)."""
    return segments.count(db, _claims, workspace_id, segment_id)


@st.cache_data(ttl=15, max_entries=500, show_spinner=False)
def built_count(workspace_id: str, signature: str, _filters, _claims) -> int:
    """The builder's count, kept a few seconds so that clicks elsewhere on the page do not recount."""
    return segments.count_filters(db, _claims, workspace_id, _filters)


@st.cache_data(ttl=120, max_entries=500, show_spinner=False)
def filter_options(workspace_id: str, _claims) -> dict[str, list[str]]:
    return search.options(db, _claims, workspace_id, CONTACT)


def attempt(call, slot=None):
    try:
        return call()
    except FormErrors as exc:
        (slot or st).error(" ".join(exc.errors.values()))
    except UserError as exc:
        (slot or st).error(str(exc))
    return None


st.title("Segments")
st.caption("Who to say something to: live filters (members change as your contacts do), static lists "
           "(frozen until you change them) and RFM segments saved from Customer analytics. Campaigns use them as "
           "their audience.")

saved = segments.list_segments(db, claims, ws)
by_id = {s["id"]: s for s in saved}
lists = {s["id"]: s["name"] for s in saved if s["kind"] == segments.STATIC}
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

# Keyed, so a rerun from the builder's widgets keeps the builder open; saving opens the saved one.
SAVED_TAB, BUILD_TAB = "Saved segments", "Build a segment"
if st.session_state.pop("seg_show_saved", False):  # set before the widgets exist
    st.session_state.seg_tabs = SAVED_TAB
# ?segment= names the open segment; the picker keeps it so (follow_choice), so a different one is
# a deep link (a badge on a customer page) or the segment just saved.
if (wanted := st.query_params.get("segment")) in by_id and st.session_state.get("seg_open") != wanted:
    st.session_state.seg_open = wanted


def follow_choice() -> None:
    st.query_params["segment"] = st.session_state.seg_open


def show_saved(segment_id: str, message: str) -> None:
    """After saving: the Saved tab, with the new segment open in it."""
    st.session_state.seg_flash = message
    st.query_params["segment"] = segment_id
    st.session_state.seg_show_saved = True
    st.rerun()


saved_tab, build_tab = st.tabs([SAVED_TAB, BUILD_TAB], key="seg_tabs", on_change="rerun")

# -- saved segments -----------------------------------------------------------------------------

with saved_tab:
    if not saved:
        st.info("No segments yet. Build one in **Build a segment** from the same filters as the Customers list "
                "(plus consent, open deals and tickets, last activity), or save an RFM segment on "
                "**Customer analytics**.", icon=":material/filter_list:")
    else:
        head, refresh = st.columns([5, 1], vertical_alignment="bottom")
        if refresh.button("Recount", icon=":material/refresh:", key="seg_recount",
                          help="Counts are kept for a minute; recount now."):
            live_count.clear()
        head.caption(f"{len(saved)} segment{'s' if len(saved) != 1 else ''}; counts are of active contacts now.")
        st.dataframe([{
            "Name": s["name"], "Kind": segments.KINDS.get(s["kind"], s["kind"]),
            "Members now": live_count(ws, s["id"], s["version"], claims),
            "Created by": s["created_by_name"] or "", "Created": s["created_at"],
        } for s in saved], hide_index=True, key="seg_list",
            column_config={"Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD")})

        ids = list(by_id)
        if st.session_state.get("seg_open") not in by_id:  # first visit, or that one was deleted
            st.session_state.seg_open = ids[0]
        chosen = st.selectbox("Open a segment", ids, format_func=lambda i: by_id[i]["name"], key="seg_open",
                              on_change=follow_choice)
        if chosen:
            st.query_params["segment"] = chosen
            seg = by_id[chosen]
            with st.container(border=True):
                st.subheader(md_escape(seg["name"]))
                st.caption(md_escape(segments.describe(seg, people, lists)))
                total = segments.count(db, claims, ws, chosen)
                st.metric("Members now", f"{total:,}")
                rows = segments.preview(db, claims, ws, chosen)
                static = seg["kind"] == segments.STATIC
                if rows:
                    st.caption(f"The first {len(rows)} by name" + (" — select rows to remove them" if static and writer else "") + ".")
                    event = segment_builder.preview_table(rows, f"seg_preview_{chosen}", select=static and writer)
                else:
                    st.caption("No members right now.")
                    event = None
                st.download_button("Download members (CSV)", data=lambda: segments.members_csv(db, claims, ws, chosen),
                                   file_name="relata-segment.csv", mime="text/csv", icon=":material/download:",
                                   key="seg_csv", on_click="ignore", disabled=not total)
                if static and writer:
                    picked = [str(rows[i]["id"]) for i in (event.selection.rows if event else []) if i < len(rows)]
                    if picked and st.button(f"Remove {len(picked)} from the list", key="seg_remove",
                                            icon=":material/person_remove:"):
                        if (n := attempt(lambda: segments.remove_members(db, claims, ws, chosen, picked))) is not None:
                            st.session_state.seg_flash = f"{n} removed from the list."
                            st.rerun()
                    found_col, add_col = st.columns([3, 1], vertical_alignment="bottom")
                    q = found_col.text_input("Add contacts", key="seg_add_q", placeholder="Search a name, email or phone")
                    if q.strip():
                        hits = search.page(db, claims, ws, CONTACT, search.Filters(search=q), "relevance", limit=20,
                                           with_total=False).rows
                        names = {str(h["id"]): f"{h['name'] or h['email']} ({h['email'] or 'no email'})" for h in hits}
                        adding = st.multiselect("Contacts to add", list(names), format_func=names.get, key="seg_add_pick")
                        if adding and add_col.button("Add", type="primary", key="seg_add"):
                            if (n := attempt(lambda: segments.add_members(db, claims, ws, chosen, adding))) is not None:
                                st.session_state.seg_flash = f"{n} added to the list."
                                st.rerun()
                    st.caption("To add everyone matching a filter, build it under **Build a segment** and use "
                               "**Add matches to a list** there.")
                if seg["kind"] == segments.FILTER and writer:
                    st.caption("To change this filter, build the new one under **Build a segment** and use "
                               "**Replace a live segment's filter** there.")
                if admin:
                    with st.popover("Delete segment", icon=":material/delete:"):
                        st.write("Campaigns that used it keep the members they were sent to.")
                        if st.button("Delete it", type="primary", key="seg_delete"):
                            if attempt(lambda: segments.delete_segment(db, claims, ws, chosen) or True):
                                st.query_params.pop("segment", None)
                                st.session_state.pop("seg_open", None)
                                st.session_state.seg_flash = "Segment deleted."
                                st.rerun()

# -- building one -------------------------------------------------------------------------------

with build_tab:
    defs = custom_fields.definitions(db, claims, ws, "contact")
    in_use = filter_options(ws, claims)
    currencies = common.currencies(db, claims, ws)
    filters = segment_builder.builder("seg_f", defs, in_use, people, lists, currencies)
    total = built_count(ws, repr(filters), filters, claims)
    if total == 0 and filters == search.Filters():
        st.info("No contacts yet: add them on **Customers**, import a file on **Import**, or load demo data from "
                "**Home**.", icon=":material/person_add:")
        st.stop()
    st.metric("Matching contacts now", f"{total:,}")
    rows = segments.preview_filters(db, claims, ws, filters) if total else []
    if rows:
        st.caption(f"The first {len(rows)} by name.")
        segment_builder.preview_table(rows, "seg_build_preview")
    if not writer:
        st.caption("Viewers can build and count segments; agents and above save them.")
        st.stop()
    with st.container(border=True):
        name_col, live_col, list_col = st.columns([3, 1, 1], vertical_alignment="bottom")
        name = name_col.text_input("Name", key="seg_name", placeholder="e.g. Customers in Germany with consent")
        errors = st.empty()
        if live_col.button("Save as live segment", type="primary", key="seg_save",
                           help="Members are whoever matches when the segment is used."):
            if made := attempt(lambda: segments.save_filter_segment(db, claims, ws, name, filters), errors):
                show_saved(made["id"], f"Saved, {made['member_count']:,} members now.")
        if list_col.button("Freeze as static list", key="seg_freeze",
                           help="Takes the matching contacts now; later changes do not change the list."):
            if made := attempt(lambda: segments.save_static_list(db, claims, ws, name, filters=filters), errors):
                show_saved(made["id"], f"List saved with {made['member_count']:,} members.")
        if st.button("Create an empty list with this name", key="seg_empty", type="tertiary"):
            if made := attempt(lambda: segments.save_static_list(db, claims, ws, name), errors):
                show_saved(made["id"], "Empty list created; add contacts from its page.")
    live_segments = {s["id"]: s["name"] for s in saved if s["kind"] == segments.FILTER}
    if lists or live_segments:
        with st.expander("Use this filter on a saved segment"):
            if lists:
                target_col, add_col = st.columns([3, 1], vertical_alignment="bottom")
                target = target_col.selectbox("Static list", list(lists), format_func=lists.get, key="seg_add_target")
                if add_col.button("Add matches to a list", key="seg_add_matches"):
                    if (n := attempt(lambda: segments.add_members(db, claims, ws, target, filters=filters))) is not None:
                        st.session_state.seg_flash = f"{n:,} added to the list."
                        st.rerun()
            if live_segments:
                target_col, replace_col = st.columns([3, 1], vertical_alignment="bottom")
                target = target_col.selectbox("Live segment", list(live_segments), format_func=live_segments.get,
                                              key="seg_replace_target")
                if replace_col.button("Replace a live segment's filter", key="seg_replace"):
                    if (n := attempt(lambda: segments.update_filter_segment(db, claims, ws, target, filters))) is not None:
                        st.session_state.seg_flash = f"Filter replaced, {n:,} members now."
                        st.rerun()
