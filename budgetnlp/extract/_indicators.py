"""From paragraphs and tables to indicator rows with their project context.

Shared by every format reader. A performance-indicator table is recognised by its
header row (三级指标 … 指标值); the rows before it, in the same table or in the tables
just before it, give the project context (项目名称, 项目编码, 预算数, 资金用途, 资金支出计划,
绩效目标). Budget tables (收支总表, 三公经费, 政府采购 …) have no such header and yield nothing.

Also done here, once for every format: lines above a table that name its project or unit
(headings, "项目名称：…", captions, title rows, sheet names, "预算单位：…"); tables continued after
a page break or blank lines; flat lists (a 项目名称 column) split per project; and a check of each
table's column mapping against its cells (``checked_header``), whose finding every row carries
in ``extract_warning``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .._text import join_lines, nfkc, squash
from ..schema import LEVEL1, LEVEL1_ALIASES, LEVEL2, LEVEL2_ALIASES, normalize_level1, normalize_level2
from ._blocks import Block, Paragraph, Table
from ._flat_list import flat_list_blocks
from ._headers import BUDGET_LABEL, CODE_LABELS, GOAL_LABELS, HEADER_FIELDS, NAME_LABELS, Header, find_header

#: 指标性质 cells that say a direction or kind, not a comparison (正向 = higher is better)
_NATURE_WORDS = {"正向", "反向", "定性", "定量", "中性", "正向指标", "反向指标", "定性指标", "定量指标"}

#: label cells naming the unit a project belongs to; the implementing/budget unit before the supervisor
_DEPARTMENT_LABELS = {
    "预算单位": 0, "单位名称": 0, "实施单位": 0, "预算单位名称": 0, "实施单位名称": 0, "项目单位": 0,
    "部门名称": 1, "部门(单位)名称": 1, "主管部门": 2, "主管部门名称": 2, "主管单位": 2,
}
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
_LABELLED_UNIT = re.compile(
    r"(?:预算单位|单位名称|部门名称|编制单位|填报单位|主管部门|实施单位|部门\(单位\)名称)(?:名称)?[:：]\s*(\S.{1,40})"
)
#: a line naming the project of the next table: "项目名称：X", a numbered heading "1、X" / "（三）X"
_PROJECT_LINE = re.compile(r"^项目名称[:：]\s*(\S.{0,80}?)\s*(?:项目(?:编码|代码)[:：]\s*(\S+))?$")
_NUMBERED = re.compile(r"^(?:[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[、.．]|[一二三四五六七八九十]{1,3}、)\s*(\S.{1,80})$")
#: a caption-like line is short, no sentence, no label, no document title
_NOT_A_NAME = re.compile(
    r"[。；;：:]|^(?:sheet\d*|工作表\d*|表\d+|附件\d*|附表\d*)$|(?:单位|金额单位)[:：]?(?:万元|元)|\d{4}年度?.{0,12}(?:预算|决算|绩效目标表|绩效自评表)",
    re.IGNORECASE,
)
_SECTION_WORDS = re.compile(r"(?:绩效目标|绩效指标|情况|说明|概况|总体目标|分项目标|目标表|自评表)$")
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
    department_rank: int = 9  # the label it came from (see _DEPARTMENT_LABELS); lower wins


@lru_cache(maxsize=1 << 14)
def _is_label(cell: str) -> bool:
    key = squash(cell)
    return bool(
        key in NAME_LABELS
        or key in CODE_LABELS
        or key in GOAL_LABELS
        or BUDGET_LABEL.match(key)
        or _OTHER_LABEL.match(key)
        or _FIGURE_LABEL.match(key)
        or "资金用途" in key
        or key.startswith("资金支出计划")
        or key in HEADER_FIELDS
        or key in _DEPARTMENT_LABELS
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
            nxt = col + 1  # the label's value: the next filled cell (a label may span empty cells)
            while nxt < len(row) and not squash(row[nxt]):
                nxt += 1
            has_value = nxt < len(row) and not _is_label(row[nxt])
            if _FIGURE_LABEL.match(key):
                if has_value:
                    consumed.add(nxt)
                continue
            if key in _DEPARTMENT_LABELS:
                if has_value:
                    consumed.add(nxt)
                    rank = _DEPARTMENT_LABELS[key]
                    if rank < project.department_rank:
                        project.department, project.department_rank = join_lines(row[nxt]), rank
                continue
            if key in NAME_LABELS or key in CODE_LABELS or BUDGET_LABEL.match(key):
                if has_value:
                    consumed.add(nxt)
                    value = join_lines(row[nxt])
                    if key in NAME_LABELS and not project.name:
                        project.name = value
                    elif key in CODE_LABELS and not project.code:
                        project.code = value
                    elif BUDGET_LABEL.match(key) and project.budget is None:
                        project.budget = parse_budget(value, key)
                continue
            if "资金用途" in key:
                section = "fund_use"
            elif key.startswith("资金支出计划"):
                section = "spend"
            elif key in GOAL_LABELS:
                section = "goals"
            elif section == "spend" and _MONTH.match(key):
                months[col] = join_lines(cell)
            elif _GOAL_TAG.match(key):
                goal_tag = key
            elif _is_label(cell):
                continue
            elif (unit := _UNIT_LINE.match(nfkc(cell).strip())) and not project.department:
                project.department, project.department_rank = unit.group(1), 3
            elif section == "fund_use":
                project.fund_use.append(join_lines(cell))
            elif section == "goals":
                text = "\n".join(line.strip() for line in cell.splitlines() if line.strip())
                project.goals.append(f"{goal_tag}：{text}" if goal_tag else text)
                goal_tag = ""
            elif section == "spend" and col in months:
                project.spend_plan.append(f"{months[col]}:{join_lines(cell)}")


def _row_fields(row: list[str], header: Header) -> dict[str, str]:
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


def _indicator_rows(table: Table, header: Header, table_no: int):
    """Yield (row number, page, fields) for each indicator row, carrying merged level cells down."""
    level1 = level2 = ""
    for index in range(header.data_start, len(table.rows)):
        row = table.rows[index]
        if find_header([row]) is not None:  # a header repeated after a page break
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


# ---------------------------------------------------------------- self-checks

_VALUE_TYPES = {"percent", "count", "amount", "time", "boolean", "grade"}
_SCORE_NOTE = re.compile(r"(?:\(\d+(?:\.\d+)?(?:[-~—至]\d+(?:\.\d+)?)?分?\)分?|\d+(?:\.\d+)?分)$")
#: how category names end (产出指标, 成本目标, 产出数量, 可持续影响, 项目决策, 投入 …)
_CATEGORY_END = re.compile(
    r"(?:指标|目标|产出|效益|效果|成本|满意度|影响|数量|质量|时效|投入|过程|决策|管理|履职|绩效|进度|"
    r"可持续|社会|经济|生态|环境|服务对象)$"
)


@lru_cache(maxsize=1 << 14)
def _is_category(cell: str) -> bool:
    """A level-1/level-2 cell: a short category name, possibly with a score note ("产出指标(50分)")."""
    key = _SCORE_NOTE.sub("", squash(cell).lstrip("★*"))
    return not key or (len(key) <= 12 and bool(_CATEGORY_END.search(key)))


@lru_cache(maxsize=1 << 14)
def _is_taxonomy_name(cell: str) -> bool:
    """A cell that is one of the category names themselves (数量指标, 社会效益, 满意度指标 …)."""
    key = _SCORE_NOTE.sub("", squash(cell))
    return key in _TAXONOMY or f"{key}指标" in _TAXONOMY


_TAXONOMY = {*LEVEL1, *LEVEL2, *LEVEL1_ALIASES, *LEVEL2_ALIASES}
_LEVEL2_ONLY = {*LEVEL2, *LEVEL2_ALIASES} - {*LEVEL1, *LEVEL1_ALIASES}


@lru_cache(maxsize=1 << 14)
def _is_level2_name(cell: str) -> bool:
    """A level-2 category name that is no level-1 one (数量指标, 社会效益指标 …)."""
    key = _SCORE_NOTE.sub("", squash(cell))
    return key in _LEVEL2_ONLY or f"{key}指标" in _LEVEL2_ONLY


@lru_cache(maxsize=1 << 14)
def _looks_like_value(cell: str) -> bool:
    """A short cell that the value parser reads as a percent, count, amount, time, yes/no or grade."""
    from ..normalize import parse_value

    key = squash(cell)
    if not key or len(key) > 16 or "指标" in key:
        return False
    return parse_value(key).metric_type in _VALUE_TYPES


#: a cell that can only be a value: it starts with a comparison, or is a bare number with a short unit
_STRONG_VALUE = re.compile(
    r"^(?:[≥≤<>=≧≦＜＞]|(?:大于|小于|不低于|不高于|不少于|不超过|不多于)等?于?\d|\d+(?:\.\d+)?(?:%|[^\d\s]{0,3})$)"
)


def _fit(rows: list[list[str]], columns: dict[str, int], start: int) -> tuple[list[str], float]:
    """How a column mapping fits the cells below the header: (problems, score). Problems are the
    reasons it does not fit ([] when it does); the score (higher is better) ranks mappings that fit."""
    header = Header(0, columns)
    records = [_row_fields(row, header) for row in rows[start : start + 300] if find_header([row]) is None]
    records = [r for r in records if any(r.values())]
    if not records:
        return [], 0.0
    problems: list[str] = []
    score = 0.0
    for name, label in (("level1", "一级指标"), ("level2", "二级指标")):
        cells = [r[name] for r in records if r[name]]
        share = sum(map(_is_category, cells)) / len(cells) if cells else 0.0
        score += share
        if len(cells) >= 2 and share < 0.5:
            problems.append(f"{label}列多不是指标类别")
        elif name == "level1" and cells and sum(map(_is_level2_name, cells)) > 0.5 * len(cells):
            problems.append("一级指标列多是二级指标名")
    names = [r["name"] for r in records if r["name"]]
    if len(records) - len(names) > 0.5 * len(records):
        problems.append("三级指标列多为空")
    elif sum(map(_looks_like_value, names)) > 0.5 * len(names) or sum(
        1 for n in names if _STRONG_VALUE.match(squash(n))
    ) >= 0.3 * len(names):
        problems.append("三级指标列多像指标值")
    elif sum(map(_is_taxonomy_name, names)) > 0.5 * len(names):
        problems.append("三级指标列多是指标类别名")
    score += sum(1 for n in names if not _looks_like_value(n) and not _is_taxonomy_name(n)) / len(records)
    values = [r["value"] for r in records if r["value"]]
    if len(records) - len(values) > 0.5 * len(records):
        problems.append("指标值列多为空")
    if values and sum(1 for v in values if _is_taxonomy_name(v)) > 0.5 * len(values):
        problems.append("指标值列多像指标类别")
    score += len(values) / len(records) + (sum(map(_looks_like_value, values)) / len(values) if values else 0.0)
    return problems, score


def _without_nature_column(rows: list[list[str]], header: Header) -> Header:
    """A 指标性质 column holding 正向/反向 (a direction, not a comparison) is not the value's operator."""
    col = header.columns.get("value_op_raw")
    if col is None:
        return header
    cells = [squash(row[col]) for row in rows[header.data_start :] if col < len(row) and squash(row[col])]
    if cells and sum(cell in _NATURE_WORDS for cell in cells) >= 0.5 * len(cells):
        columns = {k: v for k, v in header.columns.items() if k != "value_op_raw"}
        return Header(header.index, columns, header.data_start)
    return header


