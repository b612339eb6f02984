"""The review web app: FastAPI routes over ``service`` functions, Jinja2 pages, a JSON API.

Build it with :func:`create_app` (never at import time)::

    app = create_app("sqlite:///review.sqlite3")

Authentication
    Pages and the API need a logged-in user. Browsers log in at /login and get a signed session
    cookie (Starlette's SessionMiddleware, itsdangerous); the session expires ``session_max_age``
    seconds after login (checked from the cookie's signed timestamp and from the login time kept
    in it) and is dropped when the user's password changes or the account is deactivated.
    Machine clients may instead send HTTP Basic credentials to /api/… on every request (the app
    never asks for them with a Basic challenge, so browsers never cache them).

CSRF
    Every POST form carries the session's token in a hidden ``csrf_token`` field; JSON API calls
    authenticated by the session cookie send it in an ``X-CSRF-Token`` header (GET /api/me returns
    it). Calls authenticated with HTTP Basic carry no ambient credentials and need no token.

Conflicts
    Each row has a version; a save names the version it was based on. A stale version answers
    409: the API returns the row's current state (the other reviewer's decision), the row page
    shows it beside the reviewer's unsaved choices.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import io
import secrets
import threading
import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from ..schema import FLAGS, METRIC_TYPES
from . import db, service
from .service import QueueQuery

HERE = Path(__file__).resolve().parent
DEFAULT_SESSION_MAX_AGE = 10 * 3600  # a working day
CSRF_HEADER = "X-CSRF-Token"
MetricType = Literal[tuple(METRIC_TYPES)]  # type: ignore[valid-type]


# ---------------------------------------------------------------- API models (OpenAPI documents them)
class DecisionIn(BaseModel):
    """A reviewer's decision on one row: all four flags, both metric types, a note, and the
    version of the row the decision was based on (from GET /api/rows/{row_id})."""

    model_config = ConfigDict(extra="forbid")
    base_version: int = Field(ge=0, description="the row's version the reviewer saw")
    vague: Literal[0, 1]
    boilerplate: Literal[0, 1]
    category_mismatch: Literal[0, 1]
    unmeasurable: Literal[0, 1]
    metric_type: MetricType
    suggested_metric_type: MetricType
    note: str = Field("", max_length=service.NOTE_MAX)

    def to_service(self) -> service.Decision:
        return service.Decision(
            base_version=self.base_version, flags={f: getattr(self, f) for f in FLAGS}, metric_type=self.metric_type,
            suggested_metric_type=self.suggested_metric_type, note=self.note,
        )


class RowDecisionIn(DecisionIn):
    row_id: str = Field(min_length=1, max_length=64)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decisions: list[RowDecisionIn] = Field(min_length=1, max_length=1000)


class SaveOut(BaseModel):
    row_id: str
    version: int
    status: str
    decision_id: int
    decided_by: str
    decided_at: str


class ConflictOut(BaseModel):
    detail: str
    current: dict


# ---------------------------------------------------------------- small pieces
class _LoginRequired(Exception):
    pass


class _Forbidden(Exception):
    pass


class _ApiAuthError(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class _SecurityHeaders:
    """Pure ASGI middleware: CSP without inline script, no framing, no caching of pages."""

    CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", self.CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"public, max-age=3600" if static else b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class _TTLCache:
    def __init__(self, ttl: float, size: int = 1024):
        self.ttl, self.size, self._data, self._lock = ttl, size, {}, threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._data.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl else None

    def put(self, key, value):
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)


class _LoginThrottle:
    """At most ``limit`` failed logins per user name in ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 300.0):
        self.limit, self.window, self._fails, self._lock = limit, window, {}, threading.Lock()

    def blocked(self, name: str) -> bool:
        with self._lock:
            recent = [t for t in self._fails.get(name, []) if time.monotonic() - t < self.window]
            self._fails[name] = recent
            return len(recent) >= self.limit

    def fail(self, name: str) -> None:
        with self._lock:
            self._fails.setdefault(name, []).append(time.monotonic())

    def reset(self, name: str) -> None:
        with self._lock:
            self._fails.pop(name, None)


def _safe_next(target: str | None) -> str:
    target = target or "/queue"
    if not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target or "\r" in target:
        return "/queue"
    return target


def _int_param(value, name: str, default=None):
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise service.ValidationError(f"invalid {name} {value!r}: not a whole number") from None


def _queue_query(params) -> QueueQuery:
    return QueueQuery(
        sort=params.get("sort") or "risk", year=_int_param(params.get("year"), "year"),
        department=params.get("department"), project=params.get("project"), flag=params.get("flag") or None,
        metric_type=params.get("metric_type") or None, status=params.get("status") or None, q=params.get("q"),
        page=_int_param(params.get("page"), "page", 1), per_page=_int_param(params.get("per_page"), "per_page", 50),
    ).check()


