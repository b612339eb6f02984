"""Batch scoring: disclosures (or row tables) in, scored tables and reports out.

Repetition evidence (the same (name, value) row in many projects is a boilerplate sign, LABELS.md)
comes from two sources: the model's training corpus (its corpus.parquet) and the run being scored.
``repetition="run"`` (the default, ``budgetnlp score --repetition run``) counts the whole run, in
two passes over the inputs:

1. every input is extracted (in the workers) and returns its own counts (``CorpusStats``: projects
   and documents per squashed (name, value)); a document's extracted rows wait in the run's
   staging folder, so pass 2 does not extract it again. The main process adds the counts up into
   the run's (exact: the inputs hold different documents, duplicates are scored once);
2. every input is scored with the model's training counts plus the run's counts for its own keys
   (a worker receives only those), so a row pasted across 40 documents of the run counts 40 even
   when training never saw it.

A document the model was trained on is counted once: its rows are in the training counts, so they
add nothing to the run's counts (they are still scored with them). ``repetition="document"`` is
the one-pass behaviour: each document with the training counts plus its own rows only (for
streaming, or a run too large to hold the run's key table).

Documents then stream through one at a time: each scored one is appended to scored.csv /
scored.parquet and forgotten. The reports are built afterwards from the Parquet file (a few
columns for the totals; the weakest rows for the HTML and Excel views), so memory stays bounded on
a national year. Work runs in this process, in N local processes, or on a Dask cluster, always
yielding results in input order, so every way of running gives the same files. A document's
cached scores are keyed by the counts it saw (``counts_tag``): a re-run of the same batch is served
from the cache, a run where its rows recur elsewhere is scored afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as pafeather
import pyarrow.parquet as pq

from ._version import __version__
from ._text import squash
from .corpus import CorpusStats, records_of
from .errors import BudgetNLPError, InputError, plain_error
from .extract import extract_file, iter_files
from .extract._dispatch import doc_id_of, read_input
from .extract._limits import Limits
from .io import TABLE_SUFFIXES, neutralize_arrow, read_table
from .runfolder import SCORED_CSV, SCORED_PARQUET
from .schema import FLAGS, REQUIRED_COLUMNS, ROW_COLUMNS, SCORED_COLUMNS

#: extra columns the readers may add; always present in the output so every chunk has one schema
KNOWN_EXTRAS = [c for c in ("spend_plan", "value_op_raw", "value_number_raw", "value_unit_raw", "extract_warning")
                if c not in ROW_COLUMNS]
_FLOAT_COLUMNS = {"project_budget", "value_number", "value_low", "value_high", "risk", *(f"p_{f}" for f in FLAGS)}
_INT_COLUMNS = {"year", *FLAGS}


def default_cache_dir() -> Path:
    """Where scored documents are kept between runs: $BUDGETNLP_CACHE, else ~/.cache/budgetnlp/scores."""
    return Path(os.environ.get("BUDGETNLP_CACHE") or Path.home() / ".cache" / "budgetnlp" / "scores")


# ---------------------------------------------------------------- the score cache
#: package parts whose code decides a document's scored rows (everything but the CLI, the
#: reports and the review app): any change to them is a new cache namespace
_UNFINGERPRINTED = {"cli", "_progress", "labelstudio", "report", "review"}
#: libraries that read the formats or compute the scores
_FINGERPRINTED_LIBRARIES = ("python-docx", "openpyxl", "xlrd", "pdfplumber", "pdfminer.six", "lxml", "jieba",
                            "scikit-learn", "numpy", "scipy", "pandas", "pyarrow")
#: entry names: digest, the input's suffix, then which counts the scores saw (``counts_tag``: 16 hex
#: digits, or "own"), or "keys" for an input's own counts (pass 1 of a run)
_CACHE_FILE = re.compile(r"[0-9a-f]{24}(\.[a-z0-9]{1,10})?(\.(?:keys|own|[0-9a-f]{16}))?\.parquet(\.\d+\.tmp)?")
_KEYS_ENTRY = ".keys.parquet"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the extraction, normalization, rules and model code (their source files and
    resources) and of the reading libraries' versions: cached rows from other code are never served."""
    return _fingerprint(Path(__file__).resolve().parent)


def _fingerprint(package: Path) -> str:
    from importlib import metadata

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package).as_posix()
        if not path.is_file() or relative.split("/")[0].removesuffix(".py") in _UNFINGERPRINTED:
            continue
        if path.suffix == ".py" or relative.startswith("resources/"):
            digest.update(relative.encode() + b"\0" + path.read_bytes())
    for name in _FINGERPRINTED_LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            continue
    return digest.hexdigest()[:16]


