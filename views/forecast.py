"""Forecast: expected revenue of open deals by month of expected close (weighted and unweighted,
in total, per owner or per pipeline), and the funnel: stage-to-stage conversion in a period,
measured from the stage history. Figures come from lib.deal_analytics; this page only draws them.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from lib import deal_analytics as da, deals
from lib.csv_export import to_csv
from lib.text import md_escape
from lib.workspaces import members
from ui import session

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
FIG = da.FIGURES


def plot_text(text: object) -> str:
    """User text for plotly labels, which understand a few HTML tags."""
    return html.escape(str(text or ""), quote=False)


def money_column(label: str, currency: str, figure: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(f"{label} ({currency})", help=FIG[figure], format="localized")


st.title("Forecast")
pipes = deals.pipelines(db, claims, ws)
pipe_names = {p["id"]: p["name"] for p in pipes}
people = {str(m["user_id"]): m["display_name"] or m["email"] for m in members(db, claims, ws)}

# -- expected revenue -----------------------------------------------------------------------------

st.subheader("Expected revenue by month")
filter_pipe, filter_owner = st.columns(2)
pipeline = filter_pipe.selectbox("Pipeline", ["", *pipe_names], key="fc_pipeline",
                                 format_func=lambda p: pipe_names.get(p, "All pipelines"))
owners = filter_owner.multiselect("Owners", list(people), key="fc_owners", format_func=people.get,
                                  placeholder="Everyone")
forecast = da.forecast(db, claims, ws, pipeline_id=pipeline or None, owner_ids=owners)
first, last = forecast.months[0], forecast.months[-1]
left_out = []
if forecast.undated:
    left_out.append(f"{forecast.undated} without an expected close date")
if forecast.later:
    left_out.append(f"{forecast.later} expected after {last:%B %Y}")

if not forecast.currencies:
    st.info(f"No open deals are expected to close by {last:%B %Y}"
            f"{' for these filters' if pipeline or owners else ''}. Give open deals an expected close date "
            "(on the deal's page or when you create it) and they show up here.", icon=":material/insights:")
    if left_out:
        st.caption("Open deals left out: " + "; ".join(left_out) + ".")
else:
    pick_currency, pick_breakdown = st.columns(2)
    currency = forecast.currencies[0]
    if len(forecast.currencies) > 1:
        currency = pick_currency.selectbox(
            "Currency", forecast.currencies, key="fc_currency",
            help="Deals in different currencies are never added up; each currency has its own forecast.")
    breakdowns = {"totals": "Total", "owner": "By owner", "pipeline": "By pipeline"}
    breakdown = pick_breakdown.segmented_control("Table", list(breakdowns), format_func=breakdowns.get,
                                                 default="totals", key="fc_breakdown") or "totals"
    totals = forecast.rows("totals", currency)
    labels = [r["label"] for r in totals]
    fig = go.Figure([
        go.Bar(name="Unweighted", x=labels, y=[r["unweighted"] for r in totals], marker_color="#9ecae1"),
        go.Bar(name="Weighted", x=labels, y=[r["weighted"] for r in totals], marker_color="#3182bd"),
    ])
    fig.update_layout(barmode="group", height=360, margin={"t": 20, "b": 10, "l": 10, "r": 10},
                      yaxis_title=currency, legend={"orientation": "h", "y": 1.1},
                      xaxis={"type": "category"})
    st.plotly_chart(fig, width="stretch", key="fc_chart")
    st.caption(" · ".join(FIG[k] for k in ("deals", "unweighted", "weighted", "overdue")))

    rows = forecast.rows(breakdown, currency)
    table = [{"Month": r["label"],
              **({"Owner": r["owner"]} if breakdown == "owner" else {}),
              **({"Pipeline": r["pipeline"]} if breakdown == "pipeline" else {}),
              "Deals": r["deals"], "Unweighted": r["unweighted"], "Weighted": r["weighted"]} for r in rows]
    st.dataframe(table, hide_index=True, width="stretch", key="fc_table", column_config={
        "Deals": st.column_config.NumberColumn("Deals", help=FIG["deals"]),
        "Unweighted": money_column("Unweighted", currency, "unweighted"),
        "Weighted": money_column("Weighted", currency, "weighted"),
    })
    if left_out:
        st.caption("Open deals left out: " + "; ".join(left_out) + ".")
    columns = list(table[0]) if table else ["Month", "Deals", "Unweighted", "Weighted"]
    st.download_button("Download CSV", data=to_csv([{**r, "Currency": currency} for r in table], [*columns, "Currency"]),
                       file_name=f"relata-forecast-{currency.lower()}-{breakdown}.csv", mime="text/csv",
                       icon=":material/download:", key="fc_csv", on_click="ignore")

# -- funnel ---------------------------------------------------------------------------------------

st.divider()
st.subheader("Funnel: stage-to-stage conversion")
if not pipes:
    st.info("There is no pipeline yet: owners and admins create one in Settings.", icon=":material/filter_alt:")
    st.stop()
funnel_pipe, funnel_period = st.columns(2)
default_pipe = pipeline or pipes[0]["id"]
funnel_pipeline = funnel_pipe.selectbox("Pipeline", list(pipe_names), index=list(pipe_names).index(default_pipe),
                                        format_func=pipe_names.get, key="fn_pipeline")
today = date.today()
period = funnel_period.date_input("Period", (today - timedelta(days=90), today), max_value=today,
                                  key="fn_period", format="YYYY-MM-DD")
if not isinstance(period, (tuple, list)) or len(period) != 2:
    st.info("Choose the first and the last day of the period.", icon=":material/date_range:")
    st.stop()
start, end = period
result = da.funnel(db, claims, ws, funnel_pipeline, start, end)
name = md_escape(pipe_names[funnel_pipeline])
if not any(s["entered"] for s in result.stages) and not result.won + result.lost:
    st.info(f"No deal moved in **{name}** between {start:%Y-%m-%d} and {end:%Y-%m-%d}. Choose a longer period, "
            "or move deals on the Deals board: every move is recorded and counted here.", icon=":material/filter_alt:")
    st.stop()

win, won, lost = st.columns(3)
win.metric("Win rate", "–" if result.win_rate is None else f"{result.win_rate:.0%}", help=FIG["win_rate"])
won.metric("Won in the period", result.won)
lost.metric("Lost in the period", result.lost)
stage_names = [plot_text(s["name"]) for s in result.stages]
fig = go.Figure(go.Funnel(y=[*stage_names, "Won"], x=[*(s["entered"] for s in result.stages), result.won],
                          textinfo="value", marker={"color": "#3182bd"}))
fig.update_layout(height=80 + 60 * (len(stage_names) + 1), margin={"t": 10, "b": 10, "l": 10, "r": 10})
st.plotly_chart(fig, width="stretch", key="fn_chart")
st.caption(f"Deals of **{name}**, all owners, {start:%Y-%m-%d} to {end:%Y-%m-%d}. "
           + " · ".join(FIG[k] for k in ("entered", "advanced", "conversion")))
funnel_rows = [{"Stage": s["name"], "Entered": s["entered"], "Moved on": s["advanced"],
                "Conversion": None if s["conversion"] is None else round(100 * s["conversion"], 1)}
               for s in result.stages]
st.dataframe(funnel_rows, hide_index=True, width="stretch", key="fn_table", column_config={
    "Entered": st.column_config.NumberColumn("Entered", help=FIG["entered"]),
    "Moved on": st.column_config.NumberColumn("Moved on", help=FIG["advanced"]),
    "Conversion": st.column_config.NumberColumn("Conversion", help=FIG["conversion"], format="%.1f %%"),
})
st.download_button("Download CSV", data=to_csv(funnel_rows, list(funnel_rows[0]) if funnel_rows else ["Stage"]),
                   file_name=f"relata-funnel-{start:%Y%m%d}-{end:%Y%m%d}.csv", mime="text/csv",
                   icon=":material/download:", key="fn_csv", on_click="ignore")
