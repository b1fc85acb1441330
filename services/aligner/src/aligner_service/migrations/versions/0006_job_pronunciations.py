"""a job's own pronunciations (its dictionary part), once per job

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit import LongText

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_pronunciations",
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("alignment_runs.job_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("entries", LongText, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_pronunciations")