def cache_file(cache_dir: str | Path, model_version: str, digest: str, path: str, counts: str = "own") -> Path:
    """The cache entry of one input: package version and code fingerprint, model version, the
    content hash and the file's suffix (the suffix picks the reader: a text dump named .pdf is a
    corrupt PDF, not the text file's rows), and ``counts``: which repetition counts its scores saw
    (``counts_tag``), or "keys" for the entry of its own counts that pass 1 of a run reads."""
    suffix = re.sub(r"[^a-z0-9]", "", Path(path).suffix.lower())[:10]
    name = f"{digest[:24]}{'.' + suffix if suffix else ''}.{counts}.parquet"
    return Path(cache_dir) / f"v{__version__}-{code_fingerprint()}" / model_version / name


def counts_tag(counts: CorpusStats | None) -> str:
    """Which run counts a document's scores saw, for its cache entry's name: a hash of the sorted
    (key, projects, documents) of its own keys; "own" for --repetition document (its own rows,
    which its content hash already fixes)."""
    if counts is None:
        return "own"
    items = sorted((name, value, n, counts.documents.get((name, value), 0)) for (name, value), n in counts.projects.items())
    text = "\x1e".join(f"{name}\x1f{value}\x1f{n}\x1f{d}" for name, value, n, d in items)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def clear_cache(cache_dir: str | Path | None = None) -> tuple[int, int]:
    """Delete the score cache's entries (only files named as this module names them, so a
    mistaken --cache-dir loses nothing else); returns (scored documents, bytes) removed: the
    inputs' own-count entries ("keys") are removed too, and their bytes counted, not their number."""
    root = Path(cache_dir or default_cache_dir())
    if not root.is_dir():
        return 0, 0
    files = size = 0
    for path in sorted(root.rglob("*"), reverse=True):  # children before their folders
        if path.is_file() and _CACHE_FILE.fullmatch(path.name):
            size += path.stat().st_size
            path.unlink()
            files += _KEYS_ENTRY not in path.name
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return files, size


# ---------------------------------------------------------------- one unit of work
@dataclass
class Unit:
    """One input: a document, or a row table already extracted; ``digest``: its content hash
    (sha256 hex), computed up front to find duplicates (None when it could not be read)."""

    path: str
    is_table: bool
    digest: str | None = None
    #: pass 2 of a run: the run's counts for this input's own keys (None: its own rows only)
    counts: CorpusStats | None = None


@dataclass
class UnitResult:
    path: str
    rows: pa.Table | None = None  # the output columns (``to_table``): converted where they were scored
    error: InputError | None = None
    cached: bool = False
    #: pass 1 of a run: the input's own counts, less rows of documents the model was trained on
    #: (their keys are kept, with 0), from ``extract_unit``
    counts: CorpusStats | None = None


@lru_cache(maxsize=4)
def _model(model_ref: str):
    """One loaded model per process (workers load it once, then score many documents)."""
    from .training import load_with_warnings

    return load_with_warnings(model_ref, say=lambda message: None)