def checked_header(rows: list[list[str]], header: Header) -> tuple[Header, str]:
    """The header's column mapping checked against the cells: (mapping to use, warning or "").

    A mapping that fails is replaced by the whole mapping shifted by 1–3 columns that fits best,
    when one fits (a header printed out of line with its rows); otherwise it is kept and flagged.
    """
    checked = _without_nature_column(rows, header)
    problems, _ = _fit(rows, checked.columns, header.data_start)
    if not problems:
        return checked, ""
    width = max(len(row) for row in rows)
    best: tuple[float, int, Header] | None = None
    for shift in (-1, 1, -2, 2, -3, 3):
        columns = {name: col + shift for name, col in header.columns.items()}
        if min(columns.values()) < 0 or columns["name"] >= width:  # a trailing column may fall off
            continue
        candidate = _without_nature_column(rows, Header(header.index, columns, header.data_start))
        fails, score = _fit(rows, candidate.columns, header.data_start)
        if not fails and (best is None or score > best[0]):
            best = (score, shift, candidate)
    if best is not None:
        shift = best[1]
        side = "左" if shift < 0 else "右"
        return best[2], f"表头与数据列错开{abs(shift)}列，已按表头{side}移{abs(shift)}列读取（按原表头：{'；'.join(problems)}）"
    return checked, "列检查未通过：" + "；".join(problems) + "，请核对本表各列"