def _local_time(value: str) -> str:
    if not value:
        return ""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value is escaped on output
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        FLAGS=FLAGS, METRIC_TYPES=METRIC_TYPES, FLAG_NAMES=service.FLAG_NAMES, METRIC_TYPE_NAMES=service.METRIC_TYPE_NAMES,
        STATUS_NAMES=service.STATUS_NAMES, ROLE_NAMES=service.ROLE_NAMES, NOTE_MAX=service.NOTE_MAX,
        STATUS_FILTERS=service.STATUS_FILTERS,
        EXTRA_NAMES={"spend_plan": "资金支出计划", "value_op_raw": "运算符（原表）", "value_number_raw": "数值（原表）", "value_unit_raw": "单位（原表）"},
    )
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v not in (None, "")})
    env.filters["pct"] = lambda p: f"{100 * float(p):.0f}%" if p is not None else "—"
    env.filters["num"] = lambda v, digits=2: "—" if v is None else (f"{v:,.{digits}f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
    env.filters["localtime"] = _local_time
    env.filters["kappa"] = lambda k: "—" if k is None else f"{k:.2f}"
    return env


# ---------------------------------------------------------------- the app
def create_app(
    database_url: str,
    *,
    session_secret: str | None = None,
    session_max_age: int = DEFAULT_SESSION_MAX_AGE,
    secure_cookies: bool = False,
    count_cache_ttl: float = 2.0,
    migrate: bool = True,
) -> FastAPI:
    """The review app on the database at ``database_url`` (an SQLAlchemy URL or an SQLite path).

    ``session_secret`` signs the session cookies; by default a random secret kept in the
    database (so restarts and worker processes share it). ``session_max_age``: seconds a login
    lasts. ``secure_cookies``: mark the cookie Secure (serve over HTTPS). ``count_cache_ttl``:
    seconds queue counts may be reused (0: always exact). ``migrate``: upgrade the schema first.
    """
    engine = db.make_engine(database_url)
    if migrate:
        db.migrate(engine)
    secret = session_secret or service.session_secret(engine)
    env = _templates()
    queue_cache = service.CountCache(count_cache_ttl)
    user_cache = _TTLCache(5.0)
    basic_cache = _TTLCache(300.0)
    basic_key = secrets.token_bytes(32)
    throttle = _LoginThrottle()

    app = FastAPI(
        title="budgetnlp review",
        version=__import__("budgetnlp").__version__,
        description=(__doc__ or "").split("\n\n", 2)[-1],
        docs_url=None, redoc_url=None, openapi_url=None,  # served below, behind the login and without a CDN
    )
    app.state.engine = engine
    app.state.queue_cache = queue_cache

    # ------------------------------------------------------------ auth helpers
    def load_user(user_id: int) -> dict | None:
        user = user_cache.get(user_id)
        if user is None:
            user = service.get_user(engine, user_id) or {}
            user_cache.put(user_id, user)
        return user or None

    def session_user(request: Request) -> dict | None:
        session = request.session
        user_id, login_at = session.get("uid"), session.get("login_at")
        if user_id is None or login_at is None:
            return None
        if time.time() - float(login_at) > session_max_age:
            session.clear()
            return None
        user = load_user(int(user_id))
        if user is None or not hmac.compare_digest(str(session.get("stamp", "")), user["stamp"]):
            session.clear()
            return None
        return user

    def basic_user(request: Request) -> dict | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            name, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _ApiAuthError(401, "malformed Basic credentials") from None
        key = hmac.new(basic_key, f"{name}\x00{password}".encode("utf-8"), hashlib.sha256).digest()
        user_id = basic_cache.get(key)
        if user_id is None:
            if throttle.blocked(name):
                raise _ApiAuthError(429, "too many failed logins; try again later")
            user = service.authenticate(engine, name, password)
            if user is None:
                throttle.fail(name)
                raise _ApiAuthError(401, "wrong user name or password")
            basic_cache.put(key, user["id"])
            user_id = user["id"]
        user = load_user(user_id)
        if user is None:
            raise _ApiAuthError(401, "account disabled")
        return user

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    def check_csrf(request: Request, sent: str | None) -> None:
        expected = request.session.get("csrf") or ""
        if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
            raise _Forbidden()

    # async: no thread hop per request (a session check is a dict lookup, the user usually cached)
    async def page_user(request: Request) -> dict:
        user = session_user(request)
        if user is None:
            raise _LoginRequired()
        request.state.user = user
        return user

    async def api_user(request: Request) -> dict:
        user = session_user(request)
        if user is not None:
            request.state.auth = "session"
        else:
            user = await run_in_threadpool(basic_user, request)  # may hash a password
            if user is None:
                raise _ApiAuthError(401, "login required: a session cookie from /login or HTTP Basic credentials")
            request.state.auth = "basic"
        request.state.user = user
        return user

    async def api_writer(request: Request, user: dict = Depends(api_user)) -> dict:
        if request.state.auth == "session":
            check_csrf(request, request.headers.get(CSRF_HEADER))
        return user

    def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        html = env.get_template(name).render(
            request=request, user=user, csrf_token=csrf_token(request), path=request.url.path, **context
        )
        return HTMLResponse(html, status_code=status_code)

    # ------------------------------------------------------------ errors
    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(_LoginRequired)
    async def _login_required(request: Request, _exc):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(_ApiAuthError)
    async def _api_auth(request: Request, exc: _ApiAuthError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={"WWW-Authenticate": 'Session realm="budgetnlp"'}
                            if exc.status == 401 else None)

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, _exc):
        message = "CSRF token missing or wrong: reload the page and try again"
        if wants_json(request):
            return JSONResponse({"detail": message}, status_code=403)
        return render(request, "error.html", {"title": "请求被拒绝", "message": "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"}, 403)

    @app.exception_handler(service.NotFound)
    async def _not_found(request: Request, exc):
        if wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return render(request, "error.html", {"title": "未找到", "message": str(exc)}, 404)

    @app.exception_handler(service.ValidationError)
    async def _invalid(request: Request, exc):
        if wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return render(request, "error.html", {"title": "输入有误", "message": str(exc)}, 422)

    @app.exception_handler(service.Conflict)
    async def _conflict(request: Request, exc: service.Conflict):
        return JSONResponse({"detail": "version conflict: another reviewer saved this row first; "
                             "review their decision and save again with the current version",
                             "current": exc.current}, status_code=409)

    # ------------------------------------------------------------ static, login, logout
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/queue"):
        if session_user(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        check_csrf(request, form.get("csrf_token"))
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:1024]
        target = _safe_next(str(form.get("next", "/queue")))
        if throttle.blocked(name):
            return render(request, "login.html", {"next": target, "error": "登录失败次数过多，请稍后再试。", "name": name}, 429)
        user = await run_in_threadpool(service.authenticate, engine, name, password)  # scrypt: off the event loop
        if user is None:
            throttle.fail(name)
            return render(request, "login.html", {"next": target, "error": "用户名或密码错误。", "name": name}, 401)
        throttle.reset(name)
        request.session.clear()  # a fresh session: no fixation, a new CSRF token
        request.session.update(uid=user["id"], stamp=user["stamp"], login_at=time.time(), csrf=secrets.token_urlsafe(32))
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        form = await request.form()
        check_csrf(request, form.get("csrf_token"))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------ pages
    pages = APIRouter(dependencies=[Depends(page_user)], include_in_schema=False)

    @pages.get("/")
    def home():
        return RedirectResponse("/queue", status_code=303)

    @pages.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request):
        query = _queue_query(request.query_params)
        page = service.queue(engine, query, request.state.user["id"], queue_cache)
        return render(request, "queue.html", {"query": query, "page": page, "facets": facets_cached()})

    facet_cache = _TTLCache(30.0)

    def facets_cached():
        value = facet_cache.get("facets")
        if value is None:
            value = service.facets(engine)
            facet_cache.put("facets", value)
        return value

    def row_context(request: Request, row_id: str, query: QueueQuery) -> dict:
        return {
            **service.row_view(engine, row_id, query, request.state.user["id"]), "query": query,
            "conflict": None, "pending": None, "error": None,
            "saved": _int_param(request.query_params.get("saved"), "saved"),
        }

    @pages.get("/rows/{row_id}", response_class=HTMLResponse)
    def row_page(request: Request, row_id: str):
        query = _queue_query(request.query_params)
        return render(request, "row.html", row_context(request, row_id, query))

    def form_decision(form, prefix: str = "") -> service.Decision:
        return service.Decision(
            base_version=_int_param(form.get(f"{prefix}base_version"), "base_version", -1),
            flags={f: 1 if form.get(f"{prefix}{f}") == "1" else 0 for f in FLAGS},
            metric_type=str(form.get(f"{prefix}metric_type", "")),
            suggested_metric_type=str(form.get(f"{prefix}suggested_metric_type", "")),
            note=str(form.get(f"{prefix}note", "")),
        )

    @pages.post("/rows/{row_id}", response_class=HTMLResponse)
    async def row_save(request: Request, row_id: str):
        form = await request.form()
        check_csrf(request, form.get("csrf_token"))
        return await run_in_threadpool(row_save_sync, request, row_id, form)  # database work off the event loop

    def row_save_sync(request: Request, row_id: str, form):
        query = _queue_query(request.query_params)
        decision = form_decision(form)
        try:
            saved = service.save_decision(engine, request.state.user, row_id, decision, "web")
        except service.Conflict as exc:
            context = row_context(request, row_id, query)
            context.update(conflict=exc.current[row_id], pending=decision)
            return render(request, "row.html", context, 409)
        except service.ValidationError as exc:
            context = row_context(request, row_id, query)
            context.update(error=str(exc), pending=decision)
            return render(request, "row.html", context, 422)
        params = query.params()
        target = row_id
        if form.get("action") == "save_next":
            target = service.neighbours(engine, query, row_id, request.state.user["id"])["next"] or row_id
        if target == row_id:
            params["saved"] = saved["version"]
        return RedirectResponse(f"/rows/{target}?{urlencode(params)}", status_code=303)

    @pages.get("/projects/{key}", response_class=HTMLResponse)
    def project_page(request: Request, key: str):
        rows = service.project_rows(engine, key)
        return render(request, "project.html", {"rows": rows, "first": rows[0], "conflicts": {}, "pending": {}, "error": None,
                                                "saved": _int_param(request.query_params.get("saved"), "saved")})

    @pages.post("/projects/{key}", response_class=HTMLResponse)
    async def project_save(request: Request, key: str):
        form = await request.form(max_fields=20000)
        check_csrf(request, form.get("csrf_token"))
        return await run_in_threadpool(project_save_sync, request, key, form)

    def project_save_sync(request: Request, key: str, form):
        rows = service.project_rows(engine, key)
        known = {r["row_id"] for r in rows}
        items, pending = [], {}
        for index in range(_int_param(form.get("count"), "count", 0)):
            prefix = f"r{index}_"
            row_id = str(form.get(f"{prefix}row_id", ""))
            if row_id not in known:
                raise service.ValidationError(f"row {row_id!r} is not in this project")
            decision = form_decision(form, prefix)
            pending[row_id] = {"decision": decision, "include": form.get(f"{prefix}include") == "1"}
            if pending[row_id]["include"]:
                items.append((row_id, decision))
        try:
            saved = service.save_decisions(engine, request.state.user, items, "project")
        except service.Conflict as exc:
            return render(request, "project.html", {"rows": rows, "first": rows[0], "conflicts": exc.current, "pending": pending,
                                                    "error": None, "saved": None}, 409)
        except service.ValidationError as exc:
            return render(request, "project.html", {"rows": rows, "first": rows[0], "conflicts": {}, "pending": pending,
                                                    "error": str(exc), "saved": None}, 422)
        return RedirectResponse(f"/projects/{key}?saved={len(saved)}", status_code=303)

    @pages.get("/progress", response_class=HTMLResponse)
    def progress_page(request: Request):
        return render(request, "progress.html", {"progress": service.progress(engine), "flat_metrics": service.flat_metrics})

    @pages.get("/docs", response_class=HTMLResponse)
    def docs_page(request: Request):
        return render(request, "docs.html", {})

    app.include_router(pages)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(api_user)])
    def openapi_json():
        return JSONResponse(app.openapi())

    # ------------------------------------------------------------ JSON API
    api = APIRouter(prefix="/api", dependencies=[Depends(api_user)], tags=["review"])

    @api.get("/me", summary="The logged-in user (and the CSRF token for session-authenticated JSON calls)")
    def me(request: Request):
        user = request.state.user
        out = {"name": user["name"], "role": user["role"], "auth": request.state.auth}
        if request.state.auth == "session":
            out["csrf_token"] = csrf_token(request)
        return out

    @api.get("/queue", summary="One page of the review queue, with counts per status")
    def api_queue(
        request: Request,
        sort: Literal["risk", "uncertainty"] = "risk",
        year: int | None = None,
        department: str | None = Query(None, max_length=200),
        project: str | None = Query(None, max_length=200),
        flag: Literal[tuple(FLAGS)] | None = None,  # type: ignore[valid-type]
        metric_type: MetricType | None = None,
        status: Literal[tuple(service.STATUS_FILTERS)] | None = None,  # type: ignore[valid-type]
        q: str | None = Query(None, max_length=200, description="text searched in name, description, value and project"),
        page: int = Query(1, ge=1),
        per_page: int = Query(50, ge=1, le=service.PER_PAGE_MAX),
    ):
        query = QueueQuery(sort=sort, year=year, department=department, project=project, flag=flag, metric_type=metric_type,
                           status=status, q=q, page=page, per_page=per_page)
        return service.queue(engine, query, request.state.user["id"], queue_cache)

    @api.get("/rows/{row_id}", summary="A row: predictions, current decision and version, its project's rows, history")
    def api_row(request: Request, row_id: str):
        view = service.row_view(engine, row_id, _queue_query(request.query_params), request.state.user["id"])
        view["project"] = [{k: r[k] for k in ("row_id", "level1", "level2", "name", "value", "labels", "status", "version")}
                           for r in view["project"]]
        return view

    @api.get("/rows/{row_id}/history", summary="Every decision on a row, newest first")
    def api_row_history(row_id: str):
        service.get_row(engine, row_id)
        return service.history(engine, row_id)

    @api.post("/rows/{row_id}/decision", response_model=SaveOut, responses={409: {"model": ConflictOut}},
              summary="Save a decision (409 when base_version is stale)")
    def api_save(request: Request, row_id: str, body: DecisionIn, user: dict = Depends(api_writer)):
        return service.save_decision(engine, user, row_id, body.to_service(), "api")

    @api.get("/projects/{key}", summary="All rows of a project")
    def api_project(key: str):
        return service.project_rows(engine, key)

    @api.post("/projects/{key}/decisions", response_model=list[SaveOut], responses={409: {"model": ConflictOut}},
              summary="Save decisions on several rows of a project at once (all or nothing)")
    def api_project_save(key: str, body: BatchIn, user: dict = Depends(api_writer)):
        known = {r["row_id"] for r in service.project_rows(engine, key)}
        outside = [d.row_id for d in body.decisions if d.row_id not in known]
        if outside:
            raise service.ValidationError(f"rows not in this project: {', '.join(outside[:10])}")
        return service.save_decisions(engine, user, [(d.row_id, d.to_service()) for d in body.decisions], "api")

    @api.get("/history", summary="The newest decisions across all rows")
    def api_history(limit: int = Query(100, ge=1, le=5000)):
        return service.history(engine, limit=limit)

    @api.get("/export", summary="Decisions in the gold-annotation CSV format (newest per row, or all)")
    def api_export(all: bool = False, format: Literal["csv", "json"] = "csv"):
        frame = service.export_frame(engine, all_decisions=all)
        if format == "json":
            return frame.to_dict("records")
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="review-export.csv"'})

    @api.get("/progress", summary="Counts per reviewer and department, Cohen's kappa per label, model versions")
    def api_progress():
        return service.progress(engine)

    @api.get("/models", summary="Model versions with their metrics")
    def api_models():
        return service.model_versions(engine)

    app.include_router(api)

    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie="budgetnlp_review", max_age=session_max_age,
        same_site="lax", https_only=secure_cookies,
    )
    app.add_middleware(_SecurityHeaders)
    return app


