"""Excel readers: workbooks rebuilt from the samples' rows, in the layouts real disclosures use."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract._flat_list import flat_list_blocks
from budgetnlp.extract.excel import format_date, format_number, sheet_blocks
from tests.helpers import comparable, sample_documents

#: 002 has 27 projects: a handful is enough here
PROJECTS = {"004": None, "001": None, "002": 5}

_SPLIT = re.compile(r"^(≥|≤|>|<|=|＞|＜|≧|≦|＝)?((?:0|[1-9]\d*)(?:\.\d+)?)(.*)$", re.S)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    return sample_documents(PROJECTS)


def split_value(value: str) -> tuple[str, float | int | str, str, str | None]:
    """'≥95%' → ('≥', 95, '%', '0'); text without a number → ('', text, '', None)."""
    match = _SPLIT.match(value)
    if not match:
        return "", value, "", None
    op, number, unit = match.group(1) or "", match.group(2), match.group(3)
    if "." in number:
        decimals = len(number.split(".")[1])
        return op, float(number), unit, "0." + "0" * decimals
    return op, int(number), unit, "0"


# --------------------------------------------------------------------------- a format-free sheet model


class Grid:
    """Cells and merged ranges of one sheet, written later with openpyxl or xlwt."""

    def __init__(self, title: str = "Sheet1") -> None:
        self.title = title
        self.cells: dict[tuple[int, int], tuple[object, str | None]] = {}
        self.merges: list[tuple[int, int, int, int]] = []
        self.row = 0

    def put(self, row: int, col: int, value: object, fmt: str | None = None) -> None:
        if value not in ("", None):
            self.cells[(row, col)] = (value, fmt)

    def merge(self, top: int, left: int, bottom: int, right: int) -> None:
        if (top, left) != (bottom, right):
            self.merges.append((top, left, bottom, right))

    def line(self, *values: object, merge_to: int | None = None) -> int:
        """Write a row of values from column 0; merge its first cell to ``merge_to``; return its index."""
        row = self.row
        for col, value in enumerate(values):
            self.put(row, col, value)
        if merge_to is not None:
            self.merge(row, 0, row, merge_to)
        self.row += 1
        return row


LAYOUTS = {
    # header cells of the indicator table; "split" keeps the value in 指标性质 | 指标值 | 度量单位
    "one": ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"],
    "split": ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标性质", "指标值", "度量单位", "指标值确定依据"],
    "two_row": ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "", "", "指标值确定依据"],
}


def write_value(grid: Grid, row: int, col: int, value: str, layout: str) -> int:
    """Write an indicator value from ``col``; return the next column."""
    if layout == "one":
        grid.put(row, col, value)
        return col + 1
    op, number, unit, fmt = split_value(value)
    grid.put(row, col, op)
    grid.put(row, col + 1, number, fmt)
    grid.put(row, col + 2, unit)
    return col + 3


def write_indicators(grid: Grid, project: dict, layout: str, first_col: int = 0) -> None:
    """Header and indicator rows from ``grid.row``, level1/level2 merged down."""
    header = LAYOUTS[layout]
    top = grid.row
    for col, text in enumerate(header):
        grid.put(top, first_col + col, text)
    grid.row += 1
    if layout == "two_row":
        for col in (0, 1, 2, 3, 7):
            grid.merge(top, first_col + col, top + 1, first_col + col)
        grid.merge(top, first_col + 4, top, first_col + 6)
        for col, text in zip((4, 5, 6), ("指标性质", "指标值", "计量单位")):
            grid.put(top + 1, first_col + col, text)
        grid.row += 1
    start = grid.row
    rows = project["rows"]
    for i, row in enumerate(rows):
        r = start + i
        for col, key in enumerate(("level1", "level2", "name", "description")):
            grid.put(r, first_col + col, row[key])
        col = write_value(grid, r, first_col + 4, row["value"], "one" if layout == "one" else "split")
        grid.put(r, first_col + col, row["basis"])
    for level, key in ((0, lambda x: x["level1"]), (1, lambda x: (x["level1"], x["level2"]))):
        i = 0
        while i < len(rows):
            j = i
            while j + 1 < len(rows) and key(rows[j + 1]) == key(rows[i]) and rows[i][("level1", "level2")[level]]:
                j += 1
            for r in range(start + i + 1, start + j + 1):  # a merged range keeps only its top-left value
                grid.cells.pop((r, first_col + level), None)
            grid.merge(start + i, first_col + level, start + j, first_col + level)
            i = j + 1
    grid.row = start + len(rows)


def write_project(grid: Grid, number: int, project: dict, layout: str, heading: bool = True) -> None:
    width = len(LAYOUTS[layout])
    last = width - 1
    if heading:
        grid.line(f"{number}、{project['name']}绩效目标表", merge_to=last)
        grid.put(grid.row, last, "单位：万元")
        grid.row += 1
    r = grid.line("项目编码", project["code"], "项目名称", project["name"])
    grid.merge(r, 3, r, last)
    r = grid.row
    grid.put(r, 0, "预算规模及资金用途")
    grid.merge(r, 0, r + 1, 0)
    grid.put(r, 1, "预算数")
    grid.put(r, 2, project["budget"], "0.00")
    grid.put(r, 3, "其中：财政资金")
    grid.put(r, 4, project["budget"], "0.00")
    grid.put(r + 1, 1, project["fund_use"])
    grid.merge(r + 1, 1, r + 1, last)
    grid.row += 2
    r = grid.line("绩效目标", project["goals"])
    grid.merge(r, 1, r, last)
    write_indicators(grid, project, layout)


def title(doc: dict) -> str:
    return f"{doc['department']}{doc['year']}年部门预算项目绩效目标表"


def one_sheet(doc: dict, layout: str) -> list[Grid]:
    """All projects on one sheet, separated by an empty row, under the document's title."""
    grid = Grid("项目绩效目标")
    grid.line(title(doc), merge_to=len(LAYOUTS[layout]) - 1)
    for number, project in enumerate(doc["projects"], 1):
        grid.row += 1
        write_project(grid, number, project, layout)
    return [grid]