def _read_unit(unit: Unit, data: bytes, limits: Limits | None) -> pd.DataFrame:
    if not unit.is_table:
        return extract_file(unit.path, limits)
    frame = read_table(unit.path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(unit.path, f"row table lacks required column(s): {', '.join(missing)}")
    if "source_path" not in frame.columns or frame["source_path"].isna().all():
        frame["source_path"] = unit.path
    table_id = doc_id_of(data)
    if "doc_id" not in frame.columns or frame["doc_id"].isna().all():
        frame["doc_id"] = table_id
    frame["row_id"] = generated_row_ids(frame, table_id)
    return frame


def generated_row_ids(frame: pd.DataFrame, table_id: str) -> pd.Series:
    """A row table's row_ids, a stable one made for each row that lacks one: the hash of the table's
    content hash, the row's position and its cells, so no two rows share an id downstream (the
    review import keys on it) and re-reading the same table gives the same ids."""
    given = frame["row_id"].astype("string") if "row_id" in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
    given = given.where(given.str.strip().ne(""), pd.NA) if len(given) else given
    if not given.isna().any():
        return given
    cells = frame.drop(columns=[c for c in ("row_id", "source_path") if c in frame.columns]).astype("string").fillna("")
    joined = cells.agg("\x1f".join, axis=1) if len(cells.columns) else pd.Series("", index=frame.index)
    made = [hashlib.sha256(f"{table_id}\0{position}\0{text}".encode()).hexdigest()[:16]
            for position, text in enumerate(joined)]
    return given.fillna(pd.Series(made, index=frame.index, dtype="string"))


def extract_unit(unit: Unit, model_ref: str, cache_dir: str | None, limits: Limits | None = None,
                 rows_dir: str | None = None) -> UnitResult:
    """Pass 1 of a run: read one input for its own counts (``UnitResult.counts``). A document's rows
    are left in ``rows_dir`` for pass 2; with a cache, its counts are kept in the cache too (one
    entry per input and model, whatever the run), so a re-run extracts nothing. The same worker
    boundary as ``score_unit``: any failure is this input's error, never an exception."""
    try:
        data = read_input(Path(unit.path))
        model = _model(model_ref)
        entry = None
        if cache_dir:
            entry = cache_file(cache_dir, model.version, unit.digest or hashlib.sha256(data).hexdigest(), unit.path, "keys")
            if entry.is_file():
                try:
                    return UnitResult(unit.path, counts=_read_counts(entry), cached=True)
                except (OSError, pa.ArrowException, KeyError, ValueError):
                    pass  # a damaged entry: the input is read again
        rows = _read_unit(unit, data, limits)
        counts = _unit_counts(rows, model)
        if rows_dir and not unit.is_table:  # a row table is cheap to read again, and its cells may be anything
            _stage_rows(rows, _staged(rows_dir, unit, data))
        if entry is not None:
            _write_counts(entry, counts)
        return UnitResult(unit.path, counts=counts)
    except Exception as exc:  # noqa: BLE001 - the boundary: one input's failure is that input's line
        return UnitResult(unit.path, error=plain_error(unit.path, exc, "unexpected error while reading this file"))


def score_unit(unit: Unit, model_ref: str, cache_dir: str | None, extras: tuple[str, ...] = (),
               limits: Limits | None = None, rows_dir: str | None = None) -> UnitResult:
    """Extract and score one input into an output table, with ``unit.counts`` (pass 2 of a run: rows
    staged by ``extract_unit`` are read instead of extracting again) or, when None, the input's own
    rows as the run's counts. This is the worker boundary: whatever is raised for this input (a
    reader bug, an lxml error holding its log, MemoryError) becomes this input's error, made of
    strings only, so it always pickles back; never an exception."""
    try:
        data = read_input(Path(unit.path))
        model = _model(model_ref)
        staged = _staged(rows_dir, unit, data) if rows_dir and unit.counts is not None and not unit.is_table else None
        entry = None
        if cache_dir:
            digest = unit.digest or hashlib.sha256(data).hexdigest()
            entry = cache_file(cache_dir, model.version, digest, unit.path, counts_tag(unit.counts))
            if entry.is_file():
                cached = pd.read_parquet(entry)
                cached["source_path"] = unit.path
                _unstage(staged)
                return UnitResult(unit.path, rows=to_table(cached, extras), cached=True)
        rows = _read_staged(staged)
        if rows is None:
            rows = _read_unit(unit, data, limits)
        corpus = unit.counts if unit.counts is not None else _own_corpus(rows, model)
        scored = model.predict(rows, corpus=corpus)
        scored["reasons"] = scored["reasons"].map("\n".join)
        table = to_table(scored, extras)
        if entry is not None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            scored.to_parquet(tmp, index=False)
            os.replace(tmp, entry)
        _unstage(staged)
        return UnitResult(unit.path, rows=table)
    except Exception as exc:  # noqa: BLE001 - the boundary: one input's failure is that input's line
        return UnitResult(unit.path, error=plain_error(unit.path, exc, "unexpected error while scoring this file"))


def _trained_rows(rows: pd.DataFrame, model) -> np.ndarray | None:
    """Which rows come from documents the model was trained on (None: none do)."""
    trained_on = set(model.meta.get("document_ids") or [])
    if not trained_on or "doc_id" not in rows or not len(rows):
        return None
    mask = rows["doc_id"].astype("string").fillna("").isin(trained_on).to_numpy(dtype=bool)
    return mask if mask.any() else None


def _own_corpus(rows: pd.DataFrame, model) -> CorpusStats:
    """The input's own repetition evidence, less the rows of documents the model was trained on:
    the training counts hold those already, and counting them again would double them."""
    trained = _trained_rows(rows, model)
    return CorpusStats.from_rows(rows if trained is None else rows[~trained])


def _unit_counts(rows: pd.DataFrame, model) -> CorpusStats:
    """``_own_corpus`` with every key of the input: a key only in trained-on rows gets 0, so the
    input still receives the run's counts for it in pass 2."""
    own = _own_corpus(rows, model)
    trained = _trained_rows(rows, model)
    if trained is None:
        return own
    records = records_of(rows.loc[trained, ["name", "value"]])
    zeros = {key: 0 for key in ((squash(r["name"]), squash(r["value"])) for r in records) if key not in own.projects}
    return CorpusStats({**own.projects, **zeros}, {**own.documents, **zeros})


_COUNT_COLUMNS = ("name", "value", "projects", "documents")


def _write_counts(entry: Path, counts: CorpusStats) -> None:
    keys = list(counts.projects)
    table = pa.table({"name": [k[0] for k in keys], "value": [k[1] for k in keys],
                      "projects": pa.array([counts.projects[k] for k in keys], pa.int64()),
                      "documents": pa.array([counts.documents.get(k, 0) for k in keys], pa.int64())})
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, entry)


