"""PDF disclosures with pdfplumber: per page, the ruled tables and the text lines outside them.

- Tables: ``page.find_tables`` with the "lines" strategy (ruled tables, cells drawn as lines
  or rectangles). Only when no page of the document has a ruled table are the tables found
  again with the "text" strategy (tables laid out by alignment alone). A merged cell gives
  its text in its first row/column and "" elsewhere (pdfplumber's None); a header label
  (三级指标, 指标值 …) merged down over a two-row header is repeated, so that the second header
  row reads as a header (see ``excel.py``). A "table" with a single non-empty cell is a framed
  paragraph. Every Table has ``page`` (1-based) and ``row_pages``.
- Text: the characters outside tables, as lines; a line wrapped at the right margin is joined
  with the next one when that starts at the left margin less than a line's height below, in
  the same size. Page numbers ("- 3 -", "第3页", "3/12") as the first or last line of a
  page are dropped. Blocks of a page are in reading order (by their top).
- A table continued on the next page: when a page's first block is a table whose columns
  line up with those of the table that ended the previous page (same positions, or a subset
  of them), and whose first row is not a new header or project (an indicator header other
  than a repeat of the table's own, 项目名称/项目编码), its rows are appended to that table;
  ``row_pages`` keeps each row's page. A row split by the page break (word processors let a
  row break across pages by default) is joined again: when every filled cell of the first row
  overleaf is in a column whose cell in the last row ran to its right edge (or ended with a
  hyphen), or when it leaves empty a column that every row under the header fills, or when a
  cell completes a label ("项目名" / "称"), those
  cells go on the last row's cells instead of starting a row. A table that holds the next
  project's table too (drawn touching it, as Word does with adjacent tables) is split before
  the row that starts it (项目名称/项目编码 below an indicator header).
- Characters pdfminer cannot read: a page with fonts whose characters pdfminer does not read
  (none, or mostly ``(cid:N)`` codes without a Unicode mapping; e.g. CID-keyed CFF fonts such
  as Noto Sans CJK with an embedded encoding CMap) has its characters read again with pdfium
  (pypdfium2, a pdfplumber dependency): each becomes a pdfplumber character with pdfium's loose
  box, so tables and lines are found as for any page (the ruling comes from pdfminer, which
  reads the drawing fine). Page rotation is not applied to such characters.
- Errors: a password-protected PDF, a PDF without any text layer (no fonts: scanned images),
  a PDF whose fonts give no readable character ("text layer unreadable"), and a PDF cut short
  (no ``%%EOF`` in its last 1024 bytes, where readers such as Acrobat require it) raise
  InputError; the PDF is always closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .._text import squash
from ..errors import InputError
from ._blocks import Block, Paragraph, Reader, Table
from ._headers import CODE_LABELS as _CODE_LABELS
from ._headers import NAME_LABELS as _NAME_LABELS
from ._headers import cell_field as _cell_field
from ._headers import find_header as _find_header

_LINES = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
_TEXT = {"vertical_strategy": "text", "horizontal_strategy": "text"}
_PAGE_NUMBER = re.compile(
    r"^[-—–\s]*(?:第\s*)?\d{1,3}\s*页?(?:\s*[/／]\s*(?:共\s*)?\d{1,3}\s*页?)?[-—–\s]*$"
    r"|^(?:page\s*)?\d{1,3}\s*(?:of\s*\d{1,3})?$",
    re.I,
)
#: points: column edges closer than this are the same edge
_EDGE_TOLERANCE = 3.0
_EOF_WINDOW = 1024
_CJK = re.compile(r"[\u2e80-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
#: characters after which word processors break a code or a figure at a cell's edge
_BREAK_AFTER = ("-", "/")
#: pdfminer's text for a character code without a Unicode mapping
_UNMAPPED = re.compile(r"^\(cid:\d+\)$")


@dataclass
class _Item:
    """A block of one page with its position, before tables are joined across pages."""

    top: float
    block: Block
    columns: tuple[float, ...] = ()  # x of each column's left edge, then the table's right edge
    #: columns whose cell in the last row has text running to the cell's edge (it may go on overleaf)
    open_cells: frozenset[int] = frozenset()
    #: a framed paragraph's table, kept to join it to the row above overleaf when it ends that row
    grid: Table | None = None


# --------------------------------------------------------------------------- tables


def _table_item(page, table, page_number: int) -> _Item | None:
    raw = table.extract()
    if not raw:
        return None
    rows = [[cell if cell is not None else "" for cell in row] for row in raw]
    for i, row in enumerate(rows):
        cells = table.rows[i].cells if i < len(table.rows) else []
        for j, text in enumerate(row):
            if "\n" in text and j < len(cells) and cells[j] is not None:
                row[j] = _soft_wraps(page, cells[j], text)
    _repeat_header_labels(table, raw, rows)
    filled = [cell for row in rows for cell in row if cell.strip()]
    top = table.bbox[1]
    if not filled:
        return None
    columns = tuple(round(column.bbox[0], 1) for column in table.columns) + (round(table.bbox[2], 1),)
    block = Table(rows=rows, page=page_number, row_pages=[page_number] * len(rows))
    last = table.rows[len(rows) - 1].cells if len(table.rows) >= len(rows) else []
    open_cells = frozenset(j for j, cell in enumerate(last) if cell is not None and rows[-1][j].strip()
                           and _runs_to_edge(page, cell, rows[-1][j]))
    if len(filled) == 1:  # a framed paragraph, unless it ends a row split by the page break
        return _Item(top, Paragraph(filled[0].strip(), page=page_number), columns, open_cells, grid=block)
    return _Item(top, block, columns, open_cells)


def _runs_to_edge(page, bbox: tuple, text: str) -> bool:
    """Does the cell's last line reach its right edge, or end where a code breaks ("430-0502-")?"""
    if text.rstrip().endswith(_BREAK_AFTER):
        return True
    lines = page.crop(bbox, strict=False).extract_text_lines()
    if not lines or not lines[-1]["chars"]:
        return False
    padding = max(0.0, min(line["x0"] for line in lines) - bbox[0])
    last = lines[-1]["chars"][-1]
    return lines[-1]["x1"] + (last["x1"] - last["x0"]) > bbox[2] - padding - 0.5