def sheet_per_project(doc: dict, layout: str) -> list[Grid]:
    grids = []
    for number, project in enumerate(doc["projects"], 1):
        name = f"{number} " + re.sub(r"[\[\]:*?/\\]", "", project["name"])[:28]  # unique, ≤ 31 characters
        grid = Grid(name)
        last = len(LAYOUTS[layout]) - 1
        grid.line("项目绩效目标表", merge_to=last)
        r = grid.line(f"预算单位：{doc['department']}")
        grid.merge(r, 0, r, 2)
        grid.put(r, 3, f"预算年度：{doc['year']}")
        grid.put(r, last, "单位：万元")
        write_project(grid, 0, project, layout, heading=False)
        grids.append(grid)
    return grids


FLAT_HEADER = ["序号", "项目编码", "项目名称", "预算数（万元）", "一级指标", "二级指标", "三级指标", "绩效指标描述",
               "指标性质", "指标值", "度量单位", "指标值确定依据"]


def flat_list(doc: dict, merged: bool, spacer: bool = False) -> list[Grid]:
    """One header row, the project repeated on every row (or merged down its rows)."""
    grid = Grid("绩效目标")
    grid.line(title(doc), merge_to=len(FLAT_HEADER) - 1)
    grid.line(*FLAT_HEADER)
    serial = 0
    for project in doc["projects"]:
        start = grid.row
        for row in project["rows"]:
            serial += 1
            r = grid.row
            grid.put(r, 0, serial)
            if not merged or r == start:
                grid.put(r, 1, project["code"])
                grid.put(r, 2, project["name"])
                grid.put(r, 3, project["budget"], "0.00")
            for col, key in enumerate(("level1", "level2", "name", "description"), 4):
                grid.put(r, col, row[key])
            write_value(grid, r, 8, row["value"], "split")
            grid.put(r, 11, row["basis"])
            grid.row += 1
        if merged:
            for col in (1, 2, 3):
                grid.merge(start, col, grid.row - 1, col)
        if spacer:  # an empty row between projects
            grid.row += 1
    return [grid]


