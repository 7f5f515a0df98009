"""Database plumbing: engine, session, declarative base and portable column types.

One ORM over SQLite (a street on one machine) and PostgreSQL (a district or a city).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Primary keys: 64-bit on PostgreSQL, SQLite's rowid integer there.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC; naive values are refused so no local time sneaks in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide where transactions begin (SAVEPOINTs need it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


#: Execution option marking a transaction that will write. On SQLite it begins with
#: ``BEGIN IMMEDIATE``: the write lock is taken up front (waiting up to ``busy_timeout``), so a
#: transaction that read first can never lose its snapshot to another writer and fail.
WRITE_OPTIONS: dict[str, Any] = {"urbanops_write": True}


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get("urbanops_write"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and real transactions."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # No JIT: every query here is short, and compiling one costs ~100 ms whenever the planner's
    # estimate of a big table crosses jit_above_cost (the sweeper's pass on a district's cases).
    kwargs.setdefault("connect_args", {}).setdefault("options", "-c jit=off")
    return create_engine(url, **kwargs)


#: SQLSTATEs of a server that is going away or not there yet: class 08 (connection exception),
#: admin_shutdown, crash_shutdown, cannot_connect_now.
_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or went away mid-statement.

    Not a refusal of the work itself (a constraint, a deadlock, SQLite's busy lock): the same
    statement on a live connection might have succeeded, and a COMMIT that failed this way may
    or may not have happened. psycopg marks its client-side failures (refused, closed) with no
    SQLSTATE; SQLite's errors carry none of these.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", "")
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """A job's transaction: commit on success, roll back on any error."""
    session = factory(execution_options=WRITE_OPTIONS) if write else factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Audited:
    """Columns that record who wrote a row and when; every write records its actor."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)

    def stamp_created(self, actor_ref: str, at: datetime) -> None:
        self.created_by, self.created_at = actor_ref, at

    def stamp_updated(self, actor_ref: str, at: datetime) -> None:
        self.updated_by, self.updated_at = actor_ref, at
