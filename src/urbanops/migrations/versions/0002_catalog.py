"""catalog: components, matters, case standards (owned by the catalog module; placeholder until its tables land)

Revision ID: 0002_catalog
Revises: 0001_areas
"""

from collections.abc import Sequence

revision: str = "0002_catalog"
down_revision: str | None = "0001_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
