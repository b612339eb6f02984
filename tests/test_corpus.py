"""Rows and the corpus (budgetnlp.corpus): records, row views, repetition counts; the module stands below the rules."""

from __future__ import annotations

import subprocess
import sys
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd

from budgetnlp.corpus import CorpusStats, records_of


def test_records_of_matches_pandas_to_dict(sample_rows):
    def same(a, b):
        missing = not isinstance(a, dict) and pd.isna(a)
        return type(a) is type(b) and (missing and pd.isna(b) or not missing and a == b)

    odd = pd.DataFrame({"name": pd.array(["满意度", None], dtype="str"), "year": pd.array([2024, None], dtype="Int64"),
                        "budget": [1.5, np.nan], "extra": [None, {"a": 1}]})
    for frame in (sample_rows.head(40), odd, odd.iloc[:0]):
        expected, got = frame.to_dict("records"), records_of(frame)
        assert [list(r) for r in got] == [list(r) for r in expected]
        for a, b in zip(expected, got):
            assert all(same(a[key], b[key]) for key in a), (a, b)


def test_batch_counts_merge_per_document_counts(sample_rows):
    """A run counts its batch document by document; merging the parts gives the whole batch's counts."""
    whole = CorpusStats.from_rows(sample_rows)
    parts = [CorpusStats.from_rows(rows) for _, rows in sample_rows.groupby("doc_id")]
    merged = reduce(CorpusStats.merged, parts)
    assert merged.projects == whole.projects and merged.documents == whole.documents



def _package_imports(module: str) -> set[str]:
    """The budgetnlp modules a module of the package imports (from its source: any import, any depth in the file)."""
    import ast
    import importlib.util

    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    package = module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            name = f"{package}.{base}".rstrip(".") if node.level == 1 else base
            found.add(name)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m.startswith("budgetnlp.")}


def test_corpus_does_not_import_the_rules():
    """rules.py depends on corpus.py, never the reverse: neither corpus.py nor anything it imports
    from the package imports the rules, and importing it alone loads no rules."""
    seen, todo = set(), ["budgetnlp.corpus"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += sorted(_package_imports(module))
    assert "budgetnlp.rules" not in seen, seen
    assert "budgetnlp.corpus" in _package_imports("budgetnlp.rules")
    code = "import sys, budgetnlp.corpus; print('budgetnlp.rules' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_score_path_builds_each_row_view_once(sample_rows, monkeypatch):
    """Model.predict parses each row and builds its view once (in apply_rules, run once per batch);
    features, explanations and suggestions reuse them. Every module that bound the corpus functions
    by name is patched, so a second caller anywhere on the path would be counted."""
    import budgetnlp.corpus as corpus
    import budgetnlp.rules as rules
    from budgetnlp.models import load_model

    model = load_model()
    calls = {"row_view": 0, "parse_row_value": 0, "apply_rules": 0, "suggest_metric_type": 0}

    def counting(module, name):
        original = getattr(module, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        for loaded in [m for key, m in sys.modules.items() if key.startswith("budgetnlp") and m is not None]:
            if getattr(loaded, name, None) is original:
                monkeypatch.setattr(loaded, name, counted)

    counting(corpus, "row_view")
    counting(corpus, "parse_row_value")
    counting(rules, "apply_rules")
    counting(rules, "suggest_metric_type")
    scored = model.predict(sample_rows, corpus=CorpusStats.from_rows(sample_rows))
    n = len(sample_rows)
    assert len(scored) == n
    assert calls == {"row_view": n, "parse_row_value": n, "apply_rules": 1, "suggest_metric_type": n}


def test_project_outputs_lists_the_other_count_rows_of_the_same_project():
    from budgetnlp.corpus import project_outputs

    records = [
        {"doc_id": "d", "project_name": "甲", "level2": "数量指标", "name": "培训人数"},
        {"doc_id": "d", "project_name": "甲", "level2_norm": "数量指标", "level2": "数量值", "name": "发放手册"},
        {"doc_id": "d", "project_name": "甲", "level2": "社会效益指标", "name": "提高技能"},
        {"doc_id": "d", "project_name": "乙", "level2": "社会效益指标", "name": "提高技能"},
        {"doc_id": "e", "project_name": "甲", "level2": "社会效益指标", "name": "提高技能"},
    ]
    assert project_outputs(records) == [("发放手册",), ("培训人数",), ("培训人数", "发放手册"), (), ()]
