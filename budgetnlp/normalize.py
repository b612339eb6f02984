"""Value parsing for 指标值 cells: operator, number or range, canonical unit, metric type,
deadline and value issue (LABELS.md, "Metric type of the value as written" and
"Normalized value").

``parse_value`` is the door: it takes anything (None, NaN, numbers, any Unicode) and never
raises. Everything behind it works on one *working string*: NFKC, lower-cased, without
whitespace and without edge punctuation. The original text is never changed here.

Reading order, first hit wins: empty (also "not applicable" wording and a unit with no figure)
→ a whole-value word (boolean, grade) → a listed scale → placeholder → date or deadline →
number with unit → free text.

Choices on ambiguous wording (rules.py and the reports rely on them):

* Operators. 不低于 不少于 不小于 至少 达到 以上 → "≥" (以上/以下 include the number in
  Chinese usage); 不高于 不超过 不多于 最多 以下 以内 内 控制在 → "≤"; 低于 少于 小于 不足 → "<";
  超过 大于 多于 高于, and 余/多 between number and unit (100余人) → ">"; 约 and 左右 → none.
  An operator written before the number wins over a suffix word (≥9090%及以上 → "≥").
* Bare numbers (≥90, 100): the unit stays None, as written; the metric type comes from the
  name (…率/满意度/比例 → percent; 时限/期限 → time; …数/数量/场次 → count; 金额/成本/资金/
  费 → amount), then level 2 (数量 → count; 成本 → amount; 质量/时效/效益/满意度/可持续 →
  percent when 0–100), else count.
* "12月" alone is 12 months (number 12, unit 月, time) with no deadline and no issue: it may be
  December or twelve monthly payments (LABELS.md). "12月份", "12月底", "12月前" are deadlines.
  "N月前" is read as "by the end of month N".
* Deadlines carry op "≤" when written with 前/之前/以前/内/截至 (2023年12月底前, 年内), else none.
  A year alone (2023年, 2023年度) is a deadline at its year end unless the cell also has a
  quantity with a unit; a 4-digit 19xx/20xx number before 年 is always read as a year.
* 万/亿/千 before a non-money unit multiply the number (1.2万人 → 12000 人); money keeps its
  magnitude unit (万元, 亿元), as LABELS.md lists them.
* 分 (score points) is metric type grade: a level on a stated points scale.
* Symbol look-alikes are read as the operator they draw: ≧ ≦ ⩾ ⩽ as ≥ ≤, the box-drawing ═ as =
  (NFKC leaves them alone; self-evaluation tables print them).
* A unit with no figure (公里, 万亩, ≧ %) is empty: metric type empty, issue empty, the unit kept.
  "Not applicable" wording (不适用, 不涉及, 本项目不适用此指标) is empty too. 无 alone is empty
  when the name or level 2 asks for a quantity (…数量, …率, 数量指标), else a boolean answer.
* A value that lists a grade scale without choosing a level (高中低, 好/较好/一般, 优良中差) is
  metric type grade with issue placeholder: the form's options were left in place of a level.
* A completion state (已完成, 未完成, 已实现) is a boolean answer.
* 比例/比率 written after a number is a ratio (≥0.97比例): metric type percent, unit 比例, the
  number as written (never rescaled).
* Template placeholders left in a name ("(≥**人)", "≥**%", "(≥**元/人·月)") are not part of
  the name: they are dropped before the name gives hints, and the unit they show is the
  strongest hint for a bare number. Leading "指标1:" numbering and ★ marks are dropped too.
* Chinese numerals count only when the quantity ends the cell (一次, 不少于两次, 十二个月), so
  prose such as 一站式服务 or 一直持续 stays text.
* unit_mismatch is conservative, three rules only: a rate or degree name (…率, 满意度, 比例 …;
  not 频率/功率/效率/速率) measured in a counter, physical or money unit; a per-capita standard
  (人均…, 补贴标准) measured in people; a 数量指标 row in % whose name counts things (…数量,
  …人数) and names no rate (率, 比例, 覆盖, 占比, 进度 …).
* malformed: a digit group written twice before a percent (9090%, 100100%), or before any
  unit when a symbol and a suffix word both give the operator (≥1010人以上); a number glued to
  prose with no unit (≥0专职调解员…); digits that do not read as one number (1.2.3%, 1,2000);
  an operator symbol followed by words but no number (≥专职调解员; a symbol alone is empty);
  an impossible date; a range whose low is above its high. A malformed value never gets a number.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from ._text import nfkc
from .schema import normalize_level2

__all__ = ["NormalizedValue", "format_value", "parse_value"]

# --------------------------------------------------------------------------- lexicons
# Tune here. All matching is on the working string (NFKC, lower-case, no whitespace).

#: Cells that say "nothing given" in words; cells with no letter or digit at all are empty too.
EMPTY_WORDS = frozenset(
    {"无数据", "暂无", "暂无数据", "空", "空白", "null", "none", "nan", "nat", "<na>", "n/a", "na", "#n/a"}
)

#: "This indicator does not apply": nothing is given (searched anywhere in a cell without digits).
NOT_APPLICABLE = re.compile(r"不适用|不涉及|无此(?:项|指标|内容)|本项目无")

#: Whole-cell yes/no answers.
BOOLEAN_WORDS = frozenset(
    {"是", "否", "有", "无", "是/否", "是或否", "是否", "有/无", "yes", "no", "true", "false",
     "√", "✓", "✔", "×", "✗", "✘",
     "完成", "已完成", "未完成", "全部完成", "按期完成", "如期完成", "实现", "已实现", "未实现",
     "已达到", "未达到", "已落实", "未落实", "已建成", "已开展", "已发放", "已通过", "未通过", "通过"}
)

#: Whole-cell grades on a stated scale (an operator may precede or follow: 良好以上, 达到合格).
GRADE_WORDS = frozenset(
    {"好", "较好", "很好", "一般", "较差", "差", "优", "良", "中", "优秀", "良好", "优良", "中等",
     "合格", "不合格", "及格", "不及格", "达标", "未达标", "基本达标", "达成", "基本达成",
     "部分达成", "未达成", "满意", "基本满意", "比较满意", "较满意", "非常满意", "不满意",
     "高", "较高", "低", "较低", "甲级", "乙级", "丙级", "a级", "b级", "c级"}
)

#: A reference to a budget, a document or a schedule instead of a figure (searched anywhere
#: in a cell that has no number other than a year).
PLACEHOLDER_PATTERNS = (
    r"(?:年度|项目)预算",
    r"预算(?:范围)?(?:之|以)?内",
    r"预算控制数",
    r"(?:不超|不超过|不突破|不高于)(?:年度|项目)?预算",
    r"按照?.{0,10}?(?:进度|计划|规定|标准|文件|政策|合同|要求)"
    r"(?:执行|完成|落实|实施|结算|支付|发放|控制)?$",
    r"参照.{0,10}?(?:政府采购|标准|规定|文件)",
    r"据实(?:结算|支付|列支|核算)",
    r"^按照?实际(?:情况|需要|需求|发生)",
    r"^按照?.{0,8}?(?:测算|核定|核算)",
    r"按实(?:结算|支付)",
)

#: Counters: a number of discrete things (metric type count); written form is canonical.
COUNTER_UNITS = (
    "人次", "户次", "车次", "架次", "台次", "场次", "批次", "班次", "课时", "学时",
    "人", "名", "位", "个", "次", "户", "项", "村", "家", "台", "件", "场", "篇", "株", "棵",
    "辆", "所", "套", "批", "期", "份", "本", "册", "座", "处", "栋", "幢", "间", "张", "条",
    "部", "门", "类", "种", "头", "只", "匹", "口", "眼", "支", "队", "组", "班", "轮", "届",
    "宗", "起", "例", "笔", "块", "根", "盏", "片", "段", "艘", "架", "趟", "遍", "节", "页",
    "幅", "对", "双", "箱", "袋", "瓶", "枚", "颗", "粒", "床", "站", "校", "单", "单位", "册次",
    "家次", "个次", "项次", "人天", "人日",
)

#: Other units: written form (after NFKC, lower-case) → (canonical unit, metric type).
OTHER_UNITS = MappingProxyType({
    "%": ("%", "percent"), "百分比": ("%", "percent"), "‰": ("‰", "percent"),
    "比例": ("比例", "percent"), "比率": ("比例", "percent"),
    "个百分点": ("百分点", "percent"), "百分点": ("百分点", "percent"),
    "亿元": ("亿元", "amount"), "万元": ("万元", "amount"), "元": ("元", "amount"),
    "平方千米": ("平方公里", "count"), "平方公里": ("平方公里", "count"), "km2": ("平方公里", "count"),
    "平方米": ("㎡", "count"), "平米": ("㎡", "count"), "m2": ("㎡", "count"),
    "公顷": ("公顷", "count"), "亩": ("亩", "count"),
    "立方米": ("立方米", "count"), "m3": ("立方米", "count"),
    "公里": ("公里", "count"), "千米": ("公里", "count"), "km": ("公里", "count"),
    "米": ("米", "count"), "m": ("米", "count"), "厘米": ("厘米", "count"), "cm": ("厘米", "count"),
    "毫米": ("毫米", "count"), "mm": ("毫米", "count"),
    "吨": ("吨", "count"), "千克": ("千克", "count"), "公斤": ("千克", "count"), "kg": ("千克", "count"),
    "千瓦时": ("千瓦时", "count"), "kwh": ("千瓦时", "count"), "千瓦": ("千瓦", "count"), "kw": ("千瓦", "count"),
    "个工作日": ("工作日", "time"), "工作日": ("工作日", "time"),
    "个小时": ("小时", "time"), "小时": ("小时", "time"), "分钟": ("分钟", "time"), "min": ("分钟", "time"),
    "个月": ("月", "time"), "月": ("月", "time"), "个季度": ("季度", "time"), "季度": ("季度", "time"),
    "个星期": ("周", "time"), "星期": ("周", "time"), "周": ("周", "time"),
    "天": ("天", "time"), "日": ("天", "time"), "年": ("年", "time"),
    "分": ("分", "grade"),
})

#: Name endings that make a name a rate or a degree (besides …率).
RATE_DEGREE_WORDS = (
    "满意度", "知晓度", "认可度", "认同度", "完成度", "覆盖度", "参与度", "支持度", "信任度",
    "普及度", "认知度", "美誉度", "知名度", "熟悉度", "配合度", "达标度", "合格度", "完好度",
    "满足度", "舒适度", "便利度", "便捷度", "比例", "占比", "比重", "比率",
)
#: …率 names that are not ratios of a whole: they may rightly carry a counter unit.
RATE_EXCEPTIONS = ("频率", "功率", "效率", "速率")
#: People counters, for per-capita standards written in 人.
PEOPLE_UNITS = frozenset({"人", "人次", "名", "位"})

# --------------------------------------------------------------------------- tables
_OPS = MappingProxyType({
    "≥": "≥", "≧": "≥", "⩾": "≥", ">=": "≥", "=>": "≥", "≥=": "≥", "≮": "≥",
    "≤": "≤", "≦": "≤", "⩽": "≤", "<=": "≤", "=<": "≤", "≤=": "≤", "≯": "≤",
    "=": "=", "==": "=", ">": ">", "<": "<",
    "大于等于": "≥", "大于或等于": "≥", "不低于": "≥", "不少于": "≥", "不小于": "≥",
    "不得低于": "≥", "不得少于": "≥", "至少": "≥", "最少": "≥", "达到": "≥", "达": "≥",
    "小于等于": "≤", "小于或等于": "≤", "不高于": "≤", "不超过": "≤", "不多于": "≤", "不大于": "≤",
    "不得超过": "≤", "不得高于": "≤", "最多": "≤", "至多": "≤", "控制在": "≤", "不超": "≤",
    "超过": ">", "大于": ">", "多于": ">", "高于": ">",
    "小于": "<", "低于": "<", "少于": "<", "不足": "<", "未满": "<",
    "等于": "=",
})
_SUFFIX_OPS = MappingProxyType({
    "及以上": "≥", "或以上": "≥", "以上": "≥", "及以下": "≤", "或以下": "≤", "以下": "≤",
    "以内": "≤", "之内": "≤", "内": "≤", "左右": None, "上下": None,
})
_CN_DIGIT = MappingProxyType(
    {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
)
_CN_SCALE = MappingProxyType({"十": 10, "百": 100, "千": 1000})
_MAGNITUDE = MappingProxyType({"万": 10_000.0, "亿": 100_000_000.0, "千": 1_000.0})
_UNIT_TABLE = MappingProxyType({**{u: (u, "count") for u in COUNTER_UNITS}, **OTHER_UNITS})
_UNIT_METRIC = MappingProxyType({canon: kind for canon, kind in _UNIT_TABLE.values()})
_WRITTEN_UNIT = MappingProxyType({"月": "个月", "季度": "个季度"})  # unambiguous in format_value
_PERCENT_LEVEL2 = ("质量", "时效", "效益", "满意", "可持续")
_WS = re.compile(r"\s+")
_LEAD_PUNCT = "\"'“”‘’「」『』《》【】·•*:：、,;"
_TAIL_PUNCT = "。.;,、!?\"'“”‘’」』》】:"
_BOOLEAN_MARKS = frozenset({"√", "✓", "✔", "×", "✗", "✘"})
#: Operator look-alikes NFKC leaves alone → the operator they draw.
_LOOKALIKES = str.maketrans({"≧": "≥", "≦": "≤", "⩾": "≥", "⩽": "≤", "═": "=", "〓": "="})
#: Separators between the levels of a listed scale (好/较好/一般).
_SCALE_SEP = re.compile(r"[/、,;|或和]|及|与")
#: 无 alone means "none given" when a quantity is asked for (the name's hint or level 2).
_QUANTITY_LEVEL2 = ("数量", "成本")


def _alternation(words) -> str:
    """Regex alternation, longest first, ASCII words guarded against a following letter."""
    parts = []
    for word in sorted(words, key=len, reverse=True):
        part = re.escape(word)
        if word[-1].isascii() and word[-1].isalpha():
            part += "(?![a-z])"
        parts.append(part)
    return "|".join(parts)


_ARABIC = r"[0-9]+(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_CN_NUM = r"[一二两三四五六七八九十][零〇一二两三四五六七八九十百千万]*"
_NUMBER = re.compile(rf"百分之(?P<pct>{_ARABIC}|{_CN_NUM}|百)|(?P<ar>{_ARABIC})|(?P<cn>{_CN_NUM})")
_BAD_TAIL = re.compile(r"[0-9]|[.,][0-9]")
_JUNK_DIGITS = re.compile(r"[0-9.,]*")
_UNIT = re.compile(_alternation(_UNIT_TABLE))
_PER_UNIT = re.compile(rf"[/·](?P<u>{_alternation(_UNIT_TABLE)})")
_PAREN = re.compile(r"\([^()]{0,6}\)")
_APPROX = re.compile(r"余|多")
_SUFFIX_OP = re.compile(_alternation(_SUFFIX_OPS))
_PREFIX_OP = re.compile(rf"(?:{_alternation(_OPS)})$")
_OP_ONLY = re.compile(rf"(?:{_alternation(_OPS)})?")
_LEADING_SYMBOL = re.compile(r"[≥≧⩾≤≦⩽=<>≮≯]+")
_RANGE_SEP = re.compile(r"-|~|〜|—|–|至|到")
_PLACEHOLDER = re.compile("|".join(PLACEHOLDER_PATTERNS))
_YEAR_TOKEN = re.compile(r"(?:19|20)[0-9]{2}年度?")
_YEAR_IN_TEXT = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])")
_PUNCT_ONLY = re.compile(r"[\W_]*")

# Dates. Years in digits or Chinese digits; months and days in digits or Chinese numerals.
_Y = r"(?P<y>(?:19|20)[0-9]{2}|[一二][〇零一二三四五六七八九]{3})"
_M = r"(?P<m>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_D = r"(?P<d>3[01]|[12][0-9]|0?[1-9]|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_Q = r"(?P<q>[1-4一二三四])"
# After a written year any 1–2 digit month or day is a date, checked later (2023年13月 → malformed).
_M_ANY = r"(?P<m>[0-9]{1,2}|十[一二]?|[一二三四五六七八九])"
_D_ANY = r"(?P<d>[0-9]{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_DATE_PATTERNS = (
    ("day", re.compile(rf"(?<![0-9]){_Y}[-./]{_M_ANY}[-./]{_D_ANY}(?![0-9])")),
    ("day", re.compile(rf"(?<![0-9]){_Y}年{_M_ANY}月{_D_ANY}(?:日|号)?")),
    ("month", re.compile(rf"(?<![0-9]){_Y}[-/]{_M}(?![-/0-9])")),
    ("month", re.compile(rf"(?<![0-9]){_Y}年{_M_ANY}月份?(?:底|末)?")),
    ("quarter", re.compile(rf"(?<![0-9]){_Y}年?(?:第)?{_Q}季度")),
    ("half", re.compile(rf"(?<![0-9]){_Y}年(?P<h>上|下)半年")),
    ("year", re.compile(rf"(?<![0-9]){_Y}年度?(?P<end>底|末|终)?")),
    ("day", re.compile(rf"(?<![0-9]){_M}月{_D}(?:日|号)")),
    ("month", re.compile(rf"(?<![0-9]){_M}月(?:份|底|末|(?=之前|以前|前|止))")),
    ("quarter", re.compile(rf"(?:第|(?<![0-9])){_Q}季度")),
    ("half", re.compile(r"(?P<h>上|下)半年")),
    ("year", re.compile(
        r"(?:本|当|今)年度?(?:底|末|终|内)?|(?<![0-9一二三四五六七八九十个])年度?(?:底|末|终|内)|年度结束前"
    )),
)
_DEADLINE_BEFORE = re.compile(r"(?:截至|截止|不晚于|最迟|最晚|于)$")
_DEADLINE_AFTER = re.compile(r"之前|以前|前|之内|以内|内|止|为止")
_OP_SYMBOL_END = re.compile(r"(?:≥|≧|⩾|≤|≦|⩽|>=|<=|=|<|>)$")

# Name hints.
_NAME_NUMBERING = re.compile(r"^[★☆*]*(?:指标[0-9一二三四五六七八九十]+[:：.、]?)?[★☆*]*")
_NAME_PLACEHOLDER = re.compile(
    r"\(?(?:[≥≤<>=]|大于|小于|不低于|不高于)*\*+(?P<unit>[^()*≥≤<>=]{0,3}?)(?:/[^()]*)?\)?(?=$|\(|[-—])"
)
_PAREN_IN_NAME = re.compile(r"\(([^()]{1,6})\)")
_NAME_TAIL = re.compile(r"(?:\([^()]*\)|\([^()]*$)+$")
_PERCENT_NAME = re.compile(rf"(?<!频)(?<!功)率$|(?:{'|'.join(RATE_DEGREE_WORDS)})$|%|百分比|比例|占比|比重|比率")
_TIME_NAME = re.compile(r"时限|期限|工期|周期|时长|天数|年限|时间")
_COUNT_NAME = re.compile(r"数量|[人户次个件项场名台套辆村]数|场次|人次|(?<![指系分倍])数$")
_AMOUNT_NAME = re.compile(r"金额|成本|资金|经费|费用|费$|价格|单价|投入|投资|补贴标准|补助标准|工资|收入|产值")
_RATE_NAME = re.compile(rf"率$|(?:{'|'.join(RATE_DEGREE_WORDS)})$")
_RATE_WORD = re.compile(r"率|比例|覆盖|占比|比重|百分比|进度|程度|度$")
_PER_CAPITA = re.compile(r"人均|每人|(?:补贴|补助|津贴|救助|待遇|工资).{0,4}标准$")


# --------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class NormalizedValue:
    """One parsed 指标值. ``number`` or ``low``/``high`` (a range) or ``deadline``, never a guess."""

    op: str | None
    number: float | None
    low: float | None
    high: float | None
    unit: str | None
    metric_type: str
    deadline: str | None
    issue: str

    def to_dict(self) -> dict:
        """Plain dict of the fields (the scorer prefixes them with ``value_``)."""
        return asdict(self)


def parse_value(
    text: object, name: object = None, level2: object = None, year: object = None
) -> NormalizedValue:
    """Parse a written 指标值; ``name``/``level2`` give hints, ``year`` dates year-less deadlines.

    Accepts any input and never raises: None/NaN are empty, non-strings are read as str().
    """
    return _parse(_working(text), _hint_name(name), _squash(level2), _coerce_year(year))


def format_value(value: NormalizedValue) -> str:
    """The canonical written form, e.g. "≥90%", "=78人", "90%-95%", "2023-12-31前".

    Only numbers, ranges and deadlines have one: parsing the result gives the same value back.
    Words (boolean, grade, text), empty and malformed values come back as "".
    """
    op = value.op or ""
    if value.deadline:
        return f"{value.deadline}前" if op == "≤" else f"{op}{value.deadline}"
    unit = _WRITTEN_UNIT.get(value.unit, value.unit) if value.unit else ""
    if value.low is not None and value.high is not None:
        low, high = _format_number(value.low), _format_number(value.high)
        return f"{op}{low}{unit}-{high}{unit}" if low and high else ""
    if value.number is not None:
        number = _format_number(value.number)
        return f"{op}{number}{unit}" if number else ""
    return ""


# --------------------------------------------------------------------------- private readings
class _Quantity(NamedTuple):
    """What the number reader found; ``malformed`` readings carry no number."""

    op: str | None
    number: float | None
    low: float | None
    high: float | None
    unit: str | None
    malformed: bool


class _Reading(NamedTuple):
    """One number as written: raw digits, value, unit, 万/千/亿 factor, 余/多, end, unreadable."""

    raw: str
    number: float | None
    unit: str | None
    factor: float
    approx: bool
    end: int
    bad: bool


class _Date(NamedTuple):
    """What the date reader found; ``weak`` is a year alone (2023年), which a quantity may override."""

    deadline: str | None
    op: str | None
    malformed: bool
    weak: bool
    start: int
    end: int


# --------------------------------------------------------------------------- door helpers
def _working(text) -> str:
    """NFKC, lower-case, no whitespace, no edge punctuation: the string every helper reads."""
    s = _WS.sub("", nfkc(text).lower().translate(_LOOKALIKES))
    s = s.lstrip(_LEAD_PUNCT).rstrip(_TAIL_PUNCT)
    return s


def _squash(text) -> str:
    """Hints (name, level2) are compared NFKC'd without whitespace; None/NaN become ''."""
    return _WS.sub("", nfkc(text).translate(_LOOKALIKES))


