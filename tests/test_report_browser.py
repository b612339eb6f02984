"""report.html of the samples (`budgetnlp score data/samples`) read as a reviewer reads it, in
Debian's Chromium: a desk, a phone at 390 px and print preview. The model may be retrained, so
the checks are properties (bounded, sorted, marked, said once), not particular risks or counts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from budgetnlp.report import DEFAULT_TOP_ROWS
from budgetnlp.scoring import score

from .browser import chromium_page

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples-run")
    score([SAMPLES], out, cache_dir=out / "cache")
    return out


def _url(run: Path) -> str:
    return (run / "report.html").resolve().as_uri()


def test_summary_json_counts_value_issues_and_documents(run):
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    table = pq.read_table(run / "scored.parquet").to_pandas()
    issues = Counter(v or "unknown" for v in table["value_issue"])
    assert summary["value_issues"] == dict(issues) and sum(summary["value_issues"].values()) == len(table)
    assert sum(n for issue, n in issues.items() if issue != "none") > 0  # the samples have value issues
    assert summary["documents"] == len(summary["by_document"]) == table["doc_id"].nunique() == 3
    if "extract_warning" in table.columns:
        warned = table.groupby("doc_id")["extract_warning"].apply(lambda s: int((s.fillna("") != "").sum()))
        assert {d["doc_id"]: d["extract_warnings"] for d in summary["by_document"]} == warned.to_dict()


def test_desk_view_bounded_sorted_marked_and_said_once(run):
    with chromium_page() as (page, requests, errors):
        page.goto(_url(run), wait_until="load")
        assert "文档 3 份" in page.locator("#scope-line").inner_text()

        # the weakest list: bounded, highest risk first, the rest counted with where to find them
        risks = [float(t) for t in page.locator("#weakest-table tbody tr td:nth-child(2)").all_inner_texts()]
        assert 0 < len(risks) <= DEFAULT_TOP_ROWS
        assert risks == sorted(risks, reverse=True)
        note = page.locator("#weakest-note").inner_text()
        flagged = int(re.search(r"共 ([\d,]+) 条", note).group(1).replace(",", ""))
        if flagged > len(risks):
            assert f"另有 {flagged - len(risks):,} 条未列出" in note and "scored.xlsx" in note

        # its header stays in view while the reader scrolls through it
        page.locator("#weakest-table tbody tr").nth(len(risks) // 2).scroll_into_view_if_needed()
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(100)
        head = page.locator("#weakest-table thead th").first.bounding_box()
        table = page.locator("#weakest-table").bounding_box()
        assert table["y"] < -100 and abs(head["y"]) < 2, (table, head)

        # reasons: never twice within one project, neither in the list nor in a project's section
        said = page.evaluate(
            """() => {
                const out = {};
                for (const tr of document.querySelectorAll('#weakest-table tbody tr')) {
                    const key = 'list:' + tr.dataset.project;
                    out[key] = (out[key] || []).concat([...tr.querySelectorAll('li')].map(li => li.textContent));
                }
                for (const s of document.querySelectorAll('section.project'))
                    out['section:' + s.id] = [...s.querySelectorAll('li')].map(li => li.textContent);
                return out;
            }"""
        )
        assert any(said.values())
        for key, reasons in said.items():
            repeated = [r for r, n in Counter(reasons).items() if n > 1]
            assert not repeated, (key, repeated)
            assert all(r.count("模型判断") <= 1 for r in reasons)

        # departments weakest first, the worst marked in the table and in the chart
        rows = page.locator("#department-table tbody tr")
        shares = [float(t.split("%")[0]) for t in page.locator("#department-table tbody td:nth-child(2)").all_inner_texts()]
        assert shares == sorted(shares, reverse=True)
        assert page.locator("#department-table tr.worst").count() == 1
        assert rows.first.get_attribute("class") == "worst" and "最弱" in rows.first.inner_text()
        assert "最弱" in page.locator("#chart-departments").inner_html()

        # the project table shows what it sorts by: flagged share, then mean risk
        cells = page.evaluate(
            """() => [...document.querySelectorAll('#project-table tbody tr')].map(tr =>
                [parseFloat(tr.cells[3].textContent), parseFloat(tr.cells[4].textContent)])"""
        )
        keys = [(-share, -mean) for share, mean in cells]
        assert keys == sorted(keys)

        # a late project section is found by its anchor and by in-page search
        last = page.locator("section.project").last
        anchor = last.get_attribute("id")
        page.goto(_url(run) + "#" + anchor)
        box = last.bounding_box()
        assert box and abs(box["y"]) < 40, box
        page.goto(_url(run))
        text = last.locator("p.meta").text_content()  # its facts line: on the page only there
        assert text
        found = page.evaluate(
            """([t, id]) => window.find(t) && document.getElementById(id).contains(window.getSelection().anchorNode)""",
            [text, anchor],
        )
        assert found
    assert errors == [], errors
    assert all(r.startswith("file://") for r in requests), requests


def test_phone_has_no_horizontal_scroll_and_tables_become_cards(run):
    with chromium_page(viewport=(390, 844)) as (page, _, errors):
        page.goto(_url(run), wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > 391 && e.getClientRects().length)
                .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
        )
        assert wide == [], wide
        for table in ["#weakest-table", "#department-table", "#project-table"]:
            assert not page.locator(f"{table} thead").is_visible(), table
            label = page.evaluate(
                f"getComputedStyle(document.querySelector('{table} tbody td'), '::before').content"
            )
            assert label not in ("none", "normal", '""'), (table, label)
        # a weakest-list card is one column wide: its reasons sit below its badges, not beside them
        card = page.locator("#weakest-table tbody tr").first
        badges, reasons = card.locator("td:nth-child(8)").bounding_box(), card.locator("td:nth-child(9)").bounding_box()
        assert reasons["y"] >= badges["y"] + badges["height"] - 1
    assert errors == [], errors


def test_print_keeps_the_summary_and_leaves_the_detail_out_unless_asked(run):
    with chromium_page() as (page, _, errors):
        page.goto(_url(run), wait_until="load")
        short = len(_PAGE.findall(page.pdf(format="A4", landscape=True)))
        page.emulate_media(media="print")
        for selector in ["#totals", "#chart-flags", "#department-table", "#project-table", "#weakest-table"]:
            assert page.locator(selector).is_visible(), selector
        assert not page.locator("#details").is_visible()
        page.emulate_media(media="screen")
        page.check("#print-details")
        full = len(_PAGE.findall(page.pdf(format="A4", landscape=True)))
    assert 0 < short < 30, short
    assert full > short
    assert errors == [], errors
