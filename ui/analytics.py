"""Streamlit pieces every analytics page shares: the period and currency pickers, a cache keyed by
workspace, role and filters (never by user, never across workspaces), and chart + table + CSV.

Plotly labels understand a few HTML tags, so user text goes through `plot_text` first.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st

from lib.analytics import common
from lib.csv_export import to_csv

MARGIN = {"t": 30, "b": 10, "l": 10, "r": 10}
PRESETS = {"30d": "Last 30 days", "90d": "Last 90 days", "12m": "Last 12 months", "all": "All time",
           "custom": "Custom"}


def plot_text(text: object) -> str:
    return html.escape(str(text or ""), quote=False)


@st.cache_data(ttl=300, max_entries=2000, show_spinner=False)
def _cached(name: str, workspace_id: str, role: str, args: tuple, kwargs: tuple, _fn: Callable, _db, _claims) -> Any:
    return _fn(_db, _claims, workspace_id, *args, **dict(kwargs))


def cached(fn: Callable, db, claims, workspace_id: str, role: str, *args, **kwargs) -> Any:
    """`fn(db, claims, workspace_id, *args, **kwargs)`, kept 5 minutes per workspace, role and
    arguments: every member with that role sees the same aggregates, so one user's computation
    may serve another's, but never another workspace's or a higher role's."""
    return _cached(f"{fn.__module__}.{fn.__qualname__}", workspace_id, role, tuple(args),
                   tuple(sorted(kwargs.items())), fn, db, claims)


def period_picker(key: str, span: tuple[date, date] | None, default: str = "12m") -> common.Period:
    """A preset (relative to the last day with a sale, so old data still shows) or custom dates."""
    last = span[1] if span else date.today()
    first = span[0] if span else last - timedelta(days=364)
    choice = st.segmented_control("Period", list(PRESETS), format_func=PRESETS.get, default=default,
                                  key=f"{key}_preset") or default
    if choice == "custom":
        picked = st.date_input("From – to", (max(first, last - timedelta(days=89)), last), key=f"{key}_dates",
                               format="YYYY-MM-DD")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            return common.Period(picked[0], picked[1])
        st.caption("Choose the last day too.")
        return common.Period(picked[0] if picked else first, last)
    days = {"30d": 30, "90d": 90, "12m": 365}.get(choice)
    return common.Period(first if days is None else last - timedelta(days=days - 1), last)


def currency_picker(key: str, currencies: list[str]) -> str | None:
    if len(currencies) <= 1:
        return currencies[0] if currencies else None
    return st.selectbox("Currency", currencies, key=f"{key}_currency",
                        help="Amounts in different currencies are never added together.")


def definition(text: str) -> None:
    """The one-line definition under a chart's title."""
    st.caption(text)


def table_with_csv(rows: list[dict], columns: list[str], key: str, filename: str,
                   headers: dict[str, str] | None = None) -> None:
    """The figures behind a chart, and the same rows as CSV (safe from formula injection)."""
    st.dataframe([{(headers or {}).get(c, c): r.get(c) for c in columns} for r in rows], hide_index=True,
                 width="stretch", key=f"{key}_table")
    st.download_button("Download CSV", data=to_csv(rows, columns, [(headers or {}).get(c, c) for c in columns]),
                       file_name=f"relata-{filename}.csv", mime="text/csv", icon=":material/download:",
                       key=f"{key}_csv", on_click="ignore")


def bar(labels: list, values: list, key: str, *, y_title: str = "", color: str = "#3182bd", height: int = 320,
        select: bool = False):
    """A bar chart; with `select`, clicking bars returns the selection (plotly selection events)."""
    fig = go.Figure(go.Bar(x=[plot_text(v) for v in labels], y=values, marker_color=color))
    fig.update_layout(height=height, margin=MARGIN, xaxis={"type": "category"}, yaxis_title=y_title)
    if select:
        fig.update_layout(clickmode="event+select", dragmode="select")
        return st.plotly_chart(fig, width="stretch", key=f"{key}_chart", on_select="rerun",
                               selection_mode=("points", "box"))
    return st.plotly_chart(fig, width="stretch", key=f"{key}_chart")


def selected_labels(event, labels: list) -> list:
    """The labels of the bars picked in a plotly selection event (by point index)."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    picked = {p.get("point_index", p.get("pointIndex")) for p in points}
    return [labels[i] for i in sorted(i for i in picked if i is not None and i < len(labels))]


def delta(current: float | None, previous: float | None) -> str | None:
    """'+12.5 %' against the previous period (None when there is nothing to compare with)."""
    if current is None or not previous:
        return None
    return f"{(current - previous) / abs(previous) * 100:+.1f} %"
