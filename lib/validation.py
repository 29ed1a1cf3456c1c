"""Field validation shared by every form: each check returns the clean value or raises."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from lib.text import md_escape


def clean_email(value: str | None) -> str:
    """Lower-cased, trimmed email; ValueError with a readable message when it is not one."""
    text = (value or "").strip()
    if not text:
        raise ValueError("Enter an email address.")
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"That is not a valid email address: {md_escape(exc)}") from None


def clean_name(value: str | None, what: str, max_length: int = 100) -> str:
    """Trimmed non-empty text of at most `max_length` characters."""
    text = " ".join((value or "").split())
    if not text:
        raise ValueError(f"Enter a {what}.")
    if len(text) > max_length:
        raise ValueError(f"The {what} can be at most {max_length} characters long.")
    return text


def collect(checks: dict[str, tuple]) -> tuple[dict[str, object], dict[str, str]]:
    """Run `{field: (check, *args)}`; return the clean values and the messages of those that failed."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for field, (check, *args) in checks.items():
        try:
            values[field] = check(*args)
        except ValueError as exc:
            errors[field] = str(exc)
    return values, errors


def optional_text(value: object, what: str, max_length: int = 100) -> str | None:
    """Trimmed text, None when empty; ValueError when longer than `max_length`."""
    text = " ".join(str(value).split()) if value is not None else ""
    if not text:
        return None
    if len(text) > max_length:
        raise ValueError(f"The {what} can be at most {max_length} characters long.")
    return text


def optional_email(value: object) -> str | None:
    return clean_email(str(value)) if value is not None and str(value).strip() else None


def clean_phone(value: object, default_region: str | None = None) -> str | None:
    """E.164 (`+33612345678`) via the phonenumbers library; None when empty.

    A number without a leading + or 00 is read as a national number of `default_region`
    (the record's country, if it has one).
    """
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        hint = "" if default_region or text.startswith("+") else " Start it with + and the country code, or set the country."
        raise ValueError(f"“{md_escape(text)}” is not a phone number.{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"“{md_escape(text)}” does not look like a complete phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    """A stored E.164 number in international format for display (`+33 6 12 34 56 78`)."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


# Names pycountry does not know that real files use (the retail file writes Ireland as "EIRE").
COUNTRY_ALIASES = {"eire": "IE", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
                   "wales": "GB", "usa": "US", "rsa": "ZA", "holland": "NL"}


@lru_cache(maxsize=4096)
def clean_country(value: object) -> str | None:
    """ISO 3166 alpha-2 code from a code (`fr`, `FRA`) or an English name (`France`); None when empty."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if text.lower() in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[text.lower()]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    try:
        return pycountry.countries.search_fuzzy(text)[0].alpha_2
    except LookupError:
        raise ValueError(f"“{md_escape(text)}” is not a country we know. Use its name or a two-letter code such as FR.") from None


def country_name(code: str | None) -> str:
    country = pycountry.countries.get(alpha_2=code) if code else None
    return country.name if country else (code or "")


COUNTRY_CODES = tuple(sorted(c.alpha_2 for c in pycountry.countries))


def clean_url(value: object, what: str = "website") -> str | None:
    """An http(s) address; `example.com` becomes `https://example.com`. None when empty."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or "." not in parts.netloc or " " in text:
        raise ValueError(f"Enter a {what} address such as https://example.com.")
    if len(text) > 300:
        raise ValueError(f"The {what} address can be at most 300 characters long.")
    return text


def clean_tags(value: object) -> list[str]:
    """Tags from a list or a comma/semicolon separated string: trimmed, lower-cased, unique, sorted."""
    items = value if isinstance(value, (list, tuple, set)) else re.split(r"[,;]", str(value or ""))
    tags = sorted({" ".join(str(t).split()).lower() for t in items if str(t).strip()})
    for tag in tags:
        if len(tag) > 40:
            raise ValueError(f"The tag “{md_escape(tag[:40])}…” is longer than 40 characters.")
    return tags


TRUE_WORDS = {"1", "true", "yes", "y", "x", "oui", "ja", "si", "on", "opt-in", "opted in", "checked"}
FALSE_WORDS = {"", "0", "false", "no", "n", "non", "nein", "off", "opt-out", "opted out", "unchecked"}


def clean_bool(value: object, what: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"Use yes or no for the {what}.")


def clean_currency(value: object, default: str | None = None) -> str:
    """A three-letter currency code (A–Z), upper-cased; blank gives `default` when there is one."""
    raw = str(value if value is not None else "").strip()
    text = (raw or default or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(f"“{md_escape(raw)}” is not a three-letter currency code such as EUR or USD." if raw
                         else "Enter a three-letter currency code such as EUR or USD.")
    return text


def clean_date(value: object, what: str = "date") -> date | None:
    """A date from a date, an ISO string, or a common day-first / month-name format; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"“{md_escape(text)}” is not a {what} (use YYYY-MM-DD).")


def decimal_text(value: object) -> str:
    """Digits with a point for decimals, from what people type: 1,234.5 and 1.234,5 (the last of
    the two marks is the decimal one), 1,500 and 1.234.567 (groups of three: thousands), 12,5;
    spaces (thin, non-breaking) between digit groups are dropped."""
    text = re.sub(r"\s", "", "" if value is None else str(value))
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        return text.replace("." if decimal == "," else ",", "").replace(",", ".")
    if "," in text:
        return text.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", text) else text.replace(",", ".")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3}){2,}", text):
        return text.replace(".", "")
    return text


def clean_number(value: object, what: str = "number") -> float | int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"Enter a number for the {what}.")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = decimal_text(value)
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"“{md_escape(value)}” is not a number ({what}).") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"Enter a finite number for the {what}.")
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else number


def is_uuid(text: object) -> bool:
    """Whether `text` is a UUID (record ids in deep links are checked before any query)."""
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True
