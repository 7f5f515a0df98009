"""workforce: officers, squads, duty, shifts, devices (placeholder until its tables land)

Revision ID: 0009_workforce
Revises: 0008_reference_revision
"""

from collections.abc import Sequence

revision: str = "0009_workforce"
down_revision: str | None = "0008_reference_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
