"""Resource limits for one document, so a small hostile file cannot take minutes or gigabytes:
the unpacked size of each zip member (docx/xlsx) and of all of them, HTML nesting depth, and
cells per table. Defaults fit every real disclosure seen; each is a command-line option.

The limits in force are set per call of ``extract_file`` (``active``), in whichever process
runs it, so readers deep in a format (the HTML tree) can check them without a new argument.
"""

from __future__ import annotations

import zipfile
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import ConfigError, LimitExceeded

MB = 1024 * 1024
#: lxml's HTML parser cuts a tree at 256 levels without a word, so a deeper limit could not be checked
HTML_PARSER_DEPTH = 255


@dataclass(frozen=True)
class Limits:
    member_mb: float = 32  # one zip member, unpacked (a docx's document.xml, an xlsx sheet)
    document_mb: float = 96  # all members of one zip file, unpacked
    html_depth: int = 200  # nesting of HTML elements
    table_cells: int = 2_000_000  # cells of one table (rows × columns as read)

    def __post_init__(self):
        if min(self.member_mb, self.document_mb, self.html_depth, self.table_cells) <= 0:
            raise ConfigError("limits must be positive numbers")
        if self.html_depth > HTML_PARSER_DEPTH:
            raise ConfigError(f"--max-html-depth can be at most {HTML_PARSER_DEPTH} (the HTML parser's own depth limit)")


DEFAULT = Limits()
_active = [DEFAULT]


def active() -> Limits:
    return _active[-1]


@contextmanager
def using(limits: Limits | None):
    _active.append(limits or DEFAULT)
    try:
        yield _active[-1]
    finally:
        _active.pop()


def check_zip(archive: zipfile.ZipFile, limits: Limits | None = None) -> None:
    """Refuse a zip whose members unpack too large. The sizes in the directory bind: Python's
    zipfile stops reading a member at its declared size (and fails its CRC if there is more)."""
    limits = limits or active()
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > limits.member_mb * MB:
            raise LimitExceeded(
                f"zip member {info.filename} unpacks to {info.file_size / MB:.0f} MB, over the "
                f"{limits.member_mb:g} MB limit (raise it with --max-member-mb if the file is genuine)")
    if total > limits.document_mb * MB:
        raise LimitExceeded(
            f"unpacks to {total / MB:.0f} MB in all, over the {limits.document_mb:g} MB limit "
            f"(raise it with --max-document-mb if the file is genuine)")


def check_html_depth(root, limits: Limits | None = None) -> None:
    """Refuse an HTML tree nested deeper than the limit (or cut by the parser at its own limit)."""
    limits = limits or active()
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        stack.extend((child, depth + 1) for child in node)
    if deepest > limits.html_depth or deepest > HTML_PARSER_DEPTH:
        shown = f"{deepest}" if deepest <= HTML_PARSER_DEPTH else f"more than {HTML_PARSER_DEPTH}"
        raise LimitExceeded(f"HTML nested {shown} levels deep, over the {limits.html_depth} level limit "
                            f"(--max-html-depth)")


def check_tables(blocks, limits: Limits | None = None) -> None:
    """Refuse a document with a table of more cells than the limit."""
    limits = limits or active()
    for number, block in enumerate((b for b in blocks if hasattr(b, "rows")), start=1):
        cells = sum(len(row) for row in block.rows)
        if cells > limits.table_cells:
            raise LimitExceeded(f"table {number} has {cells:,} cells, over the {limits.table_cells:,} cell limit "
                                f"(--max-table-cells)")
