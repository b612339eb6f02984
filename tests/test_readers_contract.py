"""The contract every registered reader keeps (as test_rules.py checks every rule): a name and
suffixes, a sniff that claims its own files and nothing else, blocks of the common types from a
minimal valid file, and one InputError naming the file for a corrupt one. Adding a reader to the
registry without a fixture here fails ``test_every_reader_has_fixtures``."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import detect_format, extract, extract_file
from budgetnlp.extract._blocks import Paragraph, Table
from budgetnlp.extract._dispatch import _HEAD_BYTES, _readers

from .pdf_fonts import cjk_font

TITLE = "2024年项目支出绩效目标表"
GRID = [["一级指标", "二级指标", "三级指标", "指标值"],
        ["产出指标", "数量指标", "培训人数", "≥100人"],
        ["效益指标", "社会效益指标", "群众知晓率", "≥90%"]]


def _html() -> bytes:
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in GRID)
    return f"<!DOCTYPE html><html><body><p>{TITLE}</p><table>{cells}</table></body></html>".encode()


def _text() -> bytes:
    """A docx-to-text dump: each cell a line opened by a tab, a blank line between rows."""
    rows = "\n\n".join("\n".join(f"\t{c}" for c in row) for row in GRID)
    return f"{TITLE}\n\n{rows}\n".encode()


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(TITLE)
    table = document.add_table(rows=len(GRID), cols=len(GRID[0]))
    for i, row in enumerate(GRID):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([TITLE])
    for row in GRID:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xls() -> bytes:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    sheet.write(0, 0, TITLE)
    for i, row in enumerate(GRID, 1):
        for j, value in enumerate(row):
            sheet.write(i, j, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _pdf() -> bytes:
    import fpdf

    font = cjk_font(text=TITLE + "".join(c for row in GRID for c in row))
    pdf = fpdf.FPDF()
    pdf.add_font("cjk", "", str(font))
    pdf.set_font("cjk", size=10)
    pdf.add_page()
    pdf.cell(0, 8, TITLE, new_x="LMARGIN", new_y="NEXT")
    with pdf.table(first_row_as_headings=False) as table:
        for row in GRID:
            cells = table.row()
            for value in row:
                cells.cell(value)
    return bytes(pdf.output())


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


#: reader name → (file name, valid bytes, corrupt bytes from the valid ones)
FIXTURES = {
    "docx": ("doc.docx", _docx, _truncated),
    "xlsx": ("book.xlsx", _xlsx, _truncated),
    "xls": ("book.xls", _xls, lambda data: data[:512] + b"\x00" * 512),
    "PDF": ("doc.pdf", _pdf, _truncated),
    "html": ("page.html", _html, lambda data: data[:60] + bytes(range(0x80, 0x100)) * 4),
    "text": ("dump.txt", _text, lambda data: bytes(range(0x80, 0x100)) * 4),
}
READERS = _readers()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Each reader's minimal valid file, each in its own folder."""
    out = {}
    for name, (file_name, build, _) in FIXTURES.items():
        path = tmp_path_factory.mktemp(name) / file_name
        path.write_bytes(build())
        out[name] = path
    return out


def _head(path: Path) -> bytes:
    return path.read_bytes()[:_HEAD_BYTES]


def test_every_reader_has_fixtures():
    assert set(READERS) == set(FIXTURES)


@pytest.mark.parametrize("name", READERS)
def test_name_and_suffixes(name):
    reader = READERS[name]
    assert reader.name == name and name.strip()
    assert reader.suffixes and all(s == s.lower() and (s == "" or s.startswith(".")) for s in reader.suffixes)
    others = {s for other in READERS.values() if other is not reader for s in other.suffixes}
    assert not set(reader.suffixes) & others  # each suffix has one owner
    assert Path(FIXTURES[name][0]).suffix in reader.suffixes


