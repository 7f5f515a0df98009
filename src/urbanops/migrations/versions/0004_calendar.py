"""calendar: holiday and make-up working day overrides (owned by the kit.calendar module; placeholder until its tables land)

Revision ID: 0004_calendar
Revises: 0003_auth
"""

from collections.abc import Sequence

revision: str = "0004_calendar"
down_revision: str | None = "0003_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
