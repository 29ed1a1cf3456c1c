"""Demo data: a realistic, reproducible small-business workspace in a few seconds.

`load_demo` fills an empty workspace with companies, contacts across the lifecycle, custom
fields, activities, tasks, deals in two pipelines with 18 months of stage history, a knowledge
base of help articles, 18 months of service-desk tickets on every channel with their replies
and internal notes, SLA outcomes (some late) and customer ratings, and a front office: a
product catalogue (`demo_shop`) and 24 months of orders from trade accounts and private
customers with repeat buyers, lapsed and churned ones, products bought together, returns,
cancellations, anonymous sales and invoices (some overdue), so every analytics chart has data;
then marketing (`demo_marketing`): segments, email templates and a year of campaigns on every
channel with members, sent emails, costs and the deals and orders credited to them.
Everything is generated from `random.Random` seeded with `seed` (one stream per purpose, so
adding a step never changes what earlier steps made) and dated relative to `today`: two loads
with the same seed hold the same names, emails, phones and stages. It runs as the signed-in
user in one transaction, through row-level security and every trigger, with one set-based
`INSERT … SELECT … FROM unnest(arrays)` per table (deals then move through their stages in a
few set-based UPDATEs; tickets and orders go in with their final status and real timestamps,
which their triggers accept on insert, ticket replies with the dates they were written, and
invoices in issue order so their gapless numbers follow their dates).

Later issues add their records by appending a `Step` to `STEPS`; a step reads what earlier
steps made from the `Demo` context (`demo.companies`, `demo.contacts`, …) and returns how many
rows it inserted.

    python -m lib.demo --workspace WORKSPACE_ID --email USER_EMAIL   # fill an existing workspace
    python -m lib.demo --new                                         # a new demo user and workspace
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import secrets
import sys
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

import phonenumbers
import psycopg
from psycopg import sql

from lib import demo_desk, demo_marketing, demo_shop
from lib.db import Claims, Database
from lib.errors import UserError

# -- vocabulary -----------------------------------------------------------------------------------

# country -> (weight, language, currency, legal suffixes, cities with a postal code pattern)
COUNTRIES: dict[str, tuple[int, str, str, tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "GB": (18, "en", "GBP", ("Ltd", "Ltd", "LLP"), (("London", "EC1A #@@"), ("Manchester", "M1 #@@"),
                                                    ("Bristol", "BS1 #@@"), ("Leeds", "LS1 #@@"), ("Edinburgh", "EH1 #@@"))),
    "DE": (14, "de", "EUR", ("GmbH", "GmbH", "KG"), (("Berlin", "10###"), ("Hamburg", "20###"), ("München", "80###"),
                                                     ("Köln", "50###"), ("Düsseldorf", "40###"))),
    "FR": (14, "fr", "EUR", ("SARL", "SAS"), (("Paris", "750##"), ("Lyon", "6900#"), ("Marseille", "130##"),
                                               ("Nantes", "44###"), ("Besançon", "25000"))),
    "US": (10, "en", "USD", ("Inc.", "LLC"), (("New York", "100##"), ("Boston", "021##"), ("Austin", "787##"),
                                               ("Portland", "972##"))),
    "NL": (8, "nl", "EUR", ("B.V.",), (("Amsterdam", "10## @@"), ("Rotterdam", "30## @@"), ("Utrecht", "35## @@"))),
    "ES": (8, "es", "EUR", ("S.L.", "S.A."), (("Madrid", "280##"), ("Barcelona", "080##"), ("Sevilla", "410##"),
                                              ("Málaga", "290##"))),
    "IT": (7, "it", "EUR", ("S.r.l.", "S.p.A."), (("Milano", "201##"), ("Roma", "001##"), ("Torino", "101##"))),
    "IE": (4, "en", "EUR", ("Ltd",), (("Dublin", "D0# @@@#"), ("Cork", "T12 @@@#"))),
    "BE": (4, "nl", "EUR", ("BV", "SRL"), (("Bruxelles", "1000"), ("Antwerpen", "2000"), ("Liège", "4000"))),
    "SE": (4, "sv", "SEK", ("AB",), (("Stockholm", "111 ##"), ("Göteborg", "411 ##"), ("Malmö", "211 ##"))),
    "PT": (3, "pt", "EUR", ("Lda",), (("Lisboa", "1000-###"), ("Porto", "4000-###"))),
    "CH": (2, "de", "CHF", ("AG", "GmbH"), (("Zürich", "80##"), ("Genève", "120#"), ("Basel", "40##"))),
    "AT": (2, "de", "EUR", ("GmbH",), (("Wien", "10#0"), ("Graz", "80#0"), ("Salzburg", "5020"))),
    "DK": (1, "da", "DKK", ("ApS",), (("København", "1###"), ("Aarhus", "8000"))),
    "PL": (1, "pl", "PLN", ("Sp. z o.o.",), (("Warszawa", "00-###"), ("Kraków", "30-###"))),
}
FIRST_NAMES = {
    "en": "Oliver Amelia George Isla Harry Ava Jack Mia Noah Emily Liam Sophie Ethan Grace James Chloe Aoife "
          "Seán Siobhán Ciarán Olivia Henry Charlotte Thomas Lucy Daniel Hannah Samuel Ella Matthew",
    "de": "Lukas Anna Jonas Lea Leon Hannah Felix Sophie Maximilian Marie Jürgen Jörg Björn Käthe Günter Paul "
          "Emilia Finn Mia Elias Lena Tobias Johanna Moritz Frieda",
    "fr": "Léa Chloé Manon Camille Zoé Lucas Hugo Louis Gabriel Jules Raphaël Élodie François Hélène Jérôme "
          "Anaïs Noémie Benoît Inès Théo Clémence Mathéo Océane Cédric",
    "nl": "Daan Sem Emma Julia Lotte Bram Sanne Thijs Femke Joost Anouk Ruben Fleur Jesse Noor Sven Eva Lars",
    "es": "Lucía Sofía Martina María Hugo Martín Pablo Álvaro Alejandro Daniel Inés José Íñigo Begoña Carmen "
          "Javier Elena Sergio Paula Andrés",
    "it": "Leonardo Francesco Alessandro Lorenzo Sofia Giulia Aurora Alice Ginevra Niccolò Matteo Chiara "
          "Federica Andrea Beatrice Tommaso",
    "sv": "Alice Maja Elsa Astrid Lars Erik Oskar Björn Ingrid Magnus Linnéa Johan Sara Nils",
    "da": "Søren Mette Freja Magnus Ida Mads Sofie Rasmus Line Frederik",
    "pt": "João Maria Beatriz Tomás Inês Gonçalo Leonor Duarte Mariana Rodrigo Catarina Afonso",
    "pl": "Zofia Jan Jakub Łucja Wiktoria Kacper Michał Agnieszka Małgorzata Paweł",
}
LAST_NAMES = {
    "en": "Smith Jones Taylor Brown Williams Wilson Evans Thomas Roberts Walker Wright Thompson White Hughes "
          "Edwards Green Murphy Kelly O'Brien Walsh Johnson Miller Davis Clarke Patel Harris Lewis Baker",
    "de": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer "
          "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Krüger Hofmann Weiß Groß Lehmann",
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre Michel "
          "Fontaine Rousseau Chevalier Faure Gauthier Mercier Bérenger Girard Lemaître",
    "nl": "de\u00a0Jong Jansen de\u00a0Vries van\u00a0den\u00a0Berg van\u00a0Dijk Bakker Janssen Visser Smit Meijer "
          "de\u00a0Boer Mulder de\u00a0Groot Bos Vos Peters Hendriks Dekker",
    "es": "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz "
          "Hernández Díaz Moreno Muñoz Álvarez Romero Navarro Ortega",
    "it": "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
          "De\u00a0Luca Costa Fontana Moretti",
    "sv": "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Ström Åberg Lindqvist Berg",
    "da": "Jensen Nielsen Hansen Pedersen Sørensen Rasmussen Christensen Larsen Møller",
    "pt": "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Gonçalves Simões Sousa",
    "pl": "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański",
}
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "nl": "Dutch", "es": "Spanish", "it": "Italian",
             "sv": "Swedish", "da": "Danish", "pt": "Portuguese", "pl": "Polish"}
STREETS = {
    "en": ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue"),
    "de": ("Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Gartenweg", "Lindenallee"),
    "fr": ("rue de la République", "avenue Victor-Hugo", "rue des Écoles", "boulevard Pasteur"),
    "nl": ("Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg"),
    "es": ("Calle Mayor", "Avenida de la Constitución", "Calle Real", "Plaza de España"),
    "it": ("Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante"),
    "sv": ("Storgatan", "Drottninggatan", "Kungsgatan"),
    "da": ("Vestergade", "Østergade", "Nørregade"),
    "pt": ("Rua Augusta", "Avenida da Liberdade", "Rua do Carmo"),
    "pl": ("ulica Długa", "ulica Polna", "ulica Lipowa"),
}
BRANDS = ("Harbour", "Northwind", "Bluebell", "Granite", "Copper Kettle", "Silverline", "Oak & Ivy", "Meridian",
          "Atlas", "Lighthouse", "Kestrel", "Juniper", "Riverside", "Sunflower", "Evergreen", "Foxglove", "Summit",
          "Brightwater", "Maple", "Cobalt", "Wildflower", "Ironbridge", "Saffron", "Pinecone", "Old Mill", "Nimbus",
          "Larkspur", "Seaside", "Hilltop", "Redwood", "Willow", "Orchard", "Starling", "Thistle", "Quayside",
          "Amber", "Hazel", "Falcon", "Marigold", "Clover")
# what the company does -> industry
TRADES = {
    "Bikes": "Retail", "Coffee Roasters": "Food & drink", "Bakery": "Food & drink", "Print Studio": "Printing",
    "Logistics": "Transport", "Dental Care": "Health", "Architects": "Architecture", "Garden Centre": "Retail",
    "Software": "IT services", "Consulting": "Professional services", "Brewing": "Food & drink",
    "Florist": "Retail", "Plumbing": "Construction", "Builders": "Construction", "Accountants": "Finance",
    "Physio": "Health", "Yoga Studio": "Fitness", "Catering": "Hospitality", "Hotel": "Hospitality",
    "Design": "Creative", "Photography": "Creative", "Electrics": "Construction", "Cleaning": "Facility services",
    "Pet Care": "Services", "Books": "Retail", "Wine Merchants": "Retail", "Optician": "Health",
    "Language School": "Education", "Travel": "Travel", "Furniture": "Manufacturing",
}
TITLES = ("Owner", "Managing Director", "Office Manager", "Head of Purchasing", "Operations Manager",
          "Marketing Manager", "Accountant", "Sales Manager", "Assistant", "CEO", "Founder", "Store Manager", None)
TAGS = ("vip", "newsletter", "wholesale", "trade-fair-2025", "referral", "partner", "b2b", "b2c", "priority",
        "event", "webinar", "reseller")
SOURCES = ("Website", "Referral", "Trade fair", "Cold call", "LinkedIn", "Google Ads", "Partner", "Newsletter",
           "Walk-in", "Import")
CONSENT_SOURCES = ("Website form", "Newsletter sign-up", "Trade fair", "In store", "Phone call")
ACTIVITY_SUBJECTS = {
    "call": ("Intro call", "Follow-up call", "Called about the quote", "Support call", "Renewal call",
             "Checked in after delivery"),
    "email": ("Sent the price list", "Quote sent", "Order confirmation", "Answered a question about delivery",
              "Invoice reminder", "Newsletter reply"),
    "meeting": ("Visit at their office", "Product demo", "Quarterly review", "Lunch meeting", "Met at the trade fair"),
    "chat": ("Website chat: opening hours", "Chat about stock levels", "Chat: order status"),
    "social": ("LinkedIn message", "Replied to a comment", "Instagram DM about the new range"),
    "note": ("Prefers email to calls", "Budget approved for next quarter", "Decision maker is on holiday until Monday",
             "Asked for a discount on volume"),
}
ACTIVITY_BODIES = (
    None, None, "Went well. **Next step:** send the updated offer.", "They asked about delivery times to {city}.",
    "- wants 3 quotes\n- decides by the end of the month", "Happy with the last order; mentioned a colleague who may "
    "need the same.", "No answer, left a voicemail.", "Interested, but not before next quarter.",
)
TASK_TITLES = ("Call back about the quote", "Send the contract", "Prepare the renewal offer", "Follow up on the invoice",
               "Book a product demo", "Send the catalogue", "Check in after delivery", "Ask for a referral",
               "Update the price list", "Schedule the quarterly review")
DEAL_TITLES = ("Annual plan", "First order", "Spring range", "Service contract", "Website project", "Bulk order",
               "Renewal", "Extension")

# Lifecycle mix: companies, and contacts without a company.
STAGE_WEIGHTS = {"lead": 30, "prospect": 22, "customer": 38, "churned": 10}
CHANNELS = ("call", "email", "meeting", "chat", "social", "note")
CHANNEL_WEIGHTS = (30, 35, 12, 8, 5, 10)
CUSTOM_FIELDS = (
    # record type, key, label, field type, options
    ("company", "employees", "Employees", "number", ()),
    ("company", "plan", "Plan", "select", ("Starter", "Growth", "Enterprise")),
    ("contact", "preferred_language", "Preferred language", "select", tuple(LANGUAGES.values())),
    ("contact", "birthday", "Birthday", "date", ()),
)


# -- the load -------------------------------------------------------------------------------------

@dataclass
class Demo:
    """What the steps share: the transaction, where and when, and the records made so far."""

    conn: psycopg.Connection
    workspace_id: str
    user_id: str
    seed: int
    today: date
    members: list[str]
    companies: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    custom_keys: set[str] = field(default_factory=set)  # custom fields the demo may fill
    extra: dict[str, Any] = field(default_factory=dict)  # for later steps' own records

    @property
    def now(self) -> datetime:
        """The reference instant: noon UTC on `today` (so dates do not depend on the clock)."""
        return datetime.combine(self.today, time(12), tzinfo=timezone.utc)

    def rng(self, purpose: str) -> random.Random:
        """A random stream of its own per purpose: one step's draws never shift another's."""
        return random.Random(f"{self.seed}:{purpose}")

    def owner(self, rng: random.Random) -> str | None:
        """A member, or (one time in ten) nobody."""
        return None if rng.random() < 0.1 else rng.choice(self.members)


@dataclass(frozen=True)
class Step:
    key: str  # name of the count in load_demo's result
    label: str  # shown beside the progress bar
    run: Callable[[Demo], int]  # inserts its rows, returns how many
    weight: float = 1.0  # share of the progress bar


def insert_rows(conn: psycopg.Connection, table: str, columns: dict[str, str], rows: list[dict]) -> int:
    """All `rows` in one `INSERT … SELECT … FROM unnest(…)`: one round trip, one array per column.

    `columns` maps column -> Postgres type; `jsonb` values go as JSON text, `text[]` values as
    lists of strings without commas.
    """
    if not rows:
        return 0
    names = list(columns)
    sent = {"jsonb": "text", "text[]": "text"}
    arrays, selects = [], []
    for name in names:
        kind = columns[name]
        values = [row.get(name) for row in rows]
        if kind == "jsonb":
            values = [None if v is None else json.dumps(v) for v in values]
            selects.append(sql.SQL("u.{}::jsonb").format(sql.Identifier(name)))
        elif kind == "text[]":
            values = [",".join(v or ()) for v in values]
            selects.append(sql.SQL("coalesce(string_to_array(nullif(u.{0}, ''), ','), '{{}}')").format(sql.Identifier(name)))
        else:
            selects.append(sql.SQL("u.{}").format(sql.Identifier(name)))
        arrays.append((values, sent.get(kind, kind)))
    query = sql.SQL("insert into {table} ({cols}) select {selects} from unnest({arrays}) as u ({cols})").format(
        table=sql.Identifier("public", table),
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        selects=sql.SQL(", ").join(selects),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(kind)) for _, kind in arrays),
    )
    return conn.execute(query, [values for values, _ in arrays]).rowcount


def _ascii(text: str) -> str:
    """`Zoë Søren-Łucja` -> `zoe soren-lucja`: for email addresses and web domains."""
    text = text.lower().translate(str.maketrans({"ø": "o", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "'": ""}))
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str, sep: str = "-") -> str:
    return sep.join("".join(c if c.isalnum() else " " for c in _ascii(text)).split())


def _pattern(rng: random.Random, pattern: str) -> str:
    """`#` a digit, `@` a capital letter."""
    return "".join(str(rng.randint(0, 9)) if c == "#" else chr(rng.randint(65, 90)) if c == "@" else c for c in pattern)


def _words(text: str) -> list[str]:
    """Names separated by plain spaces; a no-break space joins the parts of one name (de\u00a0Vries)."""
    return [w.replace("\u00a0", " ") for w in text.split(" ") if w]


def phone_number(rng: random.Random, country: str, mobile: bool = True) -> str:
    """A valid E.164 number of `country`: its example number with the last digits drawn anew."""
    kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(country, kind)
    national = phonenumbers.national_significant_number(example)  # keeps Italy's leading zero
    keep = max(2, len(national) - 6)
    for _ in range(50):
        candidate = national[:keep] + "".join(str(rng.randint(0, 9)) for _ in range(len(national) - keep))
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _stage_dates(rng: random.Random, stage: str, now: datetime) -> dict[str, datetime | None]:
    """When each stage up to `stage` was entered, going back from now (leads: up to a year ago)."""
    dates: dict[str, datetime | None] = dict.fromkeys(("lead_at", "prospect_at", "customer_at", "churned_at"))
    gaps = {"churned_at": (120, 700), "customer_at": (7, 120), "prospect_at": (3, 60)}
    latest = {"lead": (0, 365), "prospect": (1, 300), "customer": (10, 900), "churned": (5, 300)}[stage]
    order = ["lead_at", "prospect_at", "customer_at", "churned_at"]
    reached = order[: order.index(stage + "_at") + 1]
    when = now - timedelta(days=rng.randint(*latest), minutes=rng.randint(0, 600))
    for column in reversed(reached):
        dates[column] = when
        if column in gaps:
            when -= timedelta(days=rng.randint(*gaps[column]), minutes=rng.randint(0, 600))
    return dates


def _address(rng: random.Random, country: str) -> dict[str, str]:
    language, cities = COUNTRIES[country][1], COUNTRIES[country][4]
    city, postal = rng.choice(cities)
    street = rng.choice(STREETS[language])
    number = rng.randint(1, 180)
    address = f"{number} {street}" if language in ("en", "fr") else f"{street} {number}"
    return {"city": city, "postal_code": _pattern(rng, postal), "address": address, "language": language}


def _tags(rng: random.Random, k_max: int = 3) -> list[str]:
    return sorted(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, k_max))))


def _consent(rng: random.Random, created: datetime, now: datetime) -> dict[str, Any]:
    if rng.random() < 0.55:
        return {"consent": True, "consent_source": rng.choice(CONSENT_SOURCES),
                "consent_at": min(now, created + timedelta(days=rng.randint(0, 30)))}
    return {"consent": False, "consent_source": None, "consent_at": None}


def _countries(rng: random.Random, n: int) -> list[str]:
    return rng.choices(list(COUNTRIES), weights=[c[0] for c in COUNTRIES.values()], k=n)


# -- steps ----------------------------------------------------------------------------------------

def make_custom_fields(demo: Demo) -> int:
    """The demo's custom fields; a field of the same key the workspace already has is kept, and
    filled only if it is of the same kind."""
    rows = [{"workspace_id": demo.workspace_id, "record_type": r, "key": k, "label": label, "field_type": t,
             "options": list(options), "position": i} for i, (r, k, label, t, options) in enumerate(CUSTOM_FIELDS)]
    query = sql.SQL(
        "insert into public.custom_field_definitions (workspace_id, record_type, key, label, field_type, options, position)"
        " select u.workspace_id, u.record_type, u.key, u.label, u.field_type,"
        "  coalesce(string_to_array(nullif(u.options, ''), ','), '{}'), u.position"
        " from unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[])"
        "  as u (workspace_id, record_type, key, label, field_type, options, position)"
        " on conflict (workspace_id, record_type, key) do nothing"
    )
    columns = ["workspace_id", "record_type", "key", "label", "field_type", "options", "position"]
    arrays = [[",".join(r[c]) if c == "options" else r[c] for r in rows] for c in columns]
    inserted = demo.conn.execute(query, arrays).rowcount
    existing = demo.conn.execute(
        "select record_type, key, field_type, options from public.custom_field_definitions where workspace_id = %s",
        [demo.workspace_id],
    ).fetchall()
    wanted = {(r, k): (t, set(o)) for r, k, _, t, o in CUSTOM_FIELDS}
    for row in existing:
        want = wanted.get((row["record_type"], row["key"]))
        if want and want[0] == row["field_type"] and want[1] <= set(row["options"]):
            demo.custom_keys.add(f"{row['record_type']}.{row['key']}")
    return inserted


COMPANY_COLUMNS = {
    "id": "uuid", "workspace_id": "uuid", "name": "text", "email": "text", "phone": "text", "website": "text",
    "industry": "text", "address": "text", "city": "text", "postal_code": "text", "country": "text",
    "owner_id": "uuid", "source": "text", "stage": "text", "lead_at": "timestamptz", "prospect_at": "timestamptz",
    "customer_at": "timestamptz", "churned_at": "timestamptz", "tags": "text[]", "consent": "boolean",
    "consent_at": "timestamptz", "consent_source": "text", "custom": "jsonb", "notes": "text",
    "created_at": "timestamptz",
}
CONTACT_COLUMNS = {
    "id": "uuid", "workspace_id": "uuid", "company_id": "uuid", "first_name": "text", "last_name": "text",
    "title": "text", "email": "text", "phone": "text", "address": "text", "city": "text", "postal_code": "text",
    "country": "text", "owner_id": "uuid", "source": "text", "stage": "text", "lead_at": "timestamptz",
    "prospect_at": "timestamptz", "customer_at": "timestamptz", "churned_at": "timestamptz", "tags": "text[]",
    "consent": "boolean", "consent_at": "timestamptz", "consent_source": "text", "custom": "jsonb",
    "created_at": "timestamptz",
}
N_COMPANIES = 500
N_CONTACTS = 3000


def _plan_companies(demo: Demo, n: int) -> list[dict]:
    rng, owners = demo.rng("companies"), demo.rng("companies.owners")
    pairs = rng.sample([(b, t) for b in BRANDS for t in TRADES], n)
    countries = _countries(rng, n)
    companies = []
    for (brand, trade), country in zip(pairs, countries):
        suffix = rng.choice(COUNTRIES[country][3])
        domain = _slug(f"{brand} {trade}") + ".example"
        stage = _weighted(rng, STAGE_WEIGHTS)
        dates = _stage_dates(rng, stage, demo.now)
        place = _address(rng, country)
        custom: dict[str, Any] = {}
        if "company.employees" in demo.custom_keys and rng.random() < 0.8:
            custom["employees"] = int(rng.paretovariate(1.2) * 3)
        if "company.plan" in demo.custom_keys and stage in ("customer", "churned"):
            custom["plan"] = rng.choices(("Starter", "Growth", "Enterprise"), (55, 35, 10))[0]
        companies.append({
            "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "name": f"{brand} {trade} {suffix}",
            "email": f"{rng.choice(('info', 'hello', 'contact', 'office'))}@{domain}",
            "phone": phone_number(rng, country, mobile=False), "website": f"https://www.{domain}",
            "industry": TRADES[trade], "address": place["address"], "city": place["city"],
            "postal_code": place["postal_code"], "country": country, "owner_id": demo.owner(owners),
            "source": rng.choice(SOURCES), "stage": stage, **dates, "tags": _tags(rng),
            **_consent(rng, dates["lead_at"], demo.now), "custom": custom, "created_at": dates["lead_at"],
            "notes": rng.choice((None, None, None, "Delivery to the back entrance.", "Pays by bank transfer, 30 days.")),
            "domain": domain, "language": place["language"],
        })
    return companies


def make_companies(demo: Demo) -> int:
    demo.companies = _plan_companies(demo, N_COMPANIES)
    return insert_rows(demo.conn, "companies", COMPANY_COLUMNS, demo.companies)


def _contact_stage(rng: random.Random, company_stage: str | None) -> str:
    if company_stage is None or rng.random() < 0.2:
        return _weighted(rng, STAGE_WEIGHTS)
    return company_stage


def _plan_contacts(demo: Demo, n: int) -> list[dict]:
    rng, owners = demo.rng("contacts"), demo.rng("contacts.owners")
    taken: set[str] = set()
    contacts = []
    for i in range(n):
        company = rng.choice(demo.companies) if rng.random() < 0.85 else None
        country = company["country"] if company and rng.random() < 0.9 else _countries(rng, 1)[0]
        language = COUNTRIES[country][1]
        first, last = rng.choice(_words(FIRST_NAMES[language])), rng.choice(_words(LAST_NAMES[language]))
        last = last.replace("\u00a0", " ")
        domain = company["domain"] if company else rng.choice(("mail.example", "post.example", "inbox.example"))
        local = f"{_slug(first, '')}.{_slug(last, '')}"
        email = f"{local}@{domain}"
        k = 2
        while email in taken:
            email, k = f"{local}{k}@{domain}", k + 1
        taken.add(email)
        stage = _contact_stage(rng, company["stage"] if company else None)
        dates = _stage_dates(rng, stage, demo.now)
        place = _address(rng, country)
        custom: dict[str, Any] = {}
        if "contact.preferred_language" in demo.custom_keys and rng.random() < 0.7:
            custom["preferred_language"] = LANGUAGES[language]
        if "contact.birthday" in demo.custom_keys and rng.random() < 0.25:
            custom["birthday"] = (date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))).isoformat()
        contacts.append({
            "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "company_id": company["id"] if company else None,
            "first_name": first, "last_name": last, "title": rng.choice(TITLES) if company else None,
            "email": None if rng.random() < 0.03 else email,
            "phone": phone_number(rng, country) if rng.random() < 0.8 else None,
            **({k: place[k] for k in ("address", "city", "postal_code")} if company is None else
               {"address": None, "city": company["city"], "postal_code": None}),
            "country": country, "owner_id": company["owner_id"] if company and i % 4 else demo.owner(owners),
            "source": rng.choice(SOURCES), "stage": stage, **dates, "tags": _tags(rng),
            **_consent(rng, dates["lead_at"], demo.now), "custom": custom, "created_at": dates["lead_at"],
        })
    return contacts


def _plan_activities(demo: Demo) -> list[dict]:
    """Several per customer over the last 18 months; fewer for prospects and leads; all channels."""
    rng = demo.rng("activities")
    per_stage = {"customer": (3, 10), "churned": (2, 6), "prospect": (1, 4), "lead": (0, 2)}
    window = timedelta(days=548)
    rows = []
    for contact in demo.contacts:
        low, high = per_stage[contact["stage"]]
        start = max(contact["created_at"], demo.now - window)
        end = contact["churned_at"] or demo.now
        if end <= start:
            continue
        span = (end - start).total_seconds()
        for _ in range(rng.randint(low, high)):
            channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
            body = rng.choice(ACTIVITY_BODIES)
            rows.append({
                "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "contact_id": contact["id"],
                "company_id": contact["company_id"], "channel": channel,
                "direction": None if channel == "note" else rng.choice(("inbound", "outbound")),
                "subject": rng.choice(ACTIVITY_SUBJECTS[channel]),
                "body": body.format(city=contact["city"] or "them") if body else None,
                "occurred_at": start + timedelta(seconds=rng.uniform(0, span)),
                "created_by": contact["owner_id"] or demo.user_id,
            })
    for company in demo.companies:
        if company["stage"] == "customer" and rng.random() < 0.5:
            rows.append({
                "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "contact_id": None,
                "company_id": company["id"], "channel": "meeting", "direction": "outbound",
                "subject": "Account review", "body": "Reviewed last year's orders and next year's needs.",
                "occurred_at": demo.now - timedelta(days=rng.randint(1, 500), hours=rng.randint(0, 8)),
                "created_by": company["owner_id"] or demo.user_id,
            })
    return rows


def make_contacts(demo: Demo) -> int:
    demo.contacts = _plan_contacts(demo, N_CONTACTS)
    return insert_rows(demo.conn, "contacts", CONTACT_COLUMNS, demo.contacts)


def make_activities(demo: Demo) -> int:
    """Newest first, so the trigger keeping "last contacted" moves each record once, not once per activity."""
    rows = sorted(_plan_activities(demo), key=lambda a: a["occurred_at"], reverse=True)
    columns = {"id": "uuid", "workspace_id": "uuid", "contact_id": "uuid", "company_id": "uuid", "channel": "text",
               "direction": "text", "subject": "text", "body": "text", "occurred_at": "timestamptz",
               "created_by": "uuid"}
    return insert_rows(demo.conn, "activities", columns, rows)


def make_tasks(demo: Demo) -> int:
    """Open tasks overdue, due today and upcoming, and done ones; the loading user gets a share."""
    rng, who = demo.rng("tasks"), demo.rng("tasks.assignees")
    rows = []
    candidates = [c for c in demo.contacts if c["stage"] in ("customer", "prospect", "lead")]
    for contact in rng.sample(candidates, min(700, len(candidates))):
        bucket = rng.choices(("overdue", "today", "upcoming", "done"), (15, 8, 47, 30))[0]
        due = demo.today + timedelta(days={"overdue": -rng.randint(1, 30), "today": 0,
                                           "upcoming": rng.randint(1, 45), "done": -rng.randint(1, 120)}[bucket])
        assignee = demo.user_id if who.random() < 0.35 else (contact["owner_id"] or who.choice(demo.members))
        rows.append({
            "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "contact_id": contact["id"],
            "company_id": None, "title": rng.choice(TASK_TITLES), "due_date": due, "assignee_id": assignee,
            "priority": rng.choices(("low", "normal", "high", "urgent"), (20, 55, 20, 5))[0],
            "done_at": datetime.combine(due, time(15), tzinfo=timezone.utc) if bucket == "done" else None,
            "notes": rng.choice((None, None, "See the last email.", "They prefer mornings.")),
            "created_at": min(demo.now, datetime.combine(due, time(9), tzinfo=timezone.utc) - timedelta(days=rng.randint(1, 20))),
        })
    columns = {"id": "uuid", "workspace_id": "uuid", "contact_id": "uuid", "company_id": "uuid", "title": "text",
               "due_date": "date", "assignee_id": "uuid", "priority": "text", "done_at": "timestamptz",
               "notes": "text", "created_at": "timestamptz"}
    return insert_rows(demo.conn, "tasks", columns, rows)


PARTNER_PIPELINE = "Partnerships"
# name, probability, kind, rotting days
PARTNER_STAGES = (("Intro", 10, "open", 21), ("Evaluation", 30, "open", 30), ("Pilot", 60, "open", 45),
                  ("Contract", 80, "open", 21), ("Signed", 100, "won", None), ("Declined", 0, "lost", None))
PARTNER_TITLES = ("Reseller agreement", "Referral partnership", "Co-marketing", "Integration partnership",
                  "Distribution deal")
N_DEALS = {"sales": 620, "partners": 160}
DEAL_WINDOW_DAYS = 548  # 18 months of history
LOST_WEIGHTS = {"Price": 30, "Competitor": 25, "No budget": 15, "No decision": 15, "Timing": 10, "Other": 5}
DEAL_COLUMNS = {"id": "uuid", "workspace_id": "uuid", "pipeline_id": "uuid", "stage_id": "uuid", "contact_id": "uuid",
                "company_id": "uuid", "title": "text", "value": "numeric", "currency": "text", "owner_id": "uuid",
                "source": "text", "expected_close_date": "date", "created_at": "timestamptz"}


def _demo_pipelines(demo: Demo) -> dict[str, dict]:
    """The default pipeline and a new "Partnerships" one: {key: {id, open: [stage ids], won, lost}}.

    A pipeline lacking an open, a won or a lost stage (an admin may have shaped it so) gets no deals.
    """
    conn = demo.conn
    partners = conn.execute(
        "insert into public.pipelines (workspace_id, name, position)"
        " select %s, %s, coalesce(max(position) + 1, 1) from public.pipelines where workspace_id = %s returning id",
        [demo.workspace_id, PARTNER_PIPELINE, demo.workspace_id],
    ).fetchone()["id"]
    insert_rows(conn, "stages", {"workspace_id": "uuid", "pipeline_id": "uuid", "name": "text", "position": "int",
                                 "probability": "int", "kind": "text", "rotting_days": "int"},
                [{"workspace_id": demo.workspace_id, "pipeline_id": partners, "name": name, "position": i,
                  "probability": p, "kind": kind, "rotting_days": rot}
                 for i, (name, p, kind, rot) in enumerate(PARTNER_STAGES)])
    rows = conn.execute(
        "select p.id as pipeline_id, p.is_default, s.id, s.kind from public.pipelines p"
        " join public.stages s on s.pipeline_id = p.id"
        " where p.workspace_id = %s and (p.is_default or p.id = %s) order by s.position, s.name",
        [demo.workspace_id, partners],
    ).fetchall()
    found: dict[str, dict] = {}
    for r in rows:
        key = "partners" if r["pipeline_id"] == partners else "sales"
        entry = found.setdefault(key, {"id": str(r["pipeline_id"]), "open": [], "won": None, "lost": None})
        if r["kind"] == "open":
            entry["open"].append(str(r["id"]))
        else:
            entry[r["kind"]] = entry[r["kind"]] or str(r["id"])
    return {k: v for k, v in found.items() if v["open"] and v["won"] and v["lost"]}


def _deal_path(rng: random.Random, n_open: int, start: datetime, end: datetime) -> tuple[list[int], list[datetime]]:
    """Which stages a deal went through and when: open stage indexes, then -1 (won) or -2 (lost).

    A deal waits longer in later stages, is lost at any step, sometimes skips a stage, and now and
    then stalls where it is; whatever has not finished by `end` is still open.
    """
    steps, times = [0], [start]
    i, when = 0, start
    while True:
        when += timedelta(days=rng.uniform(2, 12 + 6 * i), hours=rng.uniform(0, 8))
        if when > end:
            return steps, times
        r = rng.random()
        last = i == n_open - 1
        if r < (0.35 if last else 0.2):
            i = -2
        elif last:
            i = -1
        elif r < 0.215:
            return steps, times  # stalled: still open, rotting
        else:
            i = min(i + (2 if r > 0.92 else 1), n_open - 1)
        steps.append(i)
        times.append(when)
        if i < 0:
            return steps, times


def _plan_deals(demo: Demo, pipelines: dict[str, dict], reasons: dict[str, str]) -> list[dict]:
    rng = demo.rng("deals")
    end = min(datetime.combine(demo.today, time(0), tzinfo=timezone.utc), datetime.now(timezone.utc))
    by_id = {c["id"]: c for c in demo.companies}
    pools = {outcome: [c for c in demo.contacts if c["stage"] in stages] for outcome, stages in
             {"won": ("customer",), "lost": ("churned", "prospect", "lead"), "open": ("prospect", "customer", "lead")}.items()}
    reason_names = [n for n in LOST_WEIGHTS if n in reasons] or list(reasons)
    plans = []
    for key, pipeline in pipelines.items():
        n_open = len(pipeline["open"])
        for _ in range(N_DEALS[key]):
            # more deals lately: a growing business
            start = end - timedelta(days=DEAL_WINDOW_DAYS * rng.random() ** 1.3, hours=rng.uniform(0, 10))
            steps, times = _deal_path(rng, n_open, start, end)
            outcome = "won" if steps[-1] == -1 else "lost" if steps[-1] == -2 else "open"
            pool = pools[outcome] or demo.contacts
            if key == "partners":
                pool = [c for c in pool if c["company_id"]] or pool
            contact = rng.choice(pool)
            company = by_id.get(contact["company_id"])
            value = round(rng.lognormvariate(9 if key == "partners" else 8, 0.9), -1) or 100
            stage_ids = [pipeline["open"][s] if s >= 0 else pipeline["won" if s == -1 else "lost"] for s in steps]
            if outcome == "open":
                close = demo.today + timedelta(days=rng.randint(-40, 25 + 30 * (n_open - steps[-1])))
            else:
                close = (times[-1] + timedelta(days=rng.randint(-25, 15))).date()
            name = company["name"] if company else contact["last_name"]
            plans.append({
                "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "pipeline_id": pipeline["id"],
                "stage_id": stage_ids[0], "contact_id": contact["id"], "company_id": contact["company_id"],
                "title": f"{rng.choice(PARTNER_TITLES if key == 'partners' else DEAL_TITLES)} – {name}",
                "value": value, "currency": COUNTRIES[contact["country"]][2],
                "owner_id": contact["owner_id"] or demo.owner(rng), "source": contact["source"],
                "expected_close_date": close, "created_at": times[0],
                "moves": stage_ids[1:], "times": times,
                "won_value": round(value * rng.uniform(0.85, 1.05), -1) if outcome == "won" else None,
                "lost_reason": reasons[_weighted(rng, {n: LOST_WEIGHTS.get(n, 5) for n in reason_names})]
                if outcome == "lost" and reason_names else None,
            })
    return plans


def make_deals(demo: Demo) -> int:
    """Deals in the default pipeline and a "Partnerships" one over the last 18 months, each moved
    through its stages by set-based updates (the trigger writes the stage history), won ones at
    their final value, lost ones with a reason; then the history gets its real dates
    (`private.backdate_deal_history`)."""
    conn = demo.conn
    pipelines = _demo_pipelines(demo)
    reasons = {r["name"]: str(r["id"]) for r in conn.execute(
        "select id, name from public.lost_reasons where workspace_id = %s and archived_at is null",
        [demo.workspace_id]).fetchall()}
    plans = _plan_deals(demo, pipelines, reasons)
    count = insert_rows(conn, "deals", DEAL_COLUMNS, plans)
    for k in range(max((len(p["moves"]) for p in plans), default=0)):
        moving = [p for p in plans if len(p["moves"]) > k]
        closing = [len(p["moves"]) == k + 1 for p in moving]
        conn.execute(
            "update public.deals d set stage_id = u.stage_id, value = coalesce(u.value, d.value),"
            " lost_reason_id = u.lost_reason_id"
            " from unnest(%s::uuid[], %s::uuid[], %s::numeric[], %s::uuid[]) as u (id, stage_id, value, lost_reason_id)"
            " where d.workspace_id = %s and d.id = u.id",
            [[p["id"] for p in moving], [p["moves"][k] for p in moving],
             [p["won_value"] if last else None for p, last in zip(moving, closing)],
             [p["lost_reason"] if last else None for p, last in zip(moving, closing)], demo.workspace_id],
        )
    history = [{"deal_id": p["id"], "times": [t.isoformat() for t in p["times"]]} for p in plans]
    conn.execute("select private.backdate_deal_history(%s, %s::jsonb)", [demo.workspace_id, json.dumps(history)])
    return count


# -- service desk ---------------------------------------------------------------------------------

N_TICKETS = 1100
TICKET_WINDOW_DAYS = 548  # 18 months, as the deals
TICKET_CHANNELS = {"email": 38, "phone": 18, "portal": 17, "chat": 16, "social": 7, "walk-in": 4}
TICKET_PRIORITIES = {"low": 18, "normal": 56, "high": 20, "urgent": 6}
DEFAULT_SLA = {"urgent": (60, 240), "high": (240, 1440), "normal": (480, 4320), "low": (1440, 10080)}
# how much of the first-response target a channel's first answer takes (phone and counter: at once)
ANSWER_SPEED = {"chat": 0.08, "phone": 0.03, "walk-in": 0.02}
KB_ARTICLE_COLUMNS = {"id": "uuid", "workspace_id": "uuid", "category_id": "uuid", "title": "text", "body": "text",
                      "status": "text", "created_at": "timestamptz", "updated_at": "timestamptz"}
TICKET_ROW_COLUMNS = {
    "id": "uuid", "workspace_id": "uuid", "subject": "text", "description": "text", "channel": "text",
    "priority": "text", "status": "text", "category": "text", "contact_id": "uuid", "company_id": "uuid",
    "assignee_id": "uuid", "first_responded_at": "timestamptz", "solved_at": "timestamptz",
    "closed_at": "timestamptz", "paused_at": "timestamptz", "csat": "int", "csat_comment": "text",
    "created_at": "timestamptz", "updated_at": "timestamptz",
}
COMMENT_COLUMNS = {"id": "uuid", "workspace_id": "uuid", "ticket_id": "uuid", "from_customer": "boolean",
                   "is_public": "boolean", "body": "text", "created_at": "timestamptz", "updated_at": "timestamptz"}


def _history_end(demo: Demo) -> datetime:
    """Where generated history stops: the start of `today`, or now if that is earlier."""
    return min(datetime.combine(demo.today, time(0), tzinfo=timezone.utc), datetime.now(timezone.utc))


def make_knowledge_base(demo: Demo) -> int:
    """Help-centre categories (kept if the workspace has them already) and articles written over
    the last 18 months, mostly published, two drafts; published ones are read now and then
    (`private.count_article_view`, one view at a time as in the app)."""
    conn, ws = demo.conn, demo.workspace_id
    rng = demo.rng("kb")
    conn.execute(
        "insert into public.kb_categories (workspace_id, name, position)"
        " select %s, u.name, u.position - 1 from unnest(%s::text[]) with ordinality as u (name, position)"
        " on conflict (workspace_id, private.fold(name)) do nothing", [ws, list(demo_desk.KB_CATEGORIES)])
    categories = {r["name"]: str(r["id"]) for r in conn.execute(
        "select u.name, c.id from unnest(%s::text[]) as u (name)"
        " join public.kb_categories c on c.workspace_id = %s and private.fold(c.name) = private.fold(u.name)",
        [list(demo_desk.KB_CATEGORIES), ws]).fetchall()}
    end = _history_end(demo)
    rows, n = [], len(demo_desk.KB_ARTICLES)
    for i, (category, title, status, body) in enumerate(demo_desk.KB_ARTICLES):
        created = end - timedelta(days=(n - i) * TICKET_WINDOW_DAYS / (n + 1) * rng.uniform(0.8, 1.0),
                                  hours=rng.uniform(0, 8))
        rows.append({"id": str(uuid.uuid4()), "workspace_id": ws, "category_id": categories.get(category),
                     "title": title, "body": body, "status": status, "created_at": created,
                     "updated_at": min(end, created + timedelta(days=rng.choice((0, 0, 1, 3, 20, 90))))})
    count = insert_rows(conn, "kb_articles", KB_ARTICLE_COLUMNS, rows)
    published = [r for r in rows if r["status"] == "published"]
    views = [min(400, int(rng.paretovariate(1.4) * 8)) for _ in published]
    conn.execute(
        "select count(private.count_article_view(u.id)) from unnest(%s::uuid[], %s::int[]) as u (id, n)"
        " cross join lateral generate_series(1, u.n)", [[r["id"] for r in published], views])
    demo.extra["kb_articles"] = {r["title"] for r in published}  # replies to tickets point to these
    return count


def _sla_targets(demo: Demo) -> dict[str, tuple[int, int]]:
    """First-response and resolution targets in minutes per priority, as the workspace has them."""
    targets = dict(DEFAULT_SLA)
    for r in demo.conn.execute("select priority, first_response_minutes, resolution_minutes"
                               " from public.sla_policies where workspace_id = %s", [demo.workspace_id]).fetchall():
        targets[r["priority"]] = (r["first_response_minutes"], r["resolution_minutes"])
    return targets


def _ticket_time(rng: random.Random, end: datetime) -> datetime:
    """A moment in the last 18 months, more often lately (a growing business), in working hours,
    seldom at weekends."""
    while True:
        day = (end - timedelta(days=TICKET_WINDOW_DAYS * rng.random() ** 1.4)).date()
        moment = datetime.combine(day, time(0), tzinfo=timezone.utc) + timedelta(hours=rng.triangular(6.5, 20, 10))
        if moment < end and (day.weekday() < 5 or rng.random() < 0.3):
            return moment


def _ticket_contact(rng: random.Random, pools: dict[str, list[dict]], regulars: list[dict],
                    at: datetime) -> dict | None:
    """A contact who existed (and had not churned) at `at`: mostly customers, some regulars often."""
    for _ in range(30):
        if regulars and rng.random() < 0.25:
            contact = rng.choice(regulars)
        else:
            pool = pools[_weighted(rng, {"customer": 74, "churned": 10, "prospect": 11, "lead": 5})] or pools["all"]
            if not pool:
                return None
            contact = rng.choice(pool)
        if contact["created_at"] <= at and (contact["churned_at"] is None or at <= contact["churned_at"]):
            return contact
    return None


def _plan_ticket(demo: Demo, rng: random.Random, text: random.Random, contact: dict | None, created: datetime,
                 end: datetime, targets: dict[str, tuple[int, int]]) -> tuple[dict, list[tuple], bool]:
    """One ticket, what was said on it (when, from the customer, public, body) and whether the
    customer reopened it lately; the status follows from how far its story got by `end`."""
    channel = _weighted(rng, TICKET_CHANNELS)
    priority = _weighted(rng, TICKET_PRIORITIES)
    category = _weighted(rng, demo_desk.TICKET_CATEGORIES)
    subject, message, summary, first_reply, solution, article = text.choice(demo_desk.TOPICS[category])
    if article not in demo.extra.get("kb_articles", ()):
        first_reply, solution = (t.replace("“{article}”", "our help centre") for t in (first_reply, solution))
    values = {"first": contact["first_name"] if contact else "there",
              "caller": contact["first_name"] if contact else "a customer", "order": text.randint(10000, 99999),
              "invoice": f"INV-{created.year}-{text.randint(1, 9999):04d}", "product": text.choice(demo_desk.PRODUCTS),
              "article": article}

    def say(template: str) -> str:  # placeholders filled, paragraphs starting with a capital
        return re.sub(r"(^|\n\n)([a-z])", lambda m: m[1] + m[2].upper(), template.format(**values))

    fr_target, res_target = targets[priority]
    to_answer = max(1.0, fr_target * ANSWER_SPEED.get(channel, 1.0) * rng.lognormvariate(-1.2, 0.95))
    to_solve = res_target * rng.lognormvariate(-1.1, 0.85)
    if created > end - timedelta(days=4) and rng.random() < 0.4:
        to_answer = 1e6  # nobody has picked it up yet
    stuck = created < end - timedelta(days=14) and rng.random() < 0.02  # waiting for weeks
    busy = stuck or (created > end - timedelta(days=7) and rng.random() < 0.25)  # not solved yet
    one_touch = not busy and (to_solve < to_answer + 5 or rng.random() < 0.25 or first_reply == solution)
    if one_touch:
        to_solve = to_answer + rng.uniform(2, 30)
    answered_at = created + timedelta(minutes=to_answer)
    solved_at = created + timedelta(minutes=to_solve)
    said: list[tuple] = []  # (when, from customer, public, body)
    if rng.random() < 0.25:
        said.append((created + timedelta(minutes=min(to_answer, to_solve) * rng.uniform(0.1, 0.8)), False, False,
                     text.choice(demo_desk.INTERNAL_NOTES)))
    ticket = {"status": "new", "paused_at": None, "solved_at": None, "closed_at": None, "csat": None,
              "csat_comment": None}
    reopened = False
    if answered_at < end:
        said.append((answered_at, False, True, say(solution if one_touch and solved_at < end else first_reply)))
    if answered_at >= end:
        pass  # nobody has answered yet: still new
    elif busy or solved_at >= end:
        ticket["status"] = "on_hold" if stuck and rng.random() < 0.6 else _weighted(
            rng, {"open": 50, "pending_customer": 32, "on_hold": 18})
        later = answered_at + (end - answered_at) * rng.uniform(0.1, 0.7)
        if ticket["status"] == "pending_customer":
            said.append((later, False, True, say(text.choice(demo_desk.TEAM_ASKS))))
            ticket["paused_at"] = later
        elif ticket["status"] == "on_hold":
            said.append((later, False, False, text.choice(demo_desk.ON_HOLD_NOTES)))
        elif rng.random() < 0.5:
            said.append((later, True, True, say(text.choice(demo_desk.CUSTOMER_FOLLOW_UPS))))
    else:
        if not one_touch:
            if rng.random() < 0.7:
                said.append((answered_at + (solved_at - answered_at) * rng.uniform(0.2, 0.6), True, True,
                             say(text.choice(demo_desk.CUSTOMER_FOLLOW_UPS))))
            said.append((solved_at, False, True, say(solution)))
        solved_at += timedelta(minutes=rng.uniform(0.5, 3))
        thanks = solved_at + timedelta(minutes=rng.uniform(10, 240))
        if rng.random() < 0.25 and thanks < end - timedelta(minutes=15):  # confirmed before marked solved
            said.append((thanks, True, True, text.choice(demo_desk.CUSTOMER_THANKS)))
            solved_at = thanks + timedelta(minutes=rng.uniform(1, 15))
        ticket["status"], ticket["solved_at"] = "solved", solved_at
        closes = solved_at + timedelta(days=rng.uniform(4, 10))  # closed after a quiet spell
        comeback = solved_at + timedelta(hours=rng.uniform(2, 72))
        if closes <= end:
            ticket["status"], ticket["closed_at"] = "closed", closes
        elif solved_at > end - timedelta(days=10) and comeback < end and rng.random() < 0.1:
            said.append((comeback, True, True, text.choice(demo_desk.CUSTOMER_REOPENS)))
            reopened = True  # inserted solved, then reopened as a customer's reply does
        else:
            # Still solved: any customer reply would reopen it (the reply trigger looks at the
            # ticket's status, not at the reply's date), so it shows the team's side only.
            said = [x for x in said if not x[1]]
        if not reopened and rng.random() < 0.45:
            late = to_answer > fr_target or to_solve > res_target
            rating = int(_weighted(rng, {"5": 20, "4": 25, "3": 25, "2": 15, "1": 15} if late else
                                   {"5": 55, "4": 28, "3": 10, "2": 4, "1": 3}))
            ticket["csat"] = rating
            if rng.random() < 0.35:
                ticket["csat_comment"] = text.choice(demo_desk.CSAT_COMMENTS[rating])
    open_now = ticket["status"] not in ("solved", "closed") or reopened
    assigned = rng.random() < (0.45 if ticket["status"] == "new" else 0.88 if open_now else 0.95)
    said = sorted(s for s in said if s[0] < end)
    ticket.update({
        "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "subject": say(subject)[:200],
        "description": say(demo_desk.PHONE_PREFIX[channel].format(caller="{caller}", summary=summary))
        if channel in demo_desk.PHONE_PREFIX else say(message),
        "channel": channel, "priority": priority, "category": None if rng.random() < 0.06 else category,
        "contact_id": contact["id"] if contact else None, "company_id": contact["company_id"] if contact else None,
        "assignee_id": rng.choice(demo.members) if assigned and demo.members else None,
        "first_responded_at": next((when for when, customer, public, _ in said if public and not customer), None),
        "created_at": created,
        "updated_at": max([created, *(x[0] for x in said), *filter(None, (ticket["solved_at"], ticket["closed_at"]))]),
    })
    return ticket, said, reopened


def make_tickets(demo: Demo) -> int:
    """Tickets of the last 18 months on every channel, from the demo contacts: old ones solved or
    closed (some rated, some late), recent ones new, open, pending or on hold, a few reopened by
    the customer; with their conversation (public replies and internal notes) at its real times.

    Tickets go in oldest first with their final state and times (the trigger numbers them
    T-1001… in that order and sets the SLA due times from `created_at`; `first_responded_at` is
    the time of the first public reply from the team); the replies follow with their own times;
    tickets the customer wrote back to after the solution then move from solved to open through
    the status trigger (which counts the reopen), as a customer's reply by email does.
    """
    rng, text = demo.rng("tickets"), demo.rng("tickets.text")
    end = _history_end(demo)
    targets = _sla_targets(demo)
    pools: dict[str, list[dict]] = {s: [c for c in demo.contacts if c["stage"] == s] for s in STAGE_WEIGHTS}
    pools["all"] = demo.contacts
    regulars = rng.sample(pools["customer"], min(60, len(pools["customer"])))
    tickets, comments, reopened = [], [], []
    for created in sorted(_ticket_time(rng, end) for _ in range(N_TICKETS)):
        contact = _ticket_contact(rng, pools, regulars, created)
        ticket, said, again = _plan_ticket(demo, rng, text, contact, created, end, targets)
        tickets.append(ticket)
        comments += [{"id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "ticket_id": ticket["id"],
                      "from_customer": customer, "is_public": public, "body": body, "created_at": when,
                      "updated_at": when} for when, customer, public, body in said]
        if again:
            reopened.append(ticket["id"])
    count = insert_rows(demo.conn, "tickets", TICKET_ROW_COLUMNS, tickets)
    insert_rows(demo.conn, "ticket_comments", COMMENT_COLUMNS, sorted(comments, key=lambda c: c["created_at"]))
    demo.conn.execute("update public.tickets set status = 'open'"
                      " where workspace_id = %s and id = any(%s::uuid[]) and status = 'solved'",
                      [demo.workspace_id, reopened])
    return count


# -- front office ---------------------------------------------------------------------------------

ORDER_WINDOW_DAYS = 730  # 24 months
SHOP_CURRENCY = "EUR"  # UK trade accounts pay in pounds (demo_shop.GBP_RATE)
ORDER_PREFIX = "D-"  # never collides with the app's SO-numbers
# rhythm -> (share among trade accounts, among private customers, days between orders for trade,
# for private, chance to stop after each order)
RHYTHMS = {"regular": (60, 25, (10, 45), (21, 75), 0.03),
           "occasional": (30, 45, (30, 120), (45, 150), 0.12),
           "once": (10, 30, (1, 1), (1, 1), 1.0)}
LAPSE_SHARE = 0.15  # regulars (still "customer") who stopped ordering a few intervals ago: churn risk
GIFT_SHARE = 0.3  # private customers who add a December order of presents
ANONYMOUS_SHARE = 0.05  # guest checkouts without a customer
CANCEL_SHARE = 0.03
RETURN_SHARE = 0.05  # shipped orders with a returned line
NEVER_PAID = 0.008  # trade invoices still unpaid long after their due date
PAYMENT_TERMS_DAYS = 30
PRODUCT_COLUMNS = {"id": "uuid", "workspace_id": "uuid", "sku": "text", "name": "text", "category": "text",
                   "price": "numeric", "cost": "numeric", "currency": "text", "created_at": "timestamptz",
                   "updated_at": "timestamptz"}
ORDER_COLUMNS = {"id": "uuid", "workspace_id": "uuid", "number": "text", "contact_id": "uuid", "company_id": "uuid",
                 "status": "text", "ordered_at": "timestamptz", "shipped_at": "timestamptz", "paid_at": "timestamptz",
                 "cancelled_at": "timestamptz", "country": "text", "currency": "text", "notes": "text",
                 "created_at": "timestamptz", "updated_at": "timestamptz"}
LINE_COLUMNS = {"workspace_id": "uuid", "order_id": "uuid", "product_id": "uuid", "position": "int",
                "description": "text", "quantity": "numeric", "unit_price": "numeric", "discount": "numeric",
                "created_at": "timestamptz", "updated_at": "timestamptz"}
INVOICE_COLUMNS = {"workspace_id": "uuid", "order_id": "uuid", "status": "text", "issued_on": "date", "due_on": "date",
                   "paid_on": "date", "currency": "text", "subtotal": "numeric", "tax_rate": "numeric",
                   "tax_amount": "numeric", "total": "numeric", "created_at": "timestamptz", "updated_at": "timestamptz"}
CENT = Decimal("0.01")


def _plan_products(demo: Demo) -> list[dict]:
    """The catalogue with SKUs, prices in euros (and pounds), costs (unknown for gift cards and a
    few others), and how likely trade and private customers are to pick each product."""
    rng = demo.rng("orders.products")
    created = _history_end(demo) - timedelta(days=ORDER_WINDOW_DAYS + 60)
    numbers: dict[str, int] = {}
    products = []
    for category, name, price, popularity, consumable in demo_shop.PRODUCTS:
        prefix, cost_share, trade, private = demo_shop.CATEGORIES[category]
        numbers[prefix] = numbers.get(prefix, 100) + 1
        eur = Decimal(str(price)).quantize(CENT)
        gift_card = name.startswith("Gift card")
        products.append({
            "id": str(uuid.uuid4()), "workspace_id": demo.workspace_id, "sku": f"{prefix}-{numbers[prefix]}",
            "name": name, "category": category, "price": eur, "currency": SHOP_CURRENCY,
            "cost": None if not cost_share or rng.random() < 0.08 else
            Decimal(str(round(price * cost_share * rng.uniform(0.85, 1.15), 2))),
            "created_at": created, "updated_at": created + timedelta(days=rng.choice((0, 0, 0, 200, 400))),
            "prices": {SHOP_CURRENCY: eur, "GBP": eur if gift_card else Decimal(max(1, round(price * demo_shop.GBP_RATE))) - CENT},
            "trade": popularity * trade, "private": popularity * private, "consumable": consumable,
        })
    return products


def _shop_time(rng: random.Random, moment: datetime, trade: bool) -> datetime:
    """The order's time on that day: trade accounts order on working days in office hours,
    private customers any day, mostly in the evening."""
    day = moment.date()
    if trade and day.weekday() >= 5:
        day += timedelta(days=7 - day.weekday())
    hours = rng.uniform(8, 17.5) if trade else rng.triangular(7, 23.5, 20)
    return datetime.combine(day, time(0), tzinfo=timezone.utc) + timedelta(hours=hours)


def _purchase_times(rng: random.Random, trade: bool, start: datetime, stop: datetime,
                    end: datetime) -> tuple[list[datetime], datetime]:
    """When a customer ordered, from `start` (becoming a customer) until `stop` (churning, or now):
    regulars at a steady interval, occasional buyers at random, some only once; every order may
    be the last, and some regulars simply stopped. Returns the times and when ordering stopped."""
    kind = _weighted(rng, {k: v[0 if trade else 1] for k, v in RHYTHMS.items()})
    gap = rng.uniform(*RHYTHMS[kind][2 if trade else 3])
    if kind == "regular" and stop >= end and rng.random() < LAPSE_SHARE:
        stop = end - timedelta(days=gap * rng.uniform(3, 8))
    moment, times = start + timedelta(days=rng.uniform(1, 10)), []  # a day later at the earliest
    while moment < stop:
        times.append(_shop_time(rng, moment, trade))
        if rng.random() < RHYTHMS[kind][4]:
            stop = moment
            break
        moment += timedelta(days=gap * rng.uniform(0.8, 1.25) if kind == "regular" else max(2.0, rng.expovariate(1 / gap)))
    return [t for t in times if t < min(stop + timedelta(days=3), end)], stop


def _plan_buyers(demo: Demo, rng: random.Random, products: list[dict]) -> list[dict]:
    """Who buys: demo companies (trade accounts, ordering through their people) and contacts
    outside them (private customers) that are or were customers, each with a rhythm, a currency,
    a trade discount and the products they keep buying."""
    end = _history_end(demo)
    start = end - timedelta(days=ORDER_WINDOW_DAYS)
    people: dict[str, list[dict]] = {}
    for contact in demo.contacts:
        if contact["company_id"]:
            people.setdefault(contact["company_id"], []).append(contact)
    trade_accounts = {c["id"] for c in demo.companies if c["stage"] in ("customer", "churned")}
    candidates = [(c, True) for c in demo.companies] + [(c, False) for c in demo.contacts
                                                        if c["company_id"] not in trade_accounts]
    consumables = [p for p in products if p["consumable"]]
    buyers = []
    for record, trade in candidates:
        if record["stage"] not in ("customer", "churned"):
            continue
        times, stopped = _purchase_times(rng, trade, record["customer_at"], record["churned_at"] or end, end)
        staples = rng.choices(consumables, [p["trade" if trade else "private"] for p in consumables],
                              k=rng.choice((1, 1, 2, 3) if trade else (0, 0, 1)))
        buyer = {
            "company": record if trade else None, "contact": None if trade else record, "trade": trade,
            "people": sorted(people.get(record["id"], []), key=lambda c: c["created_at"]) if trade else [],
            "country": record["country"], "staples": list(dict.fromkeys(p["id"] for p in staples)),
            "currency": "GBP" if trade and record["country"] == "GB" else SHOP_CURRENCY,
            "discount": rng.choice((0, 0, 5, 10, 15)) if trade else 0,
            "times": [(t, False) for t in times if t >= start],
        }
        if not trade and times:  # presents bought in December
            for year in range(start.year, end.year + 1):
                december = datetime(year, 12, 1, tzinfo=timezone.utc)
                if times[0] < december and stopped > december + timedelta(days=21) and rng.random() < GIFT_SHARE:
                    when = _shop_time(rng, december + timedelta(days=rng.uniform(0, 21)), False)
                    if start <= when < end:
                        buyer["times"].append((when, True))
        if buyer["times"]:
            buyers.append(buyer)
    return buyers


def _basket(rng: random.Random, buyer: dict | None, gift: bool, catalogue: dict[str, dict],
            weights: dict[bool, tuple[list[dict], list[float]]], gifts: list[dict]) -> list[tuple[dict, int]]:
    """What one order holds: the customer's staples (often), a few products by popularity, and the
    products bought with them (bundles); (product, quantity) once per product."""
    trade = bool(buyer and buyer["trade"])
    picks: list[dict] = []
    if gift:
        picks = rng.sample(gifts, rng.choice((1, 1, 2, 3)))
    else:
        if buyer:
            picks = [catalogue[p] for p in buyer["staples"] if rng.random() < 0.6]
        odds = (0.65, 0.45, 0.3) if trade else (0.45, 0.2)  # of a second, third, … product
        extra = 0 if picks and rng.random() < 0.3 else 1 + sum(rng.random() < p for p in odds)
        pool, cumulative = weights[trade]
        picks += rng.choices(pool, cum_weights=cumulative, k=extra)
    for product in list(picks):
        for partner, chance in demo_shop.BUNDLES.get(product["name"], ()):
            if rng.random() < chance:
                picks.append(catalogue[partner])
    basket = []
    for product in {p["id"]: p for p in picks}.values():
        if product["consumable"]:
            quantity = rng.choice((2, 3, 4, 5, 6, 8, 10, 12) if trade else (1, 1, 1, 2, 2, 3))
        elif product["price"] > 300:
            quantity = rng.choice((1, 1, 1, 2, 4) if trade else (1,))
        else:
            quantity = rng.choice((1, 1, 1, 2, 2, 3, 4, 6) if trade else (1, 1, 1, 1, 1, 1, 2))
        basket.append((product, quantity))
    return basket


def _order_story(rng: random.Random, ordered: datetime, trade: bool, end: datetime) -> dict:
    """How far an order got by `end`: cancelled, draft (a trade quote of the last days), confirmed,
    shipped, invoiced (trade accounts pay within their terms, late or, rarely, not at all) or
    paid (private customers pay at checkout; their invoice is issued and paid on dispatch)."""
    story: dict[str, Any] = {"status": "confirmed", "shipped_at": None, "paid_at": None, "cancelled_at": None,
                             "invoice": None}
    if rng.random() < CANCEL_SHARE:
        cancelled = ordered + timedelta(hours=rng.uniform(1, 72))
        if cancelled < end:
            return story | {"status": "cancelled", "cancelled_at": cancelled}
    if trade and ordered > end - timedelta(days=6) and rng.random() < 0.3:
        return story | {"status": "draft"}
    shipped = ordered + timedelta(hours=rng.uniform(6, 96 if trade else 60))
    if trade and rng.random() < 0.1:  # made to order or out of stock
        shipped += timedelta(days=rng.uniform(5, 20))
    if shipped >= end:
        return story
    story |= {"status": "shipped", "shipped_at": shipped}
    if trade:
        issued = shipped.date() + timedelta(days=rng.choice((0, 1, 2, 3, 5, 7)))  # the weekly invoice run
        if issued >= end.date():
            return story
        due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
        paid = None if rng.random() < NEVER_PAID else issued + timedelta(days=max(1, round(rng.lognormvariate(3.0, 0.5))))
        paid_at = paid and datetime.combine(paid, time(0), tzinfo=timezone.utc) + timedelta(hours=rng.uniform(8, 17))
    else:
        issued = due = paid = shipped.date()
        paid_at = shipped
    if paid is not None and paid >= end.date():
        paid = paid_at = None
    story["invoice"] = {"issued_on": issued, "due_on": due, "paid_on": paid}
    return story | {"status": "paid" if paid else "invoiced", "paid_at": paid_at}


def _amount(quantity: int, price: Decimal, discount: int) -> Decimal:
    """A line's amount as the database computes it (numeric round: halves away from zero)."""
    return (quantity * price * (1 - Decimal(discount) / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def _plan_order(demo: Demo, rng: random.Random, buyer: dict | None, when: datetime, gift: bool,
                basket: list[tuple[dict, int]]) -> tuple[dict, list[dict], dict | None]:
    """The order (customer, status, dates), its lines (with a returned one now and then) and its
    invoice (totals as the app computes them), or None."""
    end = _history_end(demo)
    trade = bool(buyer and buyer["trade"])
    story = _order_story(rng, when, trade, end)
    contact = buyer["contact"] if buyer else None
    if trade:
        known = [p for p in buyer["people"] if p["created_at"] <= when]
        if known and rng.random() < 0.9:
            contact = known[0] if rng.random() < 0.75 else rng.choice(known)
    currency = buyer["currency"] if buyer else SHOP_CURRENCY
    country = buyer["country"] if buyer else _countries(rng, 1)[0]
    discount = buyer["discount"] if trade else (10 if buyer and not gift and rng.random() < 0.08 else 0)
    order_id = str(uuid.uuid4())
    lines = [{"product": p, "quantity": q, "unit_price": p["prices"][currency], "discount": discount}
             for p, q in basket]
    if story["shipped_at"] and rng.random() < RETURN_SHARE and (len(lines) > 1 or lines[0]["quantity"] > 1):
        back = rng.choice(lines)
        quantity = -rng.randint(1, back["quantity"] - 1) if back["quantity"] > 1 else -1
        lines.append(back | {"quantity": quantity,
                             "description": f"{back['product']['name']} – {rng.choice(demo_shop.RETURN_NOTES)}"})
    stamp = {"workspace_id": demo.workspace_id, "order_id": order_id, "created_at": when, "updated_at": when}
    rows = [stamp | {"product_id": ln["product"]["id"], "position": i, "quantity": ln["quantity"],
                     "description": ln.get("description") or ln["product"]["name"], "unit_price": ln["unit_price"],
                     "discount": ln["discount"]} for i, ln in enumerate(lines, 1)]
    order = {
        "id": order_id, "workspace_id": demo.workspace_id, "company_id": buyer["company"]["id"] if trade else None,
        "contact_id": contact["id"] if contact else None, "ordered_at": when, "country": country, "currency": currency,
        "notes": rng.choice(demo_shop.ORDER_NOTES) if rng.random() < 0.05 else None, "created_at": when,
        **{k: story[k] for k in ("status", "shipped_at", "paid_at", "cancelled_at")},
    }
    order["updated_at"] = max(filter(None, (when, story["shipped_at"], story["paid_at"], story["cancelled_at"])))
    invoice = None
    if story["invoice"]:
        subtotal = sum((_amount(ln["quantity"], ln["unit_price"], ln["discount"]) for ln in lines), Decimal(0))
        rate = Decimal(demo_shop.TAX_RATES.get(country, 0))
        tax = (subtotal * rate / 100).quantize(CENT)  # as lib.orders.issue_invoice
        issued = story["shipped_at"] if story["invoice"]["issued_on"] == story["shipped_at"].date() else \
            datetime.combine(story["invoice"]["issued_on"], time(0), tzinfo=timezone.utc) + timedelta(hours=rng.uniform(8, 18))
        invoice = story["invoice"] | {
            "workspace_id": demo.workspace_id, "order_id": order_id, "currency": currency, "subtotal": subtotal,
            "tax_rate": rate, "tax_amount": tax, "total": subtotal + tax,
            "status": "paid" if story["invoice"]["paid_on"] else "issued", "created_at": issued,
            "updated_at": story["paid_at"] if story["paid_at"] and story["paid_at"] > issued else issued,
        }
    return order, rows, invoice


def make_orders(demo: Demo) -> int:
    """The front office of the last 24 months: a catalogue of home, kitchen and office goods
    (`demo_shop`), orders from the demo's trade accounts (companies) and private customers
    (contacts outside those companies) with their rhythm of repeat orders (regulars, occasional buyers,
    one-off buyers, churned and lapsed ones, December presents), products bought together,
    returned lines, a few cancellations, guest checkouts without a customer, and the invoices
    of shipped orders (trade accounts pay within 30 days, late or not at all; private customers
    at checkout). Euros, and pounds for UK trade accounts.

    Orders go in with their final status and dates, numbered D-100001… by order date; all lines
    in one statement (the statement trigger totals each order once); invoices in issue order,
    so their gapless numbers follow their dates.
    """
    rng, baskets = demo.rng("orders"), demo.rng("orders.baskets")
    end = _history_end(demo)
    products = _plan_products(demo)
    catalogue = {p["name"]: p for p in products} | {p["id"]: p for p in products}
    weights = {trade: (products, list(itertools.accumulate(p["trade" if trade else "private"] for p in products)))
               for trade in (True, False)}
    gifts = [catalogue[name] for name in demo_shop.GIFT_SEASON]
    visits = [(when, gift, buyer) for buyer in _plan_buyers(demo, rng, products) for when, gift in buyer["times"]]
    guests = round(len(visits) * ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE))
    visits += [(_shop_time(rng, end - timedelta(days=ORDER_WINDOW_DAYS * rng.random() ** 1.2), False), False, None)
               for _ in range(guests)]
    visits = sorted((v for v in visits if v[0] < end), key=lambda v: v[0])
    orders, lines, invoices = [], [], []
    for number, (when, gift, buyer) in enumerate(visits, 100001):
        basket = _basket(baskets, buyer, gift, catalogue, weights, gifts)
        order, rows, invoice = _plan_order(demo, rng, buyer, when, gift, basket)
        orders.append(order | {"number": f"{ORDER_PREFIX}{number}"})
        lines += rows
        if invoice:
            invoices.append(invoice | {"sort": (invoice["issued_on"], number)})
    insert_rows(demo.conn, "products", PRODUCT_COLUMNS, products)
    count = insert_rows(demo.conn, "orders", ORDER_COLUMNS, orders)
    insert_rows(demo.conn, "order_lines", LINE_COLUMNS, lines)
    insert_rows(demo.conn, "invoices", INVOICE_COLUMNS, sorted(invoices, key=lambda i: i["sort"]))
    demo.extra["products"] = products
    return count


STEPS: list[Step] = [
    Step("custom_fields", "Custom fields", make_custom_fields, 0.2),
    Step("companies", "Companies", make_companies, 0.5),
    Step("contacts", "Contacts", make_contacts, 2),
    Step("activities", "Activities", make_activities, 3),
    Step("tasks", "Tasks", make_tasks, 0.5),
    Step("deals", "Deals", make_deals, 0.3),
    Step("kb_articles", "Knowledge base", make_knowledge_base, 0.2),
    Step("tickets", "Tickets", make_tickets, 1),
    Step("orders", "Products, orders and invoices", make_orders, 1.5),
    Step("campaigns", "Segments, email templates and campaigns", demo_marketing.make_campaigns, 0.3),
]


def has_customers(db: Database, claims: Claims, workspace_id: str) -> bool:
    """Whether the workspace already holds contacts or companies (demo data is for empty ones)."""
    with db.as_user(claims) as conn:
        return _has_customers(conn, workspace_id)


def _has_customers(conn: psycopg.Connection, workspace_id: str) -> bool:
    return conn.execute(
        "select exists (select 1 from public.contacts where workspace_id = %(ws)s)"
        " or exists (select 1 from public.companies where workspace_id = %(ws)s) as found",
        {"ws": workspace_id},
    ).fetchone()["found"]


def load_demo(db: Database, claims: Claims, workspace_id: str, seed: int = 42,
              progress: Callable[[float, str], None] | None = None, today: date | None = None) -> dict[str, int]:
    """Fill an empty workspace with demo records as `claims` (an owner or admin); {step: rows}.

    All or nothing: one transaction. `progress(fraction, text)` is called before each step.
    """
    today = today or date.today()
    with db.as_user(claims) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('relata.demo:' || %s))", [str(workspace_id)])
        role = conn.execute(
            "select role from public.workspace_members where workspace_id = %s and user_id = %s",
            [workspace_id, claims.sub],
        ).fetchone()
        if role is None or role["role"] not in ("owner", "admin"):
            raise UserError("Only owners and admins can load demo data.")
        if _has_customers(conn, workspace_id):
            raise UserError("This workspace already has customers. Demo data can only be loaded into an empty workspace.")
        members = [str(r["user_id"]) for r in conn.execute(
            "select user_id from public.workspace_members where workspace_id = %s order by created_at, user_id",
            [workspace_id],
        ).fetchall()]
        demo = Demo(conn, str(workspace_id), str(claims.sub), seed, today, members)
        total = sum(step.weight for step in STEPS)
        done, counts = 0.0, {}
        for step in STEPS:
            if progress:
                progress(done / total, step.label)
            counts[step.key] = step.run(demo)
            done += step.weight
        if progress:
            progress(1.0, "Done")
    return counts


