"""Customer analytics: RFM segments (click a segment to list its customers, save it as a
segment), monthly acquisition cohorts, lifetime value and churn risk, for one currency at a
snapshot date. Figures come from lib.analytics.customers; this page draws them, each chart with
its one-line definition and a CSV of its data.
"""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from lib import segments
from lib.analytics import common, customers as ca
from lib.csv_export import to_csv
from lib.errors import UserError
from lib.text import md_escape
from lib.workspaces import can_write
from ui import analytics as ua, session

rt, user, _, current = session.page_context()
db, claims, ws, role = rt.db, user.claims, current.workspace_id, current.role
FIG = ca.FIGURES


def cached(fn, *args):
    return ua.cached(fn, db, claims, ws, role, *args)


def customer_table(rows: list[dict], columns: dict[str, str], key: str, filename: str) -> None:
    """Customers with a link to their page, and the same rows as CSV (without the link)."""
    shown = [{"Open": f"customer?customer={r['customer_id']}", **{label: r.get(c) for c, label in columns.items()}}
             for r in rows]
    st.dataframe(shown, hide_index=True, width="stretch", key=f"{key}_table", column_config={
        "Open": st.column_config.LinkColumn("Open", display_text="Open", width="small")})
    csv_columns = ["customer_id", *columns]
    st.download_button("Download CSV", data=to_csv(rows, csv_columns, ["Customer id", *columns.values()]),
                       file_name=f"relata-{filename}.csv", mime="text/csv", icon=":material/download:",
                       key=f"{key}_csv", on_click="ignore")


def money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f} {currency}"


st.title("Customer analytics")
currencies = cached(common.currencies)
if not currencies:
    st.info("No sales yet, so there are no customers to analyse. Import orders on the **Import** page, or load demo "
            "data from **Home**; confirmed, shipped, invoiced and paid orders count as sales.",
            icon=":material/diversity_3:")
    if can_write(role):
        st.page_link("views/import_customers.py", label="Import orders", icon=":material/upload_file:")
    st.stop()

left, middle, right = st.columns(3)
with left:
    currency = ua.currency_picker("cu", currencies) or currencies[0]
latest = cached(ca.default_snapshot, currency)
span = cached(common.sales_span)
with middle:
    snapshot = st.date_input(
        "Snapshot", latest, min_value=span[0] + timedelta(days=1), max_value=max(latest, date.today()),
        key="cu_snapshot", format="YYYY-MM-DD",
        help="Sales before this day count (UTC); recency is measured to it. Default: the day after the last sale.")
with right:
    compare_days = st.selectbox("Compare with", [30, 90, 180, 365], index=1, key="cu_compare",
                                format_func=lambda d: f"{d} days earlier",
                                help="Segment sizes at an earlier snapshot, for comparison.")
previous = snapshot - timedelta(days=compare_days)

rfm_tab, cohort_tab, clv_tab, churn_tab = st.tabs(["RFM segments", "Cohorts", "Lifetime value", "Churn risk"])

# -- RFM segments --------------------------------------------------------------------------------

