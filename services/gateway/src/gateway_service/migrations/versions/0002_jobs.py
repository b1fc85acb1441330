"""jobs read model

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import TIMESTAMP

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(64), nullable=True),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_idempotency"),
        sa.Index("ix_jobs_user_created", "user_id", "created_at", "id"),
    )
    op.create_table(
        "job_files",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("file_index", sa.Integer, nullable=False),
        sa.Column("stem", sa.String(512), nullable=False),
        sa.Column("audio_name", sa.String(512), nullable=False),
        sa.Column("text_name", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration", sa.Float, nullable=True),
        sa.Column("audio_key", sa.String(512), nullable=True),
        sa.Column("result_keys", sa.Text, nullable=True),
        sa.Column("word_count", sa.Integer, nullable=True),
        sa.Column("oov_count", sa.Integer, nullable=True),
        sa.Column("low_quality", sa.Boolean, nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_files")
    op.drop_table("jobs")
