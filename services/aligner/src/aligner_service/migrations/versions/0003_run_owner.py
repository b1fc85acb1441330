"""the delivery that owns a run

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # A job can reach the aligner twice (its FilesStored and a promoted copy of it).
    op.add_column("alignment_runs", sa.Column("event_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("alignment_runs", "event_id")