def _hint_name(name) -> str:
    """The name as a hint: squashed, without numbering (指标1:), ★ marks or template
    placeholders (≥**人), whose unit is kept as a bracketed note: "(≥**人)" → "(人)"."""
    clean = _NAME_NUMBERING.sub("", _squash(name))
    return _NAME_PLACEHOLDER.sub(lambda m: f"({m.group('unit')})" if m.group("unit") else "", clean)


def _coerce_year(year) -> int | None:
    """The budget year as int from int, float, str ('2023', '2023年') or None; else None."""
    if year is None or isinstance(year, bool):
        return None
    if isinstance(year, int):
        return year if 1900 <= year <= 2100 else None
    if isinstance(year, float):
        return int(year) if year.is_integer() and 1900 <= year <= 2100 else None
    match = _YEAR_IN_TEXT.search(nfkc(year))
    return int(match.group()) if match else None


# --------------------------------------------------------------------------- the parser
@lru_cache(maxsize=1 << 16)  # (value, name, level 2) triples repeat across projects; the result is frozen
def _parse(s: str, name: str, level2: str, year: int | None) -> NormalizedValue:
    """Try each reading in turn; the first that fits decides the metric type."""
    unit_only = _unit_only(s)
    if unit_only is not None:
        return _value(unit=unit_only, metric_type="empty", issue="empty")
    if s not in _BOOLEAN_MARKS and _is_empty(s):
        return _value(metric_type="empty", issue="empty")
    if _not_applicable(s, name, level2):
        return _value(metric_type="empty", issue="empty")
    word = _read_word(s)
    if word is not None:
        return word
    if _is_scale(s):
        return _value(metric_type="grade", issue="placeholder")
    if _is_placeholder(s):
        return _value(metric_type="text", issue="placeholder")
    date = _read_date(s, year)
    if date is not None and date.weak:
        # "2023年完成培训100人": a bare year is context; the quantity is the target.
        quantity = _read_quantity(s[: date.start] + s[date.end:])
        if quantity is not None and quantity.unit is not None and not quantity.malformed:
            return _quantity_value(quantity, name, level2)
    if date is not None:
        return _value(
            op=date.op,
            metric_type="time",
            deadline=date.deadline,
            issue="malformed" if date.malformed else "none",
        )
    quantity = _read_quantity(s)
    if quantity is not None:
        return _quantity_value(quantity, name, level2)
    symbol = _LEADING_SYMBOL.match(s)
    if symbol:
        # "≥专职调解员": a threshold was meant, but no number can be read.
        op = _OPS.get(symbol.group()) or _OPS.get(symbol.group()[0])
        return _value(op=op, metric_type=_bare_metric(None, name, level2), issue="malformed")
    return _value(metric_type="text")


