"""Word segmentation: the domain dictionary, determinism across calls and processes, empty
fields, and no use of jieba's module-level default tokenizer (DESIGN.md, habit 9)."""

from __future__ import annotations

import csv
import gc
import logging
import multiprocessing
import os
import warnings

import jieba
import pytest

from budgetnlp import tokenize as tok
from budgetnlp.tokenize import FIELDS, field_tokens, tokenize, tokenize_fields

from .helpers import ROOT

jieba.setLogLevel(logging.WARNING)

#: domain word → a sentence in which budgetnlp must keep it whole
DOMAIN_WORDS = {
    "满意度": "受益对象的满意度≥90%",
    "预算控制数": "预算控制数为年度预算",
    "项目完成时限": "项目完成时限为2023年12月底前",
    "服务对象": "服务对象对项目的满意度",
    "发放率": "补贴资金发放率达到100%",
}


def _sample_texts() -> list[str]:
    """Every text field of the gold rows (the indicator rows of data/samples)."""
    with open(ROOT / "data" / "annotations" / "gold.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row[field] for row in rows for field in ("name", "description", "value", "basis", "level2")]


def _tokenize_all(texts: list[str]) -> tuple[list[list[str]], bool]:
    """Run in a worker process: the tokens, and whether jieba's default tokenizer got initialized."""
    return [tokenize(text) for text in texts], bool(jieba.dt.initialized)


@pytest.mark.parametrize("word", list(DOMAIN_WORDS))
def test_domain_words_are_single_tokens(word):
    assert word in tokenize(DOMAIN_WORDS[word])


def test_plain_jieba_would_split_domain_words():
    """The user dictionary matters: a fresh jieba.Tokenizer without it splits some domain words."""
    plain = jieba.Tokenizer()
    split = [word for word, sentence in DOMAIN_WORDS.items() if word not in plain.lcut(sentence, HMM=False)]
    assert split, "plain jieba keeps every domain word whole: the user dictionary is not tested"
    assert {"预算控制数", "项目完成时限", "服务对象", "发放率"} <= set(split)


def test_nfkc_and_punctuation():
    assert tokenize("服务对象满意度≥９０％") == tokenize("服务对象满意度≥90%")
    assert all(any(ch.isalnum() for ch in t) for t in tokenize("＝４个，（完成）；。"))
    assert tokenize("  ") == [] and tokenize("，。；") == []


def test_same_tokens_on_repeated_calls():
    texts = _sample_texts()[:200]
    first = [tokenize(t) for t in texts]
    tok._tokens.cache_clear()
    assert [tokenize(t) for t in texts] == first
    assert [tokenize(t) for t in texts] == first  # now from the cache


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_same_tokens_in_worker_processes(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    texts = _sample_texts()
    expected = [tokenize(t) for t in texts]
    half = len(texts) // 2
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_tokenize_all, [texts[:half], texts[half:]])
    assert results[0][0] + results[1][0] == expected
    if method == "spawn":  # a fresh interpreter: jieba's default tokenizer was never touched
        assert not results[0][1] and not results[1][1]


def test_tokenize_fields_covers_every_field():
    row = {"name": "群众满意度", "description": "服务对象满意度", "value": "≥90%", "basis": "计划标准", "level2": "服务对象满意度指标"}
    out = tokenize_fields(row)
    assert list(out) == list(FIELDS)
    assert all(out[field] for field in FIELDS)
    assert out["value"] == ["90"]


@pytest.mark.parametrize("empty", [None, "", float("nan"), "   "])
def test_empty_fields_give_no_tokens(empty):
    assert tokenize(empty) == []
    assert tokenize_fields({field: empty for field in FIELDS}) == {field: [] for field in FIELDS}
    assert tokenize_fields({}) == {field: [] for field in FIELDS}
    assert field_tokens({"name": empty, "value": "≥90%"}) == ["v:90"]


def test_field_tokens_prefixes():
    tokens = field_tokens({"name": "发放率", "value": "=100%", "level2": "质量指标"})
    assert tokens == ["n:发放率", "v:100", "c:质量指标"]


def test_default_jieba_tokenizer_is_not_used(monkeypatch):
    """budgetnlp owns its jieba.Tokenizer: the module-level default (jieba.dt, jieba.cut/lcut) is never
    touched, even when the tokenizer is built afresh; building it leaves no file open."""

    def refuse(*args, **kwargs):
        raise AssertionError("jieba's module-level default tokenizer was used")

    for name in ("cut", "lcut", "cut_for_search", "lcut_for_search", "initialize", "load_userdict", "add_word"):
        monkeypatch.setattr(jieba, name, refuse)
    for name in ("initialize", "cut", "lcut", "load_userdict", "add_word"):
        monkeypatch.setattr(jieba.dt, name, refuse)
    tok._tokenizer.cache_clear()
    tok._tokens.cache_clear()
    try:
        gc.collect()  # what earlier tests left behind is collected before recording starts
        with warnings.catch_warnings(record=True) as caught:  # and the user dictionary file is closed again
            warnings.simplefilter("always", ResourceWarning)
            assert "预算控制数" in tokenize("预算控制数为年度预算")
            gc.collect()
        # only the dictionary's file counts: other tests' threads may drop a socket meanwhile
        dictionary = os.path.basename(tok.user_dict_path())
        assert not [w for w in caught if issubclass(w.category, ResourceWarning) and dictionary in str(w.message)]
        assert field_tokens({"name": "服务对象满意度", "value": "≥90%"})
    finally:
        tok._tokenizer.cache_clear()  # the next test builds a tokenizer without the patches in its history
        tok._tokens.cache_clear()

