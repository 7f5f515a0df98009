"""cases: case, its reports, timeline, evidence and the daily number counter

Revision ID: 0007_cases
Revises: 0006_channels
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK

revision: str = "0007_cases"
down_revision: str | None = "0006_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _case_columns() -> list[sa.Column]:
    return [
        sa.Column("id", PK, primary_key=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("is_emergency", sa.Boolean(), nullable=False),
        sa.Column("matter_code", sa.String(8), nullable=False),
        sa.Column("standard_id", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("inside_jurisdiction", sa.Boolean(), nullable=False),
        sa.Column("unit_grid_code", sa.String(15), nullable=True),
        sa.Column("community_code", sa.String(12), nullable=True),
        sa.Column("street_code", sa.String(9), nullable=True),
        sa.Column("responsibility_grid_code", sa.String(32), nullable=True),
        sa.Column("officer_id", sa.BigInteger(), nullable=True),
        sa.Column("verification_required", sa.Boolean(), nullable=False),
        _at("verified_at"),
        _at("reported_at", nullable=False),
        _at("registered_at"),
        _at("dispatched_at"),
        _at("accepted_at"),
        _at("handled_at"),
        _at("checked_at"),
        _at("closed_at"),
        sa.Column("stage", sa.String(24), nullable=True),
        _at("stage_started_at"),
        sa.Column("stage_limit_amount", sa.Float(), nullable=True),
        sa.Column("stage_limit_unit", sa.String(16), nullable=True),
        _at("warn_at"),
        _at("due_at"),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        _at("contact_by"),
        _at("contacted_at"),
        _at("close_by"),
        sa.Column("contact_missed", sa.Boolean(), nullable=False),
        sa.Column("close_missed", sa.Boolean(), nullable=False),
        sa.Column("suspended_from", sa.String(24), nullable=True),
        _at("suspended_at"),
        sa.Column("suspension_requested", sa.Boolean(), nullable=False),
        sa.Column("suspended_seconds", sa.Float(), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        _at("updated_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _create_case() -> None:
    op.create_table(
        "case",
        *_case_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_case"),
        sa.UniqueConstraint("number", name="uq_case_number"),
    )
    for column in (
        "state",
        "channel",
        "matter_code",
        "unit_grid_code",
        "responsibility_grid_code",
        "officer_id",
        "reported_at",
        "closed_at",
        "warn_at",
        "due_at",
    ):
        op.create_index(f"ix_case_{column}", "case", [column])
    op.create_index("ix_case_matter_reported", "case", ["matter_code", "reported_at"])
    op.create_index("ix_case_state_due", "case", ["state", "due_at"])


def _create_case_report() -> None:
    op.create_table(
        "case_report",
        sa.Column("id", PK, primary_key=True),
        sa.Column("case_id", PK, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(256), nullable=True),
        _at("reported_at", nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=False),
        sa.Column("complainant_name", sa.String(64), nullable=True),
        sa.Column("complainant_phone", sa.String(32), nullable=True),
        sa.Column("caller_number", sa.String(32), nullable=True),
        sa.Column("letter_number", sa.String(64), nullable=True),
        sa.Column("source_ref", sa.String(128), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_report"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_case_report_case_id_case"),
        sa.UniqueConstraint("idempotency_key", name="uq_case_report_idempotency_key"),
    )
    op.create_index("ix_case_report_case_id", "case_report", ["case_id"])


def _create_timeline() -> None:
    op.create_table(
        "case_timeline",
        sa.Column("id", PK, primary_key=True),
        sa.Column("case_id", PK, nullable=False),
        _at("at", nullable=False),
        sa.Column("actor_ref", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(24), nullable=True),
        sa.Column("to_state", sa.String(24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_timeline"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_case_timeline_case_id_case"),
    )
    op.create_index("ix_case_timeline_case_id", "case_timeline", ["case_id"])


def _create_evidence() -> None:
    op.create_table(
        "case_evidence",
        sa.Column("id", PK, primary_key=True),
        sa.Column("case_id", PK, nullable=False),
        sa.Column("timeline_entry_id", PK, nullable=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("filename", sa.String(256), nullable=True),
        _at("taken_at"),
        sa.Column("taken_lon", sa.Float(), nullable=True),
        sa.Column("taken_lat", sa.Float(), nullable=True),
        _at("created_at", nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_evidence"),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name="fk_case_evidence_case_id_case"),
        sa.ForeignKeyConstraint(
            ["timeline_entry_id"],
            ["case_timeline.id"],
            name="fk_case_evidence_timeline_entry_id_case_timeline",
        ),
    )
    op.create_index("ix_case_evidence_case_id", "case_evidence", ["case_id"])
    op.create_index("ix_case_evidence_sha256", "case_evidence", ["sha256"])


def upgrade() -> None:
    _create_case()
    _create_case_report()
    _create_timeline()
    _create_evidence()
    op.create_table(
        "case_number_counter",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_case_number_counter"),
    )


def downgrade() -> None:
    op.drop_table("case_number_counter")
    op.drop_table("case_evidence")
    op.drop_table("case_timeline")
    op.drop_table("case_report")
    op.drop_table("case")
