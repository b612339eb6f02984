"""Chinese names shown by every report view: column headers, the flags' legend and sheet titles
(the flag, metric-type and value-issue names and the flags' meanings come from schema.py)."""

from __future__ import annotations

import re

from ..schema import FLAG_LABELS, FLAG_MEANINGS, FLAGS, METRIC_TYPE_LABELS, VALUE_ISSUE_LABELS  # noqa: F401 - re-exported

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
    **FLAG_LABELS,
    **{f"p_{flag}": f"{FLAG_LABELS[flag]}概率" for flag in FLAGS},
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
    "spend_plan": "资金支出计划",
    "extract_warning": "提取警告",
}

_CJK = re.compile(r"[\u4e00-\u9fff]")


def column_label(column: object) -> str:
    """The Chinese header of any column: a known name, ``value_x_raw`` as value_x's name + （原文）,
    anything else as 附加列：name (so every header of the workbook reads in Chinese)."""
    name = str(column)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    if name.endswith("_raw") and name[:-4] in COLUMN_LABELS:
        return COLUMN_LABELS[name[:-4]] + "（原文）"
    return name if _CJK.search(name) else f"附加列：{name}"


def type_label(code: str) -> str:
    return "未知" if code == "unknown" else METRIC_TYPE_LABELS.get(code, code)


REPORT_TITLE = "绩效目标质量审查报告"
SCORED_SHEET = "评分结果"
SUMMARY_SHEET = "汇总"
NO_DEPARTMENT = "（未注明单位）"
NO_PROJECT = "（未注明项目）"
FLAG_MARK = "✓"  # a raised flag in the workbook (scored.csv/parquet keep 0/1)

P_COLUMNS = [f"p_{flag}" for flag in FLAGS]
