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
from functools import lru_cache
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .corpus import CorpusStats, RowView, parse_row_value, project_outputs, records_of, row_view
from .normalize import NormalizedValue

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
UNDEFINED_TIMELINESS = re.compile(r"^(?:任务|工作|项目|服务)?(?:完成|完工|开展|工作开展)?及时(?:率|性)$")
TIME_WORDS = re.compile(
    r"及时|按时|按期|如期|时限|时间|进度|期限|限期|[审时]限内|期内|准时|时效|周期|时长|用时|日前|月底|年底|节点|天内|日内|工作日|季度|小时"
)
#: What a 时效 indicator measures instead of time when it is misfiled (LABELS.md: 完成率, 服务的完成度)
NOT_TIME_MEASURE = re.compile(r"完成|完工|合格|达标|覆盖|到位|发放|结案|数量|人数|满意|质量|保障率|执行率|使用率")
#: what is left of a deadline written as a name (2022年底之前) once the time words are gone
_DEADLINE_NOISE = re.compile(r"之前|以前|前$|[底末]")
_CALENDAR = re.compile(r"\d+月|年底|年末")
DEADLINE_WORDS = re.compile(r"\d+(?:日|天|个?月|小时|工作日)|月底|年底|时限|节点|期限|日前|之前")
RATE_NAME = re.compile(r"率|比例|比率|占比|百分比|覆盖|进度|完成|合格|达标|满意|比重|份额|程度|完好|准确|到位|使用率")
VAGUE_RATE = re.compile(r"(?:影响|保障|提升|效果|作用|效益|效)率")
#: …保障率 of a payment is the share paid (利息费用保障率), not a vague rate
PAYMENT_RATE = re.compile(r"(?:费|费用|补贴|补助|资金|经费|工资|利息|金)保障率")
#: an action applied to a set of objects: its percent is the share of objects done (风险分级 100%)
ACTION_ON_OBJECTS = re.compile(r"(?:分级|检查|检测|抽检|监测|登记|评估|排查|整改|处置|建档|录入|公示|备案|审核|核查|普查)$")
DIRECTION = re.compile(r"进一步|逐步|不断|持续|提高|提升|改善|增强|加强|优化")
IMPROVEMENT = re.compile(r"提升|改善|完善|提高|增强|改观|优化|得到改善|效果")
DISCRETE_EVENT = re.compile(r"验收|通过|建成|开通|按期|竣工|签订|上线|完成")
COST_WORDS = re.compile(r"预算|成本|金额|元|标准|价格|费用|费|控制|资金|单价|经费|比价|支出|投入|节约")
#: what a misfiled 成本 row measures instead (positive evidence; an unknown name is no evidence)
NOT_COST_MEASURE = re.compile(
    r"完善|改善|提升|提高|增强|满意|及时|按时|时限|合格|达标|完成率|覆盖|人数|数量|次数|户数"
    r"|^(?:发放|开展|组织|举办|完成|实施)"  # a name that is an action describes an output
)
COST_RATE = re.compile(r"控制率|节约率|成本率|执行率|控制")
#: outputs written under an effect category (LABELS.md: 补贴发放率, 发放补贴人数, 利息补贴保障率): delivery
#: and payment rates, completion rates, counts of people served or trained
OUTPUT_IN_EFFECT = re.compile(
    r"(?:发放|拨付|支付|兑付|到位)(?:率|人数|户数)|发放补贴|结案率|开展比率|完成率|慰问款|补贴人数|培训人[数次]"
    r"|(?:补贴|补助|资金|费用|费|利息|工资|金)\w{0,2}(?:保障|覆盖)率"
)
SOCIAL_IN_ECONOMIC = re.compile(r"公共服务|服务水平|民生|和谐|劳动关系|发放|社会稳定|保障水平|人数|人次|正常运[行转]")
ECONOMIC_WORDS = re.compile(r"增收|收入|产值|节约|经济|税|利润|投资|产业|营业|销售|成本")
PROJECT_STOPWORDS = re.compile(r"项目|资金|经费|工作|建设|服务|管理|专项|费用|补贴|补助|区级|县级|配套|年度|\d+")
PLACEHOLDER_HINT = re.compile(r"预算|政策标准|规定|比价|进度")

