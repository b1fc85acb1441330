"""the ingest of each job, one row per pair: pairs are the unit of work

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit import LongText, Timestamp

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("job_id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(64), nullable=True),
        sa.Column("options", LongText, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pairs_total", sa.Integer(), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("cancelled_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
    )
    op.create_table(
        "ingest_pairs",
        sa.Column("file_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("ingest_runs.job_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("file_index", sa.Integer(), nullable=False),
        sa.Column("stem", sa.String(512), nullable=False),
        sa.Column("audio_name", sa.String(512), nullable=False),
        sa.Column("text_name", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("finished_at", Timestamp, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ingest_pairs")
    op.drop_table("ingest_runs")
