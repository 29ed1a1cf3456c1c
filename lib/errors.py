"""Errors the UI shows to people: what went wrong, and where in the form."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; `str(exc)` is the message to show."""


class FormErrors(UserError):
    """Validation failed before anything was written: one message per field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class ConflictError(UserError):
    """Someone saved a newer version first; `current` is what is stored now."""

    def __init__(self, message: str, current: dict | None = None):
        super().__init__(message)
        self.current = current
