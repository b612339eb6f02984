"""``budgetnlp review …``: the review app's commands (a typer sub-app).

Registered in budgetnlp/cli.py with ``app.add_typer(review_app, name="review")``. Heavy
imports (FastAPI, SQLAlchemy, uvicorn) happen inside the commands, so ``budgetnlp`` works
without the [review] extra and these commands then name the install to run.

The database is --db URL, else $BUDGETNLP_REVIEW_DB, else ./review.sqlite3; serve, import,
adduser and register-model upgrade its schema first (Alembic migrations shipped in the package).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from .threads import DEFAULT_THREADS

review_app = typer.Typer(
    help="Reviewer web app: import scoring runs, manage reviewers, serve the app, export decisions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: uvicorn's h11 protocol with TCP_NODELAY on every connection, each counted in its worker's share
#: (see budgetnlp.review.connections)
HTTP_PROTOCOL = "budgetnlp.review.connections:H11Protocol"
DB_HELP = "Database: an SQLAlchemy URL (sqlite:///path, postgresql+psycopg://user@host/db) or an SQLite file path. Default: $BUDGETNLP_REVIEW_DB or ./review.sqlite3."


def _require() -> None:
    missing = []
    for module in ("fastapi", "sqlalchemy", "alembic", "uvicorn", "jinja2", "python_multipart", "itsdangerous"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"the review app needs {', '.join(missing)}: pip install 'budgetnlp[review]'")


def _engine(db_option: Optional[str], migrate: bool = True):
    """The database engine; with ``migrate`` the schema is created or upgraded, without it the
    database must exist already (an export never creates an empty one)."""
    _require()
    from sqlalchemy.engine import make_url

    from ..errors import InputError
    from . import db

    url = db.database_url(db_option)
    parsed = make_url(url)
    if not migrate and parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        raise InputError(parsed.database, "no review database here (import a scoring run first: `budgetnlp review import`)")
    engine = db.make_engine(url)
    if migrate:
        db.migrate(engine)
    return engine, url


def _shown(url: str) -> str:
    """The URL without a password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@review_app.command("serve")
