"""Excel workbooks: .xlsx/.xlsm with openpyxl, legacy .xls with xlrd.

Every sheet becomes a Paragraph with the sheet's title, then the blocks of its used range:

- Cells are rendered as Excel displays them where practical: text as is; integers without
  ".0"; fixed decimals, thousands separators, percent and literal prefixes/suffixes of the
  cell's number format (``0.00`` → "100.00", ``0%`` → "95%", ``0"人"`` → "78人"); other
  numbers with up to 15 significant digits; dates as "YYYY-MM-DD" (with the time when it
  is not midnight), or as the format shows them when it is a Chinese date format
  (``yyyy"年"m"月"d"日"`` → "2023年12月31日"); booleans as TRUE/FALSE; formulas by their
  cached value (a formula never calculated by Excel is empty).
- A merged range gives its value in its top-left cell and "" in the others; where the
  top-left cell is an indicator-table header label (三级指标, 指标值 …) spanning several rows,
  the label is repeated down the range, so that the second row of a two-row header
  (指标值 over 指标性质 | 指标值 | 计量单位) reads as a header row and not as an indicator row.
- A run of non-empty rows is one table; fully empty rows separate tables (rows covered by a
  vertical merge count as non-empty). Rows holding a single non-empty cell at the top of a
  run (a title such as "2024年部门预算项目绩效目标表" or "1、XXX绩效目标表") are Paragraphs, and
  so is a single-cell row ending in "表" inside a run (a heading with no empty row before
  it): it ends the table above it. Each table is cut to the columns it uses.
- A run without a header or project labels that follows a table holding an indicator
  header (or a flat list's header) after one or two empty rows, within its columns, and whose
  first row has a 三级指标 cell in that header's column, continues that table (empty spacer
  rows inside an indicator table, or between the projects of a flat list).
- Flat lists (one header row holding 项目名称 next to 三级指标, the project repeated or merged
  down on every row) are turned into one table per project (``_flat_list.flat_list_blocks``,
  the layout the shared row finder reads).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from .._text import squash
from ..errors import InputError
from ._blocks import ZIP_MAGIC, Block, Paragraph, Reader, Table, zip_members
from ._flat_list import flat_list_blocks
from ._headers import CODE_LABELS, NAME_LABELS, cell_field, find_header

#: (row, col) → rendered text, 0-based, non-empty cells only
Cells = dict[tuple[int, int], str]
#: top-left (row, col) of a merged range → its last (row, col)
Spans = dict[tuple[int, int], tuple[int, int]]

_HEADING_ROW = re.compile(r"表$")
_MAX_SPACER_ROWS = 2


# --------------------------------------------------------------------------- number formats


def _split_sections(fmt: str) -> list[str]:
    sections, current, quoted, escaped = [], "", False, False
    for char in fmt:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == '"':
            current += char
            quoted = not quoted
        elif char == ";" and not quoted:
            sections.append(current)
            current = ""
        else:
            current += char
    sections.append(current)
    return sections


_FORMAT_TOKEN = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.|[0#?.,%]|[eE][+-]|@|.', re.S)


def _general(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def format_number(value: float, fmt: str | None) -> str:
    """A number as a cell with number format ``fmt`` shows it (the common formats; else General)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    fmt = fmt or ""
    if not fmt.strip() or fmt.strip().lower() in {"general", "@"}:
        return _general(value)
    sections = _split_sections(fmt)
    section, sign = sections[0], "-" if value < 0 else ""
    if value < 0 and len(sections) >= 2 and sections[1].strip():
        section, sign = sections[1], ""
    elif value == 0 and len(sections) >= 3 and sections[2].strip():
        section = sections[2]
    prefix, suffix, pattern, percents = "", "", "", 0
    for token in _FORMAT_TOKEN.findall(section):
        if token in ("0", "#", "?", ".") or (token == "," and pattern):
            pattern += token
            continue
        if (token[0] in "eE" and len(token) == 2) or token == "/":
            return _general(value)  # scientific and fraction formats: General is close enough
        if token.startswith('"'):
            literal = token[1:-1]
        elif token.startswith("\\"):
            literal = token[1:]
        elif token.startswith("["):
            inner = token[1:-1]
            literal = inner[1:].split("-")[0] if inner.startswith("$") else ""
        elif token[0] in "_*" or token == "@":
            literal = ""
        elif re.fullmatch(r"[A-Za-z]", token):
            return _general(value)  # date parts or a named format on a plain number
        else:
            literal = token
            percents += token == "%"
        if pattern:
            suffix += literal
        else:
            prefix += literal
    if not any(ch in pattern for ch in "0#?"):
        return (prefix + suffix).strip() or _general(value)  # a section of literals only: "-"
    integer_part, _, fraction_part = pattern.partition(".")
    fixed = fraction_part.count("0")
    most = sum(fraction_part.count(ch) for ch in "0#?")
    grouping = "," in integer_part.strip(",")
    thousands = len(integer_part) - len(integer_part.rstrip(","))  # trailing commas scale by 1000
    number = abs(Decimal(repr(float(value)))) * Decimal(100) ** percents / Decimal(1000) ** thousands
    try:
        number = number.quantize(Decimal(1).scaleb(-most), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return _general(value)
    text = format(number, f"{',' if grouping else ''}.{most}f")
    if most > fixed:  # optional digits (#): drop trailing zeros down to the fixed ones
        head, _, tail = text.partition(".")
        tail = tail.rstrip("0").ljust(fixed, "0")
        text = f"{head}.{tail}" if tail else head
    if "0" not in integer_part and text.startswith("0"):  # only # or ? before the point
        text = text[1:]
    if number == 0:
        sign = ""
    return f"{sign}{prefix}{text}{suffix}".strip() or "0"


_DATE_TOKEN = re.compile(
    r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.|yyyy|yy|mmmmm|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p|\.0+|e|.',
    re.I | re.S,
)


def format_date(value: dt.datetime | dt.date | dt.time, fmt: str | None) -> str:
    """A date as "YYYY-MM-DD" (time added when not midnight), or as a Chinese date format shows it."""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    shown = _chinese_date(value, fmt or "")
    if shown:
        return shown
    if value.time() == dt.time(0, 0):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")


def _chinese_date(value: dt.datetime, fmt: str) -> str:
    section = _split_sections(fmt)[0]
    if not re.search(r"[年月日时分秒]", section.replace("\\", "")):
        return ""
    tokens = _DATE_TOKEN.findall(section)
    out: list[str] = []
    for i, token in enumerate(tokens):
        low = token.lower()
        if token.startswith('"'):
            out.append(token[1:-1])
        elif token.startswith("\\"):
            out.append(token[1:])
        elif token.startswith("[") or low[0] in "_*" and len(token) == 2:
            continue
        elif low in {"yyyy", "yy"}:
            out.append(f"{value.year:04d}" if low == "yyyy" else f"{value.year % 100:02d}")
        elif low in {"m", "mm"}:
            before = [t.lower() for t in tokens[:i] if t.lower() in {"h", "hh", "d", "dd", "yyyy", "yy", "m", "mm"}]
            after = [t.lower() for t in tokens[i + 1:] if t.lower() in {"s", "ss", "d", "dd", "yyyy", "yy", "h", "hh"}]
            minute = (before and before[-1] in {"h", "hh"}) or (after and after[0] in {"s", "ss"})
            number = value.minute if minute else value.month
            out.append(f"{number:02d}" if low == "mm" else str(number))
        elif low in {"d", "dd"}:
            out.append(f"{value.day:02d}" if low == "dd" else str(value.day))
        elif low in {"h", "hh"}:
            out.append(f"{value.hour:02d}" if low == "hh" else str(value.hour))
        elif low in {"s", "ss"}:
            out.append(f"{value.second:02d}" if low == "ss" else str(value.second))
        elif low in {"mmm", "mmmm", "mmmmm", "ddd", "dddd", "am/pm", "a/p", "e"} or low.startswith("."):
            return ""  # names of months/days, 12-hour clocks, era years: use ISO instead
        else:
            out.append(token)
    return "".join(out).strip()


def _text(value: str) -> str:
    return value.replace("_x000D_", "").replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- .xlsx / .xlsm


#: built-in date formats of Chinese Excel (ECMA-376 zh-CN), which openpyxl reads as "General"
_CJK_DATE_FORMATS = {
    **dict.fromkeys((27, 36, 50, 52, 57), 'yyyy"年"m"月"'),
    **dict.fromkeys((28, 29, 51, 53, 54, 58), 'm"月"d"日"'),
    30: "m-d-yy",
    31: 'yyyy"年"m"月"d"日"',
}


def _render_openpyxl(cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    style_id = getattr(getattr(cell, "_style", None), "numFmtId", 0)
    if style_id in _CJK_DATE_FORMATS and isinstance(value, (int, float)):
        from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

        try:
            value = from_excel(value, getattr(cell.parent.parent, "epoch", WINDOWS_EPOCH))
        except (ValueError, OverflowError):
            return format_number(float(value), None)
        return format_date(value, _CJK_DATE_FORMATS[style_id])
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return format_date(value, cell.number_format)
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        return format_number(float(value), cell.number_format)
    return _text(str(value))


def _read_xlsx(path: Path) -> list[Block]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=False, data_only=True)
    try:
        blocks: list[Block] = []
        for sheet in workbook.worksheets:
            cells: Cells = {}
            # the sheet's stored cells only: iter_rows over max_row x max_column would create
            # every cell of a range inflated by formatting (a million rows)
            stored = getattr(sheet, "_cells", None)
            items = stored.items() if stored is not None else (
                ((c.row, c.column), c) for row in sheet.iter_rows() for c in row
            )
            for (row, col), cell in list(items):
                if cell.value is None:
                    continue
                text = _render_openpyxl(cell)
                if text.strip():
                    cells[(row - 1, col - 1)] = text
            spans: Spans = {
                (r.min_row - 1, r.min_col - 1): (r.max_row - 1, r.max_col - 1) for r in sheet.merged_cells.ranges
            }
            blocks.extend(sheet_blocks(sheet.title, cells, spans))
        return blocks
    finally:
        workbook.close()


# --------------------------------------------------------------------------- .xls


def _read_xls(path: Path) -> list[Block]:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except NotImplementedError:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is an encrypted file
        # an encrypted .xlsx is an OLE file holding an "EncryptedPackage" stream
        if "encrypted" in str(exc).lower() or "EncryptedPackage".encode("utf-16-le") in path.read_bytes():
            raise InputError(path, "encrypted workbook: cannot read (password protected)") from None
        raise
    try:
        blocks: list[Block] = []
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            cells: Cells = {}
            for row in range(sheet.nrows):
                for col, cell in enumerate(sheet.row(row)):
                    text = _render_xlrd(book, cell, xlrd)
                    if text.strip():
                        cells[(row, col)] = text
            spans: Spans = {(rlo, clo): (rhi - 1, chi - 1) for rlo, rhi, clo, chi in sheet.merged_cells}
            blocks.extend(sheet_blocks(sheet.name, cells, spans))
            book.unload_sheet(index)
        return blocks
    finally:
        book.release_resources()


def _render_xlrd(book, cell, xlrd) -> str:
    kind = cell.ctype
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if kind == xlrd.XL_CELL_TEXT:
        return _text(cell.value)
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if cell.value else "FALSE"
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERR")
    fmt = _xlrd_format(book, cell)
    if kind == xlrd.XL_CELL_DATE:
        try:
            value = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return format_number(cell.value, None)
        if cell.value < 1:  # a time of day only
            return format_date(value.time(), fmt)
        return format_date(value, fmt)
    return format_number(float(cell.value), fmt)


def _xlrd_format(book, cell) -> str | None:
    try:
        key = book.xf_list[cell.xf_index].format_key
        return book.format_map[key].format_str
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- grid → blocks


def sheet_blocks(title: str, cells: Cells, spans: Spans) -> list[Block]:
    """One sheet: its title, then its paragraphs and tables (see the module docstring)."""
    blocks: list[Block] = [Paragraph(title.strip())] if title and title.strip() else []
    cells = dict(cells)
    covered: set[int] = set()
    for (top, left), (bottom, _right) in spans.items():
        text = cells.get((top, left), "")
        if not text:
            continue
        covered.update(range(top + 1, bottom + 1))
        if bottom > top and cell_field(text):  # a header label merged down: repeat it
            for row in range(top + 1, bottom + 1):
                cells.setdefault((row, left), text)
    by_row: dict[int, dict[int, str]] = defaultdict(dict)
    for (row, col), text in cells.items():
        by_row[row][col] = text
    for row in covered:
        by_row.setdefault(row, {})
    runs: list[list[int]] = []
    for row in sorted(by_row):
        if runs and row == runs[-1][-1] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])

    # paragraphs (str) and tables (lists of rows), before tables become blocks
    parts: list[str | list[dict[int, str]]] = []
    last_row = -1
    for run in runs:
        rows = [by_row[row] for row in run]
        if parts and not isinstance(parts[-1], str) and _continues(parts[-1], run[0] - last_row - 1, rows):
            parts[-1].extend(row for row in rows if row)
            last_row = run[-1]
            continue
        start = 0
        while start < len(rows) and len(rows[start]) <= 1:  # titles at the top of a run
            if rows[start]:
                parts.append(next(iter(rows[start].values())).strip())
            start += 1
        table: list[dict[int, str]] = []
        for cellmap in rows[start:]:
            only = next(iter(cellmap.values())) if len(cellmap) == 1 else ""
            if only and table and _HEADING_ROW.search(squash(only)):  # a heading inside the run
                parts += [table, only.strip()]
                table = []
            elif cellmap:
                table.append(cellmap)
        if table:
            parts.append(table)
        last_row = run[-1]
    for part in parts:
        if isinstance(part, str):
            blocks.append(Paragraph(part))
        else:
            blocks.extend(_table_blocks(part))
    return blocks


