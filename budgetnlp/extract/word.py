"""Word documents (.docx): the body's paragraphs and tables, in document order.

python-docx opens the package; the body XML is walked directly (``w:p`` and ``w:tbl``
children, also inside content controls ``w:sdt`` and ``w:customXml``), because
``row.cells`` repeats merged cells and hides where a merge starts.

- Paragraph text: ``w:t`` of runs (also inside hyperlinks, insertions, smart tags, simple
  fields), ``w:tab`` → tab, ``w:br``/``w:cr`` → line break; deleted text (``w:del``), field
  codes and text boxes are left out. Empty paragraphs are dropped.
- Tables: a full rectangular grid over the table's grid columns. A cell spanning columns
  (``w:gridSpan``) gives its text in its first column and "" in the others; a vertically merged
  continuation (``w:vMerge`` without ``restart``, or a legacy ``w:hMerge`` continuation) gives "";
  ``w:gridBefore``/``w:gridAfter`` give leading/trailing "". A cell's paragraphs are joined with
  line breaks. Deleted rows (tracked changes) are skipped.
- Nested tables: handled as for web pages (see ``html_page.grid_blocks``): a small nested table
  is flattened into its cell's text; a row holding a real nested grid is unwrapped into blocks,
  so a table used only as a frame around other tables yields the inner tables.
"""

from __future__ import annotations

from pathlib import Path

from ._blocks import ZIP_MAGIC, Block, Paragraph, Reader, zip_members
from .html_page import Cell, Grid, grid_blocks

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _TR, _TC, _R = (f"{_W}{name}" for name in ("p", "tbl", "tr", "tc", "r"))
_SDT, _SDT_CONTENT, _CUSTOM_XML = f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"
_VAL = f"{_W}val"
#: containers whose children are read as if they stood in the parent
_TRANSPARENT = {_SDT, _SDT_CONTENT, _CUSTOM_XML}
#: paragraph-level wrappers around runs whose text counts
_RUN_WRAPPERS = {
    f"{_W}{name}"
    for name in ("hyperlink", "ins", "smartTag", "fldSimple", "customXml", "sdt", "sdtContent", "moveTo", "dir", "bdo")
}
_RUN_TEXT = {f"{_W}t": None, f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}


def _paragraph_text(p) -> str:
    parts: list[str] = []

    def walk(element) -> None:
        for child in element:
            tag = child.tag
            if tag == _R:
                for item in child:
                    if item.tag in _RUN_TEXT:
                        fixed = _RUN_TEXT[item.tag]
                        parts.append((item.text or "") if fixed is None else fixed)
            elif tag in _RUN_WRAPPERS:
                walk(child)

    walk(p)
    return "".join(parts)


def _content_blocks(container) -> list[Block]:
    """Blocks of a body or a table cell: non-empty paragraphs and tables, in order."""
    blocks: list[Block] = []
    for child in container:
        tag = child.tag
        if tag == _P:
            lines = [line.strip() for line in _paragraph_text(child).split("\n")]
            text = "\n".join(line for line in lines if line)
            if text:
                blocks.append(Paragraph(text))
        elif tag == _TBL:
            blocks.extend(_table_blocks(child))
        elif tag in _TRANSPARENT:
            blocks.extend(_content_blocks(child))
    return blocks


def _children(element, tag: str):
    """``tag`` children of ``element``, looking through content controls and custom XML."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _children(child, tag)


def _property(parent, path: str):
    """The ``w:val`` of a property element (``w:tcPr/w:gridSpan``), "" when present without a value,
    None when absent."""
    element = parent.find(path.replace("w:", _W))
    if element is None:
        return None
    return element.get(_VAL, "")


def _int(value: str | None, default: int) -> int:
    try:
        return max(int(value), 0) if value not in (None, "") else default
    except ValueError:
        return default


def _table_blocks(tbl) -> list[Block]:
    grid: Grid = []
    for tr in _children(tbl, _TR):
        if tr.find(f"{_W}trPr/{_W}del") is not None:
            continue
        row: list[Cell | None] = [None] * _int(_property(tr, "w:trPr/w:gridBefore"), 0)
        for tc in _children(tr, _TC):
            span = max(_int(_property(tc, "w:tcPr/w:gridSpan"), 1), 1)
            vmerge = _property(tc, "w:tcPr/w:vMerge")
            hmerge = _property(tc, "w:tcPr/w:hMerge")
            continued = (vmerge is not None and vmerge != "restart") or (hmerge is not None and hmerge != "restart")
            row.append(None if continued else Cell(_content_blocks(tc)))
            row.extend([None] * (span - 1))
        row.extend([None] * _int(_property(tr, "w:trPr/w:gridAfter"), 0))
        grid.append(row)
    columns = len(tbl.findall(f"{_W}tblGrid/{_W}gridCol"))
    width = max([columns, *(len(row) for row in grid)])
    for row in grid:
        row.extend([None] * (width - len(row)))
    return grid_blocks(grid)


def read_docx(path: Path) -> list[Block]:
    """Blocks of a .docx body."""
    import docx

    document = docx.Document(str(path))
    return _content_blocks(document.element.body)


def _sniff(head: bytes, path: Path) -> bool:
    return head.startswith(ZIP_MAGIC) and "word/document.xml" in zip_members(path)


READER = Reader(name="docx", suffixes=(".docx",), sniff=_sniff, read=read_docx, magic=ZIP_MAGIC)
