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


def _limits(member_mb: float, document_mb: float, html_depth: int, table_cells: int):
    from .extract._limits import Limits

    return Limits(member_mb=member_mb, document_mb=document_mb, html_depth=html_depth, table_cells=table_cells)


_MEMBER_MB = typer.Option(32.0, "--max-member-mb", help="Largest unpacked zip member of a .docx/.xlsx, in MB.")
_DOCUMENT_MB = typer.Option(96.0, "--max-document-mb", help="Largest unpacked .docx/.xlsx (all members), in MB.")
_HTML_DEPTH = typer.Option(200, "--max-html-depth", help="Deepest HTML element nesting (at most 255).")
_TABLE_CELLS = typer.Option(2_000_000, "--max-table-cells", help="Most cells in one table.")


@app.command()
def extract(
    inputs: List[Path] = typer.Argument(..., help="Files or folders (searched recursively)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output table: .csv (UTF-8 with BOM), .jsonl or .parquet."),
    max_member_mb: float = _MEMBER_MB,
    max_document_mb: float = _DOCUMENT_MB,
    max_html_depth: int = _HTML_DEPTH,
    max_table_cells: int = _TABLE_CELLS,
) -> None:
    """Extract indicator rows, with their project context, from disclosures."""
    from ._progress import progress
    from .extract import extract as run_extract
    from .extract import iter_files
    from .io import check_output_file, errors_frame, extract_warnings, write_table

    limits = _limits(max_member_mb, max_document_mb, max_html_depth, max_table_cells)
    errors_path = out.with_name(out.stem + ".errors.csv")
    check_output_file(out)  # before any reading: a folder we cannot write to is a one-line error now
    check_output_file(errors_path)
    files = list(iter_files(inputs))
    with progress(len(files), "extract") as advance:

        def report(rows: int, note) -> None:
            if note is not None:
                typer.echo(f"budgetnlp: {note}", err=True)
            advance(rows)

        result = run_extract(files, limits, progress=report)
    warnings = extract_warnings(result.rows)  # tables whose columns failed (or needed) the self-check
    for warning in warnings:
        typer.echo(f"budgetnlp: warning: {warning}", err=True)
    write_table(result.rows, out)
    write_table(errors_frame(result.errors, result.duplicates, warnings), errors_path)
    used = len(files) - len(result.errors) - len(result.duplicates)
    notes = [f"{len(result.errors)} errors" if result.errors else "", f"{len(result.duplicates)} duplicates" if result.duplicates else ""]
    notes.append(f"{len(warnings)} warnings" if warnings else "")
    notes = " and ".join(n for n in notes if n)
    typer.echo(f"{len(result.rows)} rows from {used} of {len(files)} files → {out}" + (f"; {notes} → {errors_path}" if notes else ""), err=True)
    if result.rows.empty:
        raise typer.Exit(2)


@app.command()
def normalize(
    text: str = typer.Argument(..., help="A written 指标值, e.g. \"≥90%\"."),
    name: Optional[str] = typer.Option(None, "--name", help="The 三级指标 name (helps unit checks)."),
    level2: Optional[str] = typer.Option(None, "--level2", help="The 二级指标."),
    year: Optional[int] = typer.Option(None, "--year", help="Budget year, for deadlines such as 年底前."),
) -> None:
    """Parse one value into op, number, unit, metric type, deadline and issue (JSON)."""
    from .normalize import parse_value

    typer.echo(json.dumps(parse_value(text, name=name, level2=level2, year=year).to_dict(), ensure_ascii=False))


dataset_app = typer.Typer(help="Build the labelled dataset.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")

from .review.cli import review_app  # noqa: E402  (imports nothing heavy: FastAPI loads inside its commands)

app.add_typer(review_app, name="review")


@dataset_app.command("build")
def dataset_build(
    rows: Optional[Path] = typer.Option(None, "--rows", help="Row table from `budgetnlp extract` (default: extract data/samples)."),
    annotations: List[Path] = typer.Option([], "--annotations", help="Annotation files or folders (default: data/annotations)."),
    out: Path = typer.Option(Path("data/processed"), "-o", "--out", help="Output folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the document-grouped splits and the label model."),
) -> None:
    """Join annotations to rows, weak-label the rest, save a DatasetDict with grouped splits."""
    from .dataset import build_dataset, save_dataset
    from .extract import extract as run_extract
    from .io import read_table

    frame = read_table(rows) if rows else run_extract([Path("data") / "samples"]).rows
    frame = build_dataset(frame, annotations or [Path("data") / "annotations"], seed=seed)
    save_dataset(frame, out, seed=seed)
    counts = frame["label_source"].value_counts().to_dict()
    groups = frame.groupby("source_kind")["group"].nunique().to_dict()
    typer.echo(f"{len(frame)} rows ({', '.join(f'{k} {v}' for k, v in counts.items())}) in {frame['group'].nunique()} groups"
               f" ({', '.join(f'{k} {v}' for k, v in groups.items())}) → {out}", err=True)


