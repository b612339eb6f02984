"""The review app's workers keep even shares of the connections (budgetnlp.review.connections):
the fair-share rule, the slots the worker processes claim in their shared file, the
``Connection: close`` that moves a connection, and ``review serve --workers 2`` under a burst of
keep-alive connections, counted by the kernel."""

from __future__ import annotations

import asyncio
import http.client
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from budgetnlp.review import connections

pytest.importorskip("fcntl")

SLOT = struct.Struct("q")


@pytest.mark.parametrize("mine, counts, closes", [
    (10, [10, 10], False),  # even
    (11, [11, 10], False),  # the odd one out is allowed its ceiling
    (12, [12, 9], True),
    (19, [19, 1], True),
    (3, [3, 0], True),
    (20, [20, -1], False),  # the other worker has not started: nowhere to send it
    (20, [20], False),  # one worker
    (0, [0, 0], False),
    (7, [7, 7, 6], False),
    (8, [8, 7, 5], True),
])
def test_a_worker_closes_connections_only_above_its_fair_share(mine, counts, closes):
    assert connections.over_share(mine, counts) is closes


def _set_count(path: Path, slot: int, count: int) -> None:
    """Plays another worker: writes its count into its slot."""
    with open(path, "r+b") as file:
        file.seek(slot * SLOT.size)
        file.write(SLOT.pack(count))


def test_a_worker_counts_its_connections_and_closes_down_to_its_share():
    path = connections.create_share_file(2)
    try:
        share = connections.WorkerShare(path)
        assert (share.slot, share.counts()) == (0, [0, -1])
        for _ in range(3):
            share.opened()
        assert not share.should_close()  # the other worker has not claimed its slot yet
        _set_count(path, 1, 0)
        assert share.counts() == [3, 0]
        assert share.should_close()  # 3 of 3 > ceil(3 / 2)
        assert not share.should_close()  # one is closing already: 2 left, the share
        share.closed()  # the closed one is gone; its client comes back to the other worker
        _set_count(path, 1, 1)
        assert share.counts() == [2, 1]
        assert not share.should_close()
        for _ in range(3):
            share.closed()
        assert share.counts()[0] == 0  # never below zero
        share.close()
    finally:
        path.unlink()


CLAIM = """
import sys
from budgetnlp.review import connections
try:
    share = connections.WorkerShare(sys.argv[1])
except RuntimeError as exc:
    print("refused:", exc, flush=True)
else:
    share.opened()
    print(share.slot, flush=True)
    sys.stdin.readline()
"""


def _claim(path: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", CLAIM, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    return process, process.stdout.readline().strip()


def test_worker_processes_claim_their_own_slots_and_a_restarted_worker_takes_over_a_dead_ones():
    path = connections.create_share_file(2)
    processes = []
    try:
        first, slot_first = _claim(path)
        second, slot_second = _claim(path)
        third, refused = _claim(path)
        processes += [first, second, third]
        assert {slot_first, slot_second} == {"0", "1"}
        assert refused.startswith("refused: every slot of 2")
        first.kill()
        first.wait()
        _set_count(path, int(slot_first), 5)  # the dead worker's last count stays in its slot …
        restarted, slot_restarted = _claim(path)
        processes.append(restarted)
        assert slot_restarted == slot_first  # … until its successor takes the slot over
        assert connections.read_counts(path)[int(slot_first)] == 1
    finally:
        for process in processes:
            if process.poll() is None:
                process.communicate("\n", timeout=10)
        path.unlink()


def test_a_worker_without_a_slot_serves_unbalanced_with_a_warning(tmp_path, caplog, monkeypatch):
    """A worker that cannot claim a slot must still start: uvicorn would restart it forever."""
    path = tmp_path / "gone.workers"
    assert connections.join(path) is None
    assert "not balanced" in caplog.text and "gone.workers" in caplog.text
    path.write_bytes(b"")
    assert connections.join(path) is None
    monkeypatch.delenv(connections.SHARE_ENV, raising=False)
    assert connections.join() is None  # one worker: no file to join


class _Share:
    def __init__(self, close: bool):
        self.close = close

    def should_close(self) -> bool:
        return self.close


@pytest.mark.parametrize("close", [True, False])
def test_the_middleware_adds_connection_close_only_when_the_share_says_so(close):
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message):
        sent.append(message)

    middleware = connections.ShedMiddleware(app, _Share(close))
    asyncio.run(middleware({"type": "http"}, None, send))
    assert sent[0]["headers"][0] == (b"content-type", b"text/plain")
    assert ((b"connection", b"close") in sent[0]["headers"]) is close
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}


# ---------------------------------------------------------------- review serve --workers 2
def _established_per_worker(server_pid: int, port: int) -> dict[int, int]:
    """Open connections to ``port`` held by each child of ``server_pid``, as the kernel counts them."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    counts = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != server_pid:
                continue
            fds = list((stat.parent / "fd").iterdir())
        except (OSError, ValueError):
            continue  # a process that ended meanwhile
        held = 0
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[int(stat.parent.name)] = held
    return counts


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_both_workers(tmp: Path, server: subprocess.Popen) -> Path:
    """The share file, once both workers have claimed their slots (clients connecting earlier
    would all land on the first worker up, whatever the balancing)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read()
        files = list(tmp.glob("budgetnlp-review-*.workers"))
        if files and all(count >= 0 for count in connections.read_counts(files[0])):
            return files[0]
        time.sleep(0.2)
    raise AssertionError("the workers did not start in 90 s")


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="counts connections per process through Linux's /proc")
def test_two_workers_end_up_with_even_shares_of_a_burst_of_keep_alive_connections(tmp_path):
    """Twenty clients connect at once and keep their connections; without the balancing, 17–19
    of them stay on one worker (measured). With it, the kernel's count per worker is even."""
    port, tmp = _free_port(), tmp_path / "tmp"
    tmp.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "budgetnlp.review.cli", "serve", "--db", str(tmp_path / "review.sqlite3"),
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=dict(os.environ, TMPDIR=str(tmp)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        share_file = _wait_for_both_workers(tmp, server)
        clients, start, done = 20, threading.Barrier(20), threading.Barrier(21)
        reconnects, errors, looked = [], [], threading.Event()

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            opened = 0
            try:
                start.wait()
                for _ in range(40):
                    if conn.sock is None:
                        opened += 1
                    conn.request("GET", "/login")
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        errors.append(response.status)
                if conn.sock is None:  # the last answer closed it: hold a connection, as a browser would
                    opened += 1
                    conn.request("GET", "/login")
                    conn.getresponse().read()
                reconnects.append(opened - 1)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                done.wait()
                looked.wait(60)  # the connections stay open until counted
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        done.wait(120)
        held = _established_per_worker(server.pid, port)
        shares = sorted((n for n in held.values() if n), reverse=True)
        counted = connections.read_counts(share_file)
        looked.set()
        for t in threads:
            t.join()
        assert not errors
        assert len(shares) == 2 and sum(shares) >= clients - 2, held
        assert shares[0] - shares[1] <= 2, f"connections per worker: {held}"
        assert sum(reconnects) < 4 * clients  # it moves a few connections, it does not churn them all
        assert sorted(counted, reverse=True)[0] - sorted(counted)[0] <= 2
    finally:
        server.terminate()
        server.wait(30)
    assert not share_file.exists()  # serve removes the workers' file when it stops
