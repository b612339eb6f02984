"""report.html: one self-contained page (inline CSS and SVG, no script, no URL of any kind).

A dependency-free writer: each section of the page is one function returning its HTML, and
``render_page`` joins them. Every string from the documents goes through ``html.escape``. The page
is read on a desk, on a phone (below 720 px every table becomes a stack of cards: labels come from
CSS, so rows carry no extra bytes) and on paper (the print stylesheet keeps the summary, charts,
department and project tables and the top of the weakest list; the per-project detail prints only
when the reader ticks 打印时包含项目明细). Project sections use ``content-visibility: auto`` so a
100,000-row page opens in seconds; Chromium still finds their text with in-page search, and the
section an anchor targets is rendered in full.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from functools import lru_cache

import pandas as pd

from ..schema import FLAGS
from . import charts
from .figures import VALUE_COLUMNS, fmt_num, local_time, pct, rate, text_of, weakest_first, worst_department
from .labels import FLAG_LABELS, FLAG_MEANINGS, NO_PROJECT, REPORT_TITLE, VALUE_ISSUE_LABELS, type_label
from .reasons import compact, split_shared

#: Display bands for risk (cell colour only; decisions come from the model).
RISK_HIGH = 0.7
RISK_MID = 0.4
DEFAULT_TOP_ROWS = 50  # rows of 五、风险最高的指标 unless the caller asks otherwise
HTML_MAX_PROJECTS = 2000  # rows of the page's project table (the workbook lists every project)
HTML_MAX_DOCUMENTS = 200  # rows of the page's document table
PRINT_TOP_ROWS = 20  # of the weakest list on paper
PRINT_PROJECTS = 60  # of the project table on paper
PHONE_WIDTH = 720  # px: below this, tables become cards

# (header, width %) of the indicator-row tables; the weakest-first table adds 序号 and 项目
_ROW_COLS = [
    ("风险", 4), ("一级 / 二级指标", 10), ("三级指标", 14), ("指标值", 9), ("规范化值", 7),
    ("问题", 10), ("原因", 27), ("建议类型", 5), ("改写建议", 14),
]  # fmt: skip
_TOP_COLS = [
    ("序号", 3), ("风险", 4), ("预算单位 / 项目", 10), ("一级 / 二级指标", 8), ("三级指标", 12), ("指标值", 8),
    ("规范化值", 6), ("问题", 9), ("原因", 23), ("建议类型", 5), ("改写建议", 12),
]  # fmt: skip
_FLAG_HEADS = [FLAG_LABELS[f] for f in FLAGS]
_DEPT_COLS = ["预算单位", "有问题指标（比例）", "平均风险", "指标数", "项目数", *_FLAG_HEADS]
_PROJECT_COLS = ["预算单位", "项目", "项目编码", "有问题指标（比例）", "平均风险", "指标数", *_FLAG_HEADS]
_DOC_COLS = ["文档", "来源文件", "指标数", "有问题指标（比例）", "提取警告"]
_ROW_FIELDS = [
    "_dept", "_anchor", "_flagged", "project_name", "level1", "level2", "name", "description", "value", "basis",
    *FLAGS, "metric_type", "suggested_metric_type", "suggestion", "risk", *VALUE_COLUMNS,
]  # fmt: skip


def _card_labels(selector: str, labels: list[str]) -> str:
    """Phone view: each cell of ``selector``'s rows is labelled with its column's header."""
    return "".join(f'{selector} td:nth-child({i})::before{{content:"{label}"}}' for i, label in enumerate(labels, 1))


_CSS = (
    """
*{box-sizing:border-box}
body{margin:0 auto;max-width:1500px;padding:16px 24px 40px;color:#1f2328;background:#fff;overflow-wrap:anywhere;
 font:14px/1.55 "Microsoft YaHei","微软雅黑","PingFang SC","Hiragino Sans GB","Noto Sans CJK SC",
 "Source Han Sans SC","WenQuanYi Micro Hei","SimSun",sans-serif}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:20px;margin:32px 0 10px;padding-bottom:4px;border-bottom:2px solid #2f5597}