def _value(op=None, number=None, low=None, high=None, unit=None, metric_type="text",
           deadline=None, issue="none") -> NormalizedValue:
    """NormalizedValue with keyword defaults, so each reading names only what it found."""
    return NormalizedValue(op, number, low, high, unit, metric_type, deadline, issue)


def _is_empty(s: str) -> bool:
    """Blank, punctuation only (—, /, ≥ with nothing after) or a 'no data' word."""
    return s in EMPTY_WORDS or not any(ch.isalnum() for ch in s)


def _not_applicable(s: str, name: str, level2: str) -> bool:
    """不适用 wording, or 无 alone where the name or level 2 asks for a quantity."""
    if s == "无":
        return _name_metric(name) is not None or any(w in normalize_level2(level2) for w in _QUANTITY_LEVEL2)
    return not re.search(r"[0-9]", s) and bool(NOT_APPLICABLE.search(s))


def _unit_only(s: str) -> str | None:
    """The canonical unit of a cell that is a unit and nothing else (公里, 万亩, ≥%, (人), ≥**%:
    a template's ** where the figure should be)."""
    bare = s[_OP_ONLY.match(s).end():].replace("*", "").strip("()")
    if bare and bare[0] in _MAGNITUDE and bare[1:] in _UNIT_TABLE:
        bare = bare[1:]
    if bare in _UNIT_TABLE:
        return _UNIT_TABLE[bare][0]
    return None


