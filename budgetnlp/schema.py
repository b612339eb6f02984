"""Column names of the row, scored and annotation tables, the Chinese names of flags and metric
types, and the indicator category taxonomy (LABELS.md): every other module imports them from here."""

from __future__ import annotations

import re
from functools import lru_cache

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
    "extract_warning",  # the extractor's self-check: why this row's table may be misread ("" when none)
]

#: Columns every row table must have to be scored.
REQUIRED_COLUMNS: list[str] = ["name", "value"]

FLAGS: list[str] = ["vague", "boilerplate", "category_mismatch", "unmeasurable"]

METRIC_TYPES: list[str] = ["percent", "count", "amount", "time", "boolean", "grade", "text", "empty"]

VALUE_ISSUES: list[str] = ["none", "malformed", "unit_mismatch", "placeholder", "empty"]

# The Chinese names of the flags, metric types and value issues (LABELS.md): the one vocabulary
# the report, the review app, Label Studio, the model's reasons and the transformer's hints use.
FLAG_LABELS: dict[str, str] = {
    "vague": "模糊",
    "boilerplate": "套话/模板",
    "category_mismatch": "类别错配",
    "unmeasurable": "不可衡量",
}

#: What each flag means, in one line: the report's legend and the question Label Studio asks the
#: annotator, so reviewers and annotators read the same definition (LABELS.md, "The four flags").
FLAG_MEANINGS: dict[str, str] = {
    "vague": "指标值只写方向或印象（如“成效明显”“提升服务水平”），没有可核对的水平",
    "boilerplate": "未写出本项目特有的产出、对象、受益群体、地点或数量，可原样套用到无关的项目",
    "category_mismatch": "指标不衡量其一级/二级指标应衡量的内容，或不属于本项目（类别名称写法不同不算错配）",
    "unmeasurable": "年末无法凭证据核对：占位表述、数字无法读取、单位不符、百分比没有可衡量的对象或门槛无意义"
                    "（可核对的是非事件或已选定的等级不算）",
}

