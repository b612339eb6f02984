"""Database tables of the review app (SQLAlchemy 2 Core tables) and engine helpers.

SQLite is the default (one file, WAL mode, for an office PC); PostgreSQL works by URL
(``postgresql+psycopg://user@host/db``). The schema is created and upgraded by the Alembic
migrations in ``budgetnlp/review/migrations`` (``migrate(url)``); ``metadata`` below mirrors the
newest migration and a test checks that the two agree.

Tables
    users            reviewers and admins; scrypt password hashes
    settings         key/value pairs (the session-signing secret lives here, so every
                     worker process and every restart signs cookies with the same key)
    runs             imported scoring runs (summary.json)
    model_versions   models with their metrics (from runs and ``review register-model``)
    indicator_rows   one line per indicator row: the row, the newest model predictions and the
                     current review state (version, status, the newest decision, current labels)
    row_search       the searchable text of each row, narrow, for LIKE scans
    row_fts          (SQLite with FTS5) a bigram index over row_search.text: see fulltext.py
    decisions        the append-only history: one line per save, never updated or deleted
                     (database triggers refuse UPDATE and DELETE); an undo is a line of its
                     own (channel "undo") naming the line it withdraws
    sessions         logins, server-side: the cookie holds a random id whose hash is the key,
                     so logout, a password reset or a disable ends a session at once
    login_failures   failed logins per user name and client address, shared by every worker
                     process (the throttle counts here)
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

DEFAULT_DATABASE_URL = "sqlite:///review.sqlite3"
#: environment variable read by ``budgetnlp review`` commands when --db is not given
DATABASE_ENV = "BUDGETNLP_REVIEW_DB"

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_key", sa.String(64), nullable=False, unique=True),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("card", sa.Text, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
)

FLAG_COLUMNS = ["vague", "boilerplate", "category_mismatch", "unmeasurable"]
QUEUE_FILTER_COLUMNS = ["status", "year", "department", *(f"l_{f}" for f in FLAG_COLUMNS), "l_metric_type"]
COUNT_COLUMNS = ["status", "year", *(f"l_{f}" for f in FLAG_COLUMNS), "l_metric_type"]

indicator_rows = sa.Table(
    "indicator_rows",
    metadata,
    sa.Column("row_id", sa.String(64), primary_key=True),
    # the row (DESIGN.md "The row table")
    sa.Column("doc_id", sa.Text, nullable=False),
    sa.Column("source_path", sa.Text, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("project_key", sa.String(32), nullable=False),
    sa.Column("project_code", sa.Text, nullable=False),
    sa.Column("project_name", sa.Text, nullable=False),
    sa.Column("project_budget", sa.Float),
    sa.Column("fund_use", sa.Text, nullable=False),
    sa.Column("project_goals", sa.Text, nullable=False),
    sa.Column("level1", sa.Text, nullable=False),
    sa.Column("level2", sa.Text, nullable=False),
    sa.Column("level1_norm", sa.Text, nullable=False),
    sa.Column("level2_norm", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("extra", sa.Text, nullable=False),
    # the newest model's predictions (DESIGN.md "The scored table")
    *(sa.Column(flag, sa.SmallInteger, nullable=False) for flag in FLAG_COLUMNS),
    *(sa.Column(f"p_{flag}", sa.Float, nullable=False) for flag in FLAG_COLUMNS),
    sa.Column("metric_type", sa.String(16), nullable=False),
    sa.Column("suggested_metric_type", sa.String(16), nullable=False),
    sa.Column("value_op", sa.Text, nullable=False),
    sa.Column("value_number", sa.Float),
    sa.Column("value_low", sa.Float),
    sa.Column("value_high", sa.Float),
    sa.Column("value_unit", sa.Text, nullable=False),
    sa.Column("value_deadline", sa.Text, nullable=False),
    sa.Column("value_issue", sa.Text, nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("margin", sa.Float, nullable=False),  # min over flags of |p - 0.5|: small = uncertain
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("suggestion", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    # review state: bumped by every save (optimistic concurrency)
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False, server_default="unreviewed"),
    *(sa.Column(f"d_{flag}", sa.SmallInteger) for flag in FLAG_COLUMNS),
    sa.Column("d_metric_type", sa.String(16)),
    sa.Column("d_suggested_metric_type", sa.String(16)),
    sa.Column("d_note", sa.Text),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("n_reviewers", sa.Integer, nullable=False, server_default="0"),
    # the current labels (the newest decision, else the model's): what the queue filters on
    *(sa.Column(f"l_{flag}", sa.SmallInteger, nullable=False) for flag in FLAG_COLUMNS),
    sa.Column("l_metric_type", sa.String(16), nullable=False),
    # covering indexes: a queue page or count walks one of them in sort order and tests every
    # filter but the text search inside the index, never touching the wide rows
    sa.Index("ix_rows_risk", "risk", "row_id", *QUEUE_FILTER_COLUMNS),
    sa.Index("ix_rows_margin", "margin", "row_id", *QUEUE_FILTER_COLUMNS),
    # counts per status under any filter, index-only; a department's rows in risk order
    sa.Index("ix_rows_counts", *COUNT_COLUMNS),
    # a rare status (reviewed, conflict) straight to its rows in either order
    sa.Index("ix_rows_status_risk", "status", "risk", "row_id", *QUEUE_FILTER_COLUMNS[1:]),
    sa.Index("ix_rows_status_margin", "status", "margin", "row_id", *QUEUE_FILTER_COLUMNS[1:]),
    sa.Index("ix_rows_department", "department", "risk", "row_id", "margin", *COUNT_COLUMNS),
    sa.Index("ix_rows_project", "project_key", "position"),
    sa.Index("ix_rows_decided_by", "decided_by"),
)

#: A narrow copy of each row for text search: the searchable text (name, description, value,
#: project; NFKC, lower case) and the queue's filter and sort columns, kept in step with
#: indicator_rows on every import and save. A search is one pass over a few megabytes that
#: filters, counts and sorts (LIKE '%…%' works the same on SQLite and PostgreSQL).
row_search = sa.Table(
    "row_search",
    metadata,
    sa.Column("row_id", sa.String(64), sa.ForeignKey("indicator_rows.row_id"), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("project", sa.Text, nullable=False),
    sa.Column("project_key", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("year", sa.Integer),
    sa.Column("department", sa.Text, nullable=False),
    *(sa.Column(f"l_{flag}", sa.SmallInteger, nullable=False) for flag in FLAG_COLUMNS),
    sa.Column("l_metric_type", sa.String(16), nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("margin", sa.Float, nullable=False),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("row_id", sa.String(64), sa.ForeignKey("indicator_rows.row_id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("reviewer", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    *(sa.Column(flag, sa.SmallInteger, nullable=False) for flag in FLAG_COLUMNS),
    sa.Column("metric_type", sa.String(16), nullable=False),
    sa.Column("suggested_metric_type", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("model_flags", sa.String(8), nullable=False),  # the model's four flags when decided, e.g. "0101"
    sa.Column("channel", sa.String(16), nullable=False),  # web, project, api, bulk, undo
    sa.Column("undoes", sa.Integer),  # an undo line: the id of the decision it withdraws
    sa.UniqueConstraint("row_id", "version", name="uq_decisions_row_version"),
    sa.Index("ix_decisions_row", "row_id", "id"),
    sa.Index("ix_decisions_user_row", "user_id", "row_id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie's session id
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("stamp", sa.String(16), nullable=False),  # the password hash's tail at login
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sessions_user", "user_id"),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),  # normalized user name
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_login_failures_name", "name", "at"),
    sa.Index("ix_login_failures_client", "client", "at"),
)


def normalize_url(url: str) -> str:
    """Accept a bare SQLite path as well as an SQLAlchemy URL; ``postgresql://`` uses psycopg 3."""
    url = str(url).strip()
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: SQLite reads the database file through a memory map of up to this size. Each connection's
#: page cache is emptied whenever another connection writes (every save), so under load most
#: reads are rereads; from the map they are memory accesses shared by every connection and
#: worker process, not copies into each connection's cache (bench_review: 9.6 → 7.8 ms of CPU
#: per request). The WAL file is still read the ordinary way.
SQLITE_MMAP_BYTES = 1 << 30


