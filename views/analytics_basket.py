"""Basket analysis: products bought in the same order, as rules A → B with support, confidence and
lift, for a period, countries and minimum support and confidence. A scatter of the rules (select
points to filter the table) and a lift heatmap. Figures come from lib.analytics.basket."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lib.analytics import basket, common
from lib.validation import country_name
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG = basket.FIGURES

st.title("Baskets")
span = ua.cached(common.sales_span, db, claims, ws, role)
if span is None:
    st.info("No sales yet. Import orders on the Import page or load demo data from Settings, and the products "
            "bought together show here.", icon=":material/shopping_basket:")
    st.stop()
period = ua.period_picker("bk", span)
options = ua.cached(basket.countries, db, claims, ws, role, period)
country_col, support_col, confidence_col = st.columns([2, 1, 1])
picked = country_col.multiselect("Countries", options, key="bk_countries", placeholder="All countries",
                                 format_func=lambda c: country_name(c) if c else "Unknown")
min_support = support_col.number_input("Minimum support %", min_value=0.2, max_value=100.0, value=1.0, step=0.5,
                                       key="bk_support", help=FIG["support"] + " Lower finds rarer pairs but takes "
                                       "longer: on half a million order lines, 1 % takes a few seconds.")
min_confidence = confidence_col.number_input("Minimum confidence %", min_value=0.0, max_value=100.0, value=0.0,
                                             step=5.0, key="bk_confidence", help=FIG["confidence"])
result = ua.cached(basket.rules, db, claims, ws, role, period, countries=tuple(sorted(picked)),
                   min_support=round(min_support / 100, 6), min_confidence=round(min_confidence / 100, 6))

orders_col, products_col, rules_col = st.columns(3)
orders_col.metric("Orders", f"{result.orders:,}", help=FIG["orders"])
products_col.metric("Products at minimum support", f"{result.frequent_products:,}",
                    help="Products in at least the minimum support's share of the orders on their own.")
rules_col.metric("Rules", f"{result.total_rules:,}", help="Pairs A → B that reach both minimums (each pair twice).")
if not result.orders:
    st.info("No sale orders in this period and these countries. Choose a longer period or other countries.",
            icon=":material/shopping_basket:")
    st.stop()
if not result.rules:
    st.info(f"No pair of products is bought together in {min_support:g} % of the orders"
            f"{f' with {min_confidence:g} % confidence' if min_confidence else ''}. Lower the minimum support or "
            "confidence, or choose a longer period.", icon=":material/shopping_basket:")
    st.stop()
if result.total_rules > len(result.rules):
    st.caption(f"The {len(result.rules):,} strongest rules by lift are shown (of {result.total_rules:,}); raise the "
               "minimum support or confidence to see fewer.")


def name(rule: dict, side: str) -> str:
    return f"{rule[f'{side}_sku'] or ''} {rule[side]}".strip()


# -- scatter ----------------------------------------------------------------------------------------

st.subheader("Rules: support and confidence")
ua.definition(f"{FIG['support']} {FIG['confidence']} Colour: lift. Select points to filter the table below.")
rules = result.rules
fig = go.Figure(go.Scatter(
    x=[100 * r["support"] for r in rules], y=[100 * r["confidence"] for r in rules], mode="markers",
    marker={"color": [r["lift"] for r in rules], "colorscale": "Viridis", "showscale": True,
            "colorbar": {"title": "Lift"}, "size": 8},
    text=[ua.plot_text(f"{name(r, 'antecedent')} → {name(r, 'consequent')}") for r in rules],
    hovertemplate="%{text}<br>support %{x:.2f} %<br>confidence %{y:.1f} %<br>lift %{marker.color:.2f}<extra></extra>"))
fig.update_layout(height=380, margin=ua.MARGIN, xaxis_title="Support %", yaxis_title="Confidence %",
                  clickmode="event+select", dragmode="select")
event = st.plotly_chart(fig, width="stretch", key="bk_scatter_chart", on_select="rerun",
                        selection_mode=("points", "box", "lasso"))
chosen = ua.selected_labels(event, rules)

st.subheader("Rules A → B")
ua.definition(f"{FIG['lift']}" + (f" Showing the {len(chosen)} selected rules." if chosen else ""))
table = [{"if_bought": name(r, "antecedent"), "also_bought": name(r, "consequent"), "orders_both": r["orders_both"],
          "support_pct": round(100 * r["support"], 3), "confidence_pct": round(100 * r["confidence"], 2),
          "lift": round(r["lift"], 3), "orders_antecedent": r["orders_antecedent"],
          "orders_consequent": r["orders_consequent"]} for r in (chosen or rules)]
ua.table_with_csv(table, ["if_bought", "also_bought", "orders_both", "support_pct", "confidence_pct", "lift",
                          "orders_antecedent", "orders_consequent"], "bk_rules",
                  f"basket-rules-{period.start:%Y%m%d}-{period.end:%Y%m%d}",
                  {"if_bought": "If bought (A)", "also_bought": "Also bought (B)", "orders_both": "Orders with both",
                   "support_pct": "Support %", "confidence_pct": "Confidence % (A → B)", "lift": "Lift",
                   "orders_antecedent": "Orders with A", "orders_consequent": "Orders with B"})

# -- heatmap ----------------------------------------------------------------------------------------

st.subheader("Lift between the most frequent products")
ua.definition("Lift of each pair among the 15 products in the most orders that appear in a rule (blank: the pair "
              "is below the minimums).")
freq: dict[str, tuple[int, str]] = {}
for r in rules:
    for side in ("antecedent", "consequent"):
        freq[r[f"{side}_id"]] = (r[f"orders_{side}"], name(r, side))
top = sorted(freq, key=lambda p: (-freq[p][0], freq[p][1]))[:15]
lift = {(r["antecedent_id"], r["consequent_id"]): r["lift"] for r in rules}
labels = [ua.plot_text(freq[p][1][:40]) for p in top]
z = [[lift.get((a, b)) for b in top] for a in top]
heat = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Viridis", hoverongaps=False,
                            colorbar={"title": "Lift"},
                            hovertemplate="%{y} → %{x}<br>lift %{z:.2f}<extra></extra>"))
heat.update_layout(height=520, margin=ua.MARGIN, xaxis={"type": "category", "tickangle": -45},
                   yaxis={"type": "category", "autorange": "reversed"})
st.plotly_chart(heat, width="stretch", key="bk_heatmap_chart")
matrix = [{"if_bought": freq[a][1], **{freq[b][1]: round(lift[(a, b)], 3) if (a, b) in lift else None for b in top}}
          for a in top]
ua.table_with_csv(matrix, ["if_bought", *(freq[b][1] for b in top)], "bk_heatmap",
                  f"basket-lift-matrix-{period.start:%Y%m%d}-{period.end:%Y%m%d}", {"if_bought": "If bought (A)"})
