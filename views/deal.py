"""Deal page (deep link `?deal=<id>`): everything about one deal on one screen.

Header facts and links to its contact and company, the stage path with a "Move to" control (won
asks for the final value, lost for a reason, in a dialog), quick actions (log an activity, create a
task: both also land on the customer's timeline), and tabs: Timeline, Tasks, History (stage moves,
CSV) and Details (edit, with both versions shown when someone else saved first).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import streamlit as st

from lib import activities, deals
from lib.activities import CHANNELS
from lib.csv_export import to_csv
from lib.errors import ConflictError, FormErrors, UserError
from lib.text import md_escape
from lib.validation import is_uuid
from lib.workspaces import can_write, members
from ui import session
from ui.forms import FieldSlots, attempt, conflict_choice
from ui.marketing import campaign_credit
from ui.widgets import activity_form, task_form

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

STATUS_BADGES = {"open": ":blue-badge[Open]", "won": ":green-badge[Won]", "lost": ":red-badge[Lost]"}
FIELD_LABELS = {"title": "Title", "value": "Value", "currency": "Currency", "expected_close_date": "Expected close",
                "owner_id": "Owner", "source": "Source"}
PENDING_MOVE = "deal_move_pending"

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")



deal_id = st.query_params.get("deal", "")
deal = deals.get(db, claims, ws, deal_id) if is_uuid(deal_id) else None
if deal is None:
    st.title("Deal not found")
    st.info("This deal does not exist in this workspace, or it was deleted. Find your deals on the Deals page.")
    st.page_link("views/deals.py", label="Go to Deals", icon=":material/view_kanban:")
    st.stop()
did = str(deal["id"])
details_prefix = f"deal_edit_{did}"
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}
path = deals.stage_path(db, claims, ws, did)
stage_by_id = {s["id"]: s for s in path}

# The version the user is looking at: a move made from this screen must not overwrite a newer one.
seen_key = f"deal_seen_version_{did}"
seen_version = st.session_state.get(seen_key, deal["version"])
st.session_state[seen_key] = deal["version"]

if notice := st.session_state.pop("deal_notice", None):
    st.warning(notice, icon=":material/sync_problem:")


def _reset_form(prefix: str) -> None:
    """Forget a form's widgets and remembered version, so it starts again from the stored deal."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefix + "_")]:
        del st.session_state[key]


def _money(value: object) -> str:
    return f"{float(value or 0):,.2f}"


# -- header --------------------------------------------------------------------------------
st.page_link("views/deals.py", label="Deals", icon=":material/arrow_back:")
st.title(md_escape(deal["title"]))
today = date.today()
current_stage = stage_by_id.get(str(deal["stage_id"]), {})
days_in_stage = (today - deal["stage_entered_at"].date()).days
facts = [STATUS_BADGES.get(deal["status"], deal["status"]),
         f"{md_escape(deal['pipeline_name'])} › **{md_escape(deal['stage_name'])}** ({deal['probability']}%)"]
if deal["status"] == "lost" and deal.get("lost_reason"):
    facts.append("Lost: " + md_escape(deal["lost_reason"]))
if deal["status"] == "open" and current_stage.get("rotting_days") and days_in_stage > current_stage["rotting_days"]:
    facts.append(":orange-badge[Rotting]")
if deal["status"] == "open" and deal["expected_close_date"] and deal["expected_close_date"] < today:
    facts.append(":red-badge[Close date passed]")
if deal.get("source"):
    facts.append("Source: " + md_escape(deal["source"]))
st.markdown(" · ".join(facts))

m1, m2, m3, m4 = st.columns(4)
# The currency goes in the label: four metrics share the width, and "5,410.00 EUR" did not fit.
m1.metric(f"Value ({deal['currency']})", _money(deal["value"]))
m2.metric(f"Weighted ({deal['currency']})", _money(float(deal["value"] or 0) * deal["probability"] / 100),
          help="Value × the stage's win probability.")
