"""channels: intake channels and their SLA profiles (owned by the catalog module)

Creates ``channel`` and ``sla_rule`` and inserts the shipped channels and rules
(``urbanops.catalog.channels``), stamped by the ``system`` actor at migration time.

Revision ID: 0006_channels
Revises: 0005_devices
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from urbanops.catalog.channels import default_channel_rows, default_sla_rows
from urbanops.kit.db import UTCDateTime
from urbanops.migrations.columns import PK as ID

revision: str = "0006_channels"
down_revision: str | None = "0005_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_UNITS = ("urgent_hour", "work_hour", "work_day", "natural_day")
SLA_STAGES = ("verify", "register", "dispatch", "respond", "handle", "check", "close", "contact")


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    now = datetime.now(UTC)
    channel = op.create_table(
        "channel",
        sa.Column("id", ID, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("name_en", sa.String(64), nullable=False),
        sa.Column("requires_verification", sa.Boolean(), nullable=False),
        sa.Column("citizen_facing", sa.Boolean(), nullable=False),
        sa.Column("emergency_by_default", sa.Boolean(), nullable=False),
        sa.Column("required_fields", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel")),
        sa.UniqueConstraint("code", name=op.f("uq_channel_code")),
    )
    units = ", ".join(f"'{u}'" for u in LIMIT_UNITS)
    stages = ", ".join(f"'{s}'" for s in SLA_STAGES)
    rule = op.create_table(
        "sla_rule",
        sa.Column("id", ID, primary_key=True),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_rule")),
        sa.UniqueConstraint("profile", "stage", name=op.f("uq_sla_rule_profile_stage")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_sla_rule_amount_positive")),
        sa.CheckConstraint(f"stage IN ({stages})", name=op.f("ck_sla_rule_stage")),
        sa.CheckConstraint(f"unit IN ({units})", name=op.f("ck_sla_rule_limit_unit")),
    )
    op.bulk_insert(channel, default_channel_rows(by="system", at=now))
    op.bulk_insert(rule, default_sla_rows(by="system", at=now))


def downgrade() -> None:
    op.drop_table("sla_rule")
    op.drop_table("channel")
