"""Progress for long commands: a rich bar on a terminal, plain periodic lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def progress(total: int, label: str, every: float = 5.0, stream=None, unit: str = "documents") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(rows)``; call it once per finished step (a document, unless ``unit`` says
    otherwise) with its row count."""
    stream = stream or sys.stderr
    start = time.monotonic()
    done = rows = 0
    if stream.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (
            TextColumn(f"{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False, console=None) as bar:
            task = bar.add_task(label, total=total, rate="")

            def advance(n_rows: int) -> None:
                nonlocal done, rows
                done, rows = done + 1, rows + n_rows
                elapsed = max(time.monotonic() - start, 1e-9)
                bar.update(task, advance=1, rate=f"{done / elapsed:.1f} {unit}/s, {rows} rows")

            yield advance
        return

    last = start

    def advance(n_rows: int) -> None:
        nonlocal done, rows, last
        done, rows = done + 1, rows + n_rows
        now = time.monotonic()
        if now - last >= every or done == total:
            last = now
            rate = done / max(now - start, 1e-9)
            print(f"{label}: {done}/{total} {unit}, {rows} rows, {rate:.1f} {unit}/s", file=stream, flush=True)

    yield advance
