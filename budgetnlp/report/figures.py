"""Reports on a scored table: ``summary.json`` figures, ``scored.xlsx`` and ``report.html``.

    summarize(scored)                      → plain dict (counts, rates, histograms, per unit/project)
    write_reports(scored, summary, out)    → out/scored.xlsx + out/report.html
    write_xlsx / render_html               → the two halves, for callers that want only one

The scored table is the row table (schema.ROW_COLUMNS; any of them may be missing or empty) plus
schema.SCORED_COLUMNS plus ``suggestion``. Unknown extra columns are carried into the workbook.

Choices the callers rely on:

* A project is (doc_id, department, project_code, project_name); its HTML anchor is
  ``project-`` + the first 12 hex digits of a SHA-1 of those four fields (``project_anchor``),
  so links stay valid across runs on the same documents.
* The figures in both files are recomputed from ``scored`` (so they always match the rows);
  ``summary`` gives the run facts: model, inputs, errors, created_at.
* ``report.html`` is one self-contained page: inline CSS, inline SVG charts, no script, no URL
  of any kind. Every string from the documents goes through ``html.escape``. Project sections
  use ``content-visibility: auto`` so a 20,000-row page opens in seconds.
* ``scored.xlsx`` is built by openpyxl (streaming mode, named styles, conditional formats), except
  the data rows of sheet 评分结果: openpyxl needs ~9 µs a cell, so those rows are generated as
  sheet XML here and spliced into the saved package in place of a marker row (``_rows_xml``,
  ``_splice_rows``). Text cells are inline strings, so values that start with "=" (=78人) are
  text, never formulas. Metric types and value issues are shown in Chinese there; the codes
  stay in scored.csv / parquet.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import os
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.formatting.rule import ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from ..errors import InputError
from ..schema import FLAGS, METRIC_TYPES, ROW_COLUMNS, SCORED_COLUMNS

__all__ = [
    "COLUMN_LABELS",
    "FLAG_LABELS",
    "METRIC_TYPE_LABELS",
    "VALUE_ISSUE_LABELS",
    "join_reasons",
    "project_anchor",
    "render_html",
    "summarize",
    "write_reports",
    "write_xlsx",
]

# --------------------------------------------------------------------------- labels
FLAG_LABELS: dict[str, str] = {
    "vague": "模糊",
    "boilerplate": "套话/模板",
    "category_mismatch": "类别错配",
    "unmeasurable": "不可衡量",
}

#: One line per flag for the report's legend (LABELS.md, "The four flags").
FLAG_MEANINGS: dict[str, str] = {
    "vague": "只写方向或印象（如“成效明显”“提升服务水平”），没有可核对的水平",
    "boilerplate": "泛泛而谈，未指明本项目的产出、对象或数量，可原样套用到其他项目",
    "category_mismatch": "指标衡量的内容与所属一级/二级指标类别不符，或不属于本项目",
    "unmeasurable": "年底无法凭证据核对：没有数量或可核验的标准，或指标值无法读取",
}

METRIC_TYPE_LABELS: dict[str, str] = {
    "percent": "百分比",
    "count": "数量",
    "amount": "金额",
    "time": "时间",
    "boolean": "是否",
    "grade": "等级",
    "text": "文字",
    "empty": "空",
}

VALUE_ISSUE_LABELS: dict[str, str] = {
    "none": "无",
    "malformed": "格式错误",
    "unit_mismatch": "单位不符",
    "placeholder": "占位表述",
    "empty": "未填写",
}

#: Chinese header labels of the scored table (English names stay visible in the workbook).
COLUMN_LABELS: dict[str, str] = {
    "row_id": "行标识",
    "doc_id": "文档标识",
    "source_path": "来源文件",
    "department": "预算单位",
    "year": "年度",
    "project_code": "项目编码",
    "project_name": "项目名称",
    "project_budget": "预算数（万元）",
    "fund_use": "资金用途",
    "project_goals": "绩效目标",
    "level1": "一级指标",
    "level2": "二级指标",
    "level1_norm": "一级指标（规范）",
    "level2_norm": "二级指标（规范）",
    "name": "三级指标",
    "description": "绩效指标描述",
    "value": "指标值",
    "basis": "指标值确定依据",
    "location": "位置",
    "vague": "模糊",
    "boilerplate": "套话/模板",
    "category_mismatch": "类别错配",
    "unmeasurable": "不可衡量",
    "p_vague": "模糊概率",
    "p_boilerplate": "套话概率",
    "p_category_mismatch": "类别错配概率",
    "p_unmeasurable": "不可衡量概率",
    "metric_type": "指标值类型",
    "suggested_metric_type": "建议指标值类型",
    "value_op": "运算符",
    "value_number": "数值",
    "value_low": "下限",
    "value_high": "上限",
    "value_unit": "单位",
    "value_deadline": "截止日期",
    "value_issue": "指标值问题",
    "risk": "风险分",
    "reasons": "原因",
    "model": "模型",
    "suggestion": "改写建议",
}

REPORT_TITLE = "绩效目标质量审查报告"
SCORED_SHEET = "评分结果"
SUMMARY_SHEET = "汇总"
NO_DEPARTMENT = "（未注明单位）"
NO_PROJECT = "（未注明项目）"

#: Display bands for risk in the HTML (cell colour only; decisions come from the model).
RISK_HIGH = 0.7
RISK_MID = 0.4
#: Rows listed in the HTML's "highest risk" table unless the caller asks otherwise.
DEFAULT_TOP_ROWS = 500
HTML_MAX_PROJECTS = 2000  # rows of the page's per-project table (the workbook lists every project)
HIST_BINS = 10

_P_COLUMNS = [f"p_{flag}" for flag in FLAGS]
_VALUE_COLUMNS = ["value_op", "value_number", "value_low", "value_high", "value_unit", "value_deadline", "value_issue"]
_NUMERIC_COLUMNS = [*_P_COLUMNS, "risk", "value_number", "value_low", "value_high", "project_budget"]
_PROJECT_FIELDS = ["_dept", "project_code", "project_name", "project_budget", "year", "doc_id", "source_path"]
_KNOWN = [*ROW_COLUMNS, *SCORED_COLUMNS, "suggestion"]
_TEXT_COLUMNS = [c for c in _KNOWN if c not in (*FLAGS, *_NUMERIC_COLUMNS, "reasons", "year")]
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_XLSX_MAX_TEXT = 32_000  # Excel's cell limit is 32,767 characters
_ROWS_MARKER = "budgetnlp:data-rows-go-here"


# --------------------------------------------------------------------------- small public helpers
def project_anchor(doc_id: object, department: object, project_code: object, project_name: object) -> str:
    """The stable HTML id of a project: ``project-`` + 12 hex digits of SHA-1 over its key fields."""
    key = "\x1f".join(_text(v) for v in (doc_id, department, project_code, project_name))
    return "project-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def join_reasons(reasons: object, sep: str = "\n") -> str:
    """A row's reasons as one string (for CSV or a spreadsheet cell); accepts list, array, JSON text."""
    return sep.join(_as_reasons(reasons))


# --------------------------------------------------------------------------- the door
def summarize(scored: pd.DataFrame) -> dict:
    """Counts and rates for summary.json: totals, flags, metric types, risk histogram,
    per department and per project. Only plain ints, floats, strings, lists and dicts."""
    return _summarize(_prepare(scored))


