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
    """One input format: a name for messages, its suffixes, a content sniffer and the reader."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, Path], bool]
    read: Callable[[Path], list[Block]]
