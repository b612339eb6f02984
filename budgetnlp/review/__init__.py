"""The reviewer web app: FastAPI + Jinja2 pages and a JSON API over SQLite or PostgreSQL.

Needs the [review] extra (``pip install 'budgetnlp[review]'``); nothing heavy is imported until
used. ``create_app(database_url)`` builds the app; ``service`` holds the plain functions the
routes and the ``budgetnlp review`` commands call.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
