"""PDF disclosures built with fpdf2 from the samples' rows: ruled tables, merged level cells,
page numbers in the footer, tables continued over pages (see test_extract_pdf.py)."""

from __future__ import annotations

from pathlib import Path

import fpdf  # fpdf2, from the [test] extra

HEADER = ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"]
WIDTHS = (22, 26, 34, 50, 30, 28)


def new_pdf(font: Path, page_numbers: bool = True):
    class Document(fpdf.FPDF):
        def footer(self) -> None:
            if page_numbers:
                self.set_y(-12)
                self.set_font("cjk", size=8)
                self.cell(0, 5, f"- {self.page_no()} -", align="C")

    pdf = Document(format="A4")
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
