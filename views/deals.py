"""Deals: the funnel board — one column per stage with its count, total and weighted value, cards
that move with one choice (won and lost ask for their value and reason in a dialog), filters,
"show more" per column, a new-deal form and a CSV of what the board shows.

The board is read in one call (lib.deals.board); this page only keeps the user's choices, how
many cards each column shows, and a pending move in the session. A move is handled before the
board is read, so the board is always drawn from the database as it is after the move.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import streamlit as st

from lib import deals
from lib.csv_export import to_csv
from lib.customers import company_choices
from lib.errors import ConflictError, UserError
from lib.text import md_escape
from lib.workspaces import can_write, members
from ui import session
from ui.forms import FieldSlots, attempt

NEW_KEYS = ("deal_new_title", "deal_new_value", "deal_new_currency", "deal_new_company", "deal_new_close",
            "deal_new_owner", "deal_new_stage")

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")
if warning := st.session_state.pop("deal_warning", None):
    st.warning(warning, icon=":material/sync_problem:")


def money(value: object) -> str:
    number = Decimal(str(value or 0))
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"


# -- choosing what to show ---------------------------------------------------------------------

st.title("Deals")
pipes = deals.pipelines(db, claims, ws)
if not pipes:
    st.info("This workspace has no pipeline yet; an admin can add one in **Settings**.", icon=":material/view_kanban:")
    st.stop()
pipe_by_id = {p["id"]: p for p in pipes}
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

cols = st.columns([2, 2, 2, 3])
pipeline_id = cols[0].selectbox("Pipeline", list(pipe_by_id), format_func=lambda p: pipe_by_id[p]["name"],
                                key="deal_pipeline")
owners = cols[1].multiselect("Owner", list(people), format_func=lambda o: people.get(o, "Nobody"), key="deal_f_owner",
                             placeholder="Anyone")
closing = cols[2].date_input("Expected close between", value=[], key="deal_f_close")
query = cols[3].text_input("Search", key="deal_search", placeholder="Title, company or contact",
                           icon=":material/search:")
pipeline = pipe_by_id[pipeline_id]
stage_by_id = {str(s["id"]): s for s in pipeline["stages"]}
picked = list(closing or [])
filters = deals.BoardFilters(owners=tuple(owners), close_from=picked[0] if picked else None,
                             close_to=picked[-1] if picked else None, search=query)

# "Show more" counts start afresh whenever the pipeline or the filters change.
signature = repr((pipeline_id, filters))
if st.session_state.get("deal_signature") != signature:
    st.session_state.deal_signature = signature
    st.session_state.deal_shown = {}
shown: dict[str, int] = st.session_state.deal_shown


# -- new deal ----------------------------------------------------------------------------------

def new_deal_form() -> None:
    if st.session_state.pop("deal_new_reset", False):
        for key in NEW_KEYS:
            st.session_state.pop(key, None)
    open_stages = [sid for sid, s in stage_by_id.items() if s["kind"] == "open"] or list(stage_by_id)
    companies = company_choices(db, claims, ws)
    with st.expander("New deal", icon=":material/add:"), st.form("deal_new_form"):
        slots = FieldSlots()
        title = st.text_input("Title", key="deal_new_title", placeholder="e.g. 20 bikes for the city fleet")
        slots.under("title")
        left, right = st.columns([3, 1])
        value = left.number_input("Value", min_value=0.0, value=0.0, step=100.0, key="deal_new_value")
        with left:
            slots.under("value")
        currency = right.text_input("Currency", value="EUR", max_chars=3, key="deal_new_currency")
        with right:
            slots.under("currency")
        company = st.selectbox("Company", list(companies), format_func=companies.get, index=None,
                               key="deal_new_company", placeholder="None")
        slots.under("company_id")
        left, right = st.columns(2)
        close = left.date_input("Expected close date", value=None, key="deal_new_close")
        with left:
            slots.under("expected_close_date")
        owner_ids = list(people)
        owner = right.selectbox("Owner", owner_ids, format_func=people.get, key="deal_new_owner",
                                index=owner_ids.index(user.id) if user.id in people else 0)
        stage = st.selectbox("Stage", open_stages, format_func=lambda s: stage_by_id[s]["name"], key="deal_new_stage")
        slots.under("stage_id")
        if st.form_submit_button("Create deal", type="primary", key="deal_new_submit"):
            made = attempt(lambda: deals.create(db, claims, ws, {
                "title": title, "value": value, "currency": currency, "company_id": company,
                "expected_close_date": close, "owner_id": owner, "pipeline_id": pipeline_id, "stage_id": stage,
            }), slots)
            if made:
                st.session_state.flash = "Deal added."
                st.session_state.deal_new_reset = True
                st.rerun()


if writer:
    new_deal_form()


# -- moving --------------------------------------------------------------------------------------

def request_move(card: dict, key: str) -> None:
    """The card's "Move to" choice: remembered for this run to carry out, and the picker reset."""
    st.session_state.deal_move = {**card, "stage_id": st.session_state[key]}
    st.session_state[key] = None


