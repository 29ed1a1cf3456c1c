"""Knowledge base on the real database: ranked, accent-folded search; drafts only for agents;
suggestions for a ticket's text; view counts that neither bump the version nor fill the audit
log; conflicts; roles; and the page in AppTest (write, publish, search)."""

from __future__ import annotations

import time

import pytest

from lib import knowledge
from lib.errors import ConflictError, FormErrors, UserError
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_customer_flows import open_page


@pytest.fixture
def kb(db, factory):
    owner, ws = factory.owner("Helpful Bikes")
    return owner, ws


def titles(rows: list[dict]) -> list[str]:
    return [row["title"] for row in rows]


def test_title_matches_rank_above_body_matches(db, kb):
    owner, ws = kb
    knowledge.create(db, owner.claims, ws, "Shipping times", "Parcels leave within two days. Brakes are not shipped.",
                     status="published")
    knowledge.create(db, owner.claims, ws, "Adjusting brakes", "Turn the barrel adjuster a quarter turn.",
                     status="published")
    knowledge.create(db, owner.claims, ws, "Tyre pressure", "Pump to the pressure on the sidewall.", status="published")
    assert titles(knowledge.search(db, owner.claims, ws, "brakes")) == ["Adjusting brakes", "Shipping times"]
    assert titles(knowledge.search(db, owner.claims, ws, "pressure")) == ["Tyre pressure"]
    assert knowledge.search(db, owner.claims, ws, "   ") == []
    assert knowledge.search(db, owner.claims, ws, "nothing-like-this") == []


def test_accents_and_case_are_folded(db, kb):
    owner, ws = kb
    knowledge.create(db, owner.claims, ws, "Réinitialiser le MOT DE PASSE", "Ouvrez les Paramètres.",
                     status="published")
    assert titles(knowledge.search(db, owner.claims, ws, "reinitialiser")) == ["Réinitialiser le MOT DE PASSE"]
    assert titles(knowledge.search(db, owner.claims, ws, "PARAMETRES")) == ["Réinitialiser le MOT DE PASSE"]
    assert titles(knowledge.search(db, owner.claims, ws, '"mot de passe"')) == ["Réinitialiser le MOT DE PASSE"]
    assert knowledge.search(db, owner.claims, ws, "passe -paramètres") == []  # web-search syntax: "-" excludes


def test_drafts_hidden_from_viewers_and_suggestions(db, kb, factory):
    owner, ws = kb
    viewer = factory.member(owner, ws, "viewer")
    agent = factory.member(owner, ws, "agent")
    draft = knowledge.create(db, agent.claims, ws, "Refund policy draft", "Refunds within 30 days.")
    live = knowledge.create(db, agent.claims, ws, "Refund policy", "Refunds within 14 days.", status="published")
    assert set(titles(knowledge.search(db, agent.claims, ws, "refund"))) == {"Refund policy", "Refund policy draft"}
    assert titles(knowledge.search(db, viewer.claims, ws, "refund")) == ["Refund policy"]
    assert titles(knowledge.articles(db, viewer.claims, ws)) == ["Refund policy"]
    assert knowledge.get(db, viewer.claims, ws, draft) is None
    assert knowledge.count_view(db, viewer.claims, draft) is None  # cannot count what one cannot read
    assert [str(r["id"]) for r in knowledge.suggest_for_ticket(db, agent.claims, ws, "Refund please")] == [live]
    # Viewers cannot write; agents cannot delete; admins can.
    with pytest.raises(UserError, match="agents and above"):
        knowledge.create(db, viewer.claims, ws, "Mine", "x")
    with pytest.raises(UserError, match="Only admins"):
        knowledge.delete(db, agent.claims, ws, live)
    knowledge.delete(db, owner.claims, ws, live)
    assert knowledge.search(db, viewer.claims, ws, "refund") == []


