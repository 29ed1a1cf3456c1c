"""The two auth adapters. Each creates users, checks passwords and changes them.

`LocalAuth` plays GoTrue's part against the local `auth.users` (GoTrue's column names, bcrypt
hashes). `SupabaseAuth` calls Supabase Auth through `supabase-py`; its client holds one
user's session, so the UI keeps it in `st.session_state`, never in a shared cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

import psycopg

from lib.auth.passwords import hash_password, verify_password
from lib.db import Claims, Database, switch_role
from lib.errors import UserError

T = TypeVar("T")
INSTANCE_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class AuthUser:
    id: str
    email: str

    @property
    def claims(self) -> Claims:
        return Claims(sub=self.id, email=self.email)


class AuthAdapter(Protocol):
    def register(self, email: str, password: str, display_name: str,
                 then: Callable[[psycopg.Connection, AuthUser], T]) -> tuple[AuthUser, T]: ...

    def verify(self, email: str, password: str) -> AuthUser | None: ...

    def change_password(self, user: AuthUser, new_password: str) -> None: ...

    def sign_out(self) -> None: ...


class LocalAuth:
    def __init__(self, db: Database):
        self.db = db

    def register(self, email, password, display_name, then):
        """Insert the user and run `then(conn, user)` as that user, all in one transaction."""
        hashed = hash_password(password)
        try:
            with self.db.as_auth_admin() as conn:
                row = conn.execute(
                    "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
                    " email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)"
                    " values (%s, gen_random_uuid(), 'authenticated', 'authenticated', %s, %s, now(),"
                    " %s, %s, now(), now()) returning id",
                    [INSTANCE_ID, email, hashed,
                     json.dumps({"provider": "email", "providers": ["email"]}),
                     json.dumps({"display_name": display_name})],
                ).fetchone()
                user = AuthUser(str(row["id"]), email)
                switch_role(conn, user.claims)
                return user, then(conn, user)
        except psycopg.errors.UniqueViolation:
            raise UserError("An account with this email already exists. Sign in instead.") from None

    def verify(self, email, password):
        with self.db.as_auth_admin() as conn:
            row = conn.execute(
                "select id, email, encrypted_password from auth.users where email = %s"
                " and deleted_at is null and (banned_until is null or banned_until < now())",
                [email],
            ).fetchone()
        if not verify_password(password, row["encrypted_password"] if row else None) or row is None:
            return None
        with self.db.as_auth_admin() as conn:
            conn.execute("update auth.users set last_sign_in_at = now() where id = %s", [row["id"]])
        return AuthUser(str(row["id"]), row["email"])

    def change_password(self, user, new_password):
        with self.db.as_auth_admin() as conn:
            conn.execute(
                "update auth.users set encrypted_password = %s, updated_at = now() where id = %s",
                [hash_password(new_password), user.id],
            )

    def sign_out(self):
        """Nothing to tell: the browser session is ended by the service."""


class SupabaseAuth:
    """Supabase Auth through a `supabase` client that belongs to one browser session."""

    def __init__(self, db: Database, client):
        self.db = db
        self.client = client

    def register(self, email, password, display_name, then):
        from supabase_auth.errors import AuthApiError

        try:
            response = self.client.auth.sign_up(
                {"email": email, "password": password, "options": {"data": {"display_name": display_name}}}
            )
        except AuthApiError as exc:
            if "registered" in exc.message.lower() or "exists" in exc.message.lower():
                raise UserError("An account with this email already exists. Sign in instead.") from None
            raise UserError(exc.message) from None
        if response.user is None or response.session is None:
            raise UserError("Check your inbox and confirm your email address, then sign in.")
        user = AuthUser(str(response.user.id), (response.user.email or email).lower())
        with self.db.as_user(user.claims) as conn:
            return user, then(conn, user)

    def verify(self, email, password):
        from supabase_auth.errors import AuthApiError

        try:
            response = self.client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthApiError:
            return None
        if response.user is None:
            return None
        return AuthUser(str(response.user.id), (response.user.email or email).lower())

    def change_password(self, user, new_password):
        from supabase_auth.errors import AuthApiError

        try:
            self.client.auth.update_user({"password": new_password})
        except AuthApiError as exc:
            raise UserError(exc.message) from None

    def sign_out(self):
        from supabase_auth.errors import AuthApiError

        try:
            self.client.auth.sign_out()
        except AuthApiError:
            pass  # the local session is dropped either way
