"""Labeling functions: explainable rules that vote on one flag (or abstain) and say why in Chinese.

Each rule sees one row (its cells, its project context, its parsed value and how often the
same name + value recurs in the corpus) and, when it fires, returns the reason a reviewer
reads. A rule always votes the same label when it fires (1 = weak, 0 = fine); rules with
``flag=None`` are consistency checks against the project context: they give reasons, no votes.
The rules' votes are combined by the label model in ``dataset.py`` and used as features by
the classifiers; ``evaluation/lf_report.py`` measures each rule on the gold rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ._text import nfkc, squash
from .normalize import NormalizedValue, parse_value

ABSTAIN = -1

# ---------------------------------------------------------------- lexicons (tune here)
VAGUE_WORDS = (
    "明显", "显著", "有效", "逐步", "进一步", "提升", "提高", "改善", "增强", "加强", "促进", "推进",
    "推动", "保障", "完善", "稳定", "持续", "良好", "优化", "深入人心", "和谐", "落实", "发挥", "营造",
    "确保", "维护", "及时", "正常", "满足", "服务社会", "引领", "影响力", "水平", "能力", "氛围",
)
GENERIC_PHRASES = (
    "维护社会稳定", "社会稳定", "服务社会", "提升公共服务水平", "公共服务水平", "长期可持续", "可持续性",
    "以人民为中心", "社会和谐稳定", "和谐稳定", "促进经济发展", "经济发展", "构建和谐劳动关系",
    "保障正常办公", "提高工作效率", "提高效率", "成效明显", "效果明显", "持续良好发展", "正常运转",
    "社会效益", "经济效益", "满意度", "满意率", "项目完成时限", "预算控制数", "资金发放完成率",
)
GENERIC_GROUPS = {
    "", "群众", "人民群众", "服务对象", "受益群众", "辖区内群众", "辖区群众", "市民", "社会公众", "公众",
    "服务", "社会", "受益群体", "受益对象", "群众对服务", "服务对象对项目实施效果", "项目", "资金发放",
}
BARE_RATES = {
    "完成率", "任务完成率", "工作完成率", "业务工作完成率", "合格率", "验收合格率", "项目合格率", "到位率",
    "资金到位率", "设施完好率", "完好率", "覆盖率", "完工率", "项目建设完工率", "及时率", "完成及时率",
    "完工及时率", "任务完成及时率", "达标率", "执行率", "资金执行率", "资金发放完成率", "发放率",
}
UNDEFINED_TIMELINESS = re.compile(r"^(?:任务|工作|项目|服务)?(?:完成|完工|开展|工作开展)?及时(?:率|性)$")
TIME_WORDS = re.compile(r"及时|按时|按期|时限|时间|进度|期限|准时|时效|日前|月底|年底|节点|天内|工作日|季度")
DEADLINE_WORDS = re.compile(r"\d+(?:日|天|个?月|小时|工作日)|月底|年底|时限|节点|期限|日前|之前")
RATE_NAME = re.compile(r"率|比例|比率|占比|百分比|覆盖|进度|完成|合格|达标|满意|比重|份额|程度|完好|准确|到位|使用率")
VAGUE_RATE = re.compile(r"(?:影响|保障|提升|效果|作用|效益|效)率")
IMPROVEMENT = re.compile(r"提升|改善|完善|提高|增强|改观|优化|得到改善|效果")
DISCRETE_EVENT = re.compile(r"验收|通过|建成|开通|按期|竣工|签订|上线|完成")
COST_WORDS = re.compile(r"预算|成本|金额|元|标准|价格|费用|控制|资金|单价|经费|比价")
COST_RATE = re.compile(r"控制率|节约率|成本率|执行率|控制")
OUTPUT_IN_EFFECT = re.compile(r"发放率|发放人数|发放补贴|结案率|开展比率|到位率|完成率|慰问款|补贴人数|培训人数")
SOCIAL_IN_ECONOMIC = re.compile(r"公共服务|服务水平|民生|和谐|劳动关系|发放|社会稳定|保障水平")
ECONOMIC_WORDS = re.compile(r"增收|收入|产值|节约|经济效益|税|利润|投资")
PROJECT_STOPWORDS = re.compile(r"项目|资金|经费|工作|建设|服务|管理|专项|费用|补贴|补助|区级|县级|配套|年度|\d+")
PLACEHOLDER_HINT = re.compile(r"预算|政策标准|规定|比价|进度")


@dataclass(frozen=True)
class RowView:
    """What a rule sees of one row: squashed NFKC cells, the parsed value, context and corpus counts."""

    name: str
    description: str
    value: str
    level2: str
    #: the name and value as written (whitespace trimmed), quoted in reasons; the fields above are for matching
    shown_name: str
    shown_value: str
    project: str
    context: str
    budget: float | None
    year: int | None
    spend_plan: str
    parsed: NormalizedValue
    repeats: int
    repeat_docs: int


@dataclass(frozen=True)
class LabelingFunction:
    name: str
    flag: str | None
    vote: int
    fires: Callable[[RowView], str | None]


LABELING_FUNCTIONS: list[LabelingFunction] = []


def labeling_function(flag: str | None, vote: int = 1):
    """Register a rule: the decorated function returns its Chinese reason when it fires."""

    def register(func: Callable[[RowView], str | None]) -> Callable[[RowView], str | None]:
        LABELING_FUNCTIONS.append(LabelingFunction(func.__name__, flag, vote, func))
        return func

    return register


def _has_number(v: RowView) -> bool:
    p = v.parsed
    return p.number is not None or p.low is not None or p.deadline is not None


def _is_qualitative(v: RowView) -> bool:
    return v.parsed.metric_type == "text" and v.parsed.issue != "placeholder"


def _category(v: RowView, *parts: str) -> bool:
    return any(part in v.level2 for part in parts)


def _rate_name(name: str) -> str:
    return re.sub(r"\(%\)|（%）|%", "", name)


def _satisfaction_group(name: str) -> str | None:
    if "满意" not in name:
        return None
    group = re.sub(r"(?:的)?满意(?:度|率|程度)?.*$", "", name)
    group = re.sub(r"^对(?!象)|对(?!象).*$", "", group)  # 对 opens the object, but 对象 is a word (服务对象)
    return group


def _bigrams(text: str) -> set[str]:
    text = PROJECT_STOPWORDS.sub("|", text)
    return {text[i : i + 2] for i in range(len(text) - 1) if "|" not in text[i : i + 2]}


# ---------------------------------------------------------------- vague
@labeling_function("vague")
def vague_wording(v: RowView) -> str | None:
    if _is_qualitative(v) and not _has_number(v):
        words = [w for w in VAGUE_WORDS if w in v.value]
        if words:
            return f"指标值为定性表述“{v.shown_value}”（含“{words[0]}”），缺少可核验的标准"
    return None


@labeling_function("vague")
def qualitative_value(v: RowView) -> str | None:
    if _is_qualitative(v) and not _has_number(v) and not PLACEHOLDER_HINT.search(v.value):
        return f"指标值“{v.shown_value}”是文字描述，没有数值、日期或等级标准"
    return None


@labeling_function("vague")
def undefined_improvement_yes(v: RowView) -> str | None:
    if v.parsed.metric_type == "boolean" and IMPROVEMENT.search(v.name + v.description):
        return f"“{v.shown_name}”以“是/否”回答一项未定义标准的改善，无法判断达成与否"
    return None


@labeling_function("unmeasurable")
def undefined_improvement_unmeasurable(v: RowView) -> str | None:
    if v.parsed.metric_type == "boolean" and IMPROVEMENT.search(v.name + v.description):
        return f"“{v.shown_name}”回答“是”也无从核验：改善到什么程度没有标准"
    return None


@labeling_function("vague", vote=0)
def placeholder_is_not_vague(v: RowView) -> str | None:
    return "占位表述不算模糊" if v.parsed.issue == "placeholder" else None


@labeling_function("vague", vote=0)
def stated_level(v: RowView) -> str | None:
    if _has_number(v) or v.parsed.metric_type in {"percent", "count", "amount", "time", "grade"}:
        return "指标值给出了数值、日期或等级"
    return None


@labeling_function("vague", vote=0)
def discrete_event_yes(v: RowView) -> str | None:
    if v.parsed.metric_type == "boolean" and not IMPROVEMENT.search(v.name + v.description):
        return "是/否判断针对一个可观察的事件"
    return None


# ---------------------------------------------------------------- unmeasurable
@labeling_function("unmeasurable")
def placeholder_value(v: RowView) -> str | None:
    if v.parsed.issue == "placeholder":
        return f"指标值“{v.shown_value}”是占位表述，不是可核验的目标值"
    return None


@labeling_function("unmeasurable")
def malformed_number(v: RowView) -> str | None:
    if v.parsed.issue == "malformed":
        return f"指标值“{v.shown_value}”中的数字无法读取（如数字重复、数字与文字粘连）"
    return None


@labeling_function("unmeasurable")
def unit_mismatch(v: RowView) -> str | None:
    if v.parsed.issue == "unit_mismatch":
        return f"计量单位与指标不符：“{v.shown_name}”的目标值为“{v.shown_value}”"
    return None


@labeling_function("unmeasurable")
def empty_value(v: RowView) -> str | None:
    return "指标值为空" if v.parsed.issue == "empty" else None


@labeling_function("unmeasurable")
def qualitative_unmeasurable(v: RowView) -> str | None:
    if _is_qualitative(v) and not _has_number(v):
        return f"指标值“{v.shown_value}”没有可在年底核验的数量或标准"
    return None


@labeling_function("unmeasurable")
def fake_quantification(v: RowView) -> str | None:
    if v.parsed.metric_type != "percent" or "满意" in v.name:
        return None
    name = _rate_name(v.name)
    if VAGUE_RATE.search(name) or not RATE_NAME.search(name):
        return f"“{v.shown_name}”不是比率或程度，百分比“{v.shown_value}”无从计算（假量化）"
    return None


@labeling_function("unmeasurable")
def trivial_threshold(v: RowView) -> str | None:
    p = v.parsed
    if p.op in {"≥", ">"} and p.number == 0:
        return f"门槛“{v.shown_value}”为0，任何结果都能达标"
    return None


@labeling_function("unmeasurable")
def undefined_timeliness(v: RowView) -> str | None:
    if UNDEFINED_TIMELINESS.match(_rate_name(v.name)) and not DEADLINE_WORDS.search(v.description):
        return f"“{v.shown_name}”未定义何为“及时”（没有期限），无法核验"
    return None


@labeling_function("unmeasurable")
def undefined_timely_yes(v: RowView) -> str | None:
    if v.parsed.metric_type == "boolean" and "及时" in v.name and not DEADLINE_WORDS.search(v.name + v.description):
        return f"“{v.shown_name}”以“是”作答，但没有说明期限，“及时”无法核验"
    return None


@labeling_function("unmeasurable", vote=0)
def measurable_value(v: RowView) -> str | None:
    p = v.parsed
    if p.issue == "none" and p.metric_type in {"count", "amount", "time"} and (p.number or p.low or p.deadline):
        return "目标值有数量和单位或明确日期"
    if p.issue == "none" and p.metric_type == "percent" and RATE_NAME.search(_rate_name(v.name)) and not VAGUE_RATE.search(v.name):
        return "比率类指标给出了百分比目标"
    return None


# ---------------------------------------------------------------- boilerplate
@labeling_function("boilerplate")
def generic_phrase(v: RowView) -> str | None:
    for phrase in GENERIC_PHRASES:
        if phrase in v.value or v.name == phrase:
            return f"“{phrase}”是通用套话，可原样出现在任何项目中"
    return None


@labeling_function("boilerplate")
def generic_satisfaction(v: RowView) -> str | None:
    group = _satisfaction_group(v.name)
    if group is not None and group in GENERIC_GROUPS:
        return f"满意度指标“{v.shown_name}”未指明具体的服务对象群体"
    return None


@labeling_function("boilerplate", vote=0)
def named_group_satisfaction(v: RowView) -> str | None:
    group = _satisfaction_group(v.name)
    if group is not None and group not in GENERIC_GROUPS:
        return f"满意度指明了对象“{group}”"
    return None


@labeling_function("boilerplate")
def bare_rate(v: RowView) -> str | None:
    if _rate_name(v.name) in BARE_RATES:
        return f"通用比率“{v.shown_name}”未指明本项目的具体对象"
    return None


@labeling_function("boilerplate")
def year_end_deadline(v: RowView) -> str | None:
    if "时限" in v.name and v.parsed.deadline and v.parsed.deadline.endswith("12-31"):
        return f"“{v.shown_name} {v.shown_value}”是通用的年底时限，不含项目特有内容"
    return None


@labeling_function("boilerplate")
def repeated_in_corpus(v: RowView) -> str | None:
    if v.repeats >= 3:
        return f"同一指标“{v.shown_name}＝{v.shown_value}”出现在{v.repeats}个项目中（{v.repeat_docs}份文件）"
    return None


@labeling_function("boilerplate")
def generic_qualitative(v: RowView) -> str | None:
    if _is_qualitative(v) and not _has_number(v) and not (_bigrams(v.value) & _bigrams(v.context)):
        return f"文字目标“{v.shown_value}”与本项目的名称和资金用途无关，可套用于任何项目"
    return None


@labeling_function("boilerplate", vote=0)
def specific_quantity(v: RowView) -> str | None:
    p = v.parsed
    if p.issue == "none" and p.metric_type in {"count", "amount"} and p.number not in (None, 0, 1, 100):
        return f"给出了项目特有的数量“{v.shown_value}”"
    return None


@labeling_function("boilerplate", vote=0)
def names_project_object(v: RowView) -> str | None:
    shared = _bigrams(v.name) & _bigrams(v.project)
    if shared:
        return f"指标名称含本项目的对象“{sorted(shared)[0]}”"
    return None


@labeling_function("boilerplate")
def placeholder_generic(v: RowView) -> str | None:
    return f"占位表述“{v.shown_value}”可出现在任何项目中" if v.parsed.issue == "placeholder" else None


# ---------------------------------------------------------------- category_mismatch
@labeling_function("category_mismatch")
def cost_not_amount(v: RowView) -> str | None:
    if _category(v, "成本") and v.parsed.metric_type not in {"amount", "empty"}:
        if not COST_WORDS.search(v.name + v.value) and not (v.parsed.metric_type == "percent" and COST_RATE.search(v.name)):
            return f"成本指标“{v.shown_name}”的目标“{v.shown_value}”不是金额，也不是成本控制率"
    return None


@labeling_function("category_mismatch")
def timeliness_without_time(v: RowView) -> str | None:
    if _category(v, "时效") and v.parsed.metric_type != "time":
        if not TIME_WORDS.search(v.name + v.description + v.value):
            return f"时效指标“{v.shown_name}”既没有时间要求，也不是及时率"
    return None


@labeling_function("category_mismatch")
def satisfaction_outside_category(v: RowView) -> str | None:
    if "满意" in v.name and not _category(v, "满意"):
        return f"满意度指标“{v.shown_name}”填在了“{v.level2}”下"
    if _category(v, "满意") and "满意" not in v.name + v.description:
        return f"“{v.shown_name}”不是满意度，却填在满意度指标下"
    return None


@labeling_function("category_mismatch")
def effect_counts_outputs(v: RowView) -> str | None:
    if _category(v, "效益", "可持续") and OUTPUT_IN_EFFECT.search(v.name):
        return f"“{v.shown_name}”衡量的是产出，不是效益"
    return None


@labeling_function("category_mismatch")
def social_under_economic(v: RowView) -> str | None:
    text = v.name + v.description + v.value
    if _category(v, "经济效益") and SOCIAL_IN_ECONOMIC.search(text) and not ECONOMIC_WORDS.search(text):
        return f"“{v.shown_name}”描述的是社会效益，却填在经济效益指标下"
    return None


@labeling_function("category_mismatch")
def quality_as_count(v: RowView) -> str | None:
    if _category(v, "质量") and v.parsed.metric_type == "count":
        return f"质量指标“{v.shown_name}”给出的是数量“{v.shown_value}”，不是达到的标准"
    return None


@labeling_function("category_mismatch")
def foreign_satisfaction_group(v: RowView) -> str | None:
    group = _satisfaction_group(v.name)
    if group and group not in GENERIC_GROUPS and len(group) >= 2 and v.context:
        if not (_bigrams(group) & _bigrams(v.context + v.description)):
            return f"满意度对象“{group}”与本项目无关（可能从其他项目复制）"
    return None


@labeling_function("category_mismatch", vote=0)
def category_fits_value(v: RowView) -> str | None:
    kind = v.parsed.metric_type
    fits = (
        (_category(v, "数量") and kind == "count")
        or (_category(v, "质量") and kind == "percent")
        or (_category(v, "时效") and (kind == "time" or TIME_WORDS.search(v.name + v.description)))
        or (_category(v, "成本") and kind == "amount")
        or (_category(v, "满意") and "满意" in v.name)
    )
    return "指标值类型符合其二级指标" if fits else None


# ---------------------------------------------------------------- consistency checks (reasons only)
def _amount_in_wan(p: NormalizedValue) -> float | None:
    number = p.number if p.number is not None else p.high
    if number is None or p.unit not in {"元", "万元", "亿元"}:
        return None
    return number * {"元": 1e-4, "万元": 1.0, "亿元": 1e4}[p.unit]


@labeling_function(None)
def cost_above_budget(v: RowView) -> str | None:
    amount = _amount_in_wan(v.parsed)
    if amount is not None and v.budget and amount > v.budget * 1.0001 and "人" not in v.value:
        return f"成本目标“{v.shown_value}”高于项目预算数{v.budget:g}万元"
    return None


@labeling_function(None)
def deadline_outside_year(v: RowView) -> str | None:
    if v.parsed.deadline and v.year and not v.parsed.deadline.startswith(str(v.year)):
        return f"完成时限{v.parsed.deadline}不在预算年度{v.year}年内"
    return None


@labeling_function(None)
def spend_plan_incomplete(v: RowView) -> str | None:
    values = [float(m) for m in re.findall(r":(\d+(?:\.\d+)?)", v.spend_plan)]
    if not values:
        return None
    if v.budget and "%" not in v.spend_plan and values[-1] != 100 and abs(values[-1] - v.budget) <= 0.01 * v.budget + 0.005:
        return f"资金支出计划（%）填的是金额（年底{values[-1]:g}万元＝预算数），不是百分比"
    if max(values) > 100:
        return f"资金支出计划（%）中出现{max(values):g}，超过100%，可能误填了金额"
    if values[-1] < 100:
        return f"资金支出计划至年底仅{values[-1]:g}%，未达到100%"
    return None


# ---------------------------------------------------------------- applying the rules
@dataclass(frozen=True)
class CorpusStats:
    """How many projects and documents share each (name, value): the repetition evidence."""

    projects: dict[tuple[str, str], int]
    documents: dict[tuple[str, str], int]

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> "CorpusStats":
        projects: dict[tuple[str, str], set] = defaultdict(set)
        documents: dict[tuple[str, str], set] = defaultdict(set)
        for record in records_of(rows):
            key = (squash(record.get("name")), squash(record.get("value")))
            doc = record.get("doc_id") or record.get("source_path") or ""
            projects[key].add((doc, squash(record.get("project_code")), squash(record.get("project_name"))))
            documents[key].add(doc)
        return cls({k: len(s) for k, s in projects.items()}, {k: len(s) for k, s in documents.items()})

    def merged(self, other: "CorpusStats") -> "CorpusStats":
        return CorpusStats(
            {k: self.projects.get(k, 0) + other.projects.get(k, 0) for k in self.projects.keys() | other.projects.keys()},
            {k: self.documents.get(k, 0) + other.documents.get(k, 0) for k in self.documents.keys() | other.documents.keys()},
        )


def records_of(rows: pd.DataFrame) -> list[dict]:
    """``rows.to_dict("records")``, built from whole columns: pandas' own boxes each value of an
    Arrow-backed string column one by one, a tenth of the time spent on a document's rules."""
    columns = [str(c) for c in rows.columns]
    if not columns:
        return [{} for _ in range(len(rows))]
    values = []
    for c in rows.columns:
        column = rows[c].tolist()
        if isinstance(rows[c].dtype, pd.api.extensions.ExtensionDtype):  # masked NA → None, as to_dict gives
            column = [None if v is pd.NA else v for v in column]
        values.append(column)
    return [dict(zip(columns, row)) for row in zip(*values)]


