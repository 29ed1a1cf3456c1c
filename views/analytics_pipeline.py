"""Pipeline analytics: the stage funnel, win rate by owner, source and product, average days per
stage and lost reasons, for one pipeline and period against the previous period. Clicking a bar
filters the closed deals listed under it. Figures come from lib.analytics.pipeline."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lib import deals
from lib.analytics import pipeline as pl
from lib.csv_export import to_csv
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG = pl.FIGURES

st.title("Pipeline")
st.page_link("views/forecast.py", label="Forecast of open deals by month of expected close",
             icon=":material/trending_up:")
pipes = deals.pipelines(db, claims, ws)
currencies = ua.cached(pl.currencies, db, claims, ws, role)
names = {p["id"]: p["name"] for p in pipes}
pipe_col, currency_col, _ = st.columns([2, 1, 2])
pipeline_id = pipe_col.selectbox("Pipeline", list(names), format_func=names.get, key="pa_pipeline")
with currency_col:
    currency = ua.currency_picker("pa", currencies) or "EUR"
period = ua.period_picker("pa", ua.cached(pl.span, db, claims, ws, role))
if not currencies:
    st.info("No deals yet. Add deals on the Deals page, import them on the Import page, or load demo data from "
            "Settings; won, lost and stage figures show here.", icon=":material/filter_alt:")
    st.stop()
previous = period.previous()
stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
r = ua.cached(pl.report, db, claims, ws, role, pipeline_id, currency, period)
s, ps = r.summary, r.previous_summary


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


cols = st.columns(4)
cols[0].metric("Won", s["won"], ua.delta(s["won"], ps["won"]), help="Deals whose last close in the period was won.")
cols[1].metric("Lost", s["lost"], ua.delta(s["lost"], ps["lost"]), delta_color="inverse",
               help="Deals whose last close in the period was lost.")
cols[2].metric("Win rate", percent(s["win_rate"]),
               None if s["win_rate"] is None or ps["win_rate"] is None else f"{100 * (s['win_rate'] - ps['win_rate']):+.1f} pp",
               help=FIG["win_rate"])
won_value = s["won_value"]
cols[3].metric("Won value", f"{won_value / 1e6:,.2f} M {currency}" if won_value >= 1e6 else f"{won_value:,.0f} {currency}",
               help=f"The won deals' values in {currency}.")
st.caption(f"{period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}, compared with {previous.start:%Y-%m-%d} to "
           f"{previous.end:%Y-%m-%d}. Counts are of deals in every currency; values only of deals in {currency}.")

# -- funnel -----------------------------------------------------------------------------------------

st.subheader("Funnel")
ua.definition(FIG["funnel"])
stages = r.funnel.stages
prev_conv = {x["stage_id"]: x["conversion"] for x in r.previous_funnel.stages}
if not any(x["entered"] for x in stages):
    st.info("No deal entered a stage of this pipeline in the period. Choose a longer period or another pipeline.")
else:
    fig = go.Figure(go.Funnel(y=[ua.plot_text(x["name"]) for x in stages], x=[x["entered"] for x in stages],
                              textinfo="value+percent initial", marker={"color": "#3182bd"}))
    fig.update_layout(height=300, margin=ua.MARGIN)
    st.plotly_chart(fig, width="stretch", key="pa_funnel_chart")
rows = [{"stage": x["name"], "entered": x["entered"], "advanced": x["advanced"],
         "conversion_pct": None if x["conversion"] is None else round(100 * x["conversion"], 1),
         "prev_conversion_pct": None if prev_conv.get(x["stage_id"]) is None else round(100 * prev_conv[x["stage_id"]], 1)}
        for x in stages]
ua.table_with_csv(rows, ["stage", "entered", "advanced", "conversion_pct", "prev_conversion_pct"], "pa_funnel",
                  f"funnel-{stamp}", {"stage": "Stage", "entered": "Entered", "advanced": "Moved on",
                                      "conversion_pct": "Conversion %", "prev_conversion_pct": "Previous period %"})

# -- win rate by owner, source, product -------------------------------------------------------------

st.subheader("Win rate")
ua.definition(FIG["win_rate"] + " Click bars to list those deals below.")
if not r.deals:
    st.info("No deal of this pipeline was won or lost in the period. Choose a longer period; deals close when you "
            "move them to a won or lost stage on the Deals page.")
picked: dict[str, list[str]] = {}
for tab, (dim, rows, label) in zip(st.tabs(["By owner", "By source", "By product"]), [
        ("owner", r.by_owner, "Owner"), ("source", r.by_source, "Source"), ("product", r.by_product, "Product")]):
    with tab:
        if dim == "product":
            ua.definition(FIG["by_product"])
        event = ua.bar([x["label"] for x in rows], [None if x["win_rate"] is None else 100 * x["win_rate"] for x in rows],
                       f"pa_{dim}", y_title="Win rate %", select=True)
        picked[dim] = [x["label"] for x in ua.selected_labels(event, rows)]
        table = [{**x, "win_rate_pct": None if x["win_rate"] is None else round(100 * x["win_rate"], 1),
                  "prev_win_rate_pct": None if x["prev_win_rate"] is None else round(100 * x["prev_win_rate"], 1)}
                 for x in rows]
        ua.table_with_csv(table, ["label", "won", "lost", "win_rate_pct", "won_value", "prev_won", "prev_lost",
                                  "prev_win_rate_pct"], f"pa_{dim}", f"win-rate-by-{dim}-{stamp}",
                          {"label": label, "won": "Won", "lost": "Lost", "win_rate_pct": "Win rate %",
                           "won_value": f"Won value ({currency})", "prev_won": "Previous won",
                           "prev_lost": "Previous lost", "prev_win_rate_pct": "Previous win rate %"})

# -- lost reasons -----------------------------------------------------------------------------------

st.subheader("Lost reasons")
ua.definition(FIG["lost_reasons"] + " Click bars to list those deals below.")
reasons = [x for x in r.lost_reasons if x["deals"]]
event = ua.bar([x["reason"] for x in reasons], [x["deals"] for x in reasons], "pa_reasons", y_title="Deals lost",
               color="#de2d26", select=True)
picked["reason"] = [x["reason"] for x in ua.selected_labels(event, reasons)]
ua.table_with_csv([{**x, "share_pct": None if x["share"] is None else round(100 * x["share"], 1)}
                   for x in r.lost_reasons], ["reason", "deals", "share_pct", "lost_value", "prev_deals"], "pa_reasons",
                  f"lost-reasons-{stamp}", {"reason": "Reason", "deals": "Deals lost", "share_pct": "Share %",
                                            "lost_value": f"Lost value ({currency})", "prev_deals": "Previous period"})

# -- closed deals (the drill-down) ------------------------------------------------------------------

st.subheader("Deals closed in the period")
chosen = {k: v for k, v in picked.items() if v}
listed = [d for d in r.deals
          if all((d["products"] and set(d["products"]) & set(v)) if k == "product" else d[k] in v
                 for k, v in chosen.items())]
ua.definition("Each deal's last close in the period" +
              (". Filtered by " + "; ".join(f"{k}: {', '.join(v)}" for k, v in chosen.items()) if chosen else "") + ".")
rows = [{**d, "link": f"deal?deal={d['id']}", "products": ", ".join(d["products"])} for d in listed]
columns = ["title", "kind", "closed_at", "value", "currency", "owner", "source", "reason", "products"]
headers = {"title": "Deal", "kind": "Outcome", "closed_at": "Closed", "value": "Value", "currency": "Currency",
           "owner": "Owner", "source": "Source", "reason": "Lost reason", "products": "Products"}
st.dataframe([{"Open": x["link"], **{headers[c]: x[c] for c in columns}} for x in rows], hide_index=True,
             width="stretch", key="pa_deals_table",
             column_config={"Open": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
                            "Closed": st.column_config.DatetimeColumn(format="YYYY-MM-DD")})
st.download_button("Download CSV", data=to_csv(rows, columns, [headers[c] for c in columns]),
                   file_name=f"relata-closed-deals-{stamp}.csv", mime="text/csv", icon=":material/download:",
                   key="pa_deals_csv", on_click="ignore")

# -- days per stage ---------------------------------------------------------------------------------

st.subheader("Average days per stage")
ua.definition(FIG["stage_days"])
days = r.stage_days
fig = go.Figure([
    go.Bar(name="This period", x=[ua.plot_text(x["stage"]) for x in days], y=[x["avg_days"] for x in days],
           marker_color="#3182bd"),
    go.Bar(name="Previous period", x=[ua.plot_text(x["stage"]) for x in days], y=[x["prev_avg_days"] for x in days],
           marker_color="#bdbdbd"),
])
fig.update_layout(barmode="group", height=300, margin=ua.MARGIN, xaxis={"type": "category"}, yaxis_title="Days",
                  legend={"orientation": "h", "y": 1.12})
st.plotly_chart(fig, width="stretch", key="pa_days_chart")
ua.table_with_csv(days, ["stage", "stays", "avg_days", "median_days", "prev_stays", "prev_avg_days", "open_now",
                         "open_avg_days"], "pa_days", f"days-per-stage-{stamp}",
                  {"stage": "Stage", "stays": "Stays ended", "avg_days": "Average days", "median_days": "Median days",
                   "prev_stays": "Previous stays", "prev_avg_days": "Previous average days",
                   "open_now": "Deals in it now", "open_avg_days": "Their average days so far"})