def test_suggestions_for_a_ticket(db, kb):
    owner, ws = kb
    knowledge.create(db, owner.claims, ws, "Fixing a flat tyre", "Patch the inner tube, then pump it up.",
                     status="published")
    knowledge.create(db, owner.claims, ws, "Chain maintenance", "Clean and oil the chain every month.",
                     status="published")
    knowledge.create(db, owner.claims, ws, "Opening hours", "We are open from 9 to 5 on weekdays.", status="published")
    suggested = knowledge.suggest_for_ticket(db, owner.claims, ws, "My tyre is flat",
                                             "The inner tube burst on the way to work. What's the fix?")
    assert titles(suggested)[0] == "Fixing a flat tyre"
    assert "Opening hours" not in titles(suggested)  # "the", "to", "on" are no reason to suggest
    assert len(knowledge.suggest_for_ticket(db, owner.claims, ws, "tyre chain open hours", limit=2)) == 2
    assert knowledge.suggest_for_ticket(db, owner.claims, ws, "", None) == []
    assert knowledge.suggest_for_ticket(db, owner.claims, ws, "it's a 'quoted' \\ | & ! (odd) text:*") == []


def test_view_count_does_not_bump_version_or_audit(db, kb, admin_conn, factory):
    owner, ws = kb
    viewer = factory.member(owner, ws, "viewer")
    article = knowledge.create(db, owner.claims, ws, "Warranty", "Two years.", status="published")
    audit_before = admin_conn.execute("select count(*) as n from public.audit_log where row_id = %s",
                                      [article]).fetchone()["n"]
    shown = knowledge.get(db, viewer.claims, ws, article, count_view=True)
    assert shown["view_count"] == 1 and shown["version"] == 1
    assert knowledge.count_view(db, owner.claims, article) == 2
    after = knowledge.get(db, owner.claims, ws, article)
    assert after["version"] == 1 and after["updated_at"] == shown["updated_at"]
    assert admin_conn.execute("select count(*) as n from public.audit_log where row_id = %s",
                              [article]).fetchone()["n"] == audit_before
    # Nobody sets the count directly (no column grant), not even the owner.
    with pytest.raises(Exception, match="permission denied"):
        with db.as_user(owner.claims) as conn:
            conn.execute("update public.kb_articles set view_count = 1000 where id = %s", [article])
    # An edit still bumps the version and is audited.
    assert knowledge.update(db, owner.claims, ws, article, 1, title="Warranty", body="Three years.",
                            category_id=None, status="published") == 2
    assert admin_conn.execute("select count(*) as n from public.audit_log where row_id = %s",
                              [article]).fetchone()["n"] == audit_before + 1


def test_outsiders_cannot_count_or_find(db, kb, factory):
    owner, ws = kb
    article = knowledge.create(db, owner.claims, ws, "Secret recipe", "Shh.", status="published")
    stranger, other_ws = factory.owner("Elsewhere")
    assert knowledge.count_view(db, stranger.claims, article) is None
    assert knowledge.search(db, stranger.claims, ws, "secret") == []
    assert knowledge.suggest_for_ticket(db, stranger.claims, ws, "secret recipe") == []
    assert knowledge.get(db, owner.claims, ws, article)["view_count"] == 0


def test_publish_conflict_and_field_errors(db, kb):
    owner, ws = kb
    with pytest.raises(FormErrors) as caught:
        knowledge.create(db, owner.claims, ws, "  ", "x" * 100_001)
    assert set(caught.value.errors) == {"title", "body"}
    category = knowledge.create_category(db, owner.claims, ws, "Bikes")
    with pytest.raises(FormErrors, match="already exists"):
        knowledge.create_category(db, owner.claims, ws, "bikes")
    article = knowledge.create(db, owner.claims, ws, "Sizes", "S, M, L", category_id=category)
    assert knowledge.get(db, owner.claims, ws, article)["published_at"] is None
    version = knowledge.publish(db, owner.claims, ws, article, 1)
    stored = knowledge.get(db, owner.claims, ws, article)
    assert stored["status"] == "published" and stored["published_at"] and stored["category_name"] == "Bikes"
    with pytest.raises(ConflictError):
        knowledge.unpublish(db, owner.claims, ws, article, 1)
    knowledge.unpublish(db, owner.claims, ws, article, version)
    assert knowledge.get(db, owner.claims, ws, article)["published_at"] is None
    assert [c["articles"] for c in knowledge.categories(db, owner.claims, ws)] == [1]
    assert titles(knowledge.articles(db, owner.claims, ws, category)) == ["Sizes"]


