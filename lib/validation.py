"""Field validation shared by every form: each check returns the clean value or raises."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def clean_email(value: str | None) -> str:
    """Lower-cased, trimmed email; ValueError with a readable message when it is not one."""
    text = (value or "").strip()
    if not text:
        raise ValueError("Enter an email address.")
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"That is not a valid email address: {exc}") from None


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