def _span(rows: list[dict[int, str]]) -> tuple[int, int]:
    return min(min(row) for row in rows), max(max(row) for row in rows)


def _dense(cellmap: dict[int, str], first: int, last: int) -> list[str]:
    return [cellmap.get(col, "") for col in range(first, last + 1)]


def _table_blocks(rows: list[dict[int, str]]) -> list[Block]:
    """The table for ``rows`` (a flat list: one table per project), cut to the columns it uses."""
    first, last = _span(rows)
    grid = [_dense(row, first, last) for row in rows]
    flat = flat_list_blocks(grid)
    return flat if flat is not None else [Table(rows=grid)]


def _continues(table: list[dict[int, str]], gap: int, rows: list[dict[int, str]]) -> bool:
    """An empty spacer row inside an indicator table (or flat list): the run below continues it."""
    rows = [row for row in rows if row]
    if not rows or gap > _MAX_SPACER_ROWS or len(rows[0]) < 2:
        return False
    first, last = _span(table)
    header = find_header([_dense(row, first, last) for row in table])
    if header is None:
        return False
    low, high = _span(rows)
    if low < first or high > last:
        return False
    dense = [_dense(row, first, last) for row in rows]
    if find_header(dense) is not None or any(squash(c) in NAME_LABELS | CODE_LABELS for r in dense for c in r):
        return False
    return bool(squash(dense[0][header.columns["name"]]))


# --------------------------------------------------------------------------- readers


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _sniff_xlsx(head: bytes, path: Path) -> bool:
    return head.startswith(ZIP_MAGIC) and "xl/workbook.xml" in zip_members(path)


def _sniff_xls(head: bytes, path: Path) -> bool:
    """An OLE compound file, unless named .doc (legacy Word shares the container)."""
    return head.startswith(_OLE) and path.suffix.lower() != ".doc"


READER = Reader(name="xlsx", suffixes=(".xlsx", ".xlsm"), sniff=_sniff_xlsx, read=_read_xlsx, magic=ZIP_MAGIC)
XLS_READER = Reader(name="xls", suffixes=(".xls",), sniff=_sniff_xls, read=_read_xls, magic=_OLE)
