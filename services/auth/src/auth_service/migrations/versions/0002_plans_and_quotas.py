"""subscription types (seeded), usage, upload reservations

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

GIB = 2**30
MIB = 2**20


def upgrade() -> None:
    plans = op.create_table(
        "subscription_types",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("storage_bytes", sa.BigInteger, nullable=False),
        sa.Column("audio_minutes_per_month", sa.Integer, nullable=False),
        sa.Column("max_file_bytes", sa.BigInteger, nullable=False),
        sa.Column("max_files_per_job", sa.Integer, nullable=False),
        sa.Column("max_concurrent_jobs", sa.Integer, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("queue_priority", sa.SmallInteger, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.bulk_insert(
        plans,
        [
            {
                "name": "free",
                "storage_bytes": 1 * GIB,
                "audio_minutes_per_month": 120,
                "max_file_bytes": 200 * MIB,
                "max_files_per_job": 100,
                "max_concurrent_jobs": 2,
                "retention_days": 7,
                "queue_priority": 1,
                "is_admin": False,
            },
            {
                "name": "pro",
                "storage_bytes": 100 * GIB,
                "audio_minutes_per_month": 6000,
                "max_file_bytes": 2 * GIB,
                "max_files_per_job": 1000,
                "max_concurrent_jobs": 10,
                "retention_days": 90,
                "queue_priority": 5,
                "is_admin": False,
            },
            {
                "name": "admin",
                "storage_bytes": 1024 * GIB,
                "audio_minutes_per_month": 1_000_000,
                "max_file_bytes": 4 * GIB,
                "max_files_per_job": 5000,
                "max_concurrent_jobs": 50,
                "retention_days": 365,
                "queue_priority": 9,
                "is_admin": True,
            },
        ],
    )
    op.create_foreign_key(
        "fk_users_subscription", "users", "subscription_types", ["subscription"], ["name"]
    )
    op.create_table(
        "usage",
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("storage_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("audio_seconds_month", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "reservations",
        sa.Column("job_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reservations")
    op.drop_table("usage")
    op.drop_constraint("fk_users_subscription", "users", type_="foreignkey")
    op.drop_table("subscription_types")