def _joinable(before: str, after: str) -> bool:
    return bool(before and after and not before.isspace() and not after.isspace()
                and not _CJK.match(before) and not _CJK.match(after))


def _soft_wraps(page, bbox: tuple, text: str) -> str:
    """Undo a line break that cut a code or number ("430-0502-JBN-G" / "G1U") at the cell's edge.

    A break between two non-CJK characters is kept as a line break (the row finder joins such
    lines with a space, as for wrapped words) unless the line before it is full (the first
    character of the next line would not have fitted before the cell's right padding) or ends
    with a hyphen or slash, where word processors such as LibreOffice break codes and figures
    ("430-0502-" / "JBN-GG1U").
    """
    parts = text.split("\n")
    if not any(_joinable(a[-1:], b[:1]) for a, b in zip(parts, parts[1:])):
        return text
    lines = page.crop(bbox, strict=False).extract_text_lines()
    if [line["text"].strip() for line in lines] != [part.strip() for part in parts] or not lines[1:]:
        return text
    padding = max(0.0, min(line["x0"] for line in lines) - bbox[0])
    limit = bbox[2] - padding
    out = parts[0]
    for previous, line, part in zip(lines, lines[1:], parts[1:]):
        first = line["chars"][0]
        full = previous["x1"] + (first["x1"] - first["x0"]) > limit - 0.5 or out.endswith(_BREAK_AFTER)
        out += part if full and _joinable(out[-1:], part[:1]) else "\n" + part
    return out


