"""What every format reader produces: the document as paragraphs and tables, in reading order.

A reader only has to turn its file format into this shape; finding indicator tables,
project context, merged cells and duplicates is done once, in ``_indicators.py``.
Merged cells may come out empty or repeated: both are handled downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union


@dataclass
class Paragraph:
    text: str
    page: int | None = None


@dataclass
class Table:
    rows: list[list[str]]
    page: int | None = None
    #: page of each row where the format knows it (PDF tables may span pages)
    row_pages: list[int | None] = field(default_factory=list)


Block = Union[Paragraph, Table]


@dataclass(frozen=True)
class Reader:
    """One input format: a name for messages, its suffixes, a content sniffer and the reader.

    ``sniff(head, path)`` says whether the file (its first bytes, and the path for formats that
    must look inside, like zip members) is of this format. ``magic`` is the signature every file
    of a binary format starts with; text formats (``magic`` empty) are chosen only for their own
    suffixes, binary formats by content whatever the name (extract/_dispatch.py)."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, Path], bool]
    read: Callable[[Path], list[Block]]
    magic: bytes = b""


ZIP_MAGIC = b"PK\x03\x04"


def zip_members(path: Path) -> frozenset[str]:
    """Member names of a zip archive; empty for anything that is not a readable zip."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return frozenset(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return frozenset()
