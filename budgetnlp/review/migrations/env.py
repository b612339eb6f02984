"""Alembic environment of the review database: runs on the connection (or URL) handed in by
``budgetnlp.review.db.migrate``; there is no alembic.ini — the URL never sits in a file."""

from __future__ import annotations

from alembic import context

from budgetnlp.review.db import make_engine, metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.attributes["url"], target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = config.attributes.get("engine") or make_engine(config.attributes["url"])
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
