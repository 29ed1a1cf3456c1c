"""Service analytics: backlog over time, tickets by channel, priority and category, SLA
compliance, median first response and resolution, CSAT, and the same per assignee, for a period.
Figures come from lib.service_analytics; this page only draws them, each with its table and CSV.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from lib import service_analytics as sa
from lib.csv_export import to_csv
from lib.tickets import PRIORITIES
from ui import session

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
FIG = sa.FIGURES
MARGIN = {"t": 20, "b": 10, "l": 10, "r": 10}


def plot_text(text: object) -> str:
    """User text for plotly labels, which understand a few HTML tags."""
    return html.escape(str(text or ""), quote=False)


def bar_chart(labels: list, values: list, key: str, color: str = "#3182bd", height: int = 300) -> None:
    fig = go.Figure(go.Bar(x=[plot_text(label) for label in labels], y=values, marker_color=color))
    fig.update_layout(height=height, margin=MARGIN, xaxis={"type": "category"}, yaxis_title="Tickets")
    st.plotly_chart(fig, width="stretch", key=f"{key}_chart")


def table_with_csv(rows: list[dict], columns: list[str], key: str, name: str, help_texts: dict | None = None) -> None:
    """The figures under a chart, and the same rows as a CSV download."""
    config = {c: st.column_config.Column(c, help=h) for c, h in (help_texts or {}).items()}
    st.dataframe(rows, hide_index=True, width="stretch", key=f"{key}_table", column_config=config,
                 column_order=columns)
    st.download_button("Download CSV", data=to_csv(rows, columns),
                       file_name=f"relata-{name}-{start:%Y%m%d}-{end:%Y%m%d}.csv", mime="text/csv",
                       icon=":material/download:", key=f"{key}_csv", on_click="ignore")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


st.title("Service analytics")
today = date.today()
period = st.date_input("Period", (today - timedelta(days=90), today), max_value=today, key="sa_period",
                       format="YYYY-MM-DD", help="Tickets created from the first to the last day (inclusive).")
if not isinstance(period, (tuple, list)) or len(period) != 2:
    st.info("Choose the first and the last day of the period.", icon=":material/date_range:")
    st.stop()
start, end = period
result = sa.report(db, claims, ws, start, end)
if not result.tickets and not any(r["open"] for r in result.backlog):
    st.info(f"No tickets between {start:%Y-%m-%d} and {end:%Y-%m-%d}. Tickets from the Tickets page, inbound email "
            "or the portal appear here.", icon=":material/insights:")
    st.stop()

# -- headline figures -----------------------------------------------------------------------------

created, fr_sla, res_sla = st.columns(3)
created.metric("Tickets created", result.tickets, help=FIG["tickets"])
fr_sla.metric("First-response SLA", percent(result.first_response_sla.percent), help=FIG["first_response_sla"])
res_sla.metric("Resolution SLA", percent(result.resolution_sla.percent), help=FIG["resolution_sla"])
fr_median, res_median, csat = st.columns(3)
fr_median.metric("Median first response", sa.duration_label(result.median_first_response_minutes),
                 help=FIG["first_response"])
res_median.metric("Median resolution", sa.duration_label(result.median_resolution_minutes), help=FIG["resolution"])
csat.metric("CSAT", "–" if result.csat_average is None else f"{result.csat_average:.2f} / 5",
            help=f"{FIG['csat']} Rated tickets: {result.rated}.")

# -- backlog --------------------------------------------------------------------------------------

st.subheader("Backlog over time")
weekly = len(result.backlog) > 1 and (result.backlog[1]["day"] - result.backlog[0]["day"]).days > 1
fig = go.Figure(go.Scatter(x=[r["day"] for r in result.backlog], y=[r["open"] for r in result.backlog],
                           mode="lines+markers", line={"color": "#3182bd"}))
fig.update_layout(height=320, margin=MARGIN, yaxis_title="Open tickets", yaxis={"rangemode": "tozero"})
st.plotly_chart(fig, width="stretch", key="sa_backlog_chart")
st.caption(FIG["backlog"] + (" Shown at the end of every 7th day for long periods." if weekly else ""))
table_with_csv([{"Day": r["day"], "Open tickets": r["open"]} for r in result.backlog], ["Day", "Open tickets"],
               "sa_backlog", "backlog", {"Open tickets": FIG["backlog"]})

# -- ticket mix -----------------------------------------------------------------------------------

st.subheader("Tickets by channel, priority and category")
st.caption(FIG["tickets"])
order = {p: i for i, p in enumerate(PRIORITIES)}
mixes = {
    "Channel": ("channel", result.by_channel),
    "Priority": ("priority", sorted(result.by_priority, key=lambda r: order.get(r["priority"], 99))),
    "Category": ("category", result.by_category),
}
for tab, (label, (column, rows)) in zip(st.tabs(list(mixes)), mixes.items()):
    with tab:
        bar_chart([r[column] for r in rows], [r["tickets"] for r in rows], f"sa_{column}")
        table_with_csv([{label: r[column], "Tickets": r["tickets"]} for r in rows], [label, "Tickets"],
                       f"sa_{column}", f"tickets-by-{column}")

# -- SLA compliance -------------------------------------------------------------------------------

st.subheader("SLA compliance")
sla_rows = [{"Target": name, "Met": c.met, "Missed": c.total - c.met, "Tickets": c.total, "Compliance %": c.percent}
            for name, c in (("First response", result.first_response_sla), ("Resolution", result.resolution_sla))]
fig = go.Figure([
    go.Bar(name="Met", x=[r["Target"] for r in sla_rows], y=[r["Met"] for r in sla_rows], marker_color="#31a354"),
    go.Bar(name="Missed", x=[r["Target"] for r in sla_rows], y=[r["Missed"] for r in sla_rows], marker_color="#de2d26"),
])
fig.update_layout(barmode="stack", height=300, margin=MARGIN, yaxis_title="Tickets",
                  legend={"orientation": "h", "y": 1.1})
st.plotly_chart(fig, width="stretch", key="sa_sla_chart")
st.caption(FIG["first_response_sla"] + " " + FIG["resolution_sla"])
table_with_csv(sla_rows, ["Target", "Met", "Missed", "Tickets", "Compliance %"], "sa_sla", "sla-compliance")

# -- CSAT -----------------------------------------------------------------------------------------

st.subheader("Customer satisfaction")
bar_chart([f"{r['rating']} ★" for r in result.csat_distribution], [r["tickets"] for r in result.csat_distribution],
          "sa_csat", color="#756bb1")
st.caption(f"{FIG['csat']} Average: {'–' if result.csat_average is None else f'{result.csat_average:.2f}'} "
           f"from {result.rated} rated tickets.")
table_with_csv([{"Rating": r["rating"], "Tickets": r["tickets"]} for r in result.csat_distribution],
               ["Rating", "Tickets"], "sa_csat", "csat")

# -- per assignee ---------------------------------------------------------------------------------

st.subheader("Per assignee")
people = [{"Assignee": r["assignee"], "Tickets": r["tickets"], "Solved": r["solved"],
           "Median first response (min)": r["median_first_response_minutes"],
           "Median resolution (min)": r["median_resolution_minutes"],
           "First-response SLA %": r["first_response_sla_percent"], "Resolution SLA %": r["resolution_sla_percent"],
           "CSAT": r["csat_average"], "Rated": r["rated"]} for r in result.by_assignee]
fig = go.Figure([
    go.Bar(name="Tickets", x=[plot_text(r["Assignee"]) for r in people], y=[r["Tickets"] for r in people],
           marker_color="#9ecae1"),
    go.Bar(name="Solved", x=[plot_text(r["Assignee"]) for r in people], y=[r["Solved"] for r in people],
           marker_color="#3182bd"),
])
fig.update_layout(barmode="group", height=320, margin=MARGIN, yaxis_title="Tickets", xaxis={"type": "category"},
                  legend={"orientation": "h", "y": 1.1})
st.plotly_chart(fig, width="stretch", key="sa_people_chart")
table_with_csv(people, list(people[0]) if people else ["Assignee", "Tickets"], "sa_people", "per-assignee", {
    "Tickets": FIG["tickets"], "Solved": FIG["solved"], "Median first response (min)": FIG["first_response"],
    "Median resolution (min)": FIG["resolution"], "First-response SLA %": FIG["first_response_sla"],
    "Resolution SLA %": FIG["resolution_sla"], "CSAT": FIG["csat"]})
