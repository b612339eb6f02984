"""Reasons as a reviewer reads them on the page: each said once.

The scorer gives each row every reason that fired (up to a dozen): several rules that each say the
text value is not checkable, one line per raised flag from the model, and project-level findings
(资金支出计划…) copied onto every row of the project. The page shows

* per row: exact repeats dropped; value reasons quoting the same value (指标值“X”…) kept once
  (the first, the most specific rule); the model's lines merged into one;
* per project: a reason that two or more of the project's rows carry is shown once for the project
  (``split_shared``), not on each row.

The workbook and scored.csv/parquet keep every reason as the scorer wrote it.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

_QUOTED = re.compile(r"“([^”]+)”")
_MODEL = re.compile(r"^模型判断为(.+?)（概率([0-9.]+)）(?:，主要依据词语：(.+))?$")


@lru_cache(maxsize=65_536)
def _value_key(reason: str) -> str | None:
    """The value a value reason (指标值…) is about: "指标值…“X”…" → X, else None."""
    quoted = _QUOTED.search(reason)
    return quoted.group(1) if quoted else None


@lru_cache(maxsize=65_536)
def _model_parts(reason: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(flag label, probability, evidence words) of a "模型判断为…" line, else None."""
    match = _MODEL.match(reason)
    if not match:
        return None
    words = tuple(_QUOTED.findall(match.group(3) or ""))
    return match.group(1), match.group(2), words


def compact(reasons: list[str]) -> list[str]:
    """A row's reasons said once: exact repeats and same-value value reasons dropped, the model's
    per-flag lines merged into one ("模型判断：模糊 0.94、套话/模板 0.87；依据词语：“提升”…")."""
    if len(reasons) < 2:
        return list(reasons)
    out: list[str] = []
    seen: set[str] = set()
    values: set[str] = set()
    model: list[tuple[str, str, tuple[str, ...]]] = []
    model_at = -1
    for reason in reasons:
        if reason in seen:
            continue
        seen.add(reason)
        if reason.startswith("模型判断为"):
            parts = _model_parts(reason)
            if parts is not None:
                model.append(parts)
                model_at = len(out) if model_at < 0 else model_at
                continue
        elif reason.startswith("指标值"):
            key = _value_key(reason)
            if key is not None:
                if key in values:
                    continue
                values.add(key)
        out.append(reason)
    if model:
        if len(model) == 1 and not model[0][2]:
            line = f"模型判断为{model[0][0]}（概率{model[0][1]}）"
        else:
            line = "模型判断：" + "、".join(f"{label} {p}" for label, p, _ in model)
            words = list(dict.fromkeys(w for _, _, ws in model for w in ws))
            if words:
                line += "；依据词语：" + "、".join(f"“{w}”" for w in words[:6])
        out.insert(model_at, line)
    return out


def split_shared(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """One project's compacted reasons → (the reasons two or more rows carry, in first-seen order;
    each row's remaining own reasons)."""
    if len(rows) < 2:
        return [], rows
    counts: Counter[str] = Counter()
    for reasons in rows:
        counts.update(reasons)
    if len(counts) == sum(map(len, rows)):  # nothing said twice
        return [], rows
    shared = [r for r, n in counts.items() if n > 1]  # Counter keeps first-seen order
    common = set(shared)
    return shared, [[r for r in reasons if r not in common] for reasons in rows]
