"""Campaigns: the list (status, dates, budget and cost, attributed revenue, ROI), a comparison
across campaigns (cost against revenue within one currency, ROI across all), the calendar of
campaign dates and planned posts for a month, and a new campaign. Figures: lib.campaigns."""

from __future__ import annotations

from datetime import date, timedelta

import plotly.graph_objects as go
import streamlit as st

from lib import campaign_results, campaigns, segments, templates
from lib.csv_export import to_csv
from lib.workspaces import can_write
from ui import session
from ui.analytics import MARGIN, definition, plot_text, table_with_csv
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")


def new_campaign_form() -> None:
    slots = FieldSlots()
    name = st.text_input("Name", key="cmp_new_name", max_chars=200, placeholder="e.g. Spring newsletter")
    slots.under("name")
    channel = st.selectbox("Channel", list(campaigns.CHANNELS), format_func=campaigns.CHANNELS.get, key="cmp_new_channel")
    slots.under("channel")
    start_col, end_col = st.columns(2)
    starts = start_col.date_input("Starts", value=None, key="cmp_new_starts", format="YYYY-MM-DD")
    slots.under("starts_on")
    ends = end_col.date_input("Ends", value=None, key="cmp_new_ends", format="YYYY-MM-DD")
    slots.under("ends_on")
    budget_col, currency_col = st.columns([2, 1])
    budget = budget_col.text_input("Budget", key="cmp_new_budget", placeholder="e.g. 500")
    slots.under("budget")
    currency = currency_col.text_input("Currency", value="EUR", key="cmp_new_currency", max_chars=3)
    slots.under("currency")
    if st.button("Create campaign", type="primary", key="cmp_new_save"):
        made = attempt(lambda: campaigns.create(db, claims, ws, {
            "name": name, "channel": channel, "starts_on": starts, "ends_on": ends, "budget": budget,
            "currency": currency}), slots)
        if made:
            for key in [k for k in st.session_state if str(k).startswith("cmp_new_")]:
                st.session_state.pop(key, None)
            st.session_state.flash = "Campaign created. Choose its audience and template, or plan its posts."
            st.switch_page("views/campaign.py", query_params={"campaign": made})


title_col, new_col = st.columns([6, 1.5], vertical_alignment="bottom")
title_col.title("Campaigns")
if writer:
    with new_col.popover("New campaign", icon=":material/add:"):
        new_campaign_form()

rows = campaign_results.comparison(db, claims, ws)
if not rows:
    st.info("No campaigns yet. " + ("Create one with **New campaign**: an email to a segment, or social posts, "
                                    "events and ads planned on the calendar. " if writer else "")
            + "Loading demo data on Home shows past campaigns with their results.", icon=":material/campaign:")
    if writer and not templates.list_templates(db, claims, ws):
        st.page_link("views/email_templates.py", label="Write an email template first", icon=":material/mail:")
    if writer and not segments.list_segments(db, claims, ws):
        st.page_link("views/segments.py", label="Build a segment (the audience)", icon=":material/filter_list:")
    st.stop()


def percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


list_tab, compare_tab, calendar_tab = st.tabs(["Campaigns", "Comparison", "Calendar"])

with list_tab:
    table = [{"Name": r["name"], "Channel": campaigns.CHANNELS[r["channel"]], "Status": campaigns.STATUSES[r["status"]],
              "Starts": r["starts_on"], "Ends": r["ends_on"], "Currency": r["currency"],
              "Budget": float(r["budget"]) if r["budget"] is not None else None,
              "Actual cost": float(r["actual_cost"]) if r["actual_cost"] is not None else None,
              "Attributed revenue": float(r["revenue"]), "ROI %": percent(r["roi"]), "Leads": r["leads"],
              "Cost per lead": r["cost_per_lead"]} for r in rows]
    money = st.column_config.NumberColumn(format="%.2f")
    event = st.dataframe(table, hide_index=True, width="stretch", key="cmp_table", on_select="rerun",
                         selection_mode="single-row",
                         column_config={"Budget": money, "Actual cost": money, "Attributed revenue": money,
                                        "Cost per lead": money, "ROI %": st.column_config.NumberColumn(format="%.1f %%")})
    definition("Attributed revenue: won deals and sales (orders not draft or cancelled) credited to the campaign, in "
               "its currency. ROI = (revenue − actual cost) / actual cost. Leads: members marked converted and the "
               "people of credited deals. Select a row to open the campaign.")
    st.download_button("Download CSV", data=lambda: to_csv(table, list(table[0])), file_name="relata-campaigns.csv",
                       mime="text/csv", icon=":material/download:", key="cmp_list_csv", on_click="ignore")
    picked = event.selection.rows if event else []
    if picked:
        st.switch_page("views/campaign.py", query_params={"campaign": rows[picked[0]]["id"]})

