"""Alert fixtures: an on-duty demo officer with his radio, points either side of his grid's border.

Every test starts with an empty alert table inside its transaction (alerts other tests committed
for real, e.g. through the app's periodic jobs, are out of sight and come back at the rollback).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import Point, Polygon
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.cases.conftest import actor
from tests.workforce.conftest import signed_in as signed_in  # the fixture, shared
from urbanops.alerts.models import Alert
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.clock import ManualClock
from urbanops.kit.events import Event, bus
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device, DutyStatus, Officer
from urbanops.workforce.positions_api import ingest_of

GRID = "440309001-01"  # the home grid of the demo officer gh0101
NEIGHBOUR = "440309001-02"
EVENT_NAMES = (
    "AlertRaised",
    "AlertResolved",
    "AlertAcknowledged",
    "OfficerLeftGrid",
    "OfficerReturnedToGrid",
    "DeviceWentOffline",
    "DeviceBackOnline",
    "DeviceSos",
)
METRE = 1 / 111_000  # degrees of latitude, near enough at 22.7° N for a few metres


@dataclass(frozen=True)
class BorderPoints:
    """(lon, lat) pairs: just inside grid 01, just across its border in grid 02."""

    inside: tuple[float, float]
    outside: tuple[float, float]


@cache
def border_points() -> BorderPoints:
    """Two points 25 m either side of the border between grids 01 and 02."""
    grids = {g.code: g.polygon for g in build_guanhu().responsibility_grids}
    home, other = grids[GRID], grids[NEIGHBOUR]
    middle = home.boundary.intersection(other.boundary).interpolate(0.5, normalized=True)
    inside = _near(middle, home, other)
    outside = _near(middle, other, home)
    return BorderPoints(inside, outside)


def _near(middle: Point, into: Polygon, away: Polygon) -> tuple[float, float]:
    for step in range(36):
        angle = math.radians(step * 10)
        lon = middle.x + 25 * METRE * math.cos(angle) / math.cos(math.radians(middle.y))
        lat = middle.y + 25 * METRE * math.sin(angle)
        candidate = Point(lon, lat)
        if into.buffer(-5 * METRE).contains(candidate) and not away.contains(candidate):
            return round(lon, 6), round(lat, 6)
    raise AssertionError("no point near the border")


@dataclass(frozen=True)
class Patrol:
    """The on-duty officer gh0101 of grid 01 and his radio."""

    officer: Officer
    device: Device

    @property
    def radio(self) -> str:
        return self.device.identifier


@pytest.fixture(autouse=True)
def no_alerts(request: pytest.FixtureRequest) -> None:
    """Tests in the rolled-back transaction start with no alerts (committed tests are left be)."""
    if "db" in request.fixturenames:
        request.getfixturevalue("db").execute(delete(Alert))


@pytest.fixture
def patrol(db: Session, clock: ManualClock) -> Patrol:
    """gh0101 on duty since now (his radio has never reported)."""
    officer = db.scalar(select(Officer).where(Officer.grid_code == GRID).order_by(Officer.id))
    assert officer is not None
    device = db.scalar(select(Device).where(Device.user_id == officer.user_id))
    assert device is not None
    device.last_fix_at = None
    by = actor(db, "duty01")
    workforce.set_duty(db, officer=officer, status=DutyStatus.OFF_DUTY, reason="test", by=by,
                       now=clock.now())  # fmt: skip
    workforce.set_duty(db, officer=officer, status=DutyStatus.ON_DUTY, reason="test", by=by,
                       now=clock.now())  # fmt: skip
    db.commit()
    return Patrol(officer, device)


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    """The alert and watch events the bus delivers during the test."""
    received: list[Event] = []
    off = [bus.subscribe(name, received.append) for name in EVENT_NAMES]
    yield received
    for unsubscribe in off:
        unsubscribe()


def osmand_fix(
    client: TestClient, identifier: str, where: tuple[float, float], at: datetime, **extra: str
) -> None:
    """One OsmAnd fix as Traccar Client sends it."""
    lon, lat = where
    params = {"id": identifier, "lat": str(lat), "lon": str(lon),
              "timestamp": str(int(at.timestamp())), **extra}  # fmt: skip
    answer = client.get("/osmand", params=params)
    assert answer.status_code == 200, answer.text
    assert "X-Fix-Dropped" not in answer.headers, answer.headers


def flush(app: FastAPI, db: Session) -> int:
    """Write the buffered fixes as the writer thread would, and commit (events delivered)."""
    written = ingest_of(app).flush(db)
    db.commit()
    return written


def alerts_of(db: Session, **where: object) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    for name, value in where.items():
        query = query.where(getattr(Alert, name) == value)
    return list(db.scalars(query))
