"""An on-duty officer who walks out of his responsibility grid (离开网格) is seen, and no other."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.alerts.conftest import (
    GRID,
    Patrol,
    alerts_of,
    border_points,
    flush,
    osmand_fix,
)
from tests.cases.conftest import actor
from urbanops.alerts.models import AlertKind
from urbanops.alerts.tasks import watch_devices
from urbanops.kit.clock import ManualClock
from urbanops.kit.events import Event
from urbanops.workforce import service as workforce
from urbanops.workforce.models import DutyStatus
from urbanops.workforce.positions_api import ingest_of
from urbanops.workforce.positions_models import position_table

IN, OUT = border_points().inside, border_points().outside


def walk(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol,
    where: tuple[float, float], *, every_s: int = 30,
) -> None:  # fmt: skip
    """One fix ``every_s`` seconds later, written at once."""
    clock.advance(timedelta(seconds=every_s))
    osmand_fix(client, patrol.radio, where, clock.now())
    assert flush(app, db) == 1


def test_an_officer_who_walks_out_of_his_grid_is_alerted_after_a_minute_and_back_resolves_it(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    heard: list[Event],
) -> None:
    walk(app, client, db, clock, patrol, IN)
    walk(app, client, db, clock, patrol, OUT)  # first fix outside
    walk(app, client, db, clock, patrol, OUT)  # 2 fixes, 30 s: could be GPS drift
    assert alerts_of(db, kind=AlertKind.LEFT_GRID) == []

    walk(app, client, db, clock, patrol, OUT)  # 3 fixes over 60 s: he has left
    (alert,) = alerts_of(db, kind=AlertKind.LEFT_GRID)
    assert (alert.officer_id, alert.user_id, alert.device_id, alert.grid_code) == (
        patrol.officer.id, patrol.officer.user_id, patrol.device.id, GRID)  # fmt: skip
    assert alert.severity == "warning" and alert.resolved_at is None
    assert "离开责任网格" in alert.title and GRID in alert.title
    assert alert.data is not None and alert.data["outside_fixes"] == 3
    left = [e for e in heard if e.name == "OfficerLeftGrid"]
    assert [(e.officer_id, e.grid_code) for e in left] == [(patrol.officer.id, GRID)]  # type: ignore[attr-defined]

    walk(app, client, db, clock, patrol, OUT)  # still outside: no second alert
    assert len(alerts_of(db, kind=AlertKind.LEFT_GRID)) == 1

    walk(app, client, db, clock, patrol, IN)  # back in his grid
    db.refresh(alert)
    assert alert.resolved_at == clock.now().replace(microsecond=0)
    returned = [e for e in heard if e.name == "OfficerReturnedToGrid"]
    assert [e.officer_id for e in returned] == [patrol.officer.id]  # type: ignore[attr-defined]


def test_gps_jitter_across_the_border_raises_nothing(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    heard: list[Event],
) -> None:
    for n in range(24):  # four minutes along the border, every other fix across it
        walk(app, client, db, clock, patrol, OUT if n % 2 else IN, every_s=10)
    assert alerts_of(db, kind=AlertKind.LEFT_GRID) == []
    assert [e for e in heard if e.name == "OfficerLeftGrid"] == []


def test_an_officer_off_duty_may_go_where_he_likes(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    heard: list[Event],
) -> None:
    walk(app, client, db, clock, patrol, IN)  # the watch has met him on duty
    workforce.set_duty(db, officer=patrol.officer, status=DutyStatus.OFF_DUTY, reason="下班",
                       by=actor(db, "duty01"), now=clock.now())  # fmt: skip
    db.commit()
    for _ in range(6):
        walk(app, client, db, clock, patrol, OUT)
    assert alerts_of(db, kind=AlertKind.LEFT_GRID) == []
    assert [e for e in heard if e.name == "OfficerLeftGrid"] == []


def test_going_off_duty_while_out_of_the_grid_ends_the_alert_at_the_next_watch(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    for where in (IN, OUT, OUT, OUT):
        walk(app, client, db, clock, patrol, where)
    (alert,) = alerts_of(db, kind=AlertKind.LEFT_GRID)
    workforce.set_duty(db, officer=patrol.officer, status=DutyStatus.OFF_DUTY, reason="下班",
                       by=actor(db, "duty01"), now=clock.now())  # fmt: skip
    watch_devices(db, now=clock.now(), offline_after_s=300)
    db.refresh(alert)
    assert alert.resolved_at is not None


def test_a_failing_watch_never_costs_the_positions(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    def broken(_session: Session, _fixes: object) -> None:
        raise RuntimeError("a bug in a hook")

    ingest_of(app).after_write.insert(0, broken)
    for where in (IN, OUT, OUT, OUT):
        walk(app, client, db, clock, patrol, where)  # each one written
    stored = db.scalar(
        select(func.count())
        .select_from(position_table)
        .where(position_table.c.device_id == patrol.device.id)
    )
    assert stored == 4
    assert len(alerts_of(db, kind=AlertKind.LEFT_GRID)) == 1  # the watch after it still ran
