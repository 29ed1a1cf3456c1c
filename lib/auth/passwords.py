"""Password rules and bcrypt hashing (GoTrue's format: `$2a$`/`$2b$` hashes, cost 10)."""

from __future__ import annotations

import bcrypt

MIN_LENGTH = 10
MAX_BYTES = 72  # bcrypt ignores what follows; refuse rather than silently truncate
COST = 10
# Checked against when the email is unknown, so that case takes as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"relata-dummy-password", bcrypt.gensalt(COST))


def check_password(password: str, email: str = "") -> str:
    """The password if it follows the rules; ValueError saying which rule it breaks."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"Use at least {MIN_LENGTH} characters.")
    if len(password.encode()) > MAX_BYTES:
        raise ValueError(f"Use at most {MAX_BYTES} bytes (about {MAX_BYTES} plain letters).")
    if not any(c.isalpha() for c in password) or not any(not c.isalpha() for c in password):
        raise ValueError("Mix letters with at least one digit or symbol.")
    if email and password.strip().lower() in {email.lower(), email.split("@")[0].lower()}:
        raise ValueError("Do not use your email address as password.")
    if len(set(password)) < 4:
        raise ValueError("Use more different characters.")
    return password


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(COST)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    """True when `password` matches `hashed`; spends the same time when there is no hash."""
    candidate = password.encode()[:MAX_BYTES]
    if not hashed:
        bcrypt.checkpw(candidate, _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(candidate, hashed.encode())
    except ValueError:
        return False
