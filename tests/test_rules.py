"""budgetnlp.rules: common tests over every registered labeling function, exact small cases
(LABELS.md examples), suggested metric types, and the LF report script."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

from budgetnlp.extract import extract
from budgetnlp.corpus import CorpusStats, RowView, parse_row_value, row_view
from budgetnlp.rules import ABSTAIN, LABELING_FUNCTIONS, apply_rules, suggest_metric_type
from budgetnlp.schema import FLAGS

from .helpers import ROOT, SAMPLES

CHINESE = re.compile(r"[\u4e00-\u9fff]")
LF_BY_NAME = {lf.name: lf for lf in LABELING_FUNCTIONS}
VOTING = [lf for lf in LABELING_FUNCTIONS if lf.flag]


# ---------------------------------------------------------------- helpers
def _frame(*rows: dict) -> pd.DataFrame:
    """Rows with the context a rule reads; every cell not given is empty."""
    defaults = {
        "doc_id": "doc", "project_code": "", "project_name": "某项目", "project_budget": None, "year": 2023,
        "fund_use": "", "project_goals": "", "spend_plan": "", "level1": "", "level2": "", "level2_norm": "",
        "name": "", "description": "", "value": "",
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def _view(corpus: CorpusStats | None = None, **cells) -> RowView:
    frame = _frame(cells)
    record = frame.to_dict("records")[0]
    return row_view(record, parse_row_value(record), corpus or CorpusStats.from_rows(frame))


def _votes(**cells) -> dict[str, int]:
    """Every voting rule's vote on one row (abstentions left out)."""
    votes = apply_rules(_frame(cells)).votes.iloc[0]
    return {name: int(vote) for name, vote in votes.items() if vote != ABSTAIN}


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    return extract([SAMPLES]).rows


@pytest.fixture(scope="module")
def sample_views(sample_rows) -> list[RowView]:
    corpus = CorpusStats.from_rows(sample_rows)
    return [row_view(r, parse_row_value(r), corpus) for r in sample_rows.to_dict("records")]


# ---------------------------------------------------------------- common tests over all registered rules
def test_registry_names_flags_votes():
    names = [lf.name for lf in LABELING_FUNCTIONS]
    assert len(names) == len(set(names)), "labeling function names must be unique"
    assert len(LABELING_FUNCTIONS) >= 30
    for lf in LABELING_FUNCTIONS:
        assert lf.flag in FLAGS or lf.flag is None, lf.name
        assert lf.vote in (0, 1), lf.name
        assert callable(lf.fires)
    # every flag has rules voting both ways, and there are consistency checks
    for flag in FLAGS:
        assert {lf.vote for lf in LABELING_FUNCTIONS if lf.flag == flag} == {0, 1}, flag
    assert any(lf.flag is None for lf in LABELING_FUNCTIONS)


def test_samples_have_278_rows(sample_rows):
    assert len(sample_rows) == 278


@pytest.mark.parametrize("lf", LABELING_FUNCTIONS, ids=lambda lf: lf.name)
def test_every_rule_returns_none_or_chinese_reason(lf, sample_views):
    fired = 0
    for view in sample_views:
        reason = lf.fires(view)
        if reason is None:
            continue
        assert isinstance(reason, str) and reason.strip(), f"{lf.name} on {view.name}: {reason!r}"
        assert CHINESE.search(reason), f"{lf.name} gave a reason without Chinese: {reason!r}"
        fired += 1
    assert fired <= len(sample_views)


def test_apply_rules_votes_on_samples(sample_rows):
    result = apply_rules(sample_rows)
    votes = result.votes
    assert list(votes.columns) == [lf.name for lf in VOTING]  # one column per voting rule, none for checks
    assert votes.shape == (len(sample_rows), len(VOTING))
    assert votes.index.equals(sample_rows.index)
    assert set(pd.unique(votes.to_numpy().ravel())) <= {ABSTAIN, 0, 1}
    for lf in VOTING:  # a rule always votes the same label when it fires
        assert set(votes[lf.name]) <= {ABSTAIN, lf.vote}, lf.name
    assert len(result.reasons) == len(result.parsed) == len(sample_rows)
    flags_given = {flag for fired in result.reasons for _, flag in fired}
    assert flags_given <= {*FLAGS, None}
    for i, fired in enumerate(result.reasons):  # a flag's reasons appear only where a rule voted 1 on it
        for reason, flag in fired:
            assert CHINESE.search(reason)
            if flag is not None:
                assert (votes.iloc[i][[lf.name for lf in VOTING if lf.flag == flag]] == 1).any()


def test_apply_rules_keeps_the_index():
    frame = _frame({"name": "群众满意度", "value": "≥90%"}, {"name": "享受资金人数", "value": "=78人"})
    frame.index = [10, 20]
    assert list(apply_rules(frame).votes.index) == [10, 20]


