"""Issue 10, classes 2 and 3: project context written outside the table (headings, 项目名称 lines,
captions, title rows, sheet names, unit labels) in every format, and the header vocabulary of real
tables (指标方向 words, split op/number/unit, 年度 over 中期 values, 绩效自评表 columns, score notes)."""

from __future__ import annotations

import html

import docx
import openpyxl
import pytest

from budgetnlp.extract import extract_file

HEADER = ["一级指标", "二级指标", "三级指标", "指标值"]
ROWS = [["产出指标", "数量指标", "信息员人数", "≥12人"], ["", "时效指标", "信息报送及时率", "100%"]]
NAME = "安全生产信息员"
UNIT = "某某县应急管理局"


def _html(before: str, rows: list[list[str]], caption: str = "") -> str:
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<html><body><h1>2024年部门预算</h1>{before}<table>{cap}{body}</table></body></html>"


def _write_html(tmp_path, text: str):
    path = tmp_path / "page.html"
    path.write_text(text, encoding="utf-8")
    return extract_file(path)


def _write_docx(tmp_path, paragraphs: list[tuple[str, str]], rows: list[list[str]]):
    document = docx.Document()
    for text, style in paragraphs:
        document.add_heading(text, level=2) if style == "heading" else document.add_paragraph(text, style=style or None)
    table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    path = tmp_path / "doc.docx"
    document.save(str(path))
    return extract_file(path)


def _write_xlsx(tmp_path, lines: list[str], rows: list[list[str]], title: str = "Sheet1"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for r, line in enumerate(lines, 1):
        sheet.cell(r, 1, line)
    for r, row in enumerate(rows, len(lines) + 1):
        for c, text in enumerate(row, 1):
            if text:
                sheet.cell(r, c, text).data_type = "s"
    path = tmp_path / "book.xlsx"
    workbook.save(str(path))
    return extract_file(path)


def _write_text(tmp_path, lines: list[str], rows: list[list[str]]):
    dump = "".join(f"{line}\n\n" for line in lines)
    dump += "\n".join("\n".join(f"\t{c}" for c in row) + "\n" for row in rows)
    path = tmp_path / "dump.txt"
    path.write_text(dump, encoding="utf-8")
    return extract_file(path)


# ---------------------------------------------------------------- class 2: context outside the table

LINES = {
    "numbered_table_heading": (f"1、{NAME}绩效目标表", NAME),
    "chinese_numbered": ("（三）农村公路养护项目", "农村公路养护项目"),
    "name_line": (f"项目名称：{NAME}", NAME),
    "name_line_with_code": (f"项目名称：{NAME}  项目编码：13091124P005", NAME),
}


@pytest.mark.parametrize("kind", sorted(LINES))
@pytest.mark.parametrize("fmt", ["html", "docx", "xlsx", "text"])
def test_project_named_by_a_line_above_the_table(tmp_path, kind, fmt):
    line, expected = LINES[kind]
    rows = [HEADER, *ROWS]
    if fmt == "html":
        frame = _write_html(tmp_path, _html(f"<h3>{html.escape(line)}</h3>", rows))
    elif fmt == "docx":
        frame = _write_docx(tmp_path, [(line, "heading")], rows)
    elif fmt == "xlsx":
        frame = _write_xlsx(tmp_path, [line], rows)
    else:
        frame = _write_text(tmp_path, [line], rows)
    assert list(frame["project_name"]) == [expected] * 2
    if kind == "name_line_with_code":
        assert set(frame["project_code"]) == {"13091124P005"}


def test_html_caption_and_paragraph_name_the_project(tmp_path):
    frame = _write_html(tmp_path, _html("", [HEADER, *ROWS], caption=NAME))
    assert set(frame["project_name"]) == {NAME}
    frame = _write_html(tmp_path, _html(f"<p>{NAME}</p>", [HEADER, *ROWS]))
    assert set(frame["project_name"]) == {NAME}


def test_docx_caption_paragraph_names_the_project(tmp_path):
    frame = _write_docx(tmp_path, [(NAME, "Caption")], [HEADER, *ROWS])
    assert set(frame["project_name"]) == {NAME}


def test_xlsx_title_row_and_sheet_name_name_the_project(tmp_path):
    assert set(_write_xlsx(tmp_path, [NAME], [HEADER, *ROWS])["project_name"]) == {NAME}
    assert set(_write_xlsx(tmp_path, [], [HEADER, *ROWS], title=NAME)["project_name"]) == {NAME}


def test_a_default_sheet_name_or_unit_line_names_no_project(tmp_path):
    frame = _write_xlsx(tmp_path, ["单位：万元"], [HEADER, *ROWS], title="Sheet1")
    assert set(frame["project_name"]) == {""}


def test_inside_table_labels_win_over_a_heading(tmp_path):
    rows = [["项目名称", "表内项目", "", ""], HEADER, *ROWS]
    frame = _write_html(tmp_path, _html(f"<h3>1、{NAME}绩效目标表</h3><p>项目名称：别的项目</p>", rows))
    assert set(frame["project_name"]) == {"表内项目"}


@pytest.mark.parametrize("label", ["预算单位", "主管部门", "实施单位", "单位名称"])
def test_department_from_a_label_cell(tmp_path, label):
    rows = [["项目名称", NAME, label, UNIT], HEADER, *ROWS]
    frame = _write_html(tmp_path, _html("", rows))
    assert set(frame["department"]) == {UNIT}


def test_implementing_unit_wins_over_the_supervisor(tmp_path):
    rows = [["项目名称", NAME, "主管部门", "某某县卫生健康局"], ["实施单位", "某某镇卫生院", "", ""], HEADER, *ROWS]
    frame = _write_html(tmp_path, _html("", rows))
    assert set(frame["department"]) == {"某某镇卫生院"}


def test_department_lines_apply_to_the_tables_after_them(tmp_path):
    tables = "".join(
        f"<p>预算单位：{unit}</p><h3>{i}、项目{i}绩效目标表</h3><table>"
        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in [HEADER, *ROWS])
        + "</table>"
        for i, unit in enumerate(["甲县财政局", "乙县教育局"], 1)
    )
    frame = _write_html(tmp_path, f"<html><body>{tables}</body></html>")
    assert list(frame["department"]) == ["甲县财政局"] * 2 + ["乙县教育局"] * 2
    assert list(frame["project_name"]) == ["项目1"] * 2 + ["项目2"] * 2


