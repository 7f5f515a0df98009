"""Reporting through the API: who may report, idempotency, duplicates, and bad input refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import assert_problem, counts, hotline_body, report_body
from urbanops.kit.actor import Role


def test_operator_reports_a_case_and_is_answered_201_with_its_location(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    before = counts(db)
    answer = client.post("/api/cases", json=report_body(), headers=auth_headers(Role.OPERATOR))

    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert answer.headers["location"] == f"/api/cases/{case['id']}"
    assert answer.headers["etag"] == f'"{case["version"]}"'
    assert case["state"] == "reported"
    assert case["created"] is True and case["merged"] is False
    assert case["responsibility_grid_code"] == "440309001-01"
    assert case["matter_code"] == "09006"
    assert [r["id"] for r in case["reports"]] == [case["report_id"]]
    assert case["timeline"][0]["action"] == "report"
    assert "register" in case["allowed_actions"]
    assert counts(db)[0] == before[0] + 1
    assert (
        client.get(answer.headers["location"], headers=auth_headers(Role.OPERATOR)).json()["number"]
        == case["number"]
    )


def test_a_report_outside_every_grid_is_kept_and_flagged(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    answer = client.post("/api/cases", json=report_body(3), headers=auth_headers(Role.OPERATOR))

    assert answer.status_code == 201, answer.text
    assert answer.json()["inside_jurisdiction"] is False
    assert answer.json()["responsibility_grid_code"] is None


def test_a_repeated_idempotency_key_answers_200_with_the_same_case(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    headers = auth_headers(Role.OPERATOR) | {"Idempotency-Key": "hotline-call-0001"}
    first = client.post("/api/cases", json=hotline_body(), headers=headers)
    after_first = counts(db)
    again = client.post("/api/cases", json=hotline_body(), headers=headers)
    in_body = client.post(
        "/api/cases",
        json=hotline_body(idempotency_key="hotline-call-0001"),
        headers=auth_headers(Role.OPERATOR),
    )

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert in_body.status_code == 200, in_body.text
    assert again.json()["id"] == in_body.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    assert counts(db) == after_first


def test_idempotency_key_in_header_and_body_must_agree(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    before = counts(db)
    answer = client.post(
        "/api/cases",
        json=report_body(idempotency_key="key-a"),
        headers=auth_headers(Role.OPERATOR) | {"Idempotency-Key": "key-b"},
    )

    assert_problem(answer, 422, "idempotency_key_mismatch")
    assert counts(db) == before


def test_a_second_report_of_the_same_problem_joins_the_case_as_merged(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    first = client.post("/api/cases", json=report_body(), headers=auth_headers(Role.OPERATOR))
    second = client.post(
        "/api/cases",
        json=report_body(description="又有人在路口摆摊"),
        headers=auth_headers(Role.GRID_OFFICER, grid_codes=["440309001-01"]),
    )

    assert second.status_code == 201, second.text
    assert second.json()["merged"] is True
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["report_count"] == 2
    assert len(second.json()["reports"]) == 2


@pytest.mark.parametrize(
    ("role", "grid_codes"),
    [
        (Role.GRID_OFFICER, ["440309001-01"]),
        (Role.SQUAD_LEADER, ["440309001-01"]),
        (Role.DISPATCHER, None),
        (Role.INTEGRATION, None),
        (Role.DEVICE, None),
    ],
)
def test_field_staff_and_machines_with_api_keys_may_report(
    client: TestClient, auth_headers: Any, role: Role, grid_codes: list[str] | None
) -> None:
    body = (
        report_body(channel="ai_alarm", source_ref="cam-7:evt-1")
        if role is Role.DEVICE
        else (report_body())
    )
    answer = client.post("/api/cases", json=body, headers=auth_headers(role, grid_codes=grid_codes))

    assert answer.status_code == 201, answer.text


def test_a_legal_reviewer_may_not_report_and_nothing_is_written(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    before = counts(db)
    answer = client.post(
        "/api/cases", json=report_body(), headers=auth_headers(Role.LEGAL_REVIEWER)
    )

    assert_problem(answer, 403)
    assert counts(db) == before


def test_an_anonymous_report_is_refused(client: TestClient, db: Session) -> None:
    before = counts(db)
    assert_problem(client.post("/api/cases", json=report_body()), 401)
    assert counts(db) == before


BAD_REPORTS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    "unknown matter code": (report_body(matter_code="09007"), 422, "unknown_matter"),
    "a code outside the catalogue": (report_body(matter_code="99999"), 422, "unknown_matter"),
    "a malformed matter code": (report_body(matter_code="占道"), 422, "invalid_input"),
    "longitude out of range": (report_body(lon=181.0), 422, "invalid_input"),
    "latitude out of range": (report_body(lat=-90.5), 422, "invalid_input"),
    "unknown channel": (report_body(channel="carrier_pigeon"), 422, "unknown_channel"),
    "hotline without caller number": (
        hotline_body(caller_number=None),
        422,
        "missing_channel_field",
    ),
    "empty description": (report_body(description=" "), 422, "invalid_input"),
    "an unexpected field": (report_body(priority="high"), 422, "invalid_input"),
    "reported_at without a time zone": (
        report_body(reported_at="2026-11-26T08:00:00"),
        422,
        "invalid_input",
    ),
}


@pytest.mark.parametrize("case", BAD_REPORTS.values(), ids=list(BAD_REPORTS))
def test_bad_report_is_a_problem_and_writes_nothing(
    client: TestClient, db: Session, auth_headers: Any, case: tuple[dict[str, Any], int, str]
) -> None:
    body, status, code = case
    before = counts(db)
    answer = client.post("/api/cases", json=body, headers=auth_headers(Role.OPERATOR))

    assert_problem(answer, status, code)
    assert counts(db) == before


def test_a_body_that_is_not_json_is_a_problem(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    before = counts(db)
    answer = client.post(
        "/api/cases",
        content=b"channel=grid_report",
        headers=auth_headers(Role.OPERATOR) | {"Content-Type": "application/json"},
    )

    assert_problem(answer, 422, "invalid_input")
    assert counts(db) == before
