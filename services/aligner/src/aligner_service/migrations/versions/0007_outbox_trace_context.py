"""outbox.trace_context: the trace an event was recorded in, continued when it is
published (kit v3)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from servicekit.migrations import add_outbox_trace_context_v3, drop_outbox_trace_context_v3

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_trace_context_v3()


def downgrade() -> None:
    drop_outbox_trace_context_v3()
