"""Settings for Relata, read from the environment or `.streamlit/secrets.toml`.

The environment wins over secrets, so a deployment can override a committed-free secrets file.
The run mode follows from what is set:

- `SUPABASE_URL` + `SUPABASE_ANON_KEY` + `SUPABASE_DB_URL` → Supabase (all three or none);
- `DATABASE_URL` → any Postgres 15+;
- nothing → an embedded Postgres in `RELATA_DATA_DIR` (default `./.relata`).

Email delivery (`lib.mailer`): `SMTP_URL` (`smtp://user:pass@host:587?starttls=1` or
`smtps://user:pass@host:465`; unset = nothing is sent), `RELATA_MAIL_FROM` (the sender address,
default `no-reply@relata.local`; its domain also names the Message-IDs),
`RELATA_MAIL_RATE_PER_MINUTE` (0 or unset = no limit) and `RELATA_PUBLIC_URL` (the address
people reach the app at, for the links in emails: the worker has no browser request to read it from).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

SUPABASE_KEYS = ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_DB_URL")
DEFAULT_SECRETS = Path(".streamlit") / "secrets.toml"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and what to do."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None
    supabase_url: str | None = None
    supabase_anon_key: str | None = None
    supabase_db_url: str | None = None
    session_idle_hours: float = 8.0
    smtp_url: str | None = None
    mail_from: str = "no-reply@relata.local"
    mail_rate_per_minute: int = 0
    public_url: str | None = None

    @property
    def mode(self) -> str:
        """`supabase`, `database_url` or `embedded`."""
        if self.supabase_url:
            return "supabase"
        if self.database_url:
            return "database_url"
        return "embedded"


def read_secrets(path: Path = DEFAULT_SECRETS) -> dict[str, object]:
    """Top-level keys of a Streamlit secrets file, or {} when there is none."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, object] | None = None
) -> Settings:
    """Build Settings from `env` (default `os.environ`) over `secrets` (default the secrets file)."""
    env = os.environ if env is None else env
    secrets = read_secrets() if secrets is None else secrets

    def get(key: str) -> str | None:
        value = env.get(key)
        if value is None or value == "":
            raw = secrets.get(key)
            value = None if raw is None else str(raw)
        if value is None:
            return None
        return value.strip() or None

    supabase = {key: get(key) for key in SUPABASE_KEYS}
    given = [k for k, v in supabase.items() if v]
    if given and len(given) < len(SUPABASE_KEYS):
        missing = ", ".join(k for k, v in supabase.items() if not v)
        raise ConfigError(
            f"Supabase is half configured: {', '.join(given)} set but {missing} missing. "
            "Set all of SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_DB_URL, or none of them."
        )

    idle_raw = get("RELATA_SESSION_IDLE_HOURS") or "8"
    try:
        idle = float(idle_raw)
        if idle <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"RELATA_SESSION_IDLE_HOURS must be a positive number of hours, not {idle_raw!r}."
        ) from None

    smtp_url = get("SMTP_URL")
    if smtp_url and not smtp_url.lower().startswith(("smtp://", "smtps://")):
        raise ConfigError("SMTP_URL must start with smtp:// (STARTTLS with ?starttls=1) or smtps:// (TLS), "
                          "for example smtp://user:password@mail.example.com:587?starttls=1.")
    mail_from = get("RELATA_MAIL_FROM") or "no-reply@relata.local"
    if "@" not in mail_from:
        raise ConfigError(f"RELATA_MAIL_FROM must be an email address, not {mail_from!r}.")
    rate_raw = get("RELATA_MAIL_RATE_PER_MINUTE") or "0"
    try:
        rate = int(rate_raw)
        if rate < 0:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"RELATA_MAIL_RATE_PER_MINUTE must be a whole number of emails per minute (0 = no limit), not {rate_raw!r}."
        ) from None
    public_url = get("RELATA_PUBLIC_URL")
    if public_url and not public_url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"RELATA_PUBLIC_URL must start with http:// or https://, not {public_url!r}.")

    return Settings(
        data_dir=Path(get("RELATA_DATA_DIR") or ".relata").expanduser().resolve(),
        database_url=get("DATABASE_URL"),
        supabase_url=supabase["SUPABASE_URL"],
        supabase_anon_key=supabase["SUPABASE_ANON_KEY"],
        supabase_db_url=supabase["SUPABASE_DB_URL"],
        session_idle_hours=idle,
        smtp_url=smtp_url,
        mail_from=mail_from,
        mail_rate_per_minute=rate,
        public_url=public_url.rstrip("/") if public_url else None,
    )
