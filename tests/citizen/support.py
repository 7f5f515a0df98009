"""Helpers of the citizen tests: a citizen's report through the API, the staff who handle it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import GRID_01, act, demo_officer, login_as, point
from tests.cases.evidence_files import jpeg
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock

PHONE = "13912345678"
NAME = "陈小姐"
TRACKING_ID = re.compile(r"^\d{9}-\d{8}-\d{4}-[2-9A-HJ-NP-Z]{12}$")


def report_fields(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A citizen's report of a street stall at a demo point, with contact details."""
    lon, lat = point(index)
    fields: dict[str, Any] = {
        "matter": "09006",
        "description": "小区门口有人摆摊卖水果，占了盲道",
        "lon": str(lon),
        "lat": str(lat),
        "address": "观湖街道松元厦路口",
        "name": NAME,
        "phone": PHONE,
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def photo(name: str = "stall.jpg", data: bytes | None = None, kind: str = "image/jpeg") -> Any:
    return ("photos", (name, data if data is not None else jpeg(), kind))


def send_report(
    client: TestClient, fields: dict[str, Any] | None = None, files: list[Any] | None = None
) -> Any:
    """POST the citizen's multipart report; the raw answer."""
    return client.post(
        "/api/citizen/reports",
        data=fields if fields is not None else report_fields(),
        files=files if files is not None else [photo()],
    )


def citizen_reports(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """A citizen reports with one photo; the answer (tracking id, number …)."""
    answer = send_report(client, report_fields(**overrides))
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


@dataclass(frozen=True)
class Staff:
    """Bearer headers of the command centre's roles and of grid 01's officer."""

    operator: dict[str, str]
    dispatcher: dict[str, str]
    shift_leader: dict[str, str]
    officer: dict[str, str]
    officer_id: int


def staff(db: Session, clock: ManualClock, auth_headers: Any) -> Staff:
    officer = demo_officer(db, GRID_01)
    return Staff(
        operator=auth_headers(Role.OPERATOR),
        dispatcher=auth_headers(Role.DISPATCHER),
        shift_leader=auth_headers(Role.SHIFT_LEADER),
        officer=login_as(db, clock, officer),
        officer_id=officer.id,
    )


def case_id_of(client: TestClient, people: Staff, number: str) -> int:
    answer = client.get(f"/api/cases/by-number/{number}", headers=people.operator)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["id"])


def handle_and_close(
    client: TestClient, clock: ManualClock, people: Staff, case_id: int, *, after_photo: bool
) -> dict[str, Any]:
    """Dispatch to grid 01's officer, who accepts and handles; checked, then closed."""
    from datetime import timedelta

    act(client, people.dispatcher, case_id, "dispatch", officer_id=people.officer_id)
    clock.advance(timedelta(minutes=5))
    act(client, people.officer, case_id, "accept")
    clock.advance(timedelta(minutes=20))
    act(client, people.officer, case_id, "handle", note="已劝离，摊位已清理")
    if after_photo:
        uploaded = client.post(
            f"/api/cases/{case_id}/evidence",
            files={"file": ("after.jpg", jpeg(colour=(30, 160, 60)), "image/jpeg")},
            data={"phase": "after"},
            headers=people.officer,
        )
        assert uploaded.status_code == 201, uploaded.text
    clock.advance(timedelta(minutes=10))
    act(client, people.operator, case_id, "check", note="视频核查通过")
    return act(client, people.shift_leader, case_id, "close")