def carry_out(move: dict) -> None:
    stage = stage_by_id.get(move["stage_id"])
    if stage is None:
        return
    if stage["kind"] in ("won", "lost"):
        st.session_state.deal_dialog = move
        return
    try:
        deals.move(db, claims, ws, move["deal_id"], move["stage_id"], move["version"])
    except ConflictError as exc:
        st.warning(str(exc), icon=":material/sync_problem:")
    except UserError as exc:
        st.error(str(exc))
    else:
        st.toast(f"Moved to {md_escape(stage['name'])}.", icon=":material/check_circle:")


def close_dialog_dismissed() -> None:
    st.session_state.pop("deal_dialog", None)


def finish(action, done: str) -> None:
    """Run the won/lost move from the dialog; on success or conflict close it and redraw the board."""
    try:
        action()
    except ConflictError as exc:
        st.session_state.pop("deal_dialog", None)
        st.session_state.deal_warning = str(exc)
        st.rerun()
    else:
        st.session_state.pop("deal_dialog", None)
        st.session_state.flash = done
        st.rerun()


@st.dialog("Mark the deal won", icon=":material/emoji_events:", on_dismiss=close_dialog_dismissed)
def won_dialog(move: dict) -> None:
    st.markdown(f"**{md_escape(move['title'])}** moves to **{md_escape(stage_by_id[move['stage_id']]['name'])}**.")
    slots = FieldSlots()
    won_value = st.number_input(f"Won value ({move['currency']})", min_value=0.0, value=float(move["value"] or 0),
                                step=100.0, key=f"deal_won_value_{move['deal_id']}")
    slots.under("won_value")
    left, right = st.columns(2)
    if left.button("Mark won", type="primary", key="deal_won_submit", icon=":material/check:"):
        attempt(lambda: finish(lambda: deals.move(db, claims, ws, move["deal_id"], move["stage_id"], move["version"],
                                                  won_value=won_value), "Deal won."), slots)
    if right.button("Cancel", key="deal_won_cancel"):
        close_dialog_dismissed()
        st.rerun()


@st.dialog("Mark the deal lost", icon=":material/thumb_down:", on_dismiss=close_dialog_dismissed)
def lost_dialog(move: dict) -> None:
    st.markdown(f"**{md_escape(move['title'])}** moves to **{md_escape(stage_by_id[move['stage_id']]['name'])}**.")
    slots = FieldSlots()
    reasons = deals.lost_reasons(db, claims, ws)
    reason = st.selectbox("Why was it lost?", list(reasons), format_func=reasons.get, index=None,
                          key=f"deal_lost_reason_{move['deal_id']}", placeholder="Choose a reason")
    slots.under("lost_reason_id")
    left, right = st.columns(2)
    if left.button("Mark lost", type="primary", key="deal_lost_submit", icon=":material/check:"):
        attempt(lambda: finish(lambda: deals.move(db, claims, ws, move["deal_id"], move["stage_id"], move["version"],
                                                  lost_reason_id=reason), "Deal marked lost."), slots)
    if right.button("Cancel", key="deal_lost_cancel"):
        close_dialog_dismissed()
        st.rerun()


if writer and (pending := st.session_state.pop("deal_move", None)):
    carry_out(pending)
if writer and (dialog := st.session_state.get("deal_dialog")):
    if dialog["stage_id"] not in stage_by_id:  # the user switched pipeline meanwhile
        st.session_state.pop("deal_dialog")
    elif stage_by_id[dialog["stage_id"]]["kind"] == "won":
        won_dialog(dialog)
    else:
        lost_dialog(dialog)


