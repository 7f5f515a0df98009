"""devices and cameras

Revision ID: 0005_devices
Revises: 0004_calendar
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK, audited

revision: str = "0005_devices"
down_revision: str | None = "0004_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", PK, primary_key=True),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("vehicle_plate", sa.String(16), nullable=True),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
        sa.UniqueConstraint("identifier", name="uq_device_identifier"),
    )
    op.create_index("ix_device_user_id", "device", ["user_id"])
    op.create_table(
        "camera",
        sa.Column("id", PK, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("bearing_deg", sa.Float(), nullable=True),
        sa.Column("unit_grid_code", sa.String(15), nullable=True),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_camera"),
        sa.UniqueConstraint("code", name="uq_camera_code"),
    )
    op.create_index("ix_camera_unit_grid_code", "camera", ["unit_grid_code"])


def downgrade() -> None:
    op.drop_table("camera")
    op.drop_table("device")
