"""The EventBus delivers news only of what was committed, once, and survives a broken subscriber."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from urbanops.auth.models import AuditLog
from urbanops.auth.service import audit
from urbanops.kit.actor import SYSTEM
from urbanops.kit.events import Event, bus, pending, publish

AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Pinged(Event):
    name = "TestPinged"
    tag: str


@dataclass(frozen=True, kw_only=True)
class Ponged(Event):
    name = "TestPonged"
    tag: str


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    """Everything the bus delivers under the test events' names, for the test's duration."""
    received: list[Event] = []
    off = [bus.subscribe(name, received.append) for name in ("TestPinged", "TestPonged")]
    yield received
    for unsubscribe in off:
        unsubscribe()


@pytest.fixture
def tag(db_engine: Engine) -> Iterator[str]:
    """A unique audit entity id; the committed audit rows carrying it are deleted afterwards."""
    value = uuid.uuid4().hex
    yield value
    with Session(db_engine) as session, session.begin():
        session.execute(delete(AuditLog).where(AuditLog.entity_id == value))


def _audit_rows(engine: Engine, tag: str) -> int:
    with Session(engine) as other:
        query = select(func.count()).select_from(AuditLog).where(AuditLog.entity_id == tag)
        return other.scalar(query) or 0


def test_event_of_a_committed_transaction_is_delivered_once_after_the_commit(
    db_engine: Engine, heard: list[Event], tag: str
) -> None:
    seen_committed: list[int] = []
    off = bus.subscribe(
        "TestPinged", lambda _ev: seen_committed.append(_audit_rows(db_engine, tag))
    )
    try:
        with Session(db_engine) as session:
            audit(session, actor=SYSTEM, action="ping", entity="test", entity_id=tag, now=AT)
            publish(session, Pinged(at=AT, tag=tag))
            session.flush()
            assert heard == []  # not before the commit, not on flush
            assert pending(session) == [Pinged(at=AT, tag=tag)]
            session.commit()
            assert heard == [Pinged(at=AT, tag=tag)]
            # a later transaction on the same session does not deliver it again
            session.execute(select(1))
            session.commit()
    finally:
        off()
    assert heard == [Pinged(at=AT, tag=tag)]
    assert seen_committed == [1]  # the handler ran when the row was visible to other connections


def test_event_of_a_rolled_back_transaction_is_never_delivered(
    db_engine: Engine, heard: list[Event], tag: str
) -> None:
    with Session(db_engine) as session:
        audit(session, actor=SYSTEM, action="ping", entity="test", entity_id=tag, now=AT)
        publish(session, Pinged(at=AT, tag=tag))
        session.rollback()
        assert pending(session) == []
        # the next transaction commits something else: the dropped event stays dropped
        publish(session, Ponged(at=AT, tag=tag))
        session.execute(select(1))
        session.commit()
    assert heard == [Ponged(at=AT, tag=tag)]
    assert _audit_rows(db_engine, tag) == 0


def test_event_is_dropped_when_the_transaction_fails(
    db_engine: Engine, heard: list[Event], tag: str
) -> None:
    session = Session(db_engine)
    try:
        publish(session, Pinged(at=AT, tag=tag))
        session.add(AuditLog(at=AT, actor_ref="system", action=None, entity="test", entity_id=tag))
        with pytest.raises(IntegrityError):
            session.commit()  # NOT NULL violated: the flush fails, the transaction rolls back
        session.rollback()
    finally:
        session.close()
    assert heard == []


def test_failing_handler_does_not_stop_the_others(
    db_engine: Engine, heard: list[Event], tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    everything: list[Event] = []
    off = [bus.subscribe("TestPinged", broken), bus.subscribe("*", everything.append)]
    try:
        with Session(db_engine) as session:
            audit(session, actor=SYSTEM, action="ping", entity="test", entity_id=tag, now=AT)
            publish(session, Pinged(at=AT, tag=tag))
            publish(session, Ponged(at=AT, tag=tag))
            session.commit()  # does not raise
    finally:
        for unsubscribe in off:
            unsubscribe()
    assert heard == [Pinged(at=AT, tag=tag), Ponged(at=AT, tag=tag)]
    assert [e for e in everything if getattr(e, "tag", None) == tag] == heard
    assert "event handler failed for TestPinged" in caplog.text
    assert _audit_rows(db_engine, tag) == 1  # the commit stands


def test_unsubscribed_handler_hears_nothing_more(db_engine: Engine, tag: str) -> None:
    received: list[Event] = []
    unsubscribe = bus.subscribe("TestPinged", received.append)
    with Session(db_engine) as session:
        publish(session, Pinged(at=AT, tag="first"))
        session.execute(select(1))
        session.commit()
        unsubscribe()
        unsubscribe()  # twice is harmless
        publish(session, Pinged(at=AT, tag="second"))
        session.execute(select(1))
        session.commit()
    assert received == [Pinged(at=AT, tag="first")]


def test_payload_is_the_wire_form() -> None:
    assert Pinged(at=AT, tag="x").payload() == {
        "event": "TestPinged",
        "at": "2026-11-26T01:00:00+00:00",
        "tag": "x",
    }


def test_an_event_published_in_a_rolled_back_savepoint_is_dropped(db_engine) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import dataclass
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from urbanops.kit.events import Event, bus, publish

    @dataclass(frozen=True, kw_only=True)
    class Ping(Event):
        name = "PingSavepoint"
        n: int

    heard: list[int] = []
    unsubscribe = bus.subscribe("PingSavepoint", lambda ev: heard.append(ev.n))  # type: ignore[attr-defined]
    try:
        with Session(db_engine) as session:
            publish(session, Ping(at=datetime.now(UTC), n=1))
            savepoint = session.begin_nested()
            publish(session, Ping(at=datetime.now(UTC), n=2))
            savepoint.rollback()
            kept = session.begin_nested()
            publish(session, Ping(at=datetime.now(UTC), n=3))
            kept.commit()
            session.commit()
    finally:
        unsubscribe()
    assert heard == [1, 3]


def test_a_released_savepoint_delivers_nothing_before_the_real_commit(
    db_engine: Engine, heard: list[Event], tag: str
) -> None:
    with Session(db_engine) as session:
        publish(session, Pinged(at=AT, tag=tag))
        with session.begin_nested():
            publish(session, Ponged(at=AT, tag=tag))
        assert heard == []  # the savepoint's release is not the commit
        session.commit()
    assert heard == [Pinged(at=AT, tag=tag), Ponged(at=AT, tag=tag)]