def _is_scale(s: str) -> bool:
    """Two or more grade words and nothing else (高中低, 好/较好/一般): a scale, no level chosen."""
    parts = [part for part in _SCALE_SEP.split(s) if part]
    if len(parts) >= 2:
        return all(part in GRADE_WORDS for part in parts)
    return _segments_into_grades(s, 0) >= 2


def _segments_into_grades(s: str, pos: int) -> int:
    """Number of grade words that tile ``s[pos:]`` exactly (longest first), 0 if they do not."""
    if pos == len(s):
        return 0
    for end in range(min(len(s), pos + 4), pos, -1):
        if s[pos:end] in GRADE_WORDS:
            rest = _segments_into_grades(s, end)
            if end == len(s) or rest:
                return 1 + rest
    return 0


def _read_word(s: str) -> NormalizedValue | None:
    """Whole-cell booleans and grades; a grade may carry an operator (良好及以上, ≥合格)."""
    bare = s.lstrip("=")
    if bare in BOOLEAN_WORDS:
        return _value(metric_type="boolean")
    if bare in GRADE_WORDS:
        return _value(metric_type="grade")
    op = None
    prefix = _OP_ONLY.match(bare)
    if prefix and prefix.group():
        op, bare = _OPS[prefix.group()], bare[prefix.end():]
    for suffix, suffix_op in _SUFFIX_OPS.items():
        if bare.endswith(suffix) and bare[: -len(suffix)] in GRADE_WORDS:
            op, bare = op or suffix_op, bare[: -len(suffix)]
            break
    if bare in GRADE_WORDS:
        return _value(op=op, metric_type="grade")
    return None