close = deal["expected_close_date"]
m3.metric("Expected close", f"{close:%Y-%m-%d}" if close else "—")
m4.metric("Days in stage", days_in_stage)
st.caption("Owner: " + md_escape(deal["owner_name"] or "nobody"))
links = st.columns(2)
if deal.get("contact_id"):
    links[0].page_link("views/customer.py", label=md_escape(deal["contact_name"] or "Contact"), icon=":material/person:",
                       query_params={"customer": str(deal["contact_id"])})
if deal.get("company_id"):
    links[1].page_link("views/customer.py", label=md_escape(deal["company_name"] or "Company"), icon=":material/domain:",
                       query_params={"customer": str(deal["company_id"])})


def _credited(version: int) -> None:
    """Crediting a campaign bumps the deal's version; an editor that was up to date stays so
    (whatever is typed in it is kept: the campaign is not one of its fields)."""
    if st.session_state.get(f"{details_prefix}_version") == deal["version"]:
        st.session_state[f"{details_prefix}_version"] = version


campaign_credit(db, claims, ws, "deal", deal, writer, saved=_credited)


# -- stage path and moving -----------------------------------------------------------------
def _path_step(stage: dict) -> str:
    name = md_escape(stage["name"])
    if stage["current"]:
        colour = {"won": "green", "lost": "red"}.get(stage["kind"], "blue")
        return f":{colour}-badge[**{name}**]"
    return f":gray[{name} ✓]" if stage["visited"] else f":gray[{name}]"


st.markdown(" → ".join(_path_step(s) for s in path))


def _after_move(stage: dict) -> None:
    _reset_form(details_prefix)  # the details form starts again from the moved deal
    st.session_state.flash = f"Moved to {md_escape(stage['name'])}."
    st.rerun()


def _refused(exc: ConflictError) -> None:
    st.session_state.deal_notice = f"{exc} The page shows the current deal now."
    st.rerun()


def _forget_pending() -> None:
    st.session_state.pop(PENDING_MOVE, None)


@st.dialog("Close the deal", on_dismiss=_forget_pending)
def close_dialog(pending: dict) -> None:
    stage = stage_by_id[pending["stage"]]
    slots = FieldSlots()
    won_value = lost_reason = None
    if stage["kind"] == "won":
        st.write(f"Won — what was **{md_escape(deal['title'])}** won for?")
        won_value = st.text_input(f"Won value ({deal['currency']})", value=f"{float(deal['value'] or 0):.2f}",
                                  key="deal_won_value")
        slots.under("won_value")
    else:
        reasons = deals.lost_reasons(db, claims, ws)
        st.write(f"Lost — why was **{md_escape(deal['title'])}** lost?")
        lost_reason = st.selectbox("Lost reason", list(reasons), format_func=reasons.get, index=None,
                                   placeholder="Choose…", key="deal_lost_reason")
        slots.under("lost_reason_id")
    confirm, cancel = st.columns(2)
    if confirm.button(f"Move to {md_escape(stage['name'])}", type="primary", key="deal_close_confirm"):
        try:
            deals.move(db, claims, ws, did, stage["id"], pending["version"], won_value=won_value,
                       lost_reason_id=lost_reason)
        except FormErrors as exc:
            slots.show(exc.errors)
        except ConflictError as exc:
            _forget_pending()
            _refused(exc)
        except UserError as exc:
            st.error(str(exc))
        else:
            _forget_pending()
            _after_move(stage)
    if cancel.button("Cancel", key="deal_close_cancel"):
        _forget_pending()
        st.rerun()


