"""One vocabulary: the Chinese names of flags, metric types and value issues, and the annotation
columns, are defined in schema.py alone; every view takes the same objects from there."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import budgetnlp
from budgetnlp import schema

PACKAGE = Path(budgetnlp.__file__).resolve().parent
CODES = {"flags": schema.FLAG_LABELS, "metric types": schema.METRIC_TYPE_LABELS, "value issues": schema.VALUE_ISSUE_LABELS}
#: a value this short in a mapping keyed by flags/types/issues is a name, not an explanation
NAME_MAX = 6


def test_every_view_uses_the_schema_objects():
    from budgetnlp import dataset, labelstudio, models
    from budgetnlp.models import transformer_backend
    from budgetnlp.report import labels
    from budgetnlp.review import common, templating

    assert labels.FLAG_LABELS is schema.FLAG_LABELS and labels.METRIC_TYPE_LABELS is schema.METRIC_TYPE_LABELS
    assert labels.VALUE_ISSUE_LABELS is schema.VALUE_ISSUE_LABELS
    assert common.FLAG_LABELS is schema.FLAG_LABELS and common.METRIC_TYPE_LABELS is schema.METRIC_TYPE_LABELS
    env = templating.environment()
    assert env.globals["FLAG_NAMES"] is schema.FLAG_LABELS and env.globals["METRIC_TYPE_NAMES"] is schema.METRIC_TYPE_LABELS
    assert models.FLAG_LABELS is schema.FLAG_LABELS
    assert transformer_backend._FLAG_WORDS is schema.FLAG_LABELS and transformer_backend._TYPE_WORDS is schema.METRIC_TYPE_LABELS
    assert set(transformer_backend._ISSUE_WORDS.items()) <= set(schema.VALUE_ISSUE_LABELS.items())
    assert dataset.ANNOTATION_COLUMNS is schema.ANNOTATION_COLUMNS and labelstudio.ANNOTATION_COLUMNS is schema.ANNOTATION_COLUMNS
    assert labels.FLAG_MEANINGS is schema.FLAG_MEANINGS  # the report's legend
    for flag in schema.FLAGS:  # annotators are asked the definition reviewers read
        assert labelstudio.FLAG_TITLES[flag] == f"{schema.FLAG_LABELS[flag]} {flag}：{schema.FLAG_MEANINGS[flag]}"
    for code in schema.METRIC_TYPES:
        assert labelstudio.METRIC_TYPE_TITLES[code] == f"{schema.METRIC_TYPE_LABELS[code]} {code}"


def test_the_vocabularies_are_complete():
    assert list(schema.FLAG_LABELS) == schema.FLAGS == list(schema.FLAG_MEANINGS)
    assert list(schema.METRIC_TYPE_LABELS) == schema.METRIC_TYPES
    assert list(schema.VALUE_ISSUE_LABELS) == schema.VALUE_ISSUES
    for labels in CODES.values():
        assert len(set(labels.values())) == len(labels)  # two codes never read the same


def label_mappings(source: str) -> list[str]:
    """Dict literals in ``source`` keyed by flags, metric types or value issues whose values are
    names of them: short strings, or strings that contain the schema's name of their key."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        pairs = [(k.value, v.value) for k, v in zip(node.keys, node.values)
                 if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and isinstance(v.value, str)]
        for what, labels in CODES.items():
            named = [(k, v) for k, v in pairs if k in labels]
            if len(named) >= 2 and any(len(v) <= NAME_MAX or labels[k] in v for k, v in named):
                found.append(f"line {node.lineno}: a mapping of {what} to Chinese names")
    return found


def test_no_other_module_spells_the_labels():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "schema.py" and path.parent == PACKAGE:
            continue
        if found := label_mappings(path.read_text(encoding="utf-8")):
            offenders[str(path.relative_to(PACKAGE))] = found
    assert not offenders, offenders


def test_templates_take_flag_names_from_the_schema():
    for path in sorted((PACKAGE / "review").rglob("*")):
        if path.suffix in {".html", ".js"}:
            text = path.read_text(encoding="utf-8")
            assert not [label for label in schema.FLAG_LABELS.values() if label in text], path


@pytest.mark.parametrize("source", [
    # the copies this test replaced: each must be caught
    '_FLAG_WORDS = {"vague": "模糊", "boilerplate": "套话", "category_mismatch": "错配", "unmeasurable": "不可衡量"}',
    'T = {"percent": "百分比 percent", "boolean": "是否 boolean"}',
    'X = {"vague": "模糊 vague：只给方向", "boilerplate": "套话/模板 boilerplate：未写出"}',
    'def f():\n    return {"malformed": "数值错误", "placeholder": "占位"}[k]',
])
def test_the_scan_finds_copies(source):
    assert label_mappings(source)


def test_the_scan_lets_explanations_pass():
    explanations = {flag: "只写方向或印象（如“成效明显”），没有可核对的水平" for flag in schema.FLAGS}
    assert not label_mappings(f"MEANINGS = {explanations!r}")
    assert not label_mappings('ROLES = {"reviewer": "审核员", "admin": "管理员"}')


def _imports(module: str) -> set[str]:
    """Package modules ``module`` imports anywhere in its source (function-level imports too)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("budgetnlp")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if name.startswith("budgetnlp"):
                out.add(name)
                out |= {f"{name}.{a.name}" for a in node.names if _is_module(f"{name}.{a.name}")}
    return {m for m in out if _is_module(m)}


def _is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for imported in _imports(module) - seen:
            seen.add(imported)
            todo.append(imported)
    return seen


def test_labelstudio_does_not_import_dataset():
    assert "budgetnlp.labelstudio" in _imports("budgetnlp.dataset")  # the graph walk sees imports
    assert "budgetnlp.dataset" not in _reaches("budgetnlp.labelstudio")


def test_labelstudio_works_with_dataset_blocked(tmp_path):
    """In a fresh interpreter with budgetnlp.dataset unimportable, labelstudio reads an export."""
    export = tmp_path / "export.json"
    export.write_text('[{"id": 1, "data": {"doc": "a.docx", "name": "n", "value": "v"}, "annotations": '
                      '[{"result": [' + ",".join(
                          f'{{"from_name": "{f}", "type": "choices", "value": {{"choices": ["0"]}}}}' for f in schema.FLAGS)
                      + ', {"from_name": "metric_type", "type": "choices", "value": {"choices": ["text"]}}'
                      + ', {"from_name": "suggested_metric_type", "type": "choices", "value": {"choices": ["count"]}}'
                      + ']}]}]', encoding="utf-8")
    code = ("import sys; sys.modules['budgetnlp.dataset'] = None\n"
            "from budgetnlp.labelstudio import read_labelstudio_export\n"
            f"frame = read_labelstudio_export({str(export)!r})\n"
            "print(len(frame), list(frame.columns)[:2], frame['suggested_metric_type'][0])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "['doc',", "'department']", "count"]
