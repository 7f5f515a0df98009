"""Position ingestion: OsmAnd as Traccar Client sends it, JSON batches, the officer's browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.workforce.models import Device
from urbanops.workforce.positions_api import ingest_of
from urbanops.workforce.positions_models import position_latest_table, position_table

STREET = build_guanhu()
RADIO = STREET.devices[0].identifier
OTHER = STREET.devices[1].identifier
POINT = STREET.sample_points()[0]
LON, LAT = round(POINT.point.x, 6), round(POINT.point.y, 6)
KNOT = 1852 / 3600


def flush(app: FastAPI, db: Session) -> int:
    return ingest_of(app).flush(db)


def device_id(db: Session, identifier: str) -> int:
    return db.scalars(select(Device.id).where(Device.identifier == identifier)).one()


def stored(db: Session, identifier: str) -> list[Any]:
    table = position_table
    return list(
        db.execute(
            select(table).where(table.c.device_id == device_id(db, identifier)).order_by(table.c.at)
        )
    )


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def test_osmand_query_fix_is_stored_with_speed_in_mps_and_its_grid(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    at = clock.now() - timedelta(seconds=30)
    answer = client.get(
        "/osmand",
        params={
            "id": RADIO,
            "lat": LAT,
            "lon": LON,
            "timestamp": epoch(at),
            "speed": 10,
            "bearing": 90,
            "altitude": 40,
            "accuracy": 8,
            "batt": 77,
            "hdop": 0.9,
            "charge": "true",
            "driverUniqueId": "gh0101",
        },
    )
    assert answer.status_code == 200, answer.text
    assert flush(app, db) == 1
    (row,) = stored(db, RADIO)
    assert row.speed_mps == pytest.approx(10 * KNOT)
    assert (row.lon, row.lat, row.course, row.altitude, row.accuracy_m, row.battery) == (
        LON, LAT, 90, 40, 8, 77)  # fmt: skip
    assert row.at == at.astimezone(UTC).replace(microsecond=0)
    assert row.unit_grid_code == POINT.unit_grid_code
    assert row.attributes == {"hdop": 0.9, "charge": True, "driverUniqueId": "gh0101"}
    assert row.source == "osmand"


@pytest.mark.parametrize(
    "stamp",
    [
        "1795654800",  # seconds: 2026-11-26 01:00:00 UTC
        "1795654800000",  # milliseconds
        "2026-11-26T09:00:00+08:00",  # ISO 8601
        "2026-11-26T01:00:00Z",
        "2026-11-26 01:00:00",  # yyyy-MM-dd HH:mm:ss (UTC, as on a Traccar server)
    ],
)
def test_osmand_timestamps_in_every_documented_format(
    app: FastAPI, client: TestClient, db: Session, stamp: str
) -> None:
    answer = client.post("/osmand", params={"deviceid": RADIO, "location": f"{LAT},{LON}",
                                            "timestamp": stamp})  # fmt: skip
    assert answer.status_code == 200, answer.text
    flush(app, db)
    (row,) = stored(db, RADIO)
    assert row.at == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    assert (row.lon, row.lat) == (LON, LAT)


def test_osmand_form_body_with_location_and_deviceid(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    answer = client.post(
        "/osmand",
        content=f"deviceid={RADIO}&location={LAT},{LON}&speed=2&timestamp={epoch(clock.now())}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    flush(app, db)
    (row,) = stored(db, RADIO)
    assert (row.lat, row.lon, row.speed_mps) == (LAT, LON, pytest.approx(2 * KNOT))


def test_osmand_json_body_of_traccar_client_9(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    body = {
        "device_id": RADIO,
        "location": {
            "timestamp": "2026-11-26T00:59:30.000Z",
            "coords": {
                "latitude": LAT,
                "longitude": LON,
                "speed": 1.4,
                "heading": 180,
                "accuracy": 12,
                "altitude": 35,
            },
            "is_moving": True,
            "odometer": 1200,
            "battery": {"level": 0.64, "is_charging": False},
            "activity": {"type": "walking"},
        },
    }
    answer = client.post("/osmand", json=body)
    assert answer.status_code == 200, answer.text
    flush(app, db)
    (row,) = stored(db, RADIO)
    assert row.speed_mps == pytest.approx(1.4)  # the JSON variant speaks m/s
    assert row.at == datetime(2026, 11, 26, 0, 59, 30, tzinfo=UTC)
    assert (row.course, row.accuracy_m, row.battery) == (180, 12, 64)
    assert row.attributes["activity"] == {"type": "walking"}
    assert row.attributes["charge"] is False


def test_unknown_device_gets_400_on_query_and_404_on_json(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    query = client.get("/osmand", params={"id": "000000000000000", "lat": LAT, "lon": LON})
    assert query.status_code == 400
    assert query.json()["code"] == "unknown_device"
    body = {"device_id": "000000000000000",
            "location": {"coords": {"latitude": LAT, "longitude": LON}}}  # fmt: skip
    as_json = client.post("/osmand", json=body)
    assert as_json.status_code == 404
    assert as_json.json()["code"] == "unknown_device"
    assert client.get("/osmand", params={"lat": LAT, "lon": LON}).status_code == 400
    assert ingest_of(app).waiting == 0


def test_latitude_91_and_a_fix_dated_tomorrow_are_refused_and_nothing_is_written(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    bad_lat = client.get("/osmand", params={"id": RADIO, "lat": 91, "lon": LON})
    assert bad_lat.status_code == 400
    assert bad_lat.json()["code"] == "invalid_coordinates"
    assert "91" in bad_lat.json()["detail"]
    tomorrow = epoch(clock.now() + timedelta(days=1))
    future = client.get("/osmand", params={"id": RADIO, "lat": LAT, "lon": LON,
                                           "timestamp": tomorrow})  # fmt: skip
    assert future.status_code == 400
    assert future.json()["code"] == "future_time"
    nan = client.get("/osmand", params={"id": RADIO, "lat": "nan", "lon": LON})
    assert nan.status_code == 400
    assert flush(app, db) == 0
    assert stored(db, RADIO) == []


def test_duplicates_poor_accuracy_and_impossible_speed_are_dropped_with_200(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    t0 = epoch(clock.now()) - 60

    def send(**params: Any) -> Any:
        return client.get("/osmand", params={"id": RADIO, **params})

    assert "X-Fix-Dropped" not in send(lat=LAT, lon=LON, timestamp=t0).headers
    assert send(lat=LAT, lon=LON, timestamp=t0).headers["X-Fix-Dropped"] == "duplicate"
    poor = send(lat=LAT, lon=LON, timestamp=t0 + 5, accuracy=250)
    assert poor.status_code == 200
    assert poor.headers["X-Fix-Dropped"] == "poor_accuracy"
    # 0.01° of latitude (≈ 1.1 km) in 10 s is ≈ 400 km/h
    jump = send(lat=LAT + 0.01, lon=LON, timestamp=t0 + 10)
    assert jump.headers["X-Fix-Dropped"] == "impossible_speed"
    assert "X-Fix-Dropped" not in send(lat=LAT + 0.0001, lon=LON, timestamp=t0 + 10).headers
    assert send(valid="false", lat=LAT, lon=LON, timestamp=t0 + 20).headers[
        "X-Fix-Dropped"] == "not_valid"  # fmt: skip
    flush(app, db)
    assert [r.lat for r in stored(db, RADIO)] == [LAT, LAT + 0.0001]


def test_latest_position_is_kept_in_memory_and_upserted_only_forward(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    t0 = epoch(clock.now()) - 120
    client.get("/osmand", params={"id": RADIO, "lat": LAT, "lon": LON, "timestamp": t0 + 60})
    client.get("/osmand", params={"id": RADIO, "lat": LAT + 0.0002, "lon": LON, "timestamp": t0})
    ingest = ingest_of(app)
    ident = device_id(db, RADIO)
    latest = ingest.latest(ident)
    assert latest is not None and latest.lat == LAT  # the late older fix does not win
    flush(app, db)
    row = db.execute(
        select(position_latest_table).where(position_latest_table.c.device_id == ident)
    ).one()
    assert (row.lat, row.at) == (LAT, datetime.fromtimestamp(t0 + 60, UTC))
    assert len(stored(db, RADIO)) == 2  # history keeps both
    newer = {"id": RADIO, "lat": LAT + 0.0001, "lon": LON, "timestamp": t0 + 90}
    client.get("/osmand", params=newer)
    flush(app, db)
    row = db.execute(
        select(position_latest_table).where(position_latest_table.c.device_id == ident)
    ).one()
    assert row.lat == LAT + 0.0001
    assert row.unit_grid_code == POINT.unit_grid_code


def test_a_device_outside_every_grid_is_still_recorded(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    answer = client.get("/osmand", params={"id": RADIO, "lat": 39.9042, "lon": 116.4074,
                                           "timestamp": epoch(clock.now())})  # fmt: skip
    assert answer.status_code == 200
    flush(app, db)
    (row,) = stored(db, RADIO)
    assert row.unit_grid_code is None
    assert (row.lat, row.lon) == (39.9042, 116.4074)


def _batch(clock: ManualClock, count: int) -> list[dict[str, Any]]:
    start = clock.now() - timedelta(hours=1)
    devices = [d.identifier for d in STREET.devices]
    points = STREET.sample_points()
    fixes = []
    for i in range(count):
        device_no, step = i % len(devices), i // len(devices)
        p = points[device_no % len(points)].point
        fixes.append({
            "device": devices[device_no],
            "at": (start + timedelta(seconds=10 * step)).isoformat(),
            "lat": round(p.y + step * 1e-5, 7), "lon": round(p.x, 7),
            "speed_mps": 1.1, "accuracy_m": 6, "attributes": {"seq": i},
        })  # fmt: skip
    return fixes


def test_batch_of_1000_with_one_bad_fix_stores_999_and_reports_its_index(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    fixes = _batch(clock, 1000)
    fixes[417]["lat"] = 91
    answer = client.post("/api/positions/batch", json={"fixes": fixes},
                         headers=auth_headers(Role.INTEGRATION))  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 999
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (417, "invalid_coordinates")]  # fmt: skip
    assert flush(app, db) == 999
    assert db.scalar(select(func.count()).select_from(position_table)) == 999
    seqs = {r.attributes["seq"] for r in db.execute(select(position_table.c.attributes))}
    assert seqs == set(range(1000)) - {417}
    assert db.scalar(select(func.count()).select_from(position_latest_table)) == 20
    if db.get_bind().dialect.name == "postgresql":
        assert db.scalar(text("SELECT to_regclass('position_20261126')")) is not None


def test_batch_reports_unknown_devices_and_future_fixes_by_index(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    fixes = _batch(clock, 5)
    fixes[1]["device"] = "nope"
    fixes[3]["at"] = (clock.now() + timedelta(days=1)).isoformat()
    answer = client.post("/api/positions/batch", json={"fixes": [*fixes, "junk"]},
                         headers=auth_headers(Role.INTEGRATION))  # fmt: skip
    assert answer.json()["accepted"] == 3
    assert [(r["index"], r["reason"]) for r in answer.json()["rejected"]] == [
        (1, "unknown_device"), (3, "future_time"), (5, "invalid_fix")]  # fmt: skip


def test_batch_with_an_unknown_api_key_is_401_and_nothing_buffered(
    app: FastAPI, client: TestClient, clock: ManualClock
) -> None:
    answer = client.post("/api/positions/batch", json={"fixes": _batch(clock, 3)},
                         headers={"X-API-Key": "uok_deadbeef_not-a-key"})  # fmt: skip
    assert answer.status_code == 401
    assert ingest_of(app).waiting == 0


def test_batch_refuses_a_non_list_and_an_oversized_batch(
    client: TestClient, clock: ManualClock, auth_headers: Any
) -> None:
    headers = auth_headers(Role.INTEGRATION)
    assert (
        client.post("/api/positions/batch", json={"fixes": 3}, headers=headers).status_code == 422
    )
    too_many: dict[str, Any] = {"fixes": [{}] * 10_001}
    assert client.post("/api/positions/batch", json=too_many, headers=headers).status_code == 413
    bad = client.post("/api/positions/batch", content=b"{", headers=headers)
    assert bad.status_code == 400


def test_officer_browser_position_goes_to_his_web_device(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    headers = auth_headers(Role.GRID_OFFICER)
    answer = client.post("/api/positions/me", json={"lat": LAT, "lon": LON, "accuracy": 20,
                                                    "timestamp": clock.now().timestamp() * 1000},
                         headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] is True
    identifier = answer.json()["device"]
    assert identifier.startswith("web-")
    clock.advance(timedelta(seconds=5))
    coarse = client.post("/api/positions/me", json={"lat": LAT, "lon": LON, "accuracy": 900},
                         headers=headers)  # fmt: skip
    assert coarse.json() == {"accepted": False, "reason": "poor_accuracy", "device": identifier}
    bad = client.post("/api/positions/me", json={"lat": 91, "lon": LON}, headers=headers)
    assert bad.status_code == 422
    flush(app, db)
    (row,) = stored(db, identifier)
    assert (row.source, row.unit_grid_code) == ("browser", POINT.unit_grid_code)
    latest = client.get("/api/positions/latest", headers=auth_headers(Role.DISPATCHER))
    assert [r["lat"] for r in latest.json()] == [LAT]


def test_an_operator_sets_the_position_filters_and_speed_unit_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from urbanops.config import Settings
    from urbanops.workforce.positions import Limits

    monkeypatch.setenv("URBANOPS_OSMAND_SPEED_UNIT", "kmh")
    monkeypatch.setenv("URBANOPS_POSITION_MAX_ACCURACY_M", "30")
    limits = Limits.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (limits.osmand_speed_unit, limits.max_accuracy_m) == ("kmh", 30.0)
    with pytest.raises(ValidationError):
        Settings(osmand_speed_unit="furlongs", _env_file=None)  # type: ignore[arg-type, call-arg]


def test_a_stored_fix_brings_its_device_online_and_an_older_one_does_not_move_it_back(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    from urbanops.workforce import service as workforce

    newer, older = clock.now() - timedelta(seconds=20), clock.now() - timedelta(minutes=30)
    for at in (newer, older):
        params = {"id": RADIO, "lat": LAT, "lon": LON, "timestamp": epoch(at)}
        assert client.get("/osmand", params=params).status_code == 200
        flush(app, db)
    device = db.get(Device, device_id(db, RADIO))
    assert device is not None
    db.refresh(device)
    assert device.last_fix_at == newer.astimezone(UTC).replace(microsecond=0)
    assert workforce.online(device, now=clock.now(), offline_after_s=300)
    assert not workforce.online(device, now=clock.now() + timedelta(minutes=5), offline_after_s=300)
