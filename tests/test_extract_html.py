"""The .html reader: sample disclosures rebuilt as web pages give the text dumps' rows."""

from __future__ import annotations

import html
from functools import lru_cache

import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import extract, extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract.html_page import READER, decode_html, parse_html

from .helpers import ROW_CELLS, comparable, context_tuples, sample_document

HEADER = ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"]


@lru_cache(maxsize=None)
def _cell_html(text: str) -> str:
    """Cell content the way web pages write it: lines as <p>, with spans and &nbsp; around."""
    lines = [html.escape(line) for line in text.split("\n")]
    if len(lines) > 1:
        return "".join(f"<p style='margin:0'>&nbsp;{line}</p>" for line in lines)
    return f"<span style='font-family:宋体'>\n  {lines[0]}&nbsp;</span>" if lines[0] else "&nbsp;"


def project_table(project: dict, unit_line: str = "") -> str:
    """A project's table: info rows (fund use and goals spanning columns), header, indicator rows
    with level1/level2 as rowspan cells."""
    out = ["<table border='1' cellspacing='0' style='border-collapse:collapse'>", "<tbody>"]

    def row(*cells: tuple) -> None:
        tds = []
        for cell in cells:
            text, rowspan, colspan = (cell + (1, 1))[:3] if isinstance(cell, tuple) else (cell, 1, 1)
            spans = (f" rowspan='{rowspan}'" if rowspan > 1 else "") + (f' colspan="{colspan}"' if colspan > 1 else "")
            tds.append(f"<td{spans}>{_cell_html(text)}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")

    if unit_line:
        row((unit_line, 1, 4), ("单位：万元", 1, 2))
    row("项目编码", project["code"], "项目名称", (project["name"], 1, 3))
    budget = f"{project['budget']:.2f}"
    row(("预算规模及资金用途", 2), "预算数", budget, "其中：财政资金", budget, "")
    row((project["fund_use"], 1, 5))
    row(("资金支出计划（%）", 2), "3月底", "6月底", "10月底", "12月底", ("", 2))
    row("25%", "50%", "75%", "100%")
    row("绩效目标", (project["goals"], 1, 5))
    out.append("<tr>" + "".join(f"<th>{name}</th>" for name in HEADER) + "</tr>")
    rows = project["rows"]
    level1_span: dict[int, int] = {}
    level2_span: dict[int, int] = {}
    i = 0
    while i < len(rows):  # rowspans of level1 runs, and of level2 runs inside them
        end = i
        while end + 1 < len(rows) and rows[end + 1]["level1"] == rows[i]["level1"]:
            end += 1
        level1_span[i] = end - i + 1
        k = i
        while k <= end:
            stop = k
            while stop + 1 <= end and rows[stop + 1]["level2"] == rows[k]["level2"]:
                stop += 1
            level2_span[k] = stop - k + 1
            k = stop + 1
        i = end + 1
    for i, indicator in enumerate(rows):
        cells = []
        if i in level1_span:
            cells.append((indicator["level1"], level1_span[i]))
        if i in level2_span:
            cells.append((indicator["level2"], level2_span[i]))
        cells += [indicator[name] for name in ROW_CELLS[2:]]
        row(*cells)
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def disclosure_body(sample: dict, unit_line: bool = False) -> list[str]:
    parts = [f"<h1>{sample['department']}{sample['year']}年部门预算</h1>", "<h2>第二部分&nbsp;预算项目绩效目标</h2>"]
    for number, project in enumerate(sample["projects"], 1):
        parts.append(f"<p class='title'><b>{number}、{html.escape(project['name'])}</b>绩效目标表</p>")
        parts.append(project_table(project, f"430002{sample['department']}" if unit_line else ""))
    return parts


def page(body: list[str] | str, charset: str = "utf-8") -> str:
    body = body if isinstance(body, str) else "\n".join(body)
    return (
        "<!DOCTYPE html>\n<html><head>"
        f"<meta http-equiv='Content-Type' content='text/html; charset={charset}'>"
        "<title>部门预算公开</title><style>td {border: 1px solid}</style>"
        "<script>var t = '<table><tr><td>三级指标</td><td>指标值</td></tr></table>';</script>"
        f"</head><body>\n{body}\n</body></html>"
    )


CASES = {
    "004": ("004_8fe8d81b6e5c8740.txt", None, True),
    "001": ("001_7a371d8eaa1dfa6d.txt", None, False),
    "002-first-8": ("002_25a7642d433ed1a7.txt", 8, False),
}


@pytest.mark.parametrize("case", CASES)
def test_html_gives_the_text_dump_rows(tmp_path, case):
    file_name, projects, unit_line = CASES[case]
    sample = sample_document(file_name, projects)
    path = tmp_path / f"{case}.html"
    path.write_text(page(disclosure_body(sample, unit_line)), encoding="utf-8")
    rows = extract_file(path)
    assert comparable(rows) == comparable(sample["rows"])
    assert context_tuples(rows) == context_tuples(sample["rows"])


