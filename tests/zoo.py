"""Layout zoo: real indicator rows rendered into many table layouts, to check extraction round trips.

API (plain functions, usable from any test or script; nothing here touches the network):

- ``source_projects()`` → dict source → (department, [Project]): real projects from
  data/annotations/gold_localities.csv and the bundled samples.
- ``layout_strategy(formats)`` → a hypothesis strategy of ``Layout`` (for ``@given``);
  ``layout_specs(n, seed, formats)`` → ``n`` layouts drawn with ``random.Random(seed)`` through the
  same builder (for scripts, and for other formats' tests such as PDF); ``added=True`` also varies
  the dimensions added later (序号 columns, header cells broken over lines).
- ``Layout``: what is varied (format, header synonyms, column order, one-value / split op-number-unit /
  指标方向 words / 中期+年度 / 绩效自评表 columns, merged / repeated / blank-carried level cells,
  where the project name and department are written, one table per project vs a flat list,
  xlsx sheet per project, text-dump blank lines and multi-paragraph cells).
- ``document(layout)`` → the format-neutral model: a list of ``Para(text, kind)``, ``Grid(rows, merges)``
  and ``Sheet(title)`` blocks (merges are (row, col, last_row, last_col), the spanned cells hold "").
- ``render(layout, folder)`` → the file written for ``layout.format`` (.txt/.docx/.xlsx/.html);
  ``render_docx(layout, path)`` writes a .docx whatever ``layout.format`` says (for docx→PDF).
- ``expected_rows(layout)`` → the rows extraction must give, as dicts of ``FIELDS``.
- ``mismatches(frame, layout)`` → human-readable differences between an extracted frame and
  ``expected_rows`` (empty when the round trip is exact); fields compared after NFKC and with all
  whitespace removed.
"""

from __future__ import annotations

import csv
import html
import random
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from budgetnlp._text import squash

from .helpers import ROOT, SAMPLE_FILES, sample_document

GOLD = ROOT / "data" / "annotations" / "gold_localities.csv"
FIELDS = ("project_name", "department", "level1", "level2", "name", "value")
FORMATS = ("text", "docx", "xlsx", "html")


@dataclass(frozen=True)
class Row:
    level1: str
    level2: str
    name: str
    value: str
    description: str = ""
    basis: str = ""


@dataclass(frozen=True)
class Project:
    name: str
    code: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Para:
    text: str
    kind: str = "plain"  # plain | heading | caption


