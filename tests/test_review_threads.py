"""How a worker runs handlers (review/threads.py): the quick ones one at a time, the slow ones in
a pool of their own so that they never hold up a queue page; SQLite read through a memory map.

The server's settings apply when it starts (the app's lifespan), so these tests enter the
TestClient as a context manager, as uvicorn starts the app."""

from __future__ import annotations

import inspect
import threading
import time

import anyio
import anyio.to_thread
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from budgetnlp.review import db, queue, service, threads, users
from budgetnlp.review.app import create_app
from budgetnlp.review.cli import review_app

from .review_fixtures import PASSWORD, api_token, login, make_run

WAIT_S = 20  # a request that should get through does so in well under this


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(users, "_SCRYPT", {"n": 2**10, "r": 8, "p": 1})


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run") / "v1", seed=1)


def make_app(tmp_path, run_folder, **options):
    app = create_app(f"sqlite:///{tmp_path / 'review.sqlite3'}", count_cache_ttl=0, **options)
    service.import_run(app.state.engine, run_folder)
    service.add_user(app.state.engine, "alice", PASSWORD, "admin")
    return app


class Blocked:
    """Within ``with Blocked(monkeypatch, module, name) as blocked:``, calls of ``module.name``
    wait until the block is left (``blocked.entered`` is set once one waits); ``blocked.get``
    sends a request from a thread of its own, joined on leaving the block before the client
    closes (a request still running then would hang the TestClient)."""

    def __init__(self, monkeypatch, module, name):
        self.entered, self.release, self.threads = threading.Event(), threading.Event(), []
        original = getattr(module, name)

        def waiting(*args, **kwargs):
            self.entered.set()
            self.release.wait(WAIT_S)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, waiting)

    def get(self, client, path):
        answers = []
        thread = threading.Thread(target=lambda: answers.append(client.get(path)), daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread, answers

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.release.set()
        for thread in self.threads:
            thread.join(WAIT_S)


@pytest.mark.parametrize("count", [1, 3])
def test_the_worker_pool_for_quick_handlers_is_set_at_startup(tmp_path, run_folder, count):
    app = make_app(tmp_path, run_folder, request_threads=count)
    with TestClient(app) as client:
        assert client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == count
        assert client.portal.call(lambda: threads.slow_limiter().total_tokens) == threads.SLOW_THREADS


@pytest.mark.parametrize("count", [1, 3])
def test_quick_handlers_run_one_at_a_time_unless_given_more_threads(tmp_path, run_folder, monkeypatch, count):
    """With one thread, a second request waits for the first one's handler to finish; with
    ``--threads 3`` (a database server on another machine) it is answered meanwhile."""
    app = make_app(tmp_path, run_folder, request_threads=count)
    with TestClient(app) as client:
        assert login(client, "alice").status_code == 303
        with Blocked(monkeypatch, queue, "queue") as blocked:
            first, first_answers = blocked.get(client, "/queue")
            assert blocked.entered.wait(WAIT_S)
            second, second_answers = blocked.get(client, "/api/me")
            second.join(1.0 if count == 1 else WAIT_S)
            assert first.is_alive() and not first_answers
            if count == 1:
                assert second.is_alive() and not second_answers  # waiting: one quick handler at a time
            else:
                assert not second.is_alive() and [a.status_code for a in second_answers] == [200]
        assert [a.status_code for a in first_answers + second_answers] == [200, 200]


@pytest.mark.parametrize("tokens, on_the_loop", [(1, True), (3, False)])
def test_quick_work_runs_on_the_event_loop_only_with_one_thread(tokens, on_the_loop):
    """One thread: no hand-over to a thread and back (it cost CPU on every call); more: the pool."""
    async def main():
        anyio.to_thread.current_default_thread_limiter().total_tokens = tokens
        value, ident = await threads.quick(lambda x: (x, threading.get_ident()))(7)
        assert value == 7 and (ident == threading.get_ident()) is on_the_loop
        assert (await threads.run_quick(threading.get_ident) == threading.get_ident()) is on_the_loop

    anyio.run(main)


def test_a_slow_handler_does_not_wait_for_the_quick_pool():
    """run_slow gets a thread while the quick handlers' only thread is taken."""
    async def main():
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        release = threading.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, release.wait)  # the quick pool's one thread, busy
            await anyio.sleep(0.1)
            try:
                with anyio.fail_after(5):
                    assert await threads.run_slow(lambda x: x + 1, 41) == 42
            finally:
                release.set()

    anyio.run(main)


