"""Decoding text files: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

_ENCODINGS = ("utf-8-sig", "gb18030")


def decode_bytes(data: bytes, path: Path) -> str:
    """Return the text of ``data`` or raise InputError naming the file."""
    if not data.strip():
        raise InputError(path, "empty file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(path, "undecodable text: broken UTF-16") from None
    if b"\x00" in data[:4096]:
        raise InputError(path, "binary content, not a text file")
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "undecodable text: neither UTF-8 nor GB18030/GBK")
