"""Column names of the row and scored tables, and the indicator category taxonomy (LABELS.md)."""

from __future__ import annotations

from ._text import squash

#: The row table written by ``budgetnlp extract`` (DESIGN.md, "The row table").
ROW_COLUMNS: list[str] = [
    "row_id",
    "doc_id",
    "source_path",
    "department",
    "year",
    "project_code",
    "project_name",
    "project_budget",
    "fund_use",
    "project_goals",
    "level1",
    "level2",
    "level1_norm",
    "level2_norm",
    "name",
    "description",
    "value",
    "basis",
    "location",
]

#: Columns every row table must have to be scored.
REQUIRED_COLUMNS: list[str] = ["name", "value"]

FLAGS: list[str] = ["vague", "boilerplate", "category_mismatch", "unmeasurable"]

METRIC_TYPES: list[str] = ["percent", "count", "amount", "time", "boolean", "grade", "text", "empty"]

VALUE_ISSUES: list[str] = ["none", "malformed", "unit_mismatch", "placeholder", "empty"]

#: What the scorer adds to each row (DESIGN.md, "The scored table").
SCORED_COLUMNS: list[str] = [
    *FLAGS,
    *(f"p_{flag}" for flag in FLAGS),
    "metric_type",
    "suggested_metric_type",
    "value_op",
    "value_number",
    "value_low",
    "value_high",
    "value_unit",
    "value_deadline",
    "value_issue",
    "risk",
    "reasons",
    "model",
]

LEVEL1: list[str] = ["产出指标", "成本指标", "效益指标", "满意度指标"]

LEVEL2: list[str] = [
    "数量指标",
    "质量指标",
    "时效指标",
    "成本指标",
    "经济成本指标",
    "社会成本指标",
    "生态环境成本指标",
    "经济效益指标",
    "社会效益指标",
    "生态效益指标",
    "可持续影响指标",
    "服务对象满意度指标",
]

#: Aliases seen in disclosures → the canonical name (keys compared after squash()).
LEVEL1_ALIASES: dict[str, str] = {
    "产出": "产出指标",
    "效果指标": "效益指标",
    "效果": "效益指标",
    "效益": "效益指标",
    "成本": "成本指标",
    "满意度": "满意度指标",
    "满意指标": "满意度指标",
}

LEVEL2_ALIASES: dict[str, str] = {
    "可持续性影响": "可持续影响指标",
    "可持续性影响指标": "可持续影响指标",
    "可持续影响": "可持续影响指标",
    "环境效益指标": "生态效益指标",
    "环境效益": "生态效益指标",
    "生态效益": "生态效益指标",
    "社会公众或服务对象满意度指标": "服务对象满意度指标",
    "服务对象满意度": "服务对象满意度指标",
    "满意度指标": "服务对象满意度指标",
    "社会效益": "社会效益指标",
    "经济效益": "经济效益指标",
    "数量": "数量指标",
    "质量": "质量指标",
    "时效": "时效指标",
    "成本": "成本指标",
    "经济成本": "经济成本指标",
    "社会成本": "社会成本指标",
    "生态环境成本": "生态环境成本指标",
}

#: Which level 1 each canonical level 2 belongs to (成本 may sit under 产出 or 成本).
LEVEL2_PARENT: dict[str, str] = {
    "数量指标": "产出指标",
    "质量指标": "产出指标",
    "时效指标": "产出指标",
    "成本指标": "产出指标",
    "经济成本指标": "成本指标",
    "社会成本指标": "成本指标",
    "生态环境成本指标": "成本指标",
    "经济效益指标": "效益指标",
    "社会效益指标": "效益指标",
    "生态效益指标": "效益指标",
    "可持续影响指标": "效益指标",
    "服务对象满意度指标": "满意度指标",
}


def _normalize(text: object, canonical: list[str], aliases: dict[str, str]) -> str:
    key = squash(text)
    if not key:
        return ""
    if key in canonical:
        return key
    if key in aliases:
        return aliases[key]
    if not key.endswith("指标") and key + "指标" in canonical:
        return key + "指标"
    return key


def normalize_level1(text: object) -> str:
    """Map a written 一级指标 to its canonical name; unknown names come back squashed."""
    return _normalize(text, LEVEL1, LEVEL1_ALIASES)


def normalize_level2(text: object) -> str:
    """Map a written 二级指标 to its canonical name; unknown names come back squashed."""
    return _normalize(text, LEVEL2, LEVEL2_ALIASES)