def serve(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 to serve the office network)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes; use one per CPU core for many reviewers (SQLite in WAL mode or PostgreSQL)."),
    threads: int = typer.Option(DEFAULT_THREADS, "--threads", min=1, max=64,
                                help="Threads per worker for the queue and row pages and saves. Python runs one thread at a "
                                     "time, so more threads only take turns (1 is fastest on SQLite); raise it when the "
                                     "database is on another machine and its answers take a while."),
    session_max_age: int = typer.Option(10 * 3600, "--session-max-age", min=60, help="Seconds a login lasts."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark the session cookie Secure (behind HTTPS)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the review app (login with accounts made by `budgetnlp review adduser`)."""
    import os

    engine, url = _engine(db)
    from . import service

    if not service.list_users(engine):
        typer.echo("budgetnlp: no accounts yet: create one with `budgetnlp review adduser NAME --role admin`", err=True)
    engine.dispose()
    import uvicorn

    typer.echo(f"review app on http://{host}:{port}/ (database {_shown(url)})", err=True)
    if workers == 1:
        from .app import create_app

        app = create_app(url, session_max_age=session_max_age, secure_cookies=secure_cookies, migrate=False,
                         request_threads=threads)
        uvicorn.run(app, host=host, port=port, log_level=log_level, http=HTTP_PROTOCOL)
        return
    os.environ["BUDGETNLP_REVIEW_DB"] = url
    os.environ["BUDGETNLP_REVIEW_SESSION_MAX_AGE"] = str(session_max_age)
    os.environ["BUDGETNLP_REVIEW_SECURE_COOKIES"] = "1" if secure_cookies else "0"
    os.environ["BUDGETNLP_REVIEW_THREADS"] = str(threads)
    from .connections import SHARE_ENV, create_share_file

    share_file = create_share_file(workers)
    if share_file is not None:
        os.environ[SHARE_ENV] = str(share_file)
    try:
        uvicorn.run("budgetnlp.review.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, http=HTTP_PROTOCOL)
    finally:
        if share_file is not None:
            share_file.unlink(missing_ok=True)


@review_app.command("import")
def import_(
    out_dir: Path = typer.Argument(..., help="A scoring run folder written by `budgetnlp score` (scored.parquet + summary.json)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Load a scoring run: new rows are added; a newer run updates predictions, never decisions."""
    from ..errors import InputError

    if not out_dir.is_dir():
        raise InputError(out_dir, "no such scoring run folder (written by `budgetnlp score`)")
    engine, url = _engine(db)
    from . import service

    result = service.import_run(engine, out_dir)
    if not result["new_run"]:
        typer.echo(f"{out_dir}: this run was imported before; nothing changed ({_shown(url)})", err=True)
    else:
        typer.echo(
            f"{out_dir}: {result['rows']} rows from {result['model']}: {result['inserted']} new, {result['updated']} updated, "
            f"{result['unchanged']} unchanged, {result['older']} kept (scored by a newer run) → {_shown(url)}",
            err=True,
        )
    typer.echo(json.dumps(result, ensure_ascii=False))


@review_app.command("adduser")
def adduser(
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("reviewer", "--role", help="reviewer or admin (an admin's save settles a disagreement)."),
    password: Optional[str] = typer.Option(None, "--password", help="The password (prompted twice when left out)."),
    update: bool = typer.Option(False, "--update", help="Reset the password and role of an existing user."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create a reviewer or admin account (password hashed with scrypt and a per-user salt)."""
    if role not in ("reviewer", "admin"):
        raise ConfigError(f"--role must be reviewer or admin, not {role!r}")
    engine, url = _engine(db)
    from . import service

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = service.add_user(engine, name, password, role, update=update)
    typer.echo(f"{'updated' if update else 'added'} {user['role']} {user['name']} ({_shown(url)})", err=True)


@review_app.command("disable")
def disable(
    name: str = typer.Argument(..., help="Login name."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Disable an account: its logins are refused and its sessions end at once; its
    decisions stay. `adduser NAME --update` enables it again with a new password."""
    engine, url = _engine(db)
    from . import service

    service.disable_user(engine, name)
    typer.echo(f"disabled {name} ({_shown(url)})", err=True)


@review_app.command("users")
def users(db: Optional[str] = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """List accounts."""
    engine, _ = _engine(db)
    from . import service

    for user in service.list_users(engine):
        typer.echo(f"{user['name']}\t{user['role']}\t{'active' if user['active'] else 'disabled'}")


@review_app.command("export")
def export(
    out: Path = typer.Option(..., "-o", "--out", help="CSV to write, e.g. data/annotations/review-YYYYMMDD.csv."),
    all_decisions: bool = typer.Option(False, "--all", help="Every saved decision (oldest first) instead of the newest per row."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write decisions in the gold-annotation format (read by `budgetnlp dataset build`)."""
    engine, _ = _engine(db, migrate=False)
    from . import service

    path, count = service.write_export(engine, out, all_decisions=all_decisions)
    typer.echo(f"{count} decisions → {path}", err=True)


@review_app.command("export-labelstudio")
def export_labelstudio(
    out: Path = typer.Option(..., "-o", "--out", help="Label Studio tasks JSON to write."),
    run: Optional[Path] = typer.Option(None, "--run", help="Take the rows from this scoring run folder instead of the database."),
    unreviewed: bool = typer.Option(False, "--unreviewed", help="Only rows nobody has reviewed yet (database only)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most this many tasks, highest risk first."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Export rows as Label Studio tasks with the model's predictions (config: `review labelstudio-config`)."""
    if run is not None:
        from ..labelstudio import tasks_from_frame
        from . import service

        _summary, frame, _key = service.read_run(run)
        if "model" not in frame.columns or not frame["model"].astype(str).str.len().any():
            frame = frame.assign(model=f"{_summary['model']['name']} {_summary['model']['version']}")
        if "risk" in frame.columns:
            frame = frame.sort_values("risk", ascending=False, kind="stable")
        tasks = tasks_from_frame(frame.head(limit) if limit else frame)
    else:
        engine, _ = _engine(db, migrate=False)
        from . import service

        tasks = service.labelstudio_tasks(engine, only_unreviewed=unreviewed, limit=limit)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
    typer.echo(f"{len(tasks)} tasks → {out}", err=True)


@review_app.command("labelstudio-config")
def labelstudio_config() -> None:
    """Print the Label Studio labeling config (XML) for the exported tasks."""
    from ..labelstudio import LABELING_CONFIG

    typer.echo(LABELING_CONFIG, nl=False)


@review_app.command("register-model")
def register_model(
    model_dir: Path = typer.Argument(..., help="A trained model folder with metrics.json (and a model card)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name (default: from metrics.json/config, else the folder name)."),
    version: Optional[str] = typer.Option(None, "--version", help="Model version (default: from metrics.json/config, else a hash)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Record a model's metrics so the progress page lists it beside earlier versions."""
    engine, url = _engine(db)
    from . import service

    info = service.register_model(engine, model_dir, name, version)
    typer.echo(f"registered {info['name']} {info['version']} ({len(service.flat_metrics(info['metrics']))} metrics) → {_shown(url)}", err=True)


def main() -> None:  # pragma: no cover - `python -m budgetnlp.review.cli`
    import sys

    from ..errors import BudgetNLPError

    try:
        code = review_app(standalone_mode=False)
    except BudgetNLPError as exc:
        typer.echo(f"budgetnlp: {exc}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
