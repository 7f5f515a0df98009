"""Complainants' personal data by role, and a grid officer's view limited to his grid."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import (
    CALLER,
    GRID_01,
    PHONE,
    act,
    assert_problem,
    demo_officer,
    hotline_body,
    login_as,
    report,
    report_body,
)
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock

SECRETS = (PHONE, CALLER, "张三")


@pytest.fixture
def hotline_case(client: TestClient, auth_headers: Any) -> dict[str, Any]:
    """A 12345 call in grid 01 whose complainant's number also appears in a note."""
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **hotline_body(0))
    act(client, operator, case["id"], "note", note=f"已回电 {PHONE}，张三 确认地址")
    return case


def raw_answers(client: TestClient, headers: dict[str, str], case: dict[str, Any]) -> list[str]:
    """The raw JSON of the list, the detail (by id and by number) and the timeline."""
    paths = [
        "/api/cases",
        f"/api/cases/{case['id']}",
        f"/api/cases/by-number/{case['number']}",
        f"/api/cases/{case['id']}/timeline",
    ]
    answers = [client.get(path, headers=headers) for path in paths]
    for path, answer in zip(paths, answers, strict=True):
        assert answer.status_code == 200, (path, answer.text)
    return [answer.text for answer in answers]


@pytest.mark.parametrize("role", [Role.GRID_OFFICER, Role.SQUAD_LEADER])
def test_field_roles_never_see_the_complainants_phone_anywhere(
    client: TestClient, auth_headers: Any, hotline_case: dict[str, Any], role: Role
) -> None:
    headers = auth_headers(role, grid_codes=[GRID_01])
    texts = raw_answers(client, headers, hotline_case)

    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    detail = client.get(f"/api/cases/{hotline_case['id']}", headers=headers).json()
    complainant = detail["reports"][0]
    assert complainant["complainant_phone"] == "138****0001"
    assert complainant["caller_number"] == "075****5678"
    assert complainant["complainant_name"] == "张*"
    assert "138****0001" in detail["description"]


def test_a_grid_officer_who_reports_gets_his_answer_masked_too(
    client: TestClient, auth_headers: Any
) -> None:
    answer = client.post(
        "/api/cases",
        json=hotline_body(0, channel="grid_report"),
        headers=auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01]),
    )

    assert answer.status_code == 201, answer.text
    assert PHONE not in answer.text and CALLER not in answer.text


@pytest.mark.parametrize(
    "role",
    [Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.LEADER, Role.ADMIN, Role.INTEGRATION],
)
def test_roles_that_handle_complainants_see_their_data_in_full(
    client: TestClient, auth_headers: Any, hotline_case: dict[str, Any], role: Role
) -> None:
    headers = auth_headers(role)
    detail = client.get(f"/api/cases/{hotline_case['id']}", headers=headers).json()

    complainant = detail["reports"][0]
    assert complainant["complainant_phone"] == PHONE
    assert complainant["caller_number"] == CALLER
    assert complainant["complainant_name"] == "张三"
    assert PHONE in detail["description"]
    timeline = client.get(f"/api/cases/{hotline_case['id']}/timeline", headers=headers)
    assert PHONE in timeline.text


def test_a_grid_officer_of_another_grid_is_told_the_case_does_not_exist(
    client: TestClient, db: Session, auth_headers: Any, hotline_case: dict[str, Any]
) -> None:
    other = auth_headers(Role.GRID_OFFICER, grid_codes=["440309001-09"])
    case_id, number = hotline_case["id"], hotline_case["number"]

    for path in (
        f"/api/cases/{case_id}",
        f"/api/cases/by-number/{number}",
        f"/api/cases/{case_id}/timeline",
    ):
        missing = assert_problem(client.get(path, headers=other), 404)
        assert PHONE not in str(missing)
    assert_problem(
        client.post(f"/api/cases/{case_id}/actions/note", json={"note": "x"}, headers=other), 404
    )
    page = client.get("/api/cases", headers=other).json()
    assert case_id not in {item["id"] for item in page["items"]}
    unknown = assert_problem(client.get("/api/cases/987654321", headers=other), 404)
    assert unknown["code"] == missing["code"]


def test_an_officer_of_the_grid_sees_the_case_and_may_act_on_it(
    client: TestClient, auth_headers: Any, hotline_case: dict[str, Any]
) -> None:
    own = auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01])

    detail = client.get(f"/api/cases/{hotline_case['id']}", headers=own)
    assert detail.status_code == 200
    assert "verify" in detail.json()["allowed_actions"]
    assert "register" not in detail.json()["allowed_actions"]
    act(client, own, hotline_case["id"], "note", note="已到现场")


def test_an_officer_sees_a_case_dispatched_to_him_outside_his_grid(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body(1))  # grid 09
    officer = demo_officer(db, GRID_01)
    act(client, operator, case["id"], "register")
    act(client, auth_headers(Role.DISPATCHER), case["id"], "dispatch", officer_id=officer.id)
    field = login_as(db, clock, officer)

    assert client.get(f"/api/cases/{case['id']}", headers=field).status_code == 200
    page = client.get("/api/cases", headers=field).json()
    assert case["id"] in {item["id"] for item in page["items"]}
    act(client, field, case["id"], "accept")
