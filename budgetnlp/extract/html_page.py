"""Web pages (.html/.htm/.xhtml): the page body as paragraphs and tables, in reading order.

- Decoding: a byte-order mark wins, then the page's declared charset (``<meta charset>``,
  ``http-equiv`` Content-Type, or the XML declaration); GB2312/GBK are read as their superset
  GB18030. A page declared GB* whose bytes are valid UTF-8 with non-ASCII text is UTF-8 (files
  re-saved by an editor keep their old ``<meta>``; real GBK text is practically never valid
  UTF-8). An undeclared or wrongly declared page falls back to ``decode_bytes`` (UTF-8, GB18030).
- Text: runs of HTML whitespace collapse to one space, ``&nbsp;`` is a space, ``<br>`` is a line
  break; block elements (``p``, ``div``, ``h1``-``h6``, ``li``, ``caption`` …) outside tables start
  a new Paragraph, inside a cell a new line. ``script``/``style``/``noscript``/``template`` and
  elements hidden with ``display:none`` or ``hidden`` are skipped.
- Tables: ``rowspan``/``colspan`` are expanded into a full rectangular grid; the text sits in
  the span's top-left position, every other spanned position is "" (the shared layer carries
  level1/level2 down). ``<th>`` and ``<td>`` are alike.
- Nested tables: a table row holding a real grid (a nested table of at least two rows, one of
  them with two filled cells) is a layout row: its cells' content is emitted as blocks in order
  (so a page wrapped in a layout table gives its inner tables as Tables, and the wrapper none);
  the wrapper's other rows stay a Table, or become Paragraphs when every row holds at most one
  filled cell (titles and headings laid out in a table). Smaller nested tables are flattened
  into their cell's text. ``grid_blocks`` is shared with the docx reader.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

from ._blocks import Block, Paragraph, Reader, Table
from ._decode import decode_bytes

# ---------------------------------------------------------------- grid → blocks (shared with word.py)


@dataclass
class Cell:
    """One table cell's content in reading order: its text paragraphs and any nested tables."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Paragraphs joined with line breaks; a nested table's rows as lines, its cells space-joined."""
        lines: list[str] = []
        for block in self.blocks:
            if isinstance(block, Paragraph):
                lines.append(block.text)
            else:
                for row in block.rows:
                    line = " ".join(cell.strip() for cell in row if cell.strip())
                    if line:
                        lines.append(line)
        return "\n".join(lines)


#: a table grid: each position holds the Cell anchored there, or None (spanned or missing)
Grid = list[list["Cell | None"]]


def _filled(row: list[str]) -> int:
    return sum(1 for cell in row if cell.strip())


def _is_real_grid(block: Block) -> bool:
    return isinstance(block, Table) and len(block.rows) >= 2 and any(_filled(row) >= 2 for row in block.rows)


def _texts_as_blocks(rows: list[list[str]], layout: bool) -> list[Block]:
    rows = [row for row in rows if _filled(row)]
    if not rows:
        return []
    one_column = all(len(row) <= 1 for row in rows)
    if one_column or (layout and all(_filled(row) <= 1 for row in rows)):
        return [Paragraph(cell.strip()) for row in rows for cell in row if cell.strip()]
    return [Table(rows=rows)]


def grid_blocks(grid: Grid) -> list[Block]:
    """A table grid as blocks: normally one Table; layout rows (holding real nested grids) unwrapped.

    A one-column table (a framed title or text box) gives Paragraphs.
    """
    width = max((len(row) for row in grid), default=0)
    texts = [[(cell.text if cell is not None else "") for cell in row] + [""] * (width - len(row)) for row in grid]
    layout_rows = [
        any(cell is not None and any(_is_real_grid(block) for block in cell.blocks) for cell in row) for row in grid
    ]
    if not any(layout_rows):
        if width <= 1:
            return _texts_as_blocks(texts, layout=True)
        return [Table(rows=texts)]
    blocks: list[Block] = []
    pending: list[list[str]] = []
    for row, row_texts, is_layout in zip(grid, texts, layout_rows):
        if not is_layout:
            pending.append(row_texts)
            continue
        blocks.extend(_texts_as_blocks(pending, layout=True))
        pending = []
        for cell in row:
            if cell is not None:
                blocks.extend(cell.blocks)
    blocks.extend(_texts_as_blocks(pending, layout=True))
    return blocks


# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
_GB_FAMILY = {"gb2312", "gbk", "gb18030"}
#: WHATWG labels of GBK that Python's codec registry does not know
_GBK_LABELS = {"chinese", "csgb2312", "csiso58gb231280", "gb_2312", "gb_2312-80", "iso-ir-58", "x-gbk"}
_SINGLE_BYTE = {"ascii", "latin_1", "iso8859_1", "cp1252"}


def declared_charset(head: bytes) -> str | None:
    """The Python codec name a page declares in its first bytes, or None."""
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            label = match.group(1).decode("ascii").lower()
            if label in _GBK_LABELS:
                return "gbk"
            try:
                return codecs.lookup(label).name.replace("-", "_")
            except LookupError:
                return None
    return None


def decode_html(data: bytes, path: Path) -> str:
    """The page's text (see the module docstring for the order of evidence)."""
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_bytes(data, path)
    declared = declared_charset(data[:16384])
    if declared in _GB_FAMILY:
        try:
            text = data.decode("utf-8")
            if not text.isascii():
                return text
        except UnicodeDecodeError:
            pass
        declared = "gb18030"
    if declared and declared not in _SINGLE_BYTE and not declared.startswith("utf_16"):
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_bytes(data, path)


