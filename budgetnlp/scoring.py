"""Batch scoring: disclosures (or row tables) in, scored tables and reports out.

Documents stream through one at a time: each is extracted, scored with the model and its own
rows (plus the model's training-corpus statistics), appended to scored.csv / scored.parquet,
and forgotten. The reports are built afterwards from the Parquet file (a few columns for the
totals; the weakest rows for the HTML and Excel views), so memory stays bounded on a national
year. Work runs in this process, in N local processes, or on a Dask cluster, always yielding
results in input order, so every way of running gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import BudgetNLPError, InputError
from .extract import extract_file, iter_files
from .io import TABLE_SUFFIXES, neutralize_arrow, read_table
from .runfolder import SCORED_CSV, SCORED_PARQUET
from .schema import FLAGS, REQUIRED_COLUMNS, ROW_COLUMNS, SCORED_COLUMNS

#: extra columns the readers may add; always present in the output so every chunk has one schema
KNOWN_EXTRAS = ["spend_plan", "value_op_raw", "value_number_raw", "value_unit_raw"]
_FLOAT_COLUMNS = {"project_budget", "value_number", "value_low", "value_high", "risk", *(f"p_{f}" for f in FLAGS)}
_INT_COLUMNS = {"year", *FLAGS}


def default_cache_dir() -> Path:
    return Path(os.environ.get("BUDGETNLP_CACHE") or Path.home() / ".cache" / "budgetnlp" / "scores")


# ---------------------------------------------------------------- one unit of work
@dataclass
class Unit:
    """One input: a document, or a row table already extracted."""

    path: str
    is_table: bool


@dataclass
class UnitResult:
    path: str
    rows: pa.Table | None = None  # the output columns (``to_table``): converted where they were scored
    error: InputError | None = None
    cached: bool = False


@lru_cache(maxsize=4)
def _model(model_ref: str):
    """One loaded model per process (workers load it once, then score many documents)."""
    from .training import load_or_rebuild

    return load_or_rebuild(model_ref, say=lambda message: None)


def _read_unit(unit: Unit) -> pd.DataFrame:
    if not unit.is_table:
        return extract_file(unit.path)
    frame = read_table(unit.path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(unit.path, f"row table lacks required column(s): {', '.join(missing)}")
    if "source_path" not in frame.columns or frame["source_path"].isna().all():
        frame["source_path"] = unit.path
    return frame


def score_unit(unit: Unit, model_ref: str, cache_dir: str | None, extras: tuple[str, ...] = ()) -> UnitResult:
    """Extract and score one input into an output table; errors become the result, never an exception."""
    try:
        data = Path(unit.path).read_bytes()
    except OSError as exc:
        return UnitResult(unit.path, error=InputError(unit.path, f"cannot read ({exc.strerror or exc})"))
    try:
        model = _model(model_ref)
        cache_file = None
        if cache_dir:
            digest = hashlib.sha256(data).hexdigest()[:24]
            cache_file = Path(cache_dir) / model.version / f"{digest}.parquet"
            if cache_file.is_file():
                cached = pd.read_parquet(cache_file)
                cached["source_path"] = unit.path
                return UnitResult(unit.path, rows=to_table(cached, extras), cached=True)
        rows = _read_unit(unit)
        scored = model.predict(rows, corpus=_own_corpus(rows, model))
        scored["reasons"] = scored["reasons"].map("\n".join)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            scored.to_parquet(tmp, index=False)
            os.replace(tmp, cache_file)
        return UnitResult(unit.path, rows=to_table(scored, extras))
    except InputError as error:
        return UnitResult(unit.path, error=error)
    except BudgetNLPError as error:
        return UnitResult(unit.path, error=InputError(unit.path, str(error)))


def _own_corpus(rows: pd.DataFrame, model):
    """The document's own repetition evidence, unless the model was trained on this very document."""
    from .rules import CorpusStats

    trained_on = set(model.meta.get("document_ids") or [])
    docs = set(rows["doc_id"].dropna().astype(str)) if "doc_id" in rows else set()
    if docs and docs <= trained_on:
        return None
    return CorpusStats.from_rows(rows)


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
    return [Unit(str(p), p.suffix.lower() in TABLE_SUFFIXES) for p in iter_files(inputs)]


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


def _run_local(units, model_ref, cache_dir, extras, workers) -> Iterator[UnitResult]:
    if workers <= 1:
        for unit in units:
            yield score_unit(unit, model_ref, cache_dir, extras)
        return
    import multiprocessing as mp
    from functools import partial

    # fork shares the parent's loaded model (copy-on-write); a transformer (maybe on a GPU, which a
    # forked child cannot reuse) and platforms without fork get spawned workers that load it once
    forkable = "fork" in mp.get_all_start_methods() and _model(model_ref).config.get("backend") != "transformer"
    context = mp.get_context("fork" if forkable else "spawn")
    # at most `window` documents in flight: Pool.imap would otherwise queue every finished result
    # in this process whenever writing falls behind scoring, and memory would grow with the run
    window = threading.BoundedSemaphore(8 * workers)

    def feed():
        for unit in units:
            window.acquire()
            yield unit

    with context.Pool(workers, initializer=_model, initargs=(model_ref,)) as pool:
        for result in pool.imap(partial(score_unit, model_ref=model_ref, cache_dir=cache_dir, extras=extras), feed(), chunksize=2):
            window.release()
            yield result