# ---------------------------------------------------------------- exact small cases
SOCIAL = "社会效益指标"
CASES = [
    # (rule, cells, substrings the reason must contain — or None: the rule must not fire)
    ("vague_wording", dict(name="对农村经济社会发展的贡献", value="成效明显", level2=SOCIAL), ["成效明显"]),
    ("vague_wording", dict(name="享受资金人数", value="=78人", level2="数量指标"), None),
    ("undefined_improvement_yes", dict(name="是否提升了环境状况", value="是", level2=SOCIAL), ["是否提升了环境状况"]),
    ("undefined_improvement_yes", dict(name="是否按期通过验收", value="是", level2="时效指标"), None),
    ("placeholder_value", dict(name="预算控制数", value="年度预算", level2="成本指标"), ["年度预算", "占位"]),
    ("placeholder_value", dict(name="预算控制数", value="≤1400万元", level2="成本指标"), None),
    ("malformed_number", dict(name="支持全区公务用车数量", value="≥9090%及以上", level2="数量指标"), ["≥9090%及以上"]),
    ("malformed_number", dict(name="合格率", value="≥90%", level2="质量指标"), None),
    ("unit_mismatch", dict(name="社会保险补贴人均标准", value="≥33人", level2="成本指标"), ["社会保险补贴人均标准", "≥33人"]),
    ("unit_mismatch", dict(name="享受资金人数", value="=78人", level2="数量指标"), None),
    ("fake_quantification", dict(name="长期使用性", value="≥90%", level2="可持续影响指标"), ["长期使用性", "≥90%", "假量化"]),
    ("fake_quantification", dict(name="确保办公环境正常运行", value="≥90%", level2=SOCIAL), ["确保办公环境正常运行"]),
    ("fake_quantification", dict(name="群众满意度", value="≥90%", level2="服务对象满意度指标"), None),
    ("fake_quantification", dict(name="合格率", value="≥95%", level2="质量指标"), None),
    ("trivial_threshold", dict(name="调解案件数", value="≥0", level2="数量指标"), ["≥0"]),
    ("trivial_threshold", dict(name="调解案件数", value="≥1件", level2="数量指标"), None),
    ("generic_phrase", dict(name="维护社会稳定", value="维护社会稳定", level2=SOCIAL), ["维护社会稳定", "套话"]),
    ("generic_phrase", dict(name="涉及改造村数", value="＝4个", level2="数量指标"), None),
    ("generic_satisfaction", dict(name="群众满意度", value="≥90%", level2="服务对象满意度指标"), ["群众满意度"]),
    ("generic_satisfaction", dict(name="服务对象满意度", value="≥90%", level2="服务对象满意度指标"), ["服务对象满意度"]),
    ("generic_satisfaction", dict(name="受益对象满意度", value="≥90%", level2="服务对象满意度指标"), ["受益对象满意度"]),
    ("generic_satisfaction", dict(name="村干部对资金发放的满意度", value="≥90%", level2="服务对象满意度指标"), None),
    ("named_group_satisfaction", dict(name="村干部对资金发放的满意度", value="≥90%", level2="服务对象满意度指标"), ["村干部"]),
    ("named_group_satisfaction", dict(name="被征地户的满意度", value="≥90%", level2="服务对象满意度指标"), ["被征地户"]),
    ("named_group_satisfaction", dict(name="群众满意度", value="≥90%", level2="服务对象满意度指标"), None),
    ("bare_rate", dict(name="完成率", value="=100%", level2="质量指标"), ["完成率"]),
    ("bare_rate", dict(name="验收合格率（%）", value="=100%", level2="质量指标"), ["验收合格率"]),
    ("bare_rate", dict(name="维修及时完成率", value="=100%", level2="时效指标"), None),
    ("bare_rate", dict(name="培训合格率", value="≥90%", level2="质量指标"), None),
    ("cost_not_amount", dict(name="是否完善基础设施，改善环境", value="是", level2="成本指标"), ["不是金额"]),
    ("cost_not_amount", dict(name="电代煤", value="≤1400万元", level2="成本指标"), None),
    ("cost_not_amount", dict(name="成本控制率", value="≤100%", level2="成本指标"), None),
    ("timeliness_without_time", dict(name="服务的完成度", value="≥90%", level2="时效指标"), ["服务的完成度"]),
    ("timeliness_without_time", dict(name="项目按期完成率", value="=100%", level2="时效指标"), None),
    ("timeliness_without_time", dict(name="项目完成时限", value="2023年12月底前", level2="时效指标"), None),
    ("effect_counts_outputs", dict(name="慰问款发放率", value="=100%", level2=SOCIAL), ["慰问款发放率", "产出"]),
    ("effect_counts_outputs", dict(name="慰问款发放率", value="=100%", level2="质量指标"), None),
    ("social_under_economic", dict(name="公共服务水平提升情况", value="提升公共服务水平", level2="经济效益指标"), ["公共服务水平提升情况", "社会效益"]),
    ("social_under_economic", dict(name="农户增收", value="≥2000元", level2="经济效益指标"), None),
    ("social_under_economic", dict(name="公共服务水平提升情况", value="提升公共服务水平", level2=SOCIAL), None),
    (
        "foreign_satisfaction_group",
        dict(name="参培住院医师满意度", value="≥90%", level2="服务对象满意度指标", project_name="公务用车制度改革费",
             fund_use="用于公务用车制度改革后的交通补贴发放"),
        ["参培住院医师"],
    ),
    (
        "foreign_satisfaction_group",
        dict(name="参培住院医师满意度", value="≥90%", level2="服务对象满意度指标", project_name="住院医师规范化培训补助",
             fund_use="用于参培住院医师的生活补助"),
        None,
    ),
    # consistency checks (flag None): reasons only
    ("cost_above_budget", dict(name="电代煤", value="≤1400万元", level2="成本指标", project_budget=500), ["≤1400万元", "500"]),
    ("cost_above_budget", dict(name="电代煤", value="≤400万元", level2="成本指标", project_budget=500), None),
    ("cost_above_budget", dict(name="电代煤", value="≤1400万元", level2="成本指标"), None),  # no budget known
    ("deadline_outside_year", dict(name="项目完成时限", value="2022年12月底前", level2="时效指标", year=2023), ["2022-12-31", "2023"]),
    ("deadline_outside_year", dict(name="项目完成时限", value="2023年12月底前", level2="时效指标", year=2023), None),
    (
        "spend_plan_incomplete",
        dict(name="享受资金人数", value="=78人", project_budget=161.93, spend_plan="3月底:25%;6月底:50%;10月底:75%;12月底:80%"),
        ["80%", "未达到100%"],
    ),
    (
        "spend_plan_incomplete",  # percentages whose last figure happens to equal the budget are still percentages
        dict(name="享受资金人数", value="=78人", project_budget=50, spend_plan="3月底:25%;6月底:50%;10月底:50%;12月底:50%"),
        ["未达到100%"],
    ),
    (
        "spend_plan_incomplete",  # 2024 sample: amounts in 万元 that reach the budget, under a (%) heading
        dict(name="享受资金人数", value="=78人", project_budget=3.28, spend_plan="3月底:2.00;6月底:3.00;10月底:3.28;12月底:3.28"),
        ["金额", "3.28"],
    ),
    (
        "spend_plan_incomplete",
        dict(name="享受资金人数", value="=78人", project_budget=372, spend_plan="3月底:140.00;6月底:280.00;10月底:420.00;12月底:572.00"),
        ["572", "超过100%"],
    ),
    (
        "spend_plan_incomplete",
        dict(name="享受资金人数", value="=78人", project_budget=161.93, spend_plan="3月底:25%;6月底:50%;10月底:75%;12月底:100%"),
        None,
    ),
    ("spend_plan_incomplete", dict(name="享受资金人数", value="=78人", project_budget=161.93, spend_plan=""), None),
]