def test_the_slow_pool_serves_several_event_loops_at_once():
    """Apps driven from several event loops at once (test clients in threads) each get the slow
    pool's limiter of their own loop: one limiter shared by all left a waiter on one loop that a
    release on another never woke (the concurrent-guesses test hung)."""
    finished = []

    def one_loop():
        async def main():
            async with anyio.create_task_group() as group:
                for _ in range(3 * threads.SLOW_THREADS):
                    group.start_soon(threads.run_slow, time.sleep, 0.02)
        anyio.run(main)
        finished.append(True)

    loops = [threading.Thread(target=one_loop, daemon=True) for _ in range(4)]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join(30)
    assert len(finished) == len(loops)


def test_every_handler_and_dependency_is_async(tmp_path, run_folder):
    """FastAPI hands a sync handler or dependency to a thread by itself; here blocking work goes
    through threads.quick or threads.run_slow instead, so every route's calls are async."""
    from fastapi.routing import APIRoute

    from budgetnlp.review.routes import api, auth, pages

    def calls(dependant):
        yield dependant.call
        for sub in dependant.dependencies:
            yield from calls(sub)

    app_routes = make_app(tmp_path, run_folder).routes
    routes = [r for router in (api.router, auth.router, pages.router) for r in router.routes]
    routes += [r for r in app_routes if isinstance(r, APIRoute)]
    assert len(routes) > 20 and all(isinstance(r, APIRoute) for r in routes)
    assert [f"{r.path}: {c.__name__}" for r in routes for c in calls(r.dependant) if not inspect.iscoroutinefunction(c)] == []


def _bulk_by_api(client):
    total = client.get("/api/queue", params={"flag": "vague"}).json()["total"]
    return client.post("/api/bulk", params={"flag": "vague"}, json={"expected": total, "vague": 1},
                       headers={"X-CSRF-Token": api_token(client)})


def _bulk_by_form(client):
    total = client.get("/api/queue", params={"flag": "vague"}).json()["total"]
    return client.post("/bulk?flag=vague", data={"csrf_token": api_token(client), "expected": total, "vague": "1"},
                       follow_redirects=False)


def _login_again(client):
    client.cookies.clear()
    return login(client, "alice")


def _basic_auth(client):
    client.cookies.clear()
    return client.get("/api/me", auth=("alice", PASSWORD))


@pytest.mark.parametrize("send, called, status", [
    (lambda c: c.get("/progress"), "progress", 200), (lambda c: c.get("/api/progress"), "progress", 200),
    (lambda c: c.get("/api/export"), "_export", 200), (_login_again, "login", 303),
    (_bulk_by_api, "bulk_decide", 200), (_bulk_by_form, "_bulk", 303), (_basic_auth, "login", 200),
], ids=["progress page", "progress API", "export", "login", "bulk API", "bulk form", "HTTP Basic, not cached"])
def test_slow_handlers_run_in_the_slow_pool(tmp_path, run_folder, monkeypatch, send, called, status):
    from budgetnlp.review import deps
    from budgetnlp.review.routes import api, auth, pages

    ran = []

    async def recording(function, *args, **kwargs):
        ran.append(function.__name__)
        return function(*args, **kwargs)

    for module in (api, auth, pages, deps):
        monkeypatch.setattr(module, "run_slow", recording)
    client = TestClient(make_app(tmp_path, run_folder))
    assert login(client, "alice").status_code == 303
    ran.clear()
    assert send(client).status_code == status
    assert ran == [called]


def test_http_basic_checks_a_password_in_the_slow_pool_only_until_it_is_cached(tmp_path, run_folder, monkeypatch):
    from budgetnlp.review import deps

    ran = []

    async def recording(function, *args, **kwargs):
        ran.append(function.__name__)
        return function(*args, **kwargs)

    monkeypatch.setattr(deps, "run_slow", recording)
    client = TestClient(make_app(tmp_path, run_folder))
    assert [_basic_auth(client).status_code for _ in range(3)] == [200, 200, 200]
    assert ran == ["login"]
    assert client.get("/api/me", auth=("alice", "wrong")).status_code == 401
    assert ran == ["login", "login"]


def test_thread_counts_are_checked():
    with pytest.raises(ValueError, match="threads"):
        threads.lifespan(0)
    result = CliRunner().invoke(review_app, ["serve", "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output


def test_sqlite_is_read_through_a_memory_map(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA mmap_size")).scalar() == db.SQLITE_MMAP_BYTES
    engine.dispose()
