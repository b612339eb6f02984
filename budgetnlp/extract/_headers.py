"""What the cells of an indicator table's header row and of its project's label cells mean.

The vocabulary every reader and the shared row finder look cells up in: the header cells of each
row-table field (三级指标, 指标值, 度量单位 …) with their rank, the labels of a project's context
(项目名称, 项目编码, 预算数, 绩效目标), and the header row of a table (``find_header``). Imports
nothing of ``budgetnlp.extract``: readers (excel, pdf, text), the flat-list splitter
(``_flat_list``) and the row finder (``_indicators``) all stand on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .._text import squash

#: header cells (squashed, NFKC) of each row-table field, best first: where a table has two
#: candidates for one field the better group wins (the year's 年度指标值 over 实施周期/中期指标值,
#: 指标方向 over 指标性质). Split-value layouts use the *_raw fields. Self-evaluation columns
#: (实际完成值, 全年实际值, 分值, 得分, 偏差原因) are no field: they are ignored.
_HEADER_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "level1": (("一级指标",),),
    "level2": (("二级指标",),),
    "name": (("三级指标", "三级指标名称", "指标名称", "绩效指标", "三级指标内容", "指标内容名称"),),
    "description": (
        ("绩效指标描述", "指标描述", "指标解释", "指标说明", "指标内容", "指标定义", "绩效指标解释"),
        ("指标值说明", "指标值描述"),
    ),
    "value": (
        ("年度指标值", "当年度指标值", "本年度指标值", "全年指标值", "年度目标值", "全年目标值", "当年指标值"),
        ("指标值", "目标值", "绩效目标值", "指标目标值", "预期目标值", "预期指标值", "全年(程)指标值", "全程指标值",
         "全年(全程)指标值"),
        ("实施周期指标值", "中期指标值", "中期目标值", "实施期指标值", "整体指标值", "总体指标值"),
        ("绩效标准", "全年绩效目标"),
    ),
    "basis": (("指标值确定依据", "确定依据", "指标值设定依据", "指标值依据", "设定依据"),),
    "value_op_raw": (("指标方向", "计算符号", "运算符号", "符号", "比较符", "关系符"), ("指标性质",)),
    "value_unit_raw": (("度量单位", "计量单位", "单位"),),
}
HEADER_FIELDS: dict[str, str] = {}  #: header cell → field
_HEADER_RANK: dict[str, int] = {}  #: header cell → its group's rank (0 best)
for _field, _groups in _HEADER_GROUPS.items():
    for _rank, _names in enumerate(_groups):
        for _name in _names:
            HEADER_FIELDS[_name] = _field
            _HEADER_RANK[_name] = _rank

NAME_LABELS = {"项目名称"}
CODE_LABELS = {"项目编码", "项目代码", "项目编号"}
BUDGET_LABEL = re.compile(r"^(?:项目)?(?:年度)?(?:预算数|预算金额|资金总额|预算总额|总预算)(?:\((?:万元|元)\))?$")
GOAL_LABELS = {"绩效目标", "年度绩效目标", "项目绩效目标", "年度目标", "总体目标", "年度总体目标", "绩效总目标", "实施目标"}


@dataclass
class Header:
    index: int
    columns: dict[str, int]  # field → column index
    data_start: int = 0  # first row after the header (two-row headers take two)


@lru_cache(maxsize=1 << 14)
def _header_key(cell: str) -> str:
    """A header cell as looked up: squashed, a trailing note such as "(%)"/"（分值）" or a leading
    "*" dropped when the cell is not known as written."""
    key = squash(cell)
    if key in HEADER_FIELDS:
        return key
    bare = re.sub(r"\([^()]*\)$", "", key.lstrip("*★"))
    return bare if bare in HEADER_FIELDS else key


@lru_cache(maxsize=1 << 14)
def cell_field(cell: str) -> str | None:
    """The row-table field a header cell names (None for any other cell)."""
    return HEADER_FIELDS.get(_header_key(cell))


def _header_columns(row: list[str]) -> dict[str, int]:
    """field → column of one row's header cells; per field the best-ranked cell, then the leftmost."""
    columns: dict[str, int] = {}
    ranks: dict[str, int] = {}
    for col, cell in enumerate(row):
        key = _header_key(cell)
        name = HEADER_FIELDS.get(key)
        if name and _HEADER_RANK[key] < ranks.get(name, 99):
            columns[name] = col
            ranks[name] = _HEADER_RANK[key]
    return columns


def find_header(rows: list[list[str]], start: int = 0) -> Header | None:
    """The first indicator-table header at or after row ``start`` (a 三级指标 cell and a value or
    unit cell), or None."""
    for index in range(start, len(rows)):
        columns = _header_columns(rows[index])
        if "name" in columns and ("value" in columns or "value_unit_raw" in columns):
            two_rows = _merge_subheader(rows, index, columns)
            return Header(index, columns, index + (2 if two_rows else 1))
    return None


def _merge_subheader(rows: list[list[str]], index: int, columns: dict[str, int]) -> bool:
    """A two-row header (指标值 over 指标性质 | 指标值 | 度量单位): let the second row refine the first."""
    if index + 1 >= len(rows):
        return False
    sub = {col: cell_field(cell) for col, cell in enumerate(rows[index + 1])}
    if sum(1 for name in sub.values() if name) < 2:
        return False
    for col, name in sub.items():
        if name:
            columns[name] = col
    return True
