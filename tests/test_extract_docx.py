"""The .docx reader: sample disclosures rebuilt as Word files give the text dumps' rows."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from budgetnlp.errors import InputError
from budgetnlp.extract import extract, extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract.word import READER, read_docx

from .helpers import ROW_CELLS, comparable, context_tuples, sample_document

HEADER = ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"]
WIDTH = len(HEADER)


def project_cells(project: dict, unit_line: str = "") -> tuple[list[tuple[str, int, int, int, int]], int]:
    """A project's table as anchored cells (text, row, col, rowspan, colspan) and its row count.

    Laid out like the samples: unit line, 项目编码/项目名称, 预算数 with the fund-use text under it
    (label merged down, text spanning five columns), spending plan, 绩效目标 (spanning), the
    indicator header, then the indicator rows with level1 and level2 merged down their runs.
    """
    cells: list[tuple[str, int, int, int, int]] = []
    r = 0
    if unit_line:
        cells += [(unit_line, r, 0, 1, 4), ("单位：万元", r, 4, 1, 2)]
        r += 1
    cells += [("项目编码", r, 0, 1, 1), (project["code"], r, 1, 1, 1), ("项目名称", r, 2, 1, 1), (project["name"], r, 3, 1, 3)]
    r += 1
    budget = f"{project['budget']:.2f}"
    cells += [("预算规模及资金用途", r, 0, 2, 1), ("预算数", r, 1, 1, 1), (budget, r, 2, 1, 1)]
    cells += [("其中：财政资金", r, 3, 1, 1), (budget, r, 4, 1, 1), ("", r, 5, 1, 1)]
    cells += [(project["fund_use"], r + 1, 1, 1, 5)]
    r += 2
    cells += [("资金支出计划（%）", r, 0, 2, 1), ("", r, 5, 2, 1)]
    for col, (month, share) in enumerate(zip(("3月底", "6月底", "10月底", "12月底"), ("25%", "50%", "75%", "100%"))):
        cells += [(month, r, col + 1, 1, 1), (share, r + 1, col + 1, 1, 1)]
    r += 2
    cells += [("绩效目标", r, 0, 1, 1), (project["goals"], r, 1, 1, 5)]
    r += 1
    cells += [(text, r, col, 1, 1) for col, text in enumerate(HEADER)]
    r += 1
    rows = project["rows"]
    i = 0
    while i < len(rows):  # level1 runs, and level2 runs inside them
        end = i
        while end + 1 < len(rows) and rows[end + 1]["level1"] == rows[i]["level1"]:
            end += 1
        cells.append((rows[i]["level1"], r + i, 0, end - i + 1, 1))
        k = i
        while k <= end:
            stop = k
            while stop + 1 <= end and rows[stop + 1]["level2"] == rows[k]["level2"]:
                stop += 1
            cells.append((rows[k]["level2"], r + k, 1, stop - k + 1, 1))
            k = stop + 1
        i = end + 1
    for i, row in enumerate(rows):
        cells += [(row[name], r + i, col, 1, 1) for col, name in enumerate(ROW_CELLS) if col >= 2]
    return cells, r + len(rows)


def _set_text(cell, text: str) -> None:
    """A cell's text, one Word paragraph per line."""
    lines = text.split("\n")
    cell.paragraphs[0].text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)


def add_project_table(document, project: dict, unit_line: str = ""):
    cells, n_rows = project_cells(project, unit_line)
    table = document.add_table(rows=n_rows, cols=WIDTH)
    grid = [row.cells for row in table.rows]
    for text, r, c, _, _ in cells:
        if text:
            _set_text(grid[r][c], text)
    for _, r, c, rowspan, colspan in cells:  # merge after filling: merged cells are empty
        if rowspan > 1 or colspan > 1:
            grid[r][c].merge(grid[r + rowspan - 1][c + colspan - 1])
    return table


