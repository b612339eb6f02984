"""Concrete rewrite suggestions in the normalized form, from the row and its project context.

Only where the context allows a concrete proposal (LABELS.md): a budget placeholder becomes
"≤<预算数>万元", an undefined timeliness becomes the budget year's last day, qualitative
effects become a graded target with what each grade means. Never a guessed number: where the
written number is unreadable the suggestion asks the unit to state it.
"""

from __future__ import annotations

import re

from .normalize import NormalizedValue
from .corpus import RowView

GRADED = "分级目标：达成/基本达成/未达成（达成：{what}全面实现并有佐证材料；基本达成：大部分实现；未达成：未实现）"
_DOUBLED = re.compile(r"(\d+)\1")


def suggest_rewrite(view: RowView, flags: dict[str, int], suggested_type: str) -> str:
    """One suggestion for a weak row, '' for a row with no flag or no concrete proposal."""
    if not any(flags.values()):
        return ""
    p: NormalizedValue = view.parsed
    level2 = view.level2
    if "成本" in level2 and p.metric_type != "amount":
        if view.budget:
            return f"≤{view.budget:g}万元（以项目预算数为成本上限）"
        return "写明成本上限金额，如“≤X万元”"
    if p.issue == "malformed":
        match = _DOUBLED.search(view.value)
        hint = f"（原值“{view.value}”数字重复，疑为{match.group(1)}，请核实）" if match else ""
        unit = p.unit or ""
        return f"{p.op or '≥'}{match.group(1) if match else 'X'}{unit}{hint}"
    if "时效" in level2 and p.metric_type != "time" and suggested_type == "time":
        if view.year:
            return f"{view.year}年12月31日前（写明完成期限）"
        return "写明完成期限，如“YYYY年MM月DD日前”"
    if "满意" in view.name and flags.get("boilerplate"):
        return "写明调查对象和口径，如“<受益群体>对<服务内容>的满意度 ≥90%”"
    if suggested_type == "grade" or (p.metric_type in {"text", "boolean"} and flags.get("vague")):
        what = view.name or "该项效益"
        return GRADED.format(what=f"“{what}”")
    if suggested_type == "percent" and p.metric_type != "percent":
        return f"改为比率目标并写明计算口径，如“{view.name}≥90%（分子/分母）”"
    if suggested_type == "count" and p.metric_type != "count":
        return f"改为数量目标，如“{view.name}＝N个/人/次”"
    if suggested_type == "amount" and p.metric_type != "amount":
        return "改为金额目标，如“≤X万元”"
    return ""
