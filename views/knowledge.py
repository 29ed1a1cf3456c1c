"""Knowledge base: search, categories, the article list, an article (deep link ?article=<id>) and,
for agents and above, the editor (title, category, markdown body, publish toggle).

Article bodies go through st.markdown, which does not render raw HTML; titles and names are
md_escape'd wherever they are shown as markdown.
"""

from __future__ import annotations

import streamlit as st

from lib import knowledge
from lib.text import md_escape
from lib.workspaces import can_manage_members, can_write
from ui import session
from ui.forms import FieldSlots, attempt

rt, user, _, current = session.page_context()
db, claims, ws = rt.db, user.claims, current.workspace_id
writer = can_write(current.role)
admin = can_manage_members(current.role)
EDIT_KEYS = ("kb_edit_title", "kb_edit_category", "kb_edit_body", "kb_edit_published")

if flash := st.session_state.pop("flash", None):
    st.toast(flash, icon=":material/check_circle:")


def open_article(article_id: str | None) -> None:
    if article_id:
        st.query_params["article"] = article_id
    else:
        st.query_params.pop("article", None)
    st.rerun()


def start_editing(article: dict | None) -> None:
    """Open the editor on `article` (None: a new one), its fields filled from it."""
    article = article or {}
    st.session_state.kb_editing = {"id": article.get("id") and str(article["id"]), "version": article.get("version")}
    st.session_state.kb_edit_title = article.get("title", "")
    st.session_state.kb_edit_category = str(article["category_id"]) if article.get("category_id") else ""
    st.session_state.kb_edit_body = article.get("body", "")
    st.session_state.kb_edit_published = article.get("status") == "published"


def stop_editing() -> None:
    for key in ("kb_editing", *EDIT_KEYS):
        st.session_state.pop(key, None)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def status_badge(article: dict) -> str:
    return ":orange-badge[Draft]" if article["status"] == "draft" else ""


def editor(categories: list[dict]) -> None:
    editing = st.session_state.kb_editing
    st.subheader("Edit article" if editing["id"] else "New article")
    slots = FieldSlots()
    st.text_input("Title", key="kb_edit_title", max_chars=200)
    slots.under("title")
    names = {str(c["id"]): c["name"] for c in categories}
    st.selectbox("Category", ["", *names], key="kb_edit_category", format_func=lambda c: names.get(c, "No category"))
    write, preview = st.tabs(["Write", "Preview"])
    with write:
        st.text_area("Body (markdown)", key="kb_edit_body", height=300,
                     help="Markdown: **bold**, _italic_, lists, links, `code`. HTML is shown as text, not rendered.")
        slots.under("body")
    with preview:
        st.markdown(st.session_state.kb_edit_body or "_Nothing written yet._")
    st.toggle("Published", key="kb_edit_published", help="Drafts are seen by agents and above only.")
    slots.under("status")
    save_col, cancel_col = st.columns([1, 6])
    if cancel_col.button("Cancel", key="kb_edit_cancel"):
        stop_editing()
        st.rerun()
    if save_col.button("Save", key="kb_edit_save", type="primary"):
        fields = {"title": st.session_state.kb_edit_title, "body": st.session_state.kb_edit_body,
                  "category_id": st.session_state.kb_edit_category or None,
                  "status": "published" if st.session_state.kb_edit_published else "draft"}
        if editing["id"]:
            saved = attempt(lambda: knowledge.update(db, claims, ws, editing["id"], editing["version"], **fields)
                            and editing["id"], slots)
        else:
            saved = attempt(lambda: knowledge.create(db, claims, ws, fields["title"], fields["body"],
                                                     category_id=fields["category_id"], status=fields["status"]),
                            slots)
        if saved:
            stop_editing()
            st.session_state.flash = "Article published." if fields["status"] == "published" else "Draft saved."
            open_article(saved)


