"""Pick the reader for a file by its content (then its extension) and run the shared row finder."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import BudgetNLPError, InputError, LimitExceeded
from ..schema import ROW_COLUMNS
from . import _limits, text
from ._blocks import Reader
from ._indicators import rows_from_blocks

_HEAD_BYTES = 8192


def _readers() -> dict[str, Reader]:
    """The registry: every format's reader, by name (imported lazily: optional libraries)."""
    from . import excel, html_page, pdf, word

    return {r.name: r for r in (word.READER, excel.READER, excel.XLS_READER, pdf.READER, html_page.READER, text.READER)}


def detect_format(path: Path, head: bytes, limits: _limits.Limits | None = None) -> str:
    """Name of the reader for ``path``; raises InputError for unusable or unsupported files
    (a zip over the unpacked-size limits among them)."""
    suffix = path.suffix.lower()
    if not head:
        raise InputError(path, "empty file")
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                _limits.check_zip(archive, limits)
        except LimitExceeded as exc:
            raise InputError(path, str(exc)) from None
        except (zipfile.BadZipFile, OSError):
            kind = {".docx": "docx", ".xlsx": "xlsx"}.get(suffix, "zip")
            raise InputError(path, f"corrupt {kind} file (broken zip archive)") from None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise InputError(path, "unsupported type: a zip archive that is neither .docx nor .xlsx")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if suffix == ".xls":
            return "xls"
        if suffix == ".doc":
            raise InputError(path, "unsupported type: legacy .doc (save it as .docx)")
        return "xls"
    binary_suffix = {".pdf": "PDF", ".docx": "docx", ".xlsx": "xlsx", ".xls": "xls"}
    if suffix in binary_suffix:
        raise InputError(path, f"corrupt {binary_suffix[suffix]} file (content is not a {binary_suffix[suffix]})")
    if suffix not in {".txt", ".text", ".htm", ".html", ".xhtml", ""}:
        raise InputError(path, f"unsupported type: {suffix}")
    lowered = head.lower()
    if suffix in {".htm", ".html", ".xhtml"} or b"<table" in lowered or b"<html" in lowered:
        return "html"
    return "text"


def read_input(path: Path) -> bytes:
    """A file's bytes; an unreadable file (permissions, a folder loop) is that file's InputError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror or type(exc).__name__}): check that it exists and that you may read it") from None


def doc_id_of(data: bytes) -> str:
    """A document's id: the hash of its content, so renamed copies keep their id."""
    return hashlib.sha256(data).hexdigest()[:16]


def extract_file(path: str | Path, limits: _limits.Limits | None = None) -> pd.DataFrame:
    """Indicator rows of one document; raises InputError when the file cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    data = read_input(path)
    kind = detect_format(path, data[:_HEAD_BYTES], limits)
    with _limits.using(limits) as active:
        try:
            blocks = _readers()[kind].read(path)
            _limits.check_tables(blocks, active)
        except LimitExceeded as exc:
            raise InputError(path, str(exc)) from None
        except BudgetNLPError:
            raise
        except Exception as exc:  # a reader library failing on a damaged file; only strings kept (they must pickle)
            raise InputError(path, f"corrupt {kind} file ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
    rows = rows_from_blocks(blocks, doc_id_of(data), str(path))
    if not rows:
        raise InputError(path, "no indicator table found (no 三级指标/指标值 header)")
    return rows_frame(rows)


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame: the row-table columns first, a format's extra columns after."""
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in ROW_COLUMNS]
    frame = frame.reindex(columns=ROW_COLUMNS + extra)
    frame["year"] = frame["year"].astype("Int64")
    frame["project_budget"] = frame["project_budget"].astype("Float64")
    return frame


def iter_files(inputs: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, hidden ones skipped), sorted."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith(".") for part in relative):
                    yield child
        else:
            yield path


@dataclass
class ExtractResult:
    """Rows of every usable file, one InputError per file that could not be used, and one note
    per file whose content repeats an earlier file's (its rows are kept once)."""

    rows: pd.DataFrame
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    duplicates: list[InputError] = field(default_factory=list)


def extract(inputs: Iterable[str | Path] | str | Path, limits: _limits.Limits | None = None, progress=None) -> ExtractResult:
    """Extract every file under ``inputs``; a bad file is recorded, never stops the batch. A
    document met twice (same content, so the same doc_id and row_ids) gives its rows once.
    ``progress(rows, note)`` is called once per file (note: its error or duplicate note)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    frames, errors, duplicates, files, first_path = [], [], [], 0, {}
    for path in iter_files(inputs):
        files += 1
        try:
            frame = extract_file(path, limits)
        except InputError as error:
            errors.append(error)
            if progress:
                progress(0, error)
            continue
        doc_id = frame["doc_id"].iloc[0]
        if doc_id in first_path:
            duplicates.append(InputError(path, f"same content as {first_path[doc_id]} (its rows are kept once)"))
            if progress:
                progress(0, duplicates[-1])
            continue
        first_path[doc_id] = str(path)
        frames.append(frame)
        if progress:
            progress(len(frame), None)
    rows = pd.concat(frames, ignore_index=True) if frames else rows_frame([]).iloc[0:0]
    return ExtractResult(rows=rows, errors=errors, files=files, duplicates=duplicates)
