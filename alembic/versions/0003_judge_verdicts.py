"""judge_verdicts: the LLM judge's cached labels per (answer, brands, model)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:45:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "judge_verdicts",
        sa.Column("key", AutoString(length=64), nullable=False),
        sa.Column("model", AutoString(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_judge_verdicts")),
    )


def downgrade() -> None:
    op.drop_table("judge_verdicts")
