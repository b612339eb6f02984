"""The layout zoo (tests/zoo.py) as PDFs: real rows in seeded layouts come back exactly.

Two ways to a PDF, as disclosures are made: the zoo's Word file converted by LibreOffice
(ruled tables; runs where soffice is, and must in CI), and a direct drawing with fpdf2 and the
test font (``pdf_builders.render_pdf``; runs everywhere). Half of the layouts are set on short
pages (drawn: A5, narrower too, so cells wrap more; Word: the page's height halved), so that
tables run on over pages (LibreOffice also splits rows at page breaks).
evaluation/zoo_report_pdf.py runs a longer seeded set.
"""

from __future__ import annotations

import random
from pathlib import Path

import docx
import pytest

from budgetnlp.extract import extract_file
from budgetnlp.extract._blocks import Table
from budgetnlp.extract.pdf import READER

from .libreoffice import convert
from .pdf_builders import layouts_text, render_pdf
from .pdf_fonts import cjk_font
from .zoo import layout_specs, mismatches, render_docx

#: layouts per way in the normal suite
DIRECT, LIBREOFFICE = 24, 24
PAGES = ("full", "short")


def pdf_layouts(n: int, seed: int) -> list[tuple]:
    """``n`` zoo layouts (those a Word file can hold) with the page format each is set on."""
    rng = random.Random(seed)
    return [(layout, rng.choice(PAGES)) for layout in layout_specs(n, seed=seed, formats=("docx",))]


def word_file(layout, path: Path, page_format: str) -> Path:
    """The zoo's .docx of ``layout`` with ruled tables, on ``page_format`` pages."""
    render_docx(layout, path)
    document = docx.Document(str(path))
    for table in document.tables:
        table.style = document.styles["Table Grid"]
    if page_format == "short":  # the tables keep their widths: only the height is cut
        for section in document.sections:
            section.page_height = int(section.page_height * 0.5)
    document.save(str(path))
    return path


def problems(cases: list[tuple], pdfs: list[Path]) -> list[str]:
    out = []
    for (layout, page_format), path in zip(cases, pdfs):
        try:
            frame = extract_file(path)
        except Exception as error:  # an InputError names the file and the reason
            out.append(f"{path.name} ({page_format}): {error}\n  {layout}")
            continue
        found = mismatches(frame, layout)
        if "extract_warning" in frame and (frame["extract_warning"] != "").any():
            found.append(f"extract_warning: {frame['extract_warning'].iloc[0]}")
        if found:
            out.append(f"{path.name} ({page_format}): {found[:3]}\n  {layout}")
    return out


def spanning_tables(pdfs: list[Path]) -> int:
    return sum(len(set(b.row_pages)) > 1 for path in pdfs for b in READER.read(path) if isinstance(b, Table))


def test_zoo_pdf_drawn_directly(tmp_path):
    cases = pdf_layouts(DIRECT, seed=11)
    font = cjk_font("glyf", layouts_text(layout for layout, _ in cases))
    pdfs = [render_pdf(layout, tmp_path / f"zoo{i}.pdf", font, (148, 210) if page == "short" else "A4")
            for i, (layout, page) in enumerate(cases)]
    assert any(layout.context == "context_table" for layout, _ in cases), "context tables drawn into the grid"
    assert problems(cases, pdfs) == []
    assert spanning_tables(pdfs) >= 3, "some tables should run on over pages"


@pytest.fixture(scope="module")
def from_word(tmp_path_factory) -> tuple[list[tuple], list[Path]]:
    """The seeded layouts as Word files, converted by one LibreOffice run."""
    folder = tmp_path_factory.mktemp("zoo-word")
    cases = pdf_layouts(LIBREOFFICE, seed=12)
    files = [word_file(layout, folder / f"zoo{i}.docx", page) for i, (layout, page) in enumerate(cases)]
    return cases, convert(files, folder / "soffice")


def test_zoo_pdf_from_word_by_libreoffice(from_word):
    cases, pdfs = from_word
    assert any(layout.context == "context_table" for layout, _ in cases), "context tables drawn into the grid"
    assert problems(cases, pdfs) == []
    assert spanning_tables(pdfs) >= 3, "some tables should run on over pages"
