"""budgetnlp.normalize: gold agreement, golden cases (tests/fixtures/value_cases.csv), invariants."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from budgetnlp.normalize import NormalizedValue, format_value, parse_value
from budgetnlp.schema import METRIC_TYPES, VALUE_ISSUES

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "data" / "annotations" / "gold.csv"
CASES = Path(__file__).resolve().parent / "fixtures" / "value_cases.csv"
FIELDS = [field.name for field in dataclasses.fields(NormalizedValue)]
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- gold
def test_metric_type_agrees_with_gold():
    rows = _read_csv(GOLD)
    assert len(rows) == 278
    misses = []
    for row in rows:
        parsed = parse_value(row["value"], name=row["name"], level2=row["level2"], year=row["year"])
        if parsed.metric_type != row["metric_type"]:
            misses.append(f"{row['value']!r} ({row['name']} / {row['level2']}): "
                          f"gold {row['metric_type']}, got {parsed.metric_type}")
    agreement = 1 - len(misses) / len(rows)
    print(f"\nmetric_type agreement with gold: {agreement:.2%} ({len(rows) - len(misses)}/{len(rows)})")
    for miss in misses:
        print("  miss:", miss)
    assert agreement >= 0.98, "misses:\n" + "\n".join(misses)


# --------------------------------------------------------------------------- golden cases
def _expected(row: dict[str, str]) -> NormalizedValue:
    def number(key):
        return float(row[key]) if row[key] else None

    def text(key):
        return row[key] or None

    return NormalizedValue(
        op=text("op"),
        number=number("number"),
        low=number("low"),
        high=number("high"),
        unit=text("unit"),
        metric_type=row["metric_type"],
        deadline=text("deadline"),
        issue=row["issue"],
    )


CASE_ROWS = _read_csv(CASES)


def test_golden_cases_cover_every_outcome():
    assert len(CASE_ROWS) >= 60
    assert {row["metric_type"] for row in CASE_ROWS} == set(METRIC_TYPES)
    assert {row["issue"] for row in CASE_ROWS} == set(VALUE_ISSUES)


@pytest.mark.parametrize(
    "row", CASE_ROWS, ids=[f"{i}-{row['text'] or 'blank'}" for i, row in enumerate(CASE_ROWS)]
)
def test_golden_case(row):
    year = int(row["year"]) if row["year"] else None
    got = parse_value(row["text"], name=row["name"] or None, level2=row["level2"] or None, year=year)
    assert got == _expected(row)


# --------------------------------------------------------------------------- the door
@pytest.mark.parametrize("text", [None, float("nan"), 90, 0.5, b"bytes", ["x"], {"a": 1}])
def test_any_input_is_accepted(text):
    parsed = parse_value(text, name=float("nan"), level2=None, year=float("nan"))
    assert parsed.metric_type in METRIC_TYPES


def test_none_and_nan_are_empty():
    assert parse_value(None).issue == "empty"
    assert parse_value(float("nan")).metric_type == "empty"


@pytest.mark.parametrize("year", [2023, "2023", "2023年", 2023.0])
def test_year_may_be_int_or_str(year):
    assert parse_value("年底前", year=year).deadline == "2023-12-31"


@pytest.mark.parametrize("year", [None, "", "unknown", True, 12])
def test_unknown_year_leaves_deadline_empty(year):
    parsed = parse_value("12月31日前", year=year)
    assert (parsed.metric_type, parsed.deadline) == ("time", None)


def test_to_dict_has_every_field():
    parsed = parse_value("≥90%")
    assert list(parsed.to_dict()) == FIELDS
    assert parsed.to_dict()["number"] == 90.0


def test_format_value_examples():
    assert format_value(parse_value("＝78人")) == "=78人"
    assert format_value(parse_value("达到90%以上")) == "≥90%"
    assert format_value(parse_value("90~95%")) == "90%-95%"
    assert format_value(parse_value("2023年12月底前")) == "2023-12-31前"
    assert format_value(parse_value("12月")) == "12个月"
    assert format_value(parse_value("是")) == ""
    assert format_value(parse_value("≥9090%及以上")) == ""


# --------------------------------------------------------------------------- invariants
VALUE_LIKE = st.from_regex(
    r"\A(≥|≤|=|＝|>|<|不低于|不超过|达到)?([0-9０-９]{1,6}([.,][0-9]{1,3})?|[一二两三十百]{1,3})"
    r"(%|％|百分比|人|人次|个|次|万元|元|亿元|㎡|平方米|天|个月|月|年|日|季度|户)?"
    r"(以上|以下|以内|及以上|前|底前|专职调解员)?\Z",
    fullmatch=True,
)


def _check(parsed: NormalizedValue) -> None:
    assert isinstance(parsed, NormalizedValue)
    assert parsed.metric_type in METRIC_TYPES
    assert parsed.issue in VALUE_ISSUES
    assert parsed.op in (None, "≥", "≤", "=", ">", "<")
    for number in (parsed.number, parsed.low, parsed.high):
        assert number is None or (isinstance(number, float) and math.isfinite(number))
    if parsed.issue in ("malformed", "empty"):
        assert parsed.number is None and parsed.low is None and parsed.high is None


@FAST
@given(text=st.text(), name=st.text(max_size=12), level2=st.text(max_size=8),
       year=st.one_of(st.none(), st.integers(), st.text(max_size=6)))
def test_never_raises_on_any_text(text, name, level2, year):
    _check(parse_value(text, name=name, level2=level2, year=year))


@FAST
@given(text=VALUE_LIKE, name=st.sampled_from(["", "完成率", "服务人数", "人均标准", "资金成本", "满意度"]),
       level2=st.sampled_from(["", "数量指标", "质量指标", "成本指标"]),
       year=st.one_of(st.none(), st.integers(1990, 2030)))
def test_never_raises_on_value_like_text(text, name, level2, year):
    _check(parse_value(text, name=name, level2=level2, year=year))


CLEAN_UNITS = ["%", "百分比", "人", "人次", "个", "次", "户", "项", "件", "万元", "元", "亿元", "㎡",
               "平方米", "公里", "km", "米", "亩", "吨", "天", "个月", "小时", "工作日", "年", "元/人", "分"]
CLEAN_NUMBERS = st.one_of(
    st.integers(0, 10**7).map(str),
    st.decimals(0, 10**5, places=2, allow_nan=False, allow_infinity=False).map(str),
)


@FAST
@given(op=st.sampled_from(["≥", "≤", "=", ">", "<", ""]), number=CLEAN_NUMBERS,
       unit=st.sampled_from(CLEAN_UNITS))
def test_format_then_parse_is_stable(op, number, unit):
    text = f"{op}{number}{unit}"
    value = parse_value(text)
    assume(value.issue == "none")  # e.g. 1010% is a doubled digit group, not a clean value
    assert value.number is not None or value.deadline is not None, text
    again = parse_value(format_value(value))
    assert dataclasses.asdict(again) == dataclasses.asdict(value), (text, format_value(value))


# --------------------------------------------------------------------------- locality value forms
LOCALITIES = ROOT / "data" / "annotations" / "gold_localities.csv"
HOLDOUT = ROOT / "evaluation" / "holdout_sources.txt"


def test_metric_type_agrees_with_locality_gold_on_development_sources():
    """The held-out sources are never read here (evaluation/parser_report.py --include-holdout)."""
    held_out = set(HOLDOUT.read_text(encoding="utf-8").split()) if HOLDOUT.is_file() else set()
    rows = [row for row in _read_csv(LOCALITIES) if row["source_id"] not in held_out]
    assert len(rows) >= 100
    misses = [
        f"{row['source_id']} {row['value']!r} ({row['name']} / {row['level2']}): gold {row['metric_type']}, got {parsed}"
        for row in rows
        if (parsed := parse_value(row["value"], name=row["name"], level2=row["level2"], year=row["year"]).metric_type)
        != row["metric_type"]
    ]
    assert 1 - len(misses) / len(rows) >= 0.98, "misses:\n" + "\n".join(misses)


OP_SPELLINGS = {
    "≥": ["≥", "≧", ">=", "＞＝", "≥=", "大于等于", "大于或等于", "不低于", "不少于"],
    "≤": ["≤", "≦", "<=", "＜＝", "小于等于", "不超过", "不高于"],
    "=": ["=", "＝", "═", "等于"],
}
PERCENT_SPELLINGS = ["%", "％", "百分比", "(百分比)", "（百分比）"]


@pytest.mark.parametrize("op", sorted(OP_SPELLINGS))
@pytest.mark.parametrize("unit", PERCENT_SPELLINGS)
@pytest.mark.parametrize("number", ["98", "９５", "99.5", "100"])
def test_every_spelling_of_an_operator_and_of_percent(op, unit, number):
    for spelling in OP_SPELLINGS[op]:
        for text in (f"{spelling}{number}{unit}", f"{spelling} {number} {unit}"):
            parsed = parse_value(text, name="验收合格率", level2="质量指标")
            assert (parsed.op, parsed.unit, parsed.metric_type, parsed.issue) == (op, "%", "percent", "none"), text
            assert parsed.number == float(number.translate(str.maketrans("０１２３４５６７８９", "0123456789")))


def test_a_unit_with_no_figure_is_empty_for_every_unit():
    from budgetnlp.normalize import COUNTER_UNITS, OTHER_UNITS

    for unit in (*COUNTER_UNITS, *OTHER_UNITS):
        for text in (unit, f"≥{unit}", f"≧ {unit}", f"({unit})", f"≥**{unit}", f"万{unit}" if unit != "元" else "万元"):
            parsed = parse_value(text, name="工程数量", level2="数量指标")
            assert (parsed.metric_type, parsed.issue, parsed.number) == ("empty", "empty", None), text
            assert parsed.unit is not None, text


@pytest.mark.parametrize("levels", [("高", "中", "低"), ("好", "较好", "一般", "较差", "差"), ("优", "良", "中", "差"),
                                    ("达成", "基本达成", "未达成"), ("满意", "基本满意", "不满意")])
@pytest.mark.parametrize("sep", ["", "/", "、", ",", "，", " "])
def test_a_listed_scale_is_a_grade_without_a_level(levels, sep):
    parsed = parse_value(sep.join(levels), name="服务质量", level2="质量指标")
    assert (parsed.metric_type, parsed.issue) == ("grade", "placeholder")


@pytest.mark.parametrize("word", ["优良", "良好", "较好", "基本达成", "合格", "≥良好", "良好及以上"])
def test_one_chosen_level_stays_a_plain_grade(word):
    assert (parse_value(word).metric_type, parse_value(word).issue) == ("grade", "none")


@pytest.mark.parametrize("name,expected", [
    ("受益人数(≥**人)", "count"), ("受益人数≥**人", "count"), ("补助标准(≥**元/人·月)", "amount"),
    ("知晓率(≥**%)", "percent"), ("★★★救助人次(≥**人次)", "count"), ("指标3:完成时间(≤**天)", "time"),
])
def test_template_placeholders_in_names_give_their_unit_as_the_hint(name, expected):
    assert parse_value("120", name=name).metric_type == expected


def test_parser_report_leaves_the_holdout_out():
    import re
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "evaluation/parser_report.py"], cwd=ROOT, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^locality\s+\d\.\d{3}\s+\(\d+/\d+ rows, \d+ groups\)$", proc.stdout, re.M)
    held_out = HOLDOUT.read_text(encoding="utf-8").split() if HOLDOUT.is_file() else []
    assert held_out and not any(re.search(rf"^{source}\s", proc.stdout, re.M) for source in held_out)