with rfm_tab:
    st.subheader("RFM segments")
    ua.definition(FIG["rfm"])
    seg = cached(ca.rfm_segments, currency, snapshot)
    before = cached(ca.rfm_segments, currency, previous)
    if not seg.scored:
        st.info(f"No customer bought in {currency} before {snapshot:%Y-%m-%d}. Choose a later snapshot.",
                icon=":material/event:")
    else:
        a, b, c = st.columns(3)
        a.metric("Customers scored", f"{seg.scored:,}", ua.delta(seg.scored, before.scored),
                 help=f"Against {before.scored:,} at {previous:%Y-%m-%d}.")
        champions = seg.by_name()["Champions"]["customers"] + seg.by_name()["Loyal"]["customers"]
        b.metric("Champions and loyal", f"{champions:,}", help="Customers in the two best segments.")
        c.metric("Not scored", f"{seg.not_scored:,}", help="Customers whose net revenue before the snapshot is zero "
                 "or negative (returns cancel their purchases): they take no part in the quintiles.")
        labels = [r["segment"] for r in seg.rows]
        event = ua.bar(labels, [r["customers"] for r in seg.rows], "cu_segments", y_title="Customers", select=True)
        st.caption("Click a bar (or several, with Shift) to list the segment's customers below.")
        old = before.by_name()
        table = [{**r, "previous": old[r["segment"]]["customers"],
                  "change": r["customers"] - old[r["segment"]]["customers"]} for r in seg.rows]
        ua.table_with_csv(
            table, ["segment", "customers", "previous", "change", "share_customers", "revenue", "share_revenue",
                    "avg_recency", "avg_frequency", "avg_monetary"], "cu_segments", f"rfm-segments-{snapshot}",
            {"segment": "Segment", "customers": "Customers", "previous": f"Customers at {previous:%Y-%m-%d}",
             "change": "Change", "share_customers": "% of customers", "revenue": f"Revenue ({currency})",
             "share_revenue": "% of revenue", "avg_recency": "Avg days since last sale",
             "avg_frequency": "Avg orders", "avg_monetary": f"Avg revenue ({currency})"})

        st.markdown("##### Customers of a segment")
        ua.definition(FIG["segment_list"])
        picked = ua.selected_labels(event, labels)
        if picked:
            st.caption("Selected in the chart: " + ", ".join(picked))
        else:
            counts = seg.by_name()
            default = next((i for i, s in enumerate(labels) if counts[s]["customers"]), 0)
            picked = [st.selectbox("Segment", labels, index=default, key="cu_segment_pick",
                                   format_func=lambda s: f"{s} ({counts[s]['customers']:,})")]
        members = cached(ca.rfm_customers, currency, snapshot, tuple(picked))
        customer_table(members, {"name": "Customer", "segment": "Segment", "recency": "Days since last sale",
                                 "frequency": "Orders", "monetary": f"Revenue ({currency})", "r": "R", "f": "F",
                                 "m": "M", "last_sale": "Last sale"}, "cu_members",
                       f"rfm-{'-'.join(s.lower().replace(' ', '-').replace(chr(39), '') for s in picked)}-{snapshot}")
        if can_write(role) and len(picked) == 1:
            with st.form("cu_save_segment", border=True):
                st.markdown(f"**Save “{md_escape(picked[0])}” as a segment** for campaigns")
                name = st.text_input("Name", f"{picked[0]} {snapshot:%Y-%m-%d}", max_chars=200, key="cu_save_name")
                rolling = st.checkbox("Keep it current (recompute at the latest data)", key="cu_save_rolling",
                                      help=f"Otherwise the segment stays as of {snapshot:%Y-%m-%d}.")
                if st.form_submit_button("Save as segment", icon=":material/bookmark_add:"):
                    try:
                        saved = segments.save_rfm(db, claims, ws, name, picked[0], currency,
                                                  None if rolling else snapshot)
                        st.success(f"Saved “{md_escape(name.strip())}” with {saved['member_count']:,} customers.",
                                   icon=":material/check_circle:")
                    except UserError as exc:
                        st.error(str(exc))
        saved_list = segments.list_segments(db, claims, ws)
        if saved_list:
            with st.expander(f"Saved segments ({len(saved_list)})"):
                st.dataframe([{"Name": s["name"], "Rule": f"RFM {s['definition'].get('segment')}",
                               "As of": s["definition"].get("snapshot") or "latest data",
                               "Currency": s["definition"].get("currency"), "Customers when saved": s["member_count"]}
                              for s in saved_list], hide_index=True, width="stretch", key="cu_saved_table")

# -- cohorts -------------------------------------------------------------------------------------

