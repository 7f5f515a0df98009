"""Case numbers (案件编号): ``<street code>-<YYYYMMDD local>-<serial of that day>``."""

from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from urbanops.cases.models import CaseNumberCounter

NO_STREET = "000000000"


def next_number(session: Session, *, street_code: str | None, day: date) -> str:
    """Take the next serial of the street's day in one atomic upsert (no two cases share one)."""
    prefix = f"{street_code or NO_STREET}-{day:%Y%m%d}"
    statement = _upsert(session.get_bind().dialect.name)
    serial = session.execute(statement, {"prefix": prefix}).scalar_one()
    return f"{prefix}-{serial:04d}"


@cache
def _upsert(dialect: str) -> ReturningInsert[tuple[int]]:
    """The counter's upsert for a dialect, built once."""
    table = CaseNumberCounter.__table__
    assert isinstance(table, Table)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .values(key=bindparam("prefix"), last=1)
        .on_conflict_do_update(index_elements=[table.c.key], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