h3{font-size:16px;margin:22px 0 6px}
p.meta,.muted{color:#59636e}
.small{font-size:12px}
nav.toc{margin:10px 0 6px;padding:8px 12px;background:#f3f6fa;border:1px solid #d5dde8}
nav.toc a{margin-right:14px;white-space:nowrap}
.print-toggle{margin:4px 0 0;font-size:12px;color:#59636e}
a{color:#0b57b3}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #c9d1db;padding:4px 7px;vertical-align:top;text-align:left}
th{background:#e8eef6;font-weight:600}
table.sticky thead th{position:sticky;top:0;z-index:2;box-shadow:0 1px 0 #c9d1db}
td.n,th.n{text-align:right;white-space:nowrap}
table.wide{width:100%}
table.rows{width:100%;table-layout:fixed}
tr.ok td{color:#59636e}
.totals td{font-size:15px}
.totals td.n{font-weight:600}
.badge{display:inline-block;margin:1px 2px 1px 0;padding:0 5px;border-radius:3px;font-size:12px;
 white-space:nowrap;border:1px solid}
.f-vague{background:#fde8d7;border-color:#e8a36b;color:#7a3b00}
.f-boilerplate{background:#ece6f7;border-color:#a792d6;color:#40287a}
.f-category_mismatch{background:#e0f0f6;border-color:#6fb2cc;color:#0d4f66}
.f-unmeasurable{background:#fbdde0;border-color:#e0808a;color:#86101d}
.worst-badge{background:#c0392b;border-color:#922b21;color:#fff}
tr.worst td{background:#fdecea}
tr.worst td:first-child{border-left:4px solid #c0392b;font-weight:600}
.risk-hi{background:#f8c9cc;font-weight:600}
.risk-mid{background:#fdebb3}
td ul{margin:0;padding-left:16px}
.shared{margin-top:4px;padding:3px 6px;background:#f3f6fa;border-left:3px solid #7f9cc6;font-size:12px}
.sub{display:block;color:#59636e;font-size:12px}
a.sub{color:#0b57b3}
.chg{color:#9a5b00}
figure{margin:10px 0 18px;display:inline-block;vertical-align:top;max-width:100%}
figcaption{font-size:13px;color:#59636e;text-align:center}
svg{max-width:100%;height:auto;font-family:inherit}
section.project{border-top:1px solid #d5dde8;margin-top:14px;content-visibility:auto;
 contain-intrinsic-size:auto 360px;scroll-margin-top:8px}
section.project:target{content-visibility:visible}
.goals{font-size:12px;color:#3d444d;margin:2px 0 6px}
.note{padding:6px 10px;background:#fff8e1;border:1px solid #f0d68a}
.print-only{display:none}
footer{margin-top:36px;color:#59636e;font-size:12px}
"""
    + f"@media (max-width:{PHONE_WIDTH}px){{"
    + """
 body{padding:10px 10px 30px}
 h1{font-size:21px}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto}
 table.cards thead,table.cards colgroup{display:none}
 table.cards tr{margin:0 0 10px;border:1px solid #c9d1db;border-radius:4px;padding:4px 0}
 table.cards td{border:none;padding:2px 8px;text-align:left;white-space:normal}
 table.cards td:empty{display:none}
 table.cards td::before{display:inline-block;min-width:6.5em;margin-right:6px;color:#59636e;font-size:12px;font-weight:400}
 table.cards td .sub{display:inline;margin-left:6px}
 tr.worst td:first-child{border-left:none}
 tr.worst{border-left:4px solid #c0392b}
"""
    + _card_labels("#department-table", _DEPT_COLS)
    + _card_labels("#project-table", _PROJECT_COLS)
    + _card_labels("#document-table", _DOC_COLS)
    + _card_labels("#weakest-table", [label for label, _ in _TOP_COLS])
    + _card_labels("table.detail", [label for label, _ in _ROW_COLS])
    + """
}
@page{size:A4 landscape;margin:12mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 nav.toc,.back,.print-toggle{display:none}
 a{color:inherit;text-decoration:none}
 h2{break-after:avoid}
 tr,figure{break-inside:avoid}
 thead{display:table-header-group}
 table.sticky thead th{position:static;box-shadow:none}
 #details{display:none}
 body:has(#print-details:checked) #details{display:block}
 section.project{content-visibility:visible}
 .print-only{display:block}
"""
    + f" #weakest-table tbody tr:nth-child(n+{PRINT_TOP_ROWS + 1}){{display:none}}\n"
    + f" #project-table tbody tr:nth-child(n+{PRINT_PROJECTS + 1}){{display:none}}\n"
    + """ .badge,.risk-hi,.risk-mid,th,tr.worst td,.worst-badge{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""
)


def render_page(frame: pd.DataFrame, stats: dict, meta: dict, top_rows: int = DEFAULT_TOP_ROWS) -> str:
    """The whole page: ``frame`` is prepare()d rows, ``stats`` figures_of(), ``meta`` run_facts()."""
    worst = worst_department(stats)
    positions = frame.groupby("_anchor", sort=False).indices if len(frame) else {}
    shared, own = _reasons_by_project(frame, positions)
    return "".join(
        [
            _head(),
            _header(stats, meta),
            _overview(frame, stats),
            _documents(stats),
            _charts(stats, worst),
            _departments(stats, worst),
            _projects(stats, set(frame["_anchor"])),
            _weakest(frame, stats, top_rows, shared, own),
            _details(frame, stats, positions, shared, own),
            _run_info(frame, meta),
            _footer(),
        ]
    )


# --------------------------------------------------------------------------- small pieces
def _e(value: object) -> str:
    return html.escape(value if isinstance(value, str) else text_of(value), quote=True)


def _e_lines(value: str) -> str:
    return "<br>".join(_e(line) for line in value.splitlines())


def _risk_cell(risk: float) -> str:
    if math.isnan(risk):
        return '<td class="n">—</td>'
    cls = " risk-hi" if risk >= RISK_HIGH else (" risk-mid" if risk >= RISK_MID else "")
    return f'<td class="n{cls}">{risk:.2f}</td>'


def _risk_num(value: float | None) -> str:
    return '<td class="n">—</td>' if value is None else f'<td class="n">{value:.2f}</td>'


def _count_rate(count: int, share: float) -> str:
    return f'<td class="n">{count}<span class="sub">{pct(share)}</span></td>'


def _share_count(count: int, share: float) -> str:
    """The sort key first: "57.1%" with the count under it."""
    return f'<td class="n">{pct(share)}<span class="sub">{count} 条</span></td>'


@lru_cache(maxsize=65_536)
def _e_repeated(value: str) -> str:
    """_e for fields that repeat over a project's or a unit's rows (levels, names, types)."""
    return _e(value)


@lru_cache(maxsize=None)
def _flag_badges(raised: tuple[int, ...]) -> str:
    out = [f'<span class="badge f-{flag}">{_e(FLAG_LABELS[flag])}</span>' for flag, on in zip(FLAGS, raised) if on]
    return "".join(out) or '<span class="muted">—</span>'


def _badges(rec: Mapping) -> str:
    return _flag_badges(tuple(rec[flag] for flag in FLAGS))


def _list(reasons: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>" if reasons else ""


def _normalized_text(rec: Mapping) -> str:
    """op + number / range + unit, deadline, issue: e.g. "≥90%", "截止 2023-12-31", "问题：格式错误"."""
    op, unit = rec["value_op"], rec["value_unit"]
    low, high, number = rec["value_low"], rec["value_high"], rec["value_number"]
    parts = []
    if not math.isnan(low) and not math.isnan(high):
        parts.append(f"{op}{fmt_num(low)}{unit}–{fmt_num(high)}{unit}")
    elif not math.isnan(number):
        parts.append(f"{op}{fmt_num(number)}{unit}")
    if rec["value_deadline"]:
        deadline = rec["value_deadline"][:10]
        parts.append(f"截止 {deadline}" if op in ("", "≤") else f"{op}{deadline}")
    issue = rec["value_issue"]
    if issue and issue != "none":
        parts.append(f"问题：{VALUE_ISSUE_LABELS.get(issue, issue)}")
    return "；".join(parts)


def _suggested_html(rec: Mapping) -> str:
    return _suggested(rec["suggested_metric_type"], rec["metric_type"])


@lru_cache(maxsize=None)
def _suggested(sug: str, cur: str) -> str:
    if not sug:
        return ""
    out = _e(type_label(sug))
    if cur and cur != sug:
        out += f'<span class="sub chg">现为{_e(type_label(cur))}</span>'
    return out


def _row_table_head(columns: list[tuple[str, int]]) -> str:
    cols = "".join(f'<col style="width:{width}%">' for _, width in columns)
    heads = "".join(f'<th{" class=n" if label in ("序号", "风险") else ""}>{label}</th>' for label, _ in columns)
    return f"<colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead>"


def _row_html(rec: Mapping, reasons_html: str, *, number: int | None = None) -> str:
    """One indicator row; the weakest-first table (``number`` given) adds 序号 and 预算单位 / 项目."""
    cells = []
    if number is not None:
        cells.append(f'<td class="n">{number}</td>')
    cells.append(_risk_cell(rec["risk"]))
    if number is not None:
        cells.append(
            f'<td>{_e_repeated(rec["_dept"])}<a class="sub" href="#{rec["_anchor"]}">'
            f'{_e_repeated(rec["project_name"] or NO_PROJECT)}</a></td>'
        )
    level = f'{rec["level1"]} / {rec["level2"]}' if rec["level1"] and rec["level2"] else rec["level1"] or rec["level2"]
    desc = rec["description"] if rec["description"] != rec["name"] else ""
    desc = f'<span class="sub">{_e(desc)}</span>' if desc else ""
    cells.append(f"<td>{_e_repeated(level)}</td>")
    cells.append(f"<td>{_e(rec['name'])}{desc}</td>")
    basis = f'<span class="sub">依据：{_e(rec["basis"])}</span>' if rec["basis"] else ""
    cells.append(f"<td>{_e(rec['value'])}{basis}</td>")
    cells.append(f"<td>{_e(_normalized_text(rec)) or '<span class=muted>—</span>'}</td>")
    cells.append(f"<td>{_badges(rec)}</td>")
    cells.append(f"<td>{reasons_html}</td>")
    cells.append(f"<td>{_suggested_html(rec)}</td>")
    cells.append(f"<td>{_e_lines(rec['suggestion'])}</td>")
    attrs = "" if rec["_flagged"] else ' class="ok"'
    if number is not None:
        attrs += f' data-project="{rec["_anchor"]}"'
    return f"<tr{attrs}>" + "".join(cells) + "</tr>"


def _reasons_by_project(frame: pd.DataFrame, positions: dict) -> tuple[dict[str, list[str]], list[list[str]]]:
    """Per project (anchor), the reasons two or more of its rows carry; per row, its own others.
    Computed once for the weakest list and the project sections, so both say each reason once.
    ``positions``: each project's row positions."""
    rows = [compact(r) for r in frame["reasons"]]
    shared: dict[str, list[str]] = {}
    for anchor, idx in positions.items():
        common, rest = split_shared([rows[i] for i in idx])
        if common:
            shared[anchor] = common
            for i, reasons in zip(idx, rest):
                rows[i] = reasons
    return shared, rows


def _names(paths: list[str], limit: int = 3) -> str:
    shown = "、".join(paths[:limit])
    return shown + (f" 等 {len(paths)} 项" if len(paths) > limit else "")


# --------------------------------------------------------------------------- the sections
def _head() -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(REPORT_TITLE)}</title><style>{_CSS}</style></head><body>"
    )


def _header(stats: dict, meta: dict) -> str:
    """Title; when, which model, how many documents from which inputs; the table of contents and
    the print choice."""
    model = " ".join(p for p in (meta["model_name"], meta["model_version"]) if p) or "（未注明）"
    when = local_time(meta["created_at"]) if meta["created_at"] else "（未注明）"
    inputs = f"（输入：{_e(_names(meta['inputs']))}）" if meta["inputs"] else ""
    return (
        f"<header><h1>{_e(REPORT_TITLE)}</h1>"
        f'<p class="meta" id="run-line">生成时间：{_e(when)}　模型：{_e(model)}</p>'
        f'<p class="meta" id="scope-line">文档 {stats["documents"]:,} 份{inputs}，预算单位 {stats["departments"]:,} 个，'
        f'项目 {stats["projects"]:,} 个，指标 {stats["rows"]:,} 条；无法读取的文件 {len(meta["errors"])} 个</p></header>'
        '<nav class="toc">目录：<a href="#overview">一、总览</a><a href="#charts">二、图表</a>'
        '<a href="#departments">三、各预算单位</a><a href="#projects">四、各项目</a>'
        '<a href="#weakest">五、风险最高的指标</a><a href="#details">六、项目明细</a>'
        '<a href="#run">七、运行信息</a>'
        '<p class="print-toggle"><label><input type="checkbox" id="print-details"> 打印时包含“六、项目明细”'
        "（每条指标一行，页数较多；默认只打印总览、图表、单位和项目表及风险最高的指标）</label></p></nav>"
    )


def _overview(frame: pd.DataFrame, stats: dict) -> str:
    """一、总览: totals, the four flags with their meaning and counts."""
    out = ['<section id="overview"><h2>一、总览</h2>']
    if len(frame) < stats["rows"]:
        out.append(
            f'<p class="note">本页列出 {len(frame):,} 条指标（全部 {stats["rows"]:,} 条中风险最高的部分）；'
            "总览、图表和各单位、各项目的统计按全部指标计算。完整结果见 scored.csv / scored.parquet。</p>"
        )
    out.append('<table class="totals" id="totals"><tbody>')
    for label, value in [
        ("文档数", stats["documents"]),
        ("预算单位数", stats["departments"]),
        ("项目数", stats["projects"]),
        ("指标数（三级指标）", stats["rows"]),
    ]:
        out.append(f'<tr><th>{label}</th><td class="n">{value:,}</td><td></td></tr>')
    out.append(
        f'<tr><th>有问题的指标</th><td class="n">{stats["flagged_rows"]:,}</td>'
        f'<td class="n">{pct(stats["flagged_rate"])}</td></tr>'
    )
    if stats.get("extract_warnings") is not None:
        out.append(f'<tr><th>有提取警告的指标</th><td class="n">{stats["extract_warnings"]:,}</td><td></td></tr>')
    out.append("</tbody></table>")
    out.append(
        '<table id="flag-totals"><thead><tr><th>问题标记</th><th>含义</th><th class="n">指标数</th>'
        '<th class="n">比例</th></tr></thead><tbody>'
    )
    for flag in FLAGS:
        item = stats["flags"][flag]
        out.append(
            f'<tr><td><span class="badge f-{flag}">{_e(item["label"])}</span></td><td>{_e(FLAG_MEANINGS[flag])}</td>'
            f'<td class="n">{item["count"]:,}</td><td class="n">{pct(item["rate"])}</td></tr>'
        )
    out.append("</tbody></table>")
    if stats["metric_type_changes"]:
        out.append(
            f'<p>建议改变指标值类型的指标：{stats["metric_type_changes"]:,} 条'
            "（如把“文字”改为可核对的“数量”“百分比”）。</p>"
        )
    if stats["risk_missing"]:
        out.append(f'<p class="note">{stats["risk_missing"]:,} 条指标没有风险分。</p>')
    return "".join(out)


def _documents(stats: dict) -> str:
    """The documents of the run (closing 一、总览): rows, flagged share and, when extraction
    reported them, warnings — most warnings first, then most flagged."""
    docs = stats.get("by_document") or []
    warnings = any("extract_warnings" in d for d in docs)
    ranked = sorted(docs, key=lambda d: (-d.get("extract_warnings", 0), -d["flagged_rate"]))
    shown = ranked[:HTML_MAX_DOCUMENTS]
    out = [f'<h3>各文档（{len(docs):,} 份）</h3>']
    if len(docs) > len(shown):
        out.append(f'<p class="muted small">此处列出前 {len(shown):,} 份；全部文档见 summary.json 的 by_document。</p>')
    heads = "".join(f'<th{" class=n" if i >= 2 else ""}>{h}</th>' for i, h in enumerate(_DOC_COLS[: 5 if warnings else 4]))
    out.append(f'<table class="cards" id="document-table"><thead><tr>{heads}</tr></thead><tbody>')
    for d in shown:
        cells = (
            f'<td>{_e(d["doc_id"])}</td><td>{_e(d["source_path"])}</td><td class="n">{d["rows"]:,}</td>'
            + _share_count(d["flagged_rows"], d["flagged_rate"])
        )
        if warnings:
            cells += f'<td class="n">{d.get("extract_warnings", 0):,}</td>'
        out.append(f"<tr>{cells}</tr>")
    if not shown:
        out.append('<tr><td colspan="5" class="muted">（无数据）</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _charts(stats: dict, worst: str | None) -> str:
    """二、图表: flags, metric types, risk histogram, departments (the weakest in red)."""
    return (
        '<section id="charts"><h2>二、图表</h2>'
        f"<figure>{charts.flag_chart(stats)}<figcaption>图1　各类问题标记的指标比例</figcaption></figure>"
        f"<figure>{charts.department_chart(stats, worst)}<figcaption>图2　各预算单位有问题指标的比例"
        "（从高到低，红色为最弱单位）</figcaption></figure>"
        f"<figure>{charts.type_chart(stats)}<figcaption>图3　指标值类型分布（填写与建议）</figcaption></figure>"
        f"<figure>{charts.risk_chart(stats)}<figcaption>图4　风险分布（风险分 0–1，每 0.1 一档）</figcaption></figure>"
        "</section>"
    )


def _group_heads(labels: list[str], numeric_from: int) -> str:
    return "".join(f'<th{" class=n" if i >= numeric_from else ""}>{_e(h)}</th>' for i, h in enumerate(labels))


def _departments(stats: dict, worst: str | None) -> str:
    """三、各预算单位: weakest first (flagged share, then mean risk), the worst row marked 最弱."""
    out = [
        '<section id="departments"><h2>三、各预算单位问题比例</h2>'
        '<p class="muted small">按有问题指标的比例、再按平均风险从高到低排列；标“最弱”的单位问题比例最高。</p>'
        f'<table class="wide cards sticky" id="department-table"><thead><tr>{_group_heads(_DEPT_COLS, 1)}</tr></thead><tbody>'
    ]
    for d in weakest_first(stats["by_department"]):
        is_worst = d["department"] == worst
        mark = ' <span class="badge worst-badge">最弱</span>' if is_worst else ""
        out.append(
            f'<tr{" class=worst" if is_worst else ""}><td>{_e(d["department"])}{mark}</td>'
            + _share_count(d["flagged_rows"], d["flagged_rate"])
            + _risk_num(d.get("risk_mean"))
            + f'<td class="n">{d["rows"]:,}</td><td class="n">{d["projects"]:,}</td>'
            + "".join(_count_rate(d[f], d[f"{f}_rate"]) for f in FLAGS)
            + "</tr>"
        )
    if not stats["by_department"]:
        out.append(f'<tr><td colspan="{len(_DEPT_COLS)}" class="muted">（无数据）</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _projects(stats: dict, present: set[str]) -> str:
    """四、各项目: weakest first, showing the two sort keys; linked where the page has its rows."""
    ranked = weakest_first(stats["by_project"])
    projects = ranked[:HTML_MAX_PROJECTS]  # a year's run has 100,000s: the page would not open
    more = len(ranked) - len(projects)
    out = [
        '<section id="projects"><h2>四、各项目问题比例</h2>'
        '<p class="muted small">按有问题指标的比例、再按平均风险从高到低排列；点击项目名称查看该项目的指标明细。'
        + (f"共 {len(ranked):,} 个项目，此处列出前 {len(projects):,} 个；全部项目见 scored.xlsx 各单位工作表和 summary.json。"
           if more else "")
        + "</p>"
    ]
    if len(projects) > PRINT_PROJECTS:
        out.append(f'<p class="print-only note">打印版列出前 {PRINT_PROJECTS} 个项目；其余见屏幕版或 scored.xlsx。</p>')
    out.append(
        f'<table class="wide cards sticky" id="project-table"><thead><tr>{_group_heads(_PROJECT_COLS, 3)}</tr></thead><tbody>'
    )
    for p in projects:
        name = _e(p["project_name"])
        if p["anchor"] in present:
            name = f'<a href="#{_e(p["anchor"])}">{name}</a>'
        out.append(
            f'<tr><td>{_e(p["department"])}</td><td>{name}</td><td>{_e(p.get("project_code", ""))}</td>'
            + _share_count(p["flagged_rows"], p["flagged_rate"])
            + _risk_num(p.get("risk_mean"))
            + f'<td class="n">{p["rows"]:,}</td>'
            + "".join(_count_rate(p[f], p[f"{f}_rate"]) for f in FLAGS)
            + "</tr>"
        )
    if not projects:
        out.append(f'<tr><td colspan="{len(_PROJECT_COLS)}" class="muted">（无数据）</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _weakest(frame: pd.DataFrame, stats: dict, top_rows: int, shared: dict, own: list[list[str]]) -> str:
    """五、风险最高的指标: the ``top_rows`` flagged rows of highest risk, how many more and where.
    A project's shared reasons are listed at its first row here; its later rows point there."""
    flagged = frame[frame["_flagged"] == 1]
    ranked = flagged.sort_values(["risk", "_order"], ascending=[False, True], na_position="last", kind="stable")
    shown = ranked.head(top_rows)
    out = ['<section id="weakest"><h2>五、风险最高的指标</h2>']
    total = max(stats["flagged_rows"], len(flagged))
    if not len(flagged):
        out.append('<p class="note">未发现带问题标记的指标。</p></section>')
        return "".join(out)
    note = f"共 {total:,} 条指标带有问题标记，按风险分从高到低列出前 {len(shown):,} 条"
    more = total - len(shown)
    if more:
        where = "scored.csv / scored.parquet、" if len(frame) < stats["rows"] else "下方“六、项目明细”、"
        note += (
            f"，另有 {more:,} 条未列出：见{where}scored.xlsx 的“评分结果”工作表（按风险从高到低排列，可筛选），"
            "或导入审核应用逐条审核（budgetnlp review import 输出文件夹）。"
        )
    else:
        note += "。"
    out.append(f'<p class="note" id="weakest-note">{note}</p>')
    out.append("<p class=\"muted small\">原因已去重：同一项目多条指标共有的原因只在该项目第一次出现时列出一次。</p>")
    if len(shown) > PRINT_TOP_ROWS:
        out.append(f'<p class="print-only note">打印版列出前 {PRINT_TOP_ROWS} 条；其余见屏幕版或 scored.xlsx。</p>')
    out.append(f'<table class="rows cards sticky" id="weakest-table">{_row_table_head(_TOP_COLS)}<tbody>')
    first_at: dict[str, int] = {}
    positions = shown["_order"].tolist()
    for number, (pos, rec) in enumerate(zip(positions, shown[_ROW_FIELDS].to_dict("records")), 1):
        anchor = rec["_anchor"]
        reasons = _list(own[pos])
        if anchor in shared:
            if anchor in first_at:
                reasons += f'<span class="sub">本项目共有的原因见第 {first_at[anchor]} 条</span>'
            else:
                first_at[anchor] = number
                reasons += f'<div class="shared"><b>本项目多条指标共有：</b>{_list(shared[anchor])}</div>'
        out.append(_row_html(rec, reasons, number=number))
    out.append("</tbody></table></section>")
    return "".join(out)


def _details(frame: pd.DataFrame, stats: dict, positions: dict, shared: dict, own: list[list[str]]) -> str:
    """六、项目明细: one section per project with its facts, shared reasons once, and every row."""
    out = ['<section id="details"><h2>六、项目明细</h2>']
    records = frame[[*_ROW_FIELDS, "fund_use", "project_goals", "project_code", "year", "project_budget"]].to_dict(
        "records"
    )
    by_anchor = {p["anchor"]: p for p in stats["by_project"]}
    for anchor, idx in positions.items():
        first = records[idx[0]]
        facts = [f"预算单位：{first['_dept']}"]
        if first["project_code"]:
            facts.append(f"项目编码：{first['project_code']}")
        if first["year"]:
            facts.append(f"年度：{first['year']}")
        if not math.isnan(first["project_budget"]):
            facts.append(f"预算数：{fmt_num(first['project_budget'])} 万元")
        listed, listed_flagged = len(idx), sum(records[i]["_flagged"] for i in idx)
        p = by_anchor.get(anchor) or {"rows": listed, "flagged_rows": listed_flagged}
        facts.append(f"指标 {p['rows']} 条，有问题 {p['flagged_rows']} 条（{pct(rate(p['flagged_rows'], p['rows']))}）")
        if listed < p["rows"]:
            facts.append(f"本页列出其中 {listed} 条")
        out.append(
            f'<section class="project" id="{_e(anchor)}"><h3>{_e(first["project_name"] or NO_PROJECT)}</h3>'
            f'<p class="meta small">{_e("　".join(facts))}</p>'
        )
        if first["fund_use"]:
            out.append(f'<p class="goals"><b>资金用途：</b>{_e_lines(first["fund_use"])}</p>')
        if first["project_goals"]:
            out.append(f'<p class="goals"><b>绩效目标：</b>{_e_lines(first["project_goals"])}</p>')
        if anchor in shared:
            out.append(f'<div class="shared"><b>本项目多条指标共有的原因：</b>{_list(shared[anchor])}</div>')
        out.append(f'<table class="rows cards detail">{_row_table_head(_ROW_COLS)}<tbody>')
        for i in idx:
            out.append(_row_html(records[i], _list(own[i])))
        out.append('</tbody></table><p class="back small"><a href="#projects">↑ 返回项目列表</a></p></section>')
    if not positions:
        out.append('<p class="muted">（无数据）</p>')
    out.append("</section>")
    return "".join(out)


def _run_info(frame: pd.DataFrame, meta: dict) -> str:
    """七、运行信息: model, time, inputs, files that could not be read."""
    models = sorted({m for m in frame["model"] if m})
    when = local_time(meta["created_at"]) if meta["created_at"] else "（未注明）"
    out = ['<section id="run"><h2>七、运行信息</h2><table id="run-table"><tbody>']
    out.append(f"<tr><th>模型名称</th><td>{_e(meta['model_name'] or '（未注明）')}</td></tr>")
    out.append(f"<tr><th>模型版本</th><td>{_e(meta['model_version'] or '（未注明）')}</td></tr>")
    if models:
        out.append(f"<tr><th>评分行记录的模型</th><td>{'<br>'.join(_e(m) for m in models)}</td></tr>")
    out.append(f"<tr><th>生成时间</th><td>{_e(when)}</td></tr>")
    out.append("</tbody></table>")
    out.append(f'<h3>输入（{len(meta["inputs"])} 项，文件或文件夹）</h3>')
    if meta["inputs"]:
        out.append('<ol class="small" id="inputs">' + "".join(f"<li>{_e(p)}</li>" for p in meta["inputs"]) + "</ol>")
    else:
        out.append('<p class="muted">（未注明）</p>')
    out.append(f'<h3>无法读取的文件（{len(meta["errors"])} 个）</h3>')
    if meta["errors"]:
        out.append('<table id="errors-table"><thead><tr><th>文件</th><th>位置</th><th>原因</th></tr></thead><tbody>')
        for err in meta["errors"]:
            out.append(f"<tr><td>{_e(err['path'])}</td><td>{_e(err['location'])}</td><td>{_e(err['reason'])}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p class="muted">（无）</p>')
    out.append("</section>")
    return "".join(out)


def _footer() -> str:
    return (
        "<footer>本报告由 budgetnlp 自动生成；问题标记供审核人员参考，最终判断以人工审核为准。"
        "问题标记的定义见“一、总览”。</footer></body></html>\n"
    )
