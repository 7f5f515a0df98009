"""A silent device of an officer on duty (设备离线) is reported once, and its next fix ends it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from tests.alerts.conftest import Patrol, alerts_of, border_points, flush, osmand_fix
from tests.cases.conftest import actor
from urbanops.alerts.models import Alert, AlertKind
from urbanops.alerts.tasks import DeviceWatchReport, device_watch_job, watch_devices
from urbanops.auth.models import User
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker, unit_of_work
from urbanops.kit.events import Event
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device, DeviceKind, DutyStatus, Officer, TravelMode

OFFLINE_AFTER_S = 300


def watch(db: Session, clock: ManualClock) -> DeviceWatchReport:
    report = watch_devices(db, now=clock.now(), offline_after_s=OFFLINE_AFTER_S)
    db.commit()
    return report


def test_a_radio_silent_for_five_minutes_on_duty_is_reported_once_however_often_the_job_runs(
    db: Session, clock: ManualClock, patrol: Patrol, heard: list[Event]
) -> None:
    clock.advance(timedelta(seconds=OFFLINE_AFTER_S - 1))
    watch(db, clock)
    assert alerts_of(db, device_id=patrol.device.id) == []  # he has just clocked in

    clock.advance(timedelta(seconds=2))
    assert watch(db, clock).offline >= 1
    clock.advance(timedelta(seconds=30))
    watch(db, clock)
    (alert,) = alerts_of(db, device_id=patrol.device.id)
    assert (alert.kind, alert.severity, alert.officer_id) == (
        AlertKind.DEVICE_OFFLINE, "warning", patrol.officer.id)  # fmt: skip
    assert "离线" in alert.title and "从未上报定位" in alert.title
    offline = [e for e in heard if e.name == "DeviceWentOffline"]
    assert [e.officer_id for e in offline if e.device_id == patrol.device.id] == [  # type: ignore[attr-defined]
        patrol.officer.id
    ]


def test_a_new_fix_brings_the_device_back_and_ends_the_alert(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    heard: list[Event],
) -> None:
    clock.advance(timedelta(seconds=OFFLINE_AFTER_S + 1))
    watch(db, clock)
    (alert,) = alerts_of(db, device_id=patrol.device.id)

    osmand_fix(client, patrol.radio, border_points().inside, clock.now())
    flush(app, db)
    db.refresh(alert)
    assert alert.resolved_at == clock.now().replace(microsecond=0)
    assert [e.device_id for e in heard if e.name == "DeviceBackOnline"] == [patrol.device.id]  # type: ignore[attr-defined]
    watch(db, clock)  # online now: nothing new
    assert len(alerts_of(db, device_id=patrol.device.id)) == 1


def test_an_old_fix_sent_late_does_not_bring_the_device_back(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    clock.advance(timedelta(hours=1))
    watch(db, clock)
    (alert,) = alerts_of(db, device_id=patrol.device.id)
    osmand_fix(client, patrol.radio, border_points().inside, clock.now() - timedelta(minutes=30))
    flush(app, db)
    db.refresh(alert)
    assert alert.resolved_at is None


def test_an_off_duty_officers_silent_radio_raises_nothing(
    db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    workforce.set_duty(db, officer=patrol.officer, status=DutyStatus.OFF_DUTY, reason="下班",
                       by=actor(db, "duty01"), now=clock.now())  # fmt: skip
    clock.advance(timedelta(hours=2))
    watch(db, clock)
    assert alerts_of(db, device_id=patrol.device.id) == []


def test_going_off_duty_ends_the_offline_alert(
    db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    clock.advance(timedelta(seconds=OFFLINE_AFTER_S + 1))
    watch(db, clock)
    workforce.set_duty(db, officer=patrol.officer, status=DutyStatus.OFF_DUTY, reason="下班",
                       by=actor(db, "duty01"), now=clock.now())  # fmt: skip
    watch(db, clock)
    (alert,) = alerts_of(db, device_id=patrol.device.id)
    assert alert.resolved_at is not None


# --- two processes at once, on committed rows -------------------------------------------------


@dataclass(frozen=True)
class Committed:
    officer_id: int
    device_id: int


@pytest.fixture
def committed(db_engine: Engine, clock: ManualClock) -> Iterator[Committed]:
    """An officer on duty for an hour with a silent radio, committed for real; removed after."""
    tag = uuid.uuid4().hex[:10]
    start = clock.now() - timedelta(hours=1)
    with unit_of_work(make_sessionmaker(db_engine)) as session:
        user = User(username=f"watch-{tag}", display_name="测试队员", password_hash="-")
        user.stamp_created("test", start)
        session.add(user)
        session.flush()
        officer = Officer(user_id=user.id, grid_code="440309001-01", travel_mode=TravelMode.WALK,
                          duty_status=DutyStatus.ON_DUTY, duty_since=start)  # fmt: skip
        device = Device(identifier=f"T{tag}", kind=DeviceKind.RADIO, name="测试对讲机",
                        user_id=user.id)  # fmt: skip
        for row in (officer, device):
            row.stamp_created("test", start)
            session.add(row)
        session.flush()
        ids = Committed(officer.id, device.id)
        user_id = user.id
    try:
        yield ids
    finally:
        with unit_of_work(make_sessionmaker(db_engine)) as session:
            session.execute(delete(Alert).where(Alert.device_id == ids.device_id))
            session.execute(delete(Device).where(Device.id == ids.device_id))
            session.execute(delete(Officer).where(Officer.id == ids.officer_id))
            session.execute(delete(User).where(User.id == user_id))


def test_two_processes_watching_at_once_store_one_alert(
    db_engine: Engine, clock: ManualClock, committed: Committed
) -> None:
    factory = make_sessionmaker(db_engine)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def process() -> None:
        try:
            start.wait(timeout=10)
            with unit_of_work(factory) as session:
                watch_devices(session, now=clock.now(), offline_after_s=OFFLINE_AFTER_S)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    job = device_watch_job(Settings(mode="test", database_url="sqlite://"))
    job(factory, clock)  # and the app's job once more
    with Session(db_engine) as session:
        rows = session.scalars(select(Alert).where(Alert.device_id == committed.device_id)).all()
    assert [(r.kind, r.officer_id, r.resolved_at) for r in rows] == [
        (AlertKind.DEVICE_OFFLINE, committed.officer_id, None)
    ]
    assert rows[0].at == clock.now()
