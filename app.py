"""Relata CRM: page config, the sign-in gate and navigation.

Signed out, every page stays registered (hidden) so the URL and its query parameters, a deep
link to a record for example, survive signing in; the sign-in screen is drawn in its place.
Signed in, navigation shows the sections whose pages exist and that the user's role may open.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

from lib.config import ConfigError
from lib.embedded_pg import StartupError
from lib import mailer
from lib.activities import overdue_count
from lib.workspaces import ROLE_HELP, rank
from ui import session
from ui.startup import show_startup_error
from lib.text import md_escape

VIEWS_DIR = Path(__file__).parent / "views"

# A local icon: a Material one is fetched from Google's font server, which an internal install may not reach.
st.set_page_config(page_title="Relata CRM", page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
                   layout="wide")

try:
    rt = session.runtime()
except (StartupError, ConfigError) as exc:
    show_startup_error(exc)
    st.stop()
mailer.start_background(rt.db, rt.settings)  # sends the outbox; nothing without SMTP_URL; one thread per process

# (file, title, icon, url path, section, lowest role that may open it); section "hidden": record
# pages reached by links (deep link ?customer=<id>), not listed in the navigation.
PAGES = [
    ("home.py", "Home", ":material/home:", "home", None, "viewer"),
    ("customers.py", "Customers", ":material/groups:", "customers", "Sales", "viewer"),
    ("deals.py", "Deals", ":material/view_kanban:", "deals", "Sales", "viewer"),
    ("tasks.py", "My tasks", ":material/task_alt:", "tasks", "Sales", "viewer"),
    ("duplicates.py", "Duplicates", ":material/join:", "duplicates", "Sales", "agent"),
    ("import_customers.py", "Import", ":material/upload_file:", "import", "Sales", "agent"),
    ("orders.py", "Orders", ":material/receipt_long:", "orders", "Sales", "viewer"),
    ("products.py", "Products", ":material/inventory_2:", "products", "Sales", "viewer"),
    ("tickets.py", "Tickets", ":material/support_agent:", "tickets", "Service", "viewer"),
    ("segments.py", "Segments", ":material/filter_list:", "segments", "Marketing", "viewer"),
    ("campaigns.py", "Campaigns", ":material/campaign:", "campaigns", "Marketing", "viewer"),
    ("email_templates.py", "Email templates", ":material/mail:", "email-templates", "Marketing", "viewer"),
    ("campaign.py", "Campaign", ":material/campaign:", "campaign", "hidden", "viewer"),
    ("knowledge.py", "Knowledge base", ":material/menu_book:", "knowledge", "Service", "viewer"),
    ("customer.py", "Customer", ":material/person:", "customer", "hidden", "viewer"),
    ("deal.py", "Deal", ":material/handshake:", "deal", "hidden", "viewer"),
    ("ticket.py", "Ticket", ":material/confirmation_number:", "ticket", "hidden", "viewer"),
    ("order.py", "Order", ":material/receipt:", "order", "hidden", "viewer"),
    ("analytics_overview.py", "Overview", ":material/dashboard:", "analytics", "Analytics", "viewer"),
    ("analytics_sales.py", "Sales", ":material/point_of_sale:", "sales-analytics", "Analytics", "viewer"),
    ("analytics_customers.py", "Customers", ":material/diversity_3:", "customer-analytics", "Analytics", "viewer"),
    ("analytics_basket.py", "Baskets", ":material/shopping_basket:", "baskets", "Analytics", "viewer"),
    ("analytics_pipeline.py", "Pipeline", ":material/filter_alt:", "pipeline-analytics", "Analytics", "viewer"),
    ("forecast.py", "Forecast", ":material/trending_up:", "forecast", "Analytics", "viewer"),
    ("analytics_correlations.py", "Correlations", ":material/scatter_plot:", "correlations", "Analytics", "viewer"),
    ("service_analytics.py", "Service", ":material/insights:", "service-analytics", "Analytics", "viewer"),
    ("settings.py", "Settings", ":material/settings:", "settings", "Settings", "viewer"),
    # The customer portal: what a contact invited to it sees (role "portal"), and nothing else.
    ("portal_home.py", "My requests", ":material/support:", "support", None, "portal"),
    ("portal_new.py", "New request", ":material/add_comment:", "new-request", None, "portal"),
    ("portal_ticket.py", "Request", ":material/confirmation_number:", "request", "hidden", "portal"),
    ("knowledge.py", "Help center", ":material/menu_book:", "knowledge", None, "portal"),
    ("portal_profile.py", "My details", ":material/badge:", "my-details", None, "portal"),
]
SECTIONS = ["Sales", "Service", "Marketing", "Analytics", "Settings"]
# Which page a deep link opens (?customer=<id> …), for the team and for portal users.
RECORD_PAGES = {"team": {"customer": "customer", "deal": "deal", "ticket": "ticket", "order": "order",
                         "campaign": "campaign"},
                "portal": {"ticket": "request"}}


def page(file: str, title: str, icon: str, url_path: str, hidden: bool = False, home: str = "home.py") -> st.Page:
    return st.Page(VIEWS_DIR / file, title=title, icon=icon, url_path=url_path, default=file == home,
                   visibility="hidden" if hidden else "visible")


# Pages anyone may open from an email, without signing in: ?unsubscribe=<token>, ?click=<token>.
PUBLIC_PAGES = {"unsubscribe": "unsubscribe.py", "click": "email_click.py"}
ALL_PAGES = {spec[3]: spec for spec in PAGES}.values()  # the help center is the knowledge page
public = next((file for param, file in PUBLIC_PAGES.items() if st.query_params.get(param)), None)
if public:
    st.navigation([page(*spec[:4], hidden=True) for spec in ALL_PAGES], position="hidden")
    runpy.run_path(str(VIEWS_DIR / public), run_name="__main__")
    st.stop()

user = session.current_user(rt)
if user is None:
    st.navigation([page(*spec[:4], hidden=True) for spec in ALL_PAGES], position="hidden")
    runpy.run_path(str(VIEWS_DIR / "sign_in.py"), run_name="__main__")
    session.flush_cookie()
    st.stop()

workspaces = session.memberships(rt, user)
current = session.active_workspace(workspaces)
role = current.role if current else None
audience = "portal" if role == "portal" else "team"
home = "portal_home.py" if audience == "portal" else "home.py"


def task_title(title: str) -> str:
    """'My tasks (3)' when three of the user's tasks are overdue."""
    overdue = overdue_count(rt.db, user.claims, current.workspace_id)
    return f"{title} ({overdue})" if overdue else title