def write_disclosure(path, sample: dict, unit_line: bool = False, repeat: int = 1) -> None:
    """A .docx laid out like a disclosure: title, then per project a heading and one table."""
    document = docx.Document()
    document.add_paragraph(f"{sample['department']}{sample['year']}年部门预算")
    for section in range(repeat):
        document.add_paragraph(f"第{section + 2}部分 预算项目绩效目标")
        for number, project in enumerate(sample["projects"], 1):
            document.add_paragraph(f"{number}、{project['name']}绩效目标表")
            add_project_table(document, project, f"430002{sample['department']}" if unit_line else "")
            document.add_paragraph("")
    document.save(str(path))


CASES = {
    "004": ("004_8fe8d81b6e5c8740.txt", None, True),
    "001": ("001_7a371d8eaa1dfa6d.txt", None, False),
    "002-first-8": ("002_25a7642d433ed1a7.txt", 8, False),
}


@pytest.mark.parametrize("case", CASES)
def test_docx_gives_the_text_dump_rows(tmp_path, case):
    file_name, projects, unit_line = CASES[case]
    sample = sample_document(file_name, projects)
    path = tmp_path / f"{case}.docx"
    write_disclosure(path, sample, unit_line=unit_line)

    xml = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    assert "<w:vMerge" in xml and "<w:gridSpan" in xml  # really merged, not repeated text

    rows = extract_file(path)
    assert comparable(rows) == comparable(sample["rows"])
    assert context_tuples(rows) == context_tuples(sample["rows"])
    assert rows["location"].str.match(r"table \d+, row \d+$").all()


def test_project_printed_twice_gives_its_rows_once(tmp_path):
    sample = sample_document("004_8fe8d81b6e5c8740.txt")
    path = tmp_path / "twice.docx"
    write_disclosure(path, sample, repeat=2)
    assert len(docx.Document(str(path)).tables) == 2 * len(sample["projects"])
    assert comparable(extract_file(path)) == comparable(sample["rows"])


def _valid_docx_bytes(tmp_path) -> bytes:
    path = tmp_path / "valid.docx"
    write_disclosure(path, sample_document("004_8fe8d81b6e5c8740.txt", 2))
    return path.read_bytes()


def test_truncated_docx_is_corrupt(tmp_path):
    data = _valid_docx_bytes(tmp_path)
    path = tmp_path / "truncated.docx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert "corrupt docx" in info.value.reason
    assert info.value.path.endswith("truncated.docx")


def test_docx_with_broken_xml_is_corrupt(tmp_path):
    source = zipfile.ZipFile(io.BytesIO(_valid_docx_bytes(tmp_path)))
    path = tmp_path / "broken-xml.docx"
    with zipfile.ZipFile(path, "w") as archive:
        for item in source.infolist():
            data = source.read(item)
            archive.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert "corrupt docx" in info.value.reason


def test_docx_without_indicator_table(tmp_path):
    document = docx.Document()
    document.add_paragraph("某某局2020年部门预算")
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells + table.rows[1].cells, ["项目", "本年收入", "本年支出", "合计", "100", "100"]):
        cell.text = text
    path = tmp_path / "budget-only.docx"
    document.save(str(path))
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert "no indicator table found" in info.value.reason


