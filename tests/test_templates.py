"""Email templates: merge fields, escaping (values are data, never code), the sandbox, validation
with line numbers, the unsubscribe footer, storage with conflicts and roles, preview per contact,
and the test send (one queued outbox row to oneself)."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from lib import templates
from lib.errors import ConflictError, FormErrors, UserError

URL = "https://crm.example.com/?unsubscribe=abc"
HOSTILE = {"first_name": "<script>alert(1)</script>", "last_name": "{{ 7*7 }}", "email": "x@example.com",
           "company": "Smith & Sons"}


def test_merge_fields_fill_subject_text_and_html():
    email = templates.render(
        "Hello {{ contact.first_name }}", "Dear {{ contact.full_name }} of {{ contact.company }},\n"
        "news from {{ workspace.name }}: https://shop.example.com/spring\nLeave: {{ unsubscribe_url }}",
        {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "company": "Engines"},
        "Harbour & Co", URL)
    assert email.subject == "Hello Ada"
    assert email.text == ("Dear Ada Lovelace of Engines,\nnews from Harbour & Co: https://shop.example.com/spring\n"
                          f"Leave: {URL}")
    assert "Harbour &amp; Co" in email.html and "<br>" in email.html
    assert '<a href="https://shop.example.com/spring">' in email.html
    assert f'<a href="{URL.replace("&", "&amp;")}">' in email.html
    assert "You receive this email" not in email.text  # the body placed the link itself


def test_values_are_escaped_and_never_evaluated():
    email = templates.render("Hi {{ contact.first_name }} {{ contact.last_name }}",
                             "Hi {{ contact.first_name }} {{ contact.last_name }} at {{ contact.company }}",
                             HOSTILE, "WS", URL)
    assert "{{ 7*7 }}" in email.text and "49" not in email.text and "49" not in email.subject
    assert "<script>" not in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "Smith &amp; Sons" in email.html and "{{ 7*7 }}" in email.html
    assert email.text.startswith("Hi <script>alert(1)</script> {{ 7*7 }}")  # the text part is plain text


def test_template_text_is_escaped_in_html_too():
    email = templates.render("S", "1 < 2 & <b>not bold</b>\n{{ unsubscribe_url }}", {}, "WS", URL)
    assert "1 &lt; 2 &amp; &lt;b&gt;not bold&lt;/b&gt;<br>" in email.html


def test_subject_is_one_line():
    email = templates.render("Hi\r\n{{ contact.first_name }}", "x", {"first_name": "A\nBcc: evil@example.com"},
                             "WS", URL)
    assert "\n" not in email.subject and "\r" not in email.subject


@pytest.mark.parametrize("body", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ contact.__class__ }}",
    "{{ range.__globals__ }}",
])
def test_sandbox_blocks_python_internals(body):
    with pytest.raises(FormErrors) as caught:
        templates.validate("Subject", body)
    assert "cannot be rendered" in caught.value.errors["body"] or "Unknown" in caught.value.errors["body"]
    with pytest.raises((SecurityError, Exception)):
        templates.render("S", body, {}, "WS", URL)


def test_resource_limits():
    for body in ("{% for i in range(100000) %}x{% endfor %}", "{{ 'x' * 10000000 }}", "{{ 9 ** 999999 }}"):
        with pytest.raises(FormErrors):
            templates.validate("S", body)


def test_unknown_fields_and_syntax_errors_are_reported_with_lines():
    with pytest.raises(FormErrors) as caught:
        templates.validate("Hi {{ contact.nickname }}", "Hello\n\n{{ customer.name }}")
    assert "contact\\.nickname" in caught.value.errors["subject"]
    assert "customer" in caught.value.errors["body"] and "contact\\.first\\_name" in caught.value.errors["body"]
    with pytest.raises(FormErrors) as caught:
        templates.validate("Hi", "line one\nline two\n{% if contact.first_name %}no end")
    assert caught.value.errors["body"].startswith("Line 3")
    assert "is not closed\\: add \\{% endif %\\}" in caught.value.errors["body"]  # plain words, not Jinja's
    templates.validate("Hi {{ contact.first_name | upper }}",
                       "{% if contact.company %}At {{ contact.company }}{% else %}Hello{% endif %}")
    with pytest.raises(FormErrors) as caught:  # the worker signs the link in the body only
        templates.validate("News {{ unsubscribe_url }}", "Hello")
    assert set(caught.value.errors) == {"subject"} and "goes in the body" in caught.value.errors["subject"]


def test_footer_carries_the_unsubscribe_link_when_the_body_lacks_it():
    email = templates.render("S", "Hello {{ contact.first_name }}", {"first_name": "Bo"}, "Harbour", URL)
    assert email.text.endswith(f"Unsubscribe: {URL}\n")
    assert f'<a href="{URL.replace("&", "&amp;")}">Unsubscribe</a>' in email.html


# -- storage, preview, test send ------------------------------------------------------------------


@pytest.fixture
def shop(factory, db):
    owner, ws = factory.owner("Template Shop")
    with db.as_user(owner.claims) as conn:
        contact = str(conn.execute(
            "insert into public.contacts (workspace_id, first_name, last_name, email, consent)"
            " values (%s, '<b>Zoë</b>', '{{ 7*7 }}', 'zoe@example.com', true) returning id", [ws]).fetchone()["id"])
    return owner, ws, contact


def test_create_update_conflict_and_delete(db, factory, shop):
    owner, ws, _ = shop
    data = {"name": "Welcome", "subject": "Hi {{ contact.first_name }}", "body": "Welcome to {{ workspace.name }}"}
    template_id = templates.create(db, owner.claims, ws, data)
    with pytest.raises(FormErrors) as caught:
        templates.create(db, owner.claims, ws, {"name": "", "subject": "x", "body": "{{ nope }}"})
    assert set(caught.value.errors) == {"name", "body"}
    version = templates.update(db, owner.claims, ws, template_id, {**data, "subject": "Hello"}, 1)
    assert version == 2
    with pytest.raises(ConflictError) as conflict:
        templates.update(db, owner.claims, ws, template_id, {**data, "subject": "Stale"}, 1)
    assert conflict.value.current["subject"] == "Hello"
    assert [t["name"] for t in templates.list_templates(db, owner.claims, ws)] == ["Welcome"]
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError):
        templates.create(db, viewer.claims, ws, data)
    agent = factory.member(owner, ws, "agent")
    with pytest.raises(UserError):
        templates.delete(db, agent.claims, ws, template_id)
    templates.delete(db, owner.claims, ws, template_id)
    assert templates.get(db, owner.claims, ws, template_id) is None


def test_preview_uses_the_contact_and_escapes(db, shop):
    owner, ws, contact = shop
    email = templates.preview(db, owner.claims, ws, "Hi {{ contact.first_name }}", "Dear {{ contact.full_name }}",
                              contact, "https://crm.example.com")
    assert email.subject == "Hi <b>Zoë</b>"
    assert "&lt;b&gt;Zoë&lt;/b&gt; {{ 7*7 }}" in email.html and "49" not in email.html
    sample = templates.preview(db, owner.claims, ws, "Hi {{ contact.first_name }}", "x", None, "https://crm.example.com")
    assert sample.subject == "Hi Ada"
    with pytest.raises(FormErrors):
        templates.preview(db, owner.claims, ws, "Hi", "{{ ''.__class__ }}", contact, "https://crm.example.com")
    assert [c["id"] for c in templates.contact_matches(db, owner.claims, ws, "zoe")] == [contact]


def test_test_send_queues_one_email_to_oneself(db, shop, admin_conn):
    owner, ws, contact = shop
    outbox_id = templates.test_send(db, owner.claims, ws, "Hi {{ contact.first_name }}", "Body {{ workspace.name }}")
    rows = admin_conn.execute("select * from public.outbox where workspace_id = %s", [ws]).fetchall()
    assert len(rows) == 1 and str(rows[0]["id"]) == outbox_id
    row = rows[0]
    assert row["to_email"] == owner.email and row["status"] == "queued" and row["contact_id"] is None
    assert row["subject"] == "[Test] Hi Olive" and "Body Template Shop" in row["body_text"]
    assert row["message_id"].startswith("<") and row["message_id"].endswith(">")
    templates.test_send(db, owner.claims, ws, "Hi {{ contact.first_name }}", "x", contact)
    assert admin_conn.execute("select count(*) as n from public.outbox where workspace_id = %s and subject ="
                              " '[Test] Hi <b>Zoë</b>'", [ws]).fetchone()["n"] == 1


# -- the page -------------------------------------------------------------------------------------


def test_building_a_template_on_the_page(db, shop, admin_conn):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws, contact = shop
    at = open_page(sign_in(fresh_app(), owner.email), "views/email_templates.py")
    assert not at.exception
    assert "No email templates yet" in texts(at)
    at.text_input(key="tpl___new___name").input("Spring news")
    at.text_input(key="tpl___new___subject").input("Hi {{ contact.first_name }}")
    at.text_area(key="tpl___new___body").input("Hello {{ contact.nickname }}\n{% if %}")
    at = at.button(key="tpl_save").click().run()
    assert not at.exception and "Line 2" in " ".join(e.value for e in at.error)
    assert templates.list_templates(db, owner.claims, ws) == []
    at.text_area(key="tpl___new___body").input("Hello {{ contact.first_name }},\nspring is here.")
    at = at.button(key="tpl_save").click().run()
    assert not at.exception
    saved = templates.list_templates(db, owner.claims, ws)
    assert [t["name"] for t in saved] == ["Spring news"]
    assert at.selectbox(key="tpl_pick").value == saved[0]["id"]
    # Preview as the contact: her name is escaped in the HTML part, the footer carries the link.
    at.selectbox(key="tpl_preview_contact").set_value(contact)
    at = at.run()
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in " ".join(h.proto.body for h in at.get("html"))
    at = at.button(key="tpl_test_send").click().run()
    assert not at.exception
    sent = admin_conn.execute("select to_email, subject, status from public.outbox where workspace_id = %s",
                              [ws]).fetchall()
    assert sent == [{"to_email": owner.email, "subject": "[Test] Hi <b>Zoë</b>", "status": "queued"}]


def test_viewer_sees_templates_read_only(db, factory, shop):
    from tests.test_app_flows import fresh_app, sign_in, texts
    from tests.test_customer_flows import open_page

    owner, ws, _ = shop
    viewer = factory.member(owner, ws, "viewer")
    at = open_page(sign_in(fresh_app(), viewer.email), "views/email_templates.py")
    assert not at.exception and "Agents and above write them here" in texts(at)
    templates.create(db, owner.claims, ws, {"name": "Hello", "subject": "Hi", "body": "Hello"})
    at = open_page(at, "views/email_templates.py")
    assert not at.exception
    assert not [b for b in at.button if b.key in ("tpl_save", "tpl_test_send", "tpl_new")]
