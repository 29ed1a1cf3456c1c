"""Database access: one `psycopg` pool, and one transaction per user action.

Like Supabase's own API, every transaction first switches to an API role with
`SET LOCAL ROLE` and puts the caller's claims in `request.jwt.claims`, so row-level security
decides what each statement sees. The pool's login role (`relata_app` locally) holds no table
privilege of its own; the role switch ends with the transaction.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Iterator

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


@dataclass(frozen=True)
class Claims:
    """Who is acting: the JWT claims Supabase would put in `request.jwt.claims`."""

    sub: str
    email: str
    role: str = "authenticated"

    def as_json(self) -> str:
        return json.dumps({"sub": str(self.sub), "email": self.email, "role": self.role})


def switch_role(conn: psycopg.Connection, claims: Claims | None = None, role: str | None = None) -> None:
    """Act as `claims` (or as a bare `role`) until the current transaction ends."""
    role = role or (claims.role if claims else "anon")
    payload = claims.as_json() if claims else json.dumps({"role": role})
    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
    conn.execute("select set_config('request.jwt.claims', %s, true)", [payload])


class Database:
    """The connection pool plus the role-switching transactions every caller goes through."""

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 8, prepare_threshold: int | None = 5):
        self.pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "prepare_threshold": prepare_threshold},
            check=ConnectionPool.check_connection,
            open=True,
            name="relata",
        )

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _transaction(self, claims: Claims | None, role: str | None) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            with conn.transaction():
                switch_role(conn, claims, role)
                yield conn

    def as_user(self, claims: Claims) -> AbstractContextManager[psycopg.Connection]:
        """One transaction as the signed-in user (role `authenticated`)."""
        return self._transaction(claims, None)

    def as_anon(self) -> AbstractContextManager[psycopg.Connection]:
        """One transaction as nobody in particular (role `anon`), e.g. before sign-in."""
        return self._transaction(None, "anon")

    def as_auth_admin(self) -> AbstractContextManager[psycopg.Connection]:
        """Local sign-in only: the role GoTrue uses, allowed to read and write `auth.users`."""
        return self._transaction(None, "supabase_auth_admin")

    def as_service(self) -> AbstractContextManager[psycopg.Connection]:
        """Server-side work that is no user's request (the email worker, the public unsubscribe page):
        Supabase's `service_role`, which bypasses row-level security. Never for a browser's action."""
        return self._transaction(None, "service_role")
