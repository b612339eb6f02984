"""Text helpers shared by every stage: matching is done on NFKC text, display on the original."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WS = re.compile(r"\s+")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def nfkc(text: object) -> str:
    """NFKC-normalize (full-width ＝ ％ digits → ASCII); None/NaN become ''."""
    if text.__class__ is str:  # the common case first: extraction calls this millions of times
        return _nfkc(text)
    if text is None or (isinstance(text, float) and text != text):
        return ""
    return _nfkc(text if isinstance(text, str) else str(text))


def squash(text: object) -> str:
    """NFKC without any whitespace: the key used to compare cells across sources."""
    if text.__class__ is str:
        return _squash(text)
    if text is None or (isinstance(text, float) and text != text):
        return ""
    return _squash(text if isinstance(text, str) else str(text))


@lru_cache(maxsize=1 << 16)
def _nfkc(text: str) -> str:  # cells repeat a lot across rows and documents: cache them
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=1 << 16)
def _squash(text: str) -> str:
    return _WS.sub("", _nfkc(text))


def join_lines(text: str) -> str:
    """Collapse a cell's line breaks: CJK fragments join directly, other words with a space."""
    return _join_lines(text if isinstance(text, str) else str(text))


@lru_cache(maxsize=1 << 16)
def _join_lines(text: str) -> str:  # cells repeat across rows, tables and documents
    parts = [p.strip() for p in text.splitlines()]
    out = ""
    for part in parts:
        if not part:
            continue
        if out and not (_CJK.search(out[-1]) or _CJK.search(part[0])):
            out += " "
        out += part
    return out.strip()
