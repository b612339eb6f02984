"""The Jinja2 environment of the pages (autoescaped, strict) and its filters."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from ..schema import FLAGS, METRIC_TYPES
from .common import (CHANNEL_NAMES, FLAG_LABELS, METRIC_TYPE_LABELS, NOTE_MAX, ROLE_NAMES, STATUS_FILTERS, STATUS_NAMES,
                     search_key)
from .decisions import BULK_MAX

HERE = Path(__file__).resolve().parent
EXTRA_NAMES = {"spend_plan": "资金支出计划", "value_op_raw": "运算符（原表）", "value_number_raw": "数值（原表）",
               "value_unit_raw": "单位（原表）"}
_LOCATION = re.compile(r"\b(table|row|page|sheet|paragraph)\s+(\S+?)(?=,|$)")
_LOCATION_NAMES = {"table": "第 {} 表", "row": "第 {} 行", "page": "第 {} 页", "sheet": "工作表 {}", "paragraph": "第 {} 段"}


def local_time(value: str) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def location_zh(value: str) -> str:
    """"table 52, row 8, page 3" (as extraction writes it) → "第 52 表，第 8 行，第 3 页"."""
    if not value:
        return ""
    parts = [p.strip() for p in str(value).split(",")]
    out = []
    for part in parts:
        match = _LOCATION.fullmatch(part)
        out.append(_LOCATION_NAMES[match.group(1)].format(match.group(2)) if match else part)
    return "，".join(out)


def highlight(value, query: str | None) -> Markup:
    """The text escaped, with each match of the search (as the search matches: NFKC, any case)
    wrapped in <mark>."""
    value = "" if value is None else str(value)
    if not query:  # the common case: a queue page without a search (three cells a row)
        return escape(value)
    key = search_key(query)
    if not key:
        return escape(value)
    # match on the normalized text where normalizing kept the length, else on the text as is
    folded = search_key(value)
    haystack = folded if len(folded) == len(value) else value.lower()
    out, start = [], 0
    while key and (found := haystack.find(key, start)) >= 0:
        out += [escape(value[start:found]), Markup("<mark>"), escape(value[found:found + len(key)]), Markup("</mark>")]
        start = found + len(key)
    out.append(escape(value[start:]))
    return Markup("").join(out)


def num(v, digits: int = 2) -> str:
    return "—" if v is None else (f"{v:,.{digits}f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))


def pct(p) -> str:
    return f"{100 * float(p):.0f}%" if p is not None else "—"


_FLAG_BADGES = {f: (f'<span class="badge flag-{f}" title="{escape(FLAG_LABELS[f])}（模型概率 ', f'）">{escape(FLAG_LABELS[f])}</span>')
                for f in FLAGS}
_STATUS_BADGES = {s: Markup(f'<span class="status status-{s}">{escape(n)}</span>') for s, n in STATUS_NAMES.items()}
_FLAG_NAMES = {f: str(escape(n)) for f, n in FLAG_LABELS.items()}
_METRIC_NAMES = {t: str(escape(n)) for t, n in METRIC_TYPE_LABELS.items()}


def _plain(value) -> Markup:
    return escape("" if value is None else value)  # highlight() without a search


def queue_rows(rows: list[dict], row_query: str, q: str | None) -> Markup:
    """The queue table's rows (<tr> per row), as queue.html once wrote them with a loop and two
    macros: written here in Python, the 50 rows of a page cost a tenth of the template's time.
    ``row_query``: the query string every row link carries; ``q``: the search to highlight."""
    link = escape(row_query)
    mark = (lambda value: highlight(value, q)) if q else _plain
    out = []
    for r in rows:
        row_id, labels, flag = escape(r["row_id"]), r["labels"], r["uncertain_flag"]
        flag_name = _FLAG_NAMES[flag]
        name = mark(r["name"]) if r["name"] else "（无名称）"
        described = f'<br><span class="muted small">{highlight(r["description"], q)}</span>' if q and r["description"] else ""
        badges = "".join([f"{_FLAG_BADGES[f][0]}{pct(r[f'p_{f}'])}{_FLAG_BADGES[f][1]}" for f in FLAGS if labels[f]])
        metric = labels["metric_type"]
        decided = f'<br><span class="muted">{escape(r["decided_by"])}</span>' if r["decided_by"] else ""
        out.append(
            f'    <tr data-href="/rows/{row_id}?{link}" data-row-id="{row_id}">\n'
            f'      <td class="num">{escape(num(r["risk"]))}</td>\n'
            f'      <td class="num uncertainty" title="最不确定的问题：{flag_name}（概率 {pct(r[f"p_{flag}"])}）">'
            f'{escape(num(r["uncertainty"]))}<br><span class="muted small">{flag_name}</span></td>\n'
            f'      <td>{escape(r["department"])}<br><span class="muted">{"" if r["year"] is None else escape(r["year"])}</span></td>\n'
            f'      <td><a href="/projects/{escape(r["project_key"])}">{mark(r["project_name"])}</a></td>\n'
            f'      <td>{escape(r["level1"])}<br><span class="muted">{escape(r["level2"])}</span></td>\n'
            f'      <td><a class="open" href="/rows/{row_id}?{link}">{name}</a>{described}</td>\n'
            f'      <td>{mark(r["value"])}</td>\n'
            f'      <td><span class="flags">\n{badges}</span></td>\n'
            f'      <td>{_METRIC_NAMES.get(metric) or escape(metric)}</td>\n'
            f'      <td>{_STATUS_BADGES[r["status"]]}{decided}</td>\n'
            f'    </tr>\n')
    return Markup("".join(out).removesuffix("\n"))


def environment() -> jinja2.Environment:
    # auto_reload off: templates ship with the package, so no stat() of each file per render
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.globals.update(FLAGS=FLAGS, METRIC_TYPES=METRIC_TYPES, FLAG_NAMES=FLAG_LABELS, METRIC_TYPE_NAMES=METRIC_TYPE_LABELS,
                       STATUS_NAMES=STATUS_NAMES, ROLE_NAMES=ROLE_NAMES, NOTE_MAX=NOTE_MAX, STATUS_FILTERS=STATUS_FILTERS,
                       CHANNEL_NAMES=CHANNEL_NAMES, EXTRA_NAMES=EXTRA_NAMES, BULK_MAX=BULK_MAX, queue_rows=queue_rows)
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v not in (None, "")})
    env.filters["pct"] = pct
    env.filters["num"] = num
    env.filters["localtime"] = local_time
    env.filters["location"] = location_zh
    env.filters["highlight"] = highlight
    env.filters["kappa"] = lambda k: "—" if k is None else f"{k:.2f}"
    return env


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    from .deps import csrf_token

    html = request.app.state.templates.get_template(name).render(
        request=request, user=getattr(request.state, "user", None), csrf_token=csrf_token(request),
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)