def write_reports(
    scored: pd.DataFrame, summary: Mapping, out_dir: str | Path, *, top_rows: int = DEFAULT_TOP_ROWS
) -> None:
    """Write ``scored.xlsx`` and ``report.html`` into ``out_dir`` (created if missing).

    ``summary`` supplies the run facts (model, inputs, errors, created_at) and, when it holds
    ``summarize()``'s output, the figures of the whole run: ``scored`` may then be only the rows
    chosen for the report (e.g. the highest-risk ones); totals, charts and the per-unit/per-project
    tables show the whole run, the row lists show ``scored``. Without those figures everything is
    computed from ``scored``. ``top_rows`` caps the HTML's highest-risk list.
    """
    frame = _prepare(scored)
    meta = _check_summary(summary)
    if not isinstance(top_rows, int) or top_rows < 0:
        raise InputError("report options", f"top_rows must be a non-negative int, got {top_rows!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = _figures(frame, summary)
    _write_xlsx(frame, stats, meta, out_dir / "scored.xlsx")
    _atomic_write_text(out_dir / "report.html", _render_html(frame, stats, meta, top_rows))


def write_xlsx(scored: pd.DataFrame, summary: Mapping, path: str | Path) -> Path:
    """Write only the workbook (sheet 评分结果, 汇总, one sheet per department)."""
    frame = _prepare(scored)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_xlsx(frame, _figures(frame, summary), _check_summary(summary), path)
    return path


def render_html(scored: pd.DataFrame, summary: Mapping, *, top_rows: int = DEFAULT_TOP_ROWS) -> str:
    """The self-contained report page as a string."""
    frame = _prepare(scored)
    return _render_html(frame, _figures(frame, summary), _check_summary(summary), top_rows)


# --------------------------------------------------------------------------- checking and preparing
def _prepare(scored: pd.DataFrame) -> pd.DataFrame:
    """Validate the scored table and return a cleaned copy with every known column present.

    Added private columns: _dept (display name), _anchor (project id), _flagged (any flag),
    _order (input position). Flags become 0/1 ints, p_*/risk floats, reasons lists.
    """
    if not isinstance(scored, pd.DataFrame):
        raise InputError("scored table", f"expected a pandas DataFrame, got {type(scored).__name__}")
    missing = [c for c in [*FLAGS, "risk"] if c not in scored.columns]
    if missing:
        raise InputError("scored table", f"missing scored columns: {', '.join(missing)}")
    frame = scored.reset_index(drop=True).copy()
    frame.attrs["bn_given"] = sorted(str(c) for c in scored.columns)
    n = len(frame)
    for col in _TEXT_COLUMNS:
        # object dtype on purpose: row-wise reads of Arrow-backed strings are slow
        frame[col] = _per_value(frame[col], _display_text) if col in frame.columns else pd.Series([""] * n, dtype=object)
    for col in _NUMERIC_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in FLAGS:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            bad = frame.loc[values.isna(), col].iloc[0]
            raise InputError("scored table", f"flag column {col} must hold 0/1, found {bad!r}")
        frame[col] = (values != 0).astype(int)
    for col in [*_P_COLUMNS, "risk"]:
        frame[col] = frame[col].clip(0.0, 1.0)
    if "year" not in frame.columns:
        frame["year"] = ""
    frame["year"] = _per_value(frame["year"], _year_text)
    reasons = frame["reasons"].tolist() if "reasons" in frame.columns else [None] * n
    frame["reasons"] = pd.Series([[_clean(r) for r in _as_reasons(v)] for v in reasons], dtype=object)
    frame["_dept"] = pd.Series([d or NO_DEPARTMENT for d in frame["department"].tolist()], dtype=object)
    anchors: dict[tuple, str] = {}
    keys = zip(frame["doc_id"], frame["department"], frame["project_code"], frame["project_name"])
    frame["_anchor"] = pd.Series(
        [anchors[k] if k in anchors else anchors.setdefault(k, project_anchor(*k)) for k in keys], dtype=object
    )
    frame["_flagged"] = (frame[FLAGS].sum(axis=1) > 0).astype(int)
    frame["_order"] = np.arange(n)
    return frame


_FIGURE_KEYS = (
    "rows", "documents", "projects", "departments", "flagged_rows", "flagged_rate", "flags",
    "metric_types", "suggested_metric_types", "risk_histogram", "by_department", "by_project",
)  # fmt: skip
_GROUP_KEYS = ("rows", "flagged_rows", "flagged_rate", *FLAGS, *(f"{flag}_rate" for flag in FLAGS))


def _figures(frame: pd.DataFrame, summary: Mapping | None) -> dict:
    """The figures the reports show: the caller's summarize() output when ``summary`` carries it
    (it may describe more rows than ``frame``), else computed from ``frame``."""
    if not isinstance(summary, Mapping) or "rows" not in summary:
        return _summarize(frame)
    missing = [key for key in _FIGURE_KEYS if key not in summary]
    missing += [f"flags.{flag}" for flag in FLAGS if flag not in (summary.get("flags") or {})]
    for group, keys in (
        ("by_department", ("department", "projects")),
        ("by_project", ("anchor", "department", "project_name")),
    ):
        for i, item in enumerate(summary.get(group) or []):
            lacking = [k for k in (*keys, *_GROUP_KEYS) if k not in item]
            if lacking:
                missing.append(f"{group}[{i}].{lacking[0]}")
                break
    if missing:
        raise InputError("summary", f"figures incomplete, use report.summarize(): missing {', '.join(missing[:5])}")
    keys = _summarize(frame.iloc[:0]).keys()
    if all(key in summary for key in keys):  # the whole run's figures: nothing to count here
        return {key: summary[key] for key in keys}
    stats = _summarize(frame)
    stats.update({key: summary[key] for key in stats if key in summary})
    return stats


def _check_summary(summary: Mapping) -> dict:
    """The run facts the reports show, with defaults for anything the caller left out."""
    if summary is None:
        summary = {}
    if not isinstance(summary, Mapping):
        raise InputError("summary", f"expected a dict, got {type(summary).__name__}")
    model = summary.get("model") or {}
    if isinstance(model, Mapping):
        name, version = _text(model.get("name")), _text(model.get("version"))
    else:
        name, version = _text(model), ""
    inputs = summary.get("inputs") or []
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    errors = []
    for item in summary.get("errors") or []:
        if isinstance(item, Mapping):
            errors.append(
                {
                    "path": _clean(_text(item.get("path"))),
                    "reason": _clean(_text(item.get("reason"))),
                    "location": _clean(_text(item.get("location"))),
                }
            )
        elif hasattr(item, "reason"):  # an InputError itself
            path, location = getattr(item, "path", ""), getattr(item, "location", "")
            errors.append(
                {"path": _clean(_text(path)), "reason": _clean(_text(item.reason)), "location": _clean(_text(location))}
            )
        else:
            errors.append({"path": "", "reason": _clean(_text(item)), "location": ""})
    return {
        "model_name": _clean(name),
        "model_version": _clean(version),
        "inputs": [_clean(_text(p)) for p in inputs],
        "errors": errors,
        "created_at": _clean(_text(summary.get("created_at"))),
    }


def _text(value: object) -> str:
    """Any cell as display text: None/NaN/NA → '', floats that are whole → no '.0'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(_text(v) for v in value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, (float, np.floating)):
        return _fmt_num(float(value))
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _per_value(series: pd.Series, func) -> pd.Series:
    """``func`` of each value as an object column, computed once per distinct value: a run's
    summary columns (department, project, year, types) repeat over 100,000s of rows."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = np.array([func(v) for v in uniques] + [func(None)], dtype=object)
    return pd.Series(table[codes], dtype=object)


def _display_text(value: object) -> str:
    return _clean(value if value.__class__ is str else _text(value))


def _clean(text: str) -> str:
    return _CONTROL.sub("", text) if text else text


def _year_text(value: object) -> str:
    text = _text(value)
    return text[:-2] if text.endswith(".0") else text


def _as_reasons(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return [_text(v) for v in parsed if _text(v)]
        return [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [_text(v) for v in value if _text(v)]
    text = _text(value)
    return [text] if text else []


def _fmt_num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _float_or_none(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


# --------------------------------------------------------------------------- summary figures
def _group_stats(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows, flagged rows, per-flag counts, risk mean/max per group, in first-appearance order."""
    grouped = frame.groupby(by, sort=False)
    stats = grouped.agg(
        rows=("_order", "size"),
        flagged_rows=("_flagged", "sum"),
        risk_mean=("risk", "mean"),
        risk_max=("risk", "max"),
        first=("_order", "min"),
        **{flag: (flag, "sum") for flag in FLAGS},
    )
    return stats.sort_values("first", kind="stable")


def _rates_record(row: Mapping) -> dict:
    rows = int(row["rows"])
    out = {"rows": rows, "flagged_rows": int(row["flagged_rows"])}
    out["flagged_rate"] = _rate(out["flagged_rows"], rows)
    for flag in FLAGS:
        out[flag] = int(row[flag])
        out[f"{flag}_rate"] = _rate(out[flag], rows)
    out["risk_mean"] = _float_or_none(row["risk_mean"])
    out["risk_max"] = _float_or_none(row["risk_max"])
    return out


def _type_counts(values: Iterable[str]) -> dict[str, int]:
    counts = {t: 0 for t in METRIC_TYPES}
    for value in values:
        key = value if value in counts else "unknown"  # missing or not a LABELS.md type
        counts[key] = counts.get(key, 0) + 1
    return counts


def _summarize(frame: pd.DataFrame) -> dict:
    n = len(frame)
    given = set(frame.attrs.get("bn_given", frame.columns))
    docs = [d or s for d, s in zip(frame["doc_id"], frame["source_path"])]
    flagged = int(frame["_flagged"].sum())
    risk = frame["risk"]
    known = risk.dropna()
    edges = np.linspace(0.0, 1.0, HIST_BINS + 1)
    bin_index = np.minimum((known.to_numpy() * HIST_BINS).astype(int), HIST_BINS - 1)
    bin_counts = np.bincount(bin_index, minlength=HIST_BINS) if len(known) else np.zeros(HIST_BINS, int)
    histogram = [
        {
            "low": round(float(edges[i]), 1),
            "high": round(float(edges[i + 1]), 1),
            "label": f"{edges[i]:.1f}-{edges[i + 1]:.1f}",
            "count": int(bin_counts[i]),
            "rate": _rate(int(bin_counts[i]), len(known)),
        }
        for i in range(HIST_BINS)
    ]

    by_department = []
    if n:
        dept_docs = frame.assign(_doc=docs).groupby("_dept", sort=False)
        doc_counts = dept_docs["_doc"].nunique()
        project_counts = dept_docs["_anchor"].nunique()
        dept_stats = _group_stats(frame, "_dept")
        for dept, row in zip(dept_stats.index, dept_stats.to_dict("records")):
            record = {"department": dept, "documents": int(doc_counts[dept]), "projects": int(project_counts[dept])}
            record.update(_rates_record(row))
            by_department.append(record)

    by_project = []
    if n:
        stats = _group_stats(frame, "_anchor")
        firsts = frame.drop_duplicates("_anchor").set_index("_anchor")[_PROJECT_FIELDS].to_dict("index")
        for anchor, row in zip(stats.index, stats.to_dict("records")):
            first = firsts[anchor]
            budget = first["project_budget"]
            record = {
                "anchor": anchor,
                "department": first["_dept"],
                "project_code": first["project_code"],
                "project_name": first["project_name"] or NO_PROJECT,
                "project_budget": None if pd.isna(budget) else float(budget),
                "year": first["year"],
                "doc_id": first["doc_id"],
                "source_path": first["source_path"],
            }
            record.update(_rates_record(row))
            by_project.append(record)

    changed = int(sum(1 for a, b in zip(frame["metric_type"], frame["suggested_metric_type"]) if a and b and a != b))
    return {
        "rows": n,
        "documents": len({d for d in docs if d}),
        "projects": int(frame["_anchor"].nunique()),
        "departments": int(frame["_dept"].nunique()),
        "flagged_rows": flagged,
        "flagged_rate": _rate(flagged, n),
        "flags": {
            flag: {
                "label": FLAG_LABELS[flag],
                "count": int(frame[flag].sum()),
                "rate": _rate(int(frame[flag].sum()), n),
            }
            for flag in FLAGS
        },
        "metric_types": _type_counts(frame["metric_type"] if "metric_type" in given else []),
        "suggested_metric_types": _type_counts(
            frame["suggested_metric_type"] if "suggested_metric_type" in given else []
        ),
        "metric_type_changes": changed,
        "value_issues": (
            {issue: int(count) for issue, count in frame["value_issue"].replace("", "unknown").value_counts().items()}
            if "value_issue" in given
            else {}
        ),
        "risk_mean": _float_or_none(float(known.mean())) if len(known) else None,
        "risk_missing": int(n - len(known)),
        "risk_histogram": histogram,
        "by_department": by_department,
        "by_project": by_project,
    }


# --------------------------------------------------------------------------- shared row display
def _normalized_text(rec: Mapping) -> str:
    """op + number / range + unit, deadline, issue: e.g. "≥90%", "截止 2023-12-31", "问题：格式错误"."""
    op, unit = rec["value_op"], rec["value_unit"]
    low, high, number = rec["value_low"], rec["value_high"], rec["value_number"]
    parts = []
    if not math.isnan(low) and not math.isnan(high):
        parts.append(f"{op}{_fmt_num(low)}{unit}–{_fmt_num(high)}{unit}")
    elif not math.isnan(number):
        parts.append(f"{op}{_fmt_num(number)}{unit}")
    if rec["value_deadline"]:
        deadline = rec["value_deadline"][:10]
        parts.append(f"截止 {deadline}" if op in ("", "≤") else f"{op}{deadline}")
    issue = rec["value_issue"]
    if issue and issue != "none":
        parts.append(f"问题：{VALUE_ISSUE_LABELS.get(issue, issue)}")
    return "；".join(parts)


def _type_label(code: str) -> str:
    return "未知" if code == "unknown" else METRIC_TYPE_LABELS.get(code, code)


# --------------------------------------------------------------------------- workbook
_XLSX_COLUMNS = [
    "department",
    "project_name",
    "level1",
    "level2",
    "name",
    "value",
    "risk",
    *FLAGS,
    "reasons",
    "suggested_metric_type",
    "suggestion",
    *_P_COLUMNS,
    "metric_type",
    *_VALUE_COLUMNS,
    "description",
    "basis",
    "project_code",
    "project_budget",
    "year",
    "fund_use",
    "project_goals",
    "level1_norm",
    "level2_norm",
    "location",
    "source_path",
    "doc_id",
    "row_id",
    "model",
]
_XLSX_WIDTHS = {
    "department": 16,
    "project_name": 20,
    "level1": 10,
    "level2": 12,
    "name": 24,
    "value": 14,
    "risk": 8,
    **{flag: 8 for flag in FLAGS},
    "category_mismatch": 9,
    "unmeasurable": 9,
    "reasons": 44,
    "suggested_metric_type": 10,
    "suggestion": 36,
    **{col: 9 for col in _P_COLUMNS},
    "metric_type": 10,
    "value_op": 7,
    "value_number": 9,
    "value_low": 8,
    "value_high": 8,
    "value_unit": 7,
    "value_deadline": 11,
    "value_issue": 10,
    "description": 30,
    "basis": 14,
    "project_code": 18,
    "project_budget": 10,
    "year": 7,
    "fund_use": 30,
    "project_goals": 30,
    "level1_norm": 10,
    "level2_norm": 12,
    "location": 14,
    "source_path": 24,
    "doc_id": 18,
    "row_id": 18,
    "model": 20,
}
_XLSX_WRAP = {"name", "reasons", "suggestion"}
_XLSX_FREEZE = "F3"  # two header rows; department … name stay in view
_FILL_FLAG = "FFC7CE"
_FONT_FLAG = "9C0006"


def _rate_scale() -> ColorScaleRule:
    """White at 0 to red at 1: the colour scale of every rate and probability column."""
    return ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF", end_type="num", end_value=1, end_color="F8696B")


def _sheet_title(name: str, taken: set[str]) -> str:
    """An Excel-safe, unique (case-insensitive) sheet name of at most 31 characters."""
    base = _SHEET_BAD.sub("", name).strip().strip("'").strip() or "未注明单位"
    if base.casefold() == "history":  # reserved by Excel
        base += "_"
    n = 1
    while True:
        suffix = "" if n == 1 else f"({n})"
        title = _utf16_cut(base, 31 - len(suffix)) + suffix
        if title.casefold() not in taken:
            taken.add(title.casefold())
            return title
        n += 1


def _utf16_cut(text: str, limit: int) -> str:
    out, used = [], 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit:
            break
        out.append(ch)
        used += width
    return "".join(out).rstrip().rstrip("'")


def _xlsx_styles(wb) -> None:
    thin = Side(style="thin", color="B7C3D0")
    styles = [
        NamedStyle(
            name="bn_head_cn",
            font=Font(bold=True),
            fill=PatternFill("solid", fgColor="DCE6F1"),
            alignment=Alignment(horizontal="center", vertical="center", wrap_text=True),
            border=Border(top=thin, left=thin, right=thin),
        ),
        NamedStyle(
            name="bn_head_en",
            font=Font(size=9, color="595959"),
            fill=PatternFill("solid", fgColor="EEF3F8"),
            alignment=Alignment(horizontal="center", vertical="center"),
            border=Border(bottom=thin, left=thin, right=thin),
        ),
        NamedStyle(
            name="bn_flag",
            font=Font(bold=True, color=_FONT_FLAG),
            fill=PatternFill("solid", fgColor=_FILL_FLAG),
            alignment=Alignment(horizontal="center", vertical="top"),
        ),
        NamedStyle(name="bn_wrap", alignment=Alignment(wrap_text=True, vertical="top")),
        NamedStyle(name="bn_title", font=Font(bold=True, size=14)),
        NamedStyle(name="bn_pct", number_format="0.0%"),
        NamedStyle(name="bn_num2", number_format="0.00"),
        NamedStyle(name="bn_link", font=Font(color="0563C1", underline="single")),
    ]
    for style in styles:
        wb.add_named_style(style)


def _cell(ws, value, style: str | None = None, link: str | None = None):
    """A streaming cell with a named style, a text value that is never read as a formula,
    and/or an in-workbook hyperlink. Named styles are resolved once per sheet and copied."""
    style_array = None
    if style:
        cache = ws.__dict__.setdefault("_bn_styles", {})
        if style not in cache:
            proto = Cell(ws, row=1, column=1)
            proto.style = style
            cache[style] = proto._style
        style_array = cache[style]
    if isinstance(value, str):
        value = _clean(value)
    cell = Cell(ws, row=1, column=1, value=value, style_array=style_array)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    if link:
        cell.hyperlink = Hyperlink(ref="", location=link)
    return cell


def _xlsx_value(ws, value):
    """A value for a summary or department sheet: NaN → None, text cleaned, cut to Excel's cell
    limit and kept as text when it starts with "="."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        value = _clean(value)[:_XLSX_MAX_TEXT]
        return _cell(ws, value) if value.startswith("=") else value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return _xlsx_value(ws, _text(value))


def _write_xlsx(frame: pd.DataFrame, stats: dict, meta: dict, path: Path) -> None:
    wb = Workbook(write_only=True)
    _xlsx_styles(wb)
    taken = {SCORED_SHEET.casefold(), SUMMARY_SHEET.casefold()}
    dept_sheets = {d["department"]: _sheet_title(d["department"], taken) for d in stats["by_department"]}
    rows_xml = {_rows_marker(0): _write_scored_sheet(wb.create_sheet(SCORED_SHEET), frame)}
    _write_summary_sheet(wb.create_sheet(SUMMARY_SHEET), stats, meta, dept_sheets, len(frame))
    projects_by_dept: dict[str, list[dict]] = {}
    for project in stats["by_project"]:
        projects_by_dept.setdefault(project["department"], []).append(project)
    for number, dept in enumerate(stats["by_department"], 1):
        name = dept["department"]
        ws = wb.create_sheet(dept_sheets[name])
        rows_xml[_rows_marker(number)] = _write_department_sheet(ws, dept, projects_by_dept.get(name, []), _rows_marker(number))
    package = io.BytesIO()
    wb.save(package)
    tmp = _temp_name(path)
    try:
        _splice_rows(package, rows_xml, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_scored_sheet(ws, frame: pd.DataFrame) -> Iterator[str]:
    """Headers, widths, filter, frozen panes and colour rules of 评分结果; returns the data rows' XML."""
    extras = [c for c in frame.columns if c not in _KNOWN and not str(c).startswith("_")]
    columns = [*_XLSX_COLUMNS, *extras]
    letters = {col: get_column_letter(i) for i, col in enumerate(columns, 1)}
    for col in columns:
        ws.column_dimensions[letters[col]].width = _XLSX_WIDTHS.get(col, 14)
    n = len(frame)
    last_row = max(n + 2, 3)
    ws.freeze_panes = _XLSX_FREEZE
    ws.auto_filter.ref = f"A2:{letters[columns[-1]]}{n + 2}"
    ws.print_title_rows = "1:2"

    for col in [*_P_COLUMNS]:
        ws.conditional_formatting.add(
            f"{letters[col]}3:{letters[col]}{last_row}",
            _rate_scale(),
        )
    ws.conditional_formatting.add(
        f"{letters['risk']}3:{letters['risk']}{last_row}",
        ColorScaleRule(
            start_type="num",
            start_value=0,
            start_color="FFFFFF",
            mid_type="num",
            mid_value=0.5,
            mid_color="FFEB84",
            end_type="num",
            end_value=1,
            end_color="F8696B",
        ),
    )
    sug, cur = letters["suggested_metric_type"], letters["metric_type"]
    ws.conditional_formatting.add(
        f"{sug}3:{sug}{last_row}",
        FormulaRule(formula=[f'AND(${sug}3<>"",${sug}3<>${cur}3)'], fill=PatternFill("solid", bgColor="FFEB9C")),
    )

    ws.append([_cell(ws, COLUMN_LABELS.get(col, str(col)), "bn_head_cn") for col in columns])
    ws.append([_cell(ws, str(col), "bn_head_en") for col in columns])

    # The data rows are written as sheet XML by _rows_xml and spliced in after saving (openpyxl
    # spends ~9 µs per cell; 20,000 rows × 41 columns would take most of the run). The marker row
    # marks the place; the style ids come from the workbook's own named styles.
    ws.append([_rows_marker(0)])
    kinds = ["flag" if c in FLAGS else "wrap" if c in _XLSX_WRAP else "" for c in columns]
    data = _xlsx_data(frame, columns)
    return _rows_xml([data[c] for c in columns], kinds, n, 3, _style_ids(ws))


def _rows_marker(sheet: int) -> str:
    return f"{_ROWS_MARKER}:{sheet}"


def _style_ids(ws) -> dict[str, str]:
    """The ``s`` attribute of each kind of data cell, from the workbook's own named styles."""
    return {kind: f' s="{_style_id(ws, name)}"' for kind, name in
            (("flag", "bn_flag"), ("wrap", "bn_wrap"), ("pct", "bn_pct"), ("num2", "bn_num2"))}


def _style_id(ws, name: str) -> int:
    """The cellXfs index of a named style in this workbook (registered now if new)."""
    proto = Cell(ws, row=1, column=1)
    proto.style = name
    return proto.style_id


def _xlsx_data(frame: pd.DataFrame, columns: list[str]) -> dict[str, list]:
    """Per column, the values as shown in the sheet (Chinese type names, joined reasons …)."""
    data = {}
    for col in columns:
        if col == "reasons":
            data[col] = ["\n".join(r) for r in frame["reasons"]]
        elif col in ("metric_type", "suggested_metric_type"):
            data[col] = [_type_label(v) for v in frame[col]]
        elif col == "value_issue":
            data[col] = [VALUE_ISSUE_LABELS.get(v, v) for v in frame[col]]
        elif col in (*_P_COLUMNS, "risk"):
            data[col] = frame[col].round(3).tolist()
        elif col == "year":
            data[col] = [int(v) if v.isdigit() else v for v in frame[col]]
        else:
            data[col] = frame[col].tolist()
    return data


def _xml_cell_value(value) -> tuple[str, str] | None:
    """(type attribute, inner XML) of one cell, or None for an empty cell. Text is always an
    inline string (so "=78人" stays text), numbers are <v>, NaN/inf are left empty."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        if len(value) > _XLSX_MAX_TEXT:
            value = value[:_XLSX_MAX_TEXT] + "…"
        return ' t="inlineStr"', f'<is><t xml:space="preserve">{html.escape(value, quote=False)}</t></is>'
    if isinstance(value, (bool, np.bool_)):
        return ' t="b"', f"<v>{int(value)}</v>"
    if isinstance(value, (int, np.integer)):
        return "", f"<v>{int(value)}</v>"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else ("", f"<v>{value!r}</v>")
    return _xml_cell_value(_clean(_text(value)))


def _rows_xml(series: list[list], kinds: list[str], n: int, first_row: int, styles: dict[str, str]):
    """Yield the <row> elements of ``n`` data rows (sheet rows ``first_row`` …) in chunks of XML
    text. ``series`` holds each column's values; ``kinds`` each column's cell style: "flag"
    (highlighted when 1), "wrap", "pct", "num2" or "" (none)."""
    letters = [get_column_letter(i) for i in range(1, len(series) + 1)]
    chunk: list[str] = []
    for i in range(n):
        r = i + first_row
        cells = []
        for letter, kind, values in zip(letters, kinds, series):
            value = values[i]
            if value is None or value == "":
                continue
            if value.__class__ is str and kind == "":
                if len(value) > _XLSX_MAX_TEXT:
                    value = value[:_XLSX_MAX_TEXT] + "…"
                text = html.escape(value, quote=False)
                cells.append(f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
                continue
            xml = _xml_cell_value(value)
            if xml is None:
                continue
            style = "" if not kind or (kind == "flag" and value != 1) else styles[kind]
            cells.append(f'<c r="{letter}{r}"{style}{xml[0]}>{xml[1]}</c>')
        chunk.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(chunk) >= 2000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _splice_rows(package: io.BytesIO, rows_xml: dict, target: Path) -> None:
    """Copy the saved workbook to ``target``, replacing each sheet's marker row with its data rows."""
    markers = {marker.encode(): rows for marker, rows in rows_xml.items()}
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        placed = 0
        for item in src.infolist():
            data = src.read(item.filename)
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            found = [m for m in markers if m + b"<" in data] if item.filename.startswith("xl/worksheets/sheet") else []
            if len(found) != 1:
                dst.writestr(info, data)
                continue
            placed += 1
            at = data.index(found[0] + b"<")
            start, end = data.rindex(b"<row ", 0, at), data.index(b"</row>", at) + len(b"</row>")
            with dst.open(info, "w", force_zip64=True) as out:
                out.write(data[:start])
                for chunk in markers[found[0]]:
                    out.write(chunk.encode("utf-8"))
                out.write(data[end:])
        if placed != len(markers):
            raise RuntimeError(f"scored.xlsx: {placed} of {len(markers)} row markers found")  # a bug, not bad input


def _write_summary_sheet(ws, stats: dict, meta: dict, dept_sheets: dict[str, str], listed: int) -> None:
    widths = [22, 16, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12]
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    row_no = 0

    def put(values):
        nonlocal row_no
        ws.append(values)
        row_no += 1

    def head(labels):
        put([_cell(ws, label, "bn_head_cn") for label in labels])

    def pct(rate):
        return _cell(ws, rate, "bn_pct")

    put([_cell(ws, REPORT_TITLE + " · 汇总", "bn_title")])
    model = " ".join(p for p in (meta["model_name"], meta["model_version"]) if p)
    put(["模型", _xlsx_value(ws, model)])
    put(["生成时间", _xlsx_value(ws, meta["created_at"])])
    put(["输入文件数", len(meta["inputs"])])
    put(["无法读取的文件数", len(meta["errors"])])
    put([])
    head(["总览", "数量", "比例"])
    put(["文档数", stats["documents"]])
    put(["预算单位数", stats["departments"]])
    put(["项目数", stats["projects"]])
    put(["指标数（三级指标）", stats["rows"]])
    put(["其中列入“评分结果”工作表", int(listed)])
    put(["有问题的指标", stats["flagged_rows"], pct(stats["flagged_rate"])])
    put([])
    head(["问题标记", "标记名", "指标数", "比例"])
    for flag, item in stats["flags"].items():
        put([item["label"], flag, item["count"], pct(item["rate"])])
    put([])
    head(["指标值类型", "代码", "填写类型", "建议类型"])
    for code, count in stats["metric_types"].items():
        put([_type_label(code), code, count, stats["suggested_metric_types"].get(code, 0)])
    put([])
    head(["风险分区间", "指标数", "比例"])
    for item in stats["risk_histogram"]:
        put([item["label"], item["count"], pct(item["rate"])])
    put([])

    head(
        ["预算单位", "文档数", "项目数", "指标数", "有问题指标", "比例"]
        + [FLAG_LABELS[f] for f in FLAGS]
        + [FLAG_LABELS[f] + "比例" for f in FLAGS]
        + ["平均风险", "最高风险"]
    )
    first = row_no + 1
    for dept in stats["by_department"]:
        sheet = dept_sheets[dept["department"]]
        link = "'" + sheet.replace("'", "''") + "'!A1"
        put(
            [
                _cell(ws, dept["department"], "bn_link", link),
                dept.get("documents"),
                dept["projects"],
                dept["rows"],
                dept["flagged_rows"],
                pct(dept["flagged_rate"]),
            ]
            + [dept[f] for f in FLAGS]
            + [pct(dept[f"{f}_rate"]) for f in FLAGS]
            + [_num_cell(ws, dept.get("risk_mean")), _num_cell(ws, dept.get("risk_max"))]
        )
    if stats["by_department"]:
        for col in ["F", "K", "L", "M", "N"]:
            ws.conditional_formatting.add(
                f"{col}{first}:{col}{row_no}",
                _rate_scale(),
            )
    put([])
    head(["无法读取的文件", "原因", "位置"])
    for err in meta["errors"]:
        put([_xlsx_value(ws, err["path"]), _xlsx_value(ws, err["reason"]), _xlsx_value(ws, err["location"])])
    if not meta["errors"]:
        put(["（无）"])
    put([])
    head(["输入文件"])
    for path in meta["inputs"]:
        put([_xlsx_value(ws, path)])


def _num_cell(ws, value):
    return None if value is None else _cell(ws, value, "bn_num2")


def _write_department_sheet(ws, dept: dict, projects: list[dict], marker: str) -> Iterator[str]:
    """Heading, column layout and colour rules of a department's sheet; returns the project rows' XML."""
    labels = ["项目编码", "项目名称", "年度", "预算数（万元）", "指标数", "有问题指标", "比例"]
    for f in FLAGS:
        labels += [FLAG_LABELS[f], FLAG_LABELS[f] + "比例"]
    labels += ["平均风险", "最高风险", "来源文件"]
    widths = [20, 30, 7, 12, 8, 10, 8] + [9] * (2 * len(FLAGS)) + [9, 9, 30]
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    header_row, last = 4, 4 + len(projects)
    ws.freeze_panes = "C5"
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(labels))}{last}"
    rate_cols = [7] + [9 + 2 * i for i in range(len(FLAGS))]
    if projects:
        for idx in rate_cols:
            col = get_column_letter(idx)
            ws.conditional_formatting.add(
                f"{col}{header_row + 1}:{col}{last}",
                _rate_scale(),
            )
    ws.append(
        [_cell(ws, dept["department"], "bn_title"), None, _cell(ws, "← 返回汇总", "bn_link", f"'{SUMMARY_SHEET}'!A1")]
    )
    ws.append(
        [
            f"项目 {dept['projects']} 个，指标 {dept['rows']} 条，有问题 {dept['flagged_rows']} 条"
            f"（{_pct(dept['flagged_rate'])}）；" + "，".join(f"{FLAG_LABELS[f]} {dept[f]}" for f in FLAGS)
        ]
    )
    ws.append([])
    ws.append([_cell(ws, label, "bn_head_cn") for label in labels])
    ws.append([marker])  # the project rows, as sheet XML (a year's run lists 100,000s of projects)
    series = [
        [p.get("project_code") or None for p in projects],
        [p["project_name"] for p in projects],
        [int(y) if (y := _text(p.get("year"))).isdigit() else y for p in projects],
        [p.get("project_budget") for p in projects],
        [p["rows"] for p in projects],
        [p["flagged_rows"] for p in projects],
        [p["flagged_rate"] for p in projects],
    ]
    kinds = ["", "", "", "", "", "", "pct"]
    for f in FLAGS:
        series += [[p[f] for p in projects], [p[f"{f}_rate"] for p in projects]]
        kinds += ["", "pct"]
    series += [[p.get("risk_mean") for p in projects], [p.get("risk_max") for p in projects],
               [p.get("source_path") for p in projects]]
    kinds += ["num2", "num2", ""]
    series = [[_clean(v) if v.__class__ is str else v for v in values] for values in series]
    return _rows_xml(series, kinds, len(projects), header_row + 1, _style_ids(ws))


# --------------------------------------------------------------------------- HTML
_CSS = """
*{box-sizing:border-box}
body{margin:0 auto;max-width:1500px;padding:16px 24px 40px;color:#1f2328;background:#fff;
 font:14px/1.55 "Microsoft YaHei","微软雅黑","PingFang SC","Hiragino Sans GB","Noto Sans CJK SC",
 "Source Han Sans SC","WenQuanYi Micro Hei","SimSun",sans-serif}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:20px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid #2f5597}
h3{font-size:16px;margin:22px 0 6px}
p.meta,.muted{color:#59636e}
.small{font-size:12px}
nav.toc{margin:10px 0 6px;padding:8px 12px;background:#f3f6fa;border:1px solid #d5dde8}
nav.toc a{margin-right:14px}
a{color:#0b57b3}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #c9d1db;padding:4px 7px;vertical-align:top;text-align:left}
th{background:#e8eef6;font-weight:600}
td.n,th.n{text-align:right;white-space:nowrap}
table.wide{width:100%}
table.rows{width:100%;table-layout:fixed}
table.rows td{overflow-wrap:anywhere}
tr.ok td{color:#59636e}
.totals td{font-size:15px}
.totals td.n{font-weight:600}
.badge{display:inline-block;margin:1px 2px 1px 0;padding:0 5px;border-radius:3px;font-size:12px;
 white-space:nowrap;border:1px solid}
.f-vague{background:#fde8d7;border-color:#e8a36b;color:#7a3b00}
.f-boilerplate{background:#ece6f7;border-color:#a792d6;color:#40287a}
.f-category_mismatch{background:#e0f0f6;border-color:#6fb2cc;color:#0d4f66}
.f-unmeasurable{background:#fbdde0;border-color:#e0808a;color:#86101d}
.risk-hi{background:#f8c9cc;font-weight:600}
.risk-mid{background:#fdebb3}
td ul{margin:0;padding-left:16px}
.sub{display:block;color:#59636e;font-size:12px}
a.sub{color:#0b57b3}
.chg{color:#9a5b00}
figure{margin:10px 0 18px;display:inline-block;vertical-align:top;max-width:100%}
figcaption{font-size:13px;color:#59636e;text-align:center}
svg{max-width:100%;height:auto;font-family:inherit}
section.project{border-top:1px solid #d5dde8;margin-top:14px;content-visibility:auto;
 contain-intrinsic-size:auto 360px}
.goals{font-size:12px;color:#3d444d;margin:2px 0 6px}
.note{padding:6px 10px;background:#fff8e1;border:1px solid #f0d68a}
footer{margin-top:36px;color:#59636e;font-size:12px}
@page{size:A4 landscape;margin:12mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 nav.toc,.back{display:none}
 a{color:inherit;text-decoration:none}
 h2{break-after:avoid}
 tr,figure{break-inside:avoid}
 thead{display:table-header-group}
 section.project{content-visibility:visible}
 .badge,.risk-hi,.risk-mid,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

_FLAG_COLORS = {
    "vague": "#e8893c",
    "boilerplate": "#8a6cc9",
    "category_mismatch": "#3c97b8",
    "unmeasurable": "#d4505e",
}


def _e(value: object) -> str:
    return html.escape(value if isinstance(value, str) else _text(value), quote=True)


def _e_lines(value: str) -> str:
    return "<br>".join(_e(line) for line in value.splitlines())


def _risk_cell(risk: float) -> str:
    if math.isnan(risk):
        return '<td class="n">—</td>'
    cls = " risk-hi" if risk >= RISK_HIGH else (" risk-mid" if risk >= RISK_MID else "")
    return f'<td class="n{cls}">{risk:.2f}</td>'


def _badges(rec: Mapping) -> str:
    out = [f'<span class="badge f-{flag}">{_e(FLAG_LABELS[flag])}</span>' for flag in FLAGS if rec[flag]]
    return "".join(out) or '<span class="muted">—</span>'


def _reasons_html(reasons: list[str]) -> str:
    if not reasons:
        return ""
    return "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>"


def _suggested_html(rec: Mapping) -> str:
    sug, cur = rec["suggested_metric_type"], rec["metric_type"]
    if not sug:
        return ""
    out = _e(_type_label(sug))
    if cur and cur != sug:
        out += f'<span class="sub chg">现为{_e(_type_label(cur))}</span>'
    return out


# (header, width %) of the indicator-row tables; the weakest-first table adds 序号 and 项目
_ROW_COLS = [
    ("风险", 4), ("一级 / 二级指标", 10), ("三级指标", 14), ("指标值", 9), ("规范化值", 7),
    ("问题", 10), ("原因", 27), ("建议类型", 5), ("改写建议", 14),
]  # fmt: skip
_TOP_COLS = [
    ("序号", 3), ("风险", 4), ("预算单位 / 项目", 10), ("一级 / 二级指标", 8), ("三级指标", 12), ("指标值", 8),
    ("规范化值", 6), ("问题", 9), ("原因", 23), ("建议类型", 5), ("改写建议", 12),
]  # fmt: skip


def _row_table_head(columns: list[tuple[str, int]]) -> str:
    cols = "".join(f'<col style="width:{width}%">' for _, width in columns)
    heads = "".join(f'<th{" class=n" if label in ("序号", "风险") else ""}>{label}</th>' for label, _ in columns)
    return f"<colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead>"


def _row_html(rec: Mapping, *, number: int | None = None, project_link: bool = False) -> str:
    cells = []
    if number is not None:
        cells.append(f'<td class="n">{number}</td>')
    cells.append(_risk_cell(rec["risk"]))
    if project_link:
        cells.append(
            f'<td>{_e(rec["_dept"])}<a class="sub" href="#{rec["_anchor"]}">'
            f'{_e(rec["project_name"] or NO_PROJECT)}</a></td>'
        )
    level = " / ".join(x for x in (rec["level1"], rec["level2"]) if x)
    desc = rec["description"] if rec["description"] != rec["name"] else ""
    desc = f'<span class="sub">{_e(desc)}</span>' if desc else ""
    cells.append(f"<td>{_e(level)}</td>")
    cells.append(f"<td>{_e(rec['name'])}{desc}</td>")
    basis = f'<span class="sub">依据：{_e(rec["basis"])}</span>' if rec["basis"] else ""
    cells.append(f"<td>{_e(rec['value'])}{basis}</td>")
    cells.append(f"<td>{_e(_normalized_text(rec)) or '<span class=muted>—</span>'}</td>")
    cells.append(f"<td>{_badges(rec)}</td>")
    cells.append(f"<td>{_reasons_html(rec['reasons'])}</td>")
    cells.append(f"<td>{_suggested_html(rec)}</td>")
    cells.append(f"<td>{_e_lines(rec['suggestion'])}</td>")
    cls = "" if rec["_flagged"] else ' class="ok"'
    return f"<tr{cls}>" + "".join(cells) + "</tr>"


def _axis(value: float, integer: bool = False, max_ticks: int = 5) -> tuple[float, list[float]]:
    """Axis maximum and ticks: steps of 1/2/5 × 10^k, at most ``max_ticks`` intervals, whole
    numbers for counts."""
    if value <= 0:
        return 1.0, [0.0, 1.0]
    raw = value / max_ticks
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 5, 10) if m * exp >= raw)
    if integer:
        step = max(step, 1.0)
    count = math.ceil(value / step - 1e-9)
    return count * step, [round(i * step, 10) for i in range(count + 1)]


def _svg_text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>{_e(text)}</text>'


def _svg_open(svg_id: str, width: int, height: int, title: str) -> str:
    """Opening tag with an accessible name (<title>), a white background and a visible heading."""
    return (
        f'<svg id="{svg_id}" class="chart" role="img" aria-labelledby="{svg_id}-t" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title id="{svg_id}-t">{_e(title)}</title>'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        + _svg_text(width / 2, 20, title, 15, "middle", ' font-weight="600"')
    )


_AXIS = ' fill="#59636e"'


def _svg_hbars(svg_id, title, groups, axis, tick_fmt, legend=None) -> str:
    """Horizontal bars. groups = [(label, [(value, bar_text, tooltip, colour), …])], one row per bar."""
    width, left, right, bar_h, gap = 640, 150, 120, 18, 12
    per_group = max((len(bars) for _, bars in groups), default=1)
    top = 34 + (22 if legend else 0)
    height = top + len(groups) * (per_group * bar_h + gap) + 30
    plot_w, bottom = width - left - right, height - 26
    vmax, ticks = axis
    parts = [_svg_open(svg_id, width, height, title)]
    x = left
    for label, colour in legend or []:
        parts.append(f'<rect x="{x}" y="32" width="12" height="12" fill="{colour}"/>')
        parts.append(_svg_text(x + 16, 43, label))
        x += 24 + 14 * len(label)
    for tick in ticks:
        x = left + plot_w * tick / vmax
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e1e6ec"/>')
        parts.append(_svg_text(x, bottom + 16, tick_fmt(tick), 11, "middle", _AXIS))
    y = top
    for label, bars in groups:
        parts.append(_svg_text(left - 8, y + per_group * bar_h / 2 + 4, label, 13, "end"))
        for value, text, tip, colour in bars:
            w = 0.0 if vmax <= 0 else plot_w * min(value / vmax, 1.0)
            parts.append(
                f'<rect x="{left}" y="{y}" width="{max(w, 1.0):.1f}" height="{bar_h - 3}" fill="{colour}">'
                f"<title>{_e(tip)}</title></rect>"
            )
            parts.append(_svg_text(left + w + 5, y + bar_h - 7, text))
            y += bar_h
        y += gap
    parts.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#59636e"/></svg>')
    return "".join(parts)


def _svg_flag_chart(stats: dict) -> str:
    rows = [(FLAG_LABELS[f], stats["flags"][f]["rate"], stats["flags"][f]["count"], _FLAG_COLORS[f]) for f in FLAGS]
    rows.append(("任一问题", stats["flagged_rate"], stats["flagged_rows"], "#2f5597"))
    axis = _axis(max(r[1] for r in rows))
    groups = [
        (label, [(rate, f"{_pct(rate)}（{count}条）", f"{label}：{count} 条，占 {_pct(rate)}", colour)])
        for label, rate, count, colour in rows
    ]
    return _svg_hbars("chart-flags", "各类问题的指标比例", groups, axis, lambda v: f"{_fmt_num(round(v * 100, 4))}%")


def _svg_type_chart(stats: dict) -> str:
    written, suggested = stats["metric_types"], stats["suggested_metric_types"]
    codes = [c for c in written if written.get(c, 0) or suggested.get(c, 0)] or list(METRIC_TYPES)
    axis = _axis(max([written.get(c, 0) for c in codes] + [suggested.get(c, 0) for c in codes]), integer=True)
    groups = []
    for code in codes:
        label, a, b = _type_label(code), written.get(code, 0), suggested.get(code, 0)
        bars = [(a, str(a), f"{label}：填写 {a} 条", "#5b8fd6"), (b, str(b), f"{label}：建议 {b} 条", "#e59a3c")]
        groups.append((label, bars))
    legend = [("填写类型", "#5b8fd6"), ("建议类型", "#e59a3c")]
    return _svg_hbars("chart-types", "指标值类型：填写与建议", groups, axis, _fmt_num, legend=legend)


_HIST_COLOURS = [
    "#cfe3c8", "#dfe8b8", "#eee9a8", "#f6df96", "#f8cd85", "#f6b676", "#f29c69", "#ec815f", "#e26559", "#d4505e",
]  # fmt: skip


def _svg_risk_chart(stats: dict) -> str:
    bins = stats["risk_histogram"]
    width, height, left, right, top, bottom = 640, 300, 56, 20, 40, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax, ticks = _axis(max(b["count"] for b in bins), integer=True)
    parts = [_svg_open("chart-risk", width, height, "风险分布（指标条数）")]
    base = top + plot_h
    for tick in ticks:
        y = base - plot_h * tick / vmax
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e1e6ec"/>')
        parts.append(_svg_text(left - 6, y + 4, _fmt_num(tick), 11, "end", _AXIS))
    step = plot_w / len(bins)
    for i, b in enumerate(bins):
        h, x = plot_h * b["count"] / vmax, left + i * step
        tip = f'{b["label"]}：{b["count"]} 条（{_pct(b["rate"])}）'
        parts.append(
            f'<rect x="{x + 3:.1f}" y="{base - h:.1f}" width="{step - 6:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{_HIST_COLOURS[i % len(_HIST_COLOURS)]}" stroke="#8c6d5a" stroke-width="0.5">'
            f"<title>{_e(tip)}</title></rect>"
        )
        if b["count"]:
            parts.append(_svg_text(x + step / 2, base - h - 4, str(b["count"]), 11, "middle"))
        parts.append(_svg_text(x, base + 15, f'{b["low"]:.1f}', 11, "middle", _AXIS))
    parts.append(_svg_text(width - right, base + 15, "1.0", 11, "middle", _AXIS))
    parts.append(_svg_text(left + plot_w / 2, height - 8, "风险分", 12, "middle"))
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#59636e"/></svg>')
    return "".join(parts)


def _count_rate(count: int, rate: float) -> str:
    return f'<td class="n">{count}<span class="sub">{_pct(rate)}</span></td>'


def _risk_num(value: float | None) -> str:
    return '<td class="n">—</td>' if value is None else f'<td class="n">{value:.2f}</td>'


def _render_html(frame: pd.DataFrame, stats: dict, meta: dict, top_rows: int) -> str:
    out: list[str] = []
    w = out.append
    model = " ".join(p for p in (meta["model_name"], meta["model_version"]) if p) or "（未注明）"
    w(
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(REPORT_TITLE)}</title><style>{_CSS}</style></head><body>"
    )
    w(
        f"<header><h1>{_e(REPORT_TITLE)}</h1>"
        f'<p class="meta">生成时间：{_e(meta["created_at"] or "（未注明）")}　模型：{_e(model)}　'
        f'输入文件 {len(meta["inputs"])} 个，无法读取 {len(meta["errors"])} 个</p></header>'
    )
    w(
        '<nav class="toc">目录：<a href="#overview">一、总览</a><a href="#charts">二、图表</a>'
        '<a href="#departments">三、各预算单位</a><a href="#projects">四、各项目</a>'
        '<a href="#weakest">五、风险最高的指标</a><a href="#details">六、项目明细</a>'
        '<a href="#run">七、运行信息</a></nav>'
    )

    present = set(frame["_anchor"])
    subset = len(frame) < stats["rows"]
    # 一、总览
    w('<section id="overview"><h2>一、总览</h2>')
    if subset:
        w(
            f'<p class="note">本页列出 {len(frame):,} 条指标（全部 {stats["rows"]:,} 条中风险最高的部分）；'
            "总览、图表和各单位、各项目的统计按全部指标计算。完整结果见 scored.csv / scored.parquet。</p>"
        )
    w('<table class="totals" id="totals"><tbody>')
    for label, value in [
        ("文档数", stats["documents"]),
        ("预算单位数", stats["departments"]),
        ("项目数", stats["projects"]),
        ("指标数（三级指标）", stats["rows"]),
    ]:
        w(f'<tr><th>{label}</th><td class="n">{value:,}</td><td></td></tr>')
    w(
        f'<tr><th>有问题的指标</th><td class="n">{stats["flagged_rows"]:,}</td>'
        f'<td class="n">{_pct(stats["flagged_rate"])}</td></tr></tbody></table>'
    )
    w(
        '<table id="flag-totals"><thead><tr><th>问题标记</th><th>含义</th><th class="n">指标数</th>'
        '<th class="n">比例</th></tr></thead><tbody>'
    )
    for flag in FLAGS:
        item = stats["flags"][flag]
        w(
            f'<tr><td><span class="badge f-{flag}">{_e(item["label"])}</span></td><td>{_e(FLAG_MEANINGS[flag])}</td>'
            f'<td class="n">{item["count"]:,}</td><td class="n">{_pct(item["rate"])}</td></tr>'
        )
    w("</tbody></table>")
    if stats["metric_type_changes"]:
        w(
            f'<p>建议改变指标值类型的指标：{stats["metric_type_changes"]:,} 条'
            "（如把“文字”改为可核对的“数量”“百分比”）。</p>"
        )
    if stats["risk_missing"]:
        w(f'<p class="note">{stats["risk_missing"]:,} 条指标没有风险分。</p>')
    w("</section>")

    # 二、图表
    w('<section id="charts"><h2>二、图表</h2>')
    w(f"<figure>{_svg_flag_chart(stats)}<figcaption>图1　各类问题标记的指标比例</figcaption></figure>")
    w(f"<figure>{_svg_type_chart(stats)}<figcaption>图2　指标值类型分布（填写与建议）</figcaption></figure>")
    w(f"<figure>{_svg_risk_chart(stats)}<figcaption>图3　风险分布（风险分 0–1，每 0.1 一档）</figcaption></figure>")
    w("</section>")

    flag_heads = "".join(f'<th class="n">{_e(FLAG_LABELS[f])}</th>' for f in FLAGS)

    # 三、各预算单位
    w(
        '<section id="departments"><h2>三、各预算单位问题比例</h2>'
        '<table class="wide" id="department-table"><thead><tr><th>预算单位</th><th class="n">项目数</th>'
        f'<th class="n">指标数</th><th class="n">有问题指标</th>{flag_heads}<th class="n">平均风险</th>'
        "</tr></thead><tbody>"
    )
    for d in stats["by_department"]:
        w(
            f'<tr><td>{_e(d["department"])}</td><td class="n">{d["projects"]}</td><td class="n">{d["rows"]}</td>'
            + _count_rate(d["flagged_rows"], d["flagged_rate"])
            + "".join(_count_rate(d[f], d[f"{f}_rate"]) for f in FLAGS)
            + _risk_num(d.get("risk_mean"))
            + "</tr>"
        )
    if not stats["by_department"]:
        w('<tr><td colspan="9" class="muted">（无数据）</td></tr>')
    w("</tbody></table></section>")

    # 四、各项目
    ranked = sorted(
        stats["by_project"],
        key=lambda p: (-p["flagged_rate"], -(p.get("risk_mean") or 0.0)),
    )
    projects = ranked[:HTML_MAX_PROJECTS]  # a year's run has 100,000s: the page would not open
    more = len(ranked) - len(projects)
    w(
        '<section id="projects"><h2>四、各项目问题比例</h2>'
        '<p class="muted small">按有问题指标的比例从高到低排列；点击项目名称查看该项目的指标明细。'
        + (f"共 {len(ranked):,} 个项目，此处列出前 {len(projects):,} 个；全部项目见 scored.xlsx 各单位工作表和 summary.json。"
           if more else "")
        + "</p>"
        '<table class="wide" id="project-table"><thead><tr><th>预算单位</th><th>项目</th><th>项目编码</th>'
        f'<th class="n">指标数</th><th class="n">有问题指标</th>{flag_heads}'
        '<th class="n">最高风险</th></tr></thead><tbody>'
    )
    for p in projects:
        name = _e(p["project_name"])
        if p["anchor"] in present:
            name = f'<a href="#{_e(p["anchor"])}">{name}</a>'
        w(
            f'<tr><td>{_e(p["department"])}</td><td>{name}</td>'
            f'<td>{_e(p.get("project_code", ""))}</td><td class="n">{p["rows"]}</td>'
            + _count_rate(p["flagged_rows"], p["flagged_rate"])
            + "".join(_count_rate(p[f], p[f"{f}_rate"]) for f in FLAGS)
            + _risk_num(p.get("risk_max"))
            + "</tr>"
        )
    if not projects:
        w('<tr><td colspan="10" class="muted">（无数据）</td></tr>')
    w("</tbody></table></section>")

    # 五、风险最高的指标
    cols = [
        "_dept",
        "_anchor",
        "_flagged",
        "project_name",
        "level1",
        "level2",
        "name",
        "description",
        "value",
        "basis",
        *FLAGS,
        "reasons",
        "metric_type",
        "suggested_metric_type",
        "suggestion",
        "risk",
        *_VALUE_COLUMNS,
    ]
    flagged = frame[frame["_flagged"] == 1]
    ranked = flagged.sort_values(["risk", "_order"], ascending=[False, True], na_position="last", kind="stable")
    shown = ranked.head(top_rows)
    w('<section id="weakest"><h2>五、风险最高的指标</h2>')
    total_flagged = max(stats["flagged_rows"], len(flagged))
    if len(flagged) == 0:
        w('<p class="note">未发现带问题标记的指标。</p>')
    else:
        note = f"共 {total_flagged:,} 条指标带有问题标记，按风险分从高到低列出前 {len(shown):,} 条"
        more = total_flagged - len(shown)
        where = "scored.csv / scored.parquet" if subset else "scored.xlsx 或下方项目明细"
        note += f"，另有 {more:,} 条未列出（见 {where}）。" if more else "。"
        w(f'<p class="note">{note}</p>')
        w(f'<table class="rows" id="weakest-table">{_row_table_head(_TOP_COLS)}<tbody>')
        for i, rec in enumerate(shown[cols].to_dict("records"), 1):
            w(_row_html(rec, number=i, project_link=True))
        w("</tbody></table>")
    w("</section>")

    # 六、项目明细
    w('<section id="details"><h2>六、项目明细</h2>')
    records = frame[cols + ["fund_use", "project_goals", "project_code", "year", "project_budget"]].to_dict("records")
    positions = frame.groupby("_anchor", sort=False).indices if len(frame) else {}
    by_anchor = {p["anchor"]: p for p in stats["by_project"]}
    for anchor, idx in positions.items():
        first = records[idx[0]]
        facts = [f"预算单位：{first['_dept']}"]
        if first["project_code"]:
            facts.append(f"项目编码：{first['project_code']}")
        if first["year"]:
            facts.append(f"年度：{first['year']}")
        if not math.isnan(first["project_budget"]):
            facts.append(f"预算数：{_fmt_num(first['project_budget'])} 万元")
        listed, listed_flagged = len(idx), sum(records[i]["_flagged"] for i in idx)
        p = by_anchor.get(anchor) or {"rows": listed, "flagged_rows": listed_flagged}
        facts.append(
            f"指标 {p['rows']} 条，有问题 {p['flagged_rows']} 条（{_pct(_rate(p['flagged_rows'], p['rows']))}）"
        )
        if listed < p["rows"]:
            facts.append(f"本页列出其中 {listed} 条")
        w(
            f'<section class="project" id="{_e(anchor)}"><h3>{_e(first["project_name"] or NO_PROJECT)}</h3>'
            f'<p class="meta small">{_e("　".join(facts))}</p>'
        )
        if first["fund_use"]:
            w(f'<p class="goals"><b>资金用途：</b>{_e_lines(first["fund_use"])}</p>')
        if first["project_goals"]:
            w(f'<p class="goals"><b>绩效目标：</b>{_e_lines(first["project_goals"])}</p>')
        w(f'<table class="rows">{_row_table_head(_ROW_COLS)}<tbody>')
        for i in idx:
            w(_row_html(records[i]))
        w('</tbody></table><p class="back small"><a href="#projects">↑ 返回项目列表</a></p></section>')
    if not positions:
        w('<p class="muted">（无数据）</p>')
    w("</section>")

    # 七、运行信息
    models = sorted({m for m in frame["model"] if m})
    w('<section id="run"><h2>七、运行信息</h2><table id="run-table"><tbody>')
    w(f"<tr><th>模型名称</th><td>{_e(meta['model_name'] or '（未注明）')}</td></tr>")
    w(f"<tr><th>模型版本</th><td>{_e(meta['model_version'] or '（未注明）')}</td></tr>")
    if models:
        w(f"<tr><th>评分行记录的模型</th><td>{'<br>'.join(_e(m) for m in models)}</td></tr>")
    w(f"<tr><th>生成时间</th><td>{_e(meta['created_at'] or '（未注明）')}</td></tr>")
    w("</tbody></table>")
    w(f'<h3>输入文件（{len(meta["inputs"])} 个）</h3>')
    if meta["inputs"]:
        w('<ol class="small" id="inputs">' + "".join(f"<li>{_e(p)}</li>" for p in meta["inputs"]) + "</ol>")
    else:
        w('<p class="muted">（未注明）</p>')
    w(f'<h3>无法读取的文件（{len(meta["errors"])} 个）</h3>')
    if meta["errors"]:
        w('<table id="errors-table"><thead><tr><th>文件</th><th>位置</th><th>原因</th></tr></thead><tbody>')
        for err in meta["errors"]:
            w(f"<tr><td>{_e(err['path'])}</td><td>{_e(err['location'])}</td><td>{_e(err['reason'])}</td></tr>")
        w("</tbody></table>")
    else:
        w('<p class="muted">（无）</p>')
    w("</section>")
    w(
        "<footer>本报告由 budgetnlp 自动生成；问题标记供审核人员参考，最终判断以人工审核为准。"
        "问题标记的定义见“一、总览”。</footer></body></html>\n"
    )
    return "".join(out)


def _temp_name(path: Path) -> Path:
    """A sibling temp file (same folder, so the final rename is atomic; default permissions)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = _temp_name(path)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
