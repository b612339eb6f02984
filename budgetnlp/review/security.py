"""Response headers, safe redirects, bounded integer parameters, client addresses and the HTTP
Basic credential cache (the login throttle itself is in users.py, in the database)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from .common import INT_MAX
from .errors import ValidationError


class SecurityHeaders:
    """Pure ASGI middleware: CSP without inline script, no framing, no caching of pages."""

    CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        static = path.startswith("/static/") or path == "/favicon.ico"

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"content-security-policy", self.CSP.encode()), (b"x-frame-options", b"DENY"),
                                      (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                                      (b"cache-control", b"public, max-age=3600" if static else b"no-store")]
            await send(message)

        await self.app(scope, receive, send_wrapper)


def safe_next(target: str | None) -> str:
    """A redirect target on this site only (never //host, a backslash or a header break)."""
    target = target or "/queue"
    if not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target or "\r" in target:
        return "/queue"
    return target


def int_param(value, name: str, default=None, low: int = 0, high: int = INT_MAX):
    """A whole number from a form or query string, within [low, high] (else ValidationError → 422)."""
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"invalid {name} {str(value)[:40]!r}: not a whole number") from None
    if not (low <= number <= high):
        raise ValidationError(f"invalid {name} {number}: between {low} and {high}")
    return number


def client_address(request) -> str:
    return request.client.host if request.client else ""


class BasicCache:
    """Which user a pair of Basic credentials proved to be, so a machine client's every request
    need not cost a password hash. Only a keyed HMAC of the pair is kept, with the user id and
    the password stamp; the caller re-checks the account on every request, so a reset or a
    disable takes effect at once."""

    def __init__(self, size: int = 1024):
        self.key, self.size, self._data, self._lock = secrets.token_bytes(32), size, {}, threading.Lock()

    def _digest(self, name: str, password: str) -> bytes:
        return hmac.new(self.key, f"{name}\x00{password}".encode("utf-8"), hashlib.sha256).digest()

    def get(self, name: str, password: str):
        with self._lock:
            return self._data.get(self._digest(name, password))

    def put(self, name: str, password: str, user: dict) -> None:
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[self._digest(name, password)] = (user["id"], user["stamp"])

    def drop(self, name: str, password: str) -> None:
        with self._lock:
            self._data.pop(self._digest(name, password), None)
