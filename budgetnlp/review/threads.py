"""Which threads of a worker process run the blocking part of a request (database work and
rendering).

Python runs one thread at a time in a process. Left to itself, uvicorn hands every sync handler
to a pool of 40 threads, so a worker serving ten reviewers has ten handlers taking turns at the
GIL; each gives it up at every SQLite call and then waits for it again. Measured with
``evaluation/bench_review.py`` (20 clients, 2 workers, 2 cores), alternating runs: 12.2 ms of CPU
per request with 40 threads, 10.6 with 1, queue-page p95 296 → 214 ms (in a quieter spell: 12.0
→ 7.8 ms, 297 → 144 ms; 2 and 3 threads fall between). So a
worker runs its quick handlers one at a time (``review serve --threads``, default 1) and scales
by processes (``--workers``). With one thread they run on the event loop itself (:func:`quick`):
FastAPI would otherwise hand every sync handler and sync dependency to the thread and back.
The few slow handlers — scrypt at login, the progress page's
agreement figures, exports, bulk labelling — run in a second small pool (:func:`run_slow`), so
a reviewer's queue page never waits behind them.

anyio (FastAPI's) is imported inside the functions: the CLI reads DEFAULT_THREADS without the
[review] extra.
"""

from __future__ import annotations

import contextlib
import functools

#: threads for the quick handlers (queue, row and project pages, saves), per worker process
DEFAULT_THREADS = 1
#: threads for the slow handlers, per worker process
SLOW_THREADS = 2


def lifespan(threads: int):
    """The app's lifespan: sets the worker's pool for quick handlers to ``threads`` (with 1,
    :func:`quick` runs them on the event loop instead)."""
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number ≥ 1, not {threads!r}")

    @contextlib.asynccontextmanager
    async def run(_app):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return run


def quick(function):
    """``function`` (sync) as an async handler or dependency for FastAPI. With one thread for
    quick handlers (the default) it runs on the event loop itself: the worker serves one
    request at a time either way, and handing each call to the thread and back cost ~0.4 ms of
    CPU (a page request made two or three such calls). With more threads it runs in their pool."""

    @functools.wraps(function)
    async def run(*args, **kwargs):
        return await run_quick(function, *args, **kwargs)

    return run


async def run_quick(function, *args, **kwargs):
    """``function(*args, **kwargs)`` as a quick handler's work: see :func:`quick`."""
    import anyio.to_thread

    if anyio.to_thread.current_default_thread_limiter().total_tokens == 1:
        return function(*args, **kwargs)
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


#: the slow pool's limiter, one per event loop (anyio's RunVar, made on first use)
_slow_limiter = None


def slow_limiter():
    """The running event loop's limiter for slow handlers. One per loop, as anyio keeps its own
    default limiter: a limiter's waiters belong to one loop, and one shared by the loops of
    several test clients left a waiter on one loop never woken by a release on another."""
    global _slow_limiter
    import anyio
    from anyio.lowlevel import RunVar

    if _slow_limiter is None:
        _slow_limiter = RunVar("budgetnlp_review_slow_limiter")
    try:
        return _slow_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(SLOW_THREADS)
        _slow_limiter.set(limiter)
        return limiter


async def run_slow(function, *args, **kwargs):
    """``function(*args, **kwargs)`` in the pool for slow handlers."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs), limiter=slow_limiter())
