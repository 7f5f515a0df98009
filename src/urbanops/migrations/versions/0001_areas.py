"""areas: districts, streets, communities, unit and responsibility grids, grid revision token

Revision ID: 0001_areas
Revises: None
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK

revision: str = "0001_areas"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _outline_columns() -> list[sa.Column]:
    return [
        sa.Column("geometry", sa.LargeBinary(), nullable=True),
        sa.Column("centre_lon", sa.Float(), nullable=True),
        sa.Column("centre_lat", sa.Float(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
    ]


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "area",
        sa.Column("id", PK, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("parent_id", PK, nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        *_outline_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_area"),
        sa.UniqueConstraint("code", name="uq_area_code"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["area.id"], name="fk_area_parent_id_area", ondelete="RESTRICT"
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community', 'unit_grid')",
            name="ck_area_level_known",
        ),
    )
    op.create_index("ix_area_parent_id", "area", ["parent_id"])
    op.create_index("ix_area_level_parent", "area", ["level", "parent_id"])
    op.create_index("ix_area_bbox", "area", ["min_lon", "max_lon", "min_lat", "max_lat"])

    op.create_table(
        "responsibility_grid",
        sa.Column("id", PK, primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("street_id", PK, nullable=False),
        *_outline_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_responsibility_grid"),
        sa.UniqueConstraint("code", name="uq_responsibility_grid_code"),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["area.id"],
            name="fk_responsibility_grid_street_id_area",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_responsibility_grid_street_id", "responsibility_grid", ["street_id"])
    op.create_index(
        "ix_responsibility_grid_bbox",
        "responsibility_grid",
        ["min_lon", "max_lon", "min_lat", "max_lat"],
    )

    op.create_table(
        "responsibility_grid_unit",
        sa.Column("unit_grid_id", PK, nullable=False),
        sa.Column("responsibility_grid_id", PK, nullable=False),
        sa.PrimaryKeyConstraint("unit_grid_id", name="pk_responsibility_grid_unit"),
        sa.ForeignKeyConstraint(
            ["unit_grid_id"],
            ["area.id"],
            name="fk_responsibility_grid_unit_area",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["responsibility_grid_id"],
            ["responsibility_grid.id"],
            name="fk_responsibility_grid_unit_grid",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_responsibility_grid_unit_responsibility_grid_id",
        "responsibility_grid_unit",
        ["responsibility_grid_id"],
    )

    op.create_table(
        "responsibility_grid_officer",
        sa.Column("responsibility_grid_id", PK, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "responsibility_grid_id", "user_id", name="pk_responsibility_grid_officer"
        ),
        sa.ForeignKeyConstraint(
            ["responsibility_grid_id"],
            ["responsibility_grid.id"],
            name="fk_responsibility_grid_officer_grid",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_responsibility_grid_officer_user_id", "responsibility_grid_officer", ["user_id"]
    )

    revision_table = op.create_table(
        "grid_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_grid_revision"),
    )
    op.bulk_insert(revision_table, [{"id": 1, "token": "initial", "changed_at": None}])


def downgrade() -> None:
    op.drop_table("grid_revision")
    op.drop_table("responsibility_grid_officer")
    op.drop_table("responsibility_grid_unit")
    op.drop_table("responsibility_grid")
    op.drop_table("area")