nav: dict[str, list[st.Page]] = {"": []}
by_url: dict[str, st.Page] = {}
for file, title, icon, url_path, section, min_role in PAGES:
    if current is None and file != "home.py":
        continue  # without a workspace there is only Home, which offers to create one
    if (min_role == "portal") != (audience == "portal"):
        continue
    if current is not None and audience == "team" and rank(role) < rank(min_role):
        continue
    if file == "tasks.py":
        title = task_title(title)
    by_url[url_path] = page(file, title, icon, url_path, hidden=section == "hidden", home=home)
    nav.setdefault("" if section == "hidden" else section or "", []).append(by_url[url_path])
ordered = {"": nav[""], **{s: nav[s] for s in SECTIONS if nav.get(s)}}
selected = st.navigation(ordered, expanded=True)  # every section in sight, Marketing and Analytics too
# A deep link ?customer=<id> (or ?deal=<id>, ?ticket=<id>, ?order=<id>) opens that record's page, whichever page the URL named.
for param, record_page in RECORD_PAGES[audience].items():
    if param in st.query_params and selected.url_path != record_page and record_page in by_url:
        st.switch_page(by_url[record_page], query_params=st.query_params.to_dict())

with st.sidebar:
    if len(workspaces) > 1:
        ids = [w.workspace_id for w in workspaces]
        names = {w.workspace_id: w.name + (" (customer portal)" if w.role == "portal" else "") for w in workspaces}
        choice = st.selectbox(
            "Workspace", ids, index=ids.index(current.workspace_id), format_func=names.get, key="workspace_picker"
        )
        if choice != current.workspace_id:
            st.session_state.workspace_id = choice
            st.rerun()
    elif current:
        st.caption(md_escape(current.name))
    st.caption(f"Signed in as {md_escape(user.email)}" + (f" · {role}" if role else ""), help=ROLE_HELP.get(role or ""))
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        session.forget(rt, "You are signed out.")
        st.rerun()

session.flush_cookie()
selected.run()