#: Words that name no project-specific thing (LABELS.md, boilerplate: a row that "names no
#: project-specific output, object, beneficiary group, place or quantity"): administration,
#: money flow, generic measurement and generic effects. A name made only of these is generic;
#: any other word — including every word the lexicon does not know — makes it specific, so an
#: unknown word is never evidence for a flag.
GENERIC_NAME_WORDS = (
    "项目", "工程", "资金", "经费", "财政", "预算", "中央", "地方", "投资", "任务", "工作", "业务", "计划",
    "年度", "全年", "当年", "政策", "制度", "管理", "政府采购", "采购", "建设", "实施", "开展", "组织",
    "是否", "支出", "完成", "完工", "开工", "竣工", "及时", "按时", "按期", "如期", "到位", "发放", "支付", "拨付", "执行",
    "使用", "准确", "合格", "验收", "达标", "完好", "基础设施", "设施", "环境", "状况", "成本", "控制", "覆盖", "知晓", "时间", "时限",
    "保障", "落实", "情况", "程度", "水平", "质量", "数量", "效果", "效益", "效率", "影响", "社会", "经济",
    "发展", "稳定", "和谐", "可持续", "长期", "持续", "公共", "服务", "提升", "提高", "改善", "促进", "推动",
    "增强", "加强", "规范", "总体", "整体", "相关", "各项", "目标", "指标", "率", "比率", "比例", "占比",
    # compliance with rules in general (经费支出合规性 → 严格执行相关制度规定): true of any project
    "合规", "审批", "流程", "手续", "程序", "规定", "法规", "财经", "要求", "严格", "符合", "单项", "专项",
    "反映",  # the template verb of descriptions (反映项目资金使用合规情况)
    "的", "和", "与", "及", "内", "性", "度",
)
_VAGUE_WORD = re.compile("|".join(sorted(map(re.escape, VAGUE_WORDS), key=len, reverse=True)))
_GENERIC_NAME = re.compile("|".join(sorted(map(re.escape, GENERIC_NAME_WORDS), key=len, reverse=True)))
_NAME_NOISE = re.compile(r"^(?:[★☆*]*(?:指标[0-9一二三四五六七八九十]+[:：.、]?)?)|\([^()]*\)|[^\w]|[0-9_]")

#: Domains a satisfaction group or a project can belong to (LABELS.md: 参培住院医师满意度 in a
#: 公务用车 project was copied from another project). A group is foreign only when it belongs to a
#: domain and the project context shows a different domain and not the group's; a group of no
#: known domain (使用人员, 参训人员, 家长 …) is never foreign.
DOMAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # domain: (group words, context words)
    "medical": (("医师", "医生", "护士", "患者", "病人", "住院", "就诊", "医务"),
                ("医", "卫生", "健康", "疾控", "病", "药", "诊")),
    "education": (("学生", "教师", "家长", "师生", "校长", "幼儿"),
                  ("教育", "学校", "学生", "教师", "校", "幼儿园", "教学", "营养改善")),
    "vehicle": (("驾驶员", "司机", "乘客"), ("车", "交通", "运输", "公路")),
    "agriculture": (("农户", "种植户", "养殖户", "果农", "菜农"),
                    ("农", "种植", "养殖", "畜", "渔", "林", "粮")),
    "elderly": (("老人", "老年人", "退休"), ("养老", "老年", "退休", "敬老", "老龄")),
    "enterprise": (("企业", "商户", "经营者", "纳税人"), ("企业", "产业", "招商", "经营", "商", "营商")),
    "river_works": ((), ("堤防", "护岸", "河道", "河流", "河湖", "灌区", "水库", "防洪", "灌溉", "水土保持")),
    "water_supply": ((), ("饮水", "供水", "自来水", "水厂", "管网")),
}


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


@lru_cache(maxsize=1 << 16)  # cells repeat across rows and documents; several rules ask per row
def specific_words(name: str) -> str:
    """What is left of a name once numbering, bracketed notes, punctuation and the generic words
    are removed: the project-specific part (empty for 及时完成率, 政策知晓率, 项目开工率)."""
    return _GENERIC_NAME.sub("", _NAME_NOISE.sub("", name))