def _is_placeholder(s: str) -> bool:
    """A placeholder phrase in a cell whose only digits, if any, are a year."""
    return not re.search(r"[0-9]", _YEAR_TOKEN.sub("", s)) and bool(_PLACEHOLDER.search(s))


# --------------------------------------------------------------------------- numbers
def _cn_to_number(text: str) -> float:
    """十二 → 12, 三十 → 30, 一百零五 → 105, 两千 → 2000, 一万二千 → 12000, 二〇二三 → 2023."""
    if len(text) > 1 and all(ch in _CN_DIGIT for ch in text):
        return float("".join(str(_CN_DIGIT[ch]) for ch in text))
    total = section = digit = 0
    for ch in text:
        if ch in _CN_DIGIT:
            digit = _CN_DIGIT[ch]
        elif ch == "万":
            total += (section + digit) * 10_000
            section = digit = 0
        else:
            section += (digit or 1) * _CN_SCALE[ch]
            digit = 0
    return float(total + section + digit)


def _to_number(raw: str) -> float | None:
    """Arabic (with thousands separators) or Chinese numerals → float; None if not finite."""
    try:
        number = float(raw.replace(",", "")) if raw[0] in "0123456789." else _cn_to_number(raw)
    except (ValueError, OverflowError, KeyError):
        return None
    return number if math.isfinite(number) else None


