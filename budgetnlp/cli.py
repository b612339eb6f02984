"""The ``budgetnlp`` command: typer commands that call plain library functions."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import BudgetNLPError

app = typer.Typer(
    help="budgetnlp: find weak performance targets in Chinese budget disclosures (绩效目标表).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"budgetnlp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"budgetnlp: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def extract(
    inputs: List[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output table: .csv (UTF-8 with BOM), .jsonl or .parquet."),
) -> None:
    """Extract indicator rows, with their project context, from disclosures."""
    from ._progress import progress
    from .extract import extract_file, iter_files, rows_frame
    from .errors import InputError
    from .io import TABLE_SUFFIXES, errors_frame, write_table

    if out.suffix.lower() not in TABLE_SUFFIXES:
        _fail(f"{out}: unsupported output type {out.suffix or '(none)'}: use .csv, .jsonl or .parquet", 1)
    files = list(iter_files(inputs))
    frames, errors = [], []
    with progress(len(files), "extract") as advance:
        for path in files:
            try:
                frame = extract_file(path)
                frames.append(frame)
                advance(len(frame))
            except InputError as error:
                errors.append(error)
                typer.echo(f"budgetnlp: {error}", err=True)
                advance(0)
    import pandas as pd

    rows = pd.concat(frames, ignore_index=True) if frames else rows_frame([])
    write_table(rows, out)
    errors_path = out.with_name(out.stem + ".errors.csv")
    write_table(errors_frame(errors), errors_path)
    typer.echo(f"{len(rows)} rows from {len(frames)} of {len(files)} files → {out}" + (f"; {len(errors)} errors → {errors_path}" if errors else ""), err=True)
    if not frames:
        raise typer.Exit(2)


def main() -> None:
    """Console entry point: usage errors exit 1, domain errors print one line, no tracebacks."""
    try:
        code = app(standalone_mode=False)
    except BudgetNLPError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"budgetnlp: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click/typer usage errors
            exc.show()
            sys.exit(1)
        if type(exc).__name__ == "Abort":
            typer.echo("budgetnlp: aborted", err=True)
            sys.exit(1)
        if _state["debug"]:
            traceback.print_exc()
        else:
            typer.echo(f"budgetnlp: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
