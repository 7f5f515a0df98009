"""alerts: one store of alerts every module raises into

Revision ID: 0011_alerts
Revises: 0010_positions

``dedupe_key`` is unique among open alerts only (a partial index on both databases), so the same
news can be raised again once its earlier alert is resolved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK

revision: str = "0011_alerts"
down_revision: str | None = "0010_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_WITH_KEY = "dedupe_key IS NOT NULL AND resolved_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", PK, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("officer_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.BigInteger(), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("to_role", sa.String(32), nullable=True),
        sa.Column("to_user_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("dedupe_key", sa.String(128), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
    )
    op.create_index("ix_alert_at", "alert", ["at"])
    op.create_index("ix_alert_officer_id", "alert", ["officer_id"])
    op.create_index("ix_alert_device_id", "alert", ["device_id"])
    op.create_index("ix_alert_case_id", "alert", ["case_id"])
    op.create_index("ix_alert_kind_at", "alert", ["kind", "at"])
    op.create_index(
        "uq_alert_open_dedupe_key",
        "alert",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text(OPEN_WITH_KEY),
        postgresql_where=sa.text(OPEN_WITH_KEY),
    )


def downgrade() -> None:
    op.drop_table("alert")  # its indexes go with it
