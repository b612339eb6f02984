"""From paragraphs and tables to indicator rows with their project context.

Shared by every format reader. A performance-indicator table is recognised by its
header row (三级指标 … 指标值); the rows before it, in the same table or in the tables
just before it, give the project context (项目名称, 项目编码, 预算数, 资金用途, 资金支出计划,
绩效目标). Budget tables (收支总表, 三公经费, 政府采购 …) have no such header and yield nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .._text import join_lines, nfkc, squash
from ..schema import normalize_level1, normalize_level2
from ._blocks import Block, Paragraph, Table

#: header cell (squashed, NFKC) → row-table field; split-value layouts use the *_raw fields
_HEADER_FIELDS: dict[str, str] = {}
for _field, _names in {
    "level1": ("一级指标",),
    "level2": ("二级指标",),
    "name": ("三级指标", "三级指标名称", "指标名称", "绩效指标"),
    "description": ("绩效指标描述", "指标描述", "指标解释", "指标说明", "指标内容", "指标定义", "绩效指标解释"),
    "value": ("指标值", "目标值", "绩效目标值", "年度指标值", "指标目标值", "年度目标值", "预期目标值", "全年目标值"),
    "basis": ("指标值确定依据", "确定依据", "指标值设定依据", "指标值依据", "设定依据"),
    "value_op_raw": ("指标性质", "计算符号", "运算符号", "符号", "比较符"),
    "value_unit_raw": ("度量单位", "计量单位", "单位"),
}.items():
    for _name in _names:
        _HEADER_FIELDS[_name] = _field

_NAME_LABELS = {"项目名称"}
_CODE_LABELS = {"项目编码", "项目代码", "项目编号"}
_BUDGET_LABEL = re.compile(r"^(?:项目)?(?:年度)?(?:预算数|预算金额|资金总额|预算总额|总预算)(?:\((?:万元|元)\))?$")
_GOAL_LABELS = {"绩效目标", "年度绩效目标", "项目绩效目标", "年度目标", "总体目标", "年度总体目标", "绩效总目标", "实施目标"}
#: labels whose neighbour is a figure we do not keep (其中：财政资金 161.93万元)
_FIGURE_LABEL = re.compile(r"^(?:其中:?)?(?:财政资金|财政拨款|其他资金|自筹资金|上级资金|本级资金)(?:\((?:万元|元)\))?$")
_OTHER_LABEL = re.compile(
    r"^(?:项目|单位:?(?:万元|元)|金额单位:?(?:万元|元)|预算规模|资金来源|目标\d+|\d{1,2}月(?:底|末)?|第.季度|上半年|下半年)$"
)
_MONTH = re.compile(r"^(?:\d{1,2}月(?:底|末)?|第.季度|上半年|下半年|全年)$")
_GOAL_TAG = re.compile(r"^目标\d+$")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")

_ORG_SUFFIX = (
    r"(?:部|局|委|委员会|办|办公室|办事处|处|室|院|所|站|中心|队|馆|会|厅|政府|街道|镇|乡|社|团|校|学|"
    r"公司|组|署|庭|监狱|医院|学校|幼儿园|协会|联合会)"
)
_UNIT_LINE = re.compile(rf"^\d{{3,}}\s*(\S.{{1,40}}?{_ORG_SUFFIX})(?:本级)?$")
_LABELLED_UNIT = re.compile(r"(?:预算单位|单位名称|部门名称|编制单位|填报单位|主管部门|部门\(单位\)名称)[:：]\s*(\S.{1,40})")
_COMPILED_BY = re.compile(rf"^(\S.{{1,40}}?{_ORG_SUFFIX})编制$")
_TITLE_UNIT = re.compile(rf"^(?:第.部分)?\s*(\S.{{1,40}}?{_ORG_SUFFIX})(?:本级)?\s*\d{{4}}\s*年度?(?:部门|单位)")
_BARE_UNIT = re.compile(rf"^(\S.{{1,40}}?{_ORG_SUFFIX})$")
_YEAR_PATTERNS = (
    re.compile(r"预算年度[:：]?\s*(\d{4})"),
    re.compile(r"(\d{4})\s*年度?\s*(?:部门|单位)?(?:预算|决算)"),
)
_HEADING_TABLE = re.compile(r"^(?:\d+[、.．]\s*)?(.*?)\s*(?:项目)?绩效目标表$")


@dataclass
class _Project:
    """Context collected for the next indicator table."""

    name: str = ""
    code: str = ""
    budget: float | None = None
    fund_use: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    spend_plan: list[str] = field(default_factory=list)
    heading: str = ""
    department: str = ""


@dataclass
class _Header:
    index: int
    columns: dict[str, int]  # field → column index
    data_start: int = 0  # first row after the header (two-row headers take two)


@lru_cache(maxsize=1 << 14)
def _cell_field(cell: str) -> str | None:
    return _HEADER_FIELDS.get(squash(cell))


def _find_header(rows: list[list[str]], start: int = 0) -> _Header | None:
    for index in range(start, len(rows)):
        columns: dict[str, int] = {}
        for col, cell in enumerate(rows[index]):
            name = _cell_field(cell)
            if name and name not in columns:
                columns[name] = col
        if "name" in columns and ("value" in columns or "value_unit_raw" in columns):
            two_rows = _merge_subheader(rows, index, columns)
            return _Header(index, columns, index + (2 if two_rows else 1))
    return None


def _merge_subheader(rows: list[list[str]], index: int, columns: dict[str, int]) -> bool:
    """A two-row header (指标值 over 指标性质 | 指标值 | 度量单位): let the second row refine the first."""
    if index + 1 >= len(rows):
        return False
    sub = {col: _cell_field(cell) for col, cell in enumerate(rows[index + 1])}
    if sum(1 for name in sub.values() if name) < 2:
        return False
    for col, name in sub.items():
        if name:
            columns[name] = col
    return True


@lru_cache(maxsize=1 << 14)
def _is_label(cell: str) -> bool:
    key = squash(cell)
    return bool(
        key in _NAME_LABELS
        or key in _CODE_LABELS
        or key in _GOAL_LABELS
        or _BUDGET_LABEL.match(key)
        or _OTHER_LABEL.match(key)
        or _FIGURE_LABEL.match(key)
        or "资金用途" in key
        or key.startswith("资金支出计划")
        or key in _HEADER_FIELDS
    )


def parse_budget(text: str, label: str = "") -> float | None:
    """预算数 in 万元: '161.93万元' → 161.93, '1,200,000元' → 120.0, '100.00' → 100.0;
    a bare number takes the unit its label names ("预算数（元）")."""
    key = squash(text)
    if not re.search(r"[元亿]", key) and re.search(r"\((?:亿)?元\)", squash(label)):
        key += "亿元" if "亿" in squash(label) else "元"
    match = _NUMBER.search(key)
    if not match:
        return None
    number = float(match.group().replace(",", ""))
    rest = key[match.end():]
    if rest.startswith("亿"):
        number *= 10000
    elif rest.startswith("元"):
        number /= 10000
    return round(number, 6)


def _collect_context(rows: list[list[str]], project: _Project) -> None:
    """Read label/value cells of the rows before an indicator header into ``project``."""
    section = ""
    months: dict[int, str] = {}
    for row in rows:
        first = squash(row[0]) if row else ""
        if first:
            section = ""
        consumed: set[int] = set()
        goal_tag = ""
        for col, cell in enumerate(row):
            key = squash(cell)
            if col in consumed or not key:
                continue
            nxt = col + 1
            has_value = nxt < len(row) and squash(row[nxt]) and not _is_label(row[nxt])
            if _FIGURE_LABEL.match(key):
                if has_value:
                    consumed.add(nxt)
                continue
            if key in _NAME_LABELS or key in _CODE_LABELS or _BUDGET_LABEL.match(key):
                if has_value:
                    consumed.add(nxt)
                    value = join_lines(row[nxt])
                    if key in _NAME_LABELS and not project.name:
                        project.name = value
                    elif key in _CODE_LABELS and not project.code:
                        project.code = value
                    elif _BUDGET_LABEL.match(key) and project.budget is None:
                        project.budget = parse_budget(value, key)
                continue
            if "资金用途" in key:
                section = "fund_use"
            elif key.startswith("资金支出计划"):
                section = "spend"
            elif key in _GOAL_LABELS:
                section = "goals"
            elif section == "spend" and _MONTH.match(key):
                months[col] = join_lines(cell)
            elif _GOAL_TAG.match(key):
                goal_tag = key
            elif _is_label(cell):
                continue
            elif (unit := _UNIT_LINE.match(nfkc(cell).strip())) and not project.department:
                project.department = unit.group(1)
            elif section == "fund_use":
                project.fund_use.append(join_lines(cell))
            elif section == "goals":
                text = "\n".join(line.strip() for line in cell.splitlines() if line.strip())
                project.goals.append(f"{goal_tag}：{text}" if goal_tag else text)
                goal_tag = ""
            elif section == "spend" and col in months:
                project.spend_plan.append(f"{months[col]}:{join_lines(cell)}")


def _row_fields(row: list[str], header: _Header) -> dict[str, str]:
    fields = {}
    for name, col in header.columns.items():
        fields[name] = join_lines(row[col]) if col < len(row) else ""
    if "value_op_raw" in fields or "value_unit_raw" in fields:
        fields["value_number_raw"] = fields.pop("value", "")
        fields["value"] = "".join(
            fields.get(part, "") for part in ("value_op_raw", "value_number_raw", "value_unit_raw")
        )
    for name in ("level1", "level2", "name", "description", "value", "basis"):
        fields.setdefault(name, "")
    return fields


def _indicator_rows(table: Table, header: _Header, table_no: int):
    """Yield (row number, page, fields) for each indicator row, carrying merged level cells down."""
    level1 = level2 = ""
    for index in range(header.data_start, len(table.rows)):
        row = table.rows[index]
        if _find_header([row]) is not None:  # a header repeated after a page break
            continue
        fields = _row_fields(row, header)
        if fields["level1"] and fields["level1"] != level1:
            level1, level2 = fields["level1"], ""
        if fields["level2"]:
            level2 = fields["level2"]
        if not (fields["name"] or fields["value"] or fields["description"]):
            continue
        fields["level1"], fields["level2"] = level1, level2
        page = table.row_pages[index] if index < len(table.row_pages) else table.page
        yield index + 1, page, fields


def _document_year(blocks: list[Block]) -> int | None:
    for text in _texts(blocks):
        for pattern in _YEAR_PATTERNS:
            match = pattern.search(text)
            if match and 1990 <= int(match.group(1)) <= 2100:
                return int(match.group(1))
    return None


def _document_department(blocks: list[Block]) -> str:
    texts = list(_texts(blocks))
    for pattern in (_LABELLED_UNIT, _UNIT_LINE, _COMPILED_BY, _TITLE_UNIT):
        for text in texts:
            match = pattern.search(text) if pattern is _LABELLED_UNIT else pattern.match(text)
            if match and not re.match(r"^(?:万元|元)", match.group(1)):
                return match.group(1).strip()
    for block in blocks[:5]:
        if isinstance(block, Paragraph) and (match := _BARE_UNIT.match(nfkc(block.text).strip())):
            return match.group(1)
    return ""


def _texts(blocks: list[Block]):
    """Paragraph texts and table cells, NFKC, in document order."""
    for block in blocks:
        if isinstance(block, Paragraph):
            yield nfkc(block.text).strip()
        else:
            for row in block.rows:
                for cell in row:
                    if cell.strip():
                        yield _cell_text(cell)


@lru_cache(maxsize=1 << 14)
def _cell_text(cell: str) -> str:
    return nfkc(join_lines(cell)).strip()


def _heading_name(paragraph: str, previous: str) -> str:
    """The project named by a heading "N、XXX绩效目标表" ('' for a document title such as
    "XX局2024年部门预算项目绩效目标表", which names no project)."""
    match = _HEADING_TABLE.match(squash(paragraph))
    if not match:
        return ""
    name = match.group(1) or squash(previous)
    return "" if re.search(r"\d{4}年度?(?:部门|单位)(?:预算|决算)", name) else name


def make_row_id(doc_id: str, project: tuple[str, str], cells: tuple[str, ...], occurrence: int = 0) -> str:
    """Stable id: hash of the document, the project (code and name: codes may be "————") and the cells."""
    key = "\x1f".join((doc_id, *project, *cells, str(occurrence) if occurrence else ""))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def rows_from_blocks(blocks: list[Block], doc_id: str, source_path: str, dedupe: bool = True) -> list[dict]:
    """Every indicator row of one document.

    A project table printed twice (department and unit sections) gives its rows once:
    a row is dropped when the same project (code and name) already had the same cells
    the same number of times; the first location is kept.
    """
    year = _document_year(blocks)
    department = _document_department(blocks)
    project = _Project()
    previous_paragraph = ""
    seen: set[tuple] = set()
    out: list[dict] = []
    table_no = 0
    for block in blocks:
        if isinstance(block, Paragraph):
            name = _heading_name(block.text, previous_paragraph)
            if name:
                project = _Project(heading=name)
            previous_paragraph = block.text
            continue
        table_no += 1
        rows = block.rows
        if any(squash(cell) in _NAME_LABELS for row in rows for cell in row) and (
            project.name or project.code
        ):
            project = _Project(heading=project.heading)
        header = _find_header(rows)
        _collect_context(rows[: header.index] if header else rows, project)
        if header is None:
            continue
        occurrences: dict[tuple, int] = {}
        for row_no, page, fields in _indicator_rows(block, header, table_no):
            code, pname = project.code, project.name or project.heading
            cells = tuple(squash(fields[k]) for k in ("level1", "level2", "name", "description", "value", "basis"))
            nth = occurrences.get(cells, 0)
            occurrences[cells] = nth + 1
            key = (squash(code), squash(pname), cells, nth)
            if dedupe and key in seen:
                continue
            seen.add(key)
            location = f"table {table_no}, row {row_no}" + (f", page {page}" if page else "")
            out.append(
                {
                    "row_id": make_row_id(doc_id, key[:2], cells, nth),
                    "doc_id": doc_id,
                    "source_path": source_path,
                    "department": project.department or department,
                    "year": year,
                    "project_code": code,
                    "project_name": pname,
                    "project_budget": project.budget,
                    "fund_use": "\n".join(project.fund_use),
                    "project_goals": "\n".join(project.goals),
                    "level1_norm": normalize_level1(fields["level1"]),
                    "level2_norm": normalize_level2(fields["level2"]),
                    **fields,
                    "location": location,
                    "spend_plan": ";".join(project.spend_plan),
                }
            )
        project = _Project()
    return out
