"""Text dumps of Word disclosures: every table cell is a line starting with a tab.

Layout of a dump, as produced by common docx-to-text tools:
- a line starting with a tab opens a cell; consecutive cell lines form one table row;
- one blank line ends a row, unless plain text follows it: then the text continues
  the last cell (a cell may hold line breaks and blank lines: "产出\\n\\n指标");
- two or more blank lines end the table, except inside a row that is still shorter than
  the table's widest row: there they are a cell's trailing empty paragraphs (002 has
  "资金到位率" followed by two blank lines, then the rest of its row) — unless the next cell is
  an indicator-table header cell (一级指标, 三级指标 …): that starts a new row, so a header is
  never glued to the short row before it (a two-cell 绩效目标 row under five-cell rows);
- plain text after two or more blank lines is a paragraph after the table;
- plain text outside tables is paragraphs ("[bookmark: …]" anchors removed).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ._blocks import Block, Paragraph, Reader, Table
from ._decode import decode_bytes
from ._headers import cell_field as _cell_field
from .html_page import has_markup

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
#: control characters no text file holds (tab, newlines and form feed are text)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def parse_text_dump(text: str) -> list[Block]:
    """Split a dump into paragraphs and tables (rows of raw cell strings)."""
    blocks: list[Block] = []
    rows: list[list[str]] | None = None
    blanks = 0

    def close_table() -> None:
        nonlocal rows
        if rows:
            blocks.append(Table(rows=[r for r in rows if r]))
        rows = None

    for line in text.splitlines():
        if line.startswith("\t"):
            if rows is None:
                rows = [[]]
            elif blanks >= 2:
                width = max(len(row) for row in rows[:-1]) if len(rows) > 1 else 0
                if not 0 < len(rows[-1]) < width:
                    close_table()
                    rows = [[]]
                elif _cell_field(line[1:]):  # a header row after a short row: not its trailing cells
                    rows.append([])
            elif blanks == 1:
                rows.append([])
            rows[-1].append(line[1:])
            blanks = 0
        elif not line.strip():
            blanks += 1
        else:
            if rows is not None and rows[-1] and blanks <= 1:
                rows[-1][-1] += "\n" * (blanks + 1) + line
            else:
                close_table()
                text_line = _BOOKMARK.sub("", line).strip()
                if text_line:
                    blocks.append(Paragraph(text_line))
            blanks = 0
    close_table()
    return blocks


def _read(path: Path) -> list[Block]:
    return parse_text_dump(decode_bytes(path.read_bytes(), path))


def _sniff(head: bytes, path: Path) -> bool:
    """Readable text without markup: UTF-16 with its BOM, or UTF-8/GB18030 without control
    characters (a character cut at the end of ``head`` does not count against it)."""
    if has_markup(head):
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return not _CONTROL.search(decoded)
    return False


READER = Reader(name="text", suffixes=(".txt", ".text", ""), sniff=_sniff, read=_read)
