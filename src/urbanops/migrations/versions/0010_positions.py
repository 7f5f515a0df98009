"""positions: latest fixes and daily-partitioned history

Revision ID: 0010_positions
Revises: 0009_workforce

On PostgreSQL ``position`` is ``PARTITION BY RANGE (at)``; the ingestion writer creates the daily
partitions ``position_YYYYMMDD`` (UTC days) on demand. On SQLite it is a plain table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_positions"
down_revision: str | None = "0009_workforce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fix_columns() -> list[sa.Column]:
    return [
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("course", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("unit_grid_code", sa.String(15), nullable=True),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "position",
        sa.Column("device_id", sa.BigInteger(), nullable=False),
        *_fix_columns(),
        postgresql_partition_by="RANGE (at)" if postgres else None,
    )
    op.create_index("ix_position_device_id_at", "position", ["device_id", "at"])
    op.create_table(
        "position_latest",
        sa.Column("device_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *_fix_columns(),
        sa.PrimaryKeyConstraint("device_id", name="pk_position_latest"),
    )


def downgrade() -> None:
    op.drop_table("position_latest")
    op.drop_index("ix_position_device_id_at", table_name="position")
    op.drop_table("position")  # on PostgreSQL its partitions go with it
