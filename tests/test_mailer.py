"""Email delivery through a REAL local SMTP server (aiosmtpd on a free port): what it received,
retries, failures, the rate limit, crashed and concurrent workers, TLS and credentials; signed
unsubscribe and click links, and the public pages that follow them."""

from __future__ import annotations

import email
import email.policy
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from streamlit.testing.v1 import AppTest

from lib import activities, email_clicks, mailer, templates, unsubscribe
from lib.config import ConfigError, load_settings
from lib.customers import CONTACT
from lib.errors import UserError
from lib.mailer import SmtpConfig, Worker

VIEWS = Path(__file__).resolve().parent.parent / "views"
PUBLIC = "http://crm.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The server's handler: keeps what it accepted; `refuse(n)` may answer the n-th DATA with an error."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.data_calls = 0
        self.refuse = None
        self.refuse_rcpt: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n, self.data_calls = self.data_calls, self.data_calls + 1
        if self.refuse and (answer := self.refuse(n)):
            return answer
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


@pytest.fixture(scope="module")
def server():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def box(server) -> Mailbox:
    server.handler.__init__()
    return server.handler


class Shop:
    """A workspace with contacts who consented, an email campaign to them, and a way to queue
    outbox rows as the campaigns code does (as the signed-in owner)."""

    def __init__(self, db, factory, n_contacts: int = 5):
        self.db = db
        self.owner, self.ws = factory.owner("Harbour Bikes")
        with db.as_user(self.owner.claims) as conn:
            self.contacts = [str(r["id"]) for r in conn.execute(
                "insert into public.contacts (workspace_id, first_name, email, consent)"
                " select %s, 'Reader ' || i, 'reader' || i || '@' || %s || '.test', true"
                "   from generate_series(1, %s) i returning id", [self.ws, self.ws[:8], n_contacts]).fetchall()]
            self.campaign = str(conn.execute(
                "insert into public.campaigns (workspace_id, name, status) values (%s, 'Spring sale', 'running')"
                " returning id", [self.ws]).fetchone()["id"])
            conn.execute("insert into public.campaign_members (workspace_id, campaign_id, contact_id)"
                         " select %s, %s, unnest(%s::uuid[])", [self.ws, self.campaign, self.contacts])

    def queue(self, contacts: list[str] | None = None, copies: int = 1, html: str | None = None) -> list[str]:
        contacts = self.contacts if contacts is None else contacts
        ids = []
        with self.db.as_user(self.owner.claims) as conn:
            for _ in range(copies):
                for contact in contacts:
                    email_ = conn.execute("select email from public.contacts where id = %s", [contact]).fetchone()
                    ids.append(str(conn.execute(
                        "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject,"
                        " body_text, body_html, message_id) values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
                        [self.ws, self.campaign, contact, email_["email"], "Spring is here",
                         "Hello! See https://shop.example/spring?x=1 for our offers.", html,
                         mailer.new_message_id(self.ws)]).fetchone()["id"]))
        return ids

    def worker(self, port: int, **options) -> Worker:
        return Worker(self.db, SmtpConfig("127.0.0.1", port), public_url=PUBLIC, workspace_id=self.ws,
                      mail_from="news@harbour.test", **options)

    def rows(self, admin_conn) -> list[dict]:
        return admin_conn.execute("select * from public.outbox where workspace_id = %s order by created_at, id",
                                  [self.ws]).fetchall()

    def members(self, admin_conn) -> dict[str, dict]:
        return {str(r["contact_id"]): r for r in admin_conn.execute(
            "select * from public.campaign_members where campaign_id = %s", [self.campaign]).fetchall()}


@pytest.fixture
def shop(db, factory) -> Shop:
    return Shop(db, factory)


def token_of(link: str, param: str) -> str:
    return unquote(parse_qs(urlsplit(link).query)[param][0])


def body(msg, kind: str = "plain") -> str:
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")  # as on the wire: CRLF


# --- sending ------------------------------------------------------------------------------------


