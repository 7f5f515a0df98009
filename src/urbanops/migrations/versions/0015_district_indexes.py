"""district indexes: what the sweeper still has to mark, and the console's live counts

Revision ID: 0015_district_indexes
Revises: 0014_followup

The sweeper asks for open cases whose warning, deadline or second escalation is due. With a
year of a district (100,000 open cases, a million in all) the state-and-deadline index alone
makes it read every open case's row each pass. One index per kind of pending mark, (flag,
deadline), holding only cases with a running clock (a closed case has none), answers "not yet
marked and past its time" with one short range scan each.

The console counts open cases by grid and by light all day, the board counts a period's cases
by channel, matter and grid, and asks which cases ever missed a deadline: (state, grid),
(state, due, warn) and (reported, channel, matter, grid) answer the first ones from the index
alone (replacing the indexes they begin with), a partial index of the timeline's
``deadline_missed`` rows the last.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_district_indexes"
down_revision: str | None = "0014_followup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: index name → (columns, predicate): what the sweeper has still to mark, among running clocks
INDEXES = {
    "ix_case_warn_pending": (["warned", "warn_at"], "warn_at IS NOT NULL"),
    "ix_case_due_pending": (["missed", "due_at"], "due_at IS NOT NULL"),
    "ix_case_escalation_pending": (["escalation_level", "due_at"], "due_at IS NOT NULL"),
    # the whole-case deadlines (12345's contact, a petition's answer), by state: closed cases
    # keep theirs, and only the open ones matter (the board counts open cases past close_by,
    # missed or not)
    "ix_case_contact_pending": (
        ["state", "contact_by"],
        "contact_by IS NOT NULL AND contacted_at IS NULL AND contact_missed IS {false}",
    ),
    "ix_case_close_by": (["state", "close_by"], "close_by IS NOT NULL"),
}


#: index name → columns of the case table, whole
COVERING = {
    "ix_case_reported_dims": ["reported_at", "channel", "matter_code", "responsibility_grid_code"],
    "ix_case_state_grid": ["state", "responsibility_grid_code"],
    "ix_case_state_due_warn": ["state", "due_at", "warn_at"],
}
MISSED = "ix_case_timeline_missed"


def upgrade() -> None:
    for prefix in ("ix_case_state_due", "ix_case_reported_at"):  # prefixes of the new ones
        op.drop_index(prefix, table_name="case")
    for name, columns in COVERING.items():
        op.create_index(name, "case", columns)
    op.create_index(
        MISSED,
        "case_timeline",
        ["case_id"],
        postgresql_where=sa.text("action = 'deadline_missed'"),
        sqlite_where=sa.text("action = 'deadline_missed'"),
    )
    for name, (columns, where) in INDEXES.items():
        op.create_index(
            name,
            "case",
            columns,
            postgresql_where=sa.text(where.format(false="false")),
            sqlite_where=sa.text(where.format(false="0")),
        )


def downgrade() -> None:
    op.drop_index(MISSED, table_name="case_timeline")
    for name in [*INDEXES, *COVERING]:
        op.drop_index(name, table_name="case")
    op.create_index("ix_case_state_due", "case", ["state", "due_at"])
    op.create_index("ix_case_reported_at", "case", ["reported_at"])
