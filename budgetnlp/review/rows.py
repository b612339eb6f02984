"""A row and its project as a reviewer sees them (blind where they have not decided yet), and
the history of decisions."""

from __future__ import annotations

import json

import sqlalchemy as sa

from . import db
from .common import current_labels, iso
from .decisions import decision_out
from .errors import NotFound
from .queue import QueueQuery, neighbours_on
from .visibility import blind, own_rows, sees_others


def row_out(row: dict) -> dict:
    row = dict(row)
    row["labels"] = current_labels(row)
    row["labels_from"] = "decision" if row.get("decided_by") else "model"
    row["reasons_list"] = [r for r in (row.get("reasons") or "").split("\n") if r.strip()]
    row["extra"] = json.loads(row.get("extra") or "{}") if isinstance(row.get("extra"), str) else row.get("extra", {})
    row["decided_at"] = iso(row.get("decided_at"))
    return row


def _as_user(user) -> dict | None:
    return user if isinstance(user, dict) or user is None else {"id": user, "role": "reviewer"}


def _visible(conn, rows: list[dict], user: dict | None, reveal: bool) -> tuple[list[dict], set[str]]:
    """The rows with others' decisions hidden where ``user`` may not see them yet; and the rows
    ``user`` has decided."""
    decided = [r["row_id"] for r in rows if r.get("decided_by")]
    own = own_rows(conn, user["id"] if user else None, decided)
    if sees_others(user, False, reveal):
        return rows, own
    return [r if (not r.get("decided_by") or r["row_id"] in own) else blind(r) for r in rows], own


_t, _d = db.indicator_rows, db.decisions
#: built once (the row page runs them on every request): the rows of a row's project, in
#: document order, in one statement; a row's newest 200 history lines
_ROW_PROJECT = sa.select(_t).where(_t.c.project_key == sa.select(_t.c.project_key).where(
    _t.c.row_id == sa.bindparam("row_id")).scalar_subquery()).order_by(_t.c.position, _t.c.row_id)
_ROW_HISTORY = sa.select(_d).where(_d.c.row_id == sa.bindparam("row_id")).order_by(_d.c.id.desc()).limit(200)


def row_view(engine: sa.Engine, row_id: str, query: QueueQuery, user: dict | int | None = None) -> dict:
    """What the row page shows, read on one connection: the row, its project's rows, its history,
    its neighbours and position in the queue's order. Blind where the user has not decided."""
    query = query.check()
    user = _as_user(user)
    with engine.connect() as conn:
        project = [row_out(dict(r._mapping)) for r in conn.execute(_ROW_PROJECT, {"row_id": row_id})]
        if not project:
            raise NotFound(f"no row {row_id!r}")
        project, own = _visible(conn, project, user, query.reveal)
        row = next(r for r in project if r["row_id"] == row_id)
        history = [decision_out(r) for r in conn.execute(_ROW_HISTORY, {"row_id": row_id})]
        hidden = 0
        if not sees_others(user, row_id in own, query.reveal):
            shown = [h for h in history if user and h["user_id"] == user["id"]]
            hidden, history = len(history) - len(shown), shown
        nav = neighbours_on(conn, query, row_id, user["id"] if user else None,
                            row["margin"] if query.sort == "uncertainty" else row["risk"])
    return {"row": row, "project": project, "history": history, "hidden_history": hidden, "nav": nav}


def get_row(engine: sa.Engine, row_id: str) -> dict:
    """A row as stored (every decision visible: for the commands and tests, not for reviewers)."""
    t = db.indicator_rows
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.row_id == row_id)).first()
    if row is None:
        raise NotFound(f"no row {row_id!r}")
    return row_out(dict(row._mapping))


def project_rows(engine: sa.Engine, key: str, user: dict | int | None = None, *, reveal: bool = False) -> list[dict]:
    """A project's rows in document order; with ``user``, blind where they have not decided."""
    t = db.indicator_rows
    with engine.connect() as conn:
        rows = [row_out(dict(r._mapping)) for r in conn.execute(
            sa.select(t).where(t.c.project_key == key).order_by(t.c.position, t.c.row_id))]
        if rows and user is not None:
            rows, _own = _visible(conn, rows, _as_user(user), reveal)
    if not rows:
        raise NotFound(f"no project {key!r}")
    return rows


def history(engine: sa.Engine, row_id: str | None = None, *, limit: int = 200) -> list[dict]:
    """Decisions, newest first (for one row, or all)."""
    t = db.decisions
    statement = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    if row_id is not None:
        statement = statement.where(t.c.row_id == row_id)
    with engine.connect() as conn:
        return [decision_out(r) for r in conn.execute(statement)]


def visible_history(engine: sa.Engine, row_id: str, user: dict, *, reveal: bool = False) -> list[dict]:
    """A row's history as ``user`` may see it: only their own lines until they have decided it
    (blind review), everything for an admin or in the "review the reviewed" mode."""
    get_row(engine, row_id)
    lines = history(engine, row_id)
    with engine.connect() as conn:
        own = bool(own_rows(conn, user["id"], [row_id]))
    return lines if sees_others(user, own, reveal) else [h for h in lines if h["user_id"] == user["id"]]