@pytest.mark.parametrize("name", READERS)
def test_sniff_claims_its_own_files_only(name, files, tmp_path):
    reader = READERS[name]
    assert reader.sniff(_head(files[name]), files[name])
    for other, path in files.items():
        if other != name:
            assert not reader.sniff(_head(path), path), f"{name} claims the {other} fixture"
    for seed in range(5):
        noise = tmp_path / f"noise{seed}.bin"
        noise.write_bytes(os.urandom(_HEAD_BYTES))
        assert not reader.sniff(_head(noise), noise)
        if reader.magic:  # binary formats decide by content, not by name
            named = tmp_path / f"noise{seed}{reader.suffixes[0]}"
            named.write_bytes(noise.read_bytes())
            assert not reader.sniff(_head(named), named)


@pytest.mark.parametrize("name", READERS)
def test_detect_format_picks_the_reader_that_sniffs(name, files, tmp_path):
    assert detect_format(files[name], _head(files[name])) == name
    if READERS[name].magic:  # a binary file under another name is still found by its content
        renamed = tmp_path / "renamed.txt"
        renamed.write_bytes(files[name].read_bytes())
        assert detect_format(renamed, _head(renamed)) == name


@pytest.mark.parametrize("name", READERS)
def test_read_gives_common_blocks(name, files):
    blocks = READERS[name].read(files[name])
    assert blocks and all(isinstance(b, (Paragraph, Table)) for b in blocks)
    tables = [b for b in blocks if isinstance(b, Table)]
    assert tables
    for table in tables:
        assert all(isinstance(row, list) and all(isinstance(c, str) for c in row) for row in table.rows)
    for paragraph in (b for b in blocks if isinstance(b, Paragraph)):
        assert isinstance(paragraph.text, str)
    cells = {c.strip() for t in tables for row in t.rows for c in row}
    assert {"三级指标", "培训人数", "≥100人", "群众知晓率"} <= cells
    rows = extract_file(files[name])
    assert list(rows["name"]) == ["培训人数", "群众知晓率"] and list(rows["value"]) == ["≥100人", "≥90%"]


@pytest.mark.parametrize("name", READERS)
def test_corrupt_file_is_one_input_error_naming_it(name, files, tmp_path):
    file_name, _, corrupt = FIXTURES[name]
    path = tmp_path / file_name
    path.write_bytes(corrupt(files[name].read_bytes()))
    with pytest.raises(InputError) as info:
        extract_file(path)
    assert info.value.path == str(path) and file_name in str(info.value)
    assert "\n" not in info.value.reason
    result = extract([tmp_path])
    assert result.files == 1 and len(result.rows) == 0
    assert [e.path for e in result.errors] == [str(path)]


def test_zip_of_neither_format_is_refused_by_name(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    for file_name in ("archive.zip", "fake.docx", "fake.xlsx"):
        path = tmp_path / file_name
        path.write_bytes(buffer.getvalue())
        with pytest.raises(InputError, match="unsupported type: a zip archive that is not docx or xlsx"):
            detect_format(path, _head(path))


def test_content_not_matching_a_binary_suffix_is_corrupt(tmp_path):
    for name, reader in READERS.items():
        if reader.magic:
            path = tmp_path / f"dump{reader.suffixes[0]}"
            path.write_bytes(_text())
            with pytest.raises(InputError, match=f"corrupt {name} file"):
                detect_format(path, _head(path))


def test_detect_format_is_driven_by_the_registry(monkeypatch, tmp_path):
    """A reader added to the registry is found by its own sniff and suffixes, nothing else."""
    from budgetnlp.extract import _dispatch
    from budgetnlp.extract._blocks import Reader

    fake = Reader(name="fake", suffixes=(".fak",), sniff=lambda head, path: head.startswith(b"FAKE1"),
                  read=lambda path: [], magic=b"FAKE")
    monkeypatch.setattr(_dispatch, "_readers", lambda: {**READERS, "fake": fake})
    for file_name, content, expected in [("a.txt", b"FAKE1 data", "fake"), ("a.fak", b"FAKE1", "fake"),
                                         ("a.fak", b"FAKE2", "corrupt fake file"), ("a.fak", b"plain", "corrupt fake file"),
                                         ("a.fake", b"FAKE1", "fake"), ("a.fake", b"plain", "unsupported type: .fake")]:
        path = tmp_path / file_name
        path.write_bytes(content)
        try:
            found = detect_format(path, content)
        except InputError as error:
            found = error.reason
        assert found.startswith(expected), (file_name, content, found)
