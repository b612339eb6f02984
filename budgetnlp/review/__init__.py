"""The reviewer web app: FastAPI + Jinja2 pages and a JSON API over SQLite or PostgreSQL.

Needs the [review] extra (``pip install 'budgetnlp[review]'``); nothing heavy is imported until
used. ``create_app(database_url)`` builds the app (app.py); the work is done by the service
modules — users, ingest, queue, rows, decisions, exports, progress (gathered in ``service``) —
and the routes in routes/ only parse, call one of them and answer.
"""

from __future__ import annotations

__all__ = ["create_app"]

EXTRA_HINT = "pip install 'budgetnlp[review]'"


def __getattr__(name: str):
    if name == "create_app":
        try:
            from .app import create_app
        except ImportError as exc:
            if exc.name and exc.name.split(".")[0] == "budgetnlp":
                raise
            raise ImportError(f"the review app needs {exc.name or 'its dependencies'}: {EXTRA_HINT}", name=exc.name) from exc
        return create_app
    raise AttributeError(name)