def _doubled(raw: str) -> bool:
    """The same digit group written twice: 9090, 8080, 100100 (halves of two digits or more)."""
    digits = raw.replace(",", "").lstrip("0")  # judged on the number as it will be written back
    half = len(digits) // 2
    return digits.isdigit() and half >= 2 and len(digits) % 2 == 0 and digits[:half] == digits[half:]


def _read_unit(s: str, pos: int):
    """Unit at ``pos`` (with 万/千/亿 magnitude, 余/多, compound /人/月 and a (…) note).

    Returns (canonical unit or None, multiplier, approx flag, new position).
    """
    factor, approx = 1.0, False
    if not _UNIT.match(s, pos) and pos < len(s) and s[pos] in _MAGNITUDE:
        factor, pos = _MAGNITUDE[s[pos]], pos + 1
    approx_match = _APPROX.match(s, pos)
    if approx_match and (_UNIT.match(s, approx_match.end()) or approx_match.end() == len(s)):
        approx, pos = True, approx_match.end()
    unit_match = _UNIT.match(s, pos)
    if unit_match is None and s.startswith("(", pos):
        unit_match = _UNIT.match(s, pos + 1)  # "≥5(场)": a unit written in brackets
        if unit_match and s.startswith(")", unit_match.end()):
            canon = _UNIT_TABLE[unit_match.group()][0]
            return canon, factor, approx, unit_match.end() + 1
        unit_match = None
    if unit_match is None:
        return None, factor, approx, pos
    parts = [_UNIT_TABLE[unit_match.group()][0]]
    pos = unit_match.end()
    while (per := _PER_UNIT.match(s, pos)) is not None:
        parts.append(_UNIT_TABLE[per.group("u")][0])
        pos = per.end()
    paren = _PAREN.match(s, pos)
    if paren:
        pos = paren.end()  # "≥10个(月)": the note does not change the unit (LABELS.md)
    return "/".join(parts), factor, approx, pos