def _clean(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else value


def row_view(record: dict, parsed: NormalizedValue, corpus: CorpusStats) -> RowView:
    key = (squash(record.get("name")), squash(record.get("value")))
    budget = _clean(record.get("project_budget"))
    year = _clean(record.get("year"))
    return RowView(
        name=key[0],
        description=squash(record.get("description")),
        value=key[1],
        shown_name=str(_clean(record.get("name")) or "").strip(),
        shown_value=str(_clean(record.get("value")) or "").strip(),
        level2=squash(record.get("level2_norm") or record.get("level2")),
        project=squash(record.get("project_name")),
        context=squash(f"{record.get('project_name') or ''}{record.get('fund_use') or ''}{record.get('project_goals') or ''}"),
        budget=float(budget) if budget not in (None, "") else None,
        year=int(year) if year not in (None, "") else None,
        spend_plan=nfkc(_clean(record.get("spend_plan")) or ""),
        parsed=parsed,
        repeats=corpus.projects.get(key, 1),
        repeat_docs=corpus.documents.get(key, 1),
    )


def parse_row_value(record: dict) -> NormalizedValue:
    year = _clean(record.get("year"))
    return parse_value(
        _clean(record.get("value")) or "",
        name=_clean(record.get("name")),
        level2=_clean(record.get("level2_norm")) or _clean(record.get("level2")),
        year=int(year) if year not in (None, "") else None,
    )


@dataclass
class RuleResult:
    """Per row: every rule's vote (-1 abstain, 0, 1), the reasons of rules that flag, the parsed value."""

    votes: pd.DataFrame
    #: (reason, flag) of every rule that fired with vote 1, and of every consistency check (flag None)
    reasons: list[list[tuple[str, str | None]]]
    parsed: list[NormalizedValue]


def apply_rules(rows: pd.DataFrame, corpus: CorpusStats | None = None, records: list[dict] | None = None) -> RuleResult:
    """Run every registered rule on every row; ``corpus`` defaults to the rows themselves.
    ``records`` (rows.to_dict("records")) may be passed by a caller that already has them."""
    corpus = corpus or CorpusStats.from_rows(rows)
    records = records if records is not None else records_of(rows)
    voting = [lf for lf in LABELING_FUNCTIONS if lf.flag]
    votes = np.full((len(rows), len(voting)), ABSTAIN, dtype=np.int8)
    reasons: list[list[tuple[str, str | None]]] = []
    parsed_values: list[NormalizedValue] = []
    for i, record in enumerate(records):
        parsed = parse_row_value(record)
        view = row_view(record, parsed, corpus)
        fired: list[tuple[str, str | None]] = []
        for j, lf in enumerate(voting):
            reason = lf.fires(view)
            if reason:
                votes[i, j] = lf.vote
                if lf.vote == 1:
                    fired.append((reason, lf.flag))
        for lf in LABELING_FUNCTIONS:
            if lf.flag is None and (reason := lf.fires(view)):
                fired.append((reason, None))
        reasons.append(fired)
        parsed_values.append(parsed)
    frame = pd.DataFrame(votes, columns=[lf.name for lf in voting], index=rows.index)
    return RuleResult(votes=frame, reasons=reasons, parsed=parsed_values)


def rules_for(flag: str) -> list[LabelingFunction]:
    return [lf for lf in LABELING_FUNCTIONS if lf.flag == flag]


# ---------------------------------------------------------------- suggested metric type
def suggest_metric_type(view: RowView) -> str:
    """The type a reviewer would ask for (LABELS.md, "Suggested metric type"): category defaults + name hints."""
    p, name = view.parsed, _rate_name(view.name)
    fake = fake_quantification(view) is not None
    if p.issue == "none" and p.metric_type in {"count", "amount"}:
        return p.metric_type
    if _category(view, "满意"):
        return "percent"
    if _category(view, "成本"):
        return "percent" if p.metric_type == "percent" and COST_RATE.search(name) else "amount"
    if _category(view, "时效"):
        if p.metric_type == "time":
            return "time"
        return "percent" if "及时" in name and "率" in name or "按期" in name else "time"
    if _category(view, "质量"):
        return "percent"
    if _category(view, "数量"):
        return "count"
    if re.search(r"人数|户数|个数|次数|数量", name):
        return "count"
    if re.search(r"增收|收入|产值|节约", name + view.description):
        return "amount"
    if p.metric_type == "percent" and not fake and RATE_NAME.search(name):
        return "percent"
    if p.metric_type == "time" and p.issue == "none":
        return "time"
    return "grade"