@lru_cache(maxsize=1 << 16)
def _content(text: str) -> str:
    """specific_words() without the vague words (确保, 维护, 明显 …) either."""
    return _VAGUE_WORD.sub("", specific_words(text))


def is_generic_name(name: str) -> bool:
    """A name with at most one specific character left once the vague words are gone too
    (中央预算内投资支付率 → "", 确保社会和谐稳定 → ""; 培训完成率 → 培训)."""
    return len(_content(name)) <= 1


def _domains(text: str, which: int) -> set[str]:
    return {domain for domain, words in DOMAINS.items() if any(w in text for w in words[which])}


@lru_cache(maxsize=1 << 16)  # the project context is the same for every row of a project
def _bigrams(text: str) -> frozenset[str]:
    text = PROJECT_STOPWORDS.sub("|", text)
    return frozenset(text[i : i + 2] for i in range(len(text) - 1) if "|" not in text[i : i + 2])


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


@labeling_function("boilerplate")
def undefined_improvement_generic(v: RowView) -> str | None:
    """是否提升了环境状况 → 是: a yes to an undefined improvement that names nothing of the project."""
    if v.parsed.metric_type == "boolean" and IMPROVEMENT.search(v.name):
        # the description often repeats the goals; it counts only where it names the project itself
        if not (_bigrams(_content(v.name)) & _bigrams(v.context)) and not (_bigrams(v.description) & _bigrams(v.project)):
            return f"“{v.shown_name}”是可套用于任何项目的改善判断，不含本项目内容"
    return None


@labeling_function("vague", vote=0)
def placeholder_is_not_vague(v: RowView) -> str | None:
    if v.parsed.issue == "placeholder" and not _scale_with_direction(v):
        return "占位表述不算模糊"
    return None


def _scale_with_direction(v: RowView) -> bool:
    """A listed scale (高中低) as the value of a name that states a direction (进一步提高…)."""
    return v.parsed.metric_type == "grade" and v.parsed.issue == "placeholder" and bool(DIRECTION.search(v.name))


@labeling_function("vague")
def scale_under_a_direction(v: RowView) -> str | None:
    if _scale_with_direction(v):
        return f"“{v.shown_name}”只说明方向，指标值“{v.shown_value}”列出等级却未选定"
    return None


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
    if PAYMENT_RATE.search(name) or ACTION_ON_OBJECTS.search(specific_words(name) or name):
        return None
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
    name = _rate_name(v.name)
    bare = UNDEFINED_TIMELINESS.match(name) or ("及时" in name and is_generic_name(name))
    if bare and not DEADLINE_WORDS.search(v.description):
        return f"“{v.shown_name}”未定义何为“及时”（没有期限），无法核验"
    return None


def _excel_serial(v: RowView) -> bool:
    """A date stored as an Excel day number and printed as such (=44,561 is 2021-12-31)."""
    p = v.parsed
    timed = _category(v, "时效") or bool(re.search(r"时间|日期|时限", v.name))
    return timed and p.unit is None and p.number is not None and 20_000 <= p.number <= 80_000


@labeling_function("unmeasurable")
def excel_date_serial(v: RowView) -> str | None:
    if _excel_serial(v):
        return f"指标值“{v.shown_value}”像是表格软件的日期序号，表中没有可读的日期（按所写判断）"
    return None


def _name_without_words(v: RowView) -> bool:
    """A value under a name of digits and signs only (no letters or characters of any script)."""
    return bool(v.shown_value) and not re.search(r"[^\W\d_]", v.name)


@labeling_function("unmeasurable")
def name_names_nothing(v: RowView) -> str | None:
    if _name_without_words(v):
        return f"指标名称“{v.shown_name}”没有说明衡量什么"
    return None


@labeling_function("unmeasurable")
def undefined_timely_yes(v: RowView) -> str | None:
    if v.parsed.metric_type == "boolean" and "及时" in v.name and not DEADLINE_WORDS.search(v.name + v.description):
        return f"“{v.shown_name}”以“是”作答，但没有说明期限，“及时”无法核验"
    return None


