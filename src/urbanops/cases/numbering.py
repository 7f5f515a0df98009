"""Case numbers (案件编号): ``<street code>-<YYYYMMDD local>-<serial of that day>``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from urbanops.cases.models import CaseNumberCounter

NO_STREET = "000000000"


def next_number(session: Session, *, street_code: str | None, day: date) -> str:
    """Take the next serial of the street's day in one atomic upsert (no two cases share one)."""
    prefix = f"{street_code or NO_STREET}-{day:%Y%m%d}"
    table = CaseNumberCounter.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(key=prefix, last=1)
        .on_conflict_do_update(index_elements=[table.c.key], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    serial = session.execute(statement).scalar_one()
    return f"{prefix}-{serial:04d}"
