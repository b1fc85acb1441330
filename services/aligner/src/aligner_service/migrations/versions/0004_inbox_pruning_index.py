"""inbox.processed_at indexed, for pruning old rows (kit v2)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from servicekit.migrations import add_inbox_pruning_index_v2, drop_inbox_pruning_index_v2

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    add_inbox_pruning_index_v2()


def downgrade() -> None:
    drop_inbox_pruning_index_v2()
