"""initial: executions and task_results

Revision ID: 0001
Revises:
Create Date: 2026-11-28 01:00:34.553989+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("brand", AutoString(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("competitors", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("deadline_s", sa.Integer(), nullable=False),
        sa.Column("owner", AutoString(), nullable=True),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("stage", AutoString(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_of", AutoString(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("platform_stats", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_executions_created_at"), ["created_at"])
        batch_op.create_index(batch_op.f("ix_executions_owner"), ["owner"])
        batch_op.create_index(batch_op.f("ix_executions_status"), ["status"])

    op.create_table(
        "task_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", AutoString(), nullable=False),
        sa.Column("task_key", AutoString(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("subject", AutoString(), nullable=True),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("sample", sa.Integer(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("error_kind", AutoString(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_task_results_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_results")),
        sa.UniqueConstraint(
            "execution_id", "task_key", name=op.f("uq_task_results_execution_id_task_key")
        ),
    )
    with op.batch_alter_table("task_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_results_execution_id"), ["execution_id"])
        batch_op.create_index("ix_task_results_execution_id_ordinal", ["execution_id", "ordinal"])


def downgrade() -> None:
    with op.batch_alter_table("task_results", schema=None) as batch_op:
        batch_op.drop_index("ix_task_results_execution_id_ordinal")
        batch_op.drop_index(batch_op.f("ix_task_results_execution_id"))
    op.drop_table("task_results")

    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_executions_status"))
        batch_op.drop_index(batch_op.f("ix_executions_owner"))
        batch_op.drop_index(batch_op.f("ix_executions_created_at"))
    op.drop_table("executions")
