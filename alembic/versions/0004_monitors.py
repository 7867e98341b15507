"""monitors (issue 17): executions.monitor_id and .scheduled_for with one execution per slot;
monitors, monitor_evaluations and monitor_alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:10:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monitor_id", AutoString(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_executions_monitor_id"), ["monitor_id"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_executions_monitor_id_scheduled_for"), ["monitor_id", "scheduled_for"]
        )

    op.create_table(
        "monitors",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("owner", AutoString(), nullable=True),
        sa.Column("name", AutoString(), nullable=False),
        sa.Column("diagnosis", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("webhook", sa.JSON(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
    )
    with op.batch_alter_table("monitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitors_owner"), ["owner"])
        batch_op.create_index(batch_op.f("ix_monitors_next_run_at"), ["next_run_at"])

    op.create_table(
        "monitor_evaluations",
        sa.Column("execution_id", AutoString(length=64), nullable=False),
        sa.Column("monitor_id", AutoString(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"], ["monitors.id"],
            name=op.f("fk_monitor_evaluations_monitor_id_monitors"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", name=op.f("pk_monitor_evaluations")),
    )
    with op.batch_alter_table("monitor_evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitor_evaluations_monitor_id"), ["monitor_id"])

    op.create_table(
        "monitor_alerts",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("monitor_id", AutoString(), nullable=False),
        sa.Column("execution_id", AutoString(length=64), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"], ["monitors.id"],
            name=op.f("fk_monitor_alerts_monitor_id_monitors"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
    )
    with op.batch_alter_table("monitor_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitor_alerts_monitor_id"), ["monitor_id"])
        batch_op.create_index(batch_op.f("ix_monitor_alerts_status"), ["status"])


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_evaluations")
    op.drop_table("monitors")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_executions_monitor_id_scheduled_for"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_executions_monitor_id"))
        batch_op.drop_column("scheduled_for")
        batch_op.drop_column("monitor_id")
