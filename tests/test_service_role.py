"""The service role: server-side work (the email worker, the public unsubscribe page) reaches every
workspace's outbox and the signing key; signed-in users and anon reach neither."""

from __future__ import annotations

import psycopg
import pytest


def test_service_role_reads_the_key_and_users_do_not(db, factory):
    owner, ws = factory.owner("Service Role Co")
    with db.as_service() as conn:
        key = conn.execute("select value from private.app_secrets where name = 'unsubscribe_key'").fetchone()
        assert key and len(key["value"]) >= 32
        conn.execute("select count(*) from public.outbox").fetchone()
    for transaction in (db.as_user(owner.claims), db.as_anon()):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with transaction as conn:
                conn.execute("select value from private.app_secrets")
