"""PDFs made from Word files by LibreOffice give the same rows as the Word files (issue 10, class 5).

The .docx fixtures are those of test_extract_docx.py (the samples' projects; level-1/level-2
cells merged down with vMerge, spans with gridSpan), with the ruled "Table Grid" style that
published tables have. LibreOffice wraps long cells over several lines, lets tables run on
over pages and splits a row at a page break where it falls (Word's default): the reader must
give the rows back exactly. All files are converted by one LibreOffice run (``libreoffice.py``:
skipped without soffice locally, a failure in CI).
"""

from __future__ import annotations

import docx
import pytest

from budgetnlp.extract import extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract.pdf import READER

from .helpers import comparable, context_tuples, sample_document
from .libreoffice import convert
from .test_extract_docx import CASES, HEADER, ROW_CELLS, write_disclosure

CONTEXT_PROJECT = "安全生产信息员"


def ruled(path) -> None:
    document = docx.Document(str(path))
    for table in document.tables:
        table.style = document.styles["Table Grid"]
    document.save(str(path))


def context_outside_docx(path, sample: dict) -> dict:
    """Tables of indicator rows only, each project named by the paragraph printed above it:
    "1、<name>绩效目标表" for the first, "项目名称：<name>" for the second."""
    projects = sample["projects"][:2]
    projects[0] = dict(projects[0], name=CONTEXT_PROJECT)
    document = docx.Document()
    document.add_paragraph(f"{sample['department']}{sample['year']}年部门预算")
    for number, project in enumerate(projects, 1):
        document.add_paragraph(f"{number}、{project['name']}绩效目标表" if number == 1 else f"项目名称：{project['name']}")
        table = document.add_table(rows=1 + len(project["rows"]), cols=len(HEADER))
        for cell, text in zip(table.rows[0].cells, HEADER):
            cell.text = text
        for row, source in zip(table.rows[1:], project["rows"]):
            for cell, key in zip(row.cells, ROW_CELLS):
                cell.text = source[key]
        document.add_paragraph("")
    document.save(str(path))
    ruled(path)
    return {"projects": projects}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("libreoffice")
    samples, files = {}, []
    for case, (file_name, projects, unit_line) in CASES.items():
        samples[case] = sample_document(file_name, projects)
        files.append(folder / f"{case}.docx")
        write_disclosure(files[-1], samples[case], unit_line=unit_line)
        ruled(files[-1])
    samples["context"] = context_outside_docx(folder / "context.docx", sample_document(CASES["001"][0]))
    files.append(folder / "context.docx")
    pdfs = convert(files, tmp_path_factory.mktemp("soffice-home"))
    return {path.stem: (samples[path.stem], path) for path in pdfs}


@pytest.mark.parametrize("case", CASES)
def test_libreoffice_pdf_gives_the_docx_rows(converted, case):
    sample, path = converted[case]
    rows = extract_file(path)
    assert comparable(rows) == comparable(sample["rows"])
    assert context_tuples(rows) == context_tuples(sample["rows"])
    assert rows["location"].str.contains("page").all()


def test_libreoffice_layout_has_the_hard_cases(converted):
    """The fixtures really wrap cells, continue tables over pages and split rows at page breaks."""
    tables = [b for case in CASES for b in READER.read(converted[case][1]) if isinstance(b, Table)]
    assert sum(len(t.rows) for t in tables) > 100
    assert sum("\n" in cell for t in tables for row in t.rows for cell in row) > 50, "cells wrapped over lines"
    assert sum(len(set(t.row_pages)) > 1 for t in tables) >= 3, "tables continued over pages"
    merged = [row for t in tables for row in t.rows if row[0] == "" and row[2]]
    assert merged, "level-1 cells merged down leave the rows below them empty in that column"


def test_project_named_above_the_table(converted):
    sample, path = converted["context"]
    blocks = READER.read(path)
    kinds = [(type(b).__name__, b.text if isinstance(b, Paragraph) else len(b.rows)) for b in blocks]
    first, second = sample["projects"]
    assert kinds == [
        ("Paragraph", kinds[0][1]),
        ("Paragraph", f"1、{CONTEXT_PROJECT}绩效目标表"),
        ("Table", 1 + len(first["rows"])),
        ("Paragraph", f"项目名称：{second['name']}"),
        ("Table", 1 + len(second["rows"])),
    ], "the lines above and between tables come as paragraphs, in document order"
    rows = extract_file(path)
    expected = [p["name"] for p in sample["projects"] for _ in p["rows"]]
    assert rows["project_name"].tolist() == expected
