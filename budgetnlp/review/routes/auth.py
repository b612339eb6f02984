"""Login, logout and the favicon: the only routes open without a session."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from .. import users
from ..deps import check_csrf, session_user
from ..errors import Throttled
from ..security import client_address, safe_next
from ..templating import HERE, render
from ..threads import quick, run_quick, run_slow

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
async def favicon():
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


@router.get("/login", response_class=HTMLResponse)
@quick
def login_page(request: Request, next: str = "/queue"):
    if session_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "name": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request):
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    name, password = str(form.get("name", ""))[:200], str(form.get("password", ""))[:1024]
    target = safe_next(str(form.get("next", "/queue")))
    engine, max_age = request.app.state.engine, request.app.state.session_max_age
    try:  # scrypt (tens of ms) and the database: off the event loop, in the pool for slow handlers
        user = await run_slow(users.login, engine, name, password, client_address(request))
    except Throttled:
        return render(request, "login.html", {"next": target, "error": "登录失败次数过多，请稍后再试。", "name": name}, 429)
    if user is None:
        return render(request, "login.html", {"next": target, "error": "用户名或密码错误。", "name": name}, 401)
    session_id = await run_quick(users.start_session, engine, user, max_age)
    request.session.clear()  # a fresh session: no fixation, a new CSRF token
    request.session.update(sid=session_id, csrf=secrets.token_urlsafe(32))
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request):
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    await run_quick(users.end_session, request.app.state.engine, request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
