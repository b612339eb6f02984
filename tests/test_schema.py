"""budgetnlp.schema: level names as tables write them → the canonical names (LABELS.md taxonomy)."""

from __future__ import annotations

import itertools

import pytest

from budgetnlp.schema import (
    ACCEPTED_PARENTS,
    FRAMEWORK_LEVEL1,
    LEVEL1,
    LEVEL2,
    LEVEL2_PARENT,
    normalize_level1,
    normalize_level2,
    normalize_levels,
)

# (written level 1, written level 2) → (level1_norm, level2_norm)
GOLDEN = [
    (("产出指标", "数量指标"), ("产出指标", "数量指标")),
    (("产出指标(50分)", "质量指标"), ("产出指标", "质量指标")),
    (("产出指标 (40-50)分", "数量指标"), ("产出指标", "数量指标")),
    (("成本指标(0-20)分", "生态环境成本指标"), ("成本指标", "生态环境成本指标")),
    (("效益指标(30分)", "可持续影响"), ("效益指标", "可持续影响指标")),
    (("满意度指标(10分)", "服务对象满意度"), ("满意度指标", "服务对象满意度指标")),
    (("(50分)", "数量指标"), ("产出指标", "数量指标")),
    (("产出", "数量目标"), ("产出指标", "数量指标")),
    (("投入", "成本目标"), ("投入指标", "成本指标")),
    (("产出值", "数量值"), ("产出指标", "数量指标")),
    (("产出值", "质量值"), ("产出指标", "质量指标")),
    (("项目完成指标", "时效指标"), ("产出指标", "时效指标")),
    (("项目效益指标", "社会效益指标"), ("效益指标", "社会效益指标")),
    (("项目效益", "社会效益指标"), ("效益指标", "社会效益指标")),
    (("效果指标", "可持续性影响"), ("效益指标", "可持续影响指标")),
    (("效益指标", "环境效益指标"), ("效益指标", "生态效益指标")),
    (("实施效果指标", "产出指标"), ("产出指标", "产出指标")),
    (("实施效果指标", "效益指标"), ("效益指标", "效益指标")),
    (("实施效果指标", "满意度指标"), ("满意度指标", "服务对象满意度指标")),
    (("项目决策", "质量指标"), ("决策指标", "质量指标")),
    (("决策", "项目立项"), ("决策指标", "项目立项")),
    (("过程管理指标", "资金管理指标"), ("过程指标", "资金管理指标")),
    (("过程", "组织实施"), ("过程指标", "组织实施")),
    (("产出指标(必填)", "时效指标(选填)"), ("产出指标", "时效指标")),
    (("效益指标", "生态效益指标(必填硬性指标)"), ("效益指标", "生态效益指标")),
    (("效益指标", "社会公众或服务对象满意度指标"), ("效益指标", "服务对象满意度指标")),
    (("满意度指标", "服务对象满意度指标等"), ("满意度指标", "服务对象满意度指标")),
    (("一、产出指标", "（一）数量指标"), ("产出指标", "数量指标")),
    (("", ""), ("", "")),
]


@pytest.mark.parametrize("written,expected", GOLDEN, ids=[f"{a}|{b}" for (a, b), _ in GOLDEN])
def test_golden_level_names(written, expected):
    assert normalize_levels(*written) == expected


NOTES = ["", "(50分)", "（30分）", "(0-20)分", " (40-50)分", "30分", "(必填)", "（选填）", "(必填硬性指标)", "等", "："]
WRAPPERS = [("", "{}"), ("项目", "{}"), ("", "{}指标"), ("", "{}目标"), ("", "{}值"), ("项目", "{}指标")]


@pytest.mark.parametrize("canonical", LEVEL2)
def test_every_level2_survives_any_note_and_spelling(canonical):
    core = canonical[: -len("指标")]
    for (prefix, pattern), note in itertools.product(WRAPPERS, NOTES):
        written = prefix + pattern.format(core) + note
        assert normalize_level2(written) == canonical, written


