"""reference_revision: one revision token per kind of reference data (grid_revision folded in)

Revision ID: 0008_reference_revision
Revises: 0007_cases
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_reference_revision"
down_revision: str | None = "0007_cases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Kinds seeded here (``urbanops.kit.revision.KINDS``, spelled out: migrations never import code).
KINDS = ("grids", "channels", "catalog", "calendar", "api_keys")


def upgrade() -> None:
    table = op.create_table(
        "reference_revision",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind", name="pk_reference_revision"),
    )
    # Fresh random tokens: a database re-created at the same URL never matches an old cache.
    op.bulk_insert(table, [{"kind": k, "token": uuid.uuid4().hex} for k in KINDS])
    op.drop_table("grid_revision")


def downgrade() -> None:
    table = op.create_table(
        "grid_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_grid_revision"),
    )
    op.bulk_insert(table, [{"id": 1, "token": uuid.uuid4().hex, "changed_at": None}])
    op.drop_table("reference_revision")
