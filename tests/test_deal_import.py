"""Importing deals on the real database: another CRM's opportunities (the layout of the public
"CRM Sales Opportunities" dataset) onto a pipeline with their stages mapped, companies and
contacts matched or created, won/lost status and history, rejections (all or nothing), the
command line, and the Import page under AppTest with Deals chosen."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lib import customers, deals, importer
from lib.customers import COMPANY, CONTACT
from lib.errors import UserError
from tests.test_app_flows import fresh_app, sign_in, texts
from tests.test_importer import csv_bytes, reasons

FIXTURES = Path(__file__).parent / "fixtures"
OPPORTUNITIES = (FIXTURES / "opportunities.csv").read_bytes()


@pytest.fixture
def sales(factory, db):
    owner, ws = factory.owner("Deal Import Shop")
    pipeline = deals.pipelines(db, owner.claims, ws)[0]
    return owner, ws, pipeline, {s["name"]: str(s["id"]) for s in pipeline["stages"]}


def mapping_of(data: bytes, filename: str = "opportunities.csv") -> dict[str, str | None]:
    return importer.guess_mapping(importer.read_table(data, filename).headers, "deal")


def load(db, user, ws, data: bytes, filename: str = "opportunities.csv", **options) -> importer.ImportResult:
    return importer.run_deal_import(db, user.claims, ws, data, filename, mapping_of(data, filename), **options)


def stored_deals(admin_conn, ws) -> list[dict]:
    return admin_conn.execute(
        "select d.*, s.name as stage, c.name as company, k.full_name as contact, k.email as contact_email,"
        " r.name as lost_reason from public.deals d join public.stages s on s.id = d.stage_id"
        " left join public.companies c on c.id = d.company_id left join public.contacts k on k.id = d.contact_id"
        " left join public.lost_reasons r on r.id = d.lost_reason_id where d.workspace_id = %s order by d.created_at, d.title",
        [ws]).fetchall()


def test_columns_of_an_opportunities_export_are_guessed():
    assert mapping_of(OPPORTUNITIES) == {
        "opportunity_id": None, "sales_agent": "owner", "product": "product", "account": "company",
        "deal_stage": "stage", "engage_date": None, "close_date": "expected_close_date", "close_value": "value"}


def test_stage_values_are_guessed_by_name_and_kind_words(sales):
    _, _, pipeline, stages = sales
    table = importer.read_table(OPPORTUNITIES, "opportunities.csv")
    found = importer.stage_values(table, mapping_of(OPPORTUNITIES))
    assert found == {"Won": 3, "Lost": 2, "Engaging": 4, "Prospecting": 3}
    guessed = importer.guess_stage_map(list(found) + ["closed won", "Closed Lost", "proposal sent", "Mystery"],
                                       pipeline["stages"])
    names = {v: k for k, v in stages.items()}
    assert {value: names.get(stage) for value, stage in guessed.items()} == {
        "Won": "Won", "Lost": "Lost", "Engaging": "Qualified", "Prospecting": "Lead in", "closed won": "Won",
        "Closed Lost": "Lost", "proposal sent": "Proposal", "Mystery": None}


def test_opportunities_import_with_stages_mapped_companies_matched_and_history(db, admin_conn, sales):
    owner, ws, _, stages = sales
    existing = customers.create(db, owner.claims, ws, COMPANY, {"name": "CANCITY"})
    result = load(db, owner, ws, OPPORTUNITIES, currency="usd")
    assert result.written and result.rejected == [] and result.unmapped_stages == []
    assert (result.rows, result.inserted, result.companies_created, result.contacts_created) == (12, 12, 7, 0)
    assert result.by_stage == {"Lead in": 3, "Qualified": 4, "Won": 3, "Lost": 2}
    assert result.unassigned == 12  # the file's sales agents are not members: imported without owner
    rows = stored_deals(admin_conn, ws)
    counts = {}
    for row in rows:
        counts[(row["stage"], row["status"])] = counts.get((row["stage"], row["status"]), 0) + 1
    assert counts == {("Lead in", "open"): 3, ("Qualified", "open"): 4, ("Won", "won"): 3, ("Lost", "lost"): 2}
    first = next(r for r in rows if r["title"] == "Cancity — GTX Plus Basic")
    assert (str(first["company_id"]), float(first["value"]), first["currency"]) == (existing, 1054.0, "USD")
    assert first["expected_close_date"] == date(2017, 3, 1) and first["closed_at"].date() == date(2017, 3, 1)
    assert first["owner_id"] is None
    assert sum(r["company_id"] is not None and str(r["company_id"]) == existing for r in rows) == 2  # reused
    assert {r["title"] for r in rows if r["company_id"] is None} == {"MG Advanced", "GTX Basic"}  # no account
    assert all(r["lost_reason"] == "Other" for r in rows if r["status"] == "lost")
    assert all(r["lost_reason"] is None and r["closed_at"] is None for r in rows if r["status"] == "open")
    history = admin_conn.execute(
        "select h.deal_id, h.from_stage_id, h.to_stage_id, d.stage_id, h.left_at, h.changed_by"
        " from public.deal_stage_history h join public.deals d on d.id = h.deal_id where d.workspace_id = %s",
        [ws]).fetchall()
    assert len(history) == 12 and len({h["deal_id"] for h in history}) == 12
    assert all(h["to_stage_id"] == h["stage_id"] and h["from_stage_id"] is None and h["left_at"] is None
               and str(h["changed_by"]) == owner.id for h in history)
    names = admin_conn.execute("select name from public.companies where workspace_id = %s order by lower(name)",
                               [ws]).fetchall()
    assert [n["name"] for n in names] == ["CANCITY", "Cheers", "Ganjaflex", "Genco Pura Olive Oil Company",
                                          "Green-Plus", "Isdom", "Plusstrip", "Sonron"]
    assert "12 added" in importer.summary(result, "deal") and "7 new companies" in importer.summary(result, "deal")


def test_contacts_owners_and_lost_reasons_are_matched_or_created(db, admin_conn, sales, factory):
    owner, ws, _, _ = sales
    agent = factory.member(owner, ws, "agent")
    company = customers.create(db, owner.claims, ws, COMPANY, {"name": "Harbour Bikes"})
    known = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Ann", "last_name": "Example",
                                                             "email": "ann@example.com"})
    by_name = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Bo", "last_name": "Berg",
                                                               "company_id": company})
    data = csv_bytes([
        ["Deal", "Organisation", "Contact", "Contact email", "Amount", "Currency", "Stage", "Owner", "Lost reason", "Source"],
        ["Bikes", "Harbour Bikes", "Ann Example", "ANN@example.com", "1.200,50", "GBP", "Proposal", agent.email, "", "Fair"],
        ["Parts", "Harbour Bikes", "Bo Berg", "", "300", "", "Won", "", "", ""],
        ["Service", "New Co", "Cy Cole", "cy@example.com", "50", "", "Lost", "", "price", ""],
        ["Repair", "New Co", "Cy Cole", "cy@example.com", "70", "", "Lost", "", "Astrology", ""],
        ["Rental", "Harbour Bikes", "Bo Berg", "", "10", "", "", "Nobody Known", "", ""],
        ["Helmets", "New Co", "Di Dahl", "", "20", "", "negotiation", "", "", ""],
    ])
    result = load(db, owner, ws, data, "d.csv")
    assert result.written and result.rejected == []
    assert (result.inserted, result.companies_created, result.contacts_created, result.unassigned) == (6, 1, 2, 1)
    rows = {r["title"]: r for r in stored_deals(admin_conn, ws)}
    assert str(rows["Bikes"]["contact_id"]) == known and str(rows["Bikes"]["owner_id"]) == agent.id
    assert (float(rows["Bikes"]["value"]), rows["Bikes"]["currency"], rows["Bikes"]["source"]) == (1200.5, "GBP", "Fair")
    assert str(rows["Parts"]["contact_id"]) == by_name and rows["Parts"]["status"] == "won"
    assert rows["Service"]["contact_id"] == rows["Repair"]["contact_id"]  # one new contact for both
    assert rows["Service"]["contact_email"] == "cy@example.com" and rows["Service"]["company"] == "New Co"
    assert (rows["Service"]["lost_reason"], rows["Repair"]["lost_reason"]) == ("Price", "Other")
    assert rows["Rental"]["stage"] == "Lead in" and rows["Rental"]["owner_id"] is None  # blank stage: first open
    assert rows["Helmets"]["stage"] == "Negotiation" and rows["Helmets"]["contact"] == "Di Dahl"


def test_a_bad_row_rejects_the_whole_file_unless_the_valid_rows_are_wanted(db, admin_conn, sales):
    owner, ws, _, _ = sales
    data = csv_bytes([
        ["Title", "Value", "Close date", "Stage", "Account", "Contact email"],
        ["Good", "100", "2026-12-01", "Won", "Acme", ""],
        ["", "100", "", "Won", "Acme", ""],
        ["Bad value", "lots", "", "Won", "", ""],
        ["Bad date", "5", "31/31/2026", "Lost", "", ""],
        ["Negative", "-5", "", "Won", "", ""],
        ["Bad email", "5", "", "Won", "", "x@"],
        ["Odd stage", "5", "", "Mystery", "", ""],
        ["Odd stage again", "5", "", "mystery", "", ""],
    ])
    result = load(db, owner, ws, data, "bad.csv")
    assert not result.written and stored_deals(admin_conn, ws) == []
    got = reasons(result)
    assert sorted(got) == [3, 4, 5, 6, 7, 8, 9]
    assert "Deal title: a value is required" in got[3]  # a title column is mapped: not built from the company
    assert got[4].startswith("Value:") and got[5].startswith("Expected close date:") and got[6].startswith("Value:")
    assert got[7].startswith("Contact email:")
    assert "“Mystery” is not mapped" in got[8] and "“mystery” is not mapped" in got[9]
    assert result.unmapped_stages == ["Mystery"]
    assert "Nothing was imported" in importer.summary(result, "deal")
    assert admin_conn.execute("select count(*) as n from public.companies where workspace_id = %s", [ws]).fetchone()["n"] == 0
    assert b"Odd stage" in importer.rejected_csv(result)
    loaded = load(db, owner, ws, data, "bad.csv", load_valid_rows=True)
    assert loaded.written and loaded.inserted == 1 and len(loaded.rejected) == 7
    assert [r["title"] for r in stored_deals(admin_conn, ws)] == ["Good"]


def test_the_stage_map_chosen_decides_and_unmapped_values_are_reported(db, admin_conn, sales):
    owner, ws, _, stages = sales
    stage_map = {"Won": stages["Won"], "Lost": stages["Lost"], "Engaging": stages["Proposal"], "Prospecting": None}
    result = load(db, owner, ws, OPPORTUNITIES, stage_map=stage_map, load_valid_rows=True)
    assert result.unmapped_stages == ["Prospecting"] and len(result.rejected) == 3
    assert result.by_stage == {"Proposal": 4, "Won": 3, "Lost": 2}
    assert {r["stage"] for r in stored_deals(admin_conn, ws)} == {"Proposal", "Won", "Lost"}


def test_another_pipeline_viewers_and_preview(db, admin_conn, sales, factory):
    owner, ws, _, _ = sales
    with pytest.raises(UserError, match="pipeline"):
        load(db, owner, ws, OPPORTUNITIES, pipeline_id="00000000-0000-0000-0000-000000000000")
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="role"):
        load(db, viewer, ws, OPPORTUNITIES)
    rows = importer.preview_deals(db, owner.claims, ws, OPPORTUNITIES, "o.csv", mapping_of(OPPORTUNITIES), limit=6)
    assert [r.status for r in rows] == ["new"] * 6
    assert rows[0].reason.startswith("→ Won.") and "left unassigned" in rows[0].reason
    assert rows[5].reason.startswith("→ Qualified.")
    assert stored_deals(admin_conn, ws) == []


def test_command_line(db, admin_conn, sales, tmp_path, capsys):
    owner, ws, _, _ = sales
    path = tmp_path / "opportunities.csv"
    path.write_bytes(OPPORTUNITIES)
    assert importer.main([str(path), "--workspace", ws, "--email", owner.email, "--kind", "deal",
                          "--pipeline", "nowhere"]) == 2
    assert "No pipeline named" in capsys.readouterr().err
    assert importer.main([str(path), "--workspace", ws, "--email", owner.email, "--kind", "deal",
                          "--pipeline", "sales", "--stage", "engaging=Negotiation", "--currency", "USD"]) == 0
    out = capsys.readouterr().out
    assert "'Engaging'" in out and "-> Negotiation" in out and "Deals: 12 added" in out
    counts = admin_conn.execute("select s.name, count(*) as n from public.deals d join public.stages s on s.id = d.stage_id"
                                " where d.workspace_id = %s group by s.name", [ws]).fetchall()
    assert {c["name"]: c["n"] for c in counts} == {"Lead in": 3, "Negotiation": 4, "Won": 3, "Lost": 2}


# -- the Import page -----------------------------------------------------------------------

def test_import_page_with_deals_maps_stages_and_imports(factory, db, admin_conn):
    owner, ws = factory.owner("Deal Upload Shop")
    stages = {s["name"]: str(s["id"]) for s in deals.pipelines(db, owner.claims, ws)[0]["stages"]}
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/import_customers.py").run()
    at.segmented_control(key="import_kind").set_value("deal").run()
    assert not at.exception
    assert "One deal per row" in texts(at)
    assert at.download_button(key="import_template")
    at.file_uploader(key="import_file").set_value(("opportunities.csv", OPPORTUNITIES, "text/csv"))
    at.run()
    assert not at.exception
    assert [at.selectbox(key=f"import_map_{i}").value for i in range(8)] == [
        "", "owner", "product", "company", "stage", "", "expected_close_date", "value"]
    assert at.selectbox(key="import_pipeline").value is not None
    assert [at.selectbox(key=f"import_stage_{i}").value for i in range(4)] == [
        stages["Won"], stages["Lost"], stages["Qualified"], stages["Lead in"]]
    at.selectbox(key="import_stage_3").set_value("").run()  # Prospecting left unmapped
    assert "not mapped" in texts(at)
    preview = at.dataframe[0].value
    assert list(preview["Status"]).count("❌ rejected") == 3  # the three Prospecting rows
    at.button(key="import_run").click().run()
    assert not at.exception
    assert "Nothing was imported" in " ".join(e.value for e in at.error)
    assert stored_deals(admin_conn, ws) == []
    at.selectbox(key="import_stage_3").set_value(stages["Lead in"]).run()
    at.button(key="import_run").click().run()
    assert not at.exception
    assert "Deals: 12 added" in at.toast[0].value
    assert [m.value for m in at.metric][:2] == ["12", "0"]
    rows = stored_deals(admin_conn, ws)
    assert {(r["stage"], r["status"]) for r in rows} == {("Won", "won"), ("Lost", "lost"), ("Qualified", "open"),
                                                         ("Lead in", "open")}
