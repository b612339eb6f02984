"""FastAPI dependencies: the engine, the logged-in user of a page or an API call, a writer
(CSRF-checked when the call rides on the session cookie), and the CSRF token itself.

Every request checks its session (or its Basic credentials' account) in the database, so a
logout, a password reset or a disable ends access on the very next request, in every worker.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from . import users
from .errors import Throttled
from .security import client_address
from .threads import quick, run_quick, run_slow

CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """A page asked for without a live session (answered with a redirect to /login)."""


class Forbidden(Exception):
    """A write without the session's CSRF token (answered 403)."""


class ApiAuthError(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def get_engine(request: Request) -> sa.Engine:
    return request.app.state.engine


Engine = Annotated[sa.Engine, Depends(get_engine)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf") or ""
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        raise Forbidden()


def session_user(request: Request) -> dict | None:
    """The user of the request's session, checked against the sessions table (None if gone)."""
    sid = request.session.get("sid")
    if not sid:
        return None
    user = users.session_user(request.app.state.engine, sid)
    if user is None:
        request.session.clear()
    return user


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        name, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiAuthError(401, "malformed Basic credentials") from None
    return name, password


def _cached_basic_user(request: Request, name: str, password: str) -> dict | None:
    """The account of credentials checked before, if it has not been reset or disabled since."""
    engine, cache = request.app.state.engine, request.app.state.basic_cache
    hit = cache.get(name, password)
    if hit is None:
        return None
    user = users.get_user(engine, hit[0])
    if user is not None and user["stamp"] == hit[1]:
        return user
    cache.drop(name, password)  # reset or disabled since: check the password again
    return None


async def basic_user(request: Request) -> dict | None:
    """The account of the request's HTTP Basic credentials (None without any). Checking a
    password not cached (scrypt, tens of ms) runs in the slow pool, as a form login does."""
    credentials = _basic_credentials(request)
    if credentials is None:
        return None
    name, password = credentials
    user = await run_quick(_cached_basic_user, request, name, password)
    if user is not None:
        return user
    try:
        user = await run_slow(users.login, request.app.state.engine, name, password, client_address(request))
    except Throttled:
        raise ApiAuthError(429, "too many failed logins; try again later") from None
    if user is None:
        raise ApiAuthError(401, "wrong user name or password")
    request.app.state.basic_cache.put(name, password, user)
    return user


@quick
def page_user(request: Request) -> dict:
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    request.state.user, request.state.auth = user, "session"
    return user


async def api_user(request: Request) -> dict:
    user = await run_quick(session_user, request)
    if user is not None:
        request.state.auth = "session"
    else:
        user = await basic_user(request)
        if user is None:
            raise ApiAuthError(401, "login required: a session cookie from /login or HTTP Basic credentials")
        request.state.auth = "basic"
    request.state.user = user
    return user


async def api_writer(request: Request, user: Annotated[dict, Depends(api_user)]) -> dict:  # no I/O: no thread
    if request.state.auth == "session":
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return user


PageUser = Annotated[dict, Depends(page_user)]
ApiUser = Annotated[dict, Depends(api_user)]
ApiWriter = Annotated[dict, Depends(api_writer)]
