"""dispatch: the offers of cases to officers (who was asked when, and how it ended)

Revision ID: 0012_dispatch
Revises: 0011_alerts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK

revision: str = "0012_dispatch"
down_revision: str | None = "0011_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch_offer",
        sa.Column("id", PK, primary_key=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offered_by", sa.String(64), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dispatch_offer"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_dispatch_offer_case_id_case"),
    )
    op.create_index(
        "uq_dispatch_offer_case_attempt", "dispatch_offer", ["case_id", "attempt"], unique=True
    )
    op.create_index(
        "ix_dispatch_offer_outcome_respond_by", "dispatch_offer", ["outcome", "respond_by"]
    )
    op.create_index("ix_dispatch_offer_user_id", "dispatch_offer", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_dispatch_offer_user_id", table_name="dispatch_offer")
    op.drop_index("ix_dispatch_offer_outcome_respond_by", table_name="dispatch_offer")
    op.drop_index("uq_dispatch_offer_case_attempt", table_name="dispatch_offer")
    op.drop_table("dispatch_offer")
