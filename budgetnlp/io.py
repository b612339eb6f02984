"""Reading and writing row tables: CSV (UTF-8 with BOM, for Excel), JSONL or Parquet by extension."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InputError

TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` in the format its extension names; parent folders are created."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(path, f"unsupported output type {suffix or '(none)'}: use .csv, .jsonl or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a row table written by ``write_table`` (or by another tool with the same columns)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        if suffix == ".jsonl":
            return pd.read_json(path, orient="records", lines=True, dtype=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable {suffix[1:]} table ({exc})") from None
    raise InputError(path, f"unsupported table type {suffix or '(none)'}")


def errors_frame(errors) -> pd.DataFrame:
    """One line per unusable input: path, reason, location."""
    return pd.DataFrame(
        [{"path": e.path, "reason": e.reason, "location": e.location} for e in errors],
        columns=["path", "reason", "location"],
    )
