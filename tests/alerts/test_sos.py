"""SOS (一键报警) from a radio, a device platform or the officer's page: a critical alert now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.alerts.conftest import GRID, Patrol, alerts_of, border_points, flush, osmand_fix
from tests.workforce.conftest import SignedIn
from urbanops.alerts.models import AlertKind
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.events import Event
from urbanops.workforce.models import Device
from urbanops.workforce.positions_models import position_table

HERE = border_points().inside


def stored_alarms(db: Session, device_id: int) -> list[object]:
    rows = db.execute(
        select(position_table.c.attributes).where(position_table.c.device_id == device_id)
    ).scalars()
    return [(a or {}).get("alarm") for a in rows]


def test_a_radio_pressing_sos_raises_a_critical_alert_before_its_fix_is_written(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    heard: list[Event],
) -> None:
    osmand_fix(client, patrol.radio, HERE, clock.now(), alarm="sos")
    (alert,) = alerts_of(db, kind=AlertKind.SOS)  # no flush yet
    assert (alert.severity, alert.officer_id, alert.device_id, alert.grid_code) == (
        "critical", patrol.officer.id, patrol.device.id, GRID)  # fmt: skip
    assert alert.to_role == Role.SHIFT_LEADER.value and "一键报警" in alert.title
    assert alert.data is not None and (alert.data["lon"], alert.data["lat"]) == HERE
    assert [e.alert_id for e in heard if e.name == "DeviceSos"] == [alert.id]  # type: ignore[attr-defined]

    assert flush(app, db) == 1  # and the fix itself went the normal way
    assert stored_alarms(db, patrol.device.id) == ["sos"]


def test_pressing_sos_twice_in_the_same_minute_raises_one_alert(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    clock.set(clock.now().replace(second=5))
    osmand_fix(client, patrol.radio, HERE, clock.now(), alarm="sos")
    clock.advance(timedelta(seconds=20))
    osmand_fix(client, patrol.radio, HERE, clock.now(), alarm="SOS")
    assert len(alerts_of(db, kind=AlertKind.SOS)) == 1
    clock.advance(timedelta(minutes=1))  # a minute later it is news again
    osmand_fix(client, patrol.radio, HERE, clock.now(), alarm="sos")
    assert len(alerts_of(db, kind=AlertKind.SOS)) == 2
    flush(app, db)
    assert stored_alarms(db, patrol.device.id) == ["sos", "SOS", "sos"]  # as sent


def test_sos_without_a_location_is_placed_where_the_radio_was_last(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    osmand_fix(client, patrol.radio, HERE, clock.now())
    clock.advance(timedelta(seconds=30))
    answer = client.get("/osmand", params={"id": patrol.radio, "alarm": "sos"})
    assert answer.status_code == 200, answer.text
    (alert,) = alerts_of(db, kind=AlertKind.SOS)
    assert alert.data is not None and (alert.data["lon"], alert.data["lat"]) == HERE


def test_other_alarms_are_kept_on_the_fix_and_raise_nothing(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    osmand_fix(client, patrol.radio, HERE, clock.now(), alarm="lowBattery")
    flush(app, db)
    assert alerts_of(db) == []
    assert stored_alarms(db, patrol.device.id) == ["lowBattery"]


def test_a_platform_batch_fix_with_alarm_sos_raises_the_alert(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    auth_headers,  # type: ignore[no-untyped-def]
) -> None:
    lon, lat = HERE
    fixes = [
        {"device": patrol.radio, "at": clock.now().isoformat(), "lon": lon, "lat": lat},
        {"device": patrol.radio, "at": (clock.now() + timedelta(seconds=5)).isoformat(),
         "lon": lon, "lat": lat, "alarm": "sos"},
    ]  # fmt: skip
    answer = client.post("/api/positions/batch", json={"fixes": fixes},
                         headers=auth_headers(Role.INTEGRATION))  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    (alert,) = alerts_of(db, kind=AlertKind.SOS)
    assert alert.device_id == patrol.device.id and alert.severity == "critical"
    flush(app, db)
    assert stored_alarms(db, patrol.device.id) == [None, "sos"]


def test_the_officer_presses_sos_on_his_page(
    app: FastAPI,
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    signed_in: SignedIn,
) -> None:
    lon, lat = HERE
    username = "gh0101"
    answer = client.post("/api/positions/me", json={"lat": lat, "lon": lon, "alarm": "sos"},
                         headers=signed_in(username))  # fmt: skip
    assert answer.status_code == 200, answer.text
    (alert,) = alerts_of(db, kind=AlertKind.SOS)
    phone = db.scalar(select(Device).where(Device.identifier == answer.json()["device"]))
    assert phone is not None and alert.device_id == phone.id
    assert alert.officer_id == patrol.officer.id and alert.severity == "critical"


def test_an_sos_with_a_broken_position_still_alerts(
    client: TestClient, db: Session, clock: ManualClock, patrol: Patrol
) -> None:
    answer = client.get("/osmand", params={"id": patrol.radio, "lat": "91", "lon": "114",
                                           "alarm": "sos"})  # fmt: skip
    assert answer.status_code == 400  # the fix is refused …
    (alert,) = alerts_of(db, kind=AlertKind.SOS)  # … the SOS is not
    assert alert.data is not None and alert.data["lon"] is None


def test_an_sos_from_a_phone_without_a_fix_still_alerts(
    client: TestClient, db: Session, patrol: Patrol, signed_in: SignedIn
) -> None:
    headers = signed_in("gh0101")
    answer = client.post("/api/positions/me", json={"alarm": "sos"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] is False and answer.json()["reason"] == "no_position"
    (alert,) = alerts_of(db, kind=AlertKind.SOS)
    assert alert.officer_id == patrol.officer.id and alert.severity == "critical"


@pytest.mark.parametrize("body", [{}, {"lat": 22.7}, {"lon": 114.0, "alarm": "sos"}])
def test_a_position_without_both_coordinates_is_refused(
    client: TestClient, db: Session, patrol: Patrol, signed_in: SignedIn, body: dict[str, Any]
) -> None:
    answer = client.post("/api/positions/me", json=body, headers=signed_in("gh0101"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert alerts_of(db, kind=AlertKind.SOS) == []
