"""The page's inline SVG charts: flag rates, metric types, the risk histogram and departments'
flagged share (the weakest marked). Each has a <title> and visible labels; no script, no URL."""

from __future__ import annotations

import html
import math

from ..schema import FLAGS, METRIC_TYPES
from .figures import fmt_num, pct, text_of, weakest_first
from .labels import FLAG_LABELS, type_label

FLAG_COLOURS = {
    "vague": "#e8893c",
    "boilerplate": "#8a6cc9",
    "category_mismatch": "#3c97b8",
    "unmeasurable": "#d4505e",
}
WORST_COLOUR = "#c0392b"
CHART_DEPARTMENTS = 12  # bars of the department chart (the table lists every department)


def _e(value: object) -> str:
    return html.escape(value if isinstance(value, str) else text_of(value), quote=True)


def _axis(value: float, integer: bool = False, max_ticks: int = 5) -> tuple[float, list[float]]:
    """Axis maximum and ticks: steps of 1/2/5 × 10^k, at most ``max_ticks`` intervals, whole
    numbers for counts."""
    if value <= 0:
        return 1.0, [0.0, 1.0]
    raw = value / max_ticks
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 5, 10) if m * exp >= raw)
    if integer:
        step = max(step, 1.0)
    count = math.ceil(value / step - 1e-9)
    return count * step, [round(i * step, 10) for i in range(count + 1)]


def _svg_text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>{_e(text)}</text>'


def _svg_open(svg_id: str, width: int, height: int, title: str) -> str:
    """Opening tag with an accessible name (<title>), a white background and a visible heading."""
    return (
        f'<svg id="{svg_id}" class="chart" role="img" aria-labelledby="{svg_id}-t" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title id="{svg_id}-t">{_e(title)}</title>'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        + _svg_text(width / 2, 20, title, 15, "middle", ' font-weight="600"')
    )


_AXIS = ' fill="#59636e"'


def _svg_hbars(svg_id, title, groups, axis, tick_fmt, legend=None) -> str:
    """Horizontal bars. groups = [(label, [(value, bar_text, tooltip, colour), …])], one row per bar."""
    width, left, right, bar_h, gap = 640, 150, 120, 18, 12
    per_group = max((len(bars) for _, bars in groups), default=1)
    top = 34 + (22 if legend else 0)
    height = top + len(groups) * (per_group * bar_h + gap) + 30
    plot_w, bottom = width - left - right, height - 26
    vmax, ticks = axis
    parts = [_svg_open(svg_id, width, height, title)]
    x = left
    for label, colour in legend or []:
        parts.append(f'<rect x="{x}" y="32" width="12" height="12" fill="{colour}"/>')
        parts.append(_svg_text(x + 16, 43, label))
        x += 24 + 14 * len(label)
    for tick in ticks:
        x = left + plot_w * tick / vmax
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e1e6ec"/>')
        parts.append(_svg_text(x, bottom + 16, tick_fmt(tick), 11, "middle", _AXIS))
    y = top
    for label, bars in groups:
        parts.append(_svg_text(left - 8, y + per_group * bar_h / 2 + 4, label, 13, "end"))
        for value, text, tip, colour in bars:
            w = 0.0 if vmax <= 0 else plot_w * min(value / vmax, 1.0)
            parts.append(
                f'<rect x="{left}" y="{y}" width="{max(w, 1.0):.1f}" height="{bar_h - 3}" fill="{colour}">'
                f"<title>{_e(tip)}</title></rect>"
            )
            parts.append(_svg_text(left + w + 5, y + bar_h - 7, text))
            y += bar_h
        y += gap
    parts.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#59636e"/></svg>')
    return "".join(parts)


def flag_chart(stats: dict) -> str:
    rows = [(FLAG_LABELS[f], stats["flags"][f]["rate"], stats["flags"][f]["count"], FLAG_COLOURS[f]) for f in FLAGS]
    rows.append(("任一问题", stats["flagged_rate"], stats["flagged_rows"], "#2f5597"))
    axis = _axis(max(r[1] for r in rows))
    groups = [
        (label, [(rate, f"{pct(rate)}（{count}条）", f"{label}：{count} 条，占 {pct(rate)}", colour)])
        for label, rate, count, colour in rows
    ]
    return _svg_hbars("chart-flags", "各类问题的指标比例", groups, axis, lambda v: f"{fmt_num(round(v * 100, 4))}%")