def test_sends_each_row_once_with_its_message_id_and_unsubscribe_link(db, shop, server, box, admin_conn):
    ids = shop.queue(html='<html><body><p>Hi! <a href="https://shop.example/spring?a=1&amp;b=2">Offers</a></p>'
                          '</body></html>')
    result = shop.worker(server.port).run_once()
    assert (result.sent, result.failed, result.retried) == (5, 0, 0)
    rows = {str(r["id"]): r for r in shop.rows(admin_conn)}
    assert {r["status"] for r in rows.values()} == {"sent"} and all(r["sent_at"] for r in rows.values())
    assert sorted(box.ids()) == sorted(rows[i]["message_id"] for i in ids)
    for msg in box.messages:
        row = next(r for r in rows.values() if r["message_id"] == msg["Message-ID"])
        assert msg["To"] == row["to_email"] and msg["Subject"] == "Spring is here"
        assert msg["From"] == "Harbour Bikes <news@harbour.test>"
        link = msg["List-Unsubscribe"].strip("<>")
        assert link.startswith(PUBLIC + "/?unsubscribe=") and "List-Unsubscribe-Post" not in msg
        assert unsubscribe.verify(db, token_of(link, "unsubscribe")) == (shop.ws, str(row["contact_id"]))
        text, html = body(msg), body(msg, "html")
        assert link in text and link.replace("&", "&amp;") in html  # a footer in both parts
        assert "https://shop.example/spring" not in text and f"{PUBLIC}/?click=" in text  # links are tracked
        assert 'href="http://crm.test/?click=' in html and "shop.example" not in html
    members = shop.members(admin_conn)
    assert {m["status"] for m in members.values()} == {"sent"} and all(m["sent_at"] for m in members.values())
    # Nothing left: a second run sends nothing.
    assert shop.worker(server.port).run_once().sent == 0 and len(box.messages) == 5


def test_a_body_that_places_the_unsubscribe_link_gets_no_second_one(db, shop, server, box, admin_conn):
    with db.as_user(shop.owner.claims) as conn:
        conn.execute(
            "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, message_id)"
            " values (%s, %s, %s, 'reader1@x.test', 'Hi', %s, %s)",
            [shop.ws, shop.campaign, shop.contacts[0], f"Bye: {mailer.UNSUBSCRIBE_URL_MARK} and {PUBLIC}/?unsubscribe=x",
             mailer.new_message_id(shop.ws)])
    shop.worker(server.port).run_once()
    text = body(box.messages[0])
    assert text.count("?unsubscribe=") == 2 and "To stop receiving" not in text
    assert "%%unsubscribe_url%%" not in text and "http://crm.test/?unsubscribe=x" in text  # never click-tracked


def test_someone_elses_unsubscribe_text_does_not_replace_this_contacts_link(db, shop, server, box):
    """A body whose only "?unsubscribe=" comes from a merge value (or a template that shows the link
    only under a condition) still gets this contact's link; a contact cannot name themselves into
    the placeholder either."""
    email = templates.render("Hi", "Hello {{ contact.first_name }}"
                             "{% if contact.company %} Leave: {{ unsubscribe_url }}{% endif %}",
                             {"first_name": "x?unsubscribe=y %%unsubscribe_url%%", "company": None}, "Shop",
                             mailer.UNSUBSCRIBE_URL_MARK)
    assert mailer.UNSUBSCRIBE_URL_MARK not in email.text + email.html
    with db.as_user(shop.owner.claims) as conn:
        conn.execute(
            "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, body_html,"
            " message_id) values (%s, %s, %s, 'reader1@x.test', 'Hi', %s, %s, %s)",
            [shop.ws, shop.campaign, shop.contacts[0], email.text, email.html, mailer.new_message_id(shop.ws)])
    shop.worker(server.port).run_once()
    msg = box.messages[0]
    link = msg["List-Unsubscribe"].strip("<>")
    text, html = body(msg), body(msg, "html")
    assert f"To stop receiving these emails: {link}" in text and link.replace("&", "&amp;") in html
    assert text.count(link) == 1  # only in the footer, never where the contact's name was