if writer:
    targets = [s["id"] for s in path if not s["current"]]
    pick_col, move_col = st.columns([3, 1], vertical_alignment="bottom")
    target = pick_col.selectbox(
        "Move to", targets, index=None, placeholder="Choose a stage…", key=f"deal_move_target_{did}",
        format_func=lambda i: f"{stage_by_id[i]['name']} ({stage_by_id[i]['probability']}%)")
    if move_col.button("Move", key="deal_move_submit", disabled=target is None, icon=":material/arrow_forward:"):
        stage = stage_by_id[target]
        if stage["kind"] == "open":
            try:
                deals.move(db, claims, ws, did, target, seen_version)
            except ConflictError as exc:
                _refused(exc)
            except UserError as exc:
                st.error(str(exc))
            else:
                _after_move(stage)
        else:
            st.session_state[PENDING_MOVE] = {"deal": did, "stage": target, "version": seen_version}
    pending = st.session_state.get(PENDING_MOVE)
    if pending and pending["deal"] == did and pending["stage"] in stage_by_id:
        close_dialog(pending)

# -- quick actions --------------------------------------------------------------------------
if writer:
    log_col, task_col = st.columns(2)
    with log_col.expander("Log an activity", icon=":material/edit_note:"):
        if logged := activity_form(rt, user, ws, "deal_log", deal_id=did):
            st.session_state.flash = f"{logged} logged."
            st.rerun()
    with task_col.expander("Create a task", icon=":material/add_task:"):
        if task_form(rt, user, ws, "deal_task", people, deal_id=did):
            st.session_state.flash = "Task created."
            st.rerun()

timeline_tab, tasks_tab, history_tab, details_tab = st.tabs(["Timeline", "Tasks", "History", "Details"])

with timeline_tab:
    key = f"deal_timeline_pages_{did}"
    pages = st.session_state.setdefault(key, [None])
    events: list[dict] = []
    next_before = None
    for before in pages:
        chunk = activities.deal_timeline(db, claims, ws, did, before=before)
        events.extend(chunk.events)
        next_before = chunk.next_before
    if not events:
        st.info("Nothing logged on this deal yet. Log a call, an email or a note above; it also shows on the "
                "customer's timeline.")
    for event in events:
        with st.container(border=True):
            if event["kind"] == "activity":
                label, icon = CHANNELS.get(event["detail"], ("Activity", ":material/event:"))
                direction = f" ({event['direction']})" if event.get("direction") else ""
                st.markdown(f"{icon} **{label}{direction}** — {md_escape(event['title'] or '')}")
                if event["body"]:
                    st.markdown(event["body"])  # markdown without raw HTML (Streamlit's default)
            else:
                st.markdown(f":material/task_alt: **Task** ({event['detail']}) — {md_escape(event['title'])}")
            about = f" · {md_escape(event['contact_name'])}" if event.get("contact_name") else ""
            st.caption(f"{md_escape(event['actor_name'] or 'someone')} · {event['happened_at']:%Y-%m-%d %H:%M}{about}")
    if next_before and st.button("Show older", key="deal_timeline_more"):
        pages.append(next_before)
        st.rerun()

with tasks_tab:
    open_list = activities.deal_tasks(db, claims, ws, did)
    if not open_list:
        st.info("No open tasks on this deal. Create one above so the next step is not forgotten.")
    for task in open_list:
        due = task["due_date"]
        late = " :red[overdue]" if due and due < today else ""
        label = (f"{md_escape(task['title'])} — due {due:%Y-%m-%d}" if due else md_escape(task["title"])) + late
        label += f" · {md_escape(task['assignee_name'] or 'unassigned')} · {task['priority']}"
        if st.checkbox(label, key=f"deal_task_done_{task['id']}", disabled=not writer):
            if attempt(lambda: activities.set_task_done(db, claims, ws, str(task["id"])) or True):
                st.session_state.flash = "Task done."
                st.rerun()