def _read_number_at(s: str, match: re.Match) -> _Reading:
    """Read the number at ``match`` and the unit right after it."""
    if match.group("pct") is not None:
        raw = match.group("pct")
        number = 100.0 if raw == "百" else _to_number(raw)
        return _Reading(raw, number, "%", 1.0, False, match.end(), number is None)
    raw = match.group("ar") or match.group("cn")
    number = _to_number(raw)
    pos, bad = match.end(), number is None
    if match.group("ar") and _BAD_TAIL.match(s, pos):
        bad, pos = True, _JUNK_DIGITS.match(s, pos).end()  # 1.2.3%, 1,2000人
    unit, factor, approx, pos = _read_unit(s, pos)
    return _Reading(raw, number, unit, factor, approx, pos, bad)


def _read_quantity(s: str) -> _Quantity | None:
    """The first readable quantity: op, number or range, unit, and whether it is malformed."""
    for match in _NUMBER.finditer(s):
        quantity = _quantity_at(s, match)
        if quantity is not None:
            return quantity
    return None


def _quantity_at(s: str, match: re.Match) -> _Quantity | None:
    """The quantity starting at ``match``, or None for a Chinese numeral inside prose."""
    prefix = s[: match.start()]
    first = _read_number_at(s, match)
    unit, pos = first.unit, first.end
    number = None if first.number is None else _scaled(first.number, first.factor)
    bad = first.bad or number is None
    low = high = None
    sep = _RANGE_SEP.match(s, pos)
    second_match = _NUMBER.match(s, sep.end()) if sep else None
    if second_match is not None:  # 90%-95%, 90~95%, 三至五天
        second = _read_number_at(s, second_match)
        bad = bad or second.bad or bool(unit and second.unit and unit != second.unit)
        unit = unit or second.unit
        low = number
        high = None if second.number is None else _scaled(second.number, second.factor)
        bad = bad or low is None or high is None or low > high
        bad = bad or (_doubled(second.raw) and unit in ("%", "‰"))
        number, pos = None, second.end
    suffix = _SUFFIX_OP.match(s, pos)
    suffix_op = None
    if suffix:
        suffix_op, pos = _SUFFIX_OPS[suffix.group()], suffix.end()
    rest = s[pos:]
    if match.group("cn") is not None:
        if not _PUNCT_ONLY.fullmatch(rest):
            return None  # 一站式服务, 一直持续: a Chinese numeral inside prose is not a target
        if unit is None and not _OP_ONLY.fullmatch(prefix):
            return None  # 统一: a lone numeral after prose
    prefix_op = _PREFIX_OP.search(prefix)
    op = _OPS[prefix_op.group()] if prefix_op else None
    if op is None:
        op = suffix_op if suffix_op is not None else (">" if first.approx else None)
    if unit is None and rest[:1].isalpha():
        bad = True  # ≥0专职调解员…: a number glued to prose
    redundant_op = bool(prefix_op and _OP_SYMBOL_END.search(prefix) and suffix_op)
    if _doubled(first.raw) and (unit in ("%", "‰") or redundant_op):
        bad = True  # ≥9090%及以上: the threshold cannot be read
    if bad:
        return _Quantity(op, None, None, None, unit, True)
    return _Quantity(op, number, low, high, unit, False)


def _scaled(number: float, factor: float) -> float | None:
    """Apply a 万/千/亿 magnitude without float noise (1.2万 → 12000.0); None if it overflows."""
    if factor == 1.0:
        return number
    scaled = round(number * factor, 6)
    return scaled if math.isfinite(scaled) else None


