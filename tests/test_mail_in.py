"""Inbound email on the real database: new tickets and leads, replies threaded by [T-1234] that
reopen solved tickets, duplicate Message-IDs, malformed messages, mbox and Maildir, attachments,
HTML bodies, and the command line."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from lib import mail_in, tickets
from lib.errors import UserError

MAIL = Path(__file__).parent / "fixtures" / "mail"


@pytest.fixture
def desk(factory):
    return factory.owner("Mail Desk Ltd")


def _all_tickets(admin_conn, ws: str) -> list[dict]:
    return admin_conn.execute(
        "select t.*, k.email as contact_email, k.stage as contact_stage, k.first_name, k.last_name"
        " from public.tickets t left join public.contacts k on k.id = t.contact_id"
        " where t.workspace_id = %s order by t.number", [ws]).fetchall()


def test_new_message_opens_a_ticket_for_a_new_lead_and_matches_the_sender_next_time(db, admin_conn, desk):
    owner, ws = desk
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    assert (result.created, result.appended, result.duplicates, result.rejected) == (1, 0, 0, [])
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "second_from_jane.eml"])
    assert result.created == 1
    first, second = _all_tickets(admin_conn, ws)
    assert first["number"] == 1001 and first["channel"] == "email" and first["status"] == "new"
    assert first["subject"] == "My bike arrived broken" and "front wheel" in first["description"]
    assert first["message_id"] == "<new-ticket-1@example.com>"
    assert (first["contact_email"], first["contact_stage"], first["first_name"], first["last_name"]) == (
        "jane.doe@example.com", "lead", "Jane", "Doe")
    assert second["contact_id"] == first["contact_id"]  # matched by email, whatever its case
    assert admin_conn.execute("select count(*) as n from public.contacts where workspace_id = %s",
                              [ws]).fetchone()["n"] == 1


def test_reply_with_ticket_number_is_a_customer_comment_and_reopens_a_solved_ticket(db, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    ticket = tickets.queue(db, owner.claims, ws, "open").rows[0]
    version = tickets.set_status(db, owner.claims, ws, ticket["id"], "solved", ticket["version"])
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "reply.eml"])
    assert (result.created, result.appended, result.reopened) == (0, 1, 1)
    after = tickets.get(db, owner.claims, ws, ticket["id"])
    assert after["status"] == "open" and after["reopen_count"] == 1 and after["version"] > version
    [comment] = tickets.comments(db, owner.claims, ws, ticket["id"])
    assert comment["from_customer"] and comment["is_public"]
    assert comment["body"].startswith("The replacement wheel does not fit either.")
    assert after["first_responded_at"] is None  # the customer's own reply is no first response


def test_reply_to_a_closed_ticket_opens_a_new_one_naming_the_old_number(db, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    ticket = tickets.queue(db, owner.claims, ws, "open").rows[0]
    version = tickets.set_status(db, owner.claims, ws, ticket["id"], "solved", ticket["version"])
    tickets.set_status(db, owner.claims, ws, ticket["id"], "closed", version)
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "reply.eml"])
    assert (result.created, result.appended, result.reopened) == (1, 0, 0)
    new = tickets.queue(db, owner.claims, ws, "open").rows[0]
    assert new["number"] == 1002 and new["description"].startswith("Follow-up to T-1001")
    assert new["contact_id"] == ticket["contact_id"]


def test_unknown_ticket_number_opens_a_new_ticket(db, desk):
    owner, ws = desk
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "reply.eml"])  # [T-1001] does not exist yet
    assert result.created == 1
    assert tickets.queue(db, owner.claims, ws, "open").rows[0]["subject"] == "Re: [T-1001] My bike arrived broken"


def test_same_message_twice_is_a_no_op(db, admin_conn, desk):
    owner, ws = desk
    paths = [MAIL / "new_ticket.eml", MAIL / "reply.eml"]
    first = mail_in.import_messages(db, owner.claims, ws, paths)
    assert (first.created, first.appended) == (1, 1)
    counts = "select (select count(*) from public.tickets where workspace_id = %(ws)s) as t," \
             " (select count(*) from public.ticket_comments where workspace_id = %(ws)s) as c," \
             " (select count(*) from public.contacts where workspace_id = %(ws)s) as k"
    before = admin_conn.execute(counts, {"ws": ws}).fetchone()
    again = mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    assert (again.created, again.appended, again.duplicates, again.rejected) == (0, 0, 1, [])
    again = mail_in.import_messages(db, owner.claims, ws, paths)
    assert again.duplicates == 2
    assert admin_conn.execute(counts, {"ws": ws}).fetchone() == before


def test_message_without_message_id_is_deduplicated_by_its_bytes(db, desk):
    owner, ws = desk
    raw = b"From: ann@example.com\r\nSubject: No id\r\n\r\nHello\r\n"
    assert mail_in.import_messages(db, owner.claims, ws, [raw]).created == 1
    assert mail_in.import_messages(db, owner.claims, ws, [raw]).duplicates == 1


def test_malformed_messages_are_rejected_and_the_rest_imported(db, admin_conn, desk):
    owner, ws = desk
    result = mail_in.import_messages(db, owner.claims, ws, [
        MAIL / "no_from.eml", b"", b"\x00\xff garbage without headers", b"From: not an address\r\n\r\nHi\r\n",
        MAIL / "new_ticket.eml"])
    assert result.created == 1
    reasons = dict(result.rejected)
    assert len(reasons) == 4
    assert "no From address" in reasons[str(MAIL / "no_from.eml")]
    assert "empty" in reasons["message 2"]
    assert "not an email address" in reasons["message 4"]
    assert len(_all_tickets(admin_conn, ws)) == 1


def test_a_failing_message_leaves_nothing_behind(db, admin_conn, desk):
    owner, ws = desk
    # A new sender whose ticket insert fails: the lead created in the same transaction must go too.
    msg = EmailMessage()
    msg["From"] = "Gina Grey <gina@example.com>"
    msg["Subject"] = "Fine"
    msg["Message-ID"] = "<half@example.com>"
    msg.set_content("Body")
    original = mail_in.NEW_TICKET
    mail_in.NEW_TICKET = original.replace("'email'", "'pigeon'")  # refused by the channel check
    try:
        result = mail_in.import_messages(db, owner.claims, ws, [msg])
    finally:
        mail_in.NEW_TICKET = original
    assert result.created == 0 and len(result.rejected) == 1 and "refused" in result.rejected[0][1]
    assert admin_conn.execute("select count(*) as n from public.contacts where workspace_id = %s",
                              [ws]).fetchone()["n"] == 0
    assert mail_in.import_messages(db, owner.claims, ws, [msg]).created == 1


def test_mbox_input(db, admin_conn, desk):
    owner, ws = desk
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "inbox.mbox"])
    assert (result.created, result.appended) == (2, 1)  # message 4 threads by In-Reply-To
    assert result.rejected == [(f"{MAIL / 'inbox.mbox'}#2", "The message has no From address.")]
    rows = _all_tickets(admin_conn, ws)
    assert [r["subject"] for r in rows] == ["Delivery date?", "Refund"]
    assert rows[1]["contact_email"] == "erin@example.com"


def test_maildir_input_with_progress(db, desk):
    owner, ws = desk
    seen = []
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "maildir"],
                                     progress=lambda d, t: seen.append((d, t)))
    assert (result.created, result.appended, result.rejected) == (1, 1, [])  # the second names [T-1001]
    assert seen == [(1, 2), (2, 2)]


def test_attachments_are_stored_and_bad_ones_skipped(db, admin_conn, desk):
    owner, ws = desk
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "with_attachment.eml"])
    assert result.created == 1
    [(source, name, reason)] = result.skipped_attachments
    assert name == "setup.exe" and "cannot be attached" in reason
    [stored] = admin_conn.execute("select filename, content_type, size_bytes, data, comment_id"
                                  " from public.ticket_attachments where workspace_id = %s", [ws]).fetchall()
    assert (stored["filename"], stored["content_type"], bytes(stored["data"])) == (
        "order.csv", "text/csv", b"sku,qty\nBIKE-1,2\n")
    assert stored["comment_id"] is None


def test_attachment_on_a_reply_belongs_to_its_comment(db, admin_conn, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    msg = EmailMessage()
    msg["From"] = "jane.doe@example.com"
    msg["Subject"] = "[T-1001] photo"
    msg["Message-ID"] = "<photo@example.com>"
    msg.set_content("See photo.")
    msg.add_attachment(b"\x89PNG\r\n\x1a\n" + b"0" * 20, maintype="image", subtype="png", filename="wheel.png")
    assert mail_in.import_messages(db, owner.claims, ws, [msg]).appended == 1
    row = admin_conn.execute("select a.filename, c.body from public.ticket_attachments a"
                             " join public.ticket_comments c on c.id = a.comment_id where a.workspace_id = %s",
                             [ws]).fetchone()
    assert row == {"filename": "wheel.png", "body": "See photo."}


def test_html_only_body_is_stored_as_text(db, admin_conn, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "html_only.eml"])
    [ticket] = _all_tickets(admin_conn, ws)
    assert ticket["description"] == 'I cannot log in since "yesterday".\n\nError: password <expired>'
    assert "alert" not in ticket["description"] and "color" not in ticket["description"]


def test_viewers_cannot_import(db, desk, factory):
    owner, ws = desk
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="agents and above"):
        mail_in.import_messages(db, viewer.claims, ws, [MAIL / "new_ticket.eml"])


def test_command_line(runtime, desk, capsys, monkeypatch):
    owner, ws = desk
    monkeypatch.setattr("lib.runtime.open_runtime", lambda settings: runtime)
    code = mail_in.main([str(MAIL / "new_ticket.eml"), str(MAIL / "no_from.eml"), "--workspace", ws,
                         "--email", owner.email])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 new tickets" in out and "1 rejected" in out and "no From address" in out


def test_large_imports_parse_in_a_second_process_in_order(db, admin_conn, desk, monkeypatch):
    owner, ws = desk
    monkeypatch.setattr(mail_in, "CHUNK", 2)  # inbox.mbox's 4 messages make 2 chunks
    result = mail_in.import_messages(db, owner.claims, ws, [MAIL / "inbox.mbox", MAIL / "maildir"])
    assert (result.created, result.appended, len(result.rejected)) == (3, 2, 1)
    assert [r["subject"] for r in _all_tickets(admin_conn, ws)] == ["Delivery date?", "Refund", "Wrong size"]


def test_automatic_replies_are_left_out(db, admin_conn, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    ticket = tickets.queue(db, owner.claims, ws, "open").rows[0]
    tickets.set_status(db, owner.claims, ws, ticket["id"], "solved", ticket["version"])
    out_of_office = (b"From: jane@example.com\r\nSubject: Re: [T-1001] Out of office\r\n"
                     b"Auto-Submitted: auto-replied\r\nMessage-ID: <ooo@example.com>\r\n\r\nBack Monday.\r\n")
    vacation = (b"From: bob@example.com\r\nSubject: Away\r\nX-Autoreply: yes\r\n"
                b"Message-ID: <away@example.com>\r\n\r\nAway.\r\n")
    bounce = (b"From: mailer-daemon@example.com\r\nSubject: Undelivered\r\nMessage-ID: <dsn@example.com>\r\n"
              b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
              b"Content-Type: text/plain\r\n\r\nCould not deliver.\r\n--x--\r\n")
    human = (b"From: carl@example.com\r\nSubject: Hello\r\nAuto-Submitted: no\r\n"
             b"Message-ID: <human@example.com>\r\n\r\nA real question.\r\n")
    result = mail_in.import_messages(db, owner.claims, ws, [out_of_office, vacation, bounce, human])
    assert (result.automatic, result.created, result.appended, result.rejected) == (3, 1, 0, [])
    assert "3 automatic replies left out" in result.summary()
    assert tickets.get(db, owner.claims, ws, ticket["id"])["status"] == "solved"  # not reopened by the robot


@pytest.mark.parametrize("body, expected", [
    ("Thanks, that worked!\n\nOn Mon, 23 Nov 2026 at 10:00, Support <help@shop.example> wrote:\n> Try this\n",
     "Thanks, that worked!"),
    ("Merci !\n\nLe lun. 23 nov. 2026 à 10:00, Support <help@shop.example> a écrit :\n> Essayez ceci\n", "Merci !"),
    ("Still broken.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nTry this", "Still broken."),
    ("See below\n> quoted line\n> another\n", "See below"),
    ("> only a quote\n", "> only a quote"),
    ("No quote at all.\nSecond line.", "No quote at all.\nSecond line."),
])
def test_quoted_earlier_messages_are_cut_from_replies(body, expected):
    assert mail_in.strip_quoted(body) == expected


def test_a_reply_is_stored_without_the_quoted_thread(db, desk):
    owner, ws = desk
    mail_in.import_messages(db, owner.claims, ws, [MAIL / "new_ticket.eml"])
    ticket = tickets.queue(db, owner.claims, ws, "open").rows[0]
    reply = (b"From: jane@example.com\r\nSubject: Re: [T-1001] My bike\r\nMessage-ID: <r2@example.com>\r\n\r\n"
             b"Photo attached.\r\n\r\nOn Mon, 23 Nov 2026, Support wrote:\r\n> Can you send a photo?\r\n")
    assert mail_in.import_messages(db, owner.claims, ws, [reply]).appended == 1
    assert [c["body"] for c in tickets.comments(db, owner.claims, ws, ticket["id"])][-1] == "Photo attached."
