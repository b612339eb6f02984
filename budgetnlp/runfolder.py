"""A scoring run folder's file names and its reader, shared by the scorer (which writes it) and
the review app (which imports it).

    summary.json     the run: model name, version and metrics, created_at, inputs, counts
    scored.parquet   the scored rows (DESIGN.md "The scored table"); read first
    scored.csv       the same rows for spreadsheets: UTF-8 with BOM, formula-like cells
                     neutralized (``io.neutralize_cell``); restored here when read
    errors.csv       one line per input that could not be used
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from .errors import InputError
from .schema import FLAGS

SUMMARY_FILE = "summary.json"
SCORED_PARQUET = "scored.parquet"
SCORED_CSV = "scored.csv"
ERRORS_CSV = "errors.csv"
#: the scored tables in the order a reader prefers them
SCORED_FILES = (SCORED_PARQUET, SCORED_CSV)
REQUIRED_COLUMNS = ("row_id", "name", "value", *FLAGS, *(f"p_{f}" for f in FLAGS))


def _created(value) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def read_run(out_dir: str | Path):
    """A scoring run folder → (summary dict with created_at as a datetime, scored frame, run key:
    a hash of summary.json and the scored table). Raises InputError naming the file and the fault."""
    import pandas as pd

    from .io import restore_frame

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError(out_dir, "no such scoring run folder (written by `budgetnlp score`)")
    summary_path = out_dir / SUMMARY_FILE
    if not summary_path.is_file():
        raise InputError(summary_path, f"missing: a scoring run folder needs {SUMMARY_FILE}")
    try:
        summary_bytes = summary_path.read_bytes()
        summary = json.loads(summary_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(summary_path, f"not valid JSON ({exc})") from None
    model = summary.get("model") if isinstance(summary, dict) else None
    if not isinstance(model, dict) or not model.get("name") or not model.get("version"):
        raise InputError(summary_path, 'needs {"model": {"name": …, "version": …}}')
    created = _created(summary.get("created_at"))
    if created is None:
        raise InputError(summary_path, f"created_at is not an ISO timestamp: {summary.get('created_at')!r}")
    scored_path = next((out_dir / f for f in SCORED_FILES if (out_dir / f).is_file()), None)
    if scored_path is None:
        raise InputError(out_dir, f"missing {SCORED_PARQUET} (or {SCORED_CSV})")
    try:
        if scored_path.name == SCORED_PARQUET:
            frame = pd.read_parquet(scored_path)
        else:
            frame = restore_frame(pd.read_csv(scored_path, dtype=str, keep_default_na=False, encoding="utf-8-sig"))
    except (ValueError, OSError) as exc:
        raise InputError(scored_path, f"unreadable ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(scored_path, f"missing columns {', '.join(missing)}")
    ids = frame["row_id"].astype(str)
    if (ids.str.len() == 0).any():
        raise InputError(scored_path, f"empty row_id on line {int((ids.str.len() == 0).to_numpy().argmax()) + 2}")
    key = hashlib.sha256(summary_bytes + hashlib.sha256(scored_path.read_bytes()).digest()).hexdigest()
    summary["created_at"] = created
    return summary, frame, key