def _quantity_value(quantity: _Quantity, name: str, level2: str) -> NormalizedValue:
    """Metric type from the unit (or the hints), then the issue."""
    unit = quantity.unit
    if unit is not None:
        metric = _UNIT_METRIC[unit.split("/")[0]]
    else:
        metric = _bare_metric(quantity.number, name, level2)
    if quantity.malformed:
        issue = "malformed"
    elif _unit_mismatch(unit, name, level2):
        issue = "unit_mismatch"
    else:
        issue = "none"
    return _value(quantity.op, quantity.number, quantity.low, quantity.high, unit, metric, None, issue)


# --------------------------------------------------------------------------- hints
def _clean_name(name: str) -> str:
    """The name without trailing bracketed notes (完成率(%) → 完成率) or end punctuation."""
    return _NAME_TAIL.sub("", name).rstrip(_TAIL_PUNCT)


def _name_metric(name: str) -> str | None:
    """The metric type a 三级指标 name implies, if any (units in brackets first)."""
    for note in _PAREN_IN_NAME.findall(name):
        if note in _UNIT_TABLE:
            return _UNIT_TABLE[note][1]
    clean = _clean_name(name)
    if _PERCENT_NAME.search(clean) or "%" in name:
        return "percent"
    if _TIME_NAME.search(clean):
        return "time"
    if _COUNT_NAME.search(clean):
        return "count"
    if _AMOUNT_NAME.search(clean):
        return "amount"
    return None


def _bare_metric(number: float | None, name: str, level2: str) -> str:
    """Metric type of a number written without a unit: name, then level 2, then count."""
    hint = _name_metric(name)
    if hint is not None:
        return hint
    category = normalize_level2(level2)
    if "数量" in category:
        return "count"
    if "成本" in category:
        return "amount"
    if any(word in category for word in _PERCENT_LEVEL2) and (number is None or 0 <= number <= 100):
        return "percent"
    return "count"


def _unit_mismatch(unit: str | None, name: str, level2: str) -> bool:
    """Conservative: the three incompatibilities listed in the module docstring."""
    if unit is None or not name:
        return False
    base = unit.split("/")[0]
    kind = _UNIT_METRIC.get(base)
    clean = _clean_name(name)
    is_rate = bool(_RATE_NAME.search(clean)) and not clean.endswith(RATE_EXCEPTIONS)
    if kind in ("count", "amount") and is_rate:
        return True
    if base in PEOPLE_UNITS and _PER_CAPITA.search(clean) and not _COUNT_NAME.search(clean):
        return True
    if (kind == "percent" and "数量" in normalize_level2(level2)
            and not _RATE_WORD.search(clean) and _COUNT_NAME.search(clean)):
        return True
    return False


# --------------------------------------------------------------------------- dates
def _small_int(text: str) -> int:
    """Month, day or year written in digits or Chinese numerals."""
    return int(text) if text.isdigit() and text.isascii() else int(_cn_to_number(text))


def _read_date(s: str, year: int | None) -> _Date | None:
    """The first date or deadline: ISO deadline (None without a year), op, malformed, weak."""
    for kind, pattern in _DATE_PATTERNS:
        match = pattern.search(s)
        if match is None:
            continue
        groups = match.groupdict()
        y = _small_int(groups["y"]) if groups.get("y") else year
        month, day, malformed = 12, None, False
        if kind == "day":
            month, day = _small_int(groups["m"]), _small_int(groups["d"])
        elif kind == "month":
            month = _small_int(groups["m"])
        elif kind == "quarter":
            month = 3 * _small_int(groups["q"])
        elif kind == "half":
            month = 6 if groups["h"] == "上" else 12
        if not 1 <= month <= 12:
            malformed = True
        elif day is not None and not 1 <= day <= calendar.monthrange(y or 2000, month)[1]:
            malformed = True
        deadline = None
        if y is not None and not malformed:
            day = day or calendar.monthrange(y, month)[1]
            deadline = f"{y:04d}-{month:02d}-{day:02d}"
        op = _deadline_op(s, match)
        weak = kind == "year" and groups.get("y") is not None and not groups.get("end") and op is None
        return _Date(deadline, op, malformed, weak, match.start(), match.end())
    return None


def _deadline_op(s: str, match: re.Match) -> str | None:
    """Op of a deadline: a symbol written before it, "≤" for 前/之前/以前/内/截至 wording, else None."""
    before, after = s[: match.start()], s[match.end():]
    symbol = _OP_SYMBOL_END.search(before)
    if symbol:
        return _OPS[symbol.group()]
    if _DEADLINE_BEFORE.search(before) or match.group().endswith(("内", "前")) or _DEADLINE_AFTER.match(after):
        return "≤"
    return None


def _format_number(number: float) -> str:
    """Shortest plain decimal (no exponent): 78.0 → "78", 161.93 → "161.93"."""
    if not isinstance(number, (int, float)) or not math.isfinite(number):
        return ""
    if float(number).is_integer() and abs(number) < 1e16:
        return str(int(number))
    text = repr(float(number))
    return format(Decimal(text), "f") if "e" in text else text
