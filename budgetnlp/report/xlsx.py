"""scored.xlsx: sheet 评分结果 (every listed row, weakest first), 汇总 (the run's figures) and one
sheet per department (its projects, weakest first), departments in the report's order.

Built by openpyxl (streaming mode, named styles, conditional formats), except the data rows of 评分结果
and of the department sheets: openpyxl needs ~9 µs a cell, so those rows are generated as sheet
XML here and spliced into the saved package in place of a marker row (``_rows_xml``,
``_splice_rows``). Text cells are inline strings, so values that start with "=" (=78人) are text,
never formulas. Headers, metric types, value issues and flags (✓) are shown in Chinese, risk and
probabilities as percentages; scored.csv / parquet keep the codes, 0/1 and fractions.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.formatting.rule import ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from ..errors import InputError
from ..schema import FLAGS
from .figures import KNOWN_COLUMNS, VALUE_COLUMNS, clean, pct, text_of, weakest_first, worst_department
from .labels import (
    FLAG_LABELS,
    FLAG_MARK,
    P_COLUMNS,
    REPORT_TITLE,
    SCORED_SHEET,
    SUMMARY_SHEET,
    VALUE_ISSUE_LABELS,
    column_label,
    type_label,
)

ORDERS = ("risk", "document")  # rows of 评分结果: highest risk first (default) or as in the documents
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_XLSX_MAX_TEXT = 32_000  # Excel's cell limit is 32,767 characters
_ROWS_MARKER = "budgetnlp:data-rows-go-here"


_XLSX_COLUMNS = [
    "department",
    "project_name",
    "level1",
    "level2",
    "name",
    "value",
    "risk",
    *FLAGS,
    "reasons",
    "suggested_metric_type",
    "suggestion",
    *P_COLUMNS,
    "metric_type",
    *VALUE_COLUMNS,
    "description",
    "basis",
    "project_code",
    "project_budget",
    "year",
    "fund_use",
    "project_goals",
    "level1_norm",
    "level2_norm",
    "location",
    "source_path",
    "doc_id",
    "row_id",
    "model",
]
_XLSX_WIDTHS = {
    "department": 16,
    "project_name": 20,
    "level1": 10,
    "level2": 12,
    "name": 24,
    "value": 14,
    "risk": 8,
    **{flag: 8 for flag in FLAGS},
    "category_mismatch": 9,
    "unmeasurable": 9,
    "reasons": 44,
    "suggested_metric_type": 10,
    "suggestion": 36,
    **{col: 9 for col in P_COLUMNS},
    "metric_type": 10,
    "value_op": 7,
    "value_number": 9,
    "value_low": 8,
    "value_high": 8,
    "value_unit": 7,
    "value_deadline": 11,
    "value_issue": 10,
    "description": 30,
    "basis": 14,
    "project_code": 18,
    "project_budget": 10,
    "year": 7,
    "fund_use": 30,
    "project_goals": 30,
    "level1_norm": 10,
    "level2_norm": 12,
    "location": 14,
    "source_path": 24,
    "doc_id": 18,
    "row_id": 18,
    "model": 20,
}
_XLSX_WRAP = {"name", "reasons", "suggestion"}
_PCT_COLUMNS = {"risk", *P_COLUMNS}
_XLSX_FREEZE = "F3"  # two header rows; department … name stay in view
_FILL_FLAG = "FFC7CE"
_FONT_FLAG = "9C0006"


def _rate_scale() -> ColorScaleRule:
    """White at 0 to red at 1: the colour scale of every rate and probability column."""
    return ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF", end_type="num", end_value=1, end_color="F8696B")


def _sheet_title(name: str, taken: set[str]) -> str:
    """An Excel-safe, unique (case-insensitive) sheet name of at most 31 characters."""
    base = _SHEET_BAD.sub("", name).strip().strip("'").strip() or "未注明单位"
    if base.casefold() == "history":  # reserved by Excel
        base += "_"
    n = 1
    while True:
        suffix = "" if n == 1 else f"({n})"
        title = _utf16_cut(base, 31 - len(suffix)) + suffix
        if title.casefold() not in taken:
            taken.add(title.casefold())
            return title
        n += 1


def _utf16_cut(text: str, limit: int) -> str:
    out, used = [], 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit:
            break
        out.append(ch)
        used += width
    return "".join(out).rstrip().rstrip("'")


def _xlsx_styles(wb) -> None:
    thin = Side(style="thin", color="B7C3D0")
    styles = [
        NamedStyle(
            name="bn_head_cn",
            font=Font(bold=True),
            fill=PatternFill("solid", fgColor="DCE6F1"),
            alignment=Alignment(horizontal="center", vertical="center", wrap_text=True),
            border=Border(top=thin, left=thin, right=thin),
        ),
        NamedStyle(
            name="bn_head_en",
            font=Font(size=9, color="595959"),
            fill=PatternFill("solid", fgColor="EEF3F8"),
            alignment=Alignment(horizontal="center", vertical="center"),
            border=Border(bottom=thin, left=thin, right=thin),
        ),
        NamedStyle(
            name="bn_flag",
            font=Font(bold=True, color=_FONT_FLAG),
            fill=PatternFill("solid", fgColor=_FILL_FLAG),
            alignment=Alignment(horizontal="center", vertical="top"),
        ),
        NamedStyle(name="bn_wrap", alignment=Alignment(wrap_text=True, vertical="top")),
        NamedStyle(name="bn_title", font=Font(bold=True, size=14)),
        NamedStyle(name="bn_pct", number_format="0.0%"),
        NamedStyle(name="bn_link", font=Font(color="0563C1", underline="single")),
    ]
    for style in styles:
        wb.add_named_style(style)


def _cell(ws, value, style: str | None = None, link: str | None = None):
    """A streaming cell with a named style, a text value that is never read as a formula,
    and/or an in-workbook hyperlink. Named styles are resolved once per sheet and copied."""
    style_array = None
    if style:
        cache = ws.__dict__.setdefault("_bn_styles", {})
        if style not in cache:
            proto = Cell(ws, row=1, column=1)
            proto.style = style
            cache[style] = proto._style
        style_array = cache[style]
    if isinstance(value, str):
        value = clean(value)
    cell = Cell(ws, row=1, column=1, value=value, style_array=style_array)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    if link:
        cell.hyperlink = Hyperlink(ref="", location=link)
    return cell


def _xlsx_value(ws, value):
    """A value for a summary or department sheet: NaN → None, text cleaned, cut to Excel's cell
    limit and kept as text when it starts with "="."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        value = clean(value)[:_XLSX_MAX_TEXT]
        return _cell(ws, value) if value.startswith("=") else value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return _xlsx_value(ws, text_of(value))


