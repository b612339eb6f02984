"""Reports on a scored table: ``summary.json`` figures, ``scored.xlsx`` and ``report.html``.

    summarize(scored)                      → plain dict (counts, rates, histograms, per document/unit/project)
    write_reports(scored, summary, out)    → out/scored.xlsx + out/report.html
    write_xlsx / render_html               → the two halves, for callers that want only one

The package: ``figures`` (the checked table and the numbers every view shares), ``reasons`` (each
reason said once on the page), ``charts`` (inline SVG), ``page`` (report.html, one function per
section, no template engine: the page is plain string building, so the core install needs no
Jinja2), ``xlsx`` (the workbook), ``labels`` (Chinese names).

The scored table is the row table (schema.ROW_COLUMNS; any of them may be missing or empty) plus
schema.SCORED_COLUMNS plus ``suggestion`` (and ``extract_warning`` where extraction gave one).
Unknown extra columns are carried into the workbook.

Choices the callers rely on:

* A project is (doc_id, department, project_code, project_name); its HTML anchor is
  ``project-`` + the first 12 hex digits of a SHA-1 of those four fields (``project_anchor``),
  so links stay valid across runs on the same documents.
* The figures in both files are recomputed from ``scored`` (so they always match the rows) unless
  ``summary`` carries summarize()'s output of the whole run; ``summary`` also gives the run facts:
  model, inputs, errors, created_at. ``SUMMARY_COLUMNS`` are the columns summarize() reads.
* Departments and projects are shown weakest first (flagged share, then mean risk) in both files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .figures import SUMMARY_COLUMNS, figures_of, join_reasons, prepare, project_anchor, run_facts, summarize_frame
from .labels import COLUMN_LABELS, FLAG_LABELS, METRIC_TYPE_LABELS, VALUE_ISSUE_LABELS, column_label
from .page import DEFAULT_TOP_ROWS, render_page
from .xlsx import atomic_write_text, write_workbook

__all__ = [
    "COLUMN_LABELS",
    "DEFAULT_TOP_ROWS",
    "FLAG_LABELS",
    "METRIC_TYPE_LABELS",
    "SUMMARY_COLUMNS",
    "VALUE_ISSUE_LABELS",
    "column_label",
    "join_reasons",
    "project_anchor",
    "render_html",
    "summarize",
    "write_reports",
    "write_xlsx",
]


def summarize(scored: pd.DataFrame) -> dict:
    """Counts and rates for summary.json: totals, flags, metric types, value issues, risk
    histogram, per document (with extraction warnings when the column is there), per department
    and per project. Only plain ints, floats, strings, lists and dicts."""
    return summarize_frame(prepare(scored))


def write_reports(
    scored: pd.DataFrame,
    summary: Mapping,
    out_dir: str | Path,
    *,
    top_rows: int = DEFAULT_TOP_ROWS,
    xlsx_order: str = "risk",
) -> None:
    """Write ``scored.xlsx`` and ``report.html`` into ``out_dir`` (created if missing).

    ``summary`` supplies the run facts (model, inputs, errors, created_at) and, when it holds
    ``summarize()``'s output, the figures of the whole run: ``scored`` may then be only the rows
    chosen for the report (e.g. the highest-risk ones); totals, charts and the per-unit/per-project
    tables show the whole run, the row lists show ``scored``. Without those figures everything is
    computed from ``scored``. ``top_rows`` caps the HTML's weakest list; ``xlsx_order`` is the
    order of sheet 评分结果: "risk" (highest first) or "document".
    """
    frame = prepare(scored)
    meta = run_facts(summary)
    _check_top_rows(top_rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = figures_of(frame, summary)
    write_workbook(frame, stats, meta, out_dir / "scored.xlsx", xlsx_order)
    atomic_write_text(out_dir / "report.html", render_page(frame, stats, meta, top_rows))


def write_xlsx(scored: pd.DataFrame, summary: Mapping, path: str | Path, *, order: str = "risk") -> Path:
    """Write only the workbook (sheet 评分结果, 汇总, one sheet per department)."""
    frame = prepare(scored)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_workbook(frame, figures_of(frame, summary), run_facts(summary), path, order)
    return path


def render_html(scored: pd.DataFrame, summary: Mapping, *, top_rows: int = DEFAULT_TOP_ROWS) -> str:
    """The self-contained report page as a string."""
    _check_top_rows(top_rows)
    frame = prepare(scored)
    return render_page(frame, figures_of(frame, summary), run_facts(summary), top_rows)


def _check_top_rows(top_rows: object) -> None:
    if not isinstance(top_rows, int) or isinstance(top_rows, bool) or top_rows < 0:
        raise InputError("report options", f"top_rows must be a non-negative int, got {top_rows!r}")
