"""The alert store: one open alert per key, also when two processes raise it at the same moment."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from urbanops.alerts import service
from urbanops.alerts.models import Alert, AlertKind, Severity
from urbanops.kit.actor import SYSTEM
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker, unit_of_work
from urbanops.kit.events import Event, pending


def test_an_open_key_is_raised_once_and_again_after_it_is_resolved(
    db: Session, clock: ManualClock
) -> None:
    raise_it = {
        "kind": AlertKind.DISPATCH_TIMEOUT,
        "title": "派遣超时未响应",
        "to_role": "shift_leader",
        "case_id": 7,
        "dedupe_key": "dispatch_timeout:7",
    }
    first = service.raise_alert(db, at=clock.now(), **raise_it)  # type: ignore[arg-type]
    assert first is not None and first.severity == Severity.WARNING
    assert [e.name for e in pending(db)] == ["AlertRaised"]
    assert service.raise_alert(db, at=clock.now(), **raise_it) is None  # type: ignore[arg-type]

    clock.advance(timedelta(minutes=2))
    ended = service.resolve(db, dedupe_key="dispatch_timeout:7", at=clock.now())
    assert ended is first and first.resolved_at == clock.now()
    assert service.resolve(db, dedupe_key="dispatch_timeout:7", at=clock.now()) is None
    second = service.raise_alert(db, at=clock.now(), **raise_it)  # type: ignore[arg-type]
    assert second is not None and second.id != first.id
    assert [e.name for e in pending(db)] == ["AlertRaised", "AlertResolved", "AlertRaised"]


def test_alerts_without_a_key_are_never_merged(db: Session, clock: ManualClock) -> None:
    for _ in range(2):
        assert service.raise_alert(db, kind=AlertKind.SOS, at=clock.now(), title="SOS") is not None
    assert len(db.scalars(select(Alert)).all()) == 2


def test_a_bad_kind_severity_or_key_is_a_programming_error(db: Session, clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        service.raise_alert(db, kind="", at=clock.now(), title="x")
    with pytest.raises(ValueError):
        service.raise_alert(db, kind=AlertKind.SOS, at=clock.now(), title="x", severity="loud")
    with pytest.raises(ValueError):
        service.raise_alert(db, kind=AlertKind.SOS, at=clock.now(), title="x", dedupe_key="k" * 129)


def test_acknowledging_is_recorded_once_with_its_actor(db: Session, clock: ManualClock) -> None:
    alert = service.raise_alert(db, kind=AlertKind.LEFT_GRID, at=clock.now(), title="离开网格",
                                dedupe_key="left_grid:1")  # fmt: skip
    assert alert is not None
    service.acknowledge(db, alert_id=alert.id, by=SYSTEM, at=clock.now())
    assert (alert.acknowledged_by, alert.resolved_at) == ("system", None)  # watched: stays open
    first = alert.acknowledged_at
    clock.advance(timedelta(minutes=1))
    service.acknowledge(db, alert_id=alert.id, by=SYSTEM, at=clock.now())
    assert alert.acknowledged_at == first


def test_two_processes_raising_the_same_news_at_once_store_it_once(
    db_engine: Engine, clock: ManualClock
) -> None:
    key = f"test-race:{uuid.uuid4().hex}"
    factory = make_sessionmaker(db_engine)
    start = threading.Barrier(8)
    answers: list[bool] = []
    errors: list[BaseException] = []
    heard: list[Event] = []

    def process() -> None:
        try:
            start.wait(timeout=10)
            with unit_of_work(factory) as session:
                alert = service.raise_alert(
                    session, kind=AlertKind.DEVICE_OFFLINE, at=clock.now(), title="设备离线",
                    dedupe_key=key,
                )  # fmt: skip
                answers.append(alert is not None)
                heard.extend(pending(session))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=process) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert sorted(answers) == [False] * 7 + [True]
        assert [e.name for e in heard] == ["AlertRaised"]
        with Session(db_engine) as session:
            assert len(session.scalars(select(Alert).where(Alert.dedupe_key == key)).all()) == 1
    finally:
        with unit_of_work(factory) as session:
            session.execute(delete(Alert).where(Alert.dedupe_key == key))