@pytest.mark.parametrize(
    "rule, cells, expected",
    CASES,
    ids=[f"{rule}-{cells['name']}-{cells['value']}-{'fires' if expected else 'silent'}" for rule, cells, expected in CASES],
)
def test_rule_case(rule, cells, expected):
    reason = LF_BY_NAME[rule].fires(_view(**cells))
    if expected is None:
        assert reason is None, f"{rule} should not fire: {reason}"
    else:
        assert reason is not None, f"{rule} should fire on {cells}"
        for text in expected:
            assert text in reason, f"{text!r} not in {reason!r}"


def test_apply_rules_reports_consistency_reasons_without_votes():
    frame = _frame({"name": "电代煤", "value": "≤1400万元", "level2": "成本指标", "project_budget": 500})
    result = apply_rules(frame)
    assert "cost_above_budget" not in result.votes.columns
    reasons = [(reason, flag) for reason, flag in result.reasons[0] if flag is None]
    assert len(reasons) == 1 and "500" in reasons[0][0]


def test_placeholder_is_unmeasurable_not_vague():
    votes = _votes(name="预算控制数", value="年度预算", level2="成本指标")
    assert votes["placeholder_value"] == 1
    assert votes["placeholder_is_not_vague"] == 0
    vague_ones = [name for name, vote in votes.items() if LF_BY_NAME[name].flag == "vague" and vote == 1]
    assert vague_ones == []