def __getattr__(name: str):
    # uvicorn imports the protocol class by name ("budgetnlp.review.app:NoDelayH11Protocol")
    if name == "NoDelayH11Protocol":
        return _no_delay_protocol()
    raise AttributeError(name)


@functools.lru_cache(maxsize=1)
def _no_delay_protocol():
    """uvicorn's h11 protocol, with TCP_NODELAY set on each accepted connection.

    With --workers > 1 uvicorn binds the listening socket itself (protocol number 0), and
    asyncio then leaves Nagle's algorithm on: a response written as headers + body waits for the
    client's delayed ACK, ~40 ms per request. Setting TCP_NODELAY per connection avoids that."""
    import socket

    from uvicorn.protocols.http.h11_impl import H11Protocol

    class NoDelayH11Protocol(H11Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:  # pragma: no cover - not a TCP socket after all
                    pass
            super().connection_made(transport)

    return NoDelayH11Protocol


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory budgetnlp.review.app:app_from_env`` (multi-worker serving):
    the database URL from $BUDGETNLP_REVIEW_DB, the session max age from
    $BUDGETNLP_REVIEW_SESSION_MAX_AGE, Secure cookies when $BUDGETNLP_REVIEW_SECURE_COOKIES=1."""
    import os

    return create_app(
        db.database_url(None), migrate=False,
        session_max_age=int(os.environ.get("BUDGETNLP_REVIEW_SESSION_MAX_AGE", DEFAULT_SESSION_MAX_AGE)),
        secure_cookies=os.environ.get("BUDGETNLP_REVIEW_SECURE_COOKIES") == "1",
    )
