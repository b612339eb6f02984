"""The review web app's factory: :func:`create_app` builds it (never at import time)::

    app = create_app("sqlite:///review.sqlite3")

Authentication
    Pages and the API need a logged-in user. Browsers log in at /login; the session lives in the
    database (the signed cookie carries only its random id and the CSRF token), so logout, a
    password reset or a disable ends it at once, in every worker. Machine clients may instead send
    HTTP Basic credentials to /api/… on every request (the app never asks for them with a Basic
    challenge, so browsers never cache them). Failed logins are throttled per user name and per
    client address, counted in the database.

CSRF
    Every POST form carries the session's token in a hidden ``csrf_token`` field; JSON API calls
    authenticated by the session cookie send it in an ``X-CSRF-Token`` header (GET /api/me returns
    it). Calls authenticated with HTTP Basic carry no ambient credentials and need no token.

Blind double review
    A reviewer sees the model's prediction, not another reviewer's decision, until they have saved
    their own; admins and the "review the reviewed" mode (``reveal=1``) see everything.

Conflicts
    Each row has a version; a save names the version it was based on. A stale version answers
    409: the API returns the row's current state (the other reviewer's decision), the row page
    shows it beside the reviewer's unsaved choices.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from . import connections, db, queue, threads, users
from .deps import ApiAuthError, Forbidden, LoginRequired, api_user
from .errors import Conflict, NotFound, ValidationError
from .routes import api, auth, pages
from .security import BasicCache, SecurityHeaders
from .templating import HERE, environment, render

DEFAULT_SESSION_MAX_AGE = 10 * 3600  # a working day
FACETS_TTL = 30.0


def create_app(database_url: str, *, session_secret: str | None = None, session_max_age: int = DEFAULT_SESSION_MAX_AGE,
               secure_cookies: bool = False, count_cache_ttl: float = 2.0, migrate: bool = True,
               request_threads: int = threads.DEFAULT_THREADS) -> FastAPI:
    """The review app on the database at ``database_url`` (an SQLAlchemy URL or an SQLite path).

    ``session_secret`` signs the session cookies; by default a random secret kept in the
    database (so restarts and worker processes share it). ``session_max_age``: seconds a login
    lasts. ``secure_cookies``: mark the cookie Secure (serve over HTTPS). ``count_cache_ttl``:
    seconds queue counts may lag other reviewers' saves (0: always exact). ``migrate``: upgrade
    the schema first. ``request_threads``: threads per worker for the quick handlers (see
    threads.py; set when the server starts, so a TestClient used without ``with`` keeps anyio's
    default)."""
    engine = db.make_engine(database_url)
    if migrate:
        db.migrate(engine)
    app = FastAPI(title="budgetnlp 审核", version=__import__("budgetnlp").__version__,
                  description=(__doc__ or "").split("\n\n", 2)[-1],
                  docs_url=None, redoc_url=None, openapi_url=None,  # served behind the login, without a CDN
                  lifespan=threads.lifespan(request_threads))
    app.state.engine, app.state.session_max_age = engine, session_max_age
    app.state.queue_cache = queue.CountCache(count_cache_ttl)
    app.state.basic_cache = BasicCache()
    app.state.templates = environment()
    app.state.facets = _cached(lambda: queue.facets(engine), FACETS_TTL)
    _handle_errors(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(api_user)])
    async def openapi_json():
        return JSONResponse(app.openapi())

    app.add_middleware(SessionMiddleware, secret_key=session_secret or users.session_secret(engine),
                       session_cookie="budgetnlp_review", max_age=session_max_age, same_site="lax", https_only=secure_cookies)
    app.add_middleware(SecurityHeaders)
    return app


def _cached(compute, ttl: float):
    """``compute()`` reused for ``ttl`` seconds (the filter menus change only on import)."""
    import time

    held = {}

    def get():
        if not held or time.monotonic() - held["at"] > ttl:
            held.update(at=time.monotonic(), value=compute())
        return held["value"]

    return get


def _handle_errors(app: FastAPI) -> None:
    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(ApiAuthError)
    async def _api_auth(request: Request, exc: ApiAuthError):
        headers = {"WWW-Authenticate": 'Session realm="budgetnlp"'} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _exc):
        if wants_json(request):
            return JSONResponse({"detail": "CSRF token missing or wrong: reload the page and try again"}, status_code=403)
        return render(request, "error.html", {"title": "请求被拒绝", "message": "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"}, 403)

    def plain(status: int, title: str):
        async def handler(request: Request, exc):
            if wants_json(request):
                return JSONResponse({"detail": str(exc)}, status_code=status)
            return render(request, "error.html", {"title": title, "message": str(exc)}, status)
        return handler

    app.add_exception_handler(NotFound, plain(404, "未找到"))
    app.add_exception_handler(ValidationError, plain(422, "输入有误"))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict):
        if not wants_json(request):
            return render(request, "error.html", {"title": "保存冲突", "message": f"{exc}：请刷新后核对再保存。"}, 409)
        return JSONResponse({"detail": "version conflict: another reviewer saved this row first; "
                             "review their decision and save again with the current version",
                             "current": exc.current}, status_code=409)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory budgetnlp.review.app:app_from_env`` (multi-worker serving):
    the database URL from $BUDGETNLP_REVIEW_DB, the session max age from
    $BUDGETNLP_REVIEW_SESSION_MAX_AGE, Secure cookies when $BUDGETNLP_REVIEW_SECURE_COOKIES=1,
    the threads per worker from $BUDGETNLP_REVIEW_THREADS; with $BUDGETNLP_REVIEW_WORKER_SHARE,
    the workers keep their shares of the connections even (:mod:`.connections`)."""
    import os

    app = create_app(
        db.database_url(None), migrate=False,
        session_max_age=int(os.environ.get("BUDGETNLP_REVIEW_SESSION_MAX_AGE", DEFAULT_SESSION_MAX_AGE)),
        secure_cookies=os.environ.get("BUDGETNLP_REVIEW_SECURE_COOKIES") == "1",
        request_threads=int(os.environ.get("BUDGETNLP_REVIEW_THREADS", threads.DEFAULT_THREADS)),
    )
    share = connections.join()
    if share is not None:
        app.add_middleware(connections.ShedMiddleware, share=share)
    return app