# -- command line ---------------------------------------------------------------------------------

def _user_id(admin_conninfo: str, email: str) -> str:
    with psycopg.connect(admin_conninfo) as conn:
        row = conn.execute("select id from auth.users where lower(email) = lower(%s)", [email]).fetchone()
    if row is None:
        raise UserError(f"No user with the email {email}.")
    return str(row[0])


def _print_progress(fraction: float, text: str) -> None:
    print(f"{fraction:4.0%}  {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.demo", description="Load demo data into a workspace.")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--workspace", help="id of an empty workspace (with --email of an owner or admin)")
    target.add_argument("--new", action="store_true", help="sign up a new demo user with a new workspace")
    parser.add_argument("--email", help="the user to load as (with --workspace)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.workspace and not args.email:
        parser.error("--workspace needs --email")

    from lib.config import load_settings
    from lib.runtime import open_runtime

    runtime = open_runtime(load_settings())
    try:
        if args.new:
            from lib.auth.adapters import LocalAuth
            from lib.auth.service import AuthService

            if runtime.settings.mode == "supabase":
                raise UserError("--new signs up a local user; in Supabase mode sign up in the app, then use --workspace.")
            email = f"demo-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(12)
            signed = AuthService(runtime.db, LocalAuth(runtime.db)).sign_up(
                email, password, "Demo User", "Demo: Harbour & Co")
            claims, workspace_id = signed.user.claims, signed.workspace_id
        else:
            email, password = args.email, None
            claims, workspace_id = Claims(sub=_user_id(runtime.admin_conninfo, email), email=email), args.workspace
        counts = load_demo(runtime.db, claims, workspace_id, seed=args.seed, progress=_print_progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("Loaded: " + ", ".join(f"{n:,} {key.replace('_', ' ')}" for key, n in counts.items()))
    print(f"Workspace: {workspace_id}")
    if password:
        print(f"Sign in with:  email {email}   password {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
