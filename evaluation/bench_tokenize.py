"""Tokenizer speed: every text field (tokenize.FIELDS) of the sample rows, replicated to
≥100,000 strings, through budgetnlp.tokenize (caches cleared first; and with no cache at all)
and through plain jieba.lcut (jieba's default dictionary) on the same strings.

    python evaluation/bench_tokenize.py [--strings 100000]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path

import jieba

from budgetnlp import tokenize as tok
from budgetnlp._text import _nfkc, _squash, nfkc
from budgetnlp.extract import extract

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def sample_strings(minimum: int) -> tuple[list[str], int]:
    """The samples' text fields, row by row, repeated until there are ≥ ``minimum`` strings."""
    rows = extract([SAMPLES]).rows
    cells = rows[list(tok.FIELDS)].fillna("").astype(str)
    one_pass = [text for row in cells.itertuples(index=False) for text in row]
    copies = math.ceil(minimum / len(one_pass))
    return one_pass * copies, len(rows) * copies


def clear_caches() -> None:
    tok._tokens.cache_clear()
    _nfkc.cache_clear()
    _squash.cache_clear()


def timed(label: str, func, strings: list[str], rows: int) -> None:
    start = time.perf_counter()
    tokens = sum(len(func(s)) for s in strings)
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:7.2f} s {tokens / seconds:12,.0f} tokens/s {rows / seconds:10,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=100_000)
    args = parser.parse_args()
    jieba.setLogLevel(logging.WARNING)
    strings, rows = sample_strings(args.strings)
    distinct = len(set(strings))
    print(f"strings: {len(strings):,} ({distinct:,} distinct)  rows: {rows:,} ({len(tok.FIELDS)} fields each)  one process")

    start = time.perf_counter()
    tok._tokenizer.cache_clear()
    tok._tokenizer(os.getpid())
    print(f"budgetnlp tokenizer built (jieba dictionary + user dictionary) in {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    jieba.initialize()
    print(f"jieba default tokenizer initialized in {time.perf_counter() - start:.2f} s")
    print()

    pid = os.getpid()
    uncached = tok._tokens.__wrapped__

    def no_cache(text: str) -> tuple[str, ...]:
        text = nfkc(text).strip()
        return uncached(text, pid) if text else ()

    clear_caches()
    timed("budgetnlp.tokenize, caches cleared first (repeats hit)", tok.tokenize, strings, rows)
    clear_caches()
    timed("budgetnlp.tokenize, every string segmented (no cache)", no_cache, strings, rows)
    timed("jieba.lcut (default dictionary, HMM on)", jieba.lcut, strings, rows)
    timed("jieba.lcut (default dictionary, HMM=False)", lambda s: jieba.lcut(s, HMM=False), strings, rows)
    print()
    print("budgetnlp drops whitespace and punctuation-only tokens; jieba.lcut keeps them, so its token counts are higher.")


if __name__ == "__main__":
    main()
