"""Decisions out: the gold-annotation CSV (read by `budgetnlp dataset build`) and Label Studio
tasks. CSV cells that a spreadsheet would run as a formula are neutralized
(``budgetnlp.io.neutralize_frame``); the dataset builder restores them exactly."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa

from ..errors import InputError
from ..schema import ANNOTATION_CELLS, ANNOTATION_COLUMNS
from . import db
from .common import LABEL_FIELDS, current_labels, iso
from .queue import QueueQuery, order


def _export_line(row, labels: dict, note: str, decided_by: str, decided_at) -> dict:
    line = {c: "" for c in ANNOTATION_COLUMNS}
    line.update(
        doc=row["doc"], department=row["department"], year="" if row["year"] is None else str(row["year"]),
        project_code=row["project_code"], project=row["project_name"],
        **{c: row[c] for c in ANNOTATION_CELLS},
        note_A=note or "", decided_by=decided_by or "", decided_at=iso(decided_at),
    )
    for label in LABEL_FIELDS:
        line[label] = str(labels[label])
        line[f"{label}_votes"] = str(labels[label])
    return line


def export_frame(engine: sa.Engine, *, all_decisions: bool = False):
    """Decisions in the gold-annotation format (schema.ANNOTATION_COLUMNS), as written.

    Default: the newest standing decision per row (what the dataset builder keeps anyway). With
    ``all_decisions``: every standing line of the history, oldest first (undo lines and the
    saves they withdrew are left out)."""
    import pandas as pd

    t, d = db.indicator_rows, db.decisions
    lines = []
    with engine.connect() as conn:
        if all_decisions:
            undone = sa.select(d.c.undoes).where(d.c.undoes.is_not(None))
            statement = (sa.select(t, *(d.c[c].label(f"h_{c}") for c in (*LABEL_FIELDS, "note", "reviewer", "decided_at")))
                         .join(d, d.c.row_id == t.c.row_id).where(d.c.channel != "undo", d.c.id.not_in(undone)).order_by(d.c.id))
            for r in conn.execute(statement):
                m = r._mapping
                lines.append(_export_line(m, {k: m[f"h_{k}"] for k in LABEL_FIELDS}, m["h_note"], m["h_reviewer"], m["h_decided_at"]))
        else:
            for r in conn.execute(sa.select(t).where(t.c.decided_by.is_not(None)).order_by(t.c.decided_at, t.c.row_id)):
                m = dict(r._mapping)
                lines.append(_export_line(m, current_labels(m), m["d_note"], m["decided_by"], m["decided_at"]))
    return pd.DataFrame(lines, columns=ANNOTATION_COLUMNS)


def csv_text(frame) -> str:
    """An export frame as CSV text for spreadsheets: BOM first (Excel reads UTF-8 only then),
    formula-like cells neutralized."""
    from ..io import neutralize_frame

    buffer = io.StringIO()
    neutralize_frame(frame).to_csv(buffer, index=False)
    return "\ufeff" + buffer.getvalue()


def write_export(engine: sa.Engine, path: str | Path, *, all_decisions: bool = False) -> tuple[Path, int]:
    """Write the export as CSV (UTF-8 with BOM, like gold.csv readers expect)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(path, "export is written as .csv")
    frame = export_frame(engine, all_decisions=all_decisions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(frame).encode("utf-8"))
    return path, len(frame)


def labelstudio_tasks(engine: sa.Engine, *, only_unreviewed: bool = False, limit: int | None = None) -> list[dict]:
    """Rows as Label Studio tasks with the model's predictions (see budgetnlp.labelstudio)."""
    from ..labelstudio import task_from_row

    t = db.indicator_rows
    statement = sa.select(t).order_by(*order(QueueQuery()))
    if only_unreviewed:
        statement = statement.where(t.c.status == "unreviewed")
    if limit:
        statement = statement.limit(limit)
    with engine.connect() as conn:
        return [task_from_row(dict(r._mapping)) for r in conn.execute(statement)]
