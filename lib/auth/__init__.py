"""Sign-in: local (bcrypt hashes in auth.users) or through Supabase Auth, behind one interface.

`adapters` holds the two ways to check a password and create a user; `service` adds what both
share: input rules, throttling, browser sessions and the sign-up transaction.
"""
