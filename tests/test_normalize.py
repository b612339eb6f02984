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
