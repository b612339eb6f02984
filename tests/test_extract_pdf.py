"""PDF reader: disclosures rebuilt from the samples' rows with fpdf2 (ruled tables, CJK text).

The fixtures use a CJK font made at test time (``tests/pdf_fonts.py``: every glyph a box,
TrueType outlines), not a font of the machine: with the system's font the tests failed where
the only CJK font was a CID-keyed CFF one such as Noto Sans CJK (fpdf2 embeds it with an
encoding CMap that pdfminer reads as 0 characters) and where there was none. Text extraction
never looks at glyph outlines, so these PDFs have a real text layer (codes, widths, ToUnicode)
like any made with a CJK TrueType font. A generated font was preferred over a shipped subset
of a real one (licence, a binary in the repository, and coverage limited to the subset's
characters) and over reportlab's non-embedded CID fonts (a new dependency, and a font
embedding unlike that of office software). The CFF build of the same font gives the
Noto-like PDFs of ``test_extract_pdf_fallback.py``; PDFs made by LibreOffice with the
machine's own fonts are tested in ``test_extract_pdf_libreoffice.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import fpdf  # fpdf2, from the [test] extra: builds the PDF fixtures
import pytest

from budgetnlp._text import squash
from budgetnlp.errors import InputError
from budgetnlp.extract import extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract.pdf import READER
from .helpers import comparable, sample_documents
from .pdf_builders import HEADER, build_pdf, new_pdf, samples_text
from .pdf_fonts import cjk_font


PROJECTS = {"004": None, "001": None, "002": 6}


@pytest.fixture(scope="module")
def font() -> Path:
    """The test CJK font (TrueType outlines), with the characters of the samples and of this file."""
    return cjk_font("glyf", samples_text() + Path(__file__).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    return sample_documents(PROJECTS)


def spans_pages(path: Path) -> bool:
    return any(isinstance(b, Table) and len(set(b.row_pages)) > 1 for b in READER.read(path))


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("key", ["004", "001", "002"])
def test_ruled_tables_round_trip(documents, font, tmp_path, key):
    doc = documents[key]
    path = build_pdf(doc, tmp_path / "doc.pdf", font)
    rows = extract_file(path)
    assert comparable(rows) == comparable(doc["rows"])
    assert rows["location"].str.contains("page").all()
    tables = [b for b in READER.read(path) if isinstance(b, Table)]
    assert len(tables) == len(doc["projects"]), "a table cut by a page break is joined again"
    assert any(len(set(t.row_pages)) > 1 for t in tables), "the fixture should continue a table on the next page"


def test_header_repeated_on_each_page(documents, font, tmp_path):
    doc = documents["002"]
    path = build_pdf(doc, tmp_path / "doc.pdf", font, repeat_header=True)
    assert comparable(extract_file(path)) == comparable(doc["rows"])
    assert spans_pages(path)


def test_blocks_in_reading_order_with_pages(documents, font, tmp_path):
    doc = dict(documents["004"], projects=documents["004"]["projects"][:2])
    blocks = READER.read(build_pdf(doc, tmp_path / "doc.pdf", font))
    texts = [b.text for b in blocks if isinstance(b, Paragraph)]
    assert texts[0] == f"{doc['department']}{doc['year']}年部门预算项目绩效目标表"
    assert texts[1] == f"1、{doc['projects'][0]['name']}绩效目标表"
    assert not any(text.startswith("- ") for text in texts), "page numbers are dropped"
    table = next(b for b in blocks if isinstance(b, Table))
    assert table.page == 1 and len(table.row_pages) == len(table.rows)
    assert table.rows[0][:3] == ["项目编码", doc["projects"][0]["code"], "项目名称"]
    assert table.rows[0][4:] == ["", ""]  # colspan → ""


def test_continued_table_keeps_row_pages(documents, font, tmp_path):
    project = documents["002"]["projects"][0]
    long = dict(project, rows=project["rows"] * 12)  # one project over two pages and more
    doc = dict(documents["002"], projects=[long])
    blocks = READER.read(build_pdf(doc, tmp_path / "long.pdf", font))
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 1  # joined over its pages
    table = tables[0]
    assert len(table.rows) == 5 + len(long["rows"])
    assert len(table.row_pages) == len(table.rows)
    assert table.row_pages[0] == table.page == 1 and table.row_pages[-1] >= 3
    assert table.row_pages == sorted(table.row_pages)


def test_two_row_header_with_split_value(documents, font, tmp_path):
    """指标值 over 指标性质 | 指标值 | 计量单位, the other header cells merged down two rows."""
    doc = dict(documents["001"], projects=documents["001"]["projects"][:2])
    pdf = new_pdf(font)
    pdf.add_page()
    pdf.multi_cell(0, 8, f"{doc['department']}{doc['year']}年部门预算项目绩效目标表", new_x="LMARGIN", new_y="NEXT")
    split = re.compile(r"^(≥|≤|=|＝)?((?:0|[1-9]\d*)(?:\.\d+)?)(.*)$")
    for project in doc["projects"]:
        with pdf.table(col_widths=(20, 24, 34, 40, 14, 22, 16, 20), first_row_as_headings=False,
                       text_align="LEFT", line_height=4.5, padding=1) as table:
            row = table.row()
            for text in ("项目编码", project["code"], "项目名称"):
                row.cell(text)
            row.cell(project["name"], colspan=3)
            row.cell("预算数")
            row.cell(f"{project['budget']:.2f}")
            row = table.row()
            for text in ("一级指标", "二级指标", "三级指标", "绩效指标描述"):
                row.cell(text, rowspan=2)
            row.cell("指标值", colspan=3)
            row.cell("指标值确定依据", rowspan=2)
            row = table.row()
            for text in ("指标性质", "指标值", "计量单位"):
                row.cell(text)
            for source in project["rows"]:
                match = split.match(source["value"])
                parts = (match.group(1) or "", match.group(2), match.group(3)) if match else ("", source["value"], "")
                row = table.row()
                for text in (source["level1"], source["level2"], source["name"], source["description"], *parts,
                             source["basis"]):
                    row.cell(text)
        pdf.ln(5)
    pdf.output(str(tmp_path / "two.pdf"))
    rows = extract_file(tmp_path / "two.pdf")
    source = [row for project in doc["projects"] for row in project["rows"]]
    assert [squash(v) for v in rows["value"]] == [squash(row["value"]) for row in source]
    assert [squash(v) for v in rows["name"]] == [squash(row["name"]) for row in source]
    assert rows["project_budget"].tolist() == [p["budget"] for p in doc["projects"] for _ in p["rows"]]
    assert "指标性质" not in set(rows["value_op_raw"])


# --------------------------------------------------------------------------- unusable PDFs


def test_no_text_layer(font, tmp_path):
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.new("RGB", (400, 300), "white").save(image)
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=180)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(InputError, match=r"no text layer \(scanned PDF\?\): run OCR first"):
        extract_file(tmp_path / "scan.pdf")

    pdf = fpdf.FPDF()
    pdf.add_page()
    for y in range(20, 200, 10):
        pdf.line(10, y, 200, y)
    pdf.rect(10, 20, 190, 180)
    pdf.output(str(tmp_path / "lines.pdf"))
    with pytest.raises(InputError, match="no text layer"):
        extract_file(tmp_path / "lines.pdf")


def test_encrypted(documents, font, tmp_path):
    pdf = new_pdf(font)
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.cell(text="加密文档")
    pdf.output(str(tmp_path / "locked.pdf"))
    with pytest.raises(InputError, match=r"encrypted PDF: cannot read \(password protected\)"):
        extract_file(tmp_path / "locked.pdf")


def test_random_bytes_and_truncated(documents, font, tmp_path):
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(os.urandom(2048))
    with pytest.raises(InputError):
        extract_file(junk)

    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.7\n" + os.urandom(2048))
    with pytest.raises(InputError, match="corrupt"):
        extract_file(fake)

    data = build_pdf(documents["004"], tmp_path / "full.pdf", font).read_bytes()
    for fraction in (0.5, 0.9, 0.999):
        cut = tmp_path / f"cut{fraction}.pdf"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(InputError, match="corrupt"):
            extract_file(cut)


def test_no_indicator_table(font, tmp_path):
    pdf = new_pdf(font)
    pdf.add_page()
    pdf.multi_cell(0, 6, "某某局2024年部门预算公开说明\n一、部门职责")
    pdf.output(str(tmp_path / "text.pdf"))
    blocks = READER.read(tmp_path / "text.pdf")
    assert [b.text for b in blocks] == ["某某局2024年部门预算公开说明", "一、部门职责"]
    with pytest.raises(InputError, match="no indicator table"):
        extract_file(tmp_path / "text.pdf")


def _split_row_pdf(font, path, full_line: bool):
    """Page 1 ends with a row whose description runs to its cell's edge (``full_line``) or stops
    short of it; page 2 starts with a row holding only more description, then another row."""
    widths = (24, 24, 30, 40, 24, 28)
    pdf = new_pdf(font)
    cell = widths[3] / sum(widths) * pdf.epw  # mm: fpdf2 spreads the widths over the page
    per_line = int((cell - 2) / (9 * 25.4 / 72))  # CJK characters a description line holds
    text = "实际到位资金占应到位资金" * 3
    description = text[: 2 * per_line] if full_line else text[: 2 * per_line - 3]
    style = dict(col_widths=widths, first_row_as_headings=False, text_align="LEFT", line_height=4.5, padding=1)
    pdf.add_page()
    with pdf.table(**style) as table:
        for cells in (HEADER, ["产出指标", "数量指标", "到位率", description, "100%", "计划"]):
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.add_page()
    with pdf.table(**style) as table:
        for cells in (["", "", "", "的比率", "", ""], ["", "质量指标", "合格率", "验收合格的比率", "≥95%", "标准"]):
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.output(str(path))
    return description


def test_row_split_by_page_break_is_joined(font, tmp_path):
    description = _split_row_pdf(font, tmp_path / "split.pdf", full_line=True)
    [table] = [b for b in READER.read(tmp_path / "split.pdf") if isinstance(b, Table)]
    assert [squash(row[3]) for row in table.rows] == ["绩效指标描述", description + "的比率", "验收合格的比率"]
    assert table.row_pages == [1, 1, 2]


def test_row_ending_short_of_its_edge_is_not_joined(font, tmp_path):
    description = _split_row_pdf(font, tmp_path / "whole.pdf", full_line=False)
    [table] = [b for b in READER.read(tmp_path / "whole.pdf") if isinstance(b, Table)]
    assert [squash(row[3]) for row in table.rows] == ["绩效指标描述", description, "的比率", "验收合格的比率"]