def _read_counts(entry: Path) -> CorpusStats:
    names, values, projects, documents = (c.to_pylist() for c in pq.read_table(entry, columns=list(_COUNT_COLUMNS)).columns)
    keys = list(zip(names, values))
    return CorpusStats(dict(zip(keys, projects)), dict(zip(keys, documents)))


def _staged(rows_dir: str, unit: Unit, data: bytes) -> Path:
    """Where pass 1 leaves a document's extracted rows for pass 2 (Arrow IPC: ~0.05 of extracting)."""
    return Path(rows_dir) / f"{(unit.digest or hashlib.sha256(data).hexdigest())[:24]}.arrow"


def _stage_rows(rows: pd.DataFrame, path: Path) -> None:
    """Best effort: rows Arrow cannot hold, a full disk, or a Dask worker on another machine (no
    such folder there) leave nothing, and pass 2 extracts the document again."""
    if not path.parent.is_dir():
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        pafeather.write_feather(pa.Table.from_pandas(rows, preserve_index=False), tmp, compression="uncompressed")
        os.replace(tmp, path)
    except (pa.ArrowException, TypeError, ValueError, OSError):
        tmp.unlink(missing_ok=True)


def _read_staged(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.is_file():
        return None
    try:
        return pafeather.read_table(path).to_pandas()
    except (pa.ArrowException, OSError):
        return None


def _unstage(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _output_columns(extras) -> list[str]:
    return ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"] + KNOWN_EXTRAS + [c for c in (extras or []) if c not in KNOWN_EXTRAS]


def conform(scored: pd.DataFrame, extras: list[str] | None = None) -> pd.DataFrame:
    """The output columns in a fixed order and dtype, so every chunk shares one Parquet schema."""
    columns = _output_columns(extras)
    out = scored.reindex(columns=columns)
    for column in columns:
        if column in _FLOAT_COLUMNS:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        elif column in _INT_COLUMNS:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
        else:
            out[column] = out[column].astype("string")
    return out


@lru_cache(maxsize=8)
def output_schema(extras: tuple[str, ...] = ()) -> pa.Schema:
    """The output table's schema, with the pandas metadata that reads it back as ``conform``'s dtypes."""
    return pa.Table.from_pandas(conform(pd.DataFrame(columns=ROW_COLUMNS), list(extras)), preserve_index=False).schema


def to_table(scored: pd.DataFrame, extras: tuple[str, ...] = ()) -> pa.Table:
    """Scored rows as an Arrow table of the output schema, built column by column: Table.from_pandas
    rebuilds the pandas metadata on every call, 4× the conversion itself on one document's rows.
    Values Arrow will not take as they are (a number in a text column of a user's row table) go
    through ``conform`` first."""
    schema = output_schema(tuple(extras))  # hashable for its cache, whatever the caller passed

    def arrays(frame):
        return [pa.Array.from_pandas(frame[f.name], type=f.type) if f.name in frame else pa.nulls(len(frame), f.type)
                for f in schema]

    try:
        columns = arrays(scored)
    except (pa.ArrowException, TypeError, ValueError):
        columns = arrays(conform(scored, list(extras)))
    return pa.Table.from_arrays(columns, schema=schema)


# ---------------------------------------------------------------- running the units
def _units(inputs) -> list[Unit]:
    return [Unit(str(p), p.suffix.lower() in TABLE_SUFFIXES, _content_digest(p)) for p in iter_files(inputs)]


def _content_digest(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return None  # the worker reports why
    return digest.hexdigest()


def _table_extras(units: list[Unit]) -> tuple[str, ...]:
    """Extra columns of row-table inputs, read from their headers up front (one output schema)."""
    extras: list[str] = []
    for unit in units:
        if unit.is_table:
            try:
                columns = list(read_table(unit.path).columns)
            except InputError:
                continue
            extras += [c for c in columns if c not in ROW_COLUMNS + SCORED_COLUMNS + ["suggestion"] + extras]
    return tuple(extras)


def _run_local(units, work, workers, model_ref) -> Iterator[UnitResult]:
    """Results in input order, from this process or ``workers`` processes. A worker that dies (killed,
    out of memory, a crash in a C library) breaks the pool: the inputs in flight go to a new pool;
    one in flight at two such breaks is then scored alone, in a fresh process of its own, so only
    an input that kills its process every time is lost, as its error line."""
    if workers <= 1:
        yield from map(work, units)
        return
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork shares the parent's loaded model (copy-on-write); a transformer (maybe on a GPU, which a
    # forked child cannot reuse) and platforms without fork get spawned workers that load it once
    forkable = "fork" in mp.get_all_start_methods() and _model(model_ref).config.backend != "transformer"
    context = mp.get_context("fork" if forkable else "spawn")

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=context, initializer=_model, initargs=(model_ref,))

    def alone(unit: Unit) -> UnitResult:
        with pool(1) as single:
            try:
                return single.submit(work, unit).result()
            except BrokenProcessPool:
                return UnitResult(unit.path, error=InputError(
                    unit.path, "the worker process died while scoring this file, every time (killed, out of memory, "
                               "or a crash in a reader library): score it alone, or with --workers 1, to see why"))

    def finished(future) -> bool:
        return future is not None and future.done() and not future.cancelled() and future.exception() is None

    # at most `window` documents in flight, so finished results never pile up in this process
    # when writing falls behind scoring and memory stays bounded; entries: [unit, future, breaks seen]
    window, todo, pending = 8 * workers, iter(units), deque()
    executor = pool(workers)
    try:
        while True:
            while len(pending) < window and (unit := next(todo, None)) is not None:
                pending.append([unit, executor.submit(work, unit), 0])
            if not pending:
                return
            entry = pending[0]
            if entry[1] is None:  # in flight at two breaks: alone now
                pending.popleft()
                yield alone(entry[0])
                continue
            try:
                result = entry[1].result()
            except BrokenProcessPool:
                executor.shutdown(wait=True, cancel_futures=True)
                executor = pool(workers)
                for held in pending:
                    if held[1] is not None and not finished(held[1]):
                        held[2] += 1
                        held[1] = executor.submit(work, held[0]) if held[2] < 2 else None
                continue
            pending.popleft()
            yield result
    finally:
        _close_pool(executor)


def _close_pool(executor, grace_s: float = 10.0) -> None:
    """Shut a pool down, its workers gone within ``grace_s``: a worker that dies while the pool shuts
    down (killed, out of memory) may hold the task queue's lock for good, and its sibling, blocked
    on that lock, would keep this process from ever exiting (the pool's thread joins it at exit).
    A run's two passes make this likely: pass 1's pool closes while pass 2 starts."""
    from multiprocessing.connection import wait

    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    sentinels = {p.sentinel: p for p in processes}
    deadline = time.monotonic() + grace_s
    while sentinels and (left := deadline - time.monotonic()) > 0:
        for ready in wait(list(sentinels), timeout=left):
            sentinels.pop(ready)
    for process in sentinels.values():  # still there: stuck
        process.terminate()


_ADDRESS = re.compile(r"([a-z][a-z0-9+]*://)?[^\s/:]+:\d{1,5}")


def connect(scheduler: str, timeout_s: float = 10):
    """A Dask client for ``scheduler`` (tcp://HOST:PORT), or one clear error: no [dist] extra,
    an address that is not one, or a scheduler that does not answer within ``timeout_s``."""
    if not _ADDRESS.fullmatch(str(scheduler)):
        raise BudgetNLPError(f"--scheduler {scheduler}: not a scheduler address; give tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    try:
        from distributed import Client
    except ImportError:
        raise BudgetNLPError("--scheduler needs the [dist] extra: pip install 'budgetnlp[dist]'") from None
    try:
        return Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BudgetNLPError(f"--scheduler {scheduler}: no Dask scheduler answers there ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}); check the address and that the scheduler is running") from None


def _run_dask(units, work, client) -> Iterator[UnitResult]:
    """Results in input order from a Dask cluster. ``work`` returns every input's own error, so a
    failed future means the cluster lost it (a worker killed more times than Dask retries it):
    that input's error line, and the batch goes on."""
    window = max(8, 4 * sum(client.nthreads().values()))
    pending: list = []

    def result(unit, future) -> UnitResult:
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost connection, ...
            return UnitResult(unit.path, error=plain_error(unit.path, exc, "the Dask cluster failed to score this file"))

    for unit in units:  # a bounded window of futures, gathered in input order
        pending.append((unit, client.submit(work, unit, pure=False)))
        if len(pending) >= window:
            yield result(*pending.pop(0))
    for entry in pending:
        yield result(*entry)


#: rows per Parquet row group: one group per document made the file's metadata (kept in memory
#: until the footer is written) grow by ~50 KB a document
ROW_GROUP_ROWS = 65_536


@dataclass
class _Writers:
    """scored.parquet and scored.csv (UTF-8 with BOM), appended one document's table at a time;
    Parquet gets row groups of ``ROW_GROUP_ROWS`` rows."""

    out: Path
    schema: pa.Schema
    parquet: pq.ParquetWriter | None = None
    csv_file: object = None
    csv: pacsv.CSVWriter | None = None
    pending: list = field(default_factory=list)
    pending_rows: int = 0
    rows: int = 0

    def write(self, table: pa.Table) -> None:
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.out / SCORED_PARQUET, self.schema)
            self.csv_file = open(self.out / SCORED_CSV, "wb")
            self.csv_file.write("\ufeff".encode("utf-8"))  # Excel reads the CSV as UTF-8 only with the BOM
            self.csv = pacsv.CSVWriter(self.csv_file, self.schema, write_options=pacsv.WriteOptions(quoting_style="needed"))
        self.csv.write_table(neutralize_arrow(table))  # formula-like cells made inert for spreadsheets
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.parquet.write_table(pa.concat_tables(self.pending), row_group_size=ROW_GROUP_ROWS)
            self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        if self.parquet is None:
            self.write(self.schema.empty_table())
        self._flush()
        self.parquet.close()
        self.csv.close()
        self.csv_file.close()


@dataclass
class ScoreRun:
    """What a scoring run did: counts, inputs, errors, duplicates and extraction warnings; written as
    summary.json and errors.csv."""

    out: Path
    inputs: list[str]
    model: dict
    documents: int = 0
    cached: int = 0
    rows: int = 0
    errors: list[InputError] = field(default_factory=list)
    duplicates: list[InputError] = field(default_factory=list)  # "same content as …", scored once
    warnings: list[InputError] = field(default_factory=list)  # one per document, table and reason
    #: where the repetition counts came from, besides the training corpus: "run" or "document"
    repetition: str = "run"


def check_output_folder(out: str | Path) -> Path:
    """The output folder, created and proven writable before any work, or one clear error."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BudgetNLPError(f"--out {out}: this is an existing file; give a folder for the outputs")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise BudgetNLPError(f"--out {out}: cannot write there ({exc.strerror or type(exc).__name__}); "
                             f"choose a folder you may write to") from None
    return out


REPETITION = ("run", "document")


def score(inputs, out: str | Path, model: str = "default", *, workers: int = 1, scheduler=None,
          cache: bool = True, cache_dir: str | Path | None = None, report_rows: int = 100_000,
          limits: Limits | None = None, progress=None, repetition: str = "run", **views) -> ScoreRun:
    """Score every input into ``out``; an input that cannot be used is recorded, never stops the batch.

    Outputs are written to a hidden folder inside ``out`` and moved into place once all are
    complete: a run that fails leaves the previous outputs (or none), never a half-written file.
    ``scheduler``: a Dask address or Client. ``progress(rows, note)``: once per input and pass
    (``repetition="run"``: twice per input — read, then scored; an input skipped in pass 1 too).
    ``repetition``: which rows count as repeated (module docstring): "run" (the training corpus
    and every input of this run, two passes) or "document" (the training corpus and the
    document's own rows, one pass). ``views``: options of the reports (report.write_reports:
    top_rows, xlsx_order)."""
    if repetition not in REPETITION:
        raise BudgetNLPError(f"--repetition {repetition}: choose run or document")
    out = check_output_folder(out)
    client = connect(scheduler) if isinstance(scheduler, str) else scheduler
    stage = Path(tempfile.mkdtemp(prefix=".budgetnlp-partial-", dir=out))
    try:
        loaded = _model(str(model))
        run = ScoreRun(out, [str(p) for p in inputs], {"name": loaded.name, "version": loaded.version,
                                                        "metrics": _headline(loaded.meta, loaded.folder)},
                       repetition=repetition)
        units = _unique_units(_units(inputs), run, progress)
        if repetition == "run" and progress:
            for _ in run.duplicates:  # a repeated file has no pass 2 either
                progress(0, None)
        extras = _table_extras(units)
        cache_path = str(cache_dir or default_cache_dir()) if cache else None
        rows_dir = stage / "rows"  # pass 1's extracted rows, read (and removed) by pass 2; never published
        rows_dir.mkdir()

        def execute(todo, work) -> Iterator[UnitResult]:
            return _run_dask(todo, work, client) if client is not None else _run_local(todo, work, workers, str(model))

        todo = units
        if repetition == "run":
            readable, counts = _first_pass(units, execute, run, progress, partial(
                extract_unit, model_ref=str(model), cache_dir=cache_path, limits=limits, rows_dir=str(rows_dir)))
            todo = (replace(unit, counts=counts.of(unit.path)) for unit in readable)  # lazily: pass 2's window
        work = partial(score_unit, model_ref=str(model), cache_dir=cache_path, extras=extras, limits=limits,
                       rows_dir=str(rows_dir))
        writers = _Writers(stage, output_schema(extras))
        for result in execute(todo, work):
            if result.error is not None:
                run.errors.append(result.error)
                if progress:
                    progress(0, result.error)
                continue
            writers.write(result.rows)
            run.warnings += _extract_warnings(result.rows)
            run.documents += 1
            run.cached += int(result.cached)
            if progress:
                progress(result.rows.num_rows, None)
        writers.close()
        shutil.rmtree(rows_dir, ignore_errors=True)
        run.rows = writers.rows
        position = {unit.path: i for i, unit in enumerate(units)}  # pass 1's errors and pass 2's, in input order
        run.errors.sort(key=lambda error: position.get(str(error.path), len(position)))
        _write_errors(run, stage)
        _write_reports(run, report_rows, stage, **views)
        for item in stage.iterdir():  # every output complete: each replaces its previous version
            os.replace(item, out / item.name)
        return run
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if client is not None and client is not scheduler:
            client.close()


def _first_pass(units: list[Unit], execute, run: ScoreRun, progress, work) -> tuple[list[Unit], "RunCounts"]:
    """Pass 1 of a run: every input's own counts, added up into the run's; returns the inputs that
    could be read and the run's counts. An input that cannot be read is its error line here and
    is not scored."""
    counts = RunCounts()
    readable = []
    for unit, result in zip(units, execute(units, work)):  # one result per input, in input order
        if result.error is not None:
            run.errors.append(result.error)
            if progress:
                progress(0, result.error)
                progress(0, None)  # and no pass 2
            continue
        counts.add(unit.path, result.counts)
        readable.append(unit)
        if progress:
            progress(0, None)
    return readable, counts


class RunCounts:
    """A run's repetition counts, added up from its inputs' own: one entry per distinct key (its
    projects and documents over the run), and per input the indices of its keys, so pass 2 sends
    each worker only its own keys' counts. Memory: the distinct keys, plus 4 bytes per input row key."""

    def __init__(self) -> None:
        self._index: dict[tuple[str, str], int] = {}
        self._keys: list[tuple[str, str]] = []
        self._projects: list[int] = []
        self._documents: list[int] = []
        self._of_input: dict[str, np.ndarray] = {}

    def add(self, path: str, own: CorpusStats) -> None:
        indices = np.empty(len(own.projects), dtype=np.int32)
        for i, (key, projects) in enumerate(own.projects.items()):
            j = self._index.get(key)
            if j is None:
                j = self._index[key] = len(self._keys)
                self._keys.append(key)
                self._projects.append(0)
                self._documents.append(0)
            self._projects[j] += projects
            self._documents[j] += own.documents.get(key, 0)
            indices[i] = j
        self._of_input[path] = indices

    def of(self, path: str) -> CorpusStats:
        """The run's counts for the keys of input ``path`` (once: its entry is then dropped)."""
        projects, documents = {}, {}
        for j in self._of_input.pop(path).tolist():
            if self._projects[j] or self._documents[j]:  # 0: only in trained-on rows, which training counted
                key = self._keys[j]
                projects[key], documents[key] = self._projects[j], self._documents[j]
        return CorpusStats(projects, documents)


def _unique_units(units: list[Unit], run: ScoreRun, progress) -> list[Unit]:
    """Inputs with content met before (the same document under another name) are scored once:
    each repeat becomes a "same content as …" note, as its rows would repeat the first one's ids."""
    first: dict[str, str] = {}
    unique = []
    for unit in units:
        if unit.digest is not None and unit.digest in first:
            run.duplicates.append(InputError(unit.path, f"same content as {first[unit.digest]} (scored once)"))
            if progress:
                progress(0, run.duplicates[-1])
            continue
        if unit.digest is not None:
            first[unit.digest] = unit.path
        unique.append(unit)
    return unique


def _extract_warnings(table: pa.Table) -> list[InputError]:
    """The extraction warnings of one document's rows: one per table and reason."""
    import pyarrow.compute as pc

    column = table.column("extract_warning")
    if column.null_count == len(column):
        return []
    marked = table.filter(pc.fill_null(pc.not_equal(column, ""), False))
    seen = {}
    for path, location, reason in zip(*(marked.column(c).to_pylist() for c in ("source_path", "location", "extract_warning"))):
        table_name = (location or "").split(",")[0].strip()
        seen.setdefault((path, table_name, reason), None)
    return [InputError(path, reason, table_name) for path, table_name, reason in seen]


def _headline(meta: dict, folder: Path | None) -> dict:
    """The model's cross-validated headline figures, for the summary and the review app."""
    if folder is None:
        return {}
    from .models import _artifact

    metrics = _artifact.read_metrics(folder)  # {} where the folder has none
    model = metrics.get("model") or {}
    flags = model.get("flags") or {}
    return {
        "macro_f1": flags.get("macro_f1"),
        **{f"{f}_f1": (flags.get(f) or {}).get("f1") for f in FLAGS},
        "metric_type_accuracy": (model.get("metric_type") or {}).get("accuracy"),
        "suggested_metric_type_accuracy": (model.get("suggested_metric_type") or {}).get("accuracy"),
    }


def _write_errors(run: ScoreRun, folder: Path | None = None) -> None:
    """errors.csv: one line per input that could not be used (kind ``error``), per repeated
    document (``duplicate``) and per extraction warning (``warning``: document, table, reason)."""
    from .io import errors_frame, neutralize_frame

    frame = errors_frame(run.errors, run.duplicates, run.warnings)
    neutralize_frame(frame).to_csv((folder or run.out) / "errors.csv", index=False, encoding="utf-8-sig")


def _write_reports(run: ScoreRun, report_rows: int, folder: Path | None = None, **views) -> None:
    """summary.json from a few dictionary-encoded columns of the whole run (the report's
    SUMMARY_COLUMNS); xlsx and html from the weakest rows, picked batch by batch, so neither step
    holds the run's full rows. ``folder``: where scored.parquet is and the reports go (default
    ``run.out``); ``views``: write_reports' options (top_rows, xlsx_order)."""
    from .report import SUMMARY_COLUMNS, summarize, write_reports

    folder = folder or run.out
    path = folder / "scored.parquet"
    text_columns = [c for c in SUMMARY_COLUMNS if c not in {*FLAGS, "risk", "year", "project_budget"}]
    slim = pq.read_table(path, columns=SUMMARY_COLUMNS, read_dictionary=text_columns).to_pandas()
    stats = summarize(slim)
    del slim
    summary = {
        **stats,
        "model": run.model,
        "inputs": run.inputs,
        "documents_scored": run.documents,
        "documents_from_cache": run.cached,
        "repetition": run.repetition,  # the counts' source besides training: this run, or each document
        "errors": [{"path": e.path, "reason": e.reason} for e in run.errors],
        "duplicates": [{"path": e.path, "reason": e.reason} for e in run.duplicates],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    shown = _weakest_rows(path, report_rows)
    if len(shown) < run.rows:
        summary["report_rows_shown"] = int(len(shown))
    shown = shown.astype(object).where(shown.notna(), None)
    shown["reasons"] = shown["reasons"].map(lambda text: [r for r in (text or "").split("\n") if r])
    (folder / "summary.json").write_text(_summary_json(summary), encoding="utf-8")
    write_reports(shown, summary, folder, **views)



def _summary_json(summary: dict) -> str:
    """summary.json, indented for reading, except that each entry of a long list (by_project has
    one per project: 100,000s in a year's run) is one compact line — json's indenting encoder is
    pure Python and took 4× as long."""
    def dumps(value, **kwargs):
        return json.dumps(value, ensure_ascii=False, default=str, **kwargs)

    lines = []
    for key, value in summary.items():
        if isinstance(value, list) and len(value) > 20:
            items = ",\n".join(f"    {dumps(item)}" for item in value)
            text = f"[\n{items}\n  ]"
        else:
            text = dumps(value, indent=2).replace("\n", "\n  ")
        lines.append(f"  {dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _weakest_rows(path: Path, limit: int, batch_rows: int = 65_536) -> pd.DataFrame:
    """The ``limit`` rows of highest risk (ties: first in file order), in file order: chosen from
    the risk column alone, then taken batch by batch, so only the chosen rows become pandas."""
    risk = pq.read_table(path, columns=["risk"])["risk"].to_numpy(zero_copy_only=False)
    risk = np.nan_to_num(risk.astype(float), nan=-np.inf)
    chosen = np.sort(np.argsort(-risk, kind="stable")[:limit])
    parts, offset = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        lo, hi = np.searchsorted(chosen, [offset, offset + batch.num_rows])
        if hi > lo:
            parts.append(batch.take(pa.array(chosen[lo:hi] - offset)))
        offset += batch.num_rows
    table = pa.Table.from_batches(parts) if parts else pq.read_schema(path).empty_table()
    return table.to_pandas()
