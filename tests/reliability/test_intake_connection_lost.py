"""A batch whose COMMIT loses the database: 503 for every report in it, and nothing stored twice.

When the connection breaks during COMMIT, nobody knows whether the commit happened. The writer
must not store the batch again report by report (as it does when the database refuses one report
of a batch): reports without an idempotency key would be stored twice. Here the batch really is
committed (on SQLite and PostgreSQL) and then the COMMIT's lost connection is raised, as psycopg
raises it when the server goes away at that moment; the client retrying with its key finds its case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import wait
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.cases.conftest import actor, report_in
from tests.cases.test_intake_writer import Written
from urbanops.cases import intake
from urbanops.cases.service import IncomingReport
from urbanops.config import Settings
from urbanops.kit.calendar import load_calendar
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import connection_lost, make_sessionmaker, unit_of_work

pytestmark = pytest.mark.db

WAIT_S = 60


@pytest.fixture
def written(db_engine: Engine) -> Iterator[Written]:
    rows = Written(db_engine)
    yield rows
    rows.remove()


def _lost_at_commit() -> OperationalError:
    """What SQLAlchemy raises when the server closes the connection during COMMIT."""
    return OperationalError(
        "COMMIT",
        {},
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        connection_invalidated=True,
    )


def test_a_batch_that_loses_the_database_at_commit_is_answered_503_and_not_stored_twice(
    db_engine: Engine, settings: Settings, clock: ManualClock, written: Written
) -> None:
    factory = make_sessionmaker(engine=db_engine)
    with Session(db_engine) as session:
        officer = actor(session, "gh0101")
    failures = {"left": 1}

    @contextmanager
    def write_scope() -> Iterator[Session]:
        with unit_of_work(factory) as session:
            yield session
        if failures["left"]:  # committed, but the answer to COMMIT never arrived
            failures["left"] -= 1
            raise _lost_at_commit()

    writer = intake.IntakeWriter(
        write_scope=write_scope,
        read_scope=lambda: unit_of_work(factory, write=False),
        calendar=lambda session: load_calendar(session, settings),
    )
    key = f"app-{uuid.uuid4().hex}"
    futures = [
        writer.submit(IncomingReport(report_in(0), officer, clock.now())),  # no key
        writer.submit(IncomingReport(report_in(1, idempotency_key=key), officer, clock.now())),
    ]
    writer.start()
    try:
        wait(futures, timeout=WAIT_S)
        errors = [f.exception() for f in futures]
        assert all(isinstance(e, OperationalError) and connection_lost(e) for e in errors), errors

        stored = written.cases()
        assert len(stored) == 2, "the batch was stored again after its COMMIT"
        assert [len(written.reports_of(c.id)) for c in stored] == [1, 1]

        # The client that sent a key retries and is told its case; nothing new is stored.
        again = writer.submit(
            IncomingReport(report_in(1, idempotency_key=key), officer, clock.now())
        )
        receipt = again.result(timeout=WAIT_S)
    finally:
        writer.stop()
    assert not receipt.result.created and receipt.result.case.id in {c.id for c in stored}
    assert len(written.cases()) == 2


def test_only_a_lost_connection_counts_as_lost() -> None:
    """A refused statement (a deadlock, SQLite's busy lock) is not a lost database."""
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")
    assert not connection_lost(OperationalError("UPDATE", {}, deadlock))
    assert not connection_lost(OperationalError("BEGIN", {}, _sqlite_busy()))
    assert connection_lost(_lost_at_commit())
    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert connection_lost(OperationalError("connect", {}, refused))
    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert connection_lost(OperationalError("SELECT 1", {}, shutdown))
    assert not connection_lost(ValueError("not a database error"))


def _sqlite_busy() -> Exception:
    import sqlite3

    return sqlite3.OperationalError("database is locked")