@app.command()
def train(
    out: Path = typer.Option(..., "-o", "--out", help="Model folder, e.g. models/NAME."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config (default: the shipped default model's, budgetnlp/resources/default_config.yaml)."),
    data: Path = typer.Option(Path("data/processed"), "--data", help="Dataset folder from `budgetnlp dataset build`."),
    backend: Optional[str] = typer.Option(None, "--backend", help="sklearn (default) or transformer."),
    model_path: Optional[Path] = typer.Option(None, "--model-path", help="Local Hugging Face encoder folder (transformer backend)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing model folder."),
    cv: bool = typer.Option(True, "--cv/--no-cv", help="Cross-validate for metrics.json (slow with a transformer on a CPU)."),
) -> None:
    """Train a model; save it with skops, its config, metrics.json and MODEL_CARD.md."""
    from .training import train_from_folder

    model = train_from_folder(
        data, config, out, force=force, cv=cv, backend=backend, model_path=str(model_path) if model_path else None
    )
    typer.echo(f"model {model.label} → {out}", err=True)


@app.command()
def evaluate(
    model: Optional[Path] = typer.Option(None, "--model", help="Model folder whose config to evaluate (default: the shipped default config)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Dataset folder (default: build from data/samples + data/annotations)."),
    out: Path = typer.Option(Path("evaluation/results"), "--out", help="Where cv_results.json and cv_summary.md go."),
    curve: bool = typer.Option(True, "--learning-curve/--no-learning-curve", help="Also compute the learning curve by training sources."),
    provinces: bool = typer.Option(True, "--provinces/--no-provinces", help="Also run leave-one-province-out."),
    folds: int = typer.Option(8, "--folds", min=0, help="Grouped folds (0: leave one source out)."),
    holdout: bool = typer.Option(False, "--include-holdout/--exclude-holdout", help="Include the sources of evaluation/holdout_sources.txt (kept aside during development) and report them as their own line."),
    quick: bool = typer.Option(False, "--quick", help="Development/test run: 4 folds, no province run, no learning curve."),
) -> None:
    """Grouped cross-validation on the gold rows (whole sources held out), against two baselines."""
    from .config import load_config
    from .dataset import build_dataset, load_dataset_frame
    from .evaluate import run_evaluation, summary_table, write_results
    from .extract import extract as run_extract
    from .training import DEFAULT_CONFIG

    from .models._artifact import CONFIG_FILE

    config_path = (model / CONFIG_FILE) if model else DEFAULT_CONFIG
    cfg = load_config(config_path)
    if data:
        frame = load_dataset_frame(data)
    else:
        frame = build_dataset(run_extract([Path("data") / "samples"]).rows, [Path("data") / "annotations"], seed=cfg.seed)
    if quick:
        folds, provinces, curve = 4, False, False
    results, by_province, points = run_evaluation(frame, cfg, folds=folds, include_holdout=holdout,
                                                  provinces=provinces, curve=curve)
    write_results(results, points, out, by_province)
    typer.echo(summary_table(results))
    if points:
        typer.echo("\nlearning curve (training sources → macro-F1): " + ", ".join(f"{p['training_sources']} → {p['macro_f1']:.3f}" for p in points))
    typer.echo(f"results → {out}", err=True)


@app.command()
def score(
    inputs: List[Path] = typer.Argument(..., help="Disclosures (any supported format) or row tables (.csv/.jsonl/.parquet); files or folders."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder for scored.csv/.parquet/.xlsx, report.html, summary.json, errors.csv."),
    model: str = typer.Option("default", "--model", help="A model folder, or a name looked up in $BUDGETNLP_MODELS, ./models and your user folder (default: the shipped model, or its `budgetnlp model rebuild`)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Local processes for extraction and scoring."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address tcp://HOST:PORT (the [dist] extra)."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Skip documents already scored by this code and model."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Score cache (default ~/.cache/budgetnlp/scores or $BUDGETNLP_CACHE)."),
    report_rows: int = typer.Option(100_000, "--report-rows", min=1, help="Rows carried into scored.xlsx and report.html (the weakest first)."),
    weakest: int = typer.Option(50, "--weakest", min=1, help="Rows in report.html's list of weakest targets (the rest: scored.xlsx, the review app)."),
    sort: str = typer.Option("risk", "--sort", help="Order of scored.xlsx's main sheet: risk (highest first) or document."),
    repetition: str = typer.Option("run", "--repetition", help="Where repetition counts (boilerplate evidence: the same name and value in many projects) come from, besides the model's training corpus: run (every input of this run; two passes, extraction then scoring) or document (each document's own rows only; one pass, for streaming or very large runs)."),
    max_member_mb: float = _MEMBER_MB,
    max_document_mb: float = _DOCUMENT_MB,
    max_html_depth: int = _HTML_DEPTH,
    max_table_cells: int = _TABLE_CELLS,
) -> None:
    """Score a year's disclosures: flags, probabilities, reasons and suggestions, with reports."""
    from ._progress import progress
    from .extract import iter_files
    from .scoring import check_output_folder, connect
    from .scoring import score as run_score
    from .training import load_with_warnings

    limits = _limits(max_member_mb, max_document_mb, max_html_depth, max_table_cells)
    if sort not in ("risk", "document"):
        raise BudgetNLPError(f"--sort {sort}: choose risk or document")
    if repetition not in ("run", "document"):
        raise BudgetNLPError(f"--repetition {repetition}: choose run or document")
    check_output_folder(out)  # before any work: one line if the folder cannot be written
    client = connect(scheduler) if scheduler else None
    try:
        load_with_warnings(model, say=lambda message: typer.echo(message, err=True))  # one line up front if it cannot be used
        total = sum(1 for _ in iter_files(inputs))
        # a run counted over all its inputs reads every input first, then scores it: two steps each
        steps = (2 * total, "score (read, then score)", "steps") if repetition == "run" else (total, "score", "documents")
        with progress(steps[0], steps[1], unit=steps[2]) as advance:

            def report(rows: int, note) -> None:
                if note is not None:
                    typer.echo(f"budgetnlp: {note}", err=True)
                advance(rows)

            run = run_score(inputs, out, model, workers=workers, scheduler=client, cache=cache,
                            cache_dir=cache_dir, report_rows=report_rows, limits=limits, progress=report,
                            repetition=repetition, top_rows=weakest, xlsx_order=sort)
    finally:
        if client is not None:
            client.close()
    notes = [f"{len(run.errors)} errors" if run.errors else "", f"{len(run.duplicates)} duplicates" if run.duplicates else "",
             f"{len(run.warnings)} extraction warnings" if run.warnings else ""]
    notes = ", ".join(n for n in notes if n)
    typer.echo(
        f"{run.rows} rows from {run.documents} of {total} inputs ({run.cached} from cache) → {out}"
        + (f"; {notes} → {out / 'errors.csv'}" if notes else ""),
        err=True,
    )
    if run.documents == 0:
        raise typer.Exit(2)


model_app = typer.Typer(help="The default model shipped with the package.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("rebuild")
def model_rebuild(
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Model folder (default: your user folder, $BUDGETNLP_HOME/models/default or ~/.local/share/budgetnlp/models/default, replaced)."),
    force: bool = typer.Option(False, "--force", help="Replace a model already in --out."),
    cv: bool = typer.Option(True, "--cv/--no-cv", help="Cross-validate for metrics.json and the model card."),
) -> None:
    """Retrain the default model from the rows and config shipped with the package (about a minute), when
    the shipped one cannot be loaded (e.g. other library versions); `--model default` then uses it."""
    from .training import rebuild_default_model

    model = rebuild_default_model(out, cv=cv, force=force)
    typer.echo(f"model {model.label} → {model.folder}", err=True)


cache_app = typer.Typer(help="The score cache (scored documents kept between runs).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
_CACHE_DIR = typer.Option(None, "--cache-dir", help="Score cache (default ~/.cache/budgetnlp/scores or $BUDGETNLP_CACHE).")


@cache_app.command("clear")
def cache_clear(cache_dir: Optional[Path] = _CACHE_DIR) -> None:
    """Delete every cached score (the next `score` re-reads and re-scores every input)."""
    from .scoring import clear_cache, default_cache_dir

    files, size = clear_cache(cache_dir)
    typer.echo(f"removed {files} cached documents ({size / 1e6:.1f} MB) from {cache_dir or default_cache_dir()}", err=True)


@cache_app.command("path")
def cache_path(cache_dir: Optional[Path] = _CACHE_DIR) -> None:
    """Print where the score cache lives."""
    from .scoring import default_cache_dir

    typer.echo(str(cache_dir or default_cache_dir()))


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