def test_a_test_send_carries_a_test_link_and_no_second_footer(db, shop, server, box):
    templates.test_send(db, shop.owner.claims, shop.ws, "Hi", "Body without a link")
    shop.worker(server.port).run_once()
    msg = box.messages[0]
    text = body(msg)
    assert msg["Subject"] == "[Test] Hi" and "List-Unsubscribe" not in msg
    assert text.count("?unsubscribe=") == 1 and f"{PUBLIC}/?unsubscribe=test-send" in text


def test_non_ascii_text_long_lines_and_leading_dots_arrive_intact(db, shop, server, box):
    subject = "Frühling ist da — 20 % Rabatt auf Fahrräder " + "sehr " * 150
    text = "Grüße!\n.Punkt am Zeilenanfang\n" + "ß" * 300 + "\nEnde  \nSchluss\n"
    with db.as_user(shop.owner.claims) as conn:
        conn.execute(
            "insert into public.outbox (workspace_id, campaign_id, contact_id, to_email, subject, body_text, body_html,"
            " message_id) values (%s, %s, %s, 'reader1@x.test', %s, %s, %s, %s)",
            [shop.ws, shop.campaign, shop.contacts[0], subject.strip(), text, "<p>Grüße &amp; <b>mehr</b></p>",
             mailer.new_message_id(shop.ws)])
    worker = Worker(db, SmtpConfig("127.0.0.1", server.port), public_url=PUBLIC, workspace_id=shop.ws,
                    mail_from="Fahrräder Süd <news@harbour.test>")
    assert worker.run_once().sent == 1
    msg = box.messages[0]
    assert msg["Subject"] == subject.strip() and msg["From"] == "Fahrräder Süd <news@harbour.test>"
    assert body(msg).startswith(text.rstrip()) and "Ende  \n" in body(msg)  # trailing spaces kept
    assert body(msg, "html").startswith("<p>Grüße &amp; <b>mehr</b></p>")
    assert msg.defects == [] and all(not p.defects for p in msg.walk())


def test_retries_after_temporary_refusals_then_sends(shop, server, box, admin_conn):
    shop.queue()
    box.refuse = lambda n: "451 4.3.0 Try again later" if n < 2 else None
    result = shop.worker(server.port).run_once()
    assert (result.sent, result.retried) == (3, 2)
    waiting = [r for r in shop.rows(admin_conn) if r["status"] == "queued"]
    assert len(waiting) == 2 and all("451" in r["last_error"] and r["attempts"] == 1 for r in waiting)
    # The backoff (1 minute after the first attempt) holds them back…
    assert all(timedelta(seconds=50) < r["send_after"] - r["updated_at"] <= timedelta(minutes=1, seconds=5)
               for r in waiting)
    assert shop.worker(server.port).run_once().sent == 0
    # … until it has passed.
    admin_conn.execute("update public.outbox set send_after = now() where workspace_id = %s and status = 'queued'",
                       [shop.ws])
    assert shop.worker(server.port).run_once().sent == 2
    rows = shop.rows(admin_conn)
    assert {r["status"] for r in rows} == {"sent"} and sorted(r["attempts"] for r in rows) == [1, 1, 1, 2, 2]
    assert len(box.ids()) == len(set(box.ids())) == 5
    assert all(r["last_error"] is None for r in rows)


def test_gives_up_after_max_attempts_and_at_once_on_permanent_errors(shop, server, box, admin_conn):
    first, second = shop.contacts[:2]
    shop.queue([first, second])
    bad = admin_conn.execute("select email from public.contacts where id = %s", [second]).fetchone()["email"]
    box.refuse_rcpt = {bad}
    box.refuse = lambda n: "452 4.3.1 Mailbox full"
    result = shop.worker(server.port, max_attempts=3, backoff=lambda attempts: timedelta(0)).run_once()
    assert (result.sent, result.failed, result.retried) == (0, 2, 2)
    rows = {str(r["contact_id"]): r for r in shop.rows(admin_conn)}
    assert rows[first]["status"] == "failed" and rows[first]["attempts"] == 3
    assert "452" in rows[first]["last_error"] and "gave up after 3 attempts" in rows[first]["last_error"]
    assert rows[second]["status"] == "failed" and rows[second]["attempts"] == 1  # 550: no retry
    assert "550" in rows[second]["last_error"]
    members = shop.members(admin_conn)
    assert members[first]["status"] == members[second]["status"] == "failed"
    assert box.messages == []