@dataclass
class Grid:
    rows: list[list[str]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    caption: str = ""  # html <caption>; other formats render it as a caption paragraph


@dataclass(frozen=True)
class Sheet:
    title: str


# ---------------------------------------------------------------- real rows

_PLAIN_ORG = re.compile(r"^[^()（）:：,，。;；\s]{3,30}$")
_SPLIT_VALUE = re.compile(r"^(≥|≤|=|>|<|≧|≦|>=|<=|＞|＜|＝)?\s*(\d+(?:\.\d+)?)\s*([^\d\s.]{0,6})$")
_NUMERIC_NAME = re.compile(r"^[\d.%\s]+$")


@lru_cache(maxsize=1)
def source_projects() -> dict[str, tuple[str, tuple[Project, ...]]]:
    """Real projects by source: gold locality sources (rows with a plain department, project,
    levels, name and value) and the three samples."""
    out: dict[str, tuple[str, tuple[Project, ...]]] = {}
    if GOLD.exists():
        grouped: dict[str, dict[str, list[Row]]] = {}
        departments: dict[str, str] = {}
        with GOLD.open(encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                cells = [record[k].strip() for k in ("project", "level1", "level2", "name", "value", "department")]
                if not all(cells) or not _PLAIN_ORG.match(cells[5]) or cells[0].startswith(("(", "（")):
                    continue
                if _NUMERIC_NAME.match(cells[3]) or "\n" in "".join(cells):
                    continue
                source = "gold:" + record["source_id"]
                departments[source] = cells[5]
                grouped.setdefault(source, {}).setdefault(cells[0], []).append(
                    Row(cells[1], cells[2], cells[3], cells[4], record["description"].strip(), record["basis"].strip())
                )
        for source, projects in grouped.items():
            out[source] = (departments[source], tuple(Project(n, "", tuple(r)) for n, r in projects.items()))
    for key, file_name in SAMPLE_FILES.items():
        sample = sample_document(file_name, 12)
        projects = tuple(
            Project(
                p["name"],
                p["code"],
                tuple(Row(r["level1"], r["level2"], r["name"], r["value"], r["description"], r["basis"]) for r in p["rows"]),
            )
            for p in sample["projects"]
            if all(r["level1"] and r["level2"] and r["name"] and r["value"] for r in p["rows"])
        )
        out["sample:" + key] = (sample["department"], projects)
    return out


# ---------------------------------------------------------------- layouts

HEADER_SYNONYMS = {
    "level1": ("一级指标",),
    "level2": ("二级指标",),
    "name": ("三级指标", "指标名称", "三级指标名称", "绩效指标"),
    "value": ("指标值", "年度指标值", "目标值", "全年指标值", "当年度指标值", "预期指标值", "全年(程)指标值", "绩效目标值"),
    "description": ("指标解释", "指标说明", "绩效指标描述", "指标内容"),
    "basis": ("指标值确定依据", "确定依据", "指标值设定依据"),
    "op": ("计算符号", "符号", "指标性质"),
    "direction": ("指标方向",),
    "unit": ("计量单位", "度量单位", "单位"),
    "nature": ("指标性质",),
    "period": ("实施周期指标值", "中期指标值"),
    "score": ("分值", "权重"),
}
VALUE_STYLES = ("one", "split", "words", "period", "self_eval")
LEVEL_STYLES = ("merged", "repeated", "blank")
CONTEXTS = ("inside", "context_table", "heading", "numbered", "caption", "paragraph", "sheet", "flat")
DEPARTMENT_PLACES = ("document", "label_row", "paragraph")
DEPARTMENT_LABELS = ("预算单位", "主管部门", "实施单位", "单位名称")
_OP_WORDS = {"≥": "大于等于", "≧": "大于等于", ">=": "大于等于", "≤": "小于等于", "≦": "小于等于", "<=": "小于等于",
             "=": "等于", "＝": "等于", ">": "大于", "＞": "大于", "<": "小于", "＜": "小于"}
_SHEET_BAD = re.compile(r"[\[\]:*?/\\：]")


@dataclass(frozen=True)
class Layout:
    format: str
    source: str
    department: str
    projects: tuple[Project, ...]
    columns: tuple[str, ...]  # field order of the indicator table (see HEADER_SYNONYMS)
    headers: tuple[tuple[str, str], ...]  # field → header text
    value_style: str = "one"
    level_style: str = "merged"
    context: str = "inside"
    department_place: str = "document"
    department_label: str = "预算单位"
    score_suffix: bool = False  # level-1 cells written "产出指标(50分)"
    blank_lines: int = 1  # text dumps: blank lines between rows
    multi_paragraph: bool = False  # some cells split over two paragraphs
    #: the header printed out of line with its rows: k > 0 puts k extra cells before the header
    #: cells, k < 0 puts -k serial-number cells before each indicator row (never drawn: set it
    #: with dataclasses.replace to test the self-checks)
    header_shift: int = 0
    header_breaks: bool = False  # header cells broken over two lines ("三级\n指标"), as in narrow columns

    def header(self, name: str) -> str:
        return dict(self.headers)[name]


def _build(choose, formats=FORMATS, choose_later=None) -> Layout:
    """One layout from a chooser ``choose(options) -> option`` (hypothesis or random);
    ``choose_later`` (default ``choose``) draws the dimensions added later, from their own
    random stream in ``layout_specs`` so that the layouts other tests were seeded on stay as they were."""
    sources = source_projects()
    fmt = choose(tuple(formats))
    source = choose(tuple(sorted(sources)))
    department, pool = sources[source]
    count = choose((1, 1, 2, 3)) if len(pool) > 1 else 1
    start = choose(tuple(range(len(pool))))
    projects = []
    for i in range(min(count, len(pool))):
        project = pool[(start + i) % len(pool)]
        keep = choose((2, 3, 4, 6))
        if any(p.name == project.name for p in projects):
            continue  # two projects of one name differ by their code only, which most layouts omit
        projects.append(replace(project, rows=project.rows[:keep]))
    value_style = choose(VALUE_STYLES)
    contexts = ["inside", "context_table", "heading", "numbered", "caption", "paragraph"]
    if fmt == "xlsx":
        contexts += ["flat"]
        if all(len(p.name) <= 31 and not _SHEET_BAD.search(p.name) for p in projects):
            contexts += ["sheet"]
    if fmt == "html":
        contexts += ["flat"]
    context = choose(tuple(contexts))
    if context == "flat":
        value_style = value_style if value_style != "self_eval" else "one"
    places = ("document", "label_row", "paragraph") if context not in ("flat",) else ("document", "label_row")
    department_place = choose(places)
    columns: list[str] = ["level1", "level2", "name"]
    value_cols = {
        "one": ["value"],
        "split": ["op", "value", "unit"],
        "words": ["direction", "value", "unit"],
        "period": ["period", "value"],
        "self_eval": ["value", "actual", "score", "points", "reason"],
    }[value_style]
    if value_style == "words" and choose((False, True)):
        value_cols = ["nature", *value_cols]
    rest: list[list[str]] = [value_cols]
    if value_style != "self_eval":
        if choose((True, False)):
            rest.append(["description"])
        if choose((True, False)):
            rest.append(["basis"])
        if choose((False, False, True)):
            rest.append(["score"])
    order = list(range(len(rest)))
    for i in range(len(order) - 1, 0, -1):  # a chosen permutation of the column groups
        j = choose(tuple(range(i + 1)))
        order[i], order[j] = order[j], order[i]
    for i in order:
        columns += rest[i]
    headers = {}
    for name in columns:
        options = HEADER_SYNONYMS.get(name)
        if name == "op":
            options = ("计算符号", "符号", "指标性质")
        if name == "value" and value_style == "self_eval":
            options = ("年度指标值", "全年指标值", "当年度指标值")
        if name == "value" and value_style == "period":
            options = ("年度指标值", "当年度指标值")
        headers[name] = choose(options) if options else {
            "actual": "实际完成值", "points": "得分", "reason": "偏差原因分析及改进措施"}[name]
        if name == "score" and value_style == "self_eval":
            headers[name] = "分值"
    if value_style == "split" and headers["value"] in ("目标值",):
        headers["value"] = "指标值"
    layout = Layout(
        format=fmt,
        source=source,
        department=department,
        projects=tuple(projects),
        columns=tuple(columns),
        headers=tuple(headers.items()),
        value_style=value_style,
        level_style=choose(LEVEL_STYLES),
        context=context,
        department_place=department_place,
        department_label=choose(DEPARTMENT_LABELS),
        score_suffix=choose((False, False, True)),
        blank_lines=choose((1, 1, 2, 3)) if fmt == "text" else 1,
        multi_paragraph=choose((False, True)),
    )
    if choose_later is False:
        return layout
    later = choose_later or choose
    if later((False, False, True)):
        layout = replace(layout, columns=("serial", *layout.columns), headers=(*layout.headers, ("serial", later(("序号", "编号")))))
    return replace(layout, header_breaks=later((False, True)))


def layout_strategy(formats=FORMATS):
    """A hypothesis strategy of layouts (the same builder as ``layout_specs``)."""
    from hypothesis import strategies as st

    @st.composite
    def layouts(draw):
        return _build(lambda options: draw(st.sampled_from(options)), formats)

    return layouts()


def layout_specs(n: int, seed: int = 0, formats=FORMATS, added: bool = False) -> list[Layout]:
    """``n`` layouts, reproducible from ``seed``. ``added`` also varies the dimensions added after
    the first version (a 序号 column, header cells broken over lines), from their own random stream:
    off by default, so that the layouts other tests were seeded on stay exactly as they were."""
    rng, later = random.Random(seed), random.Random(f"{seed}-later")
    return [_build(rng.choice, formats, later.choice if added else False) for _ in range(n)]


# ---------------------------------------------------------------- expected rows


def _level1_text(layout: Layout, text: str) -> str:
    if layout.score_suffix and "分" not in text:
        return f"{text}(50分)"
    return text


def _value_parts(value: str) -> tuple[str, str, str]:
    match = _SPLIT_VALUE.match(value)
    if not match:
        return "", value, ""
    return match.group(1) or "", match.group(2), match.group(3)


def _written_value(layout: Layout, value: str) -> str:
    """The value as the row table must give it (split columns concatenated as written)."""
    if layout.value_style not in ("split", "words"):
        return value
    op, number, unit = _value_parts(value)
    if layout.value_style == "words":
        op = _OP_WORDS.get(op, op)
    return op + number + unit


def expected_rows(layout: Layout) -> list[dict]:
    """The rows ``layout``'s document must give, in order."""
    out = []
    for project in layout.projects:
        for row in project.rows:
            out.append(
                {
                    "project_name": project.name,
                    "department": layout.department,
                    "level1": _level1_text(layout, row.level1),
                    "level2": row.level2,
                    "name": row.name,
                    "value": _written_value(layout, row.value),
                }
            )
    return out


def mismatches(frame, layout: Layout) -> list[str]:
    """Differences between extracted rows and ``expected_rows(layout)`` ([] when exact)."""
    expected = expected_rows(layout)
    got = [{k: squash(record.get(k, "")) for k in FIELDS} for record in frame.to_dict("records")]
    want = [{k: squash(v) for k, v in row.items()} for row in expected]
    problems = []
    if len(got) != len(want):
        problems.append(f"{len(got)} rows found, {len(want)} expected")
    for i, (g, w) in enumerate(zip(got, want)):
        for k in FIELDS:
            if g[k] != w[k]:
                problems.append(f"row {i}: {k} = {g[k]!r}, expected {w[k]!r}")
    return problems


def field_counts(frame, layout: Layout) -> tuple[int, int]:
    """(fields equal, fields expected) over the expected rows, matched by position."""
    want = [{k: squash(v) for k, v in row.items()} for row in expected_rows(layout)]
    got = [{k: squash(record.get(k, "")) for k in FIELDS} for record in frame.to_dict("records")]
    equal = sum(g[k] == w[k] for g, w in zip(got, want) for k in FIELDS)
    return equal, len(want) * len(FIELDS)


# ---------------------------------------------------------------- the document model


def _cell_value(layout: Layout, name: str, row: Row, index: int) -> str:
    op, number, unit = _value_parts(row.value)
    if name == "value":
        return number if layout.value_style in ("split", "words") else row.value
    if name == "op":
        return op
    if name == "direction":
        return _OP_WORDS.get(op, op)
    if name == "unit":
        return unit
    if name == "nature":
        return {"大于等于": "正向", "大于": "正向", "小于等于": "反向", "小于": "反向"}.get(_OP_WORDS.get(op, ""), "")
    if name == "period":
        return f"{number}0{unit}" if layout.value_style == "period" and number != row.value else f"{row.value}（累计）"
    if name == "name":
        return row.name
    if name == "description":
        return row.description
    if name == "basis":
        return row.basis
    if name == "score":
        return str(5 + index % 3)
    if name == "serial":
        return str(index + 1)
    if name == "actual":
        return row.value.replace("≥", "").replace("≤", "") or "完成"
    if name == "points":
        return str(5 + index % 3)
    if name == "reason":
        return "无" if index % 2 else ""
    raise KeyError(name)


def _split_paragraphs(text: str) -> str:
    """A cell written as two paragraphs (at a CJK character boundary near the middle)."""
    if len(text) < 6 or not re.search(r"[\u4e00-\u9fff]", text[len(text) // 2]):
        return text
    middle = len(text) // 2
    return text[:middle] + "\n" + text[middle:]


def _indicator_grid(layout: Layout, project: Project, top: list[list[str]], flat_columns=()) -> Grid:
    """Context rows ``top``, the header, the indicator rows (levels merged/repeated/blank)."""
    width = len(flat_columns) + len(layout.columns)
    rows = [r + [""] * (width - len(r)) for r in top]
    merges: list[tuple[int, int, int, int]] = []
    shift = layout.header_shift
    lead = ["序号", "指标类型", "栏目"][: max(shift, 0)]
    labels = [layout.header(c) for c in layout.columns]
    if layout.header_breaks:  # narrow columns: "三级\n指标"
        labels = [label[:2] + "\n" + label[2:] if len(label) >= 4 else label for label in labels]
    rows.append(lead + [label for label, _ in flat_columns] + labels)
    start = len(rows)
    base = len(flat_columns)
    level_cols = {name: base + layout.columns.index(name) for name in ("level1", "level2")}
    previous: tuple[str, str] | None = None
    runs: dict[str, list[int]] = {"level1": [], "level2": []}
    for i, row in enumerate(project.rows):
        cells = [value for _, value in flat_columns]
        for name in layout.columns:
            if name in ("level1", "level2"):
                cells.append("")
                continue
            text = _cell_value(layout, name, row, i)
            if layout.multi_paragraph and name in ("name", "description") and i % 2 == 0:
                text = _split_paragraphs(text)
            cells.append(text)
        level1 = _level1_text(layout, row.level1)
        new1 = previous is None or previous[0] != level1
        new2 = new1 or previous[1] != row.level2
        if layout.level_style == "repeated" or new1:
            cells[level_cols["level1"]] = level1
        if layout.level_style == "repeated" or new2:
            cells[level_cols["level2"]] = row.level2
        if new1:
            runs["level1"].append(start + i)
        if new2:
            runs["level2"].append(start + i)
        previous = (level1, row.level2)
        rows.append([str(i + 1)] * max(-shift, 0) + cells)
    if layout.level_style == "merged":
        end = start + len(project.rows)
        for name, starts in runs.items():
            col = level_cols[name] + max(-shift, 0)
            for a, b in zip(starts, [*starts[1:], end]):
                if b - a > 1:
                    merges.append((a, col, b - 1, col))
    width = max(len(r) for r in rows)
    return Grid([r + [""] * (width - len(r)) for r in rows], merges)


def _department_row(layout: Layout) -> list[str]:
    return [layout.department_label, layout.department]


def _self_eval_rows(layout: Layout, project: Project, with_name: bool) -> list[list[str]]:
    rows = []
    if with_name:
        rows.append(["项目名称", project.name])
    if layout.department_place == "label_row":
        rows.append(_department_row(layout))
    rows += [
        ["项目资金（万元）", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
        ["年度资金总额", "100", "98.5", "10", "98.5%", "9.85"],
        ["年度总体目标", "预期目标", "实际完成情况"],
        ["", "按计划完成项目任务", "已按计划完成"],
    ]
    return rows


def document(layout: Layout) -> list:
    """The layout as format-neutral blocks (see the module docstring)."""
    blocks: list = [Para(f"{layout.department}2024年部门预算项目绩效目标表", "heading")]
    if layout.department_place == "document":
        blocks.append(Para(f"{layout.department_label}：{layout.department}"))
    if layout.context == "flat":
        flat = [("项目名称", "")]
        if layout.department_place == "label_row":
            flat.append(("单位名称", ""))
        grids = []
        for project in layout.projects:
            values = [project.name] + ([layout.department] if layout.department_place == "label_row" else [])
            grids.append(_indicator_grid(layout, project, [], [(l, v) for (l, _), v in zip(flat, values)]))
        merged = Grid(grids[0].rows[:1], [])
        for grid in grids:
            offset = len(merged.rows) - 1
            merged.rows += grid.rows[1:]
            merged.merges += [(a + offset, b, c + offset, d) for a, b, c, d in grid.merges]
        blocks.append(merged)
        return blocks
    for number, project in enumerate(layout.projects, 1):
        if layout.context == "sheet":
            blocks.append(Sheet(project.name))
        if layout.department_place == "paragraph":
            blocks.append(Para(f"{layout.department_label}：{layout.department}"))
        inside = layout.context == "inside"
        caption = ""
        if layout.context == "heading":
            title = f"{number}、{project.name}" + ("" if project.name.endswith("项目") else "绩效目标表")
            blocks.append(Para(title, "heading"))
        elif layout.context == "numbered":
            blocks.append(Para(f"（{'一二三四五六七八九'[number - 1]}）{project.name}", "heading"))
        elif layout.context == "paragraph":
            blocks.append(Para(f"项目名称：{project.name}"))
        elif layout.context == "caption":
            caption = project.name
        top: list[list[str]] = []
        if layout.value_style == "self_eval":
            top = _self_eval_rows(layout, project, inside)
        else:
            if inside:
                top.append(["项目名称", project.name] + (["项目编码", project.code] if project.code else []))
            if layout.department_place == "label_row":
                top.append(_department_row(layout))
        if layout.context == "context_table":
            context_rows = [["项目名称", project.name] + (["项目编码", project.code] if project.code else [])]
            if layout.department_place == "label_row" and layout.value_style != "self_eval":
                context_rows.append(_department_row(layout))
                top = top[1:] if top and top[0] == _department_row(layout) else top
            blocks.append(Grid([r + [""] * (4 - len(r)) for r in context_rows]))
        grid = _indicator_grid(layout, project, top)
        grid.caption = caption
        blocks.append(grid)
    return blocks


# ---------------------------------------------------------------- renderers


def render(layout: Layout, folder: Path, stem: str = "zoo") -> Path:
    """Write ``layout`` as a file of its format under ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"text": ".txt", "docx": ".docx", "xlsx": ".xlsx", "html": ".html"}[layout.format]
    path = folder / f"{stem}{suffix}"
    {"text": render_text, "docx": render_docx, "xlsx": render_xlsx, "html": render_html}[layout.format](layout, path)
    return path


def _cell_lines_text(text: str) -> str:
    """A dump cell: the first line after a tab, later paragraphs as plain lines after a blank line."""
    lines = [line for line in text.split("\n") if line.strip()] or [""]
    return "\t" + "\n\n".join(lines)


def render_text(layout: Layout, path: Path) -> Path:
    """A docx-to-text dump: each cell a tab line, rows separated by ``blank_lines`` blank lines;
    a merged cell is written once (its continuations are empty cells); spanned columns are left out."""
    parts: list[str] = []
    for block in document(layout):
        if isinstance(block, Para):
            parts.append(block.text + "\n\n")
        elif isinstance(block, Sheet):
            continue
        else:
            if block.caption:
                parts.append(block.caption + "\n\n")
            name_header = squash(layout.header("name"))
            header = next((i for i, row in enumerate(block.rows) if name_header in map(squash, row)), len(block.rows))
            rows = []
            for r, row in enumerate(block.rows):
                cells = row
                if r < header:  # context rows: spanned cells are not written
                    cells = row[: max((i for i, c in enumerate(row) if c.strip()), default=0) + 1]
                rows.append("\n".join(_cell_lines_text(c) for c in cells))
            parts.append(("\n" * (layout.blank_lines + 1)).join(rows) + "\n\n\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def render_html(layout: Layout, path: Path) -> Path:
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"]
    for block in document(layout):
        if isinstance(block, Para):
            tag = "h3" if block.kind == "heading" else "p"
            out.append(f"<{tag}>{html.escape(block.text)}</{tag}>")
        elif isinstance(block, Sheet):
            continue
        else:
            out.append("<table border='1'>")
            if block.caption:
                out.append(f"<caption>{html.escape(block.caption)}</caption>")
            spans = {(a, b): c - a + 1 for a, b, c, _ in block.merges}
            hidden = {(r, b) for a, b, c, _ in block.merges for r in range(a + 1, c + 1)}
            for r, row in enumerate(block.rows):
                cells = []
                for c, text in enumerate(row):
                    if (r, c) in hidden:
                        continue
                    span = f" rowspan='{spans[(r, c)]}'" if (r, c) in spans else ""
                    body = "<br>".join(html.escape(line) for line in text.split("\n"))
                    cells.append(f"<td{span}>{body}</td>")
                out.append("<tr>" + "".join(cells) + "</tr>")
            out.append("</table>")
    out.append("</body></html>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def render_docx(layout: Layout, path: Path) -> Path:
    """A Word document (headings, caption paragraphs, tables with vertically merged cells)."""
    import docx

    document_ = docx.Document()
    for block in document(layout):
        if isinstance(block, Para):
            if block.kind == "heading":
                document_.add_heading(block.text, level=2)
            else:
                document_.add_paragraph(block.text)
        elif isinstance(block, Sheet):
            continue
        else:
            if block.caption:
                document_.add_paragraph(block.caption, style="Caption")
            width = max(len(r) for r in block.rows)
            table = document_.add_table(rows=len(block.rows), cols=width)
            for r, row in enumerate(block.rows):
                for c, text in enumerate(row):
                    lines = text.split("\n")
                    cell = table.cell(r, c)
                    cell.paragraphs[0].text = lines[0]
                    for line in lines[1:]:
                        cell.add_paragraph(line)
            for a, b, c, d in block.merges:
                table.cell(a, b).merge(table.cell(c, d))
    document_.save(str(path))
    return path


def render_xlsx(layout: Layout, path: Path) -> Path:
    """A workbook: one sheet, or one per project (sheet context); tables separated by an empty
    row; a caption is a title row merged across the table."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    row_no = 1
    used_sheet = False
    for block in document(layout):
        if isinstance(block, Sheet):
            if used_sheet:
                sheet = workbook.create_sheet(block.title)
                row_no = 1
            else:  # the first project's sheet also holds the document's title lines
                sheet.title = block.title
            used_sheet = True
        elif isinstance(block, Para):
            sheet.cell(row_no, 1, block.text)
            row_no += 1
        else:
            width = max(len(r) for r in block.rows)
            if block.caption:
                sheet.cell(row_no, 1, block.caption)
                sheet.merge_cells(start_row=row_no, start_column=1, end_row=row_no, end_column=width)
                row_no += 1
            for r, row in enumerate(block.rows):
                for c, text in enumerate(row):
                    if text:  # as text, also "=5人" (openpyxl would store it as a formula)
                        cell = sheet.cell(row_no + r, c + 1, text)
                        cell.data_type = "s"
            for a, b, c, d in block.merges:
                sheet.merge_cells(start_row=row_no + a, start_column=b + 1, end_row=row_no + c, end_column=d + 1)
            row_no += len(block.rows) + 1
    workbook.save(str(path))
    return path
