"""Column shapes shared by the hand-written migrations (frozen: changing one needs a migration)."""

from __future__ import annotations

import sqlalchemy as sa

#: 64-bit primary keys on PostgreSQL, SQLite's rowid integer there (as ``kit.db.BigIntPK``).
PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def audited() -> list[sa.Column]:
    """The four columns of ``kit.db.Audited``: who wrote a row and when."""
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
    ]
