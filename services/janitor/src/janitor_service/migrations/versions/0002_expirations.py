"""expirations ledger and cleanup runs

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
        "expirations",
        sa.Column("object_key", sa.String(512), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("corpus_file_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Index("ix_expirations_due", "deleted_at", "expires_at"),
    )
    op.create_table(
        "cleanup_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("clock", TIMESTAMP, nullable=False),
        sa.Column("files_expired", sa.Integer, nullable=False, server_default="0"),
        sa.Column("objects_deleted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_freed", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("cleanup_runs")
    op.drop_table("expirations")