def test_an_unreachable_server_puts_the_batch_back(shop, admin_conn):
    shop.queue()
    result = shop.worker(free_port()).run_once()  # nobody listens there
    assert result.unreachable and result.sent == 0 and result.retried == 5
    rows = shop.rows(admin_conn)
    assert {r["status"] for r in rows} == {"queued"} and all("Cannot reach" in r["last_error"] for r in rows)
    assert all(r["attempts"] == 0 and r["send_after"] > r["updated_at"] for r in rows)  # an outage costs no attempt


def test_contacts_who_withdrew_consent_after_queueing_are_not_emailed(db, shop, server, box, admin_conn):
    shop.queue()
    with db.as_user(shop.owner.claims) as conn:
        conn.execute("update public.contacts set consent = false where id = %s", [shop.contacts[0]])
    result = shop.worker(server.port).run_once()
    assert (result.sent, result.skipped) == (4, 1)
    row = next(r for r in shop.rows(admin_conn) if str(r["contact_id"]) == shop.contacts[0])
    assert row["status"] == "failed" and "consent" in row["last_error"]
    member = shop.members(admin_conn)[shop.contacts[0]]
    assert member["status"] == "excluded" and "consent" in member["excluded_reason"]
    assert row["to_email"] not in [m["To"] for m in box.messages]


class FakeClock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limit_spaces_sends_evenly(shop, server, box):
    shop.queue(copies=2)  # 10 emails
    clock = FakeClock()
    result = shop.worker(server.port, rate_per_minute=120, clock=clock, sleep=clock.sleep).run_once()
    assert result.sent == 10
    # 120 a minute = one every 0.5 s: nine waits between ten sends, 4.5 s in all.
    assert clock.slept == pytest.approx([0.5] * 9) and clock.now - 1000.0 == pytest.approx(4.5)


def test_rate_limit_in_real_time(shop, server, box):
    shop.queue()
    started = time.monotonic()
    assert shop.worker(server.port, rate_per_minute=600, connections=2).run_once().sent == 5  # one every 0.1 s, shared
    assert time.monotonic() - started >= 0.4


def test_a_slow_rate_claims_no_more_than_half_a_lease_can_send(shop):
    assert shop.worker(1, rate_per_minute=6, lease=timedelta(minutes=10)).batch == 30
    assert shop.worker(1, rate_per_minute=0, batch=250).batch == 250


def test_a_live_claim_is_not_taken_by_another_worker(shop, server, box, admin_conn):
    shop.queue()
    stuck = shop.worker(server.port)
    assert len(stuck.claim()) == 5
    assert shop.worker(server.port).run_once().sent == 0 and box.messages == []
    assert {r["claimed_by"] for r in shop.rows(admin_conn)} == {stuck.name}


def test_killed_mid_batch_then_restarted_loses_nothing_and_repeats_only_the_documented_window(
        shop, server, box, admin_conn):
    shop.queue(copies=2)  # 10 emails
    crashed = shop.worker(server.port, lease=timedelta(seconds=1))
    rows = crashed.claim()
    assert len(rows) == 10
    for row in rows[:3]:
        crashed.deliver(row)
        crashed.mark_sent(row)
    crashed.deliver(rows[3])  # accepted by the server, then the worker dies before recording it
    crashed.close()
    time.sleep(1.2)  # the lease runs out (rows 4..9 were claimed but never sent)
    restarted = shop.worker(server.port, lease=timedelta(seconds=1))
    assert restarted.run_once().sent == 7  # rows 3..9
    stored = shop.rows(admin_conn)
    assert {r["status"] for r in stored} == {"sent"}
    ids = box.ids()
    assert set(ids) == {r["message_id"] for r in stored}  # no loss
    repeated = {i for i in ids if ids.count(i) > 1}
    assert repeated == {rows[3]["message_id"]} and ids.count(rows[3]["message_id"]) == 2  # the one window
    assert len(ids) == 11