def make_engine(url: str, **kwargs) -> sa.Engine:
    """An engine tuned per dialect: SQLite in WAL mode with a busy timeout and BEGIN IMMEDIATE
    before writes (so concurrent savers queue for the lock instead of failing), read through a
    memory map (SQLITE_MMAP_BYTES); PostgreSQL with
    a connection pool that checks connections before use."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if url not in ("sqlite://", "sqlite:///:memory:"):
            path = sa.engine.make_url(url).database
            if path:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"isolation_level": "IMMEDIATE", "timeout": 30, "check_same_thread": False},
            pool_size=kwargs.pop("pool_size", 20),
            max_overflow=kwargs.pop("max_overflow", 20),
            **kwargs,
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA cache_size=-32000")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=kwargs.pop("pool_size", 20), max_overflow=kwargs.pop("max_overflow", 10), **kwargs)


def migrations_dir() -> Path:
    return Path(__file__).resolve().parent / "migrations"


def alembic_config(engine_or_url):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if isinstance(engine_or_url, sa.Engine):
        config.attributes["engine"] = engine_or_url
    else:
        config.attributes["url"] = normalize_url(engine_or_url)
    return config


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema with the packaged Alembic migrations (idempotent)."""
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def database_url(option: str | None) -> str:
    """--db, else $BUDGETNLP_REVIEW_DB, else ./review.sqlite3."""
    return normalize_url(option or os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL)
