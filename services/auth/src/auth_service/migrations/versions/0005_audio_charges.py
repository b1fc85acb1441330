"""audio charges: what each stored file was charged, so that unaligned files give it back

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import TIMESTAMP

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audio_charges",
        sa.Column("corpus_file_id", sa.Uuid(), primary_key=True),
        sa.Column("job_id", sa.Uuid(), nullable=False, index=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Index("ix_audio_charges_user_month", "user_id", "month"),
    )


def downgrade() -> None:
    op.drop_table("audio_charges")
