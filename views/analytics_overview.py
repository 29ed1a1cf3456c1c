"""Analytics overview: revenue, orders, average order value, new and active customers,
repeat-purchase rate, open pipeline, win rate and open tickets for a period, each against the
previous period and with a trend sparkline. Figures come from lib.analytics.sales."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lib.analytics import common, pipeline as pl, sales
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG = sales.FIGURES

st.title("Overview")
span = ua.cached(common.sales_span, db, claims, ws, role)
currencies = ua.cached(common.currencies, db, claims, ws, role)
left, right = st.columns([3, 1])
with left:
    period = ua.period_picker("ov", span)
with right:
    # without sales, the deals' currency (open pipeline), else EUR
    currency = ua.currency_picker("ov", currencies) or next(iter(ua.cached(pl.currencies, db, claims, ws, role)), "EUR")
previous = period.previous()
st.caption(f"{period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}, compared with {previous.start:%Y-%m-%d} to "
           f"{previous.end:%Y-%m-%d}. Amounts in {currency}.")
if not currencies:
    st.info("No sales yet. Import orders on the Import page, create them on the Orders page, or load demo data "
            "from Settings; deals and tickets below count already.", icon=":material/insights:")

ov = ua.cached(sales.overview, db, claims, ws, role, currency, period)
cur, prev = ov.current, ov.previous


def money(value: float | None, decimals: int = 0) -> str:
    return "–" if value is None else f"{value:,.{decimals}f} {currency}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def points(value: float | None, before: float | None) -> str | None:
    """A rate's change in percentage points."""
    return None if value is None or before is None else f"{100 * (value - before):+.1f} pp"


def spark(kpi: str) -> list:
    return [t[kpi] for t in ov.trend if t[kpi] is not None]


CARDS = [  # KPI, label, value text, delta text, delta colour
    ("revenue", "Revenue", money(cur["revenue"]), ua.delta(cur["revenue"], prev["revenue"]), "normal"),
    ("orders", "Orders", f"{cur['orders']:,}", ua.delta(cur["orders"], prev["orders"]), "normal"),
    ("aov", "Average order value", money(cur["aov"], 2), ua.delta(cur["aov"], prev["aov"]), "normal"),
    ("new_customers", "New customers", f"{cur['new_customers']:,}",
     ua.delta(cur["new_customers"], prev["new_customers"]), "normal"),
    ("active_customers", "Active customers", f"{cur['active_customers']:,}",
     ua.delta(cur["active_customers"], prev["active_customers"]), "normal"),
    ("repeat_rate", "Repeat-purchase rate", percent(cur["repeat_rate"]),
     points(cur["repeat_rate"], prev["repeat_rate"]), "normal"),
    ("open_pipeline", "Open pipeline", money(cur["open_pipeline"]),
     ua.delta(cur["open_pipeline"], prev["open_pipeline"]), "normal"),
    ("win_rate", "Win rate", percent(cur["win_rate"]), points(cur["win_rate"], prev["win_rate"]), "normal"),
    ("open_tickets", "Open tickets", f"{cur['open_tickets']:,}", ua.delta(cur["open_tickets"], prev["open_tickets"]),
     "inverse"),
]
for row in range(3):
    for col, (kpi, label, value, change, colour) in zip(st.columns(3), CARDS[row * 3:row * 3 + 3]):
        col.metric(label, value, change, delta_color=colour, help=FIG[kpi], border=True,
                   chart_data=spark(kpi) or None, chart_type="bar" if kpi in ("revenue", "orders") else "line")
st.caption(f"Sparklines: one point per {ov.grain} of the period. Win rate counts {cur['won']} won and "
           f"{cur['lost']} lost deals (previous period: {prev['won']} and {prev['lost']}).")

# -- trend ------------------------------------------------------------------------------------------

st.subheader("Trend")
labels = {kpi: label for kpi, label, *_ in CARDS}
kpi = st.selectbox("Figure", list(labels), format_func=labels.get, key="ov_trend_kpi")
ua.definition(FIG[kpi] + f" One point per {ov.grain}.")
fig = go.Figure(go.Scatter(x=[t["label"] for t in ov.trend], y=[t[kpi] for t in ov.trend], mode="lines+markers",
                           line={"color": "#3182bd"}))
fig.update_layout(height=300, margin=ua.MARGIN, xaxis={"type": "category"}, yaxis={"rangemode": "tozero"})
st.plotly_chart(fig, width="stretch", key="ov_trend_chart")
trend_columns = ["label", *labels]
ua.table_with_csv(ov.trend, trend_columns, "ov_trend", f"overview-trend-{period.start:%Y%m%d}-{period.end:%Y%m%d}",
                  {"label": ov.grain.title(), **labels})

st.subheader("This period and the previous one")
ua.definition("Each figure for the period and for the same number of days just before it.")
summary = [{"figure": labels[k], "current": cur[k], "previous": prev[k], "definition": FIG[k]} for k in labels]
ua.table_with_csv(summary, ["figure", "current", "previous", "definition"], "ov_summary",
                  f"overview-{period.start:%Y%m%d}-{period.end:%Y%m%d}",
                  {"figure": "Figure", "current": "This period", "previous": "Previous period", "definition": "Rule"})