# -- the board -----------------------------------------------------------------------------------

board = deals.board(db, claims, ws, pipeline_id, filters, shown=shown)
filtered = filters != deals.BoardFilters()
if not any(c.count for c in board):
    if filtered:
        st.info("No deals match these filters.", icon=":material/filter_alt_off:")
    else:
        st.info(
            "No deals in this pipeline yet. Add one with **New deal** above, convert a lead from a contact's page "
            "in **Customers**, or bring your opportunities in from a spreadsheet with **Import**.",
            icon=":material/handshake:",
        )
        st.page_link("views/customers.py", label="Open Customers", icon=":material/group:")
        if writer:
            st.page_link("views/import_customers.py", label="Import a CSV or Excel file", icon=":material/upload_file:")
    st.stop()


def show_more(stage_id: str, now_shown: int) -> None:
    st.session_state.deal_shown[stage_id] = now_shown + deals.CARDS_PER_COLUMN


def card_view(card: dict, stage_id: str) -> None:
    deal_id = str(card["id"])
    with st.container(border=True, key=f"deal_card_{deal_id}"):
        # Few elements per card: a board of a couple of hundred cards is drawn on every rerun.
        st.markdown(f"**{md_escape(card['title'])}**  \n{money(card['value'])} {md_escape(card['currency'])}")
        who = card["company_name"] or card["contact_name"]
        owner = md_escape(card["owner_name"]) if card["owner_name"] else "No owner"
        st.caption((f"{md_escape(who)} · " if who else "") + f"{card['days_in_stage']} d in stage · {owner}")
        if card["overdue"] or card["rotting"]:
            with st.container(horizontal=True, gap="small"):
                if card["overdue"]:
                    st.badge("Overdue", color="red", icon=":material/event_busy:",
                             help=f"Expected to close on {card['expected_close_date']:%d %b %Y}")
                if card["rotting"]:
                    st.badge("Rotting", color="orange", icon=":material/hourglass_bottom:",
                             help="No move for longer than this stage allows")
        st.page_link("views/deal.py", label="Open", icon=":material/open_in_new:", query_params={"deal": deal_id})
        if writer:
            key = f"deal_move_{deal_id}"
            others = [s for s in stage_by_id if s != stage_id]
            st.selectbox(
                "Move to", others, format_func=lambda s: stage_by_id[s]["name"], index=None, key=key,
                placeholder="Move to…", label_visibility="collapsed", on_change=request_move,
                args=({"deal_id": deal_id, "version": card["version"], "title": card["title"],
                       "value": card["value"], "currency": card["currency"]}, key),
            )


# Columns keep a readable width; with many stages the board scrolls sideways.
st.html("<style>.st-key-deal_board [data-testid='stHorizontalBlock'] {overflow-x: auto; flex-wrap: nowrap;}"
        " .st-key-deal_board [data-testid='stColumn'] {min-width: 12rem;}</style>")
with st.container(key="deal_board"):
    for column, col in zip(board, st.columns(len(board))):
        stage_id = column.stage["id"]
        with col:
            st.markdown(f"**{md_escape(column.stage['name'])}** · {column.count}")
            st.caption(f"{money(column.total)} · weighted {money(column.weighted)} ({column.stage['probability']} %)")
            for card in column.cards:
                card_view(card, stage_id)
            if column.count > len(column.cards):
                st.button(f"Show more ({column.count - len(column.cards)} left)", key=f"deal_more_{stage_id}",
                          on_click=show_more, args=(stage_id, len(column.cards)), width="stretch")

rows = [{**card, "stage": column.stage["name"], "company": card["company_name"] or "",
         "contact": card["contact_name"] or "", "owner": card["owner_name"] or ""}
        for column in board for card in column.cards]
st.download_button(
    "Download CSV", to_csv(rows, ["title", "company", "contact", "value", "currency", "stage", "owner",
                                  "expected_close_date", "days_in_stage"],
                           ["Title", "Company", "Contact", "Value", "Currency", "Stage", "Owner",
                            "Expected close", "Days in stage"]),
    file_name=f"deals-{date.today():%Y-%m-%d}.csv", mime="text/csv", key="deal_csv", on_click="ignore",
    icon=":material/download:",
)
