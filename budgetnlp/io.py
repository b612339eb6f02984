"""Reading and writing row tables: CSV (UTF-8 with BOM, for Excel), JSONL or Parquet by extension."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .errors import BudgetNLPError, InputError

TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")


def check_output_file(path: str | Path) -> Path:
    """An output table's path, checked before any work: a known type, not a folder, its folder
    created and writable; otherwise one clear error."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise BudgetNLPError(f"{path}: unsupported output type {suffix or '(none)'}: use .csv, .jsonl or .parquet")
    if path.is_dir():
        raise BudgetNLPError(f"{path}: this is a folder; give a file name ending in {suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        raise BudgetNLPError(f"{path}: cannot write in {path.parent} ({exc.strerror or type(exc).__name__}); "
                             f"choose a folder you may write to") from None
    return path


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` in the format its extension names; parent folders are created. Written to a
    temporary name and renamed: a failed write leaves the previous file, never half a file. A CSV
    is opened in spreadsheets: its formula-like cells are neutralized (read_table restores them)."""
    path = check_output_file(path)
    suffix = path.suffix.lower()
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        if suffix == ".csv":
            neutralize_frame(frame).to_csv(tmp, index=False, encoding="utf-8-sig")
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a row table written by ``write_table`` (or by another tool with the same columns);
    cells a CSV neutralized for spreadsheets come back as written."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return restore_frame(pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False))
        if suffix == ".jsonl":
            return pd.read_json(path, orient="records", lines=True, dtype=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable {suffix[1:]} table ({exc})") from None
    raise InputError(path, f"unsupported table type {suffix or '(none)'}")


def errors_frame(errors, duplicates=(), warnings=()) -> pd.DataFrame:
    """One line per unusable input (kind ``error``), per input repeating an earlier one's content
    (``duplicate``) and per extraction warning (``warning``); columns kind, path, reason, location."""
    notes = [("error", e) for e in errors] + [("duplicate", e) for e in duplicates] + [("warning", e) for e in warnings]
    return pd.DataFrame(
        [{"kind": kind, "path": e.path, "reason": e.reason, "location": e.location} for kind, e in notes],
        columns=["kind", "path", "reason", "location"],
    )


def extract_warnings(rows: pd.DataFrame) -> list[InputError]:
    """One note per file, table and reason among rows flagged in ``extract_warning`` (the
    extractor's self-checks: a column mapping that did not fit the cells, or was corrected)."""
    if "extract_warning" not in rows.columns or rows.empty:
        return []
    flagged = rows[rows["extract_warning"].fillna("").astype(str) != ""]
    tables = flagged["location"].astype(str).str.extract(r"^(table \d+)", expand=False).fillna("")
    notes = flagged.assign(_table=tables)[["source_path", "_table", "extract_warning"]].drop_duplicates()
    return [InputError(path, reason, table) for path, table, reason in notes.itertuples(index=False)]


# ---------------------------------------------------------------- spreadsheet formulas
#: a cell that a spreadsheet would run as a formula starts with one of these (OWASP, "CSV
#: injection"); the quotes before it are counted so that the inverse is exact
_FORMULA = r"^'*[=+\-@\t\r]"


def neutralize_cell(value: str) -> str:
    """One more leading apostrophe on a cell a spreadsheet would read as a formula (``=HYPERLINK(…)``,
    ``-1+1``, ``@SUM``), or on one that already starts with apostrophes before such a character:
    Excel and WPS show the text and run nothing. :func:`restore_cell` undoes it exactly."""
    import re

    return "'" + value if isinstance(value, str) and re.match(_FORMULA, value) else value


def restore_cell(value: str) -> str:
    """The exact inverse of :func:`neutralize_cell` (``restore_cell(neutralize_cell(s)) == s``)."""
    import re

    return value[1:] if isinstance(value, str) and value.startswith("'") and re.match(_FORMULA, value) else value


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralized, for CSVs meant for spreadsheets."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column]
            mask = values.astype(str).str.match(_FORMULA) & values.map(lambda v: isinstance(v, str))
            if mask.any():
                out[column] = values.where(~mask, "'" + values.astype(str))
    return out


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`neutralize_frame` on a CSV read back as text (``dtype=str``)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column].astype(str)
            mask = values.str.startswith("'") & values.str.match(_FORMULA)
            if mask.any():
                out[column] = out[column].where(~mask, values.str[1:])
    return out


def neutralize_arrow(table):
    """The same for an Arrow table's string columns (scored.csv is written by Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA), False)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", field.type), column, pa.scalar("", field.type)), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)
