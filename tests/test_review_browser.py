"""The review app in a real browser: Playwright drives Debian's chromium (headless) against a
uvicorn server on a free localhost port, as reviewers use it — log in, filter the queue, open a
row, toggle flags with the keyboard, save, see the history, and meet a conflict when a second
reviewer saves the same row from the old version.

Chromium missing is a failure that names the install, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time

import pytest

from budgetnlp.review import service
from budgetnlp.review.app import create_app
from budgetnlp.review.cli import HTTP_PROTOCOL

from .review_fixtures import PASSWORD, make_run

CHROMIUM = os.environ.get("BUDGETNLP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


def _require_chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
                    "(or point BUDGETNLP_CHROMIUM at a Chromium binary)", pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install 'budgetnlp[test]' (playwright)", pytrace=False)
    return CHROMIUM


class _Server:
    """uvicorn in a background thread, on a socket bound to a free port before start."""

    def __init__(self, app):
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", http=HTTP_PROTOCOL))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    app = create_app(f"sqlite:///{base / 'review.sqlite3'}", count_cache_ttl=0)
    engine = app.state.engine
    service.import_run(engine, make_run(base / "run", seed=4))
    service.add_user(engine, "alice", PASSWORD)
    service.add_user(engine, "bob", PASSWORD)
    service.add_user(engine, "carol", PASSWORD)
    service.add_user(engine, "dora", PASSWORD)
    with _Server(app) as url:
        yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    executable = _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _page(browser, url, name=None):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    if name:
        page.goto(f"{url}/queue")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/queue.*"))
    return page


def _open_row(page, url, row_id, engine):
    page.goto(f"{url}/rows/{row_id}")
    page.wait_for_selector("#decision-form")


def test_login_is_required(server, browser):
    url, _ = server
    page = _page(browser, url)
    page.goto(f"{url}/progress")
    assert "/login" in page.url and page.locator("h1").inner_text() == "登录"
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.locator(".error").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/progress$"))
    assert page.locator("h1").inner_text() == "进度与一致性"
    page.context.close()


def test_filter_open_toggle_with_keyboard_save_and_history(server, browser):
    url, engine = server
    page = _page(browser, url, "alice")
    departments = page.locator("select[name=department] option").all_inner_texts()[1:]
    department = departments[-1]
    page.select_option("select[name=department]", department)
    page.select_option("select[name=status]", "unreviewed")
    page.click("form#filters button[type=submit]")
    page.wait_for_url(re.compile(r".*department=.*"))
    cells = page.locator("#queue-table tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and all(department in c for c in cells)
    expected = service.queue(engine, service.QueueQuery(department=department, status="unreviewed"))
    assert page.locator("#total").inner_text() == str(expected["total"])

    # keyboard in the queue: j selects the first row, Enter opens it
    page.keyboard.press("j")
    first_id = page.locator("#queue-table tbody tr.selected").get_attribute("data-row-id")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/rows/{first_id}\?.*"))
    before = service.get_row(engine, first_id)

    box = page.locator('input[data-flag-index="1"]')
    was = box.is_checked()
    page.keyboard.press("1")
    assert box.is_checked() != was
    page.keyboard.press("4")
    page.fill("#note", "键盘审核：模糊与不可衡量已核对")
    page.locator("#note").press("Escape")
    page.keyboard.press("Shift+Enter")  # save and stay (Enter saves and moves on)
    page.wait_for_selector("#saved")
    assert "已保存（版本 1）" in page.locator("#saved").inner_text()
    history = page.locator("#history tbody tr")
    assert history.count() == 1
    assert "alice" in history.first.inner_text() and "键盘审核" in history.first.inner_text()
    after = service.get_row(engine, first_id)
    assert after["labels"]["vague"] == 1 - before["labels"]["vague"]
    assert after["labels"]["unmeasurable"] == 1 - before["labels"]["unmeasurable"]
    assert after["decided_by"] == "alice" and after["version"] == 1

    # j moves on in queue order (the saved row left the unreviewed filter; the keyset still works)
    next_href = page.locator("#nav-next").get_attribute("href")
    page.keyboard.press("j")
    page.wait_for_url(re.compile(".*" + re.escape(next_href.split("?")[0]) + r"\?.*"))
    assert "department=" in page.url and "status=unreviewed" in page.url
    # the help overlay
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems
    page.context.close()


def test_second_reviewer_sees_a_conflict(server, browser):
    url, engine = server
    row_id = service.queue(engine, service.QueueQuery(status="unreviewed", per_page=1))["rows"][0]["row_id"]
    alice, bob = _page(browser, url, "alice"), _page(browser, url, "bob")
    _open_row(alice, url, row_id, engine)
    _open_row(bob, url, row_id, engine)  # both based on version 0

    alice.keyboard.press("2")
    alice.keyboard.press("Enter")
    alice.wait_for_selector("#saved")

    bob.keyboard.press("3")
    bob.fill("#note", "bob 的意见")
    bob.locator("#note").press("Control+Enter")
    bob.wait_for_selector("#conflict")
    text = bob.locator("#conflict").inner_text()
    assert "保存冲突" in text and "alice" in text and "尚未保存" in text
    assert bob.locator("#note").input_value() == "bob 的意见"  # bob's unsaved choices are kept
    assert service.get_row(engine, row_id)["decided_by"] == "alice"  # nothing overwritten

    bob.keyboard.press("Shift+Enter")  # saving again, now knowingly, on top of alice's version, and staying
    bob.wait_for_selector("#saved")
    reviewers = bob.locator("#history tbody tr td.reviewer").all_inner_texts()
    assert [r.split()[0] for r in reviewers] == ["bob", "alice"]
    assert service.get_row(engine, row_id)["version"] == 2
    alice.context.close()
    bob.context.close()


def test_project_table_and_progress_pages(server, browser):
    url, engine = server
    page = _page(browser, url, "bob")
    row = service.queue(engine, service.QueueQuery(status="unreviewed", per_page=1))["rows"][0]
    page.goto(f"{url}/projects/{row['project_key']}")
    rows = service.project_rows(engine, row["project_key"])
    include = page.locator('input[name="r0_include"]')
    assert not include.is_checked()  # nothing is ticked for saving by default
    page.locator('input[name="r0_vague"]').click()  # changing a row ticks it
    assert include.is_checked()
    page.click("#save-project")
    page.wait_for_selector("#saved")
    assert "已保存 1 行" in page.locator("#saved").inner_text()
    after = service.project_rows(engine, row["project_key"])
    assert after[0]["version"] == rows[0]["version"] + 1 and after[0]["labels"]["vague"] == 1 - rows[0]["labels"]["vague"]
    assert [r["version"] for r in after[1:]] == [r["version"] for r in rows[1:]]  # untouched rows not recorded
    page.goto(f"{url}/progress")
    assert "bob" in page.locator("#reviewers").inner_text()
    page.goto(f"{url}/docs")
    page.wait_for_selector("#api-docs .endpoint")
    assert "/api/rows/{row_id}/decision" in page.locator("#api-docs").inner_text()
    assert not page.problems, page.problems
    page.context.close()


def test_blind_second_review(server, browser):
    url, engine = server
    row = service.queue(engine, service.QueueQuery(status="unreviewed", per_page=1))["rows"][0]
    users = {u["name"]: u for u in service.list_users(engine)}
    flipped = {f: 1 - row[f] for f in ("vague", "boilerplate", "category_mismatch", "unmeasurable")}
    service.save_decision(engine, users["alice"], row["row_id"], service.Decision(
        row["version"], flipped, row["metric_type"], row["suggested_metric_type"], "alice 的盲审备注"))
    page = _page(browser, url, "dora")
    _open_row(page, url, row["row_id"], engine)
    assert "模型预测" in page.locator("#prefill").inner_text()
    for i, flag in enumerate(("vague", "boilerplate", "category_mismatch", "unmeasurable"), start=1):
        assert page.locator(f'input[data-flag-index="{i}"]').is_checked() == bool(row[flag])  # the model's, not alice's
    assert "alice" not in page.locator("main").inner_text()
    assert "他人的审核记录" in page.locator("#hidden-history").inner_text()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector("#saved")
    assert [r.split()[0] for r in page.locator("#history tbody tr td.reviewer").all_inner_texts()] == ["dora", "alice"]
    assert not page.problems, page.problems
    page.context.close()


def test_accept_and_next_through_ten_rows_by_keyboard_then_undo(server, browser):
    url, engine = server
    query = service.QueueQuery(status="unreviewed", sort="uncertainty")
    expected = [r["row_id"] for r in service.queue(engine, service.QueueQuery(status="unreviewed", sort="uncertainty",
                                                                              per_page=11))["rows"]]
    page = _page(browser, url, "carol")
    page.goto(f"{url}/rows/{expected[0]}?{'&'.join(f'{k}={v}' for k, v in query.params().items())}")
    page.wait_for_selector("#decision-form")
    total = service.queue(engine, query)["total"]
    assert f"第 1 / {total} 条" in page.locator("#position").inner_text()
    visited = []
    for i in range(10):
        current = page.url.split("/rows/")[1].split("?")[0]
        visited.append(current)
        if i % 3 == 0:
            page.keyboard.press(str(1 + i % 4))  # a flag toggled now and then
        page.keyboard.press("Enter")
        page.wait_for_url(lambda u, c=current: f"/rows/{c}?" not in u)
        page.wait_for_selector("#saved")
    assert visited == expected[:10]  # the queue's order, one row after another
    for row_id in visited:
        saved = service.get_row(engine, row_id)
        assert saved["decided_by"] == "carol" and saved["status"] == "reviewed"
    assert page.url.split("/rows/")[1].split("?")[0] == expected[10]
    assert f"第 1 / {total - 10} 条" in page.locator("#position").inner_text()

    page.keyboard.press("u")  # undo the tenth save
    page.wait_for_selector("#undone")
    assert page.url.split("/rows/")[1].split("?")[0] == visited[-1]
    undone = service.get_row(engine, visited[-1])
    assert undone["status"] == "unreviewed" and undone["decided_by"] is None
    assert service.history(engine, visited[-1])[0]["channel"] == "undo"
    assert not page.problems, page.problems
    page.context.close()