with compare_tab:
    currencies = sorted({r["currency"] for r in rows}, key=lambda c: -sum(1 for r in rows if r["currency"] == c))
    currency = st.selectbox("Currency", currencies, key="cmp_currency",
                            help="Amounts in different currencies are never added or compared on one axis.") \
        if len(currencies) > 1 else currencies[0]
    same = [r for r in rows if r["currency"] == currency]
    st.subheader(f"Cost and attributed revenue ({currency})")
    definition("Actual cost against the revenue of won deals and sales credited to each campaign.")
    labels = [plot_text(r["name"]) for r in same]
    fig = go.Figure([
        go.Bar(name="Actual cost", x=labels, y=[float(r["actual_cost"] or 0) for r in same], marker_color="#de2d26"),
        go.Bar(name="Attributed revenue", x=labels, y=[float(r["revenue"]) for r in same], marker_color="#31a354"),
    ])
    fig.update_layout(barmode="group", height=340, margin=MARGIN, xaxis={"type": "category"}, yaxis_title=currency,
                      legend={"orientation": "h", "y": 1.12})
    st.plotly_chart(fig, width="stretch", key="cmp_money_chart")
    costed = [r for r in rows if r["roi"] is not None]
    st.subheader("Return on investment")
    definition("(Attributed revenue − actual cost) / actual cost, per campaign with a cost; a ratio, so campaigns "
               "in different currencies compare.")
    if costed:
        fig = go.Figure(go.Bar(x=[plot_text(r["name"]) for r in costed], y=[percent(r["roi"]) for r in costed],
                               marker_color=["#31a354" if r["roi"] >= 0 else "#de2d26" for r in costed]))
        fig.update_layout(height=300, margin=MARGIN, xaxis={"type": "category"}, yaxis_title="ROI %")
        st.plotly_chart(fig, width="stretch", key="cmp_roi_chart")
    else:
        st.caption("Enter the actual cost of a campaign (on its page) to see its ROI.")
    columns = ["name", "channel", "status", "currency", "budget", "actual_cost", "deal_revenue", "order_revenue",
               "revenue", "roi_percent", "leads", "cost_per_lead"]
    table_with_csv([{**r, "roi_percent": percent(r["roi"]), "channel": campaigns.CHANNELS[r["channel"]],
                     "status": campaigns.STATUSES[r["status"]]} for r in rows], columns, "cmp_compare",
                   "campaign-comparison",
                   headers={"name": "Campaign", "channel": "Channel", "status": "Status", "currency": "Currency",
                            "budget": "Budget", "actual_cost": "Actual cost", "deal_revenue": "Won deals",
                            "order_revenue": "Sales", "revenue": "Attributed revenue", "roi_percent": "ROI %",
                            "leads": "Leads", "cost_per_lead": "Cost per lead"})

with calendar_tab:
    today = date.today()
    months = [(today.replace(day=1) + timedelta(days=32 * k)).replace(day=1) for k in range(-12, 7)]
    month = st.selectbox("Month", months, index=12, key="cmp_month", format_func=lambda m: m.strftime("%B %Y"))
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    plan = campaigns.calendar(db, claims, ws, month, last)
    if not plan["campaigns"] and not plan["posts"]:
        st.info(f"Nothing planned in {month:%B %Y}. Give campaigns dates, or plan posts on a campaign's page.",
                icon=":material/calendar_month:")
    else:
        fig = go.Figure()
        for c in plan["campaigns"]:
            start = max(c["starts_on"], month)
            end = min(c["ends_on"], last) + timedelta(days=1)
            fig.add_trace(go.Bar(
                y=[plot_text(c["name"])], x=[(end - start).days * 86_400_000], base=[start.isoformat()],
                orientation="h", name=plot_text(campaigns.CHANNELS[c["channel"]]), showlegend=False,
                marker_color="#9ecae1", hovertext=plot_text(f"{c['name']}: {c['starts_on']} – {c['ends_on']}")))
        if plan["posts"]:
            fig.add_trace(go.Scatter(
                x=[p["planned_at"] for p in plan["posts"]], y=[plot_text(p["campaign"]) for p in plan["posts"]],
                mode="markers", marker={"size": 12, "symbol": "diamond", "color": "#3182bd"}, name="Posts",
                hovertext=[plot_text(f"{p['title']} ({p['channel']})") for p in plan["posts"]]))
        fig.update_layout(height=120 + 40 * len({c["name"] for c in plan["campaigns"]} | {p["campaign"] for p in plan["posts"]}),
                          margin=MARGIN, xaxis={"type": "date", "range": [month.isoformat(),
                                                                          (last + timedelta(days=1)).isoformat()]},
                          yaxis={"type": "category", "autorange": "reversed"}, showlegend=False)
        st.plotly_chart(fig, width="stretch", key="cmp_calendar_chart")
        days = [{"day": max(c["starts_on"], month),
                 "what": "Campaign" if c["starts_on"] >= month else "Campaign (running since before)",
                 "campaign": c["name"],
                 "channel": campaigns.CHANNELS[c["channel"]], "title": f"{c['starts_on']} – {c['ends_on']}",
                 "done": None} for c in plan["campaigns"]]
        days += [{"day": p["planned_at"].date(), "what": "Post", "campaign": p["campaign"],
                  "channel": campaigns.CHANNELS[p["channel"]], "title": p["title"], "done": p["done"]}
                 for p in plan["posts"]]
        days.sort(key=lambda r: (r["day"], r["campaign"]))
        table_with_csv(days, ["day", "what", "campaign", "channel", "title", "done"], "cmp_calendar",
                       f"campaign-calendar-{month:%Y-%m}", headers={"day": "Day", "what": "What", "campaign": "Campaign",
                                                                    "channel": "Channel", "title": "Title or dates",
                                                                    "done": "Done"})
    st.caption("Nothing is posted to outside networks: posts are a plan for the team. "
               f"Times shown in UTC; this month: {month:%Y-%m-%d} – {last:%Y-%m-%d}.")