@labeling_function("unmeasurable", vote=0)
def measurable_value(v: RowView) -> str | None:
    p = v.parsed
    if _excel_serial(v) or undefined_timeliness(v):
        return None
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
            if _value_names_project(v):  # 提高效率 → 提高固定资产使用效率 names its object
                return None
            return f"“{phrase}”是通用套话，可原样出现在任何项目中"
    return None


@labeling_function("boilerplate")
def generic_satisfaction(v: RowView) -> str | None:
    group = _satisfaction_group(v.name)
    if group is not None and group in GENERIC_GROUPS and not _described_group(v):
        return f"满意度指标“{v.shown_name}”未指明具体的服务对象群体"
    return None


@labeling_function("boilerplate", vote=0)
def named_group_satisfaction(v: RowView) -> str | None:
    group = _satisfaction_group(v.name)
    if group is not None and group not in GENERIC_GROUPS:
        return f"满意度指明了对象“{group}”"
    described = _described_group(v)
    if group is not None and described:
        return f"满意度的说明指明了对象“{described}”"
    return None


def _described_group(v: RowView) -> str | None:
    """The concrete group a satisfaction row's description names (接受就餐职工对…的满意程度)."""
    clause = next((c for c in re.split(r"[,，。;；:：、]", v.description) if "满意" in c), "")
    group = _satisfaction_group(re.sub(r"^(?:接受|参与|反映)", "", clause))
    return group if group and group not in GENERIC_GROUPS and len(group) >= 2 else None


def _is_rate(name: str) -> bool:
    return bool(re.search(r"率$|比例$|比率$", name)) and not name.endswith(("效率", "频率", "功率", "速率"))


def _value_is_specific(v: RowView) -> bool:
    """The value names something of this project (LABELS.md): a count or amount other than a
    generic 0/1/100, a deadline other than the year end, or wording with specific words."""
    p = v.parsed
    if p.issue == "none" and p.metric_type in {"count", "amount"} and p.number not in (None, 0, 1, 100):
        return True
    if p.deadline and not p.deadline.endswith("12-31"):
        return True
    return p.metric_type == "text" and len(_content(v.value)) >= 3


def _without_phrases(text: str) -> str:
    for phrase in GENERIC_PHRASES:
        text = text.replace(phrase, "|")
    return text


def _value_names_project(v: RowView) -> bool:
    """The value, without its generic phrases, shares words with the project's name, fund use or
    goals (吸引人才，促进经济发展 in 人才扶持资金): it names this project's object."""
    return bool(_bigrams(_without_phrases(v.value)) & _bigrams(v.context))


def _generic_row(v: RowView, name: str) -> bool:
    """Name and description are made of generic words only, and the value adds nothing specific."""
    return is_generic_name(name) and is_generic_name(v.description) and not _value_is_specific(v)


@labeling_function("boilerplate")
def bare_rate(v: RowView) -> str | None:
    name = _rate_name(v.name)
    if "满意" not in name and _is_rate(name) and _generic_row(v, name):
        return f"通用比率“{v.shown_name}”未指明本项目的具体对象"
    return None


@labeling_function("boilerplate")
def generic_name(v: RowView) -> str | None:
    name = _rate_name(v.name)
    if "满意" in name or _is_rate(name) or not re.search(r"[^\W\d_]", name):
        return None
    if _generic_row(v, name):
        return f"指标名称“{v.shown_name}”只有通用词，未指明本项目的产出、对象或地点"
    return None


@labeling_function("boilerplate")
def process_template_row(v: RowView) -> str | None:
    if v.level1 == "过程指标" and not (_bigrams(specific_words(v.name)) & _bigrams(v.context)):
        return f"过程管理类模板指标“{v.shown_name}”，不含本项目特有内容"
    return None


def _unfilled_foreign(v: RowView) -> bool:
    """A row left without a figure that belongs to another domain than the project (another works
    template kept in the table: 堤防 rows in a drinking-water project). Only known domain words
    are evidence; a name of unknown words is not foreign."""
    if v.parsed.issue != "empty":
        return False
    row, project = _domains(v.name, 1), _domains(v.context, 1)
    return bool(row and project and not row & project)


