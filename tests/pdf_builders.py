"""PDF disclosures built with fpdf2 from the samples' rows: ruled tables, merged level cells,
page numbers in the footer, tables continued over pages (see test_extract_pdf.py)."""

from __future__ import annotations

from pathlib import Path

import fpdf  # fpdf2, from the [test] extra

from .helpers import SAMPLE_FILES, SAMPLES

HEADER = ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"]
WIDTHS = (22, 26, 34, 50, 30, 28)


def samples_text() -> str:
    """All the samples' text: what a test font needs to cover for PDFs of the samples' rows."""
    return "".join((SAMPLES / name).read_text(encoding="utf-8") for name in SAMPLE_FILES.values())


def new_pdf(font: Path, page_numbers: bool = True, page_format="A4"):
    class Document(fpdf.FPDF):
        def footer(self) -> None:
            if page_numbers:
                self.set_y(-12)
                self.set_font("cjk", size=8)
                self.cell(0, 5, f"- {self.page_no()} -", align="C")

    pdf = Document(format=page_format)
    pdf.add_font("cjk", "", str(font))
    pdf.set_font("cjk", size=9)
    pdf.set_auto_page_break(True, margin=18)
    return pdf


def runs(rows: list[dict], key) -> dict[int, int]:
    """Row index → length of the run of equal, non-empty keys starting there."""
    out, i = {}, 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and key(rows[i]) and key(rows[j + 1]) == key(rows[i]):
            j += 1
        out[i] = j - i + 1
        i = j + 1
    return out


def project_table(pdf, project: dict, repeat_header: bool = False) -> None:
    """The project's 绩效目标表 as one ruled table, level1/level2 merged down (rowspan).

    With ``repeat_header`` the indicator part is a table of its own right below, whose
    header row fpdf2 repeats at the top of every page it continues on.
    """
    style = dict(col_widths=WIDTHS, text_align="LEFT", line_height=4.5, padding=1)
    with pdf.table(first_row_as_headings=False, **style) as table:
        row = table.row()
        row.cell("项目编码")
        row.cell(project["code"])
        row.cell("项目名称")
        row.cell(project["name"], colspan=3)
        row = table.row()
        row.cell("预算规模及资金用途", rowspan=2)
        for text in ("预算数", f"{project['budget']:.2f}", "其中：财政资金", f"{project['budget']:.2f}", ""):
            row.cell(text)
        table.row().cell(project["fund_use"], colspan=5)
        row = table.row()
        row.cell("绩效目标")
        row.cell(project["goals"], colspan=5)
        if not repeat_header:
            indicator_rows(table, project, header=True)
    if repeat_header:
        plain = fpdf.fonts.FontFace(emphasis="")
        with pdf.table(first_row_as_headings=True, repeat_headings=1, headings_style=plain, **style) as table:
            indicator_rows(table, project, header=True)


def indicator_rows(table, project: dict, header: bool) -> None:
    if header:
        row = table.row()
        for text in HEADER:
            row.cell(text)
    rows = project["rows"]
    level1 = runs(rows, lambda r: r["level1"])
    level2 = runs(rows, lambda r: (r["level1"], r["level2"]) if r["level2"] else None)
    for i, source in enumerate(rows):
        row = table.row()
        if i in level1:
            row.cell(source["level1"], rowspan=level1[i])
        if i in level2:
            row.cell(source["level2"], rowspan=level2[i])
        for key in ("name", "description", "value", "basis"):
            row.cell(source[key])


def build_pdf(doc: dict, path: Path, font: Path, **options) -> Path:
    pdf = new_pdf(font)
    pdf.add_page()
    pdf.set_font(size=14)
    pdf.multi_cell(0, 8, f"{doc['department']}{doc['year']}年部门预算项目绩效目标表", align="C")
    pdf.ln(3)
    for number, project in enumerate(doc["projects"], 1):
        pdf.set_font(size=11)
        pdf.multi_cell(0, 7, f"{number}、{project['name']}绩效目标表", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(size=9)
        pdf.cell(0, 5, "单位：万元", align="R", new_x="LMARGIN", new_y="NEXT")
        project_table(pdf, project, **options)
        pdf.ln(6)
    pdf.output(str(path))
    return path


def layouts_text(layouts) -> str:
    """Every text the zoo's ``layouts`` print (for a test font that covers them)."""
    from .zoo import Grid, Para, document

    parts = []
    for layout in layouts:
        for block in document(layout):
            if isinstance(block, Para):
                parts.append(block.text)
            elif isinstance(block, Grid):
                parts += [block.caption, *(cell for row in block.rows for cell in row)]
    return "".join(parts)


def render_pdf(layout, path: Path, font: Path, page_format="A4") -> Path:
    """A layout of the zoo (tests/zoo.py) as a PDF drawn directly: its paragraphs as lines, its
    grids as ruled tables (merged cells spanning rows and columns), page numbers in the footer.
    A small ``page_format`` (fpdf2's: a name or (width, height) in mm) wraps cells more and runs
    tables over pages."""
    from .zoo import Grid, Para, document

    pdf = new_pdf(font, page_format=page_format)
    pdf.add_page()
    for block in document(layout):
        if isinstance(block, Para):
            pdf.set_font(size=11 if block.kind == "heading" else 9)
            pdf.multi_cell(0, 6, block.text, new_x="LMARGIN", new_y="NEXT")
        elif isinstance(block, Grid):
            pdf.set_font(size=9)
            if block.caption:
                pdf.multi_cell(0, 6, block.caption, align="C", new_x="LMARGIN", new_y="NEXT")
            _grid_table(pdf, block)
            pdf.ln(4)
    pdf.output(str(path))
    return path


def _grid_table(pdf, grid) -> None:
    width = max(len(row) for row in grid.rows)
    spans = {(a, b): (c - a + 1, d - b + 1) for a, b, c, d in grid.merges}
    covered = {(r, col) for a, b, c, d in grid.merges for r in range(a, c + 1) for col in range(b, d + 1)}
    with pdf.table(col_widths=(1,) * width, first_row_as_headings=False, text_align="LEFT", line_height=4.5,
                   padding=1) as table:
        for r, cells in enumerate(grid.rows):
            row = table.row()
            for c, text in enumerate(cells + [""] * (width - len(cells))):
                if (r, c) in spans:
                    rowspan, colspan = spans[(r, c)]
                    row.cell(text, rowspan=rowspan, colspan=colspan)
                elif (r, c) not in covered:
                    row.cell(text)