# ---------------------------------------------------------------- context outside tables


def _name_like(text: str) -> bool:
    """A line that can name the project of the table below it (a caption, a sheet name, a title row)."""
    key = squash(text)
    return (
        1 < len(key) <= 60
        and not _NOT_A_NAME.search(key)
        and not _SECTION_WORDS.search(key)
        and not key.endswith("表")
        and not re.search(r"[，,]", key)
        and not re.fullmatch(r"[\d.,%\-—]+", key)
    )


def _continues(previous: Table, table: Table) -> bool:
    """A table split from an indicator table (a page break, blank lines in a text dump): no header,
    no label cells, no wider than it, and at least two filled cells in its first row (not the
    name column necessarily: the header may be out of line, see ``checked_header``)."""
    if find_header(table.rows) is not None or not table.rows:
        return False
    if max(len(row) for row in table.rows) > max(len(row) for row in previous.rows):
        return False
    if any(_is_context_label(cell) for row in table.rows for cell in row if cell.strip()):
        return False
    return sum(1 for cell in table.rows[0] if cell.strip()) >= 2


@lru_cache(maxsize=1 << 14)
def _is_context_label(cell: str) -> bool:
    """A label that opens a project's context (not a month or unit label: "12月" is a fine value)."""
    key = squash(cell)
    return bool(
        key in NAME_LABELS or key in CODE_LABELS or key in GOAL_LABELS or key in _DEPARTMENT_LABELS
        or BUDGET_LABEL.match(key) or "资金用途" in key or key.startswith("资金支出计划")
    )


