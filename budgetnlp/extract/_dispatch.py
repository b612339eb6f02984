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
from ._blocks import ZIP_MAGIC, Reader
from ._indicators import rows_from_blocks

_HEAD_BYTES = 8192


def _readers() -> dict[str, Reader]:
    """The registry: every format's reader, by name (imported lazily: optional libraries). Text
    formats are asked in this order, so html comes before the plain text dump."""
    from . import excel, html_page, pdf, word

    return {r.name: r for r in (word.READER, excel.READER, excel.XLS_READER, pdf.READER, html_page.READER, text.READER)}


#: what a signature several readers share is, for the message when none of them claims a file
_CONTAINERS = {ZIP_MAGIC: "a zip archive"}
#: formats refused with advice (their content may look like a supported one's container)
_UNSUPPORTED = {".doc": "legacy .doc (save it as .docx)"}


def detect_format(path: Path, head: bytes, limits: _limits.Limits | None = None) -> str:
    """Name of the reader for ``path``: the first binary reader whose sniff claims the content,
    whatever the name; else, for a text suffix, the first text reader whose sniff claims it (or
    the suffix's own). Raises InputError for unusable or unsupported files (a zip over the
    unpacked-size limits among them)."""
    if not head:
        raise InputError(path, "empty file")
    readers = list(_readers().values())
    suffix = path.suffix.lower()
    owner = next((r for r in readers if suffix in r.suffixes), None)
    if head.startswith(ZIP_MAGIC):
        _check_zip(path, limits, owner.name if owner and owner.magic == ZIP_MAGIC else "zip")
    binary = [r for r in readers if r.magic]
    for reader in binary:
        if reader.sniff(head, path):
            return reader.name
    if suffix in _UNSUPPORTED:
        raise InputError(path, f"unsupported type: {_UNSUPPORTED[suffix]}")
    shared = [r for r in binary if head.startswith(r.magic)]
    if len(shared) > 1:  # a container several formats use (zip), holding none of them
        container = _CONTAINERS.get(shared[0].magic, "a file")
        raise InputError(path, f"unsupported type: {container} that is not {' or '.join(r.name for r in shared)}")
    if owner is None:
        raise InputError(path, f"unsupported type: {suffix}")
    if owner.magic:
        raise InputError(path, f"corrupt {owner.name} file (content is not a {owner.name})")
    return next((r.name for r in readers if not r.magic and r.sniff(head, path)), owner.name)


def _check_zip(path: Path, limits: _limits.Limits | None, kind: str) -> None:
    """A zip container is bounded (unpacked sizes) and readable before any reader opens it."""
    try:
        with zipfile.ZipFile(path) as archive:
            _limits.check_zip(archive, limits)
    except LimitExceeded as exc:
        raise InputError(path, str(exc)) from None
    except (zipfile.BadZipFile, OSError):
        raise InputError(path, f"corrupt {kind} file (broken zip archive)") from None


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
