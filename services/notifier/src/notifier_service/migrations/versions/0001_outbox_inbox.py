"""outbox and inbox (kit v1 and v2)

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from servicekit.migrations import add_inbox_pruning_index_v2, create_kit_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables_v1()
    add_inbox_pruning_index_v2()


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
