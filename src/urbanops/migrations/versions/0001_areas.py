"""areas: districts, streets, communities, unit and responsibility grids (owned by the areas module; placeholder until its tables land)

Revision ID: 0001_areas
Revises: None
"""

from collections.abc import Sequence

revision: str = "0001_areas"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
