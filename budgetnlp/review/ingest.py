"""Rows in: scoring runs (``import_run``), synthetic bulk loads (the benchmark), trained models
(``register_model``). The run folder is read by ``budgetnlp.runfolder`` and a model folder by
``budgetnlp.models._artifact``: the writers' own readers, no guessing at names here."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import sqlalchemy as sa

from ..errors import InputError, ModelError
from ..runfolder import read_run
from ..schema import FLAGS, METRIC_TYPES, ROW_COLUMNS, SCORED_COLUMNS
from . import db, fulltext
from .common import aware, iso, now, number, project_key, search_key, text

_KNOWN = set(ROW_COLUMNS) | set(SCORED_COLUMNS) | {"suggestion"}
#: indicator_rows columns copied into row_search so that a text search filters, counts and sorts in one pass
SEARCH_COPY = ["status", "year", "department", *(f"l_{f}" for f in FLAGS), "l_metric_type", "risk", "margin", "project_key"]
REVIEW_COLUMNS = ("version", "status", *(f"d_{f}" for f in FLAGS), "d_metric_type", "d_suggested_metric_type", "d_note",
                  "decided_by", "decided_at", "n_reviewers", *(f"l_{f}" for f in FLAGS), "l_metric_type")
PREDICTION_COLUMNS = [c.name for c in db.indicator_rows.columns if c.name != "row_id" and c.name not in REVIEW_COLUMNS]


def _int01(value) -> int:
    return 1 if number(value, 0.0) >= 0.5 else 0


def _year(value):
    value = number(value)
    return int(value) if value is not None and 1000 <= value <= 9999 else None


def row_record(record: dict, position: int, run_id: int, model_label: str) -> dict:
    """A scored-table record → an indicator_rows line (predictions only, no review state)."""
    p = {f: min(1.0, max(0.0, number(record.get(f"p_{f}"), 0.0))) for f in FLAGS}
    metric = text(record.get("metric_type")) or "text"
    suggested = text(record.get("suggested_metric_type")) or metric
    extra = {k: text(v) for k, v in record.items() if k not in _KNOWN and text(v)}
    doc_id, code, name = text(record.get("doc_id")), text(record.get("project_code")), text(record.get("project_name"))
    source = text(record.get("source_path"))
    return {
        "row_id": text(record["row_id"]), "doc_id": doc_id, "source_path": source,
        "doc": Path(source).name if source else doc_id, "department": text(record.get("department")),
        "year": _year(record.get("year")), "project_key": project_key(doc_id, code, name), "project_code": code,
        "project_name": name, "project_budget": number(record.get("project_budget")),
        **{c: text(record.get(c)) for c in ("fund_use", "project_goals", "level1", "level2", "level1_norm", "level2_norm",
                                            "name", "description", "value", "basis", "location")},
        "position": position, "extra": json.dumps(extra, ensure_ascii=False),
        **{f: _int01(record.get(f)) for f in FLAGS}, **{f"p_{f}": p[f] for f in FLAGS},
        "metric_type": metric if metric in METRIC_TYPES else "text",
        "suggested_metric_type": suggested if suggested in METRIC_TYPES else "text",
        "value_op": text(record.get("value_op")), "value_number": number(record.get("value_number")),
        "value_low": number(record.get("value_low")), "value_high": number(record.get("value_high")),
        **{c: text(record.get(c)) for c in ("value_unit", "value_deadline", "value_issue")},
        "risk": number(record.get("risk"), 0.0), "margin": min(abs(p[f] - 0.5) for f in FLAGS),
        "reasons": text(record.get("reasons")), "suggestion": text(record.get("suggestion")),
        "model": text(record.get("model")) or model_label, "run_id": run_id,
    }


def with_model_labels(row: dict) -> dict:
    """A new row's current labels are the model's."""
    row.update({f"l_{f}": row[f] for f in FLAGS}, l_metric_type=row["metric_type"])
    return row


def search_record(row: dict) -> dict:
    return {
        "row_id": row["row_id"],
        "text": search_key("\x1f".join(row[c] for c in ("name", "description", "value", "project_name"))),
        "project": search_key(f"{row['project_name']}\x1f{row['project_code']}"),
        **{c: row.get(c, "unreviewed" if c == "status" else None) for c in SEARCH_COPY},
    }


def insert_rows(conn, rows: list[dict]) -> None:
    """Insert new rows (with their current labels set) into indicator_rows, row_search and the text index."""
    conn.execute(db.indicator_rows.insert(), rows)
    searchable = [search_record(r) for r in rows]
    conn.execute(db.row_search.insert(), searchable)
    fulltext.index_rows(conn, searchable)


def sync_search(conn, condition) -> None:
    """Copy the queue columns of the rows matching ``condition`` (on row_search) from indicator_rows."""
    r, s = db.indicator_rows, db.row_search
    conn.execute(s.update().where(condition).values(
        {c: sa.select(r.c[c]).where(r.c.row_id == s.c.row_id).scalar_subquery() for c in SEARCH_COPY}))


def import_run(engine: sa.Engine, out_dir: str | Path, *, progress=None) -> dict:
    """Load a scoring run. New rows are inserted; rows already there get this run's predictions
    when this run is at least as new (summary created_at) as the run that scored them — never
    touching version, status or decisions. Importing the same run twice changes nothing."""
    summary, frame, key = read_run(out_dir)
    model, created = summary["model"], summary["created_at"]
    model_label = f"{model['name']} {model['version']}"
    result = {"run_id": None, "new_run": False, "rows": len(frame), "inserted": 0, "updated": 0, "unchanged": 0, "older": 0,
              "model": model_label}
    with engine.begin() as conn:
        run_id = conn.execute(sa.select(db.runs.c.id).where(db.runs.c.run_key == key)).scalar()
        if run_id is not None:
            result.update(run_id=run_id, unchanged=len(frame))
            return result
        source = str(Path(out_dir).resolve())
        run_id = conn.execute(db.runs.insert().values(
            run_key=key, model_name=str(model["name"]), model_version=str(model["version"]), created_at=created,
            imported_at=now(), source=source, rows=len(frame),
            summary=json.dumps({k: v for k, v in summary.items() if k != "created_at"} | {"created_at": iso(created)},
                               ensure_ascii=False, default=str),
        )).inserted_primary_key[0]
        result.update(run_id=run_id, new_run=True)
        register_version(conn, str(model["name"]), str(model["version"]), model.get("metrics") or {}, "", "run", source)
        existing = {r.row_id: aware(r.created_at) for r in conn.execute(
            sa.select(db.indicator_rows.c.row_id, db.runs.c.created_at).join(db.runs, db.runs.c.id == db.indicator_rows.c.run_id))}
        inserts, updates, seen = [], [], set()
        for position, record in enumerate(frame.to_dict("records")):
            row = row_record(record, position, run_id, model_label)
            if row["row_id"] in seen:
                continue
            seen.add(row["row_id"])
            previous = existing.get(row["row_id"], "absent")
            if previous == "absent":
                inserts.append(row)
            elif previous is None or created >= previous:
                updates.append(row)
            else:
                result["older"] += 1
        for start in range(0, len(inserts), 5000):
            insert_rows(conn, [with_model_labels(r) for r in inserts[start : start + 5000]])
            if progress:
                progress(min(start + 5000, len(inserts)))
        if updates:
            table = db.indicator_rows
            # an undecided row's current labels follow the model; a decided row's stay the reviewer's
            follow = {f"l_{c}": sa.case((table.c.decided_by.is_(None), sa.bindparam(f"b_{c}")), else_=table.c[f"l_{c}"])
                      for c in (*FLAGS, "metric_type")}
            statement = table.update().where(table.c.row_id == sa.bindparam("b_row_id")).values(
                {c: sa.bindparam(f"b_{c}") for c in PREDICTION_COLUMNS} | follow)
            for start in range(0, len(updates), 5000):
                conn.execute(statement, [{f"b_{k}": v for k, v in u.items()} for u in updates[start : start + 5000]])
            sync_search(conn, db.row_search.c.row_id.in_(sa.select(table.c.row_id).where(table.c.run_id == run_id)))
        result["inserted"], result["updated"] = len(inserts), len(updates)
        result["unchanged"] = len(frame) - len(inserts) - len(updates) - result["older"]
        if len(inserts) >= 1000:  # fresh planner statistics, so queue queries keep to their covering indexes
            for name in ("indicator_rows", "row_search"):
                conn.exec_driver_sql(f"ANALYZE {name}")
    return result


def bulk_insert_rows(engine: sa.Engine, records: list[dict], *, model_name="bench", model_version="0") -> int:
    """Insert many scored-row records at once (used by evaluation/bench_review.py)."""
    with engine.begin() as conn:
        run_id = conn.execute(db.runs.insert().values(
            run_key=secrets.token_hex(16), model_name=model_name, model_version=model_version, created_at=now(),
            imported_at=now(), source="bulk", rows=len(records), summary="{}",
        )).inserted_primary_key[0]
        label = f"{model_name} {model_version}"
        rows = [with_model_labels(row_record(r, i, run_id, label)) for i, r in enumerate(records)]
        for start in range(0, len(rows), 10000):
            insert_rows(conn, rows[start : start + 10000])
        for name in ("indicator_rows", "row_search"):
            conn.exec_driver_sql(f"ANALYZE {name}")
    return len(records)


# ---------------------------------------------------------------- model versions
def register_version(conn, name, version, metrics, card, source, path) -> None:
    t = db.model_versions
    existing = conn.execute(sa.select(t.c.id, t.c.metrics, t.c.card).where(t.c.name == name, t.c.version == version)).first()
    metrics_text = json.dumps(metrics, ensure_ascii=False, default=str)
    if existing is None:
        conn.execute(t.insert().values(name=name, version=version, metrics=metrics_text, card=card, source=source, path=path,
                                       registered_at=now()))
    elif (metrics and metrics_text != existing.metrics) or (card and card != existing.card):
        conn.execute(t.update().where(t.c.id == existing.id).values(
            metrics=metrics_text if metrics else existing.metrics, card=card or existing.card, source=source, path=path))


def read_model_folder(model_dir: str | Path, name: str | None = None, version: str | None = None) -> dict:
    """A folder written by `budgetnlp train` → name and version (meta.json, unless given),
    metrics (metrics.json) and the model card (MODEL_CARD.md), through the model package's reader."""
    from ..models import _artifact

    model_dir = Path(model_dir)
    metrics_path, meta_path = model_dir / _artifact.METRICS_FILE, model_dir / _artifact.META_FILE
    if not metrics_path.is_file():
        raise InputError(metrics_path, f"missing: a model folder needs {_artifact.METRICS_FILE} (written by `budgetnlp train`)")
    try:
        metrics = _artifact.read_metrics(model_dir, required=True)
    except ModelError as exc:
        raise InputError(metrics_path, str(exc).removeprefix(f"{metrics_path}: ")) from None
    card = _artifact.read_card(model_dir)
    if not (name and version):
        if not meta_path.is_file():
            raise InputError(meta_path, "missing: pass --name and --version, or register a folder "
                                        "written by `budgetnlp train`")
        try:  # other library versions matter for loading, not for listing
            meta = _artifact.read_meta(model_dir, warn_versions=False)
        except ModelError as exc:
            raise InputError(meta_path, str(exc).removeprefix(f"{meta_path}: ")) from None
        name, version = name or str(meta.get("name") or model_dir.resolve().name), version or str(meta.get("version") or "")
        if not version:
            raise InputError(meta_path, "has no version: pass --version")
    return {"name": name, "version": version, "metrics": metrics, "card": card, "path": str(model_dir.resolve())}


def register_model(engine: sa.Engine, model_dir: str | Path, name: str | None = None, version: str | None = None) -> dict:
    """Record a trained model's metrics and card so the progress page lists it (re-registering updates)."""
    info = read_model_folder(model_dir, name, version)
    with engine.begin() as conn:
        register_version(conn, info["name"], info["version"], info["metrics"], info["card"], "register", info["path"])
    return info
