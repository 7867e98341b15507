"""executions.brand_domains (issue 18): the own brand's sites, so cited pages there are of kind
"own" (competitors' domains live inside the competitors JSON)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:40:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_domains", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("brand_domains")