def test_vague_value_votes_vague_and_unmeasurable():
    votes = _votes(name="对农村经济社会发展的贡献", value="成效明显", level2=SOCIAL)
    assert votes["vague_wording"] == 1
    assert votes["qualitative_unmeasurable"] == 1
    assert "stated_level" not in votes and "measurable_value" not in votes


def test_fake_quantification_is_not_vague():
    votes = _votes(name="长期使用性", value="≥90%", level2="可持续影响指标")
    assert votes["fake_quantification"] == 1
    assert votes["stated_level"] == 0
    assert not any(LF_BY_NAME[n].flag == "vague" and v == 1 for n, v in votes.items())


def test_full_width_cells_are_read_after_nfkc():
    # ＝４个 reads as the count =4个: a specific, measurable quantity (LABELS.md: 涉及改造村数 ＝4个)
    votes = _votes(name="涉及改造村数", value="＝４个", level2="数量指标")
    assert votes["specific_quantity"] == 0
    assert votes["stated_level"] == 0 and votes["measurable_value"] == 0 and votes["category_fits_value"] == 0
    assert not any(vote == 1 for vote in votes.values())
    # reasons quote the value as written (DESIGN.md: the original text is what users see)
    assert "＝４个" in LF_BY_NAME["specific_quantity"].fires(_view(name="涉及改造村数", value="＝４个", level2="数量指标"))


def test_repetition_across_projects():
    frame = _frame(
        {"doc_id": "d1", "project_name": "甲项目", "name": "项目完成时限", "value": "2023年12月底前"},
        {"doc_id": "d1", "project_name": "乙项目", "name": "项目完成时限", "value": "2023年12月底前"},
        {"doc_id": "d2", "project_name": "丙项目", "name": "项目完成时限", "value": "2023 年12月底前"},  # same after squash
        {"doc_id": "d1", "project_name": "甲项目", "name": "享受资金人数", "value": "=78人"},
        {"doc_id": "d1", "project_name": "甲项目", "name": "享受资金人数", "value": "=78人"},  # same project twice
        {"doc_id": "d2", "project_name": "丙项目", "name": "享受资金人数", "value": "=78人"},
    )
    corpus = CorpusStats.from_rows(frame)
    assert corpus.projects[("项目完成时限", "2023年12月底前")] == 3
    assert corpus.documents[("项目完成时限", "2023年12月底前")] == 2
    assert corpus.projects[("享受资金人数", "=78人")] == 2
    result = apply_rules(frame, corpus)
    repeated = result.votes["repeated_in_corpus"].tolist()
    assert repeated == [1, 1, 1, ABSTAIN, ABSTAIN, ABSTAIN]
    reason = LF_BY_NAME["repeated_in_corpus"].fires(_view(corpus, name="项目完成时限", value="2023年12月底前"))
    assert "3个项目" in reason and "2份文件" in reason
    # merged statistics add up
    doubled = corpus.merged(corpus)
    assert doubled.projects[("享受资金人数", "=78人")] == 4


def test_a_row_alone_is_not_repeated():
    assert LF_BY_NAME["repeated_in_corpus"].fires(_view(name="项目完成时限", value="2023年12月底前")) is None


def test_missing_context_columns_do_not_break_rules():
    frame = pd.DataFrame([{"name": "群众满意度", "value": "≥90%"}, {"name": "维护社会稳定", "value": None}])
    result = apply_rules(frame)
    assert result.votes.shape == (2, len(VOTING))
    assert result.parsed[1].metric_type == "empty"
    assert result.votes.loc[1, "empty_value"] == 1


# ---------------------------------------------------------------- suggested metric type
@pytest.mark.parametrize(
    "cells, expected",
    [
        (dict(name="预算控制数", value="年度预算", level2="成本指标"), "amount"),
        (dict(name="发放及时", value="及时发放", level2="时效指标"), "time"),
        (dict(name="资金发放及时率", value="=100%", level2="时效指标"), "percent"),
        (dict(name="对农村经济社会发展的贡献", value="成效明显", level2=SOCIAL), "grade"),
        (dict(name="长期使用性", value="≥90%", level2="可持续影响指标"), "grade"),
        (dict(name="享受资金人数", value="=78人", level2="数量指标"), "count"),
        (dict(name="群众满意度", value="满意", level2="服务对象满意度指标"), "percent"),
        (dict(name="设施完好率", value="≥90%", level2="质量指标"), "percent"),
        (dict(name="受益人数", value="明显增加", level2=SOCIAL), "count"),
        (dict(name="带动农户增收", value="效果明显", level2="经济效益指标"), "amount"),
        (dict(name="理论教育课时比例", value="70%", level2="数量指标"), "percent"),
        (dict(name="完成率", value="≥80%", level2="数量指标"), "count"),
        (dict(name="法定审限内结案率", value="≥95%", level2="时效指标"), "percent"),
        (dict(name="保险资金到位率", value="≥90%", level2="时效指标"), "time"),
        (dict(name="监管人员培训", value="已完成", level2="质量指标"), "boolean"),
        (dict(name="是否提升了环境状况", value="是", level2=SOCIAL), "grade"),
    ],
    ids=lambda x: x if isinstance(x, str) else f"{x['name']}-{x['value']}",
)
def test_suggest_metric_type(cells, expected):
    assert suggest_metric_type(_view(**cells)) == expected


