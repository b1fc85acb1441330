"""one row per file of a job: files are the unit of work

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
        "alignment_files",
        sa.Column("file_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("alignment_runs.job_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("file_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(36), nullable=True),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("aligned", sa.Boolean(), nullable=True),
        sa.Column("result_keys", LongText, nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("oov_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("low_quality", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("alignment_files")