@labeling_function("boilerplate")
def unfilled_foreign_row(v: RowView) -> str | None:
    if _unfilled_foreign(v):
        return f"“{v.shown_name}”未填目标值，且与本项目无关：像是保留下来的其他项目模板行"
    return None


@labeling_function("category_mismatch")
def unfilled_foreign_template(v: RowView) -> str | None:
    if _unfilled_foreign(v):
        return f"“{v.shown_name}”与本项目无关且未填目标值：其他项目的模板行"
    return None


@labeling_function("boilerplate")
def name_without_words(v: RowView) -> str | None:
    if _name_without_words(v):
        return f"指标名称“{v.shown_name}”不含任何内容，可套用于任何项目"
    return None


@labeling_function("boilerplate")
def generic_deadline(v: RowView) -> str | None:
    """项目完成时限 → 2023年12月底前, 完成时限 → 2025年10月底前: a deadline under a name that says
    only "finished by then" (LABELS.md: a deadline does not make a row specific; 支付物业费时间 names
    what is due and is not filler)."""
    if v.parsed.metric_type == "time" and (v.parsed.deadline or _CALENDAR.search(v.value)):
        name = _DEADLINE_NOISE.sub("", TIME_WORDS.sub("", v.name))
        if is_generic_name(name) and is_generic_name(v.description):
            return f"“{v.shown_name} {v.shown_value}”只是通用的完成时限，未指明本项目要按期完成什么"
    return None


@labeling_function("boilerplate")
def repeated_in_corpus(v: RowView) -> str | None:
    # the count is a sign, the definition is the test (LABELS.md): a row whose description names
    # this project's object is not filler however often its name and value recur
    if v.repeats >= 3 and is_generic_name(v.description):
        return f"同一指标“{v.shown_name}＝{v.shown_value}”出现在{v.repeats}个项目中（{v.repeat_docs}份文件）"
    return None


@labeling_function("boilerplate")
def generic_qualitative(v: RowView) -> str | None:
    # the value's own words must be known generic or vague words: unknown words are no evidence
    if (_is_qualitative(v) and not _has_number(v) and len(specific_words(v.name)) <= 2
            and len(_content(_without_phrases(v.value))) <= 2 and not (_bigrams(v.value) & _bigrams(v.context))):
        return f"文字目标“{v.shown_value}”与本项目的名称和资金用途无关，可套用于任何项目"
    return None


@labeling_function("boilerplate", vote=0)
def specific_quantity(v: RowView) -> str | None:
    p = v.parsed
    if p.issue == "none" and p.metric_type in {"count", "amount"} and p.number not in (None, 0, 1, 100):
        return f"给出了项目特有的数量“{v.shown_value}”"
    return None


@lru_cache(maxsize=1 << 14)  # every row of a project shares its outputs
def _output_words(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(_bigrams(specific_words(name)) for name in names))


@labeling_function("boilerplate", vote=0)
def names_project_object(v: RowView) -> str | None:
    shared = _bigrams(v.name) & _bigrams(v.project)
    if shared:
        return f"指标名称含本项目的对象“{sorted(shared)[0]}”"
    # what the project's own count rows deliver (基建工程委托业务项目数量 → 对维护基建市场公平的影响程度);
    # a satisfaction row is decided by the group it names, not by the project's words
    shared = set() if "满意" in v.name else _bigrams(specific_words(v.name)) & _output_words(v.outputs)
    if shared:
        return f"指标名称含本项目产出指标的对象“{sorted(shared)[0]}”"
    return None


@labeling_function("boilerplate")
def placeholder_generic(v: RowView) -> str | None:
    if v.parsed.issue == "placeholder" and is_generic_name(v.name):
        return f"占位表述“{v.shown_value}”可出现在任何项目中"
    return None


# ---------------------------------------------------------------- category_mismatch
@labeling_function("category_mismatch")
def cost_not_amount(v: RowView) -> str | None:
    # social and ecological costs (社会成本/生态环境成本) are rightly measured in many ways
    if _category(v, "成本") and not _category(v, "社会成本", "生态") and v.parsed.metric_type not in {"amount", "empty"}:
        if (NOT_COST_MEASURE.search(v.name) and not COST_WORDS.search(v.name + v.value)
                and not (v.parsed.metric_type == "percent" and COST_RATE.search(v.name))):
            return f"成本指标“{v.shown_name}”的目标“{v.shown_value}”不是金额，也不是成本控制率"
    return None