def test_batch_keeps_good_docx_and_names_broken_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sample = sample_document("004_8fe8d81b6e5c8740.txt", 3)
    write_disclosure(folder / "good.docx", sample)
    data = (folder / "good.docx").read_bytes()
    (folder / "broken.docx").write_bytes(data[: len(data) // 2])
    result = extract(folder)
    assert result.files == 2
    assert comparable(result.rows) == comparable(sample["rows"])
    assert len(result.errors) == 1
    assert result.errors[0].path.endswith("broken.docx")
    assert "corrupt docx" in result.errors[0].reason


# ---------------------------------------------------------------- the reader's blocks


def _blocks(document, tmp_path) -> list:
    path = tmp_path / "unit.docx"
    document.save(str(path))
    return read_docx(path)


def test_grid_spans_merges_and_cell_paragraphs(tmp_path):
    document = docx.Document()
    document.add_paragraph("标题")
    document.add_paragraph("")  # empty paragraphs are dropped
    table = document.add_table(rows=3, cols=4)
    cells = [row.cells for row in table.rows]
    cells[0][0].text = "产出指标"
    cells[0][1].text = "横跨三列"
    _set_text(cells[1][1], "第一段\n第二段")
    cells[1][2].text = "c"
    cells[2][3].text = "d"
    cells[0][1].merge(cells[0][3])  # gridSpan 3
    cells[0][0].merge(cells[2][0])  # vMerge down three rows
    blocks = _blocks(document, tmp_path)
    assert blocks == [
        Paragraph("标题"),
        Table(
            rows=[
                ["产出指标", "横跨三列", "", ""],
                ["", "第一段\n第二段", "c", ""],
                ["", "", "", "d"],
            ]
        ),
    ]


def test_text_left_in_a_merged_continuation_cell_is_ignored(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    cells = [row.cells for row in table.rows]
    cells[0][0].text = "产出指标"
    cells[1][1].text = "b"
    cells[0][0].merge(cells[1][0])
    continuation = table._tbl.tr_lst[1].tc_lst[0]
    continuation.append(parse_xml(f'<w:p {nsdecls("w")}><w:r><w:t>残留</w:t></w:r></w:p>'))
    assert _blocks(document, tmp_path) == [Table(rows=[["产出指标", ""], ["", "b"]])]


def test_small_nested_table_becomes_cell_text(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=1, cols=2)
    outer = table.rows[0].cells
    outer[0].text = "资金支出计划"
    inner = outer[1].add_table(rows=1, cols=2)
    inner.rows[0].cells[0].text = "3月底"
    inner.rows[0].cells[1].text = "25%"
    assert _blocks(document, tmp_path) == [Table(rows=[["资金支出计划", "3月底 25%"]])]


def test_frame_table_around_tables_is_unwrapped(tmp_path):
    document = docx.Document()
    frame = document.add_table(rows=2, cols=1)
    frame.rows[0].cells[0].text = "1、某项目绩效目标表"
    inner = frame.rows[1].cells[0].add_table(rows=2, cols=2)
    for cell, text in zip(inner.rows[0].cells + inner.rows[1].cells, ["三级指标", "指标值", "完成率", "100%"]):
        cell.text = text
    assert _blocks(document, tmp_path) == [
        Paragraph("1、某项目绩效目标表"),
        Table(rows=[["三级指标", "指标值"], ["完成率", "100%"]]),
    ]


def test_grid_before_hyperlinks_breaks_and_deleted_text(tmp_path):
    document = docx.Document()
    paragraph = document.add_paragraph("一")
    run = paragraph.add_run("二")
    run.add_break()
    paragraph.add_run("三")
    paragraph._p.append(parse_xml(f'<w:hyperlink {nsdecls("w")}><w:r><w:t>链接</w:t></w:r></w:hyperlink>'))
    paragraph._p.append(parse_xml(f'<w:del {nsdecls("w")}><w:r><w:delText>删去</w:delText></w:r></w:del>'))
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["a", "b", "c"]):
        cell.text = text
    second = table.rows[1]
    second._tr.remove(second._tr.tc_lst[0])  # the row starts one grid column in
    second._tr.get_or_add_trPr().append(parse_xml(f'<w:gridBefore {nsdecls("w")} w:val="1"/>'))
    second.cells[0].text = "x"
    assert _blocks(document, tmp_path) == [
        Paragraph("一二\n三链接"),
        Table(rows=[["a", "b", "c"], ["", "x", ""]]),
    ]


def test_reader_contract():
    assert READER.name == "docx"
    assert READER.suffixes == (".docx",)
    assert READER.read is read_docx
