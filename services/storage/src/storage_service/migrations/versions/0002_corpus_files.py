"""corpus files and their storage metadata

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
        "corpus_files",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("job_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("user_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("file_index", sa.Integer, nullable=False),
        sa.Column("stem", sa.String(512), nullable=False),
        sa.Column("audio_name", sa.String(512), nullable=False),
        sa.Column("text_name", sa.String(512), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("gone_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "file_storage_metadata",
        sa.Column(
            "corpus_file_id",
            sa.Uuid(),
            sa.ForeignKey("corpus_files.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("file_storage_metadata")
    op.drop_table("corpus_files")
