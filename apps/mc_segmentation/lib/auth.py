"""Optional authentication without an identity server: a users file given at start-up.

    --conf auth_users_file /path/users.txt     # lines "username:password" or "username:<bcrypt hash>"

When set, every route but ``GET /health`` and the login routes refuses a request
without a valid bearer token with 401. Tokens come from MONAI Label's own login
protocol, which 3D Slicer's MONAI Label module and ``MONAILabelClient`` speak:
``GET /auth/`` says authentication is on, ``POST /auth/token`` (form username,
password) returns ``{"access_token", "token_type": "bearer"}``, ``GET
/auth/token/valid`` checks one. Tokens live in the server's memory for
``auth_token_hours`` (default 12) and end with a restart. Passwords may be stored
as bcrypt hashes (``python -c "import bcrypt; print(bcrypt.hashpw(b'pw', bcrypt.gensalt()).decode())"``);
plain ones are compared in constant time, and the log warns about them. Where a
site runs Keycloak, MONAI Label's own mode (``MONAI_LABEL_AUTH_ENABLE``) is used
instead and this gate is not installed.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs

from lib.asgi import send_json

log = logging.getLogger(__name__)

OPEN_PATHS = {"/health", "/auth", "/auth/", "/auth/token"}


def read_users(path: str | Path) -> dict[str, str]:
    """username -> password or bcrypt hash; refuses an unreadable or empty file (a server without users
    would lock everyone out, which is never what was meant)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"auth_users_file {path}: cannot be read ({exc})") from exc
    users = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, secret = line.partition(":")
        if not sep or not name or not secret:
            raise ValueError(f"auth_users_file {path}, line {number}: expected 'username:password'")
        users[name] = secret
    if not users:
        raise ValueError(f"auth_users_file {path}: no users")
    plain = [u for u, s in users.items() if not s.startswith("$2")]
    if plain:
        log.warning("auth_users_file %s stores plain passwords for %s; bcrypt hashes are safer", path, plain)
    return users


def _password_ok(secret: str, password: str) -> bool:
    if secret.startswith("$2"):
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode(), secret.encode())
        except ValueError:
            return False
    return hmac.compare_digest(secret.encode(), password.encode())


class TokenGate:
    """ASGI middleware: the login routes, a health check, and a bearer token for everything else."""

    def __init__(self, app, users: dict[str, str], token_hours: float = 12.0, prefix: str = ""):
        self.app, self.users, self.ttl_s, self.prefix = app, users, token_hours * 3600, prefix
        self.tokens: dict[str, tuple[str, float]] = {}   # token -> (username, expiry)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"][len(self.prefix):] if scope["path"].startswith(self.prefix) else scope["path"]
        method = scope["method"]
        if path == "/health" and method in ("GET", "HEAD"):
            return await send_json(send, 200, {"status": "ok"})
        if path in ("/auth", "/auth/") and method == "GET":
            return await send_json(send, 200, {"enabled": True, "client_id": "mc_segmentation", "realm": None})
        if path == "/auth/token" and method == "POST":
            return await self._login(receive, send)
        user = self._user(scope)
        if user is None:
            return await send_json(send, 401, {"detail": "authentication required: log in with POST /auth/token "
                                                     "(username, password) and send the token as "
                                                     "'Authorization: Bearer <token>'"},
                               [(b"www-authenticate", b"Bearer")])
        if path == "/auth/token/valid":
            return await send_json(send, 200, {"username": user})
        return await self.app(scope, receive, send)

    def _user(self, scope) -> str | None:
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        entry = self.tokens.get(token.strip())
        if entry is None or entry[1] < time.time():
            self.tokens.pop(token.strip(), None)
            return None
        return entry[0]

    async def _login(self, receive, send):
        body, more = b"", True
        while more and len(body) < 65536:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        form = parse_qs(body.decode("utf-8", "replace"))
        name, password = form.get("username", [""])[0], form.get("password", [""])[0]
        secret = self.users.get(name)
        if secret is None or not _password_ok(secret, password):
            log.warning("failed login for %r", name)
            return await send_json(send, 401, {"detail": "wrong username or password"},
                                   [(b"www-authenticate", b"Bearer")])
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.tokens = {t: e for t, e in self.tokens.items() if e[1] > now}  # drop expired ones
        self.tokens[token] = (name, now + self.ttl_s)
        log.info("login: %s", name)
        return await send_json(send, 200, {"access_token": token, "token_type": "bearer"})
