"""report.py: summary figures, scored.xlsx and the self-contained report.html (also in a real browser)."""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape as html_escape
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import extract_file
from budgetnlp.normalize import parse_value
from budgetnlp.report import (
    FLAG_LABELS,
    SUMMARY_COLUMNS,
    project_anchor,
    render_html,
    summarize,
    write_reports,
    write_xlsx,
)
from budgetnlp.report import charts
from budgetnlp.report.figures import local_time, weakest_first
from budgetnlp.report.reasons import compact, split_shared
from budgetnlp.schema import FLAGS, ROW_COLUMNS, SCORED_COLUMNS

from .browser import assert_report_renders

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "004_8fe8d81b6e5c8740.txt"
ODD_DEPARTMENT = "测试[单位]:财政*局?/预算\\科——一个名称特别长、超过三十一个字符的预算单位用于检查工作表名"
XSS_NAME = '<script>alert(1)</script> & "引号"'
ODD_TEXT = "  前后空格 ]]> \x07控制符 😀 "  # edge spaces, CDATA end, a control character, a non-BMP character
SUMMARY_FACTS = {
    "model": {"name": "default", "version": "0.1.0+abc123"},
    "inputs": ["data/samples/004_8fe8d81b6e5c8740.txt", "in/第二份.pdf"],
    "errors": [
        {"path": "in/坏文件<1>.pdf", "reason": "无法读取：文件损坏 & 加密"},
        {"path": "=HYPERLINK(\"x\")", "reason": "=1+1"},  # never a formula in the workbook
    ],
    "created_at": "2024-05-06T07:08:09+08:00",
}


def scored_frame(copies: int = 1, seed: int = 7) -> pd.DataFrame:
    """The sample's rows under three departments (one with an unusable sheet name, one unnamed),
    with made-up flags, probabilities, reasons and suggestions; row 0 carries markup."""
    base = extract_file(SAMPLE)
    second = base.assign(department=ODD_DEPARTMENT, doc_id="doc-second", source_path="in/第二份.pdf")
    third = base.head(3).assign(department="", doc_id="doc-third", source_path="in/第三份.html")
    one = pd.concat([base, second, third], ignore_index=True)
    parsed = [parse_value(v, n, l2, y).to_dict() for v, n, l2, y in zip(one.value, one.name, one.level2, one.year)]
    for key in ["op", "number", "low", "high", "unit", "deadline", "issue"]:
        one[f"value_{key}"] = [p[key] for p in parsed]
    one["metric_type"] = [p["metric_type"] for p in parsed]
    parts = []
    for k in range(copies):
        part = one.copy()
        if k:
            part["doc_id"] = part["doc_id"] + f"-{k}"
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(seed)
    n = len(frame)
    for flag in FLAGS:
        frame[f"p_{flag}"] = rng.random(n)
        frame[flag] = (frame[f"p_{flag}"] > 0.55).astype(int)
    frame.loc[1, [*FLAGS]] = 0  # one clean row
    frame.loc[1, [f"p_{f}" for f in FLAGS]] = 0.05
    frame["risk"] = frame[[f"p_{f}" for f in FLAGS]].max(axis=1)
    frame["suggested_metric_type"] = rng.choice(["percent", "count", "amount", "time", "grade"], n)
    frame["reasons"] = [
        [f"{FLAG_LABELS[f]}：示例原因{i}" for f in FLAGS if row[f]]
        for i, row in enumerate(frame[FLAGS].to_dict("records"))
    ]
    frame["suggestion"] = ["写明服务对象，如“<受益群体>满意度 ≥90%”" if any(r) else "" for r in frame["reasons"]]
    frame["model"] = "default@0.1.0+abc123"
    frame.loc[0, ["name", "value"]] = [XSS_NAME, "=78人"]
    frame.loc[0, [*FLAGS]] = [1, 1, 0, 1]
    frame.loc[0, "risk"] = 0.999
    frame.at[0, "reasons"] = ["含有 <b>标签</b> & 符号"]
    frame.loc[0, "suggestion"] = "≤78万元 <建议> & 说明"
    frame.loc[0, ["value_op", "value_number", "value_unit", "value_issue"]] = ["=", 78.0, "人", "none"]
    frame.loc[2, "name"] = ODD_TEXT
    frame["value_number_raw"] = frame["value"]
    frame["extra_col"] = "x"
    frame["extract_warning"] = ""
    frame.loc[frame.doc_id == "doc-second", "extract_warning"] = ["表格跨页，表头取自上一页"] * 2 + [""] * 25
    return frame


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_frame()