# ---------------------------------------------------------------- the LF report script
def test_lf_report_runs():
    proc = subprocess.run(
        [sys.executable, "evaluation/lf_report.py"], cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(rf"^\d+ gold rows, {len(VOTING)} labeling functions \(278 document rows, \d+ locality rows", out, re.M)
    assert "holdout sources left out" in out
    holdout = (ROOT / "evaluation" / "holdout_sources.txt").read_text(encoding="utf-8").split()
    per_kind = out[out.index("coverage and precision by source kind"):]
    assert "loc_prec" in per_kind and "doc_prec" in per_kind
    assert not any(re.search(rf"\b{source}\(", per_kind) for source in holdout)  # held-out groups never listed
    header = next(line for line in out.splitlines() if "coverage" in line)
    for column in ("flag", "rule", "coverage", "overlap", "conflicts", "accuracy"):
        assert column in header
    for lf in VOTING:
        assert re.search(rf"^\s*{lf.flag}\s+{lf.name}\s+{lf.vote}\s", out, re.M), f"no report line for {lf.name}"
    for flag in FLAGS:
        match = re.search(rf"^\s+{flag}\s+precision (\d\.\d\d)\s+recall (\d\.\d\d)\s+F1 (\d\.\d\d)\s+\(documents F1 \d\.\d\d\s+localities F1 \d\.\d\d\)$", out, re.M)
        assert match, f"no majority-vote line for {flag}"
        assert 0 <= float(match.group(3)) <= 1


# ---------------------------------------------------------------- rules that transfer across localities
UNKNOWN = "䶮䶯䶰"  # characters no lexicon knows (CJK extension A)


@pytest.mark.parametrize("name", ["完成率", "培训人数", "群众满意度", "成本控制率", "及时率", "设备采购数量", "项目开工率",
                                  "提升服务水平", "资金发放完成率", "长期使用性"])
@pytest.mark.parametrize("value", ["≥90%", "=78人", "成效明显", "公里", "年度预算"])
@pytest.mark.parametrize("level2", ["数量指标", "时效指标", "成本指标", "社会效益指标"])
def test_unknown_words_are_never_evidence_for_a_flag(name, value, level2):
    """Adding words no lexicon knows to a name never makes a rule vote 1 that did not before."""
    def flagging(row_name):
        view = _view(name=row_name, value=value, level2=level2, project_name="学校食堂改造")
        return {lf.name for lf in VOTING if lf.vote == 1 and lf.fires(view)}

    base = flagging(name)
    for variant in (UNKNOWN + name, name + UNKNOWN, f"{UNKNOWN}的{name}"):
        assert flagging(variant) <= base, variant


@pytest.mark.parametrize("group", ["学生", "家长", "学生家长", "教师"])
@pytest.mark.parametrize("project", ["义务教育营养改善计划专项资金", "学校体育设施向社会免费开放", "中小学校舍维修"])
def test_the_natural_beneficiary_is_not_foreign(group, project):
    assert "foreign_satisfaction_group" not in _votes(name=f"{group}满意度", value="≥95%", level2="服务对象满意度指标",
                                                      project_name=project)


@pytest.mark.parametrize("group", ["参培住院医师", "患者", "就诊病人"])
@pytest.mark.parametrize("project", ["公务用车制度改革费", "车辆运行维护费"])
def test_a_group_of_another_domain_is_foreign(group, project):
    votes = _votes(name=f"{group}满意度", value="≥90%", level2="服务对象满意度指标", project_name=project)
    assert votes.get("foreign_satisfaction_group") == 1


@pytest.mark.parametrize("group", ["使用人员", "参训学员", "工作人员", "䶮䶯人员"])
def test_a_group_of_no_known_domain_is_never_foreign(group):
    votes = _votes(name=f"{group}满意度", value="≥90%", level2="服务对象满意度指标", project_name="公务用车制度改革费")
    assert "foreign_satisfaction_group" not in votes


GENERIC_PARTS = ["", "项目", "资金", "财政资金", "工作任务", "年度计划", "中央预算内投资"]
RATE_ENDS = ["完成率", "到位率", "及时率", "支付率", "开工率", "合格率", "知晓率", "到位及时率", "完成及时率"]


@pytest.mark.parametrize("prefix", GENERIC_PARTS)
@pytest.mark.parametrize("rate", RATE_ENDS)
def test_a_rate_of_generic_words_is_bare_and_an_object_makes_it_specific(prefix, rate):
    from budgetnlp.rules import is_generic_name

    assert is_generic_name(prefix + rate)
    assert _votes(name=prefix + rate, value="=100%", level2="质量指标").get("bare_rate") == 1
    for obj in ("设备维修", "养老金", "培训", "护岸"):
        assert not is_generic_name(obj + prefix + rate)
        assert "bare_rate" not in _votes(name=obj + prefix + rate, value="=100%", level2="质量指标")


def test_a_specific_description_keeps_a_bare_rate_specific():
    votes = _votes(name="完成率", value="≥90%", level2="质量指标", description="当年支付物业公司物业管理费任务完成情况")
    assert "bare_rate" not in votes


@pytest.mark.parametrize("name", ["及时完成率", "资金到位及时率", "财政资金到位及时支付率", "工作任务完成及时率"])
def test_bare_timeliness_is_undefined(name):
    assert _votes(name=name, value="=100%", level2="时效指标").get("undefined_timeliness") == 1
    assert "undefined_timeliness" not in _votes(name="维修" + name, value="=100%", level2="时效指标")


@pytest.mark.parametrize("value", ["=44,561", "44561", "=44926"])
def test_an_excel_date_serial_is_unmeasurable_as_written(value):
    votes = _votes(name="项目资金到位时间", value=value, level2="时效指标")
    assert votes.get("excel_date_serial") == 1 and "measurable_value" not in votes
    assert "excel_date_serial" not in _votes(name="培训人数", value="=44,561人", level2="数量指标")


def test_social_and_ecological_costs_may_be_percent():
    for level2 in ("社会成本指标", "生态环境成本指标"):
        assert "cost_not_amount" not in _votes(name="对周边环境影响", value="≤5%", level2=level2)
    assert "cost_not_amount" not in _votes(name="0", value="0.00%", level2="经济成本指标")  # no name: no evidence
    assert _votes(name="是否完善基础设施，改善环境", value="是", level2="成本指标").get("cost_not_amount") == 1


def test_a_legal_time_limit_is_time():
    assert "timeliness_without_time" not in _votes(name="法定审限内结案率", value="≥95%", level2="时效指标")
    assert _votes(name="服务的完成度", value="≥90%", level2="时效指标").get("timeliness_without_time") == 1


@pytest.mark.parametrize("name", ["利息费用保障率", "政策性挂账利息补贴保障率", "补贴发放率", "资金拨付率"])
def test_payment_rates_under_effects_are_outputs(name):
    votes = _votes(name=name, value="100%", level2="经济效益指标")
    assert votes.get("effect_counts_outputs") == 1
    assert "fake_quantification" not in votes  # the share paid is measurable
    assert "effect_counts_outputs" not in _votes(name="业务开展保障率", value="≥90%", level2="社会效益指标")


def test_process_framework_rows_are_template():
    votes = _votes(name="项目开工率", value="≥95%", level1="过程管理指标", level2="项目管理指标", project_name="以工代赈示范工程")
    assert votes.get("process_template_row") == 1


def test_an_unfilled_row_of_another_works_domain():
    project = "农村饮水安全巩固提升工程专项"
    assert _votes(name="新建堤防、护岸长度", value="公里", level2="数量指标", project_name=project).get("unfilled_foreign_template") == 1
    assert "unfilled_foreign_template" not in _votes(name="农村饮水工程覆盖服务人口数", value="万人", level2="数量指标",
                                                     project_name=project)
    assert "unfilled_foreign_template" not in _votes(name="䶮䶯长度", value="公里", level2="数量指标", project_name=project)


def test_a_row_repeated_across_the_batch_is_boilerplate_evidence():
    rows = _frame(*({"name": "工作完成情况", "value": "良好", "project_name": f"项目{i}", "doc_id": f"d{i % 2}"}
                    for i in range(4)))
    batch = CorpusStats.from_rows(rows)
    votes = apply_rules(rows.head(1), corpus=CorpusStats({}, {}).merged(batch)).votes
    assert votes.loc[0, "repeated_in_corpus"] == 1
    assert apply_rules(rows.head(1)).votes.loc[0, "repeated_in_corpus"] == ABSTAIN  # one row alone is no evidence


@pytest.mark.parametrize("value", ["高中低", "好/较好/一般", "优、良、中、差"])
def test_a_listed_scale_is_unmeasurable_and_vague_only_under_a_direction(value):
    plain = _votes(name="设备维护情况", value=value, level2="可持续影响指标")
    assert plain.get("placeholder_value") == 1 and plain.get("placeholder_is_not_vague") == 0
    assert "scale_under_a_direction" not in plain
    directed = _votes(name="进一步提高群众安全感", value=value, level2="社会效益指标")
    assert directed.get("scale_under_a_direction") == 1 and "placeholder_is_not_vague" not in directed


def test_a_description_that_names_the_group_makes_satisfaction_specific():
    generic = _votes(name="服务对象满意度", value="≥90%", level2="服务对象满意度指标", description="服务对象满意度")
    assert generic.get("generic_satisfaction") == 1
    named = _votes(name="服务对象满意度", value="≥90%", level2="服务对象满意度指标",
                   description="接受就餐职工对职工食堂提供服务的满意程度。")
    assert "generic_satisfaction" not in named and named.get("named_group_satisfaction") == 0
    survey = _votes(name="群众满意度", value="≥90%", level2="服务对象满意度指标",
                    description="受益群体调查中，满意和比较满意的人数占全部调查人数的比率")
    assert survey.get("generic_satisfaction") == 1  # the survey clause names no group


def test_a_generic_phrase_whose_value_names_the_project_object_is_not_filler():
    assert _votes(name="提高效率", value="提高效率", project_name="固定资产维修费").get("generic_phrase") == 1
    assert "generic_phrase" not in _votes(name="提高效率", value="提高固定资产使用效率", project_name="固定资产维修费")


def test_repetition_needs_a_generic_description():
    rows = _frame(*({"name": "长期使用性", "value": "≥90%", "project_name": f"项目{i}", "description": desc}
                    for i, desc in enumerate(["", "", "能够长期较好地满足办公楼用水用电需求。"])))
    votes = apply_rules(rows).votes["repeated_in_corpus"].tolist()
    assert votes == [1, 1, ABSTAIN]


@pytest.mark.parametrize("name", ["确保社会和谐稳定", "维护社会稳定", "提升公共服务水平", "资金是否及时支出"])
def test_names_of_generic_and_vague_words_only_are_generic(name):
    from budgetnlp.rules import is_generic_name

    assert is_generic_name(name)
    assert not is_generic_name("确保敬老院" + name)


def test_a_yes_to_an_undefined_improvement_is_filler_unless_it_names_the_project():
    generic = _votes(name="是否提升了环境状况", value="是", level2="社会效益指标", project_name="站前广场绿化项目",
                     description="是否提升了城市环境状况")
    assert generic.get("undefined_improvement_generic") == 1
    own = _votes(name="提升效果", value="是", level2="可持续影响指标", project_name="敬老院人员经费",
                 description="保障敬老院日常工作正常运转")
    assert "undefined_improvement_generic" not in own


@pytest.mark.parametrize("name", ["完成率", "群众满意度", "提升服务水平", "长期使用性", "培训人数"])
@pytest.mark.parametrize("value", ["成效明显", "按进度完成", "明显提升", "≥90%"])
@pytest.mark.parametrize("level2", ["质量指标", "时效指标", "社会效益指标"])
def test_unknown_words_in_value_or_description_never_raise_boilerplate_or_mismatch(name, value, level2):
    """Whether a text value is vague or unmeasurable is decided by its form; whether the row is
    filler or misfiled must never be decided by words no lexicon knows."""
    def flagging(**cells):
        view = _view(name=name, level2=level2, project_name="学校食堂改造", **cells)
        return {lf.name for lf in VOTING if lf.vote == 1 and lf.flag in ("boilerplate", "category_mismatch") and lf.fires(view)}

    base = flagging(value=value, description="")
    assert flagging(value=value + UNKNOWN, description="") <= base
    assert flagging(value=value, description=UNKNOWN) <= base


# ---------------------------------------------------------------- failure classes of the locality rows
@pytest.mark.parametrize("prefix", ["", "项目", "工程", "项目（工程）", "整体"])
@pytest.mark.parametrize("stem", ["完成时限", "完成时间", "完工时间", "实施期限"])
@pytest.mark.parametrize("value", ["2023年12月底前", "2025年10月底前", "2024年6月30日前", "12月底前完成"])
def test_a_deadline_under_a_name_of_nothing_is_filler(prefix, stem, value):
    """LABELS.md: a deadline does not make a row specific; the name must say what is due."""
    assert _votes(name=prefix + stem, value=value, level2="时效指标").get("generic_deadline") == 1
    for due in ("支付物业费", "道路硬化工程", "食品监管专项工作整体", "疫苗接种"):
        assert "generic_deadline" not in _votes(name=due + stem, value=value, level2="时效指标"), due


def test_a_deadline_written_as_the_name_is_filler():
    assert _votes(name="2022年底之前", value="2022年底之前", level2="时效指标").get("generic_deadline") == 1
    assert "generic_deadline" not in _votes(name="完成时限", value="≤20工作日", level2="时效指标")  # a duration


@pytest.mark.parametrize("money", ["经费", "资金", "项目资金", "专项经费"])
@pytest.mark.parametrize("act", ["支出", "使用", "审批流程", ""])
@pytest.mark.parametrize("quality", ["合规性", "规范性"])
@pytest.mark.parametrize("value", ["严格执行相关制度规定", "符合相关规定", "严格执行相关财经法规制度", "≥95%"])
def test_compliance_with_rules_in_general_is_filler(money, act, quality, value):
    """经费支出合规性 → 严格执行相关制度规定 is true of any project; 补助资格合规性 names what is checked."""
    def filler(**cells) -> set[str]:
        return {name for name, vote in _votes(level2="质量指标", **cells).items()
                if vote == 1 and LF_BY_NAME[name].flag == "boilerplate"}

    assert filler(name=money + act + quality, value=value, description=f"反映{money}{act}合规情况")
    assert not filler(name=f"补助资格{quality}", value=value)


@pytest.mark.parametrize("name,value", [("参训学员满意度", "≥95%"), ("群众满意度", "≥90%"), ("培训人数", "=30人")])
def test_a_row_without_a_category_is_never_misfiled(name, value):
    view = _view(name=name, value=value, level2="")
    assert not [lf.name for lf in VOTING if lf.flag == "category_mismatch" and lf.vote == 1 and lf.fires(view)]


@pytest.mark.parametrize("name,value,expected", [
    ("对社会经济发展的影响", "构建和谐劳动关系", True),  # the written value states a social effect
    ("经济发展", "构建和谐劳动关系，促进经济发展", False),  # …and an economic one
    ("对社会经济发展的影响", "促进就业，维护社会稳定，促进经济发展", False),
    ("对保障村两委机构正常运行的影响程度", "效果明显", True),  # the running of an office is no economic effect
    ("公共服务水平提升情况", "提升公共服务水平", True),
    ("带动村集体及种植户增收致富", "增加", False),
])
def test_an_economic_effect_is_read_from_the_value_it_states(name, value, expected):
    fired = _votes(name=name, value=value, level2="经济效益指标").get("social_under_economic") == 1
    assert fired is expected


def _boilerplate_votes(frame: pd.DataFrame) -> list[dict[str, int]]:
    votes = apply_rules(frame).votes
    names = [lf.name for lf in VOTING if lf.flag == "boilerplate"]
    return [{n: int(v) for n, v in row.items() if v != ABSTAIN} for _, row in votes[names].iterrows()]


@pytest.mark.parametrize("output,effect", [
    ("基建工程委托业务项目数量", "对维护基建市场公平的影响程度"),
    ("保障村干部人数", "提高村(社区)干部工作积极性的影响程度"),
    ("放映公益电影场次", "提升公益电影放映质量"),
])
@pytest.mark.parametrize("project", ["委托业务项目", "某某专项"])
def test_a_name_that_shares_words_with_the_projects_counted_outputs_names_its_object(output, effect, project):
    """The project's own count rows say what it delivers, whatever the project is called."""
    rows = _frame({"project_name": project, "level2": "数量指标", "name": output, "value": "≥50个"},
                  {"project_name": project, "level2": "社会效益指标", "name": effect, "value": "效果明显"})
    assert _boilerplate_votes(rows)[1].get("names_project_object") == 0
    other = _frame({"project_name": project, "level2": "数量指标", "name": "发放宣传册数量", "value": "≥50份"},
                   {"project_name": project, "level2": "社会效益指标", "name": effect, "value": "效果明显"})
    assert "names_project_object" not in _boilerplate_votes(other)[1]  # outputs of another thing vouch for nothing
    elsewhere = _frame({"project_name": project, "project_code": "A", "level2": "数量指标", "name": output, "value": "≥50个"},
                       {"project_name": project, "project_code": "B", "level2": "社会效益指标", "name": effect, "value": "效果明显"})
    assert "names_project_object" not in _boilerplate_votes(elsewhere)[1]  # another project's outputs


def test_a_count_row_never_vouches_for_itself_nor_for_a_satisfaction_row():
    rows = _frame({"level2": "数量指标", "name": "服务人数", "value": "≥1人"},
                  {"level2": "满意度指标", "name": "服务对象满意度", "value": "≥90%"})
    votes = _boilerplate_votes(rows)
    assert "names_project_object" not in votes[0] and "names_project_object" not in votes[1]
