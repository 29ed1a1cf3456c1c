"""Settings › Inbound email with Streamlit's AppTest on the real database: upload .eml files, import
them as tickets, see the summary with the rejected messages; viewers get no importer."""

from __future__ import annotations

from pathlib import Path

from lib import tickets
from tests.test_app_flows import fresh_app, sign_in

MAIL = Path(__file__).resolve().parent / "fixtures" / "mail"


def open_settings(email: str):
    at = sign_in(fresh_app(), email)
    at.switch_page("views/settings.py").run()
    assert not at.exception
    return at


def upload(at, names: list[str]):
    files = [(name, (MAIL / name).read_bytes(), "message/rfc822") for name in names]
    at.file_uploader(key="inbound_files").set_value(files)
    return at.run()


def test_agent_imports_eml_files_as_tickets(factory, db):
    owner, ws = factory.owner("Inbound Co")
    agent = factory.member(owner, ws, "agent")
    at = open_settings(agent.email)
    names = sorted(p.name for p in MAIL.glob("*.eml"))
    at = upload(at, names)
    at = at.button(key="inbound_import").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["New tickets"]) >= 1
    assert metrics["Rejected"] == "1"  # no_from.eml
    rejected = next(d.value for d in at.dataframe if "Reason" in d.value.columns)
    assert list(rejected["Message"]) == ["no_from.eml"]
    assert "From" in rejected["Reason"][0]
    assert at.get("download_button")
    assert any("new tickets" in t.value for t in at.toast)
    subjects = [row["subject"] for row in tickets.queue(db, agent.claims, ws, "open").rows]
    assert "My bike arrived broken" in subjects

    # The same files again change nothing.
    at = at.button(key="inbound_import").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New tickets"] == "0" and int(metrics["Already imported"]) >= 1


def test_viewer_gets_no_importer(factory):
    owner, ws = factory.owner("Inbound View Co")
    viewer = factory.member(owner, ws, "viewer")
    at = open_settings(viewer.email)
    assert not at.get("file_uploader")
    assert "Agents and above can import email." in [i.value for i in at.info]