def test_category_of_another_workspace_is_refused(db, kb, factory):
    owner, ws = kb
    other, other_ws = factory.owner("Other KB")
    foreign = knowledge.create_category(db, other.claims, other_ws, "Theirs")
    with pytest.raises(UserError):
        knowledge.create(db, owner.claims, ws, "Mine", "x", category_id=foreign)


def test_search_uses_the_gin_index_at_scale(db, kb, factory, admin_conn):
    """20,000 articles in one workspace: kb_match's query runs on the GIN index, and a viewer's
    search (through RLS) stays fast."""
    owner, ws = kb
    viewer = factory.member(owner, ws, "viewer")
    admin_conn.execute("set session_replication_role = replica")  # bulk arrange: no audit rows
    admin_conn.execute(
        "insert into public.kb_articles (workspace_id, title, body, status)"
        " select %s, 'Article ' || n, 'Common words about bikes and parts number ' || n"
        "   || case when n %% 1000 = 0 then ' derailleur' else '' end, 'published'"
        " from generate_series(1, 20000) n", [ws])
    admin_conn.execute("set session_replication_role = origin")
    admin_conn.execute("vacuum analyze public.kb_articles")  # as autovacuum would: flushes the GIN pending list
    plan = " ".join(r["QUERY PLAN"] for r in admin_conn.execute(
        "explain select id from public.kb_articles a where a.workspace_id = %s"
        " and a.search @@ websearch_to_tsquery('simple', private.fold('Dérailleur'))", [ws]).fetchall())
    assert "kb_articles_search_idx" in plan
    started = time.perf_counter()
    found = knowledge.search(db, viewer.claims, ws, "Dérailleur", limit=10)
    elapsed = time.perf_counter() - started
    assert len(found) == 10
    assert elapsed < 0.5, f"search took {elapsed * 1000:.0f} ms"


# -- the page --------------------------------------------------------------------------------


def test_page_writes_publishes_and_finds_an_article(db, kb):
    owner, ws = kb
    at = sign_in(fresh_app(), owner.email)
    at = open_page(at, "views/knowledge.py")
    assert not at.exception
    assert "No articles yet" in texts(at)
    at.button(key="kb_new").click().run()
    at.text_input(key="kb_edit_title").input("")
    at.button(key="kb_edit_save").click().run()
    assert "Enter a title" in " ".join(e.value for e in at.error)
    at.text_input(key="kb_edit_title").input("Pumping <b>tubeless</b> tyres")
    at.text_area(key="kb_edit_body").input("Use a **booster** pump.\n\n<script>alert(1)</script>")
    at.toggle(key="kb_edit_published").set_value(True)
    at.button(key="kb_edit_save").click().run()
    assert not at.exception, at.exception
    [row] = knowledge.search(db, owner.claims, ws, "tubeless")
    assert row["status"] == "published"
    # The article view: title escaped, body as markdown (raw HTML is not rendered), one view counted.
    assert at.query_params["article"] == str(row["id"])
    shown = texts(at)
    assert "Pumping \\<b\\>tubeless\\</b\\> tyres" in shown and "1 view" in shown
    assert "Article published." in [t.value for t in at.toast]
    at = open_page(at, "views/knowledge.py")
    at.text_input(key="kb_search").input("TUBELESS").run()
    assert not at.exception
    assert "1 article matches TUBELESS" in texts(at)
    assert any(t.value.startswith("Use a **booster** pump.") for t in at.text)  # excerpt as plain text
    at.button(key=f"kb_open_{row['id']}").click().run()
    assert not at.exception
    assert "1 view" in texts(at)  # once per browser session
    [body] = [m for m in at.markdown if "booster" in m.value]
    assert not body.allow_html


def test_page_for_a_viewer_shows_published_only_and_no_editor(db, kb, factory):
    owner, ws = kb
    viewer = factory.member(owner, ws, "viewer")
    knowledge.create(db, owner.claims, ws, "Internal draft", "Not yet.")
    knowledge.create(db, owner.claims, ws, "Opening hours", "9 to 5.", status="published")
    at = open_page(sign_in(fresh_app(), viewer.email), "views/knowledge.py")
    assert not at.exception
    labels = [b.label for b in at.button]
    assert "Opening hours" in labels and "Internal draft" not in labels and "New article" not in labels
