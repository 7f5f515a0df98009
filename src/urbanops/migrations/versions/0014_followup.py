"""followup: 回访 of closed citizen-facing cases, and the citizen page's tracking ids

Revision ID: 0014_followup
Revises: 0012_dispatch

``case_followup`` holds one row per closure of a case ((case, round) is unique, so several
processes may open the same follow-up and one wins). ``citizen_tracking`` keeps only the SHA-256
of a tracking id's secret, pointing at the citizen's report.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK

revision: str = "0014_followup"
down_revision: str | None = "0012_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "case_followup",
        sa.Column("id", PK, primary_key=True),
        sa.Column("case_id", PK, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        _at("closed_at", nullable=False),
        _at("created_at", nullable=False),
        sa.Column("rating", sa.String(24), nullable=True),
        sa.Column("method", sa.String(16), nullable=True),
        _at("rated_at"),
        sa.Column("rated_by", sa.String(64), nullable=True),
        sa.Column("rated_by_name", sa.String(64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_followup"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_case_followup_case_id_case"),
        sa.UniqueConstraint("case_id", "round", name="uq_case_followup_case_id_round"),
    )
    op.create_index("ix_case_followup_case_id", "case_followup", ["case_id"])
    op.create_index("ix_case_followup_rated_at", "case_followup", ["rated_at"])
    op.create_table(
        "citizen_tracking",
        sa.Column("id", PK, primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("report_id", PK, nullable=False),
        _at("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_citizen_tracking"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["case_report.id"], name="fk_citizen_tracking_report_id_case_report"
        ),
        sa.UniqueConstraint("secret_sha256", name="uq_citizen_tracking_secret_sha256"),
    )
    op.create_index("ix_citizen_tracking_report_id", "citizen_tracking", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_citizen_tracking_report_id", table_name="citizen_tracking")
    op.drop_table("citizen_tracking")
    op.drop_index("ix_case_followup_rated_at", table_name="case_followup")
    op.drop_index("ix_case_followup_case_id", table_name="case_followup")
    op.drop_table("case_followup")