# ---------------------------------------------------------------- class 3: header vocabulary


def test_direction_words_and_nature_column(tmp_path):
    """L09-like: 指标性质 正向/反向 is no operator; 指标方向 words are kept as written."""
    rows = [
        ["一级指标", "二级指标", "三级指标", "指标性质", "指标方向", "目标值", "计量单位", "分值"],
        ["满意度指标(10分)", "服务对象满意度", "使用人员满意度", "正向", "大于等于", "98", "%", "10"],
        ["产出指标(50分)", "成本指标", "车辆购置成本", "反向", "小于等于", "12", "万元", "5"],
        ["", "数量指标", "车辆采购数量", "反向", "小于等于", "1", "", "7.5"],
    ]
    frame = _write_html(tmp_path, _html("<p>项目名称：业务装备经费</p>", rows))
    assert list(frame["value"]) == ["大于等于98%", "小于等于12万元", "小于等于1"]
    assert list(frame["level1"]) == ["满意度指标(10分)", "产出指标(50分)", "产出指标(50分)"]
    assert (frame["extract_warning"] == "").all()


def test_nature_column_with_operators_is_the_operator(tmp_path):
    rows = [["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位"],
            ["产出指标", "数量指标", "人数", "≥", "5", "人"], ["", "质量指标", "合格率", "=", "100", "%"]]
    frame = _write_html(tmp_path, _html("", rows))
    assert list(frame["value"]) == ["≥5人", "=100%"]


@pytest.mark.parametrize("period", ["实施周期指标值", "中期指标值"])
@pytest.mark.parametrize("year", ["年度指标值", "当年度指标值"])
@pytest.mark.parametrize("year_first", [True, False])
def test_the_years_value_column_wins_over_the_period(tmp_path, period, year, year_first):
    cols = [year, period] if year_first else [period, year]
    values = {year: ["≥12人", "100%"], period: ["≥36人", "95%"]}
    rows = [HEADER[:3] + cols] + [row[:3] + [values[c][i] for c in cols] for i, row in enumerate(ROWS)]
    frame = _write_html(tmp_path, _html("", rows))
    assert list(frame["value"]) == ["≥12人", "100%"]


def test_self_evaluation_table_takes_the_years_target(tmp_path):
    rows = [
        ["项目名称", NAME, "主管部门", UNIT, "", "", "", ""],
        ["项目资金（万元）", "全年预算数", "全年执行数", "分值", "执行率", "得分", "", ""],
        ["年度资金总额", "100", "98.5", "10", "98.5%", "9.85", "", ""],
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
        ["产出指标(50分)", "数量指标", "信息员人数", "≥12人", "12人", "10", "10", ""],
        ["成本指标(0-20)分", "经济成本指标", "人均补贴", "≤500元", "480元", "10", "9", "无"],
    ]
    frame = _write_html(tmp_path, _html("", rows))
    assert list(frame["value"]) == ["≥12人", "≤500元"]
    assert list(frame["level1"]) == ["产出指标(50分)", "成本指标(0-20)分"]
    assert set(frame["project_name"]) == {NAME} and set(frame["department"]) == {UNIT}
    assert (frame["extract_warning"] == "").all()


@pytest.mark.parametrize("name_header", ["三级指标", "指标名称", "三级指标名称"])
@pytest.mark.parametrize("value_header", ["全年(程)指标值", "全年指标值", "预期指标值", "目标值", "指标值（%）"])
def test_header_synonyms(tmp_path, name_header, value_header):
    rows = [["一级指标", "二级指标", name_header, value_header, "指标值说明"], *[r + ["说明"] for r in ROWS]]
    frame = _write_html(tmp_path, _html("", rows))
    assert list(frame["value"]) == ["≥12人", "100%"]
    assert list(frame["description"]) == ["说明", "说明"]


@pytest.mark.parametrize("line", ["本项目资金用于保障信息员补贴。", "2024年部门预算项目支出绩效目标表", "二、分项绩效目标", "附表3", "（一）保障村级人员工资待遇，促进社会稳定"])
def test_sentences_titles_and_section_headings_name_no_project(tmp_path, line):
    frame = _write_html(tmp_path, _html(f"<p>{html.escape(line)}</p>", [HEADER, *ROWS]))
    assert set(frame["project_name"]) == {""}


def test_a_label_spanning_empty_cells_reads_the_next_filled_cell(tmp_path):
    """A context table drawn into the indicator grid (Word/LibreOffice, PDF): 项目名称 spans two
    columns, its value the rest; a label followed only by another label has no value."""
    rows = [["项目名称", "", NAME, ""], ["实施单位", "", UNIT, ""], ["项目编码", "", "预算数", "12.5万元"], HEADER, *ROWS]
    frame = _write_html(tmp_path, _html("", rows))
    assert set(frame["project_name"]) == {NAME} and set(frame["department"]) == {UNIT}
    assert set(frame["project_code"]) == {""}
    assert list(frame["project_budget"].unique()) == [12.5]