def article_page(article_id: str) -> None:
    # One view per article per browser session, not one per rerun.
    viewed = st.session_state.setdefault("kb_viewed", set())
    article = knowledge.get(db, claims, ws, article_id, count_view=article_id not in viewed)
    viewed.add(article_id)
    if st.button("All articles", key="kb_back", icon=":material/arrow_back:", type="tertiary"):
        open_article(None)
    if article is None:
        st.warning("This article does not exist, or is a draft you cannot see.", icon=":material/search_off:")
        return
    st.title(md_escape(article["title"]))
    details = [md_escape(article["category_name"] or "No category"),
               f"published {article['published_at']:%Y-%m-%d}" if article["published_at"] else "draft",
               plural(article["view_count"], "view")]
    if article["author_name"]:
        details.append(f"by {md_escape(article['author_name'])}")
    st.caption(" · ".join(details))
    if writer:
        edit_col, publish_col, delete_col = st.columns([1, 1, 5])
        if edit_col.button("Edit", key="kb_edit", icon=":material/edit:"):
            start_editing(article)
            st.rerun()
        publishing = article["status"] == "draft"
        if publish_col.button("Publish" if publishing else "Unpublish", key="kb_publish"):
            change = knowledge.publish if publishing else knowledge.unpublish
            if attempt(lambda: change(db, claims, ws, article_id, article["version"])):
                st.session_state.flash = "Article published." if publishing else "Article moved back to drafts."
                st.rerun()
        if admin and delete_col.button("Delete", key="kb_delete", icon=":material/delete:"):
            if attempt(lambda: knowledge.delete(db, claims, ws, article_id) or True):
                st.session_state.flash = "Article deleted."
                open_article(None)
    st.divider()
    st.markdown(article["body"] or "_This article is empty._")


def article_list(categories: list[dict]) -> None:
    query = st.text_input("Search", key="kb_search", placeholder="Search articles: words, \"a phrase\", -exclude",
                          icon=":material/search:")
    names = {str(c["id"]): c["name"] for c in categories}
    category = st.pills("Category", list(names), key="kb_category", format_func=names.get) if names else None
    if query.strip():
        rows = knowledge.search(db, claims, ws, query)
        if category:
            rows = [r for r in rows if str(r["category_id"]) == category]
        st.caption(f"{plural(len(rows), 'article')} match{'es' if len(rows) == 1 else ''} {md_escape(query.strip())}.")
    else:
        rows = knowledge.articles(db, claims, ws, category)
    if not rows:
        if query.strip() or category:
            st.info("No article matches. Try other words.", icon=":material/search_off:")
        else:
            st.info("No articles yet." + (" Write the first one with **New article**." if writer else ""),
                    icon=":material/menu_book:")
        return
    for row in rows:
        with st.container(border=True):
            if st.button(md_escape(row["title"]), key=f"kb_open_{row['id']}", type="tertiary"):
                open_article(str(row["id"]))
            badge = status_badge(row)
            where = md_escape(row["category_name"] or "No category")
            st.caption(f"{badge} {where} · {plural(row['view_count'], 'view')}".strip())
            excerpt = " ".join(row["excerpt"].split())
            if excerpt:
                st.text(excerpt[:200] + ("…" if len(excerpt) > 200 else ""))


def category_admin() -> None:
    with st.popover("New category", icon=":material/create_new_folder:"):
        slots = FieldSlots()
        st.text_input("Name", key="kb_cat_name", max_chars=100)
        slots.under("name")
        if st.button("Add", key="kb_cat_add"):
            if attempt(lambda: knowledge.create_category(db, claims, ws, st.session_state.kb_cat_name), slots):
                st.session_state.flash = "Category added."
                st.session_state.pop("kb_cat_name", None)
                st.rerun()


categories = knowledge.categories(db, claims, ws)
if writer and "kb_editing" in st.session_state:
    editor(categories)
    st.stop()

article_id = st.query_params.get("article")
if article_id:
    article_page(article_id)
    st.stop()

title_col, new_col, cat_col = st.columns([6, 1.2, 1.5], vertical_alignment="bottom")
title_col.title("Help center" if current.role == "portal" else "Knowledge base")
if writer:
    if new_col.button("New article", key="kb_new", icon=":material/add:", type="primary"):
        start_editing(None)
        st.rerun()
    with cat_col:
        category_admin()
article_list(categories)