def _row_pages(table: Table) -> list[int | None]:
    return list(table.row_pages) if table.row_pages else [table.page] * len(table.rows)


def _flat_lists_split(blocks: list[Block]) -> list[Block]:
    """A flat list (项目名称 column next to 三级指标, one row per indicator) as one table per project,
    whatever the format (see ``_flat_list``)."""
    out: list[Block] = []
    for block in blocks:
        split = flat_list_blocks(block.rows) if isinstance(block, Table) else None
        out.extend(split if split is not None else [block])
    return out


def _join_continued(blocks: list[Block]) -> list[Block]:
    """Blocks with continued tables appended to the indicator table they continue."""
    out: list[Block] = []
    current: tuple[Table, Header] | None = None
    for block in _flat_lists_split(blocks):
        if isinstance(block, Table):
            if current is not None and _continues(current[0], block):
                table = current[0]
                table.row_pages = _row_pages(table) + _row_pages(block)
                table.rows = table.rows + block.rows
                continue
            header = find_header(block.rows)
            if header is not None:
                block = Table(rows=list(block.rows), page=block.page, row_pages=list(block.row_pages))
                current = (block, header)
            else:
                current = None
        else:
            current = None
        out.append(block)
    return out


def rows_from_blocks(blocks: list[Block], doc_id: str, source_path: str, dedupe: bool = True) -> list[dict]:
    """Every indicator row of one document.

    A project table printed twice (department and unit sections) gives its rows once:
    a row is dropped when the same project (code and name) already had the same cells
    the same number of times; the first location is kept.

    The project's name comes from label cells (项目名称) in or before the table, else from a
    heading or line before it ("1、X绩效目标表", "（三）X", "项目名称：X"), else from the last
    caption-like line before it (an HTML caption, an xlsx title row or sheet name). Its department
    from label cells (实施单位/预算单位 before 主管部门), else the last "预算单位：X" line before the
    table, else the document's. Each table's column mapping is checked (``checked_header``):
    its rows carry the warning in ``extract_warning``.
    """
    year = _document_year(blocks)
    department = _document_department(blocks)
    project = _Project()
    previous_paragraph = ""
    line_department = caption = ""
    seen: set[tuple] = set()
    out: list[dict] = []
    table_no = 0
    for block in _join_continued(blocks):
        if isinstance(block, Paragraph):
            text = nfkc(block.text).strip()
            name = _heading_name(block.text, previous_paragraph)
            previous_paragraph = block.text
            if name:
                project = _Project(heading=name)
            elif unit := _LABELLED_UNIT.match(text):
                line_department = re.split(r"\s{2,}", unit.group(1).strip())[0]
            elif line := _PROJECT_LINE.match(text):
                project.heading = line.group(1)
                project.code = project.code or (line.group(2) or "")
            elif (numbered := _NUMBERED.match(text)) and _name_like(numbered.group(1)):
                project.heading = numbered.group(1).strip()
            elif _name_like(text):
                caption = text
            continue
        table_no += 1
        rows = block.rows
        if any(squash(cell) in NAME_LABELS for row in rows for cell in row) and (
            project.name or project.code
        ):
            project = _Project(heading=project.heading)
        header = find_header(rows)
        _collect_context(rows[: header.index] if header else rows, project)
        if header is None:
            continue
        header, warning = checked_header(rows, header)
        occurrences: dict[tuple, int] = {}
        for row_no, page, fields in _indicator_rows(block, header, table_no):
            code, pname = project.code, project.name or project.heading or caption
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
                    "department": project.department or line_department or department,
                    "year": year,
                    "project_code": code,
                    "project_name": pname,
                    "project_budget": project.budget,
                    "fund_use": "\n".join(project.fund_use),
                    "project_goals": "\n".join(project.goals),
                    "level1_norm": normalize_level1(fields["level1"], fields["level2"]),
                    "level2_norm": normalize_level2(fields["level2"]),
                    **fields,
                    "location": location,
                    "extract_warning": warning,
                    "spend_plan": ";".join(project.spend_plan),
                }
            )
        project = _Project()
        caption = ""
    return out
