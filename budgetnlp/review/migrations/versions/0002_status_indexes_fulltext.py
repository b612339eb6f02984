"""Queue indexes that start with the review status, and the SQLite bigram text index.

A queue filtered to a rare status (reviewed, conflict) walked the whole risk index to find its
page; these indexes go straight to it. ``row_fts`` (SQLite with FTS5 only; see
``budgetnlp.review.fulltext``) makes text search an index lookup instead of a scan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from budgetnlp.review import fulltext

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FLAGS = ["vague", "boilerplate", "category_mismatch", "unmeasurable"]
COVERED = ["year", "department", *(f"l_{f}" for f in FLAGS), "l_metric_type"]


def upgrade() -> None:
    op.create_index("ix_rows_status_risk", "indicator_rows", ["status", "risk", "row_id", *COVERED])
    op.create_index("ix_rows_status_margin", "indicator_rows", ["status", "margin", "row_id", *COVERED])
    conn = op.get_bind()
    if fulltext.create(conn):
        fulltext.index_all(conn)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE IF EXISTS {fulltext.TABLE}")
    op.drop_index("ix_rows_status_margin", "indicator_rows")
    op.drop_index("ix_rows_status_risk", "indicator_rows")