with history_tab:
    moves = deals.history(db, claims, ws, did)
    rows = [{"From": m["from_stage"] or ("(created)" if n == 0 else "(deleted stage)"),
             "To": m["to_stage"] or "(deleted stage)", "Entered": f"{m['entered_at']:%Y-%m-%d %H:%M}",
             "Left": f"{m['left_at']:%Y-%m-%d %H:%M}" if m["left_at"] else "",
             "Days": float(m["days"]), "Who": m["changed_by"] or ""} for n, m in enumerate(moves)]
    st.dataframe(rows, hide_index=True, key="deal_history_table")
    st.download_button("Download CSV", data=to_csv(rows, ["From", "To", "Entered", "Left", "Days", "Who"]),
                       file_name="relata-deal-history.csv", mime="text/csv", icon=":material/download:",
                       key="deal_history_csv", on_click="ignore")


def _shown(field: str, value: Any) -> str:
    """One field's value as the conflict table shows it."""
    if value is None or value == "":
        return "—"
    if field == "owner_id":
        return people.get(str(value), str(value))
    if field == "value":
        return f"{float(value):,.2f}" if isinstance(value, (int, float, Decimal)) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _show_conflict(conflict: dict) -> None:
    mine, theirs = conflict["mine"], conflict["theirs"]
    try:
        cleaned = deals.clean(mine)
    except FormErrors:
        cleaned = mine
    rows = [{"Field": FIELD_LABELS[f], "Yours": _shown(f, cleaned.get(f)), "Saved by someone else": _shown(f, theirs.get(f))}
            for f in FIELD_LABELS if _shown(f, cleaned.get(f)) != _shown(f, theirs.get(f))]
    conflict_choice("deal", details_prefix, rows, theirs["version"], lambda: _reset_form(details_prefix))


def details_form() -> None:
    p = details_prefix
    # The version this editor started from: a newer one in the database means a conflict.
    st.session_state.setdefault(f"{p}_version", deal["version"])
    slots = FieldSlots()
    data: dict[str, Any] = {}
    with st.form(f"{p}_form"):
        data["title"] = st.text_input("Title", deal["title"], key=f"{p}_title")
        slots.under("title")
        left, right = st.columns(2)
        data["value"] = left.text_input("Value", f"{float(deal['value'] or 0):.2f}", key=f"{p}_value")
        with left:
            slots.under("value")
        data["currency"] = right.text_input("Currency", deal["currency"], key=f"{p}_currency", max_chars=3)
        with right:
            slots.under("currency")
        left, right = st.columns(2)
        data["expected_close_date"] = left.date_input("Expected close", deal["expected_close_date"], key=f"{p}_close")
        with left:
            slots.under("expected_close_date")
        owner_ids = list(people)
        owner = str(deal["owner_id"]) if deal["owner_id"] else None
        data["owner_id"] = right.selectbox("Owner", owner_ids, index=owner_ids.index(owner) if owner in people else None,
                                           format_func=people.get, key=f"{p}_owner", placeholder="Nobody")
        with right:
            slots.under("owner_id")
        data["source"] = st.text_input("Source", deal["source"] or "", key=f"{p}_source",
                                       help="Where the deal came from, e.g. website, referral, trade fair.")
        slots.under("source")
        submitted = st.form_submit_button("Save", type="primary", key=f"{p}_save")
    if conflict := st.session_state.get(f"{p}_conflict"):
        _show_conflict(conflict)
    if not submitted:
        return
    try:
        deals.update(db, claims, ws, did, data, st.session_state[f"{p}_version"])
    except FormErrors as exc:
        slots.show(exc.errors)
    except ConflictError as exc:
        st.session_state[f"{p}_conflict"] = {"mine": data, "theirs": exc.current}
        st.rerun()
    except UserError as exc:
        st.error(str(exc))
    else:
        _reset_form(p)
        st.session_state.flash = "Deal saved."
        st.rerun()


with details_tab:
    if writer:
        details_form()
    else:
        st.dataframe([{"Field": label, "Value": _shown(f, deal.get(f))} for f, label in FIELD_LABELS.items()],
                     hide_index=True, key="deal_details_readonly")
