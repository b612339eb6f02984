"""The reviewer's pages: queue, row (accept-and-next, undo), project table, bulk labelling,
progress, API docs. Writes are CSRF-checked form posts answered with a redirect."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ...schema import FLAGS
from .. import decisions, progress, queue, rows
from ..common import PAGE_MAX, PER_PAGE_MAX
from ..decisions import BULK_MAX, Decision
from ..deps import check_csrf, page_user
from ..errors import Conflict, ValidationError
from ..queue import QueueQuery
from ..security import int_param
from ..templating import render
from ..threads import quick, run_quick, run_slow

router = APIRouter(dependencies=[Depends(page_user)], include_in_schema=False)


def queue_query(params) -> QueueQuery:
    return QueueQuery(
        sort=params.get("sort") or "risk", year=int_param(params.get("year"), "year", None, 1900, 2200),
        department=params.get("department"), project=params.get("project"), flag=params.get("flag") or None,
        metric_type=params.get("metric_type") or None, status=params.get("status") or None, q=params.get("q"),
        page=int_param(params.get("page"), "page", 1, 1, PAGE_MAX),
        per_page=int_param(params.get("per_page"), "per_page", 50, 1, PER_PAGE_MAX),
        reveal=params.get("reveal") in ("1", "true"),
    ).check()


def _counts(request: Request, query: QueueQuery) -> dict:
    """The queue's counts, never older than this reviewer's last save."""
    engine, cache, user = request.app.state.engine, request.app.state.queue_cache, request.state.user
    key = ("counts", query.filter_key(user["id"]))
    return cache.get(key, lambda: queue.queue_counts(engine, query, user["id"]), queue.fresh_after(query, request.session))


def _flash(request: Request):
    return request.session.pop("flash", None)


@router.get("/")
async def home():
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
@quick
def queue_page(request: Request):
    query = queue_query(request.query_params)
    page = queue.queue(request.app.state.engine, query, request.state.user, request.app.state.queue_cache,
                       newer_than=queue.fresh_after(query, request.session))
    return render(request, "queue.html", {"query": query, "page": page, "facets": request.app.state.facets(),
                                          "flash": _flash(request), "last_save": request.session.get("last_save")})


def row_context(request: Request, row_id: str, query: QueueQuery) -> dict:
    view = rows.row_view(request.app.state.engine, row_id, query, request.state.user)
    total = _counts(request, query)["total"]
    return {**view, "query": query, "conflict": None, "pending": None, "error": None, "flash": _flash(request),
            "last_save": request.session.get("last_save"), "position": view["nav"]["before"] + 1, "total": total,
            "position_cap": queue.POSITION_CAP}


@router.get("/rows/{row_id}", response_class=HTMLResponse)
@quick
def row_page(request: Request, row_id: str):
    return render(request, "row.html", row_context(request, row_id, queue_query(request.query_params)))


def form_decision(form, prefix: str = "") -> Decision:
    return Decision(
        base_version=int_param(form.get(f"{prefix}base_version"), "base_version", -1),
        flags={f: 1 if form.get(f"{prefix}{f}") == "1" else 0 for f in FLAGS},
        metric_type=str(form.get(f"{prefix}metric_type", "")),
        suggested_metric_type=str(form.get(f"{prefix}suggested_metric_type", "")),
        note=str(form.get(f"{prefix}note", "")),
    )


def _remember_save(request: Request, saved: dict, name: str, every: list | None = None) -> None:
    """``saved``: the save the undo button withdraws; ``every``: all rows saved (default: that one)."""
    queue.note_own_saves(request.session, every if every is not None else saved)
    request.session["last_save"] = {"decision_id": saved["decision_id"], "row_id": saved["row_id"], "name": name[:80],
                                    "version": saved["version"]}


@router.post("/rows/{row_id}", response_class=HTMLResponse)
async def row_save(request: Request, row_id: str):
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    return await run_quick(_row_save, request, row_id, form)  # the database work: see threads.quick


def _row_save(request: Request, row_id: str, form):
    engine, user = request.app.state.engine, request.state.user
    query = queue_query(request.query_params)
    decision = form_decision(form)
    try:
        saved = decisions.save_decision(engine, user, row_id, decision, "web")
    except (Conflict, ValidationError) as exc:
        context = row_context(request, row_id, query)
        context.update(pending=decision, **({"conflict": exc.current[row_id]} if isinstance(exc, Conflict) else {"error": str(exc)}))
        return render(request, "row.html", context, 409 if isinstance(exc, Conflict) else 422)
    _remember_save(request, saved, str(form.get("row_name", "")))
    target = row_id
    if form.get("action", "save_next") == "save_next":
        target = queue.neighbours(engine, query, row_id, user["id"])["next"] or row_id
    request.session["flash"] = {"kind": "saved", "version": saved["version"], "moved": target != row_id,
                                "at_end": target == row_id and form.get("action", "save_next") == "save_next"}
    return RedirectResponse(f"/rows/{target}?{urlencode(query.params())}", status_code=303)


@router.post("/undo")
async def undo(request: Request):
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    decision_id = int_param(form.get("decision_id"), "decision_id", 0, 1)
    result = await run_quick(decisions.undo_decision, request.app.state.engine, request.state.user, decision_id)
    request.session.pop("last_save", None)
    queue.note_own_saves(request.session, result | {"previous_status": None})
    request.session["flash"] = {"kind": "undone", "version": result["version"]}
    query = queue_query(request.query_params)
    return RedirectResponse(f"/rows/{result['row_id']}?{urlencode(query.params())}", status_code=303)


def _project_context(request: Request, key: str, **extra) -> dict:
    found = rows.project_rows(request.app.state.engine, key, request.state.user, reveal=request.query_params.get("reveal") == "1")
    return {"rows": found, "first": found[0], "conflicts": {}, "pending": {}, "error": None, "flash": _flash(request), **extra}


@router.get("/projects/{key}", response_class=HTMLResponse)
@quick
def project_page(request: Request, key: str):
    return render(request, "project.html", _project_context(request, key))


@router.post("/projects/{key}", response_class=HTMLResponse)
async def project_save(request: Request, key: str):
    form = await request.form(max_fields=20000)
    check_csrf(request, form.get("csrf_token"))
    return await run_quick(_project_save, request, key, form)


def _changed(decision: Decision, row: dict) -> bool:
    """Whether the reviewer changed anything from what the page showed them for this row."""
    shown_note = (row.get("d_note") or "") if row.get("decided_by") else ""
    return decision.labels() != {k: row["labels"][k] for k in decision.labels()} or decision.note.strip() != shown_note.strip()


def _project_save(request: Request, key: str, form):
    """Saves the rows the reviewer ticked or changed; untouched rows stay as they are."""
    shown = {r["row_id"]: r for r in rows.project_rows(request.app.state.engine, key, request.state.user)}
    items, pending = [], {}
    for index in range(int_param(form.get("count"), "count", 0, 0, len(shown))):
        prefix = f"r{index}_"
        row_id = str(form.get(f"{prefix}row_id", ""))
        if row_id not in shown:
            raise ValidationError(f"row {row_id!r} is not in this project")
        decision = form_decision(form, prefix)
        include = form.get(f"{prefix}include") == "1" or _changed(decision, shown[row_id])
        pending[row_id] = {"decision": decision, "include": include}
        if include:
            items.append((row_id, decision))
    if not items:
        return render(request, "project.html", _project_context(request, key, pending=pending,
                                                                error="没有勾选或修改任何行，未保存。"), 422)
    try:
        saved = decisions.save_decisions(request.app.state.engine, request.state.user, items, "project")
    except (Conflict, ValidationError) as exc:
        extra = {"conflicts": exc.current} if isinstance(exc, Conflict) else {"error": str(exc)}
        return render(request, "project.html", _project_context(request, key, pending=pending, **extra),
                      409 if isinstance(exc, Conflict) else 422)
    _remember_save(request, saved[-1], "", saved)
    request.session["flash"] = {"kind": "project", "count": len(saved)}
    return RedirectResponse(f"/projects/{key}", status_code=303)


@router.post("/bulk")
async def bulk(request: Request):
    form = await request.form()
    check_csrf(request, form.get("csrf_token"))
    return await run_slow(_bulk, request, form)


def _bulk(request: Request, form):
    query = queue_query(request.query_params)
    template = {}
    for name in (*FLAGS, "metric_type", "suggested_metric_type"):
        value = str(form.get(name, "model"))
        template[name] = int(value) if name in FLAGS and value in ("0", "1") else value
    expected = int_param(form.get("expected"), "expected", 0, 1, BULK_MAX)
    saved = decisions.bulk_decide(request.app.state.engine, request.state.user, query, template, expected,
                                  str(form.get("note", "")))
    if saved:
        _remember_save(request, saved[-1], "", saved)
    request.session["flash"] = {"kind": "bulk", "count": len(saved)}
    return RedirectResponse(f"/queue?{urlencode(query.params(page=None))}", status_code=303)


@router.get("/progress", response_class=HTMLResponse)
async def progress_page(request: Request):
    figures = await run_slow(progress.progress, request.app.state.engine)
    return render(request, "progress.html", {"progress": figures, "flat_metrics": progress.flat_metrics})


@router.get("/docs", response_class=HTMLResponse)
@quick
def docs_page(request: Request):
    return render(request, "docs.html", {})