#: boolean is 是/否 ("yes/no", LABELS.md's metric types), not 是否 ("whether").
METRIC_TYPE_LABELS: dict[str, str] = {
    "percent": "百分比",
    "count": "数量",
    "amount": "金额",
    "time": "时间",
    "boolean": "是/否",
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

#: What an annotator decides for each row.
LABEL_FIELDS: list[str] = [*FLAGS, "metric_type", "suggested_metric_type"]

#: The cells an annotation line repeats so that it joins onto its extracted row.
ANNOTATION_CELLS: list[str] = ["level1", "level2", "name", "description", "value", "basis"]

#: Columns of an annotation file (gold.csv, the review app's and Label Studio's exports).
ANNOTATION_COLUMNS: list[str] = [
    "doc", "department", "year", "project_code", "project", *ANNOTATION_CELLS,
    *(c for label in LABEL_FIELDS for c in (label, f"{label}_votes")),
    "note_A", "note_B", "note_C", "decided_by", "decided_at",
]

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

#: Level-1 names of other frameworks that tables use (performance-evaluation frameworks score
#: 决策/过程 before the outputs; input-output tables open with 投入): recognized, not MoF
#: categories, and never by themselves a mismatch (LABELS.md: a non-standard name is no defect).
FRAMEWORK_LEVEL1: list[str] = ["决策指标", "过程指标", "投入指标"]

#: Wrapper level-1 names whose real category sits one level down: central investment tables
#: write 实施效果指标 › 产出指标/效益指标/满意度指标 › the indicator.
WRAPPER_LEVEL1 = frozenset({"实施效果指标", "绩效指标", "绩效目标", "实施效果"})

#: Aliases → the canonical name. Keys are *cores*: the name after squash(), without score or
#: (必填)-style notes, a leading 项目, and a trailing 指标/目标/值 (see _core).
#: 效果/效益 and 可持续性影响/环境效益 are LABELS.md's aliases; 完成 is the pre-2020 framework's
#: 项目完成指标 (its outputs: 数量/质量/时效/成本).
LEVEL1_ALIASES: dict[str, str] = {
    "产出": "产出指标",
    "完成": "产出指标",
    "效果": "效益指标",
    "效益": "效益指标",
    "成本": "成本指标",
    "满意度": "满意度指标",
    "满意": "满意度指标",
    "决策": "决策指标",
    "过程": "过程指标",
    "过程管理": "过程指标",
    "投入": "投入指标",
    "投入管理": "投入指标",
}

LEVEL2_ALIASES: dict[str, str] = {
    "可持续性影响": "可持续影响指标",
    "可持续影响": "可持续影响指标",
    "可持续发展": "可持续影响指标",
    "环境效益": "生态效益指标",
    "生态效益": "生态效益指标",
    "社会公众或服务对象满意度": "服务对象满意度指标",
    "服务对象满意度": "服务对象满意度指标",
    "满意度": "服务对象满意度指标",
    "满意": "服务对象满意度指标",
    "社会效益": "社会效益指标",
    "经济效益": "经济效益指标",
    "数量": "数量指标",
    "质量": "质量指标",
    "时效": "时效指标",
    "成本": "成本指标",
    "经济成本": "经济成本指标",
    "社会成本": "社会成本指标",
    "生态环境成本": "生态环境成本指标",
    "环境成本": "生态环境成本指标",
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

#: Level 1s a level 2 is also accepted under: 成本 under 产出 or 成本 (财预〔2021〕101号), and
#: satisfaction under 效益指标 (older tables: 效益指标 › 社会公众或服务对象满意度指标).
ACCEPTED_PARENTS: dict[str, frozenset[str]] = {
    level2: frozenset({parent, *(("成本指标",) if level2 == "成本指标" else ()),
                       *(("效益指标",) if level2 == "服务对象满意度指标" else ())})
    for level2, parent in LEVEL2_PARENT.items()
}

# Notes written after a level name: scores "(50分)", "(40-50)分", "30分", bracketed remarks
# "(必填)", "(选填)", "(必填硬性指标)", and 等/类 endings ("服务对象满意度指标等").
_TAIL_NOTE = re.compile(
    r"(?:\([^()]*\)|[0-9]+(?:\.[0-9]+)?(?:[-~至][0-9]+(?:\.[0-9]+)?)?分?|分|等|类|[:：、,，;；.。*★]+)$"
)
_LEAD_NOTE = re.compile(r"^(?:[(（]?[0-9一二三四五六七八九十]+[)）、.．:：]|[*★]+)+")
_OPEN_NOTE = re.compile(r"\([^()]*$")  # a note whose bracket the cell cut off: "产出指标(必"
_CORE_END = re.compile(r"(?:类?指标|目标|值)$")


def _core(text: object) -> str:
    """The squashed name without notes, leading 项目 and trailing 指标/目标/值: 产出指标(50分) → 产出,
    项目效益指标 → 效益, 数量值 → 数量, 服务对象满意度指标(必填) → 服务对象满意度."""
    key = squash(text).replace("（", "(").replace("）", ")")
    key = _LEAD_NOTE.sub("", key)
    key = _OPEN_NOTE.sub("", key)
    while (stripped := _TAIL_NOTE.sub("", key)) != key:
        key = stripped
    if key.startswith("项目") and len(key) > 2:
        key = key[2:]
    return _CORE_END.sub("", key) or key


def _table(canonical: list[str], aliases: dict[str, str]) -> dict[str, str]:
    return {**{c[: -len("指标")]: c for c in canonical}, **aliases}


def _lookup(core: str, table: dict[str, str]) -> str | None:
    """Exact core (canonical core or alias), else the one canonical whose core or alias key is
    contained in ``core`` — the longest wins; two unrelated matches are ambiguous (None)."""
    if core in table:
        return table[core]
    found = [key for key in table if len(key) >= 2 and key in core]
    if not found:
        return None
    longest = max(found, key=len)
    targets = {table[key] for key in found if key not in longest}
    return table[longest] if not targets - {table[longest]} else None


_LEVEL1_TABLE = _table(LEVEL1 + FRAMEWORK_LEVEL1, LEVEL1_ALIASES)
_LEVEL1_ONLY_TABLE = _table(LEVEL1, LEVEL1_ALIASES)
_LEVEL2_TABLE = _table(LEVEL2, LEVEL2_ALIASES)


def normalize_level2(text: object) -> str:
    """Map a written 二级指标 to its canonical name; unknown names come back squashed.

    A level-1 name written one level down (实施效果指标 › 产出指标) stays that level-1 name, and
    a level 2 whose parent has only one level 2 (满意度指标) becomes that one."""
    return _level2_of(squash(text))


@lru_cache(maxsize=1 << 14)
def _level2_of(key: str) -> str:  # level names repeat on every row: cache by the squashed text
    core = _core(key)
    if not core:
        return ""
    found = _lookup(core, _LEVEL2_TABLE)
    if found:
        return found
    level1 = _lookup(core, _LEVEL1_ONLY_TABLE)
    return level1 if level1 in LEVEL1 else key


def normalize_level1(text: object, level2: object = None) -> str:
    """Map a written 一级指标 to its canonical name (or a FRAMEWORK_LEVEL1 name); unknown names
    come back squashed.

    With ``level2``: a wrapper (实施效果指标) or an empty name after notes ("(50分)") takes the
    category the level 2 names — a level-1 name one level down, or the level 2's parent."""
    return _level1_of(squash(text), None if level2 is None else squash(level2))


@lru_cache(maxsize=1 << 14)
def _level1_of(key: str, level2: str | None) -> str:
    core = _core(key)
    if core and key not in WRAPPER_LEVEL1 and core not in WRAPPER_LEVEL1:
        return _lookup(core, _LEVEL1_TABLE) or key
    if level2 is not None:
        level2_norm = _level2_of(level2)
        if level2_norm in LEVEL2_PARENT:  # 成本指标 is both: read as the level 2 it is here
            return LEVEL2_PARENT[level2_norm]
        if level2_norm in LEVEL1:
            return level2_norm
    return key if core else ""


def normalize_levels(level1: object, level2: object) -> tuple[str, str]:
    """(level1_norm, level2_norm) of one row, the level 1 read with its level 2 as context."""
    return normalize_level1(level1, level2), normalize_level2(level2)
