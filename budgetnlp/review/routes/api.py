"""The JSON API (documented by /openapi.json and the /docs page). Reads need a session or HTTP
Basic credentials; writes by session also need the X-CSRF-Token header."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ...schema import FLAGS
from .. import decisions, exports, progress, queue, rows
from ..common import PAGE_MAX, PER_PAGE_MAX, STATUS_FILTERS
from ..deps import ApiWriter, api_user, csrf_token
from ..errors import ValidationError
from ..queue import QueueQuery
from ..schemas import BatchIn, BulkIn, ConflictOut, DecisionIn, MetricType, SaveOut, UndoIn, UndoOut
from ..threads import quick, run_quick, run_slow
from .pages import queue_query

router = APIRouter(prefix="/api", dependencies=[Depends(api_user)], tags=["review"])
CONFLICT = {409: {"model": ConflictOut, "description": "版本冲突：该行已被他人保存"}}


async def filters(  # no I/O: no thread
    sort: Literal["risk", "uncertainty"] = "risk",
    year: int | None = Query(None, ge=1900, le=2200),
    department: str | None = Query(None, max_length=200),
    project: str | None = Query(None, max_length=200),
    flag: Literal[tuple(FLAGS)] | None = Query(None),  # type: ignore[valid-type]
    metric_type: MetricType | None = Query(None),
    status: Literal[tuple(STATUS_FILTERS)] | None = Query(None),  # type: ignore[valid-type]
    q: str | None = Query(None, max_length=200, description="在指标名称、描述、指标值和项目中搜索的文字"),
    page: int = Query(1, ge=1, le=PAGE_MAX),
    per_page: int = Query(50, ge=1, le=PER_PAGE_MAX),
    reveal: bool = Query(False, description="复核模式：显示他人的判断"),
) -> QueueQuery:
    return QueueQuery(sort=sort, year=year, department=department, project=project, flag=flag, metric_type=metric_type,
                      status=status, q=q, page=page, per_page=per_page, reveal=reveal)


def _saved(request: Request, result):
    """A session's own save: its next queue counts are computed fresh (see CountCache)."""
    if request.state.auth == "session":
        queue.note_own_saves(request.session, result)
    return result


@router.get("/me", summary="当前登录用户（会话登录时附 CSRF 令牌，供 JSON 写操作使用）")
@quick
def me(request: Request):
    user = request.state.user
    out = {"name": user["name"], "role": user["role"], "auth": request.state.auth}
    if request.state.auth == "session":
        out["csrf_token"] = csrf_token(request)
    return out


@router.get("/queue", summary="审核队列的一页，附各状态的行数")
@quick
def api_queue(request: Request, query: QueueQuery = Depends(filters)):
    return JSONResponse(queue.queue(request.app.state.engine, query, request.state.user, request.app.state.queue_cache,
                                    newer_than=queue.fresh_after(query, request.session)))  # plain JSON values already


@router.get("/rows/{row_id}", summary="一行：模型预测、当前判断与版本、同项目各行、审核历史（未审过时不显示他人判断）")
@quick
def api_row(request: Request, row_id: str):
    view = rows.row_view(request.app.state.engine, row_id, queue_query(request.query_params), request.state.user)
    view["project"] = [{k: r[k] for k in ("row_id", "level1", "level2", "name", "value", "labels", "status", "version")}
                       for r in view["project"]]
    return JSONResponse(view)  # plain JSON values already: the same bytes without jsonable_encoder's walk


@router.get("/rows/{row_id}/history", summary="一行的全部审核记录，新的在前（未审过时只含自己的记录）")
@quick
def api_row_history(request: Request, row_id: str, reveal: bool = False):
    return rows.visible_history(request.app.state.engine, row_id, request.state.user, reveal=reveal)


@router.post("/rows/{row_id}/decision", response_model=SaveOut, responses=CONFLICT,
             summary="保存一行的判断（base_version 过期时返回 409）")
async def api_save(request: Request, row_id: str, body: DecisionIn, user: ApiWriter):
    # async, the database work through run_quick: a sync endpoint with a response model would
    # cost two thread handoffs (the call, then the response's validation)
    return _saved(request, await run_quick(decisions.save_decision, request.app.state.engine, user, row_id,
                                           body.to_service(), "api"))


@router.post("/undo", response_model=UndoOut, responses=CONFLICT, summary="撤销自己的一次保存（其后无人保存过该行时）")
async def api_undo(request: Request, body: UndoIn, user: ApiWriter):
    return _saved(request, await run_quick(decisions.undo_decision, request.app.state.engine, user, body.decision_id))


@router.post("/bulk", response_model=list[SaveOut], responses=CONFLICT,
             summary="批量标注：给筛选结果的每一行同一个判断（每行一条审核记录）")
async def api_bulk(request: Request, body: BulkIn, user: ApiWriter, query: QueueQuery = Depends(filters)):
    return _saved(request, await run_slow(decisions.bulk_decide, request.app.state.engine, user, query, body.template(),
                                          body.expected, body.note))


@router.get("/projects/{key}", summary="一个项目的全部行")
@quick
def api_project(request: Request, key: str, reveal: bool = False):
    return rows.project_rows(request.app.state.engine, key, request.state.user, reveal=reveal)


@router.post("/projects/{key}/decisions", response_model=list[SaveOut], responses=CONFLICT,
             summary="一次保存一个项目中多行的判断（全部成功或全部不保存）")
@quick
def api_project_save(request: Request, key: str, body: BatchIn, user: ApiWriter):
    engine = request.app.state.engine
    known = {r["row_id"] for r in rows.project_rows(engine, key)}
    outside = [d.row_id for d in body.decisions if d.row_id not in known]
    if outside:
        raise ValidationError(f"rows not in this project: {', '.join(outside[:10])}")
    return _saved(request, decisions.save_decisions(engine, user, [(d.row_id, d.to_service()) for d in body.decisions], "api"))


@router.get("/history", summary="全部行中最新的审核记录")
@quick
def api_history(request: Request, limit: int = Query(100, ge=1, le=5000)):
    return rows.history(request.app.state.engine, limit=limit)


@router.get("/export", summary="按金标准标注格式导出判断（CSV 或 JSON；每行最新一条，或全部）")
async def api_export(request: Request, all: bool = False, format: Literal["csv", "json"] = "csv"):
    return await run_slow(_export, request.app.state.engine, all, format)


def _export(engine, all_decisions: bool, format: str) -> Response:
    frame = exports.export_frame(engine, all_decisions=all_decisions)
    if format == "json":
        return JSONResponse(frame.to_dict("records"))
    return Response(exports.csv_text(frame), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="review-export.csv"'})


@router.get("/progress", summary="各审核员、各部门的进度，各标签的 Cohen's kappa，模型版本")
async def api_progress(request: Request):
    return await run_slow(progress.progress, request.app.state.engine)


@router.get("/models", summary="模型版本及其指标")
@quick
def api_models(request: Request):
    return progress.model_versions(request.app.state.engine)
