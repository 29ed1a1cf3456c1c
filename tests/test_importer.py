"""Importing contacts and companies on the real database: reading files (encodings, delimiters,
Excel), guessing columns, every rejection rule, all-or-nothing loads, updates, companies by name,
custom fields, a 10,000-row file, the command line, and the Import page under AppTest."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from lib import custom_fields, customers, importer
from lib.customers import COMPANY, CONTACT
from lib.errors import UserError
from tests.test_app_flows import fresh_app, sign_in, texts

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def shop(factory):
    return factory.owner("Import Shop")


def csv_bytes(rows: list[list[object]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def load(db, owner, ws, data: bytes, filename: str = "people.csv", kind=CONTACT, **options) -> importer.ImportResult:
    table = importer.read_table(data, filename)
    defs = custom_fields.definitions(db, owner.claims, ws, kind.name)
    mapping = importer.guess_mapping(table.headers, kind, defs)
    return importer.run_import(db, owner.claims, ws, kind, data, filename, mapping, **options)


def stored(admin_conn, ws, table: str = "contacts", order: str = "email") -> list[dict]:
    return admin_conn.execute(f"select * from public.{table} where workspace_id = %s order by {order}", [ws]).fetchall()


def reasons(result: importer.ImportResult) -> dict[int, str]:
    return {line: reason for line, reason, _ in result.rejected}


# -- reading files -------------------------------------------------------------------------

def test_cp1252_semicolon_file_with_accents():
    data = (FIXTURES / "contacts_cp1252_semicolon.csv").read_bytes()
    table = importer.read_table(data, "contacts.csv")
    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    assert table.headers == ["Prénom", "Nom", "Adresse e-mail", "Téléphone", "Pays", "Société", "Étape"]
    rows = list(importer.data_rows(table))
    assert rows[0] == (2, ["Zoé", "Lefèvre", "zoe.lefevre@example.fr", "06 12 34 56 78", "France", "Café Crème", "Customer"])
    assert importer.guess_mapping(table.headers, CONTACT) == {
        "Prénom": "first_name", "Nom": "last_name", "Adresse e-mail": "email", "Téléphone": "phone",
        "Pays": "country", "Société": "company", "Étape": "stage"}


def test_utf8_bom_quoted_values_and_line_numbers():
    table = importer.read_table((FIXTURES / "contacts_utf8_bom.csv").read_bytes(), "contacts.csv")
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert table.headers[0] == "Full name"  # no BOM left in the first header
    rows = list(importer.data_rows(table))
    assert [line for line, _ in rows] == [2, 4]  # the quoted note spans lines 2-3
    assert rows[0][1][6] == "Met at the fair,\nlikes coffee"


def test_tab_and_pipe_delimiters_and_latin1_fallback():
    assert importer.read_table((FIXTURES / "companies_tab.tsv").read_bytes(), "c.tsv").delimiter == "\t"
    assert importer.read_table(b"name|email\nA|a@x.io\n", "x.csv").delimiter == "|"
    assert importer.read_table(b"name\nA\n", "x.csv").headers == ["name"]  # one column: no delimiter at all
    table = importer.read_table("name\nKo\x81ln\n".encode("latin-1"), "x.csv")  # 0x81 is undefined in cp1252
    assert table.encoding == "latin-1"


def test_unreadable_files_are_user_errors():
    with pytest.raises(UserError, match="empty"):
        importer.read_table(b"", "x.csv")
    with pytest.raises(UserError, match="xlsx"):
        importer.read_table(b"\xd0\xcf\x11\xe0", "old.xls")
    with pytest.raises(UserError, match="Excel"):
        importer.read_table(b"PK\x03\x04 broken", "x.xlsx")


def test_guess_mapping_synonyms_and_custom_fields():
    plan = custom_fields.FieldDef("1", "contact", "plan", "Plan", "select", ("Basic", "Pro"))
    since = custom_fields.FieldDef("2", "contact", "customer_since", "Customer since", "date")
    headers = ["E-mail", "Email Address", "Name", "Company", "Phone number", "Tel", "Country", "PLAN",
               "customer_since", "Last contacted", "Favourite colour"]
    assert importer.guess_mapping(headers, CONTACT, [plan, since]) == {
        "E-mail": "email", "Email Address": None, "Name": "full_name", "Company": "company",
        "Phone number": "phone", "Tel": None, "Country": "country", "PLAN": "custom.plan",
        "customer_since": "custom.customer_since", "Last contacted": None, "Favourite colour": None}
    assert importer.guess_mapping(["Nom", "Société", "Secteur", "Code postal"], COMPANY) == {
        "Nom": "name", "Société": None, "Secteur": "industry", "Code postal": "postal_code"}
    assert importer.guess_mapping(["Work email (primary)"], CONTACT) == {"Work email (primary)": "email"}


# -- the rules -----------------------------------------------------------------------------

def test_missing_required_values_and_bad_emails_are_rejected(db, shop, admin_conn):
    owner, ws = shop
    data = csv_bytes([
        ["First name", "Last name", "Email", "Phone", "Country", "Stage"],
        ["Ann", "Able", "ann@example.com", "06 12 34 56 78", "FR", "customer"],
        ["", "", "", "+44 20 7946 0000", "", ""],  # neither name nor email
        ["Bob", "", "bob@", "", "", ""],
        ["Cy", "", "cy@example", "", "", ""],
        ["Di", "", "di @example.com", "", "", ""],
        ["Ed", "", "", "12", "FR", "vip"],
        ["Flo", "", "", "", "Atlantis", ""],
    ])
    result = load(db, owner, ws, data, load_valid_rows=True)
    assert (result.inserted, result.rows) == (1, 7)
    got = reasons(result)
    assert got[3] == "Enter a name or an email address."
    assert got[4] == "Email: “bob@” is not a valid email address."
    assert "Email" in got[5] and "Email" in got[6]
    assert "Phone" in got[7] and "stage" in got[7]  # every problem of the line, not only the first
    assert "Country" in got[8] and "Atlantis" in got[8]
    [ann] = stored(admin_conn, ws)
    assert (ann["phone"], ann["country"], ann["stage"]) == ("+33612345678", "FR", "customer")
    assert ann["customer_at"] is not None  # the database's stage stamp ran
    company = load(db, owner, ws, csv_bytes([["Name", "Email"], ["", "x@example.com"]]), kind=COMPANY)
    assert reasons(company) == {2: "Enter the company name."}


def test_all_or_nothing_unless_the_valid_rows_are_wanted(db, shop, admin_conn):
    owner, ws = shop
    data = csv_bytes([["Name", "Email", "Company"], ["Ann Able", "ann@example.com", "Acme"],
                      ["Bad Row", "not-an-email", "Acme"], ["Cy Cole", "cy@example.com", "Brick Ltd"]])
    result = load(db, owner, ws, data)
    assert not result.written and result.inserted == 0 and result.valid == 2
    assert result.rejected == [(3, "Email: “not-an-email” is not a valid email address.",
                                ["Bad Row", "not-an-email", "Acme"])]
    assert stored(admin_conn, ws) == [] and stored(admin_conn, ws, "companies", "name") == []
    result = load(db, owner, ws, data, load_valid_rows=True)
    assert result.written and (result.inserted, result.companies_created, len(result.rejected)) == (2, 2, 1)
    assert [c["first_name"] for c in stored(admin_conn, ws)] == ["Ann", "Cy"]
    text = importer.rejected_csv(result).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["Line", "Reason", "Name", "Email", "Company"],
        ["3", "Email: “not-an-email” is not a valid email address.", "Bad Row", "not-an-email", "Acme"]]


def test_duplicates_inside_the_file_keep_the_first(db, shop, admin_conn):
    owner, ws = shop
    data = csv_bytes([["Name", "Email"], ["Ann One", "ann@example.com"], ["Bob", "bob@example.com"],
                      ["Ann Two", "ANN@example.com"], ["Ann Three", " ann@example.com "]])
    result = load(db, owner, ws, data, load_valid_rows=True)
    assert reasons(result) == {4: "Same email as line 2.", 5: "Same email as line 2."}
    assert [c["full_name"] for c in stored(admin_conn, ws)] == ["Ann One", "Bob"]


def test_existing_emails_are_skipped_or_updated(db, shop, admin_conn):
    owner, ws = shop
    kept = customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Ann", "last_name": "Old",
                                                           "email": "ann@example.com", "city": "Paris",
                                                           "tags": ["vip"]})
    data = csv_bytes([["First name", "Last name", "Email", "City", "Tags"],
                      ["Ann", "New", "Ann@Example.com", "", "newsletter"], ["Bea", "Fresh", "bea@example.com", "Oslo", ""]])
    skipped = load(db, owner, ws, data)
    assert (skipped.inserted, skipped.updated, skipped.skipped, skipped.rejected) == (1, 0, 1, [])
    assert stored(admin_conn, ws)[0]["last_name"] == "Old"
    preview = importer.preview(db, owner.claims, ws, CONTACT, data, "p.csv",
                               importer.guess_mapping(["First name", "Last name", "Email", "City", "Tags"], CONTACT),
                               on_existing="update")
    assert [(p.line, p.status) for p in preview] == [(2, "update"), (3, "update")]  # Bea exists now
    updated = load(db, owner, ws, data, on_existing="update")
    assert (updated.inserted, updated.updated, updated.skipped) == (0, 2, 0)
    ann = customers.get(db, owner.claims, ws, CONTACT, kept)
    # Values in the file replace stored ones; empty cells keep what was there.
    assert (ann["last_name"], ann["city"], ann["tags"], ann["version"]) == ("New", "Paris", ["newsletter"], 2)


def test_formula_characters_are_stored_as_text_and_exported_neutralised(db, shop, admin_conn):
    from lib import customer_search, export

    owner, ws = shop
    data = csv_bytes([["First name", "Last name", "Email", "Notes"],
                      ["=HYPERLINK(\"http://evil\")", "+1", "f@example.com", "@SUM(A1:A2)"],
                      ["-2", "'=quoted", "g@example.com", "\tTab"]])
    result = load(db, owner, ws, data)
    assert result.inserted == 2, result.rejected
    rows = stored(admin_conn, ws)
    assert (rows[0]["first_name"], rows[0]["last_name"], rows[0]["notes"]) == ("=HYPERLINK(\"http://evil\")", "+1", "@SUM(A1:A2)")
    assert (rows[1]["first_name"], rows[1]["last_name"]) == ("-2", "=quoted")  # our own neutralising undone
    columns, headers = export.export_columns(CONTACT, [])
    out = b"".join(export.export_csv(customer_search.iter_rows(db, owner.claims, ws, CONTACT, customer_search.Filters()),
                                     columns, headers)).decode("utf-8-sig")
    cells = {cell for row in csv.reader(io.StringIO(out)) for cell in row}
    assert {"'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'=quoted"} <= cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)


def test_xlsx_file(db, shop, admin_conn):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Member since", "date")
    data = (FIXTURES / "contacts.xlsx").read_bytes()
    table = importer.read_table(data, "contacts.xlsx")
    assert table.format == "xlsx" and table.headers == ["First name", "Last name", "E-mail", "Tel", "Country", "Member since"]
    result = load(db, owner, ws, data, "contacts.xlsx", load_valid_rows=True)
    assert result.inserted == 2
    assert set(reasons(result)) == {5}  # line 4 is blank; line 5 has a bad date (and a bad email)
    assert "Member since" in reasons(result)[5]
    ada, alan = stored(admin_conn, ws)
    assert (ada["phone"], ada["custom"]) == ("+442079460000", {"member_since": "2020-05-17"})
    assert (alan["phone"], alan["country"]) == ("+442079460001", "GB")


def test_custom_fields_valid_and_invalid(db, shop, admin_conn):
    owner, ws = shop
    custom_fields.define(db, owner.claims, ws, "contact", "Plan", "select", "Basic, Pro", required=True)
    custom_fields.define(db, owner.claims, ws, "contact", "Seats", "number")
    custom_fields.define(db, owner.claims, ws, "contact", "Renewal", "date")
    custom_fields.define(db, owner.claims, ws, "contact", "Paying", "checkbox")
    data = csv_bytes([
        ["Name", "Email", "Plan", "Seats", "Renewal", "Paying"],
        ["Ann", "ann@example.com", "pro", "1.234,5", "31/12/2025", "yes"],
        ["Bob", "bob@example.com", "Enterprise", "", "", ""],
        ["Cy", "cy@example.com", "Basic", "lots", "2025-02-30", "maybe"],
        ["Di", "di@example.com", "", "3", "", ""],
    ])
    result = load(db, owner, ws, data, load_valid_rows=True)
    got = reasons(result)
    assert result.inserted == 1 and set(got) == {3, 4, 5}
    assert "Plan" in got[3] and "Basic, Pro" in got[3]
    assert "Seats" in got[4] and "Renewal" in got[4] and "Paying" in got[4]
    assert got[5] == "Plan: a value is required."
    [ann] = stored(admin_conn, ws)
    assert ann["custom"] == {"plan": "Pro", "seats": 1234.5, "renewal": "2025-12-31", "paying": True}


def test_companies_are_matched_by_name_or_created(db, shop, admin_conn):
    owner, ws = shop
    acme = customers.create(db, owner.claims, ws, COMPANY, {"name": "Acme Corp"})
    data = (FIXTURES / "contacts_cp1252_semicolon.csv").read_bytes()
    result = load(db, owner, ws, data)
    assert (result.inserted, result.companies_created) == (3, 2), result.rejected  # "Café Crème" and "Café crème" are one
    companies = {c["name"]: c["id"] for c in stored(admin_conn, ws, "companies", "name")}
    assert set(companies) == {"Acme Corp", "Bâtiments Réunis", "Café Crème"}
    by_email = {c["email"]: c for c in stored(admin_conn, ws)}
    assert by_email["zoe.lefevre@example.fr"]["company_id"] == by_email["francois@example.fr"]["company_id"] \
        == companies["Café Crème"]
    assert (by_email["francois@example.fr"]["first_name"], by_email["francois@example.fr"]["country"]) == ("François", "CH")
    more = load(db, owner, ws, csv_bytes([["Name", "Company"], ["Kim Lee", "ACME CORP"]]))
    assert more.companies_created == 0
    assert str(stored(admin_conn, ws, order="created_at")[-1]["company_id"]) == acme


def test_companies_file_and_owner_by_email_or_name(db, shop, factory, admin_conn):
    owner, ws = shop
    agent = factory.member(owner, ws, "agent")  # display name "Agent User"
    data = csv_bytes([["Company", "Website", "Owner"], ["Harbour Bikes", "harbour.example", agent.email.upper()],
                      ["Dupont SARL", "", "agent user"], ["Nobody Inc", "", "ghost@example.com"]])
    result = load(db, owner, ws, data, "c.csv", kind=COMPANY, load_valid_rows=True)
    assert result.inserted == 2 and "ghost@example.com" in reasons(result)[4]
    rows = stored(admin_conn, ws, "companies", "name")
    assert [(r["name"], str(r["owner_id"]), r["website"]) for r in rows] == [
        ("Dupont SARL", agent.id, None), ("Harbour Bikes", agent.id, "https://harbour.example")]
    tsv = load(db, owner, ws, (FIXTURES / "companies_tab.tsv").read_bytes(), "c.tsv", kind=COMPANY)
    assert tsv.inserted == 2  # no email: nothing to match existing companies by


def test_viewer_cannot_import_and_agent_can(db, shop, factory, admin_conn):
    owner, ws = shop
    data = csv_bytes([["Name"], ["Ann"]])
    viewer = factory.member(owner, ws, "viewer")
    with pytest.raises(UserError, match="role"):
        load(db, viewer, ws, data)
    agent = factory.member(owner, ws, "agent")
    assert load(db, agent, ws, data).inserted == 1
    assert str(stored(admin_conn, ws)[0]["created_by"]) == agent.id
    other, _ = factory.owner()
    with pytest.raises(UserError):
        load(db, other, ws, data)  # not a member at all
    assert len(stored(admin_conn, ws)) == 1


def test_ten_thousand_rows_exact_counts(db, shop, admin_conn, tmp_path):
    owner, ws = shop
    customers.create(db, owner.claims, ws, CONTACT, {"first_name": "Existing", "email": "person7@example.com"})
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["First name", "Last name", "Email", "Phone", "Country", "Company", "Stage", "Tags"])
        for i in range(10_000):
            email = f"person{i}@example.com"
            if i % 100 == 99:
                email = f"person{i}-at-example.com"  # 100 bad emails
            elif i % 250 == 125:
                email = f"person{i - 1}@example.com"  # 40 repeats of the line before
            writer.writerow([f"First{i}", f"Last{i}", email, f"06 12 {i // 100 % 100:02d} {i % 100:02d} 00", "FR",
                             f"Company {i % 50}", ["lead", "prospect", "customer"][i % 3], "import, batch"])
    seen = []
    result = importer.run_import(db, owner.claims, ws, CONTACT, path.read_bytes(), "big.csv",
                                 importer.guess_mapping(importer.read_table(path.read_bytes(), "big.csv").headers, CONTACT),
                                 load_valid_rows=True, progress=lambda f, m: seen.append(f))
    assert result.rows == 10_000
    assert (result.inserted, result.skipped, len(result.rejected), result.companies_created) == (9_859, 1, 140, 50)
    assert sum("Same email as line" in r for _, r, _ in result.rejected) == 40
    assert seen == sorted(seen) and seen[-1] == 1.0
    counts = admin_conn.execute(
        "select count(*) as n, count(distinct company_id) as companies, count(*) filter (where stage = 'customer') as customers"
        " from public.contacts where workspace_id = %s", [ws]).fetchone()
    assert counts == {"n": 9_860, "companies": 50, "customers": 3_286}


def test_command_line(db, shop, tmp_path, capsys, admin_conn):
    owner, ws = shop
    path = tmp_path / "cli.csv"
    path.write_bytes(csv_bytes([["Name", "Email"], ["Ann", "ann@example.com"], ["Bob", "bob@"]]))
    assert importer.main([str(path), "--workspace", ws, "--email", owner.email]) == 1
    assert "Nothing was imported" in capsys.readouterr().out
    assert importer.main([str(path), "--workspace", "Import Shop", "--email", owner.email, "--load-valid"]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "line 3: Email" in out
    assert importer.main([str(path), "--workspace", ws, "--email", "nobody@example.com"]) == 2


# -- the Import page -----------------------------------------------------------------------

def test_import_page_uploads_maps_previews_and_imports(factory, db, admin_conn):
    owner, ws = factory.owner("Upload Shop")
    at = sign_in(fresh_app(), owner.email)
    at.switch_page("views/import_customers.py").run()
    assert not at.exception
    assert "What the file should look like" in texts(at)
    assert at.download_button(key="import_template")
    data = csv_bytes([["Full name", "E-mail", "Société", "Shoe size"], ["Ann Able", "ann@example.com", "Acme", "42"],
                      ["Bob Bad", "bob@", "Acme", "43"], ["Cy Cole", "cy@example.com", "", ""]])
    at.file_uploader(key="import_file").set_value(("people.csv", data, "text/csv"))
    at.run()
    assert not at.exception
    assert [at.selectbox(key=f"import_map_{i}").value for i in range(4)] == ["full_name", "email", "company", ""]
    preview = at.dataframe[0].value
    assert list(preview["Status"]) == ["✅ new", "❌ rejected", "✅ new"]
    at.button(key="import_run").click().run()
    assert not at.exception
    assert "Nothing was imported" in " ".join(e.value for e in at.error)
    assert at.download_button(key="import_rejected_download")
    assert stored(admin_conn, ws) == []
    at.checkbox(key="import_load_valid").check().run()
    at.button(key="import_run").click().run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["2", "0", "0", "1"]
    assert "2 added" in at.toast[0].value
    assert [c["full_name"] for c in stored(admin_conn, ws)] == ["Ann Able", "Cy Cole"]