def test_a_worker_gives_back_what_it_cannot_send_before_its_lease_ends(shop, server, box, admin_conn):
    shop.queue()
    clock = FakeClock()
    worker = shop.worker(server.port, lease=timedelta(seconds=8), rate_per_minute=20, clock=clock,
                         sleep=clock.sleep)  # one every 3 s: the fourth would go at 9 s, past 90 % of the lease
    result = worker.process(worker.claim(limit=5))
    assert (result.sent, result.released) == (3, 2)
    rows = shop.rows(admin_conn)
    released = [r for r in rows if r["status"] == "queued"]
    assert len(released) == 2 and all(r["attempts"] == 0 and r["claimed_by"] is None for r in released)
    assert shop.worker(server.port).run_once().sent == 2 and len(set(box.ids())) == 5


def test_two_workers_on_one_queue_send_every_row_exactly_once(db, factory, server, box, admin_conn):
    """Two workers of two connections each: four senders claiming from one queue."""
    shop = Shop(db, factory, n_contacts=50)
    shop.queue(copies=4)  # 200 emails
    results = []

    def run(worker):
        results.append(worker.run_once())

    threads = [threading.Thread(target=run, args=(shop.worker(server.port, batch=10, connections=2),))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in results) == 200 and all(r.sent > 0 for r in results)
    ids = box.ids()
    assert len(ids) == len(set(ids)) == 200
    assert {r["status"] for r in shop.rows(admin_conn)} == {"sent"}


def test_credentials_and_starttls(tmp_path, shop, monkeypatch, admin_conn):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret pass", handled=False)

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticate, auth_require_tls=True)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
        shop.queue(shop.contacts[:1])
        smtp = SmtpConfig.from_url(f"smtp://news%40harbour.test:s3cret%20pass@127.0.0.1:{port}?starttls=1")
        worker = Worker(shop.db, smtp, public_url=PUBLIC, workspace_id=shop.ws)
        assert worker.run_once().sent == 1
        assert logins == [(b"news@harbour.test", b"s3cret pass")] and len(box.messages) == 1
        # A wrong password is a permanent refusal (535), recorded on the row.
        shop.queue(shop.contacts[1:2])
        bad = SmtpConfig.from_url(f"smtp://news%40harbour.test:wrong@127.0.0.1:{port}?starttls=1")
        result = Worker(shop.db, bad, public_url=PUBLIC, workspace_id=shop.ws).run_once()
        assert result.sent == 0 and result.unreachable
        row = admin_conn.execute("select * from public.outbox where workspace_id = %s and status <> 'sent'",
                                 [shop.ws]).fetchone()
        assert row["status"] == "queued" and "535" in row["last_error"]
    finally:
        controller.stop()


