"""What every sign-in path shares: input rules, throttling, browser sessions, sign-up as one step.

- Unknown email and wrong password get the same answer and cost the same bcrypt check.
- 5 failures for one email within 15 minutes lock that email until the oldest is 15 minutes old.
- A browser session is a random token (kept in a cookie by the UI); the database stores its
  sha256 and ends it on sign-out or after `idle_hours` without use.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lib import workspaces
from lib.auth.adapters import AuthAdapter, AuthUser
from lib.auth.passwords import check_password
from lib.db import Database
from lib.errors import FormErrors, UserError
from lib.validation import clean_email, clean_name, collect

WRONG_CREDENTIALS = "Wrong email or password."


@dataclass(frozen=True)
class SignedIn:
    user: AuthUser
    session_token: str
    workspace_id: str | None = None


class AuthService:
    def __init__(self, db: Database, adapter: AuthAdapter, idle_hours: float = 8.0):
        self.db = db
        self.adapter = adapter
        self.idle = timedelta(hours=idle_hours)

    # -- sessions -------------------------------------------------------------------------
    def _start_session(self, user: AuthUser) -> str:
        token = secrets.token_urlsafe(32)
        with self.db.as_user(user.claims) as conn:
            conn.execute("select private.start_session(%s)", [workspaces.token_hash(token)])
        return token

    def resume(self, token: str | None) -> AuthUser | None:
        """The user of a live browser session (and mark it used), or None."""
        if not token:
            return None
        with self.db.as_anon() as conn:
            row = conn.execute(
                "select * from private.resume_session(%s, %s)", [workspaces.token_hash(token), self.idle]
            ).fetchone()
        return AuthUser(str(row["user_id"]), row["email"]) if row else None

    def sign_out(self, token: str | None) -> None:
        if token:
            with self.db.as_anon() as conn:
                conn.execute("select private.end_session(%s)", [workspaces.token_hash(token)])
        self.adapter.sign_out()

    # -- sign-up and sign-in --------------------------------------------------------------
    def sign_up(
        self,
        email: str,
        password: str,
        display_name: str,
        workspace_name: str | None = None,
        invite_token: str | None = None,
    ) -> SignedIn:
        """Create the user and, in the same step, a workspace they own or the invited membership."""
        checks = {
            "email": (clean_email, email),
            "display_name": (clean_name, display_name, "name"),
        }
        if not invite_token:
            checks["workspace_name"] = (clean_name, workspace_name, "workspace name")
        values, errors = collect(checks)
        try:
            check_password(password, values.get("email", ""))
        except ValueError as exc:
            errors["password"] = str(exc)
        if invite_token:
            preview = workspaces.invitation_preview(self.db, invite_token)
            if not preview or not preview["usable"]:
                errors["invite"] = "This invitation link is not valid any more. Ask for a new one."
            elif preview["email"] and "email" in values and preview["email"].lower() != values["email"]:
                errors["email"] = f"This invitation is for {preview['email']}."
        if errors:
            raise FormErrors(errors)

        def then(conn, user):
            if invite_token:
                return workspaces.accept_in(conn, invite_token)
            return workspaces.create_in(conn, values["workspace_name"])

        user, workspace_id = self.adapter.register(values["email"], password, values["display_name"], then)
        return SignedIn(user, self._start_session(user), workspace_id)

    def locked_until(self, email: str) -> datetime | None:
        with self.db.as_anon() as conn:
            row = conn.execute("select private.sign_in_locked_until(%s) as until", [email]).fetchone()
        return row["until"]

    def _verify_throttled(self, email: str, password: str) -> AuthUser | None:
        """Check a password unless the email is locked; count a failure in the same transaction.

        A transaction-level advisory lock per email makes parallel attempts take turns, so
        none of them can slip past the lock check before the others' failures are counted.
        """
        key = (email or "").strip().lower()
        with self.db.as_anon() as conn:
            conn.execute("select pg_advisory_xact_lock(hashtext('relata.sign_in:' || %s))", [key])
            until = conn.execute("select private.sign_in_locked_until(%s) as until", [key]).fetchone()["until"]
            if until:
                minutes = max(1, math.ceil((until - datetime.now(timezone.utc)).total_seconds() / 60))
                raise UserError(
                    f"Too many failed attempts for this email. Try again in {minutes} minute"
                    f"{'s' if minutes != 1 else ''} (after {until.astimezone(timezone.utc):%H:%M} UTC)."
                )
            user = self.adapter.verify(key, password)
            if user is None:
                conn.execute("select private.record_sign_in_failure(%s)", [key])
        if user is not None:
            with self.db.as_user(user.claims) as conn:
                conn.execute("select private.clear_sign_in_failures()")
        return user

    def sign_in(self, email: str, password: str) -> SignedIn:
        key = (email or "").strip().lower()
        if not key or not password:
            raise FormErrors({k: "Required." for k, v in (("email", key), ("password", password)) if not v})
        user = self._verify_throttled(key, password)
        if user is None:
            raise UserError(WRONG_CREDENTIALS)
        return SignedIn(user, self._start_session(user))

    def change_password(
        self, user: AuthUser, current: str, new: str, confirm: str, keep_session: str | None = None
    ) -> None:
        """Change the password after checking the current one; ends every other browser session."""
        errors = {}
        try:
            check_password(new, user.email)
        except ValueError as exc:
            errors["new"] = str(exc)
        if new != confirm:
            errors["confirm"] = "The two new passwords differ."
        if new and new == current:
            errors["new"] = "Choose a password different from the current one."
        if errors:
            raise FormErrors(errors)
        if self._verify_throttled(user.email, current) is None:
            raise FormErrors({"current": "The current password is wrong."})
        self.adapter.change_password(user, new)
        with self.db.as_user(user.claims) as conn:
            keep = workspaces.token_hash(keep_session) if keep_session else None
            conn.execute("select private.end_other_sessions(%s)", [keep])