def type_chart(stats: dict) -> str:
    written, suggested = stats["metric_types"], stats["suggested_metric_types"]
    codes = [c for c in written if written.get(c, 0) or suggested.get(c, 0)] or list(METRIC_TYPES)
    axis = _axis(max([written.get(c, 0) for c in codes] + [suggested.get(c, 0) for c in codes]), integer=True)
    groups = []
    for code in codes:
        label, a, b = type_label(code), written.get(code, 0), suggested.get(code, 0)
        bars = [(a, str(a), f"{label}：填写 {a} 条", "#5b8fd6"), (b, str(b), f"{label}：建议 {b} 条", "#e59a3c")]
        groups.append((label, bars))
    legend = [("填写类型", "#5b8fd6"), ("建议类型", "#e59a3c")]
    return _svg_hbars("chart-types", "指标值类型：填写与建议", groups, axis, fmt_num, legend=legend)


_HIST_COLOURS = [
    "#cfe3c8", "#dfe8b8", "#eee9a8", "#f6df96", "#f8cd85", "#f6b676", "#f29c69", "#ec815f", "#e26559", "#d4505e",
]  # fmt: skip


def risk_chart(stats: dict) -> str:
    bins = stats["risk_histogram"]
    width, height, left, right, top, bottom = 640, 300, 56, 20, 40, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax, ticks = _axis(max(b["count"] for b in bins), integer=True)
    parts = [_svg_open("chart-risk", width, height, "风险分布（指标条数）")]
    base = top + plot_h
    for tick in ticks:
        y = base - plot_h * tick / vmax
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e1e6ec"/>')
        parts.append(_svg_text(left - 6, y + 4, fmt_num(tick), 11, "end", _AXIS))
    step = plot_w / len(bins)
    for i, b in enumerate(bins):
        h, x = plot_h * b["count"] / vmax, left + i * step
        tip = f'{b["label"]}：{b["count"]} 条（{pct(b["rate"])}）'
        parts.append(
            f'<rect x="{x + 3:.1f}" y="{base - h:.1f}" width="{step - 6:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{_HIST_COLOURS[i % len(_HIST_COLOURS)]}" stroke="#8c6d5a" stroke-width="0.5">'
            f"<title>{_e(tip)}</title></rect>"
        )
        if b["count"]:
            parts.append(_svg_text(x + step / 2, base - h - 4, str(b["count"]), 11, "middle"))
        parts.append(_svg_text(x, base + 15, f'{b["low"]:.1f}', 11, "middle", _AXIS))
    parts.append(_svg_text(width - right, base + 15, "1.0", 11, "middle", _AXIS))
    parts.append(_svg_text(left + plot_w / 2, height - 8, "风险分", 12, "middle"))
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#59636e"/></svg>')
    return "".join(parts)


def department_chart(stats: dict, worst: str | None) -> str:
    """Flagged share of the weakest departments, weakest on top; the worst bar in red, named 最弱."""
    ranked = weakest_first(stats["by_department"])[:CHART_DEPARTMENTS]
    if not ranked:
        ranked = [{"department": "（无数据）", "flagged_rate": 0.0, "flagged_rows": 0, "rows": 0}]
    groups = []
    for d in ranked:
        is_worst = d["department"] == worst
        name = d["department"] if len(d["department"]) <= 10 else d["department"][:9] + "…"
        text = f"{pct(d['flagged_rate'])}（{d['flagged_rows']}/{d['rows']}）" + ("　最弱" if is_worst else "")
        tip = f"{d['department']}：有问题指标 {d['flagged_rows']} 条，占 {pct(d['flagged_rate'])}"
        groups.append((name, [(d["flagged_rate"], text, tip, WORST_COLOUR if is_worst else "#7f9cc6")]))
    axis = _axis(max(g[1][0][0] for g in groups) or 0.01)
    title = "各预算单位有问题指标的比例" + (f"（前 {CHART_DEPARTMENTS} 个）" if len(stats["by_department"]) > CHART_DEPARTMENTS else "")
    return _svg_hbars("chart-departments", title, groups, axis, lambda v: f"{fmt_num(round(v * 100, 4))}%")
