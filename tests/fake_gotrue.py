"""A stand-in for Supabase Auth's HTTP API (GoTrue), on localhost, for the Supabase-mode tests.

Only Supabase's HTTP APIs may be faked: this server answers the few endpoints `supabase-py`
calls (signup, token?grant_type=password, user, logout) and keeps users where GoTrue does, in
the real test database's `auth.users`, so foreign keys and RLS behave as on Supabase.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from lib.auth.adapters import LocalAuth
from lib.errors import UserError


def _jwt(claims: dict) -> str:
    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJl"


class FakeGoTrue:
    def __init__(self, db, confirm_email: bool = False):
        self.local = LocalAuth(db)
        self.confirm_email = confirm_email  # True: sign-up answers with a user but no session
        self.tokens: dict[str, tuple[str, str]] = {}  # access token -> (user id, email)
        self.calls: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def _user_json(self, user_id: str, email: str) -> dict:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"id": user_id, "aud": "authenticated", "role": "authenticated", "email": email,
                "app_metadata": {"provider": "email"}, "user_metadata": {}, "created_at": now}

    def _session_json(self, user_id: str, email: str) -> dict:
        token = _jwt({"sub": user_id, "email": email, "role": "authenticated", "exp": int(time.time()) + 3600,
                      "jti": str(uuid.uuid4())})
        self.tokens[token] = (user_id, email)
        return {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                "expires_at": int(time.time()) + 3600, "refresh_token": uuid.uuid4().hex,
                "user": self._user_json(user_id, email)}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _caller(self):
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                return fake.tokens.get(token)

            def do_POST(self):
                parts = urlsplit(self.path)
                fake.calls.append(f"POST {parts.path}")
                body = self._body()
                if parts.path == "/auth/v1/signup":
                    name = (body.get("data") or {}).get("display_name", "")
                    try:
                        user, _ = fake.local.register(body["email"].lower(), body["password"], name, lambda c, u: None)
                    except UserError:
                        return self._send(422, {"code": "user_already_exists", "msg": "User already registered"})
                    if fake.confirm_email:
                        return self._send(200, fake._user_json(user.id, user.email))
                    return self._send(200, fake._session_json(user.id, user.email))
                if parts.path == "/auth/v1/token" and parse_qs(parts.query).get("grant_type") == ["password"]:
                    user = fake.local.verify(body.get("email", "").lower(), body.get("password", ""))
                    if user is None:
                        return self._send(400, {"code": "invalid_credentials", "error_code": "invalid_credentials",
                                                "msg": "Invalid login credentials"})
                    return self._send(200, fake._session_json(user.id, user.email))
                if parts.path == "/auth/v1/logout":
                    fake.tokens.pop((self.headers.get("Authorization") or "").removeprefix("Bearer "), None)
                    return self._send(204)
                return self._send(404, {"msg": "not found"})

            def do_PUT(self):
                fake.calls.append(f"PUT {urlsplit(self.path).path}")
                caller, body = self._caller(), self._body()
                if caller is None:
                    return self._send(401, {"code": "no_authorization", "msg": "Not signed in"})
                from lib.auth.adapters import AuthUser

                if "password" in body:
                    fake.local.change_password(AuthUser(*caller), body["password"])
                return self._send(200, fake._user_json(*caller))

            def do_GET(self):
                fake.calls.append(f"GET {urlsplit(self.path).path}")
                caller = self._caller()
                if caller is None:
                    return self._send(401, {"code": "no_authorization", "msg": "Not signed in"})
                return self._send(200, fake._user_json(*caller))

        return Handler
