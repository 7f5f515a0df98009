"""Case numbers (案件编号): ``<street code>-<YYYYMMDD local>-<serial of that day>``.

The serials of a street's day come from one counter row. A batch of new cases takes all its
serials in one atomic upsert (``last = last + count``), so a writer touches the hot row once per
batch, not once per case, and no two cases ever share a number.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from urbanops.cases.models import CaseNumberCounter

NO_STREET = "000000000"


def prefix(*, street_code: str | None, day: date) -> str:
    """The counter key and number prefix of a street's local day, e.g. ``440309001-20261126``."""
    return f"{street_code or NO_STREET}-{day:%Y%m%d}"


def take(session: Session, *, prefix: str, count: int) -> list[str]:
    """``count`` consecutive new numbers under ``prefix``, taken in one atomic upsert."""
    if count < 1:
        return []
    statement = _upsert(session.get_bind().dialect.name)
    last = int(session.execute(statement, {"prefix": prefix, "count": count}).scalar_one())
    return [f"{prefix}-{serial:04d}" for serial in range(last - count + 1, last + 1)]


def next_number(session: Session, *, street_code: str | None, day: date) -> str:
    """The next number of the street's day (no two cases share one)."""
    return take(session, prefix=prefix(street_code=street_code, day=day), count=1)[0]


@cache
def _upsert(dialect: str) -> ReturningInsert[Any]:
    """The counter's upsert for a dialect, built once."""
    table = CaseNumberCounter.__table__
    assert isinstance(table, Table)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    count = bindparam("count", type_=table.c.last.type)
    return (
        insert(table)
        .values(key=bindparam("prefix"), last=count)
        .on_conflict_do_update(index_elements=[table.c.key], set_={"last": table.c.last + count})
        .returning(table.c.last)
    )
