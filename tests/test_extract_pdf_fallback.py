"""PDFs whose characters pdfminer cannot read: pdfium reads them, or the file is named unreadable.

The Noto-like PDFs are the disclosures of test_extract_pdf.py set in the CID-keyed CFF build
of the test font (``tests/pdf_fonts.py``): fpdf2 embeds such a font as Noto Sans CJK, with an
encoding CMap that pdfminer reads as no character at all, while pdfium reads every one. The
unreadable PDF has a font whose codes map to nothing (no ToUnicode, no embedded font program):
it has fonts, so it is "text layer unreadable", not "scanned".
"""

from __future__ import annotations

import re
from pathlib import Path

import pdfplumber
import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import extract, extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract.pdf import READER

from .helpers import comparable, sample_documents
from .pdf_builders import build_pdf, new_pdf, samples_text
from .pdf_fonts import cjk_font

PROJECTS = {"004": None, "002": 4}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    return sample_documents(PROJECTS)


TEXT = samples_text() + Path(__file__).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cff_font() -> Path:
    """The CID-keyed CFF test font, with the characters of the samples and of this file."""
    return cjk_font("cff", TEXT)


@pytest.fixture(scope="module")
def font() -> Path:
    """The TrueType build of the same font, which pdfminer reads."""
    return cjk_font("glyf", TEXT)


def pdfminer_chars(path: Path) -> int:
    with pdfplumber.open(path) as pdf:
        return sum(len(page.chars) for page in pdf.pages)


@pytest.mark.parametrize("key", PROJECTS)
def test_cid_keyed_cff_pdf_read_through_pdfium(documents, cff_font, tmp_path, key):
    doc = documents[key]
    path = build_pdf(doc, tmp_path / "noto-like.pdf", cff_font)
    assert pdfminer_chars(path) == 0, "the fixture should be one pdfminer cannot read"
    rows = extract_file(path)
    assert comparable(rows) == comparable(doc["rows"])
    tables = [b for b in READER.read(path) if isinstance(b, Table)]
    assert len(tables) == len(doc["projects"])
    assert any(len(set(t.row_pages)) > 1 for t in tables), "a table continued on the next page, joined again"


def test_pdfium_lines_and_page_numbers(documents, cff_font, tmp_path):
    doc = dict(documents["004"], projects=documents["004"]["projects"][:2])
    blocks = READER.read(build_pdf(doc, tmp_path / "doc.pdf", cff_font))
    texts = [b.text for b in blocks if isinstance(b, Paragraph)]
    assert texts[:2] == [f"{doc['department']}{doc['year']}年部门预算项目绩效目标表", f"1、{doc['projects'][0]['name']}绩效目标表"]
    assert not any(re.match(r"^- \d+ -$", text) for text in texts), "page numbers are dropped"


def test_page_of_each_font_in_one_file(font, cff_font, tmp_path):
    """pdfium is asked only for the pages pdfminer cannot read; the others keep pdfminer's text."""
    pdf = new_pdf(font, page_numbers=False)
    pdf.add_font("cff", "", str(cff_font))
    pdf.add_page()
    pdf.cell(text="第一页：可读的文字")
    pdf.add_page()
    pdf.set_font("cff")
    pdf.cell(text="第二页：要由pdfium读的文字")
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    with pdfplumber.open(path) as opened:
        assert [len(page.chars) > 0 for page in opened.pages] == [True, False]
    blocks = READER.read(path)
    assert [(b.text, b.page) for b in blocks] == [("第一页：可读的文字", 1), ("第二页：要由pdfium读的文字", 2)]


def unreadable_pdf(path: Path, font: Path) -> Path:
    """A PDF whose only font maps its codes to nothing: the ToUnicode map and the embedded
    font program are cut out of the font's dictionaries (blanked, so the offsets stay right)."""
    pdf = new_pdf(font, page_numbers=False)
    pdf.set_compression(False)
    pdf.add_page()
    pdf.cell(text="项目名称：无法读取的文字")
    data = pdf.output()
    for reference in (rb"/ToUnicode \d+ 0 R", rb"/FontFile2 \d+ 0 R"):
        data, count = re.subn(reference, lambda m: b" " * len(m.group(0)), bytes(data))
        assert count == 1
    path.write_bytes(data)
    return path


def test_fonts_without_readable_characters_are_unreadable_not_scanned(font, tmp_path):
    path = unreadable_pdf(tmp_path / "unreadable.pdf", font)
    with pdfplumber.open(path) as opened:
        assert opened.pages[0].chars and all(c["text"].startswith("(cid:") for c in opened.pages[0].chars)
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert info.value.reason.startswith("text layer unreadable")
    assert "scanned" not in info.value.reason


def test_unreadable_file_named_in_a_batch(documents, font, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    unreadable_pdf(folder / "bad.pdf", font)
    build_pdf(documents["004"], folder / "good.pdf", font)
    result = extract(folder)
    assert comparable(result.rows) == comparable(documents["004"]["rows"])
    assert [(Path(e.path).name, e.reason.split(":")[0]) for e in result.errors] == [("bad.pdf", "text layer unreadable")]