# --------------------------------------------------------------------------- writers


def save_xlsx(grids: list[Grid], path: Path) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for grid in grids:
        sheet = workbook.create_sheet(grid.title)
        for (row, col), (value, fmt) in grid.cells.items():
            cell = sheet.cell(row=row + 1, column=col + 1, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # "=78人" is text, not a formula
            if fmt:
                cell.number_format = fmt
        for top, left, bottom, right in grid.merges:
            sheet.merge_cells(start_row=top + 1, start_column=left + 1, end_row=bottom + 1, end_column=right + 1)
    workbook.save(path)
    return path


def save_xls(grids: list[Grid], path: Path) -> Path:
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    styles: dict[str | None, object] = {}
    for grid in grids:
        sheet = workbook.add_sheet(grid.title)
        merged = {(top, left): (bottom, right) for top, left, bottom, right in grid.merges}
        for (row, col), (value, fmt) in grid.cells.items():
            style = styles.setdefault(fmt, xlwt.easyxf(num_format_str=fmt) if fmt else xlwt.Style.default_style)
            if (row, col) in merged:
                bottom, right = merged.pop((row, col))
                sheet.write_merge(row, bottom, col, right, value, style)
            else:
                sheet.write(row, col, value, style)
        for (top, left), (bottom, right) in merged.items():  # merges over empty cells
            sheet.write_merge(top, bottom, left, right, "")
    workbook.save(str(path))
    return path


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_one_sheet_one_value_column(documents, tmp_path, key):
    doc = documents[key]
    rows = extract_file(save_xlsx(one_sheet(doc, "one"), tmp_path / "doc.xlsx"))
    assert comparable(rows) == comparable(doc["rows"])
    assert rows["location"].iloc[0].startswith("table ")


@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_split_value_columns(documents, tmp_path, key):
    doc = documents[key]
    rows = extract_file(save_xlsx(one_sheet(doc, "split"), tmp_path / "doc.xlsx"))
    assert comparable(rows) == comparable(doc["rows"])
    source = [row for project in doc["projects"] for row in project["rows"]]
    assert list(rows["value"]) == [row["value"] for row in source]
    for got, row in zip(rows.to_dict("records"), source):
        op, number, unit, _ = split_value(row["value"])
        assert (got["value_op_raw"], got["value_number_raw"], got["value_unit_raw"]) == (op, str(number), unit)


def test_split_value_parts_of_one_row(tmp_path):
    project = {"code": "P1", "name": "测试项目", "budget": 12.5, "fund_use": "用途", "goals": "目标",
               "rows": [{"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "满意度",
                         "description": "群众满意程度", "value": "≥95%", "basis": "历史数据"}]}
    doc = {"department": "某某市财政局", "year": 2024, "projects": [project]}
    rows = extract_file(save_xlsx(one_sheet(doc, "split"), tmp_path / "one.xlsx"))
    row = rows.iloc[0]
    assert (row["value"], row["value_op_raw"], row["value_number_raw"], row["value_unit_raw"]) == ("≥95%", "≥", "95", "%")
    assert (row["project_name"], row["project_budget"], row["department"], row["year"]) == ("测试项目", 12.5, "某某市财政局", 2024)


@pytest.mark.parametrize("key", ["004", "001"])
def test_two_row_header(documents, tmp_path, key):
    doc = documents[key]
    rows = extract_file(save_xlsx(one_sheet(doc, "two_row"), tmp_path / "doc.xlsx"))
    assert comparable(rows) == comparable(doc["rows"])
    assert "指标性质" not in set(rows["value_op_raw"])


@pytest.mark.parametrize("layout", ["one", "split"])
@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_xls_with_merges(documents, tmp_path, key, layout):
    doc = documents[key]
    rows = extract_file(save_xls(one_sheet(doc, layout), tmp_path / "doc.xls"))
    assert comparable(rows) == comparable(doc["rows"])


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_flat_list(documents, tmp_path, key, merged):
    doc = documents[key]
    rows = extract_file(save_xlsx(flat_list(doc, merged), tmp_path / "flat.xlsx"))
    assert comparable(rows) == comparable(doc["rows"])


def test_flat_list_xls_with_empty_rows_between_projects(documents, tmp_path):
    doc = documents["001"]
    rows = extract_file(save_xls(flat_list(doc, True, spacer=True), tmp_path / "flat.xls"))
    assert comparable(rows) == comparable(doc["rows"])


@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_sheet_per_project(documents, tmp_path, key):
    doc = documents[key]
    rows = extract_file(save_xlsx(sheet_per_project(doc, "one"), tmp_path / "doc.xlsx"))
    assert comparable(rows) == comparable(doc["rows"])


def test_xlsm_suffix(documents, tmp_path):
    doc = documents["004"]
    path = save_xlsx(one_sheet(doc, "one"), tmp_path / "doc.xlsx").rename(tmp_path / "doc.xlsm")
    assert comparable(extract_file(path)) == comparable(doc["rows"])


# --------------------------------------------------------------------------- blocks


def test_sheet_blocks_titles_tables_and_merges():
    cells = {
        (0, 0): "2024年部门预算项目绩效目标表",
        (2, 0): "1、某项目绩效目标表",
        (3, 0): "项目名称", (3, 1): "某项目",
        (4, 0): "一级指标", (4, 1): "三级指标", (4, 2): "指标值",
        (5, 0): "产出指标", (5, 1): "数量", (5, 2): "10",
        (6, 1): "质量", (6, 2): "100%",
        (7, 0): "2、另一项目绩效目标表",
        (8, 1): "项目名称", (8, 2): "另一项目",
    }
    spans = {(0, 0): (0, 2), (5, 0): (6, 0)}
    blocks = sheet_blocks("Sheet1", cells, spans)
    assert [type(b).__name__ for b in blocks] == ["Paragraph", "Paragraph", "Paragraph", "Table", "Paragraph", "Table"]
    assert blocks[2].text == "1、某项目绩效目标表"
    assert blocks[3].rows[-1] == ["", "质量", "100%"]
    assert blocks[4].text == "2、另一项目绩效目标表"
    assert blocks[5].rows == [["项目名称", "另一项目"]]  # cut to the columns it uses


def test_spacer_row_inside_indicator_table_keeps_the_table():
    cells = {
        (0, 0): "项目名称", (0, 1): "某项目",
        (1, 0): "一级指标", (1, 1): "三级指标", (1, 2): "指标值",
        (3, 0): "产出指标", (3, 1): "数量", (3, 2): "10",
    }
    blocks = sheet_blocks("", cells, {})
    assert len(blocks) == 1 and blocks[0].rows[-1] == ["产出指标", "数量", "10"]


def test_flat_list_blocks():
    grid = [
        ["项目名称", "项目编码", "预算数(元)", "一级指标", "三级指标", "指标值"],
        ["甲", "001", "1200000", "产出指标", "数量", "10"],
        ["", "", "", "", "质量", "100%"],
        ["乙", "002", "", "效益指标", "满意度", "≥90%"],
    ]
    blocks = flat_list_blocks(grid)
    assert [b.rows for b in blocks] == [
        [["项目名称", "甲", "项目编码", "001", "预算数(元)", "1200000元"],
         ["一级指标", "三级指标", "指标值", "", "", ""],
         ["产出指标", "数量", "10", "", "", ""],
         ["", "质量", "100%", "", "", ""]],
        [["项目名称", "乙", "项目编码", "002", "预算数(元)", ""],
         ["一级指标", "三级指标", "指标值", "", "", ""],
         ["效益指标", "满意度", "≥90%", "", "", ""]],
    ]
    assert flat_list_blocks([["一级指标", "三级指标", "指标值"]]) is None


# --------------------------------------------------------------------------- cell rendering


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (95.0, "General", "95"),
        (0.1 + 0.2, "General", "0.3"),
        (100, "0.00", "100.00"),
        (161.93, "0.00_ ", "161.93"),
        (0.95, "0%", "95%"),
        (0.955, "0.0%", "95.5%"),
        (2.5, "0", "3"),
        (1234567.5, "#,##0.00", "1,234,567.50"),
        (78, '0"人"', "78人"),
        (-5, "0.00_);(0.00)", "(5.00)"),
        (-5, "0.00", "-5.00"),
        (0, '0.00;-0.00;"-"', "-"),
        (3.14159, "#.##", "3.14"),
        (12345, "[$¥-804]#,##0", "¥12,345"),
        (0.5, "0.00E+00", "0.5"),
    ],
)
def test_format_number(value, fmt, shown):
    assert format_number(value, fmt) == shown


