"""Shifts (who is on shift at an instant) and devices (online state, API keys), both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from tests.workforce.conftest import GRID_01, GRID_02, Headers, OfficerOf
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.workforce import service
from urbanops.workforce.models import Device


def _shift(client: TestClient, headers: dict[str, str], officer_id: int, start: datetime,
           hours: float, kind: str = "day") -> int:  # fmt: skip
    answer = client.post(
        "/api/shifts",
        json={
            "officer_id": officer_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=hours)).isoformat(),
            "kind": kind,
        },
        headers=headers,
    )
    return answer.status_code


def test_the_day_shift_is_on_at_nine_and_the_night_shift_at_nine_in_the_evening(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf, clock: ManualClock
) -> None:
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_01])
    day, night = officer_of("gh0102"), officer_of("gh0103")
    eight = clock.now() - timedelta(hours=1)
    assert _shift(client, leader, day.id, eight, 12) == 201
    assert _shift(client, leader, night.id, eight + timedelta(hours=12), 12, "night") == 201

    def on_shift(at: datetime) -> set[int]:
        answer = client.get(
            "/api/officers/on-shift",
            params={"at": at.isoformat(), "grid_code": GRID_01},
            headers=leader,
        )
        assert answer.status_code == 200, answer.text
        return {o["id"] for o in answer.json()}

    assert on_shift(clock.now()) == {day.id}
    assert on_shift(clock.now() + timedelta(hours=12)) == {night.id}
    assert on_shift(eight + timedelta(hours=12)) == {night.id}  # the end is exclusive
    listed = client.get(
        "/api/shifts", params={"officer_id": day.id}, headers=auth_headers(Role.OPERATOR)
    )
    assert [s["kind"] for s in listed.json()] == ["day"]


def test_overlapping_backwards_and_overlong_shifts_are_refused(
    client: TestClient,
    auth_headers: Headers,
    officer_of: OfficerOf,
    clock: ManualClock,
    db: Session,
) -> None:
    admin = auth_headers(Role.ADMIN)
    officer = officer_of("gh0104")
    now = clock.now()
    assert _shift(client, admin, officer.id, now, 8) == 201
    assert _shift(client, admin, officer.id, now + timedelta(hours=7), 8) == 409
    assert _shift(client, admin, officer.id, now + timedelta(hours=30), -1) == 422
    assert _shift(client, admin, officer.id, now + timedelta(hours=30), 25) == 422
    naive = {"officer_id": officer.id, "kind": "day", "starts_at": "2026-11-27T08:00:00",
             "ends_at": "2026-11-27T16:00:00"}  # fmt: skip
    assert client.post("/api/shifts", json=naive, headers=admin).status_code == 422
    outsider = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_02])
    assert _shift(client, outsider, officer.id, now + timedelta(days=2), 8) == 404
    assert len(service.list_shifts(db, officer_id=officer.id)) == 1


def _device(client: TestClient, headers: dict[str, str], **extra: object) -> Response:
    body = {"identifier": "864403090999991", "kind": "phone", "name": "执法手机", **extra}
    return client.post("/api/devices", json=body, headers=headers)


def test_a_device_is_online_while_its_last_fix_is_younger_than_five_minutes(
    client: TestClient, auth_headers: Headers, db: Session, clock: ManualClock
) -> None:
    admin = auth_headers(Role.ADMIN)
    created = _device(client, admin, vehicle_plate="粤B0C009")
    assert created.status_code == 201, created.text
    device_id = created.json()["id"]
    assert created.json()["online"] is False

    def online_ids(flag: str) -> set[int]:
        answer = client.get("/api/devices", params={"online": flag}, headers=admin)
        return {d["id"] for d in answer.json()}

    assert device_id in online_ids("false")
    service.note_fixes(db, fixes=[(device_id, clock.now() - timedelta(seconds=60))])
    service.note_fixes(db, fixes=[(device_id, clock.now() - timedelta(hours=1))])  # older: kept
    assert device_id in online_ids("true") and device_id not in online_ids("false")
    clock.advance(timedelta(seconds=239))
    assert client.get(f"/api/devices/{device_id}", headers=admin).json()["online"] is True
    clock.advance(timedelta(seconds=2))
    assert client.get(f"/api/devices/{device_id}", headers=admin).json()["online"] is False
    assert device_id in online_ids("false") and device_id not in online_ids("true")


def test_a_devices_api_key_authenticates_it_once_issued_and_a_new_key_retires_the_old(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    device_id = _device(client, admin).json()["id"]
    first = client.post(f"/api/devices/{device_id}/api-key", headers=admin)
    assert first.status_code == 201, first.text
    key = first.json()["api_key"]
    me = client.get("/api/devices/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["identifier"] == "864403090999991"
    assert client.get(f"/api/devices/{device_id}", headers=admin).json()["has_api_key"] is True
    assert "api_key" not in client.get(f"/api/devices/{device_id}", headers=admin).json()
    forbidden = client.put(
        "/api/officers/1/duty", json={"status": "leave"}, headers={"X-API-Key": key}
    )
    assert forbidden.status_code == 403
    second = client.post(f"/api/devices/{device_id}/api-key", headers=admin).json()["api_key"]
    assert client.get("/api/devices/me", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/api/devices/me", headers={"X-API-Key": second}).status_code == 200
    assert client.get("/api/devices/me", headers={"X-API-Key": "uok_bad_key"}).status_code == 401


def test_bad_device_input_is_refused_and_nothing_is_stored(
    client: TestClient, auth_headers: Headers, db: Session, officer_of: OfficerOf
) -> None:
    admin = auth_headers(Role.ADMIN)
    user_id = officer_of("gh0101").user_id
    refused = [
        (_device(client, admin, user_id=user_id, vehicle_plate="粤B12345"), 422),
        (_device(client, admin, kind="satellite"), 422),
        (_device(client, admin, identifier="a b"), 422),
        (_device(client, admin, user_id=99_999_999), 422),
        (_device(client, auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01])), 403),
        (
            _device(client, auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_02]), user_id=user_id),
            403,
        ),
    ]
    for answer, status in refused:
        assert answer.status_code == status, answer.text
    assert service.device_by_identifier(db, identifier="864403090999991") is None
    taken = db.query(Device).first()
    assert taken is not None
    clash = _device(client, admin, identifier=taken.identifier)
    assert clash.status_code == 409 and clash.json()["code"] == "device_identifier_taken"
    assert client.get("/api/devices", params={"online": "maybe"}, headers=admin).status_code == 422


def test_a_squad_leader_rebinds_a_device_within_his_grids(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_01])
    first, second = officer_of("gh0102").user_id, officer_of("gh0103").user_id
    created = _device(client, leader, user_id=first)
    assert created.status_code == 201, created.text
    moved = client.patch(
        f"/api/devices/{created.json()['id']}", json={"user_id": second}, headers=leader
    )
    assert moved.status_code == 200 and moved.json()["user_id"] == second
    cleared = client.patch(
        f"/api/devices/{created.json()['id']}", json={"name": None}, headers=leader
    )
    assert cleared.status_code == 422
