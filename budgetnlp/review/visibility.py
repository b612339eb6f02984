"""Blind double review: what one reviewer may see of the others' decisions.

A reviewer who has not decided a row yet sees the model's prediction (marked as such) and
nothing of anyone else's decision — not the labels, note, name or history — so a second review
is independent and the agreement (κ) is not biased upwards. Others' decisions show once the
reviewer has saved their own, to an admin, and in the "review the reviewed" mode (``reveal``).
"""

from __future__ import annotations

import sqlalchemy as sa

from . import db
from .common import FLAGS, model_labels

#: the row fields that carry another reviewer's decision
DECISION_FIELDS = ("d_note", "decided_by", "decided_at", *(f"d_{f}" for f in FLAGS), "d_metric_type", "d_suggested_metric_type")


def own_rows(conn, user_id: int | None, row_ids: list[str]) -> set[str]:
    """The rows among ``row_ids`` on which ``user_id`` has a decision that stands (not undone)."""
    if user_id is None or not row_ids:
        return set()
    return set(conn.execute(_OWN_ROWS, {"user_id": user_id, "row_ids": list(row_ids)}).scalars())


_d = db.decisions
_undone = sa.select(_d.c.undoes).where(_d.c.user_id == sa.bindparam("user_id"), _d.c.undoes.is_not(None))
#: built once (every row page and queue page runs it)
_OWN_ROWS = sa.select(_d.c.row_id).where(
    _d.c.user_id == sa.bindparam("user_id"), _d.c.row_id.in_(sa.bindparam("row_ids", expanding=True)), _d.c.channel != "undo",
    _d.c.id.not_in(_undone)).distinct()


def sees_others(user: dict | None, own: bool, reveal: bool) -> bool:
    return bool(own or reveal or (user and user.get("role") == "admin"))


def blind(row: dict) -> dict:
    """The row as a reviewer who has not decided it sees it: labels are the model's, and
    nothing of another reviewer's decision remains (the version stays: a save must name it)."""
    row = dict(row)
    row["labels"] = model_labels(row)
    row["labels_from"] = "model"
    for name in DECISION_FIELDS:
        if name in row:
            row[name] = "" if name in ("d_note", "decided_by", "decided_at") else None
    return row