def write_workbook(frame: pd.DataFrame, stats: dict, meta: dict, path: Path, order: str = "risk") -> None:
    """scored.xlsx at ``path`` (written to a temp file first, then renamed into place)."""
    if order not in ORDERS:
        raise InputError("report options", f"xlsx order must be one of {', '.join(ORDERS)}, got {order!r}")
    wb = Workbook(write_only=True)
    _xlsx_styles(wb)
    taken = {SCORED_SHEET.casefold(), SUMMARY_SHEET.casefold()}
    departments = weakest_first(stats["by_department"])
    dept_sheets = {d["department"]: _sheet_title(d["department"], taken) for d in departments}
    rows = frame.sort_values(["risk", "_order"], ascending=[False, True], na_position="last", kind="stable") \
        if order == "risk" else frame
    rows_xml = {_rows_marker(0): _write_scored_sheet(wb.create_sheet(SCORED_SHEET), rows)}
    _write_summary_sheet(wb.create_sheet(SUMMARY_SHEET), stats, meta, departments, dept_sheets, len(frame))
    projects_by_dept: dict[str, list[dict]] = {}
    for project in weakest_first(stats["by_project"]):
        projects_by_dept.setdefault(project["department"], []).append(project)
    for number, dept in enumerate(departments, 1):
        name = dept["department"]
        ws = wb.create_sheet(dept_sheets[name])
        rows_xml[_rows_marker(number)] = _write_department_sheet(ws, dept, projects_by_dept.get(name, []), _rows_marker(number))
    package = io.BytesIO()
    wb.save(package)
    tmp = temp_name(path)
    try:
        _splice_rows(package, rows_xml, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_scored_sheet(ws, frame: pd.DataFrame) -> Iterator[str]:
    """Headers, widths, filter, frozen panes and colour rules of 评分结果; returns the data rows' XML."""
    extras = [c for c in frame.columns if c not in KNOWN_COLUMNS and not str(c).startswith("_")]
    columns = [*_XLSX_COLUMNS, *extras]
    letters = {col: get_column_letter(i) for i, col in enumerate(columns, 1)}
    for col in columns:
        ws.column_dimensions[letters[col]].width = _XLSX_WIDTHS.get(col, 14)
    n = len(frame)
    last_row = max(n + 2, 3)
    ws.freeze_panes = _XLSX_FREEZE
    ws.auto_filter.ref = f"A2:{letters[columns[-1]]}{n + 2}"
    ws.print_title_rows = "1:2"

    for col in [*P_COLUMNS]:
        ws.conditional_formatting.add(
            f"{letters[col]}3:{letters[col]}{last_row}",
            _rate_scale(),
        )
    ws.conditional_formatting.add(
        f"{letters['risk']}3:{letters['risk']}{last_row}",
        ColorScaleRule(
            start_type="num",
            start_value=0,
            start_color="FFFFFF",
            mid_type="num",
            mid_value=0.5,
            mid_color="FFEB84",
            end_type="num",
            end_value=1,
            end_color="F8696B",
        ),
    )
    sug, cur = letters["suggested_metric_type"], letters["metric_type"]
    ws.conditional_formatting.add(
        f"{sug}3:{sug}{last_row}",
        FormulaRule(formula=[f'AND(${sug}3<>"",${sug}3<>${cur}3)'], fill=PatternFill("solid", bgColor="FFEB9C")),
    )

    ws.append([_cell(ws, column_label(col), "bn_head_cn") for col in columns])
    ws.append([_cell(ws, str(col), "bn_head_en") for col in columns])

    # The data rows are written as sheet XML by _rows_xml and spliced in after saving (openpyxl
    # spends ~9 µs per cell; 20,000 rows × 41 columns would take most of the run). The marker row
    # marks the place; the style ids come from the workbook's own named styles.
    ws.append([_rows_marker(0)])
    kinds = ["flag" if c in FLAGS else "pct" if c in _PCT_COLUMNS else "wrap" if c in _XLSX_WRAP else "" for c in columns]
    data = _xlsx_data(frame, columns)
    return _rows_xml([data[c] for c in columns], kinds, n, 3, _style_ids(ws))


def _rows_marker(sheet: int) -> str:
    return f"{_ROWS_MARKER}:{sheet}"


def _style_ids(ws) -> dict[str, str]:
    """The ``s`` attribute of each kind of data cell, from the workbook's own named styles."""
    return {kind: f' s="{_style_id(ws, name)}"' for kind, name in
            (("flag", "bn_flag"), ("wrap", "bn_wrap"), ("pct", "bn_pct"))}


def _style_id(ws, name: str) -> int:
    """The cellXfs index of a named style in this workbook (registered now if new)."""
    proto = Cell(ws, row=1, column=1)
    proto.style = name
    return proto.style_id


def _xlsx_data(frame: pd.DataFrame, columns: list[str]) -> dict[str, list]:
    """Per column, the values as shown in the sheet (Chinese type names, joined reasons …)."""
    data = {}
    for col in columns:
        if col == "reasons":
            data[col] = ["\n".join(r) for r in frame["reasons"]]
        elif col in ("metric_type", "suggested_metric_type"):
            data[col] = [type_label(v) for v in frame[col]]
        elif col == "value_issue":
            data[col] = [VALUE_ISSUE_LABELS.get(v, v) for v in frame[col]]
        elif col in (*P_COLUMNS, "risk"):
            data[col] = frame[col].round(3).tolist()
        elif col in FLAGS:
            data[col] = [FLAG_MARK if v else None for v in frame[col].tolist()]
        elif col == "year":
            data[col] = [int(v) if v.isdigit() else v for v in frame[col]]
        elif col in KNOWN_COLUMNS:
            data[col] = frame[col].tolist()
        else:  # an extra column as it came: missing values (None, NaN, NA) become empty cells
            data[col] = frame[col].astype(object).where(frame[col].notna(), None).tolist()
    return data


def _xml_cell_value(value) -> tuple[str, str] | None:
    """(type attribute, inner XML) of one cell, or None for an empty cell. Text is always an
    inline string (so "=78人" stays text), numbers are <v>, NaN/inf are left empty."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        if len(value) > _XLSX_MAX_TEXT:
            value = value[:_XLSX_MAX_TEXT] + "…"
        return ' t="inlineStr"', f'<is><t xml:space="preserve">{html.escape(value, quote=False)}</t></is>'
    if isinstance(value, (bool, np.bool_)):
        return ' t="b"', f"<v>{int(value)}</v>"
    if isinstance(value, (int, np.integer)):
        return "", f"<v>{int(value)}</v>"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else ("", f"<v>{value!r}</v>")
    return _xml_cell_value(clean(text_of(value)))


def _rows_xml(series: list[list], kinds: list[str], n: int, first_row: int, styles: dict[str, str]):
    """Yield the <row> elements of ``n`` data rows (sheet rows ``first_row`` …) in chunks of XML
    text. ``series`` holds each column's values; ``kinds`` each column's cell style: "flag"
    (highlighted when ✓), "wrap", "pct" or "" (none)."""
    letters = [get_column_letter(i) for i in range(1, len(series) + 1)]
    chunk: list[str] = []
    for i in range(n):
        r = i + first_row
        cells = []
        for letter, kind, values in zip(letters, kinds, series):
            value = values[i]
            if value is None or value == "":
                continue
            if value.__class__ is str and kind == "":
                if len(value) > _XLSX_MAX_TEXT:
                    value = value[:_XLSX_MAX_TEXT] + "…"
                text = html.escape(value, quote=False)
                cells.append(f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
                continue
            xml = _xml_cell_value(value)
            if xml is None:
                continue
            style = "" if not kind or (kind == "flag" and value != FLAG_MARK) else styles[kind]
            cells.append(f'<c r="{letter}{r}"{style}{xml[0]}>{xml[1]}</c>')
        chunk.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(chunk) >= 2000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def _splice_rows(package: io.BytesIO, rows_xml: dict, target: Path) -> None:
    """Copy the saved workbook to ``target``, replacing each sheet's marker row with its data rows."""
    markers = {marker.encode(): rows for marker, rows in rows_xml.items()}
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        placed = 0
        for item in src.infolist():
            data = src.read(item.filename)
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            found = [m for m in markers if m + b"<" in data] if item.filename.startswith("xl/worksheets/sheet") else []
            if len(found) != 1:
                dst.writestr(info, data)
                continue
            placed += 1
            at = data.index(found[0] + b"<")
            start, end = data.rindex(b"<row ", 0, at), data.index(b"</row>", at) + len(b"</row>")
            with dst.open(info, "w", force_zip64=True) as out:
                out.write(data[:start])
                for chunk in markers[found[0]]:
                    out.write(chunk.encode("utf-8"))
                out.write(data[end:])
        if placed != len(markers):
            raise RuntimeError(f"scored.xlsx: {placed} of {len(markers)} row markers found")  # a bug, not bad input


def _write_summary_sheet(ws, stats: dict, meta: dict, departments: list[dict], dept_sheets: dict[str, str],
                         listed: int) -> None:
    """The run's figures; the title row is frozen, departments weakest first, the worst marked."""
    widths = [22, 16, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 14]
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    row_no = 0

    def put(values):
        nonlocal row_no
        ws.append(values)
        row_no += 1

    def head(labels):
        put([_cell(ws, label, "bn_head_cn") for label in labels])

    def percent(rate):
        return None if rate is None else _cell(ws, rate, "bn_pct")

    put([_cell(ws, REPORT_TITLE + " · 汇总", "bn_title")])
    model = " ".join(p for p in (meta["model_name"], meta["model_version"]) if p)
    put(["模型", _xlsx_value(ws, model)])
    put(["生成时间", _xlsx_value(ws, meta["created_at"])])
    put(["输入", _xlsx_value(ws, "；".join(meta["inputs"]))])
    put(["无法读取的文件数", len(meta["errors"])])
    put([])
    head(["总览", "数量", "比例"])
    put(["文档数", stats["documents"]])
    put(["预算单位数", stats["departments"]])
    put(["项目数", stats["projects"]])
    put(["指标数（三级指标）", stats["rows"]])
    put(["其中列入“评分结果”工作表", int(listed)])
    put(["有问题的指标", stats["flagged_rows"], percent(stats["flagged_rate"])])
    if stats.get("extract_warnings") is not None:
        put(["有提取警告的指标", stats["extract_warnings"]])
    put([])
    head(["问题标记", "标记名", "指标数", "比例"])
    for flag, item in stats["flags"].items():
        put([item["label"], flag, item["count"], percent(item["rate"])])
    put([])
    head(["指标值类型", "代码", "填写类型", "建议类型"])
    for code, count in stats["metric_types"].items():
        put([type_label(code), code, count, stats["suggested_metric_types"].get(code, 0)])
    put([])
    head(["风险分区间", "指标数", "比例"])
    for item in stats["risk_histogram"]:
        put([item["label"], item["count"], percent(item["rate"])])
    put([])

    worst = worst_department(stats)
    head(
        ["预算单位（问题比例从高到低）", "文档数", "项目数", "指标数", "有问题指标", "比例"]
        + [FLAG_LABELS[f] for f in FLAGS]
        + [FLAG_LABELS[f] + "比例" for f in FLAGS]
        + ["平均风险", "最高风险", "备注"]
    )
    first = row_no + 1
    for dept in departments:
        sheet = dept_sheets[dept["department"]]
        link = "'" + sheet.replace("'", "''") + "'!A1"
        put(
            [
                _cell(ws, dept["department"], "bn_link", link),
                dept.get("documents"),
                dept["projects"],
                dept["rows"],
                dept["flagged_rows"],
                percent(dept["flagged_rate"]),
            ]
            + [dept[f] for f in FLAGS]
            + [percent(dept[f"{f}_rate"]) for f in FLAGS]
            + [percent(dept.get("risk_mean")), percent(dept.get("risk_max"))]
            + ([_cell(ws, "最弱：问题比例最高", "bn_flag")] if dept["department"] == worst else [])
        )
    if departments:
        for col in ["F", "K", "L", "M", "N"]:
            ws.conditional_formatting.add(f"{col}{first}:{col}{row_no}", _rate_scale())
    put([])
    head(["无法读取的文件", "原因", "位置"])
    for err in meta["errors"]:
        put([_xlsx_value(ws, err["path"]), _xlsx_value(ws, err["reason"]), _xlsx_value(ws, err["location"])])
    if not meta["errors"]:
        put(["（无）"])
    put([])
    head(["输入（文件或文件夹）"])
    for path in meta["inputs"]:
        put([_xlsx_value(ws, path)])


def _write_department_sheet(ws, dept: dict, projects: list[dict], marker: str) -> Iterator[str]:
    """Heading, column layout and colour rules of a department's sheet; returns the project rows'
    XML (``projects`` weakest first, as in the report)."""
    labels = ["项目编码", "项目名称", "年度", "预算数（万元）", "指标数", "有问题指标", "比例"]
    for f in FLAGS:
        labels += [FLAG_LABELS[f], FLAG_LABELS[f] + "比例"]
    labels += ["平均风险", "最高风险", "来源文件"]
    widths = [20, 30, 7, 12, 8, 10, 8] + [9] * (2 * len(FLAGS)) + [9, 9, 30]
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    header_row, last = 4, 4 + len(projects)
    ws.freeze_panes = "C5"
    ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(labels))}{last}"
    rate_cols = [7] + [9 + 2 * i for i in range(len(FLAGS))]
    if projects:
        for idx in rate_cols:
            col = get_column_letter(idx)
            ws.conditional_formatting.add(f"{col}{header_row + 1}:{col}{last}", _rate_scale())
    ws.append(
        [_cell(ws, dept["department"], "bn_title"), None, _cell(ws, "← 返回汇总", "bn_link", f"'{SUMMARY_SHEET}'!A1")]
    )
    ws.append(
        [
            f"项目 {dept['projects']} 个，指标 {dept['rows']} 条，有问题 {dept['flagged_rows']} 条"
            f"（{pct(dept['flagged_rate'])}）；" + "，".join(f"{FLAG_LABELS[f]} {dept[f]}" for f in FLAGS)
            + "。项目按有问题指标的比例、平均风险从高到低排列。"
        ]
    )
    ws.append([])
    ws.append([_cell(ws, label, "bn_head_cn") for label in labels])
    ws.append([marker])  # the project rows, as sheet XML (a year's run lists 100,000s of projects)
    series = [
        [p.get("project_code") or None for p in projects],
        [p["project_name"] for p in projects],
        [int(y) if (y := text_of(p.get("year"))).isdigit() else y for p in projects],
        [p.get("project_budget") for p in projects],
        [p["rows"] for p in projects],
        [p["flagged_rows"] for p in projects],
        [p["flagged_rate"] for p in projects],
    ]
    kinds = ["", "", "", "", "", "", "pct"]
    for f in FLAGS:
        series += [[p[f] for p in projects], [p[f"{f}_rate"] for p in projects]]
        kinds += ["", "pct"]
    series += [[p.get("risk_mean") for p in projects], [p.get("risk_max") for p in projects],
               [p.get("source_path") for p in projects]]
    kinds += ["pct", "pct", ""]
    series = [[clean(v) if v.__class__ is str else v for v in values] for values in series]
    return _rows_xml(series, kinds, len(projects), header_row + 1, _style_ids(ws))


def temp_name(path: Path) -> Path:
    """A sibling temp file (same folder, so the final rename is atomic; default permissions)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def atomic_write_text(path: Path, text: str) -> None:
    tmp = temp_name(path)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
