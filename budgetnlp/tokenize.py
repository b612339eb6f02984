"""Word segmentation with jieba and the domain dictionary in budgetnlp/resources/user_dict.txt.

Each process owns one ``jieba.Tokenizer`` (never jieba's module-level default), built on first
use; segmentation is deterministic, so workers in several processes agree token for token.
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import lru_cache
from importlib import resources

from ._text import nfkc

#: the text fields tokenized per row, with the prefix their tokens carry in the features
FIELDS = {"name": "n", "description": "d", "value": "v", "basis": "b", "level2": "c"}


def user_dict_path() -> str:
    return str(resources.files("budgetnlp") / "resources" / "user_dict.txt")


@lru_cache(maxsize=1)
def _tokenizer(pid: int):
    """One tokenizer per process (the pid keys the cache: a forked child builds its own)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    # a cache file per user avoids two processes racing on jieba's shared default
    tokenizer.tmp_dir = tempfile.gettempdir()
    tokenizer.cache_file = f"budgetnlp-jieba-{os.getuid() if hasattr(os, 'getuid') else 'u'}.cache"
    tokenizer.initialize()
    with open(user_dict_path(), "rb") as handle:  # given a path, jieba leaves the file open
        tokenizer.load_userdict(handle)
    return tokenizer


def tokenize(text: object) -> list[str]:
    """Tokens of NFKC text, whitespace and punctuation-only tokens dropped."""
    text = nfkc(text).strip()
    return list(_tokens(text, os.getpid())) if text else []


@lru_cache(maxsize=1 << 16)
def _tokens(text: str, pid: int) -> tuple[str, ...]:
    """Segmentation of one string, cached: names, values and bases repeat across rows and documents."""
    return tuple(t for t in _tokenizer(pid).lcut(text, HMM=False) if t.strip() and any(ch.isalnum() for ch in t))


def tokenize_fields(row: dict) -> dict[str, list[str]]:
    """Tokens of each text field of a row (missing fields give no tokens)."""
    return {field: tokenize(row.get(field) or "") for field in FIELDS}


def field_tokens(row: dict) -> list[str]:
    """All fields' tokens, each prefixed by its field ("n:满意度", "v:≥"), for one bag of words."""
    out = []
    for field, prefix in FIELDS.items():
        out += [f"{prefix}:{token}" for token in tokenize(row.get(field) or "")]
    return out