with cohort_tab:
    st.subheader("Monthly acquisition cohorts")
    ua.definition(FIG["cohorts"])
    last_month, data_first = span[1].replace(day=1), span[0].replace(day=1)
    choices = {6: "Last 6 months", 12: "Last 12 months", 24: "Last 24 months", 0: "All"}
    default_months = 0 if ca.month_index(last_month) - ca.month_index(data_first) < 24 else 12
    months = st.segmented_control("Cohorts", list(choices), format_func=choices.get, default=default_months,
                                  key="cu_cohort_months")
    months = default_months if months is None else months
    first_month = ca.add_months(last_month, 1 - months) if months else data_first
    st.caption(f"Cohorts acquired from {first_month:%b %Y} to {last_month:%b %Y}, followed up to the latest sale"
               + (f"; compared with the {months} months of cohorts before." if months else "."))
    result = cached(ca.cohorts, currency, first_month, last_month)
    earlier = cached(ca.cohorts, currency, ca.add_months(first_month, -months), ca.add_months(first_month, -1)) \
        if months else None
    cohort_months, width, cells = result.matrix()
    if not cohort_months:
        st.info(f"No customer had their first {currency} sale in these months. Choose more months.",
                icon=":material/event:")
    else:
        m1, m3, m6 = st.columns(3)
        for col, k in ((m1, 1), (m3, 3), (m6, 6)):
            now, then = result.average_retention(k), earlier.average_retention(k) if earlier else None
            col.metric(f"Month-{k} retention", "–" if now is None else f"{now:.1f} %",
                       None if now is None or then is None else f"{now - then:+.1f} pts",
                       help=f"Customers of these cohorts with a sale in month {k} after their first, of all customers "
                            "of the cohorts old enough; compared with the same number of cohort months before.")
        last = ca.month_index(result.last_month)
        z, text = [], []
        for cohort in cohort_months:
            row_z, row_t = [], []
            for k in range(width):
                if ca.month_index(cohort) + k > last:
                    row_z.append(None)
                    row_t.append("")
                    continue
                cell = cells.get((cohort, k))
                share = cell["retention"] if cell else 0.0
                row_z.append(share)
                row_t.append(f"{share:.0f} %<br>({cell['customers'] if cell else 0})")
            z.append(row_z)
            text.append(row_t)
        sizes = {c: cells[(c, 0)]["size"] for c in cohort_months}
        fig = go.Figure(go.Heatmap(
            z=z, x=[f"M{k}" for k in range(width)], y=[f"{c:%Y-%m} · {sizes[c]:,}" for c in cohort_months],
            text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=100,
            hovertemplate="Cohort %{y}<br>%{x}: %{z:.1f} %<extra></extra>", colorbar={"title": "%"}))
        fig.update_layout(height=max(300, 28 * len(cohort_months) + 80), margin=ua.MARGIN,
                          yaxis={"autorange": "reversed", "type": "category"}, xaxis={"side": "top"})
        st.plotly_chart(fig, width="stretch", key="cu_cohorts_chart")
        st.caption(f"Rows: cohort month · customers. The latest month ({result.last_month:%b %Y}) may be incomplete.")
        ua.table_with_csv(result.rows, ["cohort", "size", "k", "customers", "retention"], "cu_cohorts",
                          f"cohorts-{first_month:%Y-%m}-{last_month:%Y-%m}",
                          {"cohort": "Cohort", "size": "Customers in cohort", "k": "Months after",
                           "customers": "Customers with a sale", "retention": "Retention %"})

# -- lifetime value ------------------------------------------------------------------------------

with clv_tab:
    st.subheader("Customer lifetime value")
    ua.definition(FIG["clv"])
    data_days = (span[1] - span[0]).days + 1
    window = st.segmented_control(
        "Window", [90, 180, 365], format_func=lambda d: f"{d} days", key="cu_clv_window",
        default=365 if data_days >= 730 else 180 if data_days >= 360 else 90,
        help="The predictive formula uses the last window before the snapshot, and the one before it for retention.") \
        or 365
    lt = cached(ca.lifetime_value, currency, snapshot, window)
    if not lt.customers:
        st.info(f"No customer bought in {currency} before {snapshot:%Y-%m-%d}.", icon=":material/event:")
    else:
        a, b, c = st.columns(3)
        a.metric("Median CLV", money(lt.median), help=f"Of {lt.customers:,} customers; mean {money(lt.mean)}.")
        b.metric("Middle half", f"{lt.percentiles[25]:,.0f} – {lt.percentiles[75]:,.0f}",
                 help="25th to 75th percentile of historical lifetime value.")
        if lt.has_costs and lt.costed_revenue:
            c.metric("Margin (known costs)", money(lt.margin),
                     help=f"Revenue minus product cost, over the {money(lt.costed_revenue)} of revenue whose products "
                          "have a cost.")
        else:
            c.metric("Margin", "–", help="No product has a cost yet; add costs on the Products page.")
        st.markdown("##### Distribution")
        ua.definition("Customers per band of historical lifetime value (bands on a 1-2-5 scale).")
        ua.bar([h["bucket"] for h in lt.histogram], [h["customers"] for h in lt.histogram], "cu_clv_hist",
               y_title="Customers", color="#31a354")
        ua.table_with_csv(lt.histogram, ["bucket", "customers", "revenue"], "cu_clv_hist", f"clv-distribution-{snapshot}",
                          {"bucket": f"Lifetime value ({currency})", "customers": "Customers",
                           "revenue": f"Revenue ({currency})"})

        st.markdown("##### Predicted lifetime value")
        ua.definition(FIG["predictive"])
        now, then = lt.predictive["current"], lt.predictive["previous"]
        cols = st.columns(5)
        for col, key, label, fmt in (
                (cols[0], "aov", "Average order value", lambda v: f"{v:,.2f}"),
                (cols[1], "frequency", "Orders / customer / year", lambda v: f"{v:.2f}"),
                (cols[2], "retention", "Retention", lambda v: f"{v:.1f} %"),
                (cols[3], "lifespan", "Lifespan (years)", lambda v: f"{v:.1f}"),
                (cols[4], "clv", "Predicted CLV", lambda v: f"{v:,.0f}")):
            change = (None if now[key] is None or then[key] is None else f"{now[key] - then[key]:+.1f} pts") \
                if key == "retention" else ua.delta(now[key], then[key])
            col.metric(label, "–" if now[key] is None else fmt(now[key]), change,
                       help=f"Previous {window} days: {'–' if then[key] is None else fmt(then[key])}.")
        if now["retention"] is None:
            st.caption(f"No customer bought in the {window} days before the window, so retention, lifespan and the "
                       "prediction are unknown; try a shorter window.")
        ua.table_with_csv(
            [{"window": label, **w} for label, w in ((f"Last {window} days", now), (f"{window} days before", then))],
            ["window", "active", "orders", "revenue", "aov", "frequency", "retention", "lifespan", "clv"],
            "cu_clv_pred", f"clv-predicted-{snapshot}",
            {"window": "Window", "active": "Customers buying", "orders": "Orders", "revenue": f"Revenue ({currency})",
             "aov": "Average order value", "frequency": "Orders / customer / year", "retention": "Retention %",
             "lifespan": "Lifespan (years)", "clv": f"Predicted CLV ({currency})"})

        st.markdown("##### Top customers")
        ua.definition(FIG["clv_top"] + " Predicted: their revenue of the last window, per year, × the lifespan.")
        customer_table(lt.top, {"name": "Customer", "revenue": f"Lifetime value ({currency})",
                                "margin": f"Margin ({currency})", "orders": "Orders", "first_sale": "First sale",
                                "last_sale": "Last sale", "predicted": f"Predicted ({currency})"},
                       "cu_clv_top", f"clv-top-{snapshot}")