def _run_dask(units, model_ref, cache_dir, extras, scheduler) -> Iterator[UnitResult]:
    try:
        from distributed import Client
    except ImportError:
        raise BudgetNLPError("--scheduler needs the [dist] extra: pip install 'budgetnlp[dist]'") from None
    client = scheduler if hasattr(scheduler, "submit") else Client(scheduler)
    try:
        window = max(8, 4 * sum(client.nthreads().values()))
        pending: list = []
        for unit in units:  # a bounded window of futures, gathered in input order
            pending.append(client.submit(score_unit, unit, model_ref, cache_dir, extras, pure=False))
            if len(pending) >= window:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
    finally:
        if client is not scheduler:
            client.close()


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
    """What a scoring run did: counts, inputs, errors; written as summary.json."""

    out: Path
    inputs: list[str]
    model: dict
    documents: int = 0
    cached: int = 0
    rows: int = 0
    errors: list[InputError] = field(default_factory=list)


def score(inputs, out: str | Path, model: str = "default", *, workers: int = 1, scheduler=None,
          cache: bool = True, cache_dir: str | Path | None = None, report_rows: int = 100_000,
          progress=None) -> ScoreRun:
    """Score every input into ``out``; an input that cannot be used is recorded, never stops the batch."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = _model(str(model))
    units = _units(inputs)
    extras = _table_extras(units)
    cache_path = str(cache_dir or default_cache_dir()) if cache else None
    run = ScoreRun(out, [str(p) for p in inputs], {"name": loaded.name, "version": loaded.version,
                                                    "metrics": _headline(loaded.meta, loaded.folder)})
    writers = _Writers(out, output_schema(extras))
    results = (_run_dask(units, str(model), cache_path, extras, scheduler) if scheduler
               else _run_local(units, str(model), cache_path, extras, workers))
    for result in results:
        if result.error is not None:
            run.errors.append(result.error)
            if progress:
                progress(0, result.error)
            continue
        writers.write(result.rows)
        run.documents += 1
        run.cached += int(result.cached)
        if progress:
            progress(result.rows.num_rows, None)
    writers.close()
    run.rows = writers.rows
    _write_errors(run)
    _write_reports(run, report_rows)
    return run


def _headline(meta: dict, folder: Path | None) -> dict:
    """The model's cross-validated headline figures, for the summary and the review app."""
    if folder is None or not (folder / "metrics.json").is_file():
        return {}
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    model = metrics.get("model") or {}
    flags = model.get("flags") or {}
    return {
        "macro_f1": flags.get("macro_f1"),
        **{f"{f}_f1": (flags.get(f) or {}).get("f1") for f in FLAGS},
        "metric_type_accuracy": (model.get("metric_type") or {}).get("accuracy"),
        "suggested_metric_type_accuracy": (model.get("suggested_metric_type") or {}).get("accuracy"),
    }


def _write_errors(run: ScoreRun) -> None:
    from .io import errors_frame

    errors_frame(run.errors).to_csv(run.out / "errors.csv", index=False, encoding="utf-8-sig")


_SUMMARY_COLUMNS = ["doc_id", "source_path", "department", "year", "project_code", "project_name", *FLAGS,
                    "metric_type", "suggested_metric_type", "risk"]


def _write_reports(run: ScoreRun, report_rows: int) -> None:
    """summary.json from a few dictionary-encoded columns of the whole run; xlsx and html from the
    weakest rows, picked batch by batch, so neither step holds the run's full rows."""
    from .report import summarize, write_reports

    path = run.out / "scored.parquet"
    text_columns = [c for c in _SUMMARY_COLUMNS if c not in {*FLAGS, "risk", "year"}]
    slim = pq.read_table(path, columns=_SUMMARY_COLUMNS, read_dictionary=text_columns).to_pandas()
    stats = summarize(slim)
    del slim
    summary = {
        **stats,
        "model": run.model,
        "inputs": run.inputs,
        "documents_scored": run.documents,
        "documents_from_cache": run.cached,
        "errors": [{"path": e.path, "reason": e.reason} for e in run.errors],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    shown = _weakest_rows(path, report_rows)
    if len(shown) < run.rows:
        summary["report_rows_shown"] = int(len(shown))
    shown = shown.astype(object).where(shown.notna(), None)
    shown["reasons"] = shown["reasons"].map(lambda text: [r for r in (text or "").split("\n") if r])
    (run.out / "summary.json").write_text(_summary_json(summary), encoding="utf-8")
    write_reports(shown, summary, run.out)


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
