"""The figures every report view shares: the scored table checked and prepared once, the run's
counts and rates (summary.json), the run facts, and the weakest-first orders of departments and
projects. Plain text helpers used by the html and xlsx writers live here too."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import FLAGS, METRIC_TYPES, ROW_COLUMNS, SCORED_COLUMNS
from .labels import FLAG_LABELS, NO_DEPARTMENT, NO_PROJECT, P_COLUMNS

HIST_BINS = 10
#: The columns summarize() reads: what the batch scorer should load from the whole run's parquet
#: (value_issue and extract_warning only where the run has them; project_budget for by_project).
SUMMARY_COLUMNS = ["doc_id", "source_path", "department", "year", "project_code", "project_name", "project_budget",
                   *FLAGS, "metric_type", "suggested_metric_type", "value_issue", "extract_warning", "risk"]
VALUE_COLUMNS = ["value_op", "value_number", "value_low", "value_high", "value_unit", "value_deadline", "value_issue"]
_NUMERIC_COLUMNS = [*P_COLUMNS, "risk", "value_number", "value_low", "value_high", "project_budget"]
_PROJECT_FIELDS = ["_dept", "project_code", "project_name", "project_budget", "year", "doc_id", "source_path"]
KNOWN_COLUMNS = [*ROW_COLUMNS, *SCORED_COLUMNS, "suggestion", "extract_warning"]
_TEXT_COLUMNS = [c for c in KNOWN_COLUMNS if c not in (*FLAGS, *_NUMERIC_COLUMNS, "reasons", "year")]
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML


# --------------------------------------------------------------------------- small public helpers
def project_anchor(doc_id: object, department: object, project_code: object, project_name: object) -> str:
    """The stable HTML id of a project: ``project-`` + 12 hex digits of SHA-1 over its key fields."""
    key = "\x1f".join(text_of(v) for v in (doc_id, department, project_code, project_name))
    return "project-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def join_reasons(reasons: object, sep: str = "\n") -> str:
    """A row's reasons as one string (for CSV or a spreadsheet cell); accepts list, array, JSON text."""
    return sep.join(as_reasons(reasons))


# --------------------------------------------------------------------------- checking and preparing
def prepare(scored: pd.DataFrame) -> pd.DataFrame:
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
    for col in [*P_COLUMNS, "risk"]:
        frame[col] = frame[col].clip(0.0, 1.0)
    if "year" not in frame.columns:
        frame["year"] = ""
    frame["year"] = _per_value(frame["year"], _year_text)
    reasons = frame["reasons"].tolist() if "reasons" in frame.columns else [None] * n
    frame["reasons"] = pd.Series([[clean(r) for r in as_reasons(v)] for v in reasons], dtype=object)
    frame["_dept"] = pd.Series([d or NO_DEPARTMENT for d in frame["department"].tolist()], dtype=object)
    anchors: dict[tuple, str] = {}
    keys = zip(frame["doc_id"], frame["department"], frame["project_code"], frame["project_name"])
    frame["_anchor"] = pd.Series(
        [anchors[k] if k in anchors else anchors.setdefault(k, project_anchor(*k)) for k in keys], dtype=object
    )
    frame["_flagged"] = (frame[FLAGS].sum(axis=1) > 0).astype(int)
    frame["_order"] = np.arange(n)
    return frame


_FIGURE_KEYS = (  # by_document and extract_warnings came later: computed from the rows when absent
    "rows", "documents", "projects", "departments", "flagged_rows", "flagged_rate", "flags",
    "metric_types", "suggested_metric_types", "risk_histogram", "by_department", "by_project",
)  # fmt: skip
_GROUP_KEYS = ("rows", "flagged_rows", "flagged_rate", *FLAGS, *(f"{flag}_rate" for flag in FLAGS))


def figures_of(frame: pd.DataFrame, summary: Mapping | None) -> dict:
    """The figures the reports show: the caller's summarize() output when ``summary`` carries it
    (it may describe more rows than ``frame``), else computed from ``frame``."""
    if not isinstance(summary, Mapping) or "rows" not in summary:
        return summarize_frame(frame)
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
    keys = summarize_frame(frame.iloc[:0]).keys()
    if all(key in summary for key in keys):  # the whole run's figures: nothing to count here
        return {key: summary[key] for key in keys}
    stats = summarize_frame(frame)
    stats.update({key: summary[key] for key in stats if key in summary})
    return stats