@labeling_function("category_mismatch")
def timeliness_without_time(v: RowView) -> str | None:
    if _category(v, "时效") and v.parsed.metric_type != "time" and NOT_TIME_MEASURE.search(v.name):
        if not TIME_WORDS.search(v.name + v.description + v.value):
            return f"时效指标“{v.shown_name}”既没有时间要求，也不是及时率"
    return None


@labeling_function("category_mismatch")
def satisfaction_outside_category(v: RowView) -> str | None:
    if not v.level2:  # a row the table gives no category cannot be filed under the wrong one
        return None
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
    # a written value states the effect itself (对社会经济发展的影响 → 构建和谐劳动关系); else the name does
    stated = v.value if v.parsed.metric_type == "text" else text
    if _category(v, "经济效益") and SOCIAL_IN_ECONOMIC.search(text) and not ECONOMIC_WORDS.search(stated):
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
    if not group or group in GENERIC_GROUPS:
        return None
    context = v.context + v.description
    group_domains, context_domains = _domains(group, 0), _domains(context, 1)
    if group_domains and context_domains and not group_domains & context_domains:
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
@dataclass
class RuleResult:
    """Per row: every rule's vote (-1 abstain, 0, 1), the reasons of rules that flag, the parsed value,
    the view the rules saw (built once per row: features, explanations and suggestions reuse it) and
    the rules' suggested metric type."""

    votes: pd.DataFrame
    #: (reason, flag) of every rule that fired with vote 1, and of every consistency check (flag None)
    reasons: list[list[tuple[str, str | None]]]
    parsed: list[NormalizedValue]
    views: list[RowView]
    suggested: list[str]


def apply_rules(rows: pd.DataFrame, corpus: CorpusStats | None = None, records: list[dict] | None = None) -> RuleResult:
    """Run every registered rule on every row; ``corpus`` defaults to the rows themselves.
    ``records`` (rows.to_dict("records")) may be passed by a caller that already has them."""
    corpus = corpus or CorpusStats.from_rows(rows)
    records = records if records is not None else records_of(rows)
    voting = [lf for lf in LABELING_FUNCTIONS if lf.flag]
    votes = np.full((len(rows), len(voting)), ABSTAIN, dtype=np.int8)
    reasons: list[list[tuple[str, str | None]]] = []
    parsed_values: list[NormalizedValue] = []
    views: list[RowView] = []
    outputs = project_outputs(records)
    for i, record in enumerate(records):
        parsed = parse_row_value(record)
        view = row_view(record, parsed, corpus, outputs[i])
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
        views.append(view)
    frame = pd.DataFrame(votes, columns=[lf.name for lf in voting], index=rows.index)
    suggested = [suggest_metric_type(view) for view in views]
    return RuleResult(votes=frame, reasons=reasons, parsed=parsed_values, views=views, suggested=suggested)


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
    if p.metric_type == "boolean" and not IMPROVEMENT.search(name) and "及时" not in name:
        return "boolean"  # a yes/no on a discrete event (已完成, 是否按期通过验收) is checkable as it is
    if _category(view, "时效"):
        if p.metric_type == "time":
            return "time"
        timed_rate = "率" in name and bool(TIME_WORDS.search(name))  # 及时率, 按期完成率, 审限内结案率
        return "percent" if timed_rate else "time"
    if _category(view, "质量"):
        return "percent"
    if _category(view, "数量"):
        # a rate that names its own object (课时比例, 储备到位率) stays a rate; a bare one (完成率) asks for a count
        own_rate = p.metric_type == "percent" and _is_rate(name) and not fake and not is_generic_name(name)
        return "percent" if own_rate else "count"
    if re.search(r"人数|户数|个数|次数|数量", name):
        return "count"
    if re.search(r"增收|收入|产值|节约", name + view.description):
        return "amount"
    if p.metric_type == "percent" and not fake and RATE_NAME.search(name):
        return "percent"
    if p.metric_type == "time" and p.issue == "none":
        return "time"
    return "grade"