def test_page_wrapped_in_a_layout_table(tmp_path):
    sample = sample_document("004_8fe8d81b6e5c8740.txt", 4)
    body = disclosure_body(sample)
    layout = (
        "<table width='100%'><tr><td colspan='2'><img src='logo.png'>网站首页 | 政务公开</td></tr>"
        "<tr><td width='180'><ul><li>通知公告</li><li>财政预决算</li></ul></td>"
        f"<td><div class='article'>{body[0]}{body[1]}"
        "<table><tr><td>" + "</td></tr><tr><td>".join(body[2:4]) + "</td></tr></table>"  # nested twice
        + "".join(body[4:])
        + "</div></td></tr><tr><td colspan='2'>版权所有</td></tr></table>"
    )
    blocks = parse_html(page(layout))
    tables = [block for block in blocks if isinstance(block, Table)]
    assert len(tables) == len(sample["projects"])  # the inner tables only, no wrapper
    assert Paragraph(f"1、{sample['projects'][0]['name']}绩效目标表") in blocks
    path = tmp_path / "layout.html"
    path.write_text(page(layout), encoding="utf-8")
    assert comparable(extract_file(path)) == comparable(sample["rows"])


def test_gb18030_page_with_gb2312_meta(tmp_path):
    sample = sample_document("001_7a371d8eaa1dfa6d.txt", 3)
    path = tmp_path / "gbk.htm"
    path.write_bytes(page(disclosure_body(sample), charset="gb2312").encode("gb18030"))
    assert comparable(extract_file(path)) == comparable(sample["rows"])


def test_batch_keeps_good_page_and_names_unusable_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sample = sample_document("004_8fe8d81b6e5c8740.txt", 2)
    (folder / "good.html").write_text(page(disclosure_body(sample)), encoding="utf-8")
    (folder / "news.html").write_text(page("<p>新闻</p><table><tr><td>a</td><td>b</td></tr></table>"), encoding="utf-8")
    result = extract(folder)
    assert comparable(result.rows) == comparable(sample["rows"])
    assert [error.path.rsplit("/", 1)[-1] for error in result.errors] == ["news.html"]


def test_page_without_indicator_table(tmp_path):
    path = tmp_path / "budget.html"
    body = "<h1>某某局2020年部门预算</h1><table><tr><th>项目</th><th>本年收入</th></tr><tr><td>合计</td><td>100</td></tr></table>"
    path.write_text(page(body), encoding="utf-8")
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert "no indicator table found" in info.value.reason


# ---------------------------------------------------------------- the reader's blocks


def test_spans_expand_to_a_full_grid():
    blocks = parse_html(
        "<table><caption>1、某项目绩效目标表</caption>"
        "<thead><tr><th>一级</th><th colspan=2>跨两列</th><th>d</th></tr></thead>"
        "<tr><td rowspan='3'>产出指标</td><td rowspan=2 colspan=2>二乘二</td><td>x</td></tr>"
        "<tr><td>y</td></tr>"
        "<tr><td>p</td><td>q</td><td>r</td><td>溢出</td></tr></table>"
    )
    assert blocks == [
        Paragraph("1、某项目绩效目标表"),
        Table(
            rows=[
                ["一级", "跨两列", "", "d", ""],
                ["产出指标", "二乘二", "", "x", ""],
                ["", "", "", "y", ""],
                ["", "p", "q", "r", "溢出"],
            ]
        ),
    ]


def test_text_in_cells_and_paragraphs():
    blocks = parse_html(
        "<html><head><title>不要</title><style>p{}</style></head><body>"
        "<div>第一部分&nbsp;&nbsp;概况<script>alert(1)</script></div><p>一行<br/>二行</p>"
        "<div style='display: none'>隐藏</div>"
        "<table><tr><td><p>产出</p>\n<p>指标</p></td><td>a<br>b <span>c</span>&nbsp;</td>"
        "<td><table><tr><td>3月底</td><td>25%</td></tr></table></td></tr></table>"
        "<p>　全角缩进</p>末尾</body></html>"
    )
    assert blocks == [
        Paragraph("第一部分 概况"),
        Paragraph("一行\n二行"),
        Table(rows=[["产出\n指标", "a\nb c", "3月底 25%"]]),
        Paragraph("全角缩进"),
        Paragraph("末尾"),
    ]


def test_decoding_order(tmp_path):
    text = "<meta charset='gbk'><p>预算</p>"
    path = tmp_path / "x.html"
    assert decode_html(text.encode("gb18030"), path) == text
    assert decode_html("\ufeff".encode() + text.encode("utf-8"), path) == text  # BOM beats meta
    assert decode_html(text.encode("utf-8"), path) == text  # re-saved as UTF-8, old meta kept
    assert decode_html("<meta charset='utf-8'><p>预算</p>".encode("gb18030"), path).endswith("<p>预算</p>")  # wrong meta
    assert decode_html("<p>预算</p>".encode("gb18030"), path) == "<p>预算</p>"  # no meta
    assert decode_html("<meta charset=x-gbk><p>预算</p>".encode("gb18030"), path).endswith("<p>预算</p>")


def test_xhtml_with_xml_declaration(tmp_path):
    path = tmp_path / "page.xhtml"
    body = "\n".join(disclosure_body(sample_document("004_8fe8d81b6e5c8740.txt", 1)))
    path.write_bytes(
        (
            '<?xml version="1.0" encoding="GB2312"?>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
            f"<body>{body}</body></html>"
        ).encode("gb18030")
    )
    assert comparable(extract_file(path)) == comparable(sample_document("004_8fe8d81b6e5c8740.txt", 1)["rows"])


def test_reader_contract(tmp_path):
    assert READER.name == "html"
    assert READER.suffixes == (".html", ".htm", ".xhtml")
    assert READER.sniff(b"<!DOCTYPE html><html>", tmp_path / "a.htm")
    assert not READER.sniff(b"plain text", tmp_path / "a.txt")