def run_facts(summary: Mapping) -> dict:
    """The run facts the reports show, with defaults for anything the caller left out."""
    if summary is None:
        summary = {}
    if not isinstance(summary, Mapping):
        raise InputError("summary", f"expected a dict, got {type(summary).__name__}")
    model = summary.get("model") or {}
    if isinstance(model, Mapping):
        name, version = text_of(model.get("name")), text_of(model.get("version"))
    else:
        name, version = text_of(model), ""
    inputs = summary.get("inputs") or []
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    errors = []
    for item in summary.get("errors") or []:
        if isinstance(item, Mapping):
            errors.append(
                {
                    "path": clean(text_of(item.get("path"))),
                    "reason": clean(text_of(item.get("reason"))),
                    "location": clean(text_of(item.get("location"))),
                }
            )
        elif hasattr(item, "reason"):  # an InputError itself
            path, location = getattr(item, "path", ""), getattr(item, "location", "")
            errors.append(
                {"path": clean(text_of(path)), "reason": clean(text_of(item.reason)), "location": clean(text_of(location))}
            )
        else:
            errors.append({"path": "", "reason": clean(text_of(item)), "location": ""})
    return {
        "model_name": clean(name),
        "model_version": clean(version),
        "inputs": [clean(text_of(p)) for p in inputs],
        "errors": errors,
        "created_at": clean(text_of(summary.get("created_at"))),
    }


def text_of(value: object) -> str:
    """Any cell as display text: None/NaN/NA → '', floats that are whole → no '.0'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(text_of(v) for v in value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, (float, np.floating)):
        return fmt_num(float(value))
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
    return clean(value if value.__class__ is str else text_of(value))


def clean(text: str) -> str:
    return _CONTROL.sub("", text) if text else text


def _year_text(value: object) -> str:
    text = text_of(value)
    return text[:-2] if text.endswith(".0") else text


def as_reasons(value: object) -> list[str]:
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
                return [text_of(v) for v in parsed if text_of(v)]
        return [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [text_of(v) for v in value if text_of(v)]
    text = text_of(value)
    return [text] if text else []


def fmt_num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4f}".rstrip("0").rstrip(".")


def pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def rate(count: int, total: int) -> float:
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
    out["flagged_rate"] = rate(out["flagged_rows"], rows)
    for flag in FLAGS:
        out[flag] = int(row[flag])
        out[f"{flag}_rate"] = rate(out[flag], rows)
    out["risk_mean"] = _float_or_none(row["risk_mean"])
    out["risk_max"] = _float_or_none(row["risk_max"])
    return out


def _type_counts(values: Iterable[str]) -> dict[str, int]:
    counts = {t: 0 for t in METRIC_TYPES}
    for value in values:
        key = value if value in counts else "unknown"  # missing or not a LABELS.md type
        counts[key] = counts.get(key, 0) + 1
    return counts


def summarize_frame(frame: pd.DataFrame) -> dict:
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
            "rate": rate(int(bin_counts[i]), len(known)),
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
        "flagged_rate": rate(flagged, n),
        "flags": {
            flag: {
                "label": FLAG_LABELS[flag],
                "count": int(frame[flag].sum()),
                "rate": rate(int(frame[flag].sum()), n),
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
        "extract_warnings": int((frame["extract_warning"] != "").sum()) if "extract_warning" in given else None,
        "by_document": _by_document(frame, docs, "extract_warning" in given),
        "by_department": by_department,
        "by_project": by_project,
    }


def _by_document(frame: pd.DataFrame, docs: list[str], warnings: bool) -> list[dict]:
    """Rows, flagged rows and (where the run has the column) extraction warnings per document."""
    if not len(frame):
        return []
    work = pd.DataFrame({"_doc": docs, "_flagged": frame["_flagged"].to_numpy(), "source_path": frame["source_path"]})
    if warnings:
        work["_warned"] = (frame["extract_warning"] != "").to_numpy().astype(int)
    grouped = work.groupby("_doc", sort=False)
    stats = grouped.agg(rows=("_flagged", "size"), flagged_rows=("_flagged", "sum"), source_path=("source_path", "first"),
                        **({"extract_warnings": ("_warned", "sum")} if warnings else {}))
    out = []
    for doc, row in zip(stats.index, stats.to_dict("records")):
        record = {"doc_id": doc, "source_path": row["source_path"], "rows": int(row["rows"]),
                  "flagged_rows": int(row["flagged_rows"]), "flagged_rate": rate(int(row["flagged_rows"]), int(row["rows"]))}
        if warnings:
            record["extract_warnings"] = int(row["extract_warnings"])
        out.append(record)
    return out


# --------------------------------------------------------------------------- orders and run facts for display
def weakest_first(groups: list[dict]) -> list[dict]:
    """Departments or projects, weakest first: highest flagged share, then highest mean risk (a
    stable sort, so ties keep the run's order). Both views sort with this and show both keys."""
    return sorted(groups, key=lambda g: (-g["flagged_rate"], -(g.get("risk_mean") or 0.0)))


def worst_department(stats: dict) -> str | None:
    """The department to mark as weakest: first of weakest_first, if any of its rows is flagged."""
    ranked = weakest_first(stats["by_department"])
    return ranked[0]["department"] if ranked and ranked[0]["flagged_rows"] else None


def local_time(stamp: str) -> str:
    """An ISO timestamp shown in the local time zone of the machine writing the report (the
    reviewer's, when they run it): "2024-05-06 07:08（UTC+08:00）"; other text as given."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp
    local = moment.astimezone() if moment.tzinfo else moment
    offset = local.strftime("%z")
    zone = f"（UTC{offset[:3]}:{offset[3:]}）" if offset else ""
    return f"{local:%Y-%m-%d %H:%M}{zone}"


