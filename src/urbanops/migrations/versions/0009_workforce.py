"""workforce: squads, officers, duty history, shifts; devices get last fix and API key

Revision ID: 0009_workforce
Revises: 0008_reference_revision
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK, audited

revision: str = "0009_workforce"
down_revision: str | None = "0008_reference_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _squad() -> None:
    op.create_table(
        "squad",
        sa.Column("id", PK, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("leader_user_id", sa.BigInteger(), nullable=True),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_squad"),
        sa.UniqueConstraint("code", name="uq_squad_code"),
        sa.ForeignKeyConstraint(
            ["leader_user_id"], ["user.id"], name="fk_squad_leader_user_id_user"
        ),
    )
    op.create_index("ix_squad_leader_user_id", "squad", ["leader_user_id"])


def _officer() -> None:
    op.create_table(
        "officer",
        sa.Column("id", PK, primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("certificate_no", sa.String(32), nullable=True),
        sa.Column("squad_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("travel_mode", sa.String(16), nullable=False),
        sa.Column("duty_status", sa.String(16), nullable=False),
        sa.Column("duty_since", sa.DateTime(timezone=True), nullable=False),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_officer"),
        sa.UniqueConstraint("user_id", name="uq_officer_user_id"),
        sa.UniqueConstraint("certificate_no", name="uq_officer_certificate_no"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name="fk_officer_user_id_user"),
        sa.ForeignKeyConstraint(["squad_id"], ["squad.id"], name="fk_officer_squad_id_squad"),
    )
    op.create_index("ix_officer_squad_id", "officer", ["squad_id"])
    op.create_index("ix_officer_grid_code", "officer", ["grid_code"])
    op.create_index("ix_officer_duty_status", "officer", ["duty_status"])


def _duty_change() -> None:
    op.create_table(
        "duty_change",
        sa.Column("id", PK, primary_key=True),
        sa.Column("officer_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duty_change"),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name="fk_duty_change_officer_id_officer"
        ),
    )
    op.create_index("ix_duty_change_officer_at", "duty_change", ["officer_id", "at"])


def _shift() -> None:
    op.create_table(
        "shift",
        sa.Column("id", PK, primary_key=True),
        sa.Column("officer_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_shift"),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"], name="fk_shift_officer_id_officer"),
    )
    op.create_index("ix_shift_starts_at", "shift", ["starts_at"])
    op.create_index("ix_shift_officer_starts", "shift", ["officer_id", "starts_at"])


def upgrade() -> None:
    _squad()
    _officer()
    _duty_change()
    _shift()
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("api_key_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.drop_column("api_key_id")
        batch.drop_column("last_fix_at")
    op.drop_table("shift")
    op.drop_table("duty_change")
    op.drop_table("officer")
    op.drop_table("squad")