def test_format_date():
    day = dt.datetime(2023, 12, 31)
    assert format_date(day, "mm-dd-yy") == "2023-12-31"
    assert format_date(day, 'yyyy"年"m"月"d"日"') == "2023年12月31日"
    assert format_date(dt.datetime(2023, 12, 31, 8, 5), "yyyy/m/d h:mm") == "2023-12-31 08:05"
    assert format_date(dt.date(2024, 1, 2), None) == "2024-01-02"


def test_cells_as_displayed(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "值"
    values = [(95.0, "General"), (100, "0.00"), (0.95, "0%"), (dt.datetime(2023, 12, 31), "yyyy-mm-dd"),
              (dt.datetime(2023, 6, 30), 'yyyy"年"m"月"d"日"'), (True, "General")]
    for col, (value, fmt) in enumerate(values, 1):
        sheet.cell(row=1, column=col, value=value).number_format = fmt
    sheet.cell(row=1, column=len(values) + 1, value="=1+1")  # never calculated: no cached value
    chinese = sheet.cell(row=2, column=1, value=45291)  # 2023-12-31 in built-in zh-CN format 31
    chinese.number_format = "0"  # gives the cell a style record; then point it at the built-in id
    chinese._style.numFmtId = 31
    workbook.save(tmp_path / "v.xlsx")
    from budgetnlp.extract.excel import READER

    blocks = READER.read(tmp_path / "v.xlsx")
    assert isinstance(blocks[0], Paragraph) and blocks[0].text == "值"
    assert isinstance(blocks[1], Table)
    assert blocks[1].rows == [["95", "100.00", "95%", "2023-12-31", "2023年6月30日", "TRUE"],
                              ["2023年12月31日", "", "", "", "", ""]]


def test_xls_dates_and_numbers(tmp_path):
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("值")
    sheet.write(0, 0, 95.0)
    sheet.write(0, 1, 100, xlwt.easyxf(num_format_str="0.00"))
    sheet.write(0, 2, 0.95, xlwt.easyxf(num_format_str="0%"))
    sheet.write(0, 3, dt.date(2023, 12, 31), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    sheet.write(0, 4, "文本")
    workbook.save(str(tmp_path / "v.xls"))
    from budgetnlp.extract.excel import XLS_READER

    blocks = XLS_READER.read(tmp_path / "v.xls")
    assert blocks[1].rows == [["95", "100.00", "95%", "2023-12-31", "文本"]]


# --------------------------------------------------------------------------- bad files


def test_bad_files(tmp_path):
    (tmp_path / "junk.xlsx").write_bytes(b"\x00\x01not a workbook" * 10)
    with pytest.raises(InputError, match="corrupt xlsx"):
        extract_file(tmp_path / "junk.xlsx")
    (tmp_path / "junk.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(InputError, match="xls"):
        extract_file(tmp_path / "junk.xls")
    # a password-protected .xlsx is an OLE file with an EncryptedPackage stream
    (tmp_path / "locked.xlsx").write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 100
    )
    with pytest.raises(InputError, match="encrypted workbook"):
        extract_file(tmp_path / "locked.xlsx")
    good = save_xlsx([Grid("空")], tmp_path / "empty.xlsx")
    with pytest.raises(InputError, match="no indicator table"):
        extract_file(good)
