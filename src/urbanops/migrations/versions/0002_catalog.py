"""catalog: components, matters, case standards (owned by the catalog module)

Creates ``catalog_entry`` and ``case_standard``, then inserts the data every database needs: all
403 entries of GB/T 47678.5-2026 from the packaged CSV and the shipped default case standards
(``urbanops.catalog.defaults``), stamped by the ``system`` actor at migration time.

Revision ID: 0002_catalog
Revises: 0001_areas
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from urbanops.catalog.defaults import default_standard_rows, national_catalogue_rows
from urbanops.kit.db import UTCDateTime
from urbanops.migrations.columns import PK as ID

revision: str = "0002_catalog"
down_revision: str | None = "0001_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_UNITS = ("urgent_hour", "work_hour", "work_day", "natural_day")


def upgrade() -> None:
    entry = _create_catalog_entry()
    standard = _create_case_standard()
    op.bulk_insert(entry, national_catalogue_rows())
    matter_ids = {
        code: id_
        for id_, code in op.get_bind().execute(
            sa.select(entry.c.id, entry.c.code).where(entry.c.kind == "matter")
        )
    }
    op.bulk_insert(standard, default_standard_rows(matter_ids, by="system", at=datetime.now(UTC)))


def _create_catalog_entry() -> sa.Table:
    return op.create_table(
        "catalog_entry",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("major_code", sa.String(2), nullable=False),
        sa.Column("major_name", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("component_code", sa.String(5), nullable=True),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("standard_ref", sa.String(32), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("wuwu", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entry")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_catalog_entry_kind_code")),
        sa.CheckConstraint("kind IN ('component', 'matter')", name=op.f("ck_catalog_entry_kind")),
    )


def _create_case_standard() -> sa.Table:
    units = ", ".join(f"'{u}'" for u in LIMIT_UNITS)
    table = op.create_table(
        "case_standard",
        sa.Column("id", ID, primary_key=True),
        sa.Column("matter_id", ID, nullable=False),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("registration_condition", sa.Text(), nullable=False),
        sa.Column("closure_condition", sa.Text(), nullable=False),
        sa.Column("limit_amount", sa.Numeric(8, 2), nullable=False),
        sa.Column("limit_unit", sa.String(16), nullable=False),
        sa.Column("handling_unit", sa.String(64), nullable=False),
        sa.Column("responsible_department", sa.String(64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("dedupe_radius_m", sa.Integer(), nullable=False),
        sa.Column("dedupe_window_h", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_standard")),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["catalog_entry.id"],
            name=op.f("fk_case_standard_matter_id_catalog_entry"),
        ),
        sa.UniqueConstraint(
            "matter_id", "variant", name=op.f("uq_case_standard_matter_id_variant")
        ),
        sa.CheckConstraint("limit_amount > 0", name=op.f("ck_case_standard_limit_positive")),
        sa.CheckConstraint(f"limit_unit IN ({units})", name=op.f("ck_case_standard_limit_unit")),
    )
    op.create_index(op.f("ix_case_standard_matter_id"), "case_standard", ["matter_id"])
    op.create_index(
        "uq_case_standard_one_default",
        "case_standard",
        ["matter_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    return table


def downgrade() -> None:
    op.drop_table("case_standard")
    op.drop_table("catalog_entry")
