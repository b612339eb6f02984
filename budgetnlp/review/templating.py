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


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(FLAGS=FLAGS, METRIC_TYPES=METRIC_TYPES, FLAG_NAMES=FLAG_LABELS, METRIC_TYPE_NAMES=METRIC_TYPE_LABELS,
                       STATUS_NAMES=STATUS_NAMES, ROLE_NAMES=ROLE_NAMES, NOTE_MAX=NOTE_MAX, STATUS_FILTERS=STATUS_FILTERS,
                       CHANNEL_NAMES=CHANNEL_NAMES, EXTRA_NAMES=EXTRA_NAMES, BULK_MAX=BULK_MAX)
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v not in (None, "")})
    env.filters["pct"] = lambda p: f"{100 * float(p):.0f}%" if p is not None else "—"
    env.filters["num"] = lambda v, digits=2: "—" if v is None else (f"{v:,.{digits}f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
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
