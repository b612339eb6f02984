"""Initial schema: users, settings, runs, model versions, indicator rows, search text, decision history.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FLAGS = ["vague", "boilerplate", "category_mismatch", "unmeasurable"]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
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
    op.create_table(
        "model_versions",
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
    text_columns = [
        "doc_id", "source_path", "doc", "department",
    ]
    op.create_table(
        "indicator_rows",
        sa.Column("row_id", sa.String(64), primary_key=True),
        *(sa.Column(c, sa.Text, nullable=False) for c in text_columns),
        sa.Column("year", sa.Integer),
        sa.Column("project_key", sa.String(32), nullable=False),
        sa.Column("project_code", sa.Text, nullable=False),
        sa.Column("project_name", sa.Text, nullable=False),
        sa.Column("project_budget", sa.Float),
        *(
            sa.Column(c, sa.Text, nullable=False)
            for c in ["fund_use", "project_goals", "level1", "level2", "level1_norm", "level2_norm",
                      "name", "description", "value", "basis", "location"]
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        *(sa.Column(flag, sa.SmallInteger, nullable=False) for flag in FLAGS),
        *(sa.Column(f"p_{flag}", sa.Float, nullable=False) for flag in FLAGS),
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
        sa.Column("margin", sa.Float, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("suggestion", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False, server_default="unreviewed"),
        *(sa.Column(f"d_{flag}", sa.SmallInteger) for flag in FLAGS),
        sa.Column("d_metric_type", sa.String(16)),
        sa.Column("d_suggested_metric_type", sa.String(16)),
        sa.Column("d_note", sa.Text),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("n_reviewers", sa.Integer, nullable=False, server_default="0"),
        *(sa.Column(f"l_{flag}", sa.SmallInteger, nullable=False) for flag in FLAGS),
        sa.Column("l_metric_type", sa.String(16), nullable=False),
    )
    queue_filters = ["status", "year", "department", *(f"l_{f}" for f in FLAGS), "l_metric_type"]
    op.create_index("ix_rows_risk", "indicator_rows", ["risk", "row_id", *queue_filters])
    op.create_index("ix_rows_margin", "indicator_rows", ["margin", "row_id", *queue_filters])
    count_columns = ["status", "year", *(f"l_{f}" for f in FLAGS), "l_metric_type"]
    op.create_index("ix_rows_counts", "indicator_rows", count_columns)
    op.create_index("ix_rows_department", "indicator_rows", ["department", "risk", "row_id", "margin", *count_columns])
    op.create_index("ix_rows_project", "indicator_rows", ["project_key", "position"])
    op.create_index("ix_rows_decided_by", "indicator_rows", ["decided_by"])
    op.create_table(
        "row_search",
        sa.Column("row_id", sa.String(64), sa.ForeignKey("indicator_rows.row_id"), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("project_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("department", sa.Text, nullable=False),
        *(sa.Column(f"l_{flag}", sa.SmallInteger, nullable=False) for flag in FLAGS),
        sa.Column("l_metric_type", sa.String(16), nullable=False),
        sa.Column("risk", sa.Float, nullable=False),
        sa.Column("margin", sa.Float, nullable=False),
    )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("row_id", sa.String(64), sa.ForeignKey("indicator_rows.row_id"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("base_version", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *(sa.Column(flag, sa.SmallInteger, nullable=False) for flag in FLAGS),
        sa.Column("metric_type", sa.String(16), nullable=False),
        sa.Column("suggested_metric_type", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("model_flags", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.UniqueConstraint("row_id", "version", name="uq_decisions_row_version"),
    )
    op.create_index("ix_decisions_row", "decisions", ["row_id", "id"])
    op.create_index("ix_decisions_user_row", "decisions", ["user_id", "row_id"])

    # The history is append-only: the database itself refuses UPDATE and DELETE.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER decisions_no_{event.lower()} BEFORE {event} ON decisions "
                f"BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION decisions_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'decisions is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions "
            "FOR EACH ROW EXECUTE FUNCTION decisions_append_only()"
        )
        op.execute(
            "CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decisions_no_truncate ON decisions")
        op.execute("DROP TRIGGER IF EXISTS decisions_append_only ON decisions")
        op.execute("DROP FUNCTION IF EXISTS decisions_append_only()")
    for table in ("decisions", "row_search", "indicator_rows", "model_versions", "runs", "settings", "users"):
        op.drop_table(table)