# ---------------------------------------------------------------- page walking

_SKIP = {"script", "style", "noscript", "template", "head", "title", "select", "textarea", "iframe", "object", "svg"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section",
    "summary", "ul", "tr", "td", "th", "thead", "tbody", "tfoot",
}
_HTML_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_SPACES = re.compile(r" {2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_DIGITS = re.compile(r"\d+")


def _tag(element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comment, processing instruction
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _hidden(element) -> bool:
    if element.get("hidden") is not None:
        return True
    style = (element.get("style") or "").replace(" ", "").lower()
    return "display:none" in style


class _Flow:
    """Collects blocks: text into the current paragraph, tables as they come."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._parts: list[str] = []

    def text(self, text: str | None, pre: bool = False) -> None:
        if not text:
            return
        if pre:
            self._parts.append(text.replace("\r\n", "\n").replace("\r", "\n"))
        else:
            self._parts.append(_HTML_SPACE.sub(" ", text))

    def line_break(self) -> None:
        self._parts.append("\n")

    def paragraph_break(self) -> None:
        raw = "".join(self._parts).replace("\xa0", " ")
        self._parts = []
        lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(Paragraph(text))

    def add(self, blocks: list[Block]) -> None:
        self.paragraph_break()
        self.blocks.extend(blocks)


def _walk(element, flow: _Flow, pre: bool = False) -> None:
    """Add ``element``'s content (not its tail) to ``flow``."""
    tag = _tag(element)
    if not tag or tag in _SKIP or _hidden(element):
        return
    if tag == "table":
        flow.add(_table_blocks(element))
        return
    if tag == "br":
        flow.line_break()
        return
    block = tag in _BLOCK
    pre = pre or tag in {"pre", "textarea", "listing", "plaintext"}
    if block:
        flow.paragraph_break()
    flow.text(element.text, pre)
    for child in element:
        _walk(child, flow, pre)
        flow.text(child.tail, pre)
    if block:
        flow.paragraph_break()


def _content_blocks(element) -> list[Block]:
    flow = _Flow()
    flow.text(element.text)
    for child in element:
        _walk(child, flow)
        flow.text(child.tail)
    flow.paragraph_break()
    return flow.blocks


def _span(value: str | None, limit: int) -> int:
    match = _DIGITS.search(value or "")
    return min(max(int(match.group()), 0), limit) if match else 1


def _table_rows(table) -> tuple[list, list]:
    """The table's own rows (not those of nested tables) and its captions."""
    rows, captions = [], []
    for child in table:
        tag = _tag(child)
        if not tag or _hidden(child):
            continue
        if tag == "tr":
            rows.append(child)
        elif tag in {"thead", "tbody", "tfoot"}:
            rows.extend(row for row in child if _tag(row) == "tr" and not _hidden(row))
        elif tag == "caption":
            captions.append(child)
    return rows, captions


def _table_blocks(table) -> list[Block]:
    rows, captions = _table_rows(table)
    blocks: list[Block] = []
    for caption in captions:
        blocks.extend(_content_blocks(caption))
    placed: dict[tuple[int, int], Cell | None] = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            if _tag(cell) not in {"td", "th"} or _hidden(cell):
                continue
            while (r, c) in placed:
                c += 1
            colspan = _span(cell.get("colspan"), 1000) or 1
            rowspan = _span(cell.get("rowspan"), 65534)
            rowspan = len(rows) - r if rowspan == 0 else min(rowspan, len(rows) - r)
            for dr in range(rowspan):
                for dc in range(colspan):
                    placed[(r + dr, c + dc)] = None
            placed[(r, c)] = Cell(_content_blocks(cell))
            c += colspan
    width = max((c + 1 for _, c in placed), default=0)
    grid = [[placed.get((r, c)) for c in range(width)] for r in range(len(rows))]
    return blocks + grid_blocks(grid)


def parse_html(text: str) -> list[Block]:
    """Blocks of a page's body, in document order."""
    import lxml.html

    from ._limits import check_html_depth

    text = _CONTROL.sub("", _XML_DECLARATION.sub("", text, count=1))
    root = lxml.html.document_fromstring(text)
    check_html_depth(root)  # the limits of the extract_file call in progress
    body = root.find("body")
    if body is None:
        body = root
    return _content_blocks(body)


def _read(path: Path) -> list[Block]:
    return parse_html(decode_html(path.read_bytes(), path))


def has_markup(head: bytes) -> bool:
    """Whether a file's first bytes carry HTML markup (a text dump with a table tag is a page)."""
    lowered = head.lower()
    return any(mark in lowered for mark in (b"<html", b"<!doctype html", b"<table", b"<body"))


def _sniff(head: bytes, path: Path) -> bool:
    return has_markup(head) or path.suffix.lower() in READER.suffixes


READER = Reader(name="html", suffixes=(".html", ".htm", ".xhtml"), sniff=_sniff, read=_read)