def test_smtp_url_parsing_and_settings():
    assert SmtpConfig.from_url("smtp://u:p%40ss@mail.example.com:587?starttls=1") == SmtpConfig(
        "mail.example.com", 587, "starttls", "u", "p@ss")
    assert SmtpConfig.from_url("smtps://mail.example.com") == SmtpConfig("mail.example.com", 465, "ssl")
    assert SmtpConfig.from_url("smtp://localhost:2525").security == "none"
    with pytest.raises(ConfigError):
        SmtpConfig.from_url("http://mail.example.com")
    settings = load_settings(env={"SMTP_URL": "smtp://localhost:25", "RELATA_PUBLIC_URL": "https://crm.example.com/",
                                  "RELATA_MAIL_FROM": "Shop <news@shop.example>",
                                  "RELATA_MAIL_RATE_PER_MINUTE": "120"}, secrets={})
    assert (settings.smtp_url, settings.public_url, settings.mail_rate_per_minute) == (
        "smtp://localhost:25", "https://crm.example.com", 120)
    assert mailer.message_id_domain(settings.mail_from) == "shop.example"
    assert load_settings(env={}, secrets={"SMTP_URL": "smtps://h:465"}).smtp_url == "smtps://h:465"
    for bad in ({"SMTP_URL": "mail.example.com"}, {"RELATA_PUBLIC_URL": "crm.example.com"},
                {"RELATA_MAIL_RATE_PER_MINUTE": "fast"}, {"RELATA_MAIL_FROM": "nobody"}):
        with pytest.raises(ConfigError):
            load_settings(env=bad, secrets={})
    ws = "6f1c3c3e-1111-4222-8333-944445555666"
    first, second = mailer.new_message_id(ws, "shop.example"), mailer.new_message_id(ws, "shop.example")
    assert first != second and first.startswith("<") and first.endswith(".6f1c3c3e1111@shop.example>")