@pytest.fixture(scope="module")
def reports(scored, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    summary = {**SUMMARY_FACTS, **summarize(scored)}
    write_reports(scored, summary, out)
    return out


# --------------------------------------------------------------------------- summarize
def test_summarize_counts_and_is_plain_json(scored):
    summary = summarize(scored)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["rows"] == len(scored) == 57
    assert summary["documents"] == 3
    assert summary["departments"] == 3
    assert summary["projects"] == 9 + 9 + 1
    flagged = int((scored[FLAGS].sum(axis=1) > 0).sum())
    assert summary["flagged_rows"] == flagged
    assert summary["flagged_rate"] == round(flagged / 57, 4)
    for flag in FLAGS:
        assert summary["flags"][flag]["count"] == int(scored[flag].sum())
        assert summary["flags"][flag]["label"] == FLAG_LABELS[flag]
    assert sum(b["count"] for b in summary["risk_histogram"]) == 57
    assert [b["label"] for b in summary["risk_histogram"]][:2] == ["0.0-0.1", "0.1-0.2"]
    assert summary["risk_histogram"][-1]["label"] == "0.9-1.0"
    assert sum(summary["metric_types"].values()) == 57
    assert [d["department"] for d in summary["by_department"]] == [
        scored.department[0],
        ODD_DEPARTMENT,
        "（未注明单位）",
    ]
    assert sum(d["rows"] for d in summary["by_department"]) == 57
    assert sum(p["rows"] for p in summary["by_project"]) == 57
    first = summary["by_project"][0]
    assert first["anchor"] == project_anchor(
        scored.doc_id[0], scored.department[0], scored.project_code[0], scored.project_name[0]
    )
    assert first["vague_rate"] == round(first["vague"] / first["rows"], 4)


def test_summarize_rejects_a_frame_without_flags():
    with pytest.raises(InputError, match="missing scored columns: .*risk"):
        summarize(pd.DataFrame({"name": ["x"], "value": ["1"], **{f: [0] for f in FLAGS}}))


def test_reports_accept_csv_style_columns_and_an_empty_table(tmp_path, scored):
    as_csv = scored.head(5).astype(str)  # what read_table gives back from scored.csv
    as_csv["reasons"] = [json.dumps(r, ensure_ascii=False) for r in scored.head(5)["reasons"]]
    html = render_html(as_csv, SUMMARY_FACTS)
    assert "示例原因" in html and "含有 &lt;b&gt;标签&lt;/b&gt; &amp; 符号" in html
    empty = pd.DataFrame(columns=[*ROW_COLUMNS, *SCORED_COLUMNS, "suggestion"])
    write_reports(empty, {}, tmp_path)
    assert summarize(empty)["rows"] == 0
    assert "未发现带问题标记的指标" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert openpyxl.load_workbook(tmp_path / "scored.xlsx").sheetnames == ["评分结果", "汇总"]


# --------------------------------------------------------------------------- scored.xlsx
def test_xlsx_sheets_headers_filter_and_fills(reports, scored):
    wb = openpyxl.load_workbook(reports / "scored.xlsx")
    ws = wb["评分结果"]
    assert ws.freeze_panes == "F3"
    assert ws.auto_filter.ref.startswith("A2:")
    assert ws.auto_filter.ref.endswith(str(len(scored) + 2))
    cn = [c.value for c in ws[1]]
    en = [c.value for c in ws[2]]
    assert set(FLAGS + SCORED_COLUMNS + ["suggestion", "name", "department"]) <= set(en)
    assert cn[en.index("name")] == "三级指标" and cn[en.index("vague")] == "模糊"
    assert "spend_plan" in en and "value_number_raw" in en and "extra_col" in en  # extra columns are carried
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in cn), [h for h in cn if not re.search(r"[\u4e00-\u9fff]", h)]
    assert cn[en.index("spend_plan")] == "资金支出计划" and cn[en.index("value_number_raw")] == "数值（原文）"
    assert ws.max_row == len(scored) + 2

    col = {name: i for i, name in enumerate(en)}
    # highest risk first (ties in document order); the sheet row i holds the frame's row order[i]
    order = scored.assign(_pos=range(len(scored))).sort_values(["risk", "_pos"], ascending=[False, True])["_pos"].tolist()
    risks = [r[col["risk"]].value for r in ws.iter_rows(min_row=3)]
    assert risks == sorted(risks, reverse=True)
    row0 = list(ws.iter_rows(min_row=3, max_row=3))[0]
    assert row0[col["name"]].value == XSS_NAME
    assert row0[col["value"]].value == "=78人" and row0[col["value"]].data_type == "s"  # text, not a formula
    assert row0[col["reasons"]].value == "含有 <b>标签</b> & 符号"
    assert row0[col["reasons"]].alignment.wrap_text
    for sheet_row, row in enumerate(ws.iter_rows(min_row=3)):
        i = order[sheet_row]
        for flag in FLAGS:
            cell = row[col[flag]]
            assert cell.value == ("✓" if scored[flag].iloc[i] else None)  # scored.csv keeps 0/1
            assert (cell.fill.fgColor.rgb == "00FFC7CE") == (cell.value == "✓")
        assert row[col["risk"]].value == round(scored["risk"].iloc[i], 3)
        for name in ["risk", *[f"p_{f}" for f in FLAGS]]:
            assert row[col[name]].number_format == "0.0%", name
        assert row[col["value"]].value == scored["value"].iloc[i]
        assert row[col["department"]].value == (scored["department"].iloc[i] or None)
        if i != 2:
            assert row[col["name"]].value == scored["name"].iloc[i]
    assert ws.cell(row=3 + order.index(2), column=col["name"] + 1).value == ODD_TEXT.replace("\x07", "")
    scales = {str(cf.sqref).split(":")[0][:-1] for cf in ws.conditional_formatting if cf.rules[0].type == "colorScale"}
    letters = {openpyxl.utils.get_column_letter(col[c] + 1) for c in ["risk", *[f"p_{f}" for f in FLAGS]]}
    assert letters <= scales

    summary = summarize(scored)
    assert wb.sheetnames[:2] == ["评分结果", "汇总"]
    dept_sheets = wb.sheetnames[2:]
    assert len(dept_sheets) == 3 == len(set(s.casefold() for s in dept_sheets))
    for title in dept_sheets:
        assert len(title) <= 31 and not re.search(r"[\[\]:*?/\\]", title)
    ranked = weakest_first(summary["by_department"])  # the report's order: flagged share, mean risk
    assert [wb[t]["A1"].value for t in dept_sheets] == [d["department"] for d in ranked]
    odd = wb[next(t for t in dept_sheets if t.startswith("测试单位财政局预算科"))]
    assert odd["A1"].value == ODD_DEPARTMENT
    assert odd.freeze_panes == "C5"
    projects = [r for r in odd.iter_rows(min_row=5, values_only=True) if r[0] or r[1]]
    assert len(projects) == 9
    mine = [p for p in summary["by_project"] if p["department"] == ODD_DEPARTMENT]
    assert [p[1] for p in projects] == [p["project_name"] for p in weakest_first(mine)]
    keys = [(-p[6], -p[15]) for p in projects]  # 比例, 平均风险
    assert keys == sorted(keys)
    assert odd.cell(row=5, column=7).number_format == "0.0%" and odd.cell(row=5, column=16).number_format == "0.0%"

    assert wb["汇总"].freeze_panes == "A2"
    overview = {r[0]: r[1:] for r in wb["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert overview["指标数（三级指标）"][0] == 57
    assert overview["有问题的指标"][0] == summary["flagged_rows"]
    assert overview["模糊"][1] == summary["flags"]["vague"]["count"]
    injected = [c for r in wb["汇总"].iter_rows() for c in r if isinstance(c.value, str) and c.value.startswith("=")]
    assert [c.value for c in injected] == ['=HYPERLINK("x")', "=1+1"]
    assert all(c.data_type == "s" for c in injected)
    links = [c.hyperlink.location for r in wb["汇总"].iter_rows() for c in r if c.hyperlink]
    assert links == [f"'{title}'!A1" for title in dept_sheets]


# --------------------------------------------------------------------------- report.html
def test_html_content_is_complete_escaped_and_self_contained(reports, scored):
    html = (reports / "report.html").read_text(encoding="utf-8")
    summary = summarize(scored)
    assert "<title>绩效目标质量审查报告</title>" in html
    assert re.search(r"<th>指标数（三级指标）</th><td class=\"n\">57</td>", html)
    assert re.search(rf"<th>有问题的指标</th><td class=\"n\">{summary['flagged_rows']}</td>", html)
    for flag in FLAGS:
        item = summary["flags"][flag]
        assert f'{item["label"]}</span></td>' in html
        assert f'<td class="n">{item["count"]}</td><td class="n">{item["rate"] * 100:.1f}%</td>' in html
    assert html.count("<svg ") == 4
    for chart in ["chart-flags", "chart-types", "chart-risk", "chart-departments"]:
        svg = re.search(rf'<svg id="{chart}".*?</svg>', html).group(0)
        assert "<title" in svg and "<text" in svg and "<rect" in svg

    anchors = [p["anchor"] for p in summary["by_project"]]
    assert len(set(anchors)) == 19 and all(re.fullmatch(r"project-[0-9a-f]{12}", a) for a in anchors)
    for anchor in anchors:
        assert html.count(f'id="{anchor}"') == 1
        assert f'href="#{anchor}"' in html
    for target in set(re.findall(r'href="#([^"]+)"', html)):
        assert html.count(f'id="{target}"') == 1, target

    # every document string is escaped; the page has no script and references nothing outside itself
    assert "<script" not in html.lower() and "alert(1)</" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;引号&quot;" in html
    assert "含有 &lt;b&gt;标签&lt;/b&gt; &amp; 符号" in html and "≤78万元 &lt;建议&gt; &amp; 说明" in html
    assert "in/坏文件&lt;1&gt;.pdf" in html and "文件损坏 &amp; 加密" in html
    for needle in ["http://", "https://", "src=", "url(", "@import", "//cdn", "<link", "<img", "<iframe"]:
        assert needle not in html.lower(), needle

    # weakest first: the markup row has the highest risk
    weakest = re.search(r'<table class="[^"]*" id="weakest-table">.*?</table>', html, re.S).group(0)
    first_row = re.search(r"<tbody><tr[^>]*>(.*?)</tr>", weakest, re.S).group(1)
    assert "&lt;script&gt;" in first_row and "=78人" in first_row and "1.00" in first_row
    assert "百分比" in html or "数量" in html
    assert "default" in html and "0.1.0+abc123" in html and local_time("2024-05-06T07:08:09+08:00") in html
    assert "文档 3 份（输入：data/samples/004_8fe8d81b6e5c8740.txt、in/第二份.pdf）" in html


def test_a_subset_of_rows_with_the_whole_runs_figures(tmp_path, scored):
    """The batch scorer passes summarize() of the whole run and only the highest-risk rows."""
    summary = {**SUMMARY_FACTS, **summarize(scored)}
    top = scored.nlargest(10, "risk", keep="first")
    write_reports(top, summary, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<th>指标数（三级指标）</th><td class=\"n\">57</td>", html)  # whole run
    assert "本页列出 10 条指标（全部 57 条中风险最高的部分）" in html
    shown = {project_anchor(*k) for k in zip(top.doc_id, top.department, top.project_code, top.project_name)}
    assert html.count('<section class="project"') == len(shown) < summary["projects"]
    table = re.search(r'id="project-table">.*?</table>', html, re.S).group(0)
    assert table.count("<tr><td>") == summary["projects"]  # every project is in the table …
    assert set(re.findall(r'href="#([^"]+)"', table)) == shown  # … linked only where its rows are on the page
    for target in set(re.findall(r'href="#([^"]+)"', html)):
        assert f'id="{target}"' in html, target
    wb = openpyxl.load_workbook(tmp_path / "scored.xlsx")
    assert wb["评分结果"].max_row == 12
    odd = next(wb[t] for t in wb.sheetnames[2:] if wb[t]["A1"].value == ODD_DEPARTMENT)
    assert sum(1 for r in odd.iter_rows(min_row=5, values_only=True) if r[1]) == 9
    with pytest.raises(InputError, match="figures incomplete"):
        write_reports(top, {**summary, "by_project": [{"anchor": "x"}]}, tmp_path)


def test_html_caps_the_weakest_list(scored):
    html = render_html(scored, SUMMARY_FACTS, top_rows=5)
    weakest = re.search(r'id="weakest-table">.*?</table>', html, re.S).group(0)
    assert weakest.count("<tr") == 6  # header + 5
    flagged = int((scored[FLAGS].sum(axis=1) > 0).sum())
    assert f"另有 {flagged - 5} 条未列出" in html and "scored.xlsx" in html and "budgetnlp review import" in html
    with pytest.raises(InputError, match="top_rows"):
        render_html(scored, SUMMARY_FACTS, top_rows=-1)


def test_html_caps_the_project_table_the_workbook_keeps_every_project(tmp_path, scored, monkeypatch):
    import budgetnlp.report.page as page

    monkeypatch.setattr(page, "HTML_MAX_PROJECTS", 4)
    summary = {**SUMMARY_FACTS, **summarize(scored)}
    write_reports(scored, summary, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    table = re.search(r'id="project-table">.*?</table>', html, re.S).group(0)
    assert table.count("<tr><td>") == 4 < summary["projects"]
    assert f"共 {summary['projects']:,} 个项目，此处列出前 4 个" in html
    worst = sorted(summary["by_project"], key=lambda p: (-p["flagged_rate"], -(p.get("risk_mean") or 0.0)))[:4]
    assert [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<tr><td>[^<]*</td><td>(.*?)</td>", table)] == \
        [p["project_name"] for p in worst]
    wb = openpyxl.load_workbook(tmp_path / "scored.xlsx")
    listed = sum(1 for name in wb.sheetnames[2:] for r in wb[name].iter_rows(min_row=5, values_only=True) if r[1])
    assert listed == summary["projects"]


# --------------------------------------------------------------------------- in a browser
def test_report_renders_offline_in_chromium(reports):
    def links_and_escaping(page):
        assert page.locator("#details table.rows").count() == 19
        link = page.locator("#project-table a").first
        target = link.get_attribute("href")
        link.click()
        assert page.evaluate("location.hash") == target
        assert page.locator(target).is_visible()
        assert "<script>alert(1)</script>" in page.locator("#weakest-table").inner_text()

    assert_report_renders(reports / "report.html", links_and_escaping)


# --------------------------------------------------------------------------- figures every view shares
def test_summary_columns_are_all_summarize_needs(scored):
    """The batch scorer summarizes the whole run from SUMMARY_COLUMNS alone (value_issues was {}
    while 45 sample rows had an issue, because value_issue was not read)."""
    full = summarize(scored)
    slim = summarize(scored[[c for c in SUMMARY_COLUMNS if c in scored.columns]])
    assert slim == full
    assert full["value_issues"] and sum(full["value_issues"].values()) == len(scored)
    assert full["value_issues"] == scored["value_issue"].replace("", "unknown").value_counts().to_dict()


def test_extraction_warnings_per_document_and_their_absence(scored):
    summary = summarize(scored)
    assert summary["extract_warnings"] == 2
    by_doc = {d["doc_id"]: d for d in summary["by_document"]}
    assert {k: d["extract_warnings"] for k, d in by_doc.items()} == {scored.doc_id[0]: 0, "doc-second": 2, "doc-third": 0}
    assert [d["rows"] for d in summary["by_document"]] == [27, 27, 3]
    html = render_html(scored, SUMMARY_FACTS)
    table = re.search(r'id="document-table">.*?</table>', html, re.S).group(0)
    assert "提取警告" in table and table.index("doc-second") < table.index(scored.doc_id[0])  # most warnings first
    assert "有提取警告的指标" in html

    without = scored.drop(columns=["extract_warning"])
    summary = summarize(without)
    assert summary["extract_warnings"] is None
    assert all("extract_warnings" not in d for d in summary["by_document"])
    html = render_html(without, SUMMARY_FACTS)
    table = re.search(r'id="document-table">.*?</table>', html, re.S).group(0)
    assert "提取警告" not in table and "有提取警告的指标" not in html and "doc-second" in table


def test_local_time_is_the_writers_time_zone(monkeypatch):
    import time

    for zone, expected in [("Asia/Shanghai", "2024-05-06 07:08（UTC+08:00）"), ("UTC", "2024-05-05 23:08（UTC+00:00）"),
                           ("America/New_York", "2024-05-05 19:08（UTC-04:00）")]:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert local_time("2024-05-06T07:08:09+08:00") == expected
    monkeypatch.delenv("TZ")
    time.tzset()
    assert local_time("2024-05-06 07:08") == "2024-05-06 07:08"  # no zone: as written
    assert local_time("昨天") == "昨天"


# --------------------------------------------------------------------------- reasons said once
def _value_reasons(value: str) -> list[str]:
    return [f"指标值为定性表述“{value}”（含“提升”），缺少可核验的标准", f"指标值“{value}”是文字描述，没有数值、日期或等级标准",
            f"指标值“{value}”没有可在年底核验的数量或标准"]


def test_compact_drops_repeats_and_merges_the_models_lines():
    rng = np.random.default_rng(3)
    labels = list(FLAG_LABELS.values())
    for trial in range(200):
        values = [f"提升水平{k}" for k in range(rng.integers(1, 3))]
        own = [f"“{v}”是通用套话，可原样出现在任何项目中" for v in values] + ["资金支出计划至年底仅40%，未达到100%"]
        flags = [labels[k] for k in rng.permutation(4)[: rng.integers(0, 5)]]
        model = [f"模型判断为{f}（概率0.{rng.integers(50, 99)}），主要依据词语：“词{trial}”、“共同”" for f in flags]
        reasons = [r for v in values for r in _value_reasons(v)] + own + model
        reasons = [reasons[k] for k in rng.permutation(len(reasons))] + reasons[:2]  # shuffled, with repeats
        out = compact(reasons)
        assert len(out) == len(set(out))
        for v in values:  # one value reason per quoted value: the first one given
            about = [r for r in out if r.startswith("指标值") and f"“{v}”" in r]
            assert about == [next(r for r in reasons if r.startswith("指标值") and f"“{v}”" in r)]
        assert [r for r in out if r in own] == list(dict.fromkeys(r for r in reasons if r in own))
        merged = [r for r in out if r.startswith("模型判断")]
        assert len(merged) == (1 if flags else 0)
        if flags:
            assert all(f in merged[0] for f in flags) and merged[0].count("“共同”") == 1


def test_split_shared_keeps_each_reason_once_per_project():
    rng = np.random.default_rng(5)
    pool = [f"原因{k}" for k in range(8)]
    for _ in range(200):
        rows = [list(dict.fromkeys(rng.choice(pool, rng.integers(0, 5)))) for _ in range(rng.integers(1, 6))]
        shared, own = split_shared(rows)
        counts = Counter(r for reasons in rows for r in reasons)
        assert shared == [r for r in dict.fromkeys(r for reasons in rows for r in reasons) if counts[r] > 1]
        assert [[r for r in reasons if counts[r] == 1] for reasons in rows] == own
        said = shared + [r for reasons in own for r in reasons]
        assert len(said) == len(set(said)) and set(said) == set(counts)


def test_html_weakest_list_says_a_projects_shared_reasons_once(scored):
    frame = scored_frame(copies=2)
    spend = "资金支出计划（%）填的是金额（年底12万元＝预算数），不是百分比"
    frame["reasons"] = [[*r, spend] + _value_reasons(v) for r, v in zip(frame["reasons"], frame["value"])]
    html = render_html(frame, SUMMARY_FACTS)  # default bound
    table = re.search(r'id="weakest-table">.*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr[^>]*data-project="([^"]+)"[^>]*>(.*?)</tr>', table, re.S)
    assert len(rows) == 50 < int((frame[FLAGS].sum(axis=1) > 0).sum())
    risks = [float(re.findall(r'<td class="n[^"]*">([\d.]+)</td>', cells)[1]) for _, cells in rows]
    assert risks == sorted(risks, reverse=True)
    said: dict[str, list[str]] = {}
    for anchor, cells in rows:
        said.setdefault(anchor, []).extend(re.findall(r"<li>(.*?)</li>", cells))
    assert any(spend in reasons for reasons in said.values())
    for anchor, reasons in said.items():
        assert len(reasons) == len(set(reasons)), anchor
    sections = re.findall(r'<section class="project" id="[^"]+">(.*?)</section>', html, re.S)
    for section in sections:
        reasons = re.findall(r"<li>(.*?)</li>", section)
        assert len(reasons) == len(set(reasons)) and reasons.count(spend) == 1


# --------------------------------------------------------------------------- weakest first, worst marked
def test_html_departments_and_projects_weakest_first_showing_their_sort_keys(scored):
    html = render_html(scored, SUMMARY_FACTS)
    summary = summarize(scored)
    table = re.search(r'id="department-table">.*?</table>', html, re.S).group(0)
    body = table.split("<tbody>")[1]
    names = [n.strip() for n in re.findall(r"<tr[^>]*><td>([^<]*)", body)]
    assert names == [html_escape(d["department"]) for d in weakest_first(summary["by_department"])]
    keys = [(-float(a), -float(b)) for a, b in re.findall(r'<td class="n">([\d.]+)%<span[^>]*>[^<]*</span></td>'
                                                            r'<td class="n">([\d.]+)</td>', body)]
    assert len(keys) == 3 and keys == sorted(keys)
    assert body.count('class="badge worst-badge">最弱') == 1 and body.startswith("<tr class=worst>")
    chart = re.search(r'<svg id="chart-departments".*?</svg>', html, re.S).group(0)
    assert "最弱" in chart and charts.WORST_COLOUR in chart

    projects = re.search(r'id="project-table">.*?</table>', html, re.S).group(0).split("<tbody>")[1]
    keys = [(-float(a), -float(b)) for a, b in re.findall(r'<td class="n">([\d.]+)%<span[^>]*>[^<]*</span></td>'
                                                            r'<td class="n">([\d.]+)</td>', projects)]
    assert len(keys) == summary["projects"] and keys == sorted(keys)
    assert "最高风险" not in projects


def test_no_department_is_marked_when_nothing_is_flagged(scored):
    clean = scored.assign(**{f: 0 for f in FLAGS})
    html = render_html(clean, SUMMARY_FACTS)
    assert "worst-badge\">最弱" not in html and "class=worst" not in html


# --------------------------------------------------------------------------- workbook orders
def test_xlsx_document_order_on_request_and_a_bad_order(tmp_path, scored):
    path = write_xlsx(scored, SUMMARY_FACTS, tmp_path / "doc.xlsx", order="document")
    ws = openpyxl.load_workbook(path)["评分结果"]
    en = [c.value for c in ws[2]]
    names = [r[en.index("row_id")].value for r in ws.iter_rows(min_row=3)]
    assert names == [v or None for v in scored["row_id"]]
    assert ws.auto_filter.ref.startswith("A2:")
    with pytest.raises(InputError, match="xlsx order must be one of risk, document"):
        write_xlsx(scored, SUMMARY_FACTS, tmp_path / "bad.xlsx", order="alphabet")
    summary = openpyxl.load_workbook(path)["汇总"]
    marked = [r for r in summary.iter_rows(values_only=True) if "最弱：问题比例最高" in r]
    assert len(marked) == 1
