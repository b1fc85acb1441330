"""engine offers: what the aligner replicas announce they can align

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit import LongText, Timestamp

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_offers",
        sa.Column("worker", sa.String(64), primary_key=True),
        sa.Column("engine", sa.String(64), primary_key=True),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("offer", LongText, nullable=False),
        sa.Column("announced_at", Timestamp, nullable=False),
        sa.Column("fresh_until", Timestamp, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("engine_offers")
