"""positions: latest fixes and daily-partitioned history (placeholder until its tables land)

Revision ID: 0010_positions
Revises: 0009_workforce
"""

from collections.abc import Sequence

revision: str = "0010_positions"
down_revision: str | None = "0009_workforce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