# -- churn risk ----------------------------------------------------------------------------------

with churn_tab:
    st.subheader("Churn risk")
    ua.definition(FIG["churn"])
    f_col, d_col = st.columns(2)
    factor = f_col.number_input("Factor", min_value=1.0, max_value=20.0, value=2.0, step=0.5, key="cu_churn_factor",
                                help="At risk when the days since the last sale exceed this many median gaps.")
    min_days = d_col.number_input("Minimum days since the last sale", min_value=0, max_value=3650, value=30, step=5,
                                  key="cu_churn_days")
    churn = cached(ca.churn_risk, currency, snapshot, float(factor), int(min_days))
    earlier_churn = cached(ca.churn_risk, currency, previous, float(factor), int(min_days))
    a, b, c = st.columns(3)
    a.metric("At risk", f"{len(churn.at_risk):,}", ua.delta(len(churn.at_risk), len(earlier_churn.at_risk)),
             delta_color="inverse", help=f"Against {len(earlier_churn.at_risk):,} at {previous:%Y-%m-%d}.")
    b.metric("Their revenue to date", money(churn.at_risk_revenue))
    c.metric("Customers assessed", f"{churn.assessed:,}",
             help=f"Of {churn.customers:,} customers; those with a single sale day have no usual interval.")
    fig = go.Figure([
        go.Bar(name="Not at risk", x=[b["bucket"] for b in churn.buckets],
               y=[b["customers"] - b["at_risk"] for b in churn.buckets], marker_color="#9ecae1"),
        go.Bar(name="At risk", x=[b["bucket"] for b in churn.buckets], y=[b["at_risk"] for b in churn.buckets],
               marker_color="#de2d26")])
    fig.update_layout(barmode="stack", height=320, margin=ua.MARGIN, yaxis_title="Customers",
                      xaxis={"type": "category", "title": "Days since last sale ÷ median gap"},
                      legend={"orientation": "h", "y": 1.1})
    st.plotly_chart(fig, width="stretch", key="cu_churn_chart")
    ua.table_with_csv(churn.buckets, ["bucket", "customers", "at_risk"], "cu_churn_buckets", f"churn-overdue-{snapshot}",
                      {"bucket": "Days since last sale ÷ median gap", "customers": "Customers", "at_risk": "At risk"})
    st.markdown("##### Customers at risk")
    ua.definition("Customers at risk, highest revenue to date first.")
    if churn.at_risk:
        customer_table(churn.at_risk, {"name": "Customer", "revenue": f"Revenue ({currency})", "orders": "Orders",
                                       "sale_days": "Sale days", "last_sale": "Last sale",
                                       "median_gap": "Median gap (days)", "days_since": "Days since last sale",
                                       "overdue": "× median gap"}, "cu_churn", f"churn-risk-{snapshot}")
    else:
        st.caption("No customer is at risk with these settings.")