def test_background_worker_is_one_thread_and_sends(db, shop, server, box, runtime):
    from dataclasses import replace

    settings = replace(runtime.settings, smtp_url=f"smtp://127.0.0.1:{server.port}", public_url=PUBLIC)
    assert mailer.start_background(db, replace(settings, smtp_url=None)) is None
    try:
        thread = mailer.start_background(db, settings, poll_seconds=0.2, workspace_id=shop.ws)
        assert thread.is_alive() and mailer.start_background(db, settings) is thread
        shop.queue()
        deadline = time.monotonic() + 20
        while len(box.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(box.messages) == 5
    finally:
        mailer.stop_background()
    assert not thread.is_alive()


# --- unsubscribe and click links ------------------------------------------------------------------


def test_unsubscribe_tokens_valid_tampered_expired_and_foreign(db, shop, factory):
    contact = shop.contacts[0]
    token = unsubscribe.make_token(db, shop.ws, contact)
    assert unsubscribe.verify(db, token) == (shop.ws, contact)
    assert unsubscribe.link("https://crm.example.com/", token) == f"https://crm.example.com/?unsubscribe={token}"
    raw = bytearray(unsubscribe.unb64(token))
    for position in (1, 20, 40, len(raw) - 1):  # contact, workspace, expiry, signature
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        with pytest.raises(UserError, match="not valid"):
            unsubscribe.verify(db, unsubscribe.b64(bytes(tampered)))
    for garbage in ("", "abc", "!!!", token[:-2], token + "AA"):
        with pytest.raises(UserError, match="not valid"):
            unsubscribe.verify(db, garbage)
    with pytest.raises(UserError, match="expired"):
        unsubscribe.verify(db, unsubscribe.make_token(db, shop.ws, contact, days=-1))
    # Signed for a workspace the contact is not in.
    _, other_ws = factory.owner("Other Shop")
    with pytest.raises(UserError, match="not valid"):
        unsubscribe.verify(db, unsubscribe.make_token(db, other_ws, contact))
    # A token signed with another key (another installation) is refused.
    foreign = unsubscribe.Signer(b"another key").token(shop.ws, contact)
    with pytest.raises(UserError, match="not valid"):
        unsubscribe.verify(db, foreign)


def test_unsubscribe_clears_consent_once_and_stops_queued_emails(db, shop, server, box, admin_conn):
    sent_to, queued_for = shop.contacts[0], shop.contacts[1]
    shop.queue([sent_to])
    shop.worker(server.port).run_once()
    token = token_of(box.messages[0]["List-Unsubscribe"].strip("<>"), "unsubscribe")
    assert unsubscribe.preview(db, token) == {"workspace_name": "Harbour Bikes", "email": "r•••@" +
                                              box.messages[0]["To"].split("@")[1], "already": False}
    assert unsubscribe.workspace_name_for(db, token) == "Harbour Bikes"
    done = unsubscribe.unsubscribe(db, token)
    assert done["changed"] and done["workspace_name"] == "Harbour Bikes"
    assert unsubscribe.unsubscribe(db, token)["changed"] is False  # idempotent
    contact = admin_conn.execute("select consent, consent_source from public.contacts where id = %s",
                                 [sent_to]).fetchone()
    assert contact == {"consent": False, "consent_source": "unsubscribe link"}
    events = admin_conn.execute("select * from public.email_events where contact_id = %s", [sent_to]).fetchall()
    assert [e["kind"] for e in events] == ["unsubscribe"] and str(events[0]["campaign_id"]) == shop.campaign
    assert shop.members(admin_conn)[sent_to]["status"] == "unsubscribed"
    assert unsubscribe.preview(db, token)["already"]

    # A contact who unsubscribes while an email is still queued never gets it.
    shop.queue([queued_for])
    unsubscribe.unsubscribe(db, unsubscribe.make_token(db, shop.ws, queued_for))
    assert shop.worker(server.port).run_once().sent == 0 and len(box.messages) == 1
    row = admin_conn.execute("select status, last_error from public.outbox where contact_id = %s",
                             [queued_for]).fetchone()
    assert row["status"] == "failed" and "Unsubscribed" in row["last_error"]
    assert shop.members(admin_conn)[queued_for]["status"] == "unsubscribed"


def test_clicks_are_recorded_and_lead_to_the_signed_address_only(db, shop, server, box, admin_conn):
    shop.queue(shop.contacts[:1])
    shop.worker(server.port).run_once()
    tracked = next(w for w in body(box.messages[0]).split() if w.startswith(PUBLIC + "/?click="))
    token = token_of(tracked, "click")
    assert email_clicks.record_click(db, token) == "https://shop.example/spring?x=1"
    assert email_clicks.record_click(db, token) == "https://shop.example/spring?x=1"
    events = admin_conn.execute("select kind, url from public.email_events where contact_id = %s",
                                [shop.contacts[0]]).fetchall()
    assert events == [{"kind": "click", "url": "https://shop.example/spring?x=1"}] * 2
    member = shop.members(admin_conn)[shop.contacts[0]]
    assert member["status"] == "opened_link" and member["clicked_at"]
    raw = bytearray(unsubscribe.unb64(token))
    raw[20] ^= 0x01  # another URL
    with pytest.raises(UserError, match="not valid"):
        email_clicks.record_click(db, unsubscribe.b64(bytes(raw)))
    with pytest.raises(UserError, match="not valid"):  # an unsubscribe token is no click token
        email_clicks.record_click(db, unsubscribe.make_token(db, shop.ws, shop.contacts[0]))
    signer = unsubscribe.signer(db)
    with pytest.raises(UserError, match="not valid"):  # never anything but http(s), even if signed
        email_clicks.record_click(db, email_clicks.token(signer, str(shop.ws), "javascript:alert(1)"))


def test_sends_and_clicks_appear_on_the_customer_timeline(db, shop, server, box):
    shop.queue(shop.contacts[:1])
    shop.worker(server.port).run_once()
    tracked = next(w for w in body(box.messages[0]).split() if w.startswith(PUBLIC + "/?click="))
    email_clicks.record_click(db, token_of(tracked, "click"))
    unsubscribe.unsubscribe(db, unsubscribe.make_token(db, shop.ws, shop.contacts[0]))
    events = activities.timeline(db, shop.owner.claims, shop.ws, CONTACT, shop.contacts[0]).events
    mine = [(e["kind"], e["detail"], e["title"]) for e in events if e["kind"].startswith("email")]
    assert mine == [("email_event", "unsubscribe", "Spring is here"), ("email_event", "click", "Spring is here"),
                    ("email", "Spring sale", "Spring is here")]
    assert next(e for e in events if e["detail"] == "click")["body"] == "https://shop.example/spring?x=1"


# --- the public pages (run on their own: app.py routes ?unsubscribe= and ?click= to them) ----------


def page(file: str, **query) -> AppTest:
    at = AppTest.from_file(str(VIEWS / file), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_unsubscribe_page_confirms_then_clears_consent(db, shop, admin_conn):
    token = unsubscribe.make_token(db, shop.ws, shop.contacts[0])
    at = page("unsubscribe.py", unsubscribe=token)
    assert not at.exception
    assert "Harbour Bikes" in at.markdown[0].value and "r•••@" in at.markdown[0].value
    assert admin_conn.execute("select consent from public.contacts where id = %s",
                              [shop.contacts[0]]).fetchone()["consent"]  # nothing happens before confirming
    at = at.button(key="unsubscribe_confirm").click().run()
    assert not at.exception and "is unsubscribed" in at.success[0].value
    assert not admin_conn.execute("select consent from public.contacts where id = %s",
                                  [shop.contacts[0]]).fetchone()["consent"]
    again = page("unsubscribe.py", unsubscribe=token)
    assert "is unsubscribed" in again.success[0].value and not again.button


@pytest.mark.parametrize("days, message", [(-1, "expired"), (None, "not valid")])
def test_unsubscribe_page_explains_bad_links(db, shop, days, message):
    token = unsubscribe.make_token(db, shop.ws, shop.contacts[0], days=days) if days else "tampered-token"
    at = page("unsubscribe.py", unsubscribe=token)
    assert not at.exception and message in at.error[0].value and not at.button


def test_click_page_records_and_offers_the_original_link(db, shop, server, box, admin_conn):
    shop.queue(shop.contacts[:1])
    shop.worker(server.port).run_once()
    tracked = next(w for w in body(box.messages[0]).split() if w.startswith(PUBLIC + "/?click="))
    at = page("email_click.py", click=token_of(tracked, "click"))
    assert not at.exception and "shop" in at.markdown[0].value
    assert admin_conn.execute("select count(*) as n from public.email_events where contact_id = %s and kind = 'click'",
                              [shop.contacts[0]]).fetchone()["n"] == 1
    bad = page("email_click.py", click="nonsense")
    assert not bad.exception and "not valid" in bad.error[0].value


def test_command_line_worker_sends_what_is_due(shop, server, box, admin_conn):
    import os
    import sys

    shop.queue(shop.contacts[:2])
    env = {**os.environ, "SMTP_URL": f"smtp://127.0.0.1:{server.port}", "RELATA_PUBLIC_URL": PUBLIC}
    run = subprocess.run([sys.executable, "-m", "lib.mailer", "--once", "--batch", "50"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 0, run.stderr
    assert "sent" in run.stdout and {r["status"] for r in shop.rows(admin_conn)} == {"sent"}
    env.pop("SMTP_URL")
    missing = subprocess.run([sys.executable, "-m", "lib.mailer", "--once"], env={**env, "SMTP_URL": ""},
                             capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert missing.returncode == 2 and "SMTP_URL is not set" in missing.stderr


def test_links_from_emails_open_their_pages_in_the_app_without_signing_in(db, shop, server, box, admin_conn):
    from tests.test_app_flows import fresh_app

    shop.queue(shop.contacts[:1])
    shop.worker(server.port).run_once()
    msg = box.messages[0]
    at = fresh_app(unsubscribe=token_of(msg["List-Unsubscribe"].strip("<>"), "unsubscribe"))
    assert not at.exception and "user" not in at.session_state
    assert "Harbour Bikes" in at.markdown[0].value
    at = at.button(key="unsubscribe_confirm").click().run()
    assert not at.exception and "is unsubscribed" in at.success[0].value
    assert shop.members(admin_conn)[shop.contacts[0]]["status"] == "unsubscribed"
    tracked = next(w for w in body(msg).split() if w.startswith(PUBLIC + "/?click="))
    at = fresh_app(click=token_of(tracked, "click"))
    assert not at.exception and at.get("link_button")[0].proto.url == "https://shop.example/spring?x=1"
    assert fresh_app(unsubscribe="forged").error[0].value.startswith("This link is not valid")
