"""Correlations between customer metrics (recency, frequency, monetary, tenure, tickets, CSAT,
discount): a Pearson heatmap and a scatter of two metrics with the least-squares line, for the
customers with a sale in the period. Figures come from lib.analytics.correlations."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lib.analytics import common, correlations as cr
from lib.csv_export import to_csv
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG, METRICS = cr.FIGURES, cr.METRICS

st.title("Correlations")
span = ua.cached(common.sales_span, db, claims, ws, role)
currencies = ua.cached(common.currencies, db, claims, ws, role)
if span is None or not currencies:
    st.info("No sales yet. Import orders on the Import page or load demo data from Settings; each customer's "
            "recency, frequency, spend, tickets and ratings are compared here.", icon=":material/scatter_plot:")
    st.stop()
left, right = st.columns([3, 1])
with left:
    period = ua.period_picker("co", span)
with right:
    currency = ua.currency_picker("co", currencies)
stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
result = ua.cached(cr.analyse, db, claims, ws, role, currency, period)
if len(result.rows) < 3:
    st.info(f"{len(result.rows)} customer(s) bought in {currency} between {period.start:%Y-%m-%d} and "
            f"{period.end:%Y-%m-%d}; correlations need at least 3. Choose a longer period.",
            icon=":material/scatter_plot:")
    st.stop()
picked = st.multiselect("Metrics", list(METRICS), default=list(METRICS), format_func=METRICS.get, key="co_metrics")
if len(picked) < 2:
    st.info("Pick at least two metrics.")
    st.stop()
st.caption(f"{len(result.rows):,} customers with a sale in {currency} between {period.start:%Y-%m-%d} and "
           f"{period.end:%Y-%m-%d}. " + " ".join(f"{METRICS[m]}: {FIG[m]}" for m in picked))


def r_text(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


# -- heatmap ----------------------------------------------------------------------------------------

st.subheader("Correlation heatmap")
ua.definition(FIG["heatmap"] + " Blank: undefined (a metric that does not vary, or fewer than 2 customers).")
labels = [METRICS[m] for m in picked]
z = [[result.matrix.get((a, b)) for b in picked] for a in picked]
fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
                           text=[[r_text(v) for v in row] for row in z], texttemplate="%{text}", hoverongaps=False,
                           colorbar={"title": "r"}, hovertemplate="%{y} × %{x}: r = %{z:.3f}<extra></extra>"))
fig.update_layout(height=460, margin=ua.MARGIN, yaxis={"autorange": "reversed"})
st.plotly_chart(fig, width="stretch", key="co_heatmap_chart")
matrix = [{"metric": METRICS[a], **{METRICS[b]: None if result.matrix.get((a, b)) is None
                                    else round(result.matrix[(a, b)], 4) for b in picked},
           "customers": result.pairs.get((a, a))} for a in picked]
ua.table_with_csv(matrix, ["metric", *labels, "customers"], "co_matrix", f"correlations-{stamp}",
                  {"metric": "Metric", "customers": "Customers with a value"})

# -- scatter ----------------------------------------------------------------------------------------

st.subheader("Scatter with fitted line")
x_col, y_col = st.columns(2)
x = x_col.selectbox("Horizontal (x)", picked, index=picked.index("frequency") if "frequency" in picked else 0,
                    format_func=METRICS.get, key="co_x")
y = y_col.selectbox("Vertical (y)", picked, index=picked.index("monetary") if "monetary" in picked else 1,
                    format_func=METRICS.get, key="co_y")
fit = result.fits.get((x, y)) if x != y else None
line = ""
if fit and fit["slope"] is not None:
    line = (f" Fit: y = {fit['intercept']:,.3f} + {fit['slope']:,.4f}·x, R² = {fit['r2'] or 0:.3f}, "
            f"r = {r_text(result.matrix.get((x, y)))}, over {fit['n']:,} customers.")
ua.definition(FIG["scatter"] + line)
points = [r for r in result.rows if r[x] is not None and r[y] is not None]
fig = go.Figure(go.Scatter(x=[r[x] for r in points], y=[r[y] for r in points], mode="markers",
                           marker={"size": 6, "opacity": 0.6, "color": "#3182bd"}, name="Customers",
                           text=[ua.plot_text(r["name"]) for r in points],
                           hovertemplate="%{text}<br>x %{x:,.2f}<br>y %{y:,.2f}<extra></extra>"))
if fit and fit["slope"] is not None and points:
    lo, hi = min(r[x] for r in points), max(r[x] for r in points)
    fig.add_trace(go.Scatter(x=[lo, hi], y=[fit["intercept"] + fit["slope"] * lo, fit["intercept"] + fit["slope"] * hi],
                             mode="lines", line={"color": "#de2d26"}, name="Least-squares line"))
fig.update_layout(height=420, margin=ua.MARGIN, xaxis_title=METRICS[x], yaxis_title=METRICS[y],
                  legend={"orientation": "h", "y": 1.1}, clickmode="event+select", dragmode="select")
event = st.plotly_chart(fig, width="stretch", key="co_scatter_chart", on_select="rerun",
                        selection_mode=("points", "box", "lasso"))
picked_points = (event or {}).get("selection", {}).get("points", []) if event else []
chosen = ua.selected_labels({"selection": {"points": [p for p in picked_points
                                                      if p.get("curve_number", p.get("curveNumber", 0)) == 0]}}, points)

st.subheader("Customers")
ua.definition("Every metric per customer" + (f"; the {len(chosen)} selected in the scatter." if chosen else
                                              " (select points in the scatter to list only those)."))
rows = [{**r, "link": f"customer?customer={r['customer_id']}"} for r in (chosen or result.rows)]
columns = ["name", "external_id", *METRICS]
headers = {"name": "Customer", "external_id": "Customer number", **METRICS}
st.dataframe([{"Open": r["link"], **{headers[c]: r[c] for c in columns}} for r in rows], hide_index=True,
             width="stretch", key="co_customers_table",
             column_config={"Open": st.column_config.LinkColumn("Open", display_text="Open", width="small")})
st.download_button("Download CSV", data=to_csv(rows, columns, [headers[c] for c in columns]),
                   file_name=f"relata-customer-metrics-{stamp}.csv", mime="text/csv", icon=":material/download:",
                   key="co_customers_csv", on_click="ignore")
