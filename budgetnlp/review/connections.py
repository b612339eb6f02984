"""What the review app does per TCP connection when uvicorn serves it: TCP_NODELAY, and an even
share of the connections for each worker process (``review serve --workers N``).

uvicorn's workers share one listening socket, and asyncio accepts every pending connection in
one go, so reviewers connecting at about the same time mostly land on whichever worker woke
first, and keep-alive holds them there: measured with ``evaluation/bench_review.py`` (20
clients, 2 workers), 17–19 of the 20 connections on one worker, whose clients then waited for
one core while the other stood idle. So each worker writes its count of open connections into
its own slot of a small file that every worker maps (:class:`WorkerShare`); a worker holding
more than its fair share, ceil(all open connections / workers), answers its next request with
``Connection: close`` (:class:`ShedMiddleware`). The browser opens a new connection for its
next request, and that one goes to whichever worker accepts it, until the shares are even. A
worker claims its slot with a lock that the OS drops when the process ends, so a worker that
uvicorn restarts takes over its predecessor's slot.

Without ``fcntl`` (Windows) the workers run unbalanced, as uvicorn leaves them.
"""

from __future__ import annotations

import functools
import logging
import mmap
import os
import socket
import struct
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: the workers' shared file, set by ``review serve`` for its worker processes
SHARE_ENV = "BUDGETNLP_REVIEW_WORKER_SHARE"
_SLOT = struct.Struct("q")  # one signed 64-bit count of open connections per worker
_UNCLAIMED = -1  # a slot no worker has taken yet (it counts neither as a worker nor as connections)

#: this process's share, once :func:`join` has claimed a slot (the protocol has no other way to reach it)
_share: WorkerShare | None = None


def create_share_file(workers: int) -> Path | None:
    """The file the workers share, one unclaimed slot per worker (``review serve`` makes it and
    removes it when the server stops); None where workers cannot lock their slots."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    handle, name = tempfile.mkstemp(prefix="budgetnlp-review-", suffix=".workers")
    with os.fdopen(handle, "wb") as file:
        file.write(_SLOT.pack(_UNCLAIMED) * workers)
    return Path(name)


def _counts(data) -> list[int]:
    """Every whole slot's count in ``data`` (bytes or a map of the share file; -1: unclaimed)."""
    return [count for (count,) in _SLOT.iter_unpack(memoryview(data)[: len(data) // _SLOT.size * _SLOT.size])]


def read_counts(path: str | Path) -> list[int]:
    """Every slot's count in a share file, without claiming one."""
    return _counts(Path(path).read_bytes())


def over_share(mine: int, counts: list[int]) -> bool:
    """Whether a worker with ``mine`` connections (not counting those it is already closing)
    holds more than its fair share of all the workers' ``counts`` (its own slot included)."""
    live = [c for c in counts if c != _UNCLAIMED]
    return len(live) > 1 and mine > -(-sum(live) // len(live))


class WorkerShare:
    """This worker's slot in the shared file, and the other workers' counts."""

    def __init__(self, path: str | Path):
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        self.slots = size // _SLOT.size
        self._map = mmap.mmap(self._fd, size)
        self.slot = self._claim()
        self.open = 0  # connections this worker holds
        self.closing = 0  # of those, answered with Connection: close and not yet gone
        self._write()

    def _claim(self) -> int:
        for slot in range(self.slots):
            try:  # a record lock is the process's own: the OS releases it when the process ends
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _SLOT.size, slot * _SLOT.size)
            except OSError:
                continue
            return slot
        self.close()
        raise RuntimeError(f"every slot of {self.slots} in the workers' share file is held by a running worker")

    def close(self) -> None:
        """Gives the slot up (the OS does so anyway when the process ends)."""
        self._map.close()
        os.close(self._fd)

    def counts(self) -> list[int]:
        return _counts(self._map)

    def _write(self) -> None:
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, self.open)

    def opened(self) -> None:
        self.open += 1
        self._write()

    def closed(self) -> None:
        self.open = max(0, self.open - 1)
        self.closing = max(0, self.closing - 1)
        self._write()

    def should_close(self) -> bool:
        """Whether to answer this request with Connection: close (and count it as closing)."""
        if over_share(self.open - self.closing, self.counts()):
            self.closing += 1
            return True
        return False


def join(path: str | Path | None = None) -> WorkerShare | None:
    """Claims this worker's slot in the file named by ``path`` or $BUDGETNLP_REVIEW_WORKER_SHARE
    (None when neither is set, as with one worker, or where locks are missing). A worker that
    cannot claim one serves unbalanced, with a warning, rather than fail to start (uvicorn would
    start it again and again)."""
    global _share
    path = path or os.environ.get(SHARE_ENV)
    if not path or fcntl is None:
        return None
    try:
        _share = WorkerShare(path)
    except (OSError, ValueError, RuntimeError) as exc:  # no such file, an empty one, every slot held
        logging.getLogger("budgetnlp.review").warning(
            "budgetnlp review: this worker's connections are not balanced with the others' (%s: %s)", path, exc)
        return None
    return _share


class ShedMiddleware:
    """Adds ``Connection: close`` to a response while this worker holds more than its share."""

    def __init__(self, app, share: WorkerShare):
        self.app, self.share = app, share

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.share.should_close():
            return await self.app(scope, receive, send)

        async def send_closing(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)


def __getattr__(name: str):
    # uvicorn imports the protocol class by name ("budgetnlp.review.connections:H11Protocol")
    if name == "H11Protocol":
        return _protocol()
    raise AttributeError(name)


@functools.lru_cache(maxsize=1)
def _protocol():
    """uvicorn's h11 protocol, with TCP_NODELAY set on each accepted connection, and each
    connection counted in this worker's share.

    With --workers > 1 uvicorn binds the listening socket itself, and asyncio then leaves Nagle's
    algorithm on: a response written as headers + body waits for the client's delayed ACK, ~40 ms
    per request. Setting TCP_NODELAY per connection avoids that."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class CountedH11Protocol(H11Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:  # pragma: no cover - not a TCP socket after all
                    pass
            if _share is not None:
                _share.opened()
            super().connection_made(transport)

        def connection_lost(self, exc):
            if _share is not None:
                _share.closed()
            super().connection_lost(exc)

    return CountedH11Protocol