def _repeat_header_labels(table, raw: list[list], rows: list[list[str]]) -> None:
    """Repeat a header label (三级指标 …) into the rows its merged cell covers."""
    row_objects = table.rows
    for i in range(1, min(len(raw), len(row_objects))):
        row_top = row_objects[i].bbox[1]
        for j, cell in enumerate(raw[i]):
            if cell is not None or j >= len(row_objects[i].cells) or row_objects[i].cells[j] is not None:
                continue
            for k in range(i - 1, -1, -1):  # the nearest cell above in this column
                above = row_objects[k].cells[j] if j < len(row_objects[k].cells) else None
                if above is None:
                    continue
                if above[3] > row_top + 0.5 and raw[k][j] and _cell_field(raw[k][j]):
                    rows[i][j] = raw[k][j]
                break


# --------------------------------------------------------------------------- text lines


def _text_items(page, tables, page_number: int) -> list[_Item]:
    boxes = [t.bbox for t in tables]

    def outside(obj) -> bool:
        if obj.get("object_type") != "char":
            return True
        x = (obj["x0"] + obj["x1"]) / 2
        y = (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    lines = [line for line in page.filter(outside).extract_text_lines() if line["text"].strip()]
    if not lines:
        return []
    for index in (-1, 0):  # page numbers in the header or footer
        if lines and _PAGE_NUMBER.match(lines[index]["text"].strip()):
            lines.pop(index)
    if not lines:
        return []
    left = min(line["x0"] for line in lines)
    right = page.width - left  # the text block's right margin, assuming even margins
    items: list[_Item] = []
    previous = None
    for line in lines:
        text = line["text"].strip()
        height = line["bottom"] - line["top"]
        wrapped = (
            previous is not None
            and previous["x1"] >= right - 2 * height
            and line["top"] - previous["bottom"] < height  # official documents: 16 pt text on 28 pt lines
            and abs((previous["bottom"] - previous["top"]) - height) < 0.1 * height  # a heading's size differs
            and abs(line["x0"] - left) < height
            and not any(previous["bottom"] <= (b[1] + b[3]) / 2 <= line["top"] for b in boxes)
        )
        if wrapped:
            before = items[-1].block.text
            items[-1].block.text += (" " if _joinable(before[-1:], text[:1]) else "") + text
        else:
            items.append(_Item(line["top"], Paragraph(text, page=page_number)))
        previous = line
    return items


# --------------------------------------------------------------------------- pages


def _page_items(page, settings: dict) -> list[_Item]:
    number = page.page_number
    if not page.chars:
        return []
    tables = page.find_tables(table_settings=settings)
    items = [item for table in tables if (item := _table_item(page, table, number)) is not None]
    items += _text_items(page, tables, number)
    items.sort(key=lambda item: item.top)
    return items


# --------------------------------------------------------------------------- characters


def _readable(chars: list[dict]) -> int:
    """How many characters have a real text (not an unmapped code, a replacement or a control)."""
    return sum(1 for c in chars if c["text"].isprintable() and c["text"] != "\ufffd" and not _UNMAPPED.match(c["text"]))


def _has_fonts(resources, depth: int = 0) -> bool:
    """Do a page's (or form's) resources name a font, here or in a form XObject they draw?"""
    from pdfminer.pdftypes import resolve1

    resources = resolve1(resources)
    if not isinstance(resources, dict):
        return False
    if resolve1(resources.get("Font")):
        return True
    forms = resolve1(resources.get("XObject")) or {}
    for form in forms.values() if isinstance(forms, dict) and depth < 3 else ():
        form = resolve1(form)
        attrs = getattr(form, "attrs", {})
        if getattr(resolve1(attrs.get("Subtype")), "name", None) == "Form":
            if _has_fonts(attrs.get("Resources"), depth + 1):
                return True
    return False


class _Pdfium:
    """pdfium's reading of a file's characters, page by page, as pdfplumber characters."""

    def __init__(self, path: Path):
        self.path = path
        self.document = None
        self.pages: dict[int, list[dict]] = {}

    def chars(self, page) -> list[dict]:
        number = page.page_number
        if number not in self.pages:
            self.pages[number] = self._read(page)
        return self.pages[number]

    def _read(self, page) -> list[dict]:
        import pypdfium2
        import pypdfium2.raw as raw

        if self.document is None:
            self.document = pypdfium2.PdfDocument(str(self.path))
        pdf_page = self.document[page.page_number - 1]
        text_page = pdf_page.get_textpage()
        left, bottom, right, top = page.mediabox
        chars = []
        try:
            for i in range(text_page.count_chars()):
                if raw.FPDFText_IsGenerated(text_page.raw, i) or raw.FPDFText_HasUnicodeMapError(text_page.raw, i) == 1:
                    continue  # a space or line break pdfium inferred, or a code without a character
                text = chr(raw.FPDFText_GetUnicode(text_page.raw, i))
                if not text.isprintable():
                    continue
                x0, y0, x1, y1 = text_page.get_charbox(i, loose=True)
                size = raw.FPDFText_GetFontSize(text_page.raw, i)
                char_top = top - y1
                chars.append({
                    "object_type": "char", "page_number": page.page_number, "text": text,
                    "fontname": "pdfium", "size": size, "adv": x1 - x0,
                    "upright": abs(raw.FPDFText_GetCharAngle(text_page.raw, i)) < 0.01,
                    "x0": x0 - left, "x1": x1 - left, "y0": y0 - bottom, "y1": y1 - bottom,
                    "top": char_top, "bottom": top - y0, "doctop": page.initial_doctop + char_top,
                    "width": x1 - x0, "height": y1 - y0, "matrix": (1, 0, 0, 1, x0 - left, y0 - bottom),
                    "mcid": None, "tag": None, "ncs": None, "non_stroking_color": None, "stroking_color": None,
                })
        finally:
            text_page.close()
            pdf_page.close()
        return chars

    def close(self) -> None:
        if self.document is not None:
            self.document.close()


def _use_readable_chars(page, pdfium: _Pdfium) -> tuple[int, bool]:
    """Give the page pdfium's characters where pdfminer could not read those of its fonts.

    Returns (readable characters, whether the page has fonts).
    """
    chars = page.chars
    readable = _readable(chars)
    if 2 * readable > len(chars):
        return readable, True
    if not _has_fonts(page.page_obj.resources):
        return readable, False
    other = pdfium.chars(page)
    if len(other) > readable:  # pdfium's characters are all readable (see _Pdfium._read)
        page.objects["char"] = other  # every view of the page (crop, filter, tables) reads these
        return len(other), True
    return readable, True


def _index_map(edges: tuple[float, ...], onto: tuple[float, ...]) -> list[int] | None:
    """Index in ``onto`` of each column edge in ``edges``, or None when one has no match."""
    mapping = []
    for edge in edges[:-1]:
        match = next((k for k, x in enumerate(onto[:-1]) if abs(x - edge) <= _EDGE_TOLERANCE), None)
        if match is None:
            return None
        mapping.append(match)
    return mapping


def _column_maps(previous: tuple[float, ...], columns: tuple[float, ...]):
    """Columns of a table and of its continuation on one grid: (grid, previous map, new map) or None.

    The two must share their outer edges, and the column edges of one must be a subset of
    the other's (a continuation may lack the splits of the rows above it, or add some).
    """
    if len(previous) < 2 or len(columns) < 2:
        return None
    if abs(previous[0] - columns[0]) > _EDGE_TOLERANCE or abs(previous[-1] - columns[-1]) > _EDGE_TOLERANCE:
        return None
    new_map = _index_map(columns, previous)
    if new_map is not None:
        return previous, list(range(len(previous) - 1)), new_map
    previous_map = _index_map(previous, columns)
    if previous_map is not None:
        return columns, previous_map, list(range(len(columns) - 1))
    return None


def _spread(row: list[str], mapping: list[int], width: int) -> list[str]:
    wide = [""] * width
    for col, cell in enumerate(row):
        if col < len(mapping) and not wide[mapping[col]]:
            wide[mapping[col]] = cell
    return wide


def _continues(table: Table, rows: list[list[str]]) -> bool:
    """The first row of a table at the top of a page: does it go on with ``table``?"""
    first = rows[0]
    if any(squash(cell) in _NAME_LABELS | _CODE_LABELS for cell in first):
        return False  # a new project's table
    if _find_header([first]) is None or _find_header(table.rows) is None:
        return True  # indicator rows, or the header of a table that stopped before it
    repeated = [squash(c) for c in first]
    return any([squash(c) for c in row] == repeated for row in table.rows)  # a repeated header


def _join_pages(pages: list[list[_Item]]) -> list[Block]:
    blocks: list[Block] = []
    last: _Item | None = None  # the table that ended the previous page
    for items in pages:
        ending: _Item | None = None
        for position, item in enumerate(items):
            block = item.block
            ending = item if isinstance(block, Table) else None
            if position == 0 and last is not None and (isinstance(block, Table) or item.grid) and _append(last, item):
                ending = last
                continue
            blocks.append(block)
        last = ending
    return [part for block in blocks for part in (_split_projects(block) if isinstance(block, Table) else [block])]


def _append(last: _Item, item: _Item) -> bool:
    """Append ``item``'s rows to the table ``last`` when it continues it; say whether it did."""
    table, block = last.block, item.grid or item.block
    maps = _column_maps(last.columns, item.columns)
    if maps is None or not isinstance(table, Table) or not _continues(table, block.rows):
        return False
    grid, previous_map, new_map = maps
    width = len(grid) - 1
    open_cells = {previous_map[j] for j in last.open_cells if j < len(previous_map)}
    if grid is not last.columns:  # the continuation splits columns the rows above did not
        table.rows[:] = [_spread(row, previous_map, width) for row in table.rows]
        last.columns = grid
    rows = [_spread(row, new_map, width) for row in block.rows]
    pages = list(block.row_pages)
    filled = {j for j, cell in enumerate(rows[0]) if cell.strip()}
    above = table.rows[-1]
    split = bool(filled) and all(above[j].strip() for j in filled) and (
        filled <= open_cells
        or any(not rows[0][j].strip() for j in _always_filled(table.rows))
        or any(_completes_label(above[j], rows[0][j]) for j in filled)
    )  # the row above, split by the page break
    if item.grid is not None and not split:
        return False  # a framed paragraph of its own
    if split:  # its cells go on
        table.rows[-1] = [_continue_cell(a, b, j in open_cells)
                          for j, (a, b) in enumerate(zip(table.rows[-1], rows[0]))]
        rows, pages = rows[1:], pages[1:]
    table.rows.extend(rows)
    table.row_pages.extend(pages)
    last.open_cells = frozenset(new_map[j] for j in item.open_cells if j < len(new_map))
    return True


def _is_label(text: str) -> bool:
    return squash(text) in _NAME_LABELS | _CODE_LABELS or bool(_cell_field(text))


def _completes_label(before: str, after: str) -> bool:
    """"项目名" above and "称" overleaf: only together are they a label (项目名称, 三级指标 …)."""
    return not _is_label(before) and _is_label(before.strip() + after.strip())


def _always_filled(rows: list[list[str]]) -> set[int]:
    """Columns filled in every row under the table's last indicator header (at least two rows):
    a row overleaf without them is the rest of the row above, not an indicator of its own."""
    start = None
    for i in range(len(rows)):
        if _find_header([rows[i]]) is not None:
            start = i + 1
    body = rows[start:] if start is not None else []
    if len(body) < 2:
        return set()
    return {j for j in range(len(body[0])) if all(j < len(row) and row[j].strip() for row in body)}


def _split_projects(table: Table) -> list[Table]:
    """A table holding the next project's table too (drawn touching it): split before each row
    that starts a project (项目名称/项目编码 first) below an indicator header."""
    parts, start, header_seen = [], 0, False
    for i, row in enumerate(table.rows):
        first = next((squash(cell) for cell in row if cell.strip()), "")
        if header_seen and i > start and first in _NAME_LABELS | _CODE_LABELS:
            parts.append((start, i))
            start, header_seen = i, False
        header_seen = header_seen or _find_header([row]) is not None
    parts.append((start, len(table.rows)))
    if len(parts) == 1:
        return [table]
    return [Table(rows=table.rows[a:b], page=table.row_pages[a] if table.row_pages else table.page,
                  row_pages=table.row_pages[a:b]) for a, b in parts]


def _continue_cell(before: str, after: str, full: bool) -> str:
    """A cell's text on the next page, after its text above (a code cut at a full line or a
    hyphen goes on without a break, as in ``_soft_wraps``)."""
    if not after.strip():
        return before
    if full and _joinable(before.rstrip()[-1:], after.lstrip()[:1]):
        return before.rstrip() + after.lstrip()
    return before + "\n" + after


# --------------------------------------------------------------------------- reader


def _check_complete(path: Path) -> None:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - _EOF_WINDOW))
        tail = handle.read()
    if b"%%EOF" not in tail:
        raise InputError(path, "corrupt PDF file (no %%EOF end marker: truncated or damaged)")


