"""Sales analytics: revenue by month (with the previous period), country and category, top
products and customers, and the margin where products have a cost. Clicking month, country or
category bars filters the top-products and top-customers tables. Figures: lib.analytics.sales."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lib.analytics import common, sales
from lib.csv_export import to_csv
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG = sales.FIGURES

st.title("Sales")
span = ua.cached(common.sales_span, db, claims, ws, role)
currencies = ua.cached(common.currencies, db, claims, ws, role)
if not currencies:
    st.info("No sales yet. Import orders on the Import page, create them on the Orders page, or load demo data "
            "from Settings, and revenue by month, country and product shows here.", icon=":material/point_of_sale:")
    st.stop()
left, right = st.columns([3, 1])
with left:
    period = ua.period_picker("sa", span)
with right:
    currency = ua.currency_picker("sa", currencies)
previous = period.previous()
stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
report = ua.cached(sales.sales_report, db, claims, ws, role, currency, period)
if not report.orders:
    st.info(f"No sales in {currency} between {period.start:%Y-%m-%d} and {period.end:%Y-%m-%d}. Choose a longer "
            "period, or import orders on the Import page.", icon=":material/point_of_sale:")
    st.stop()


def money(value: float | None) -> str:
    """Short enough for a quarter of the page: 10.21 M GBP."""
    if value is None:
        return "–"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} M {currency}"
    return f"{value:,.0f} {currency}"


margin, prev_margin = report.margin, report.previous_margin
cols = st.columns(4)
cols[0].metric("Revenue", money(report.revenue), ua.delta(report.revenue, prev_margin["revenue"]), help=FIG["revenue"])
cols[1].metric("Orders", f"{report.orders:,}", ua.delta(report.orders, sum(m["prev_orders"] for m in report.months)),
               help=FIG["orders"])
cols[2].metric("Margin", money(margin["margin"]) if margin["costed_revenue"] else "–",
               ua.delta(margin["margin"], prev_margin["margin"]) if margin["costed_revenue"] else None,
               help=FIG["margin"])
cols[3].metric("Revenue with a known cost", "–" if margin["coverage_pct"] is None else f"{margin['coverage_pct']:.1f} %",
               help=FIG["margin"])
st.caption(f"{period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}, compared with {previous.start:%Y-%m-%d} to "
           f"{previous.end:%Y-%m-%d}. Click bars to filter the top products and customers below; "
           "double-click a chart to clear its selection.")

# -- revenue by month -------------------------------------------------------------------------------

grain = report.grain
st.subheader(f"Revenue by {grain}")
ua.definition(FIG["by_month"].format(grain=grain))
fig = go.Figure([
    go.Bar(name="This period", x=[m["label"] for m in report.months], y=[m["revenue"] for m in report.months],
           marker_color="#3182bd"),
    go.Bar(name="Previous period", x=[m["label"] for m in report.months], y=[m["prev_revenue"] for m in report.months],
           marker_color="#bdbdbd", customdata=[m["prev_label"] for m in report.months],
           hovertemplate="%{customdata}: %{y:,.2f}<extra>Previous period</extra>"),
])
fig.update_layout(barmode="group", height=320, margin=ua.MARGIN, xaxis={"type": "category"},
                  yaxis_title=f"Revenue ({currency})", legend={"orientation": "h", "y": 1.12},
                  clickmode="event+select", dragmode="select")
event = st.plotly_chart(fig, width="stretch", key="sa_month_chart", on_select="rerun", selection_mode=("points", "box"))
picked_months = ua.selected_labels(event, report.months)
ua.table_with_csv(report.months, ["label", "revenue", "orders", "prev_label", "prev_revenue", "prev_orders"],
                  "sa_month", f"revenue-by-{grain}-{stamp}",
                  {"label": grain.title(), "revenue": f"Revenue ({currency})", "orders": "Orders",
                   "prev_label": f"Previous period's {grain}", "prev_revenue": "Previous revenue",
                   "prev_orders": "Previous orders"})

# -- country and category ---------------------------------------------------------------------------

country_col, category_col = st.columns(2)
with country_col:
    st.subheader("Revenue by country")
    ua.definition(FIG["by_country"])
    shown = report.countries[:25]
    event = ua.bar([c["name"] for c in shown], [c["revenue"] for c in shown], "sa_country",
                   y_title=f"Revenue ({currency})", select=True)
    picked_countries = ua.selected_labels(event, shown)
    ua.table_with_csv(report.countries, ["name", "country", "revenue", "orders", "customers", "prev_revenue"],
                      "sa_country", f"revenue-by-country-{stamp}",
                      {"name": "Country", "country": "Code", "revenue": f"Revenue ({currency})", "orders": "Orders",
                       "customers": "Customers", "prev_revenue": "Previous revenue"})
with category_col:
    st.subheader("Revenue by category")
    ua.definition(FIG["by_category"])
    shown = report.categories[:25]
    event = ua.bar([c["name"] for c in shown], [c["revenue"] for c in shown], "sa_category",
                   y_title=f"Revenue ({currency})", color="#31a354", select=True)
    picked_categories = ua.selected_labels(event, shown)
    ua.table_with_csv(report.categories, ["name", "revenue", "quantity", "prev_revenue"], "sa_category",
                      f"revenue-by-category-{stamp}",
                      {"name": "Category", "revenue": f"Revenue ({currency})", "quantity": "Quantity",
                       "prev_revenue": "Previous revenue"})

drill = {"months": tuple(m["bucket"] for m in picked_months),
         "countries": tuple(c["country"] for c in picked_countries),
         "categories": tuple(c["category"] for c in picked_categories)}
filters = ([f"{grain}: " + ", ".join(m["label"] for m in picked_months)] if picked_months else []) + \
    (["country: " + ", ".join(c["name"] for c in picked_countries)] if picked_countries else []) + \
    (["category: " + ", ".join(c["name"] for c in picked_categories)] if picked_categories else [])
filtered = f" Filtered by {'; '.join(filters)}." if filters else ""

# -- top products -----------------------------------------------------------------------------------

st.subheader("Top products")
ua.definition(FIG["top_products"] + filtered)
products = ua.cached(sales.top_products, db, claims, ws, role, currency, period, **drill) if filters else report.products
if not products:
    st.info("No product sold for this selection. Clear the chart selection (double-click the chart).")
else:
    top = products[:20]
    ua.bar([f"{p['sku'] or ''} {p['name']}".strip() for p in top], [p["revenue"] for p in top], "sa_products",
           y_title=f"Revenue ({currency})", color="#756bb1")
    ua.table_with_csv(products, ["sku", "name", "category", "revenue", "quantity", "orders", "customers", "margin"],
                      "sa_products", f"top-products-{stamp}",
                      {"sku": "SKU", "name": "Product", "category": "Category", "revenue": f"Revenue ({currency})",
                       "quantity": "Quantity", "orders": "Orders", "customers": "Customers",
                       "margin": f"Margin ({currency})"})

# -- top customers ----------------------------------------------------------------------------------

st.subheader("Top customers")
ua.definition(FIG["top_customers"] + filtered)
customers = ua.cached(sales.top_customers, db, claims, ws, role, currency, period, **drill)
if not customers:
    st.info("No customer bought in this selection: the sales were anonymous, or clear the chart selection.")
else:
    rows = [{**c, "link": f"customer?customer={c['customer_id']}"} for c in customers]
    columns = ["name", "external_id", "revenue", "orders", "first_order", "last_order"]
    headers = {"name": "Customer", "external_id": "Customer number", "revenue": f"Revenue ({currency})",
               "orders": "Orders", "first_order": "First order in period", "last_order": "Last order in period"}
    st.dataframe([{"Open": r["link"], **{headers[c]: r[c] for c in columns}} for r in rows], hide_index=True,
                 width="stretch", key="sa_customers_table",
                 column_config={"Open": st.column_config.LinkColumn("Open", display_text="Open", width="small"),
                                headers["first_order"]: st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
                                headers["last_order"]: st.column_config.DatetimeColumn(format="YYYY-MM-DD")})
    st.download_button("Download CSV", data=to_csv(rows, columns, [headers[c] for c in columns]),
                       file_name=f"relata-top-customers-{stamp}.csv", mime="text/csv", icon=":material/download:",
                       key="sa_customers_csv", on_click="ignore")

# -- margin -----------------------------------------------------------------------------------------

st.subheader("Margin by category")
ua.definition(FIG["margin"])
if not margin["costed_revenue"]:
    st.info("No product sold in this period has a cost in this currency. Add costs on the Products page and the "
            "margin shows here.", icon=":material/inventory_2:")
else:
    costed = [c for c in report.categories if c["m_costed_revenue"]]
    ua.bar([c["name"] for c in costed], [c["m_margin"] for c in costed], "sa_margin",
           y_title=f"Margin ({currency})", color="#e6550d")
    rows = [*costed, {"name": "All categories", **{f"m_{k}": v for k, v in margin.items()}}]
    ua.table_with_csv(rows, ["name", "m_revenue", "m_costed_revenue", "m_cost", "m_margin", "m_margin_pct",
                             "m_coverage_pct"], "sa_margin", f"margin-{stamp}",
                      {"name": "Category", "m_revenue": f"Revenue ({currency})", "m_costed_revenue": "Revenue with cost",
                       "m_cost": "Cost", "m_margin": "Margin", "m_margin_pct": "Margin %", "m_coverage_pct": "Coverage %"})
