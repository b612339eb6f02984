"""Headless Chromium for browser tests: Debian's chromium driven by Playwright for Python.

Never downloads a browser. A missing chromium fails the test in CI (which installs it with
apt-get); on a developer's machine without it the test is skipped, naming the package.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium_page(viewport=(1366, 768)):
    """Yield (page, requests, errors): every URL requested and every console error or page error."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: the browser tests need Debian's Chromium (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install 'budgetnlp[test]'")
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, requests, errors
        finally:
            browser.close()


def assert_report_renders(report: Path, extra=None) -> None:
    """Open a report.html from disk: its tables and three SVG charts render, it requests nothing
    but itself and logs no error. ``extra(page)`` may check more while the page is open."""
    url = Path(report).resolve().as_uri()
    with chromium_page() as (page, requests, errors):
        page.goto(url, wait_until="load")
        assert page.title() == "绩效目标质量审查报告"
        for selector in ["#totals", "#flag-totals", "#department-table", "#project-table", "#weakest-table"]:
            box = page.locator(selector).bounding_box()
            assert page.locator(selector).is_visible() and box and box["width"] > 0 and box["height"] > 0, selector
        for chart in ["#chart-flags", "#chart-types", "#chart-risk"]:
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, chart
            assert page.locator(f"{chart} rect").count() >= 5
        if extra:
            extra(page)
    assert requests == [url], requests
    assert errors == [], errors