def _encryption_reason(exc: BaseException) -> str:
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    seen: list[BaseException] = [exc]
    while seen:
        error = seen.pop()
        if isinstance(error, PDFPasswordIncorrect):
            return "encrypted PDF: cannot read (password protected)"
        if isinstance(error, PDFEncryptionError):
            return f"encrypted PDF: cannot read (unsupported encryption: {error})"
        seen.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))
        seen.extend(e for e in (error.__cause__, error.__context__) if e is not None and e is not error)
    return ""


def _read(path: Path) -> list[Block]:
    import pdfplumber

    _check_complete(path)
    pdfium = _Pdfium(path)
    with path.open("rb") as stream:  # closed here whatever pdfplumber does on failure
        try:
            pdf = pdfplumber.open(stream, raise_unicode_errors=False)
        except Exception as exc:
            reason = _encryption_reason(exc)
            if reason:
                raise InputError(path, reason) from None
            raise
        try:
            with pdf:
                pages, chars, fonts = _read_pages(pdf, _LINES, pdfium)
                if not chars and fonts:
                    raise InputError(path, "text layer unreadable: its fonts give no character that pdfminer or "
                                           "pdfium can read (no Unicode mapping): run OCR first")
                if not chars:
                    raise InputError(path, "no text layer (scanned PDF?): run OCR first")
                if not any(isinstance(item.block, Table) for items in pages for item in items):
                    pages, chars, fonts = _read_pages(pdf, _TEXT, pdfium)
        finally:
            pdfium.close()
    return _join_pages(pages)


def _read_pages(pdf, settings: dict, pdfium: _Pdfium) -> tuple[list[list[_Item]], int, bool]:
    """Each page's items, the readable characters of all pages, and whether any page has fonts."""
    pages, total, fonts = [], 0, False
    for page in pdf.pages:
        try:
            readable, has_fonts = _use_readable_chars(page, pdfium)
            pages.append(_page_items(page, settings) if readable else [])
        finally:
            page.close()
        total += readable
        fonts = fonts or has_fonts
    return pages, total, fonts


_MAGIC = b"%PDF"


def _sniff(head: bytes, path: Path) -> bool:
    return head.startswith(_MAGIC)


READER = Reader(name="PDF", suffixes=(".pdf",), sniff=_sniff, read=_read, magic=_MAGIC)
