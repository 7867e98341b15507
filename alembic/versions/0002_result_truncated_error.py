"""task_results.truncated and .error: an answer cut at DIAGNOSIS_MAX_ANSWER_CHARS; the reason
of an error result (e.g. an answer that could not be stored)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:15:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_results", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_results", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("truncated")