@pytest.mark.parametrize("canonical", LEVEL1 + FRAMEWORK_LEVEL1)
def test_every_level1_survives_any_note_and_spelling(canonical):
    core = canonical[: -len("指标")]
    for (prefix, pattern), note in itertools.product(WRAPPERS, NOTES):
        written = prefix + pattern.format(core) + note
        assert normalize_level1(written) == canonical, written


def test_a_score_alone_takes_the_parent_of_its_level2():
    for level2, parent in LEVEL2_PARENT.items():
        for score in ("(50分)", "30分", "（0-20）分"):
            assert normalize_level1(score, level2) == parent
            assert normalize_level1(score) == ""


def test_a_wrapper_without_a_level2_stays_as_written():
    assert normalize_level1("实施效果指标") == "实施效果指标"  # not 效益指标 because of 效果


def test_unknown_names_come_back_squashed_never_forced():
    assert normalize_level2("计划 管理指标") == "计划管理指标"
    assert normalize_level1("其他") == "其他"
    assert normalize_level2("监督检查指标") == "监督检查指标"


def test_two_unrelated_categories_in_one_name_are_not_guessed():
    assert normalize_level2("数量质量指标") == "数量质量指标"


def test_accepted_parents_follow_labels_md():
    assert ACCEPTED_PARENTS["成本指标"] == {"产出指标", "成本指标"}
    assert ACCEPTED_PARENTS["服务对象满意度指标"] == {"满意度指标", "效益指标"}
    assert ACCEPTED_PARENTS["数量指标"] == {"产出指标"}


@pytest.mark.parametrize("text", [None, float("nan"), 3, "   "])
def test_any_input(text):
    assert normalize_level1(text) in ("", "3") and normalize_level2(text) in ("", "3")


def test_every_row_source_reads_level1_with_its_level2(tmp_path):
    """Extraction, rows given to score and annotation rows all normalize the 一级指标 with its
    二级指标 as context: a wrapper (实施效果指标) or a bare score note takes the level 2's category."""
    import pandas as pd

    from budgetnlp.dataset import rows_from_annotations
    from budgetnlp.extract import extract_file
    from budgetnlp.models import _with_row_columns

    cells = [("实施效果指标", "产出指标"), ("(50分)", "数量指标"), ("效益指标(30分)", "社会效益指标")]
    expected = ["产出指标", "产出指标", "效益指标"]
    header = "<tr><td>一级指标</td><td>二级指标</td><td>三级指标</td><td>指标值</td></tr>"
    body = "".join(f"<tr><td>{a}</td><td>{b}</td><td>培训人次{i}</td><td>≥{i + 10}人次</td></tr>" for i, (a, b) in enumerate(cells))
    page = tmp_path / "levels.html"
    page.write_text(f"<html><body><p>项目名称：干部培训</p><table>{header}{body}</table></body></html>", encoding="utf-8")
    assert extract_file(page)["level1_norm"].tolist() == expected

    given = pd.DataFrame({"level1": [a for a, _ in cells], "level2": [b for _, b in cells], "name": ["x"] * 3, "value": ["1人"] * 3})
    assert _with_row_columns(given)["level1_norm"].tolist() == expected

    from budgetnlp.dataset import load_annotations

    from .helpers import ROOT

    header = (ROOT / "data/annotations/gold_localities.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    lines = [{c: "" for c in header} | {"source_id": "T1", "locality": "某省某县", "doc": "T1", "project": "干部培训",
                                        "level1": a, "level2": b, "name": f"培训人次{i}", "value": "≥10人次"}
             for i, (a, b) in enumerate(cells)]
    pd.DataFrame(lines).to_csv(tmp_path / "lines.csv", index=False)
    assert rows_from_annotations(load_annotations([tmp_path / "lines.csv"]))["level1_norm"].tolist() == expected
