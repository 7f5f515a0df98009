"""The workflow through the API: a whole case with the demo street's roles, and every refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import (
    GRID_01,
    act,
    assert_problem,
    counts,
    demo_officer,
    login_as,
    report,
    report_body,
)
from urbanops.cases import workflow
from urbanops.cases.models import CaseState
from urbanops.kit.actor import Actor, Role
from urbanops.kit.clock import ManualClock

SHIFT_LEADER = Actor(kind="user", id=None, name="值班长", roles=frozenset({Role.SHIFT_LEADER}))


def test_a_case_goes_from_report_to_close_through_the_api_with_the_demo_roles(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    dispatcher = auth_headers(Role.DISPATCHER)
    shift_leader = auth_headers(Role.SHIFT_LEADER)
    officer = demo_officer(db, GRID_01)
    field = login_as(db, clock, officer)

    case = report(client, operator, **report_body())
    case_id = case["id"]
    registered = act(client, operator, case_id, "register", note="属实，立案")
    assert registered["deadlines"]["stage"] == "dispatch"
    assert registered["deadlines"]["due_at"] is not None
    clock.advance(timedelta(minutes=5))
    dispatched = act(client, dispatcher, case_id, "dispatch", officer_id=officer.id)
    assert dispatched["officer_id"] == officer.id
    assert "accept" in client.get(f"/api/cases/{case_id}", headers=field).json()["allowed_actions"]
    clock.advance(timedelta(minutes=3))
    act(client, field, case_id, "accept")
    clock.advance(timedelta(minutes=30))
    handled = act(client, field, case_id, "handle", note="已劝离，摊位清理完毕")
    assert handled["deadlines"]["stage"] == "check"
    checked = act(client, dispatcher, case_id, "check", note="视频核查通过")
    closed = act(client, shift_leader, case_id, "close", expected_version=checked["version"])

    assert closed["state"] == "closed"
    assert closed["closed_at"] is not None
    assert closed["light"] == "none"
    assert closed["allowed_actions"] == ["supervise", "reopen", "note"]
    steps = [(e["action"], e["from_state"], e["to_state"]) for e in closed["timeline"]]
    assert steps == [
        ("report", None, "reported"),
        ("register", "reported", "registered"),
        ("dispatch", "registered", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("handle", "accepted", "handled"),
        ("check", "handled", "checked"),
        ("close", "checked", "closed"),
    ]
    timeline = client.get(f"/api/cases/{case_id}/timeline", headers=operator).json()
    assert [e["action"] for e in timeline] == [s[0] for s in steps]
    by_number = client.get(f"/api/cases/by-number/{case['number']}", headers=operator)
    assert by_number.json()["id"] == case_id
    assert by_number.headers["etag"] == f'"{closed["version"]}"'


def test_a_transition_the_role_may_not_make_is_403_and_changes_nothing(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    case = report(client, auth_headers(Role.OPERATOR), **report_body())
    before = counts(db)
    answer = client.post(
        f"/api/cases/{case['id']}/actions/register",
        json={},
        headers=auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01]),
    )

    body = assert_problem(answer, 403, "role_not_allowed")
    assert "operator" in body["required_roles"]
    assert counts(db) == before
    assert (
        client.get(f"/api/cases/{case['id']}", headers=auth_headers(Role.OPERATOR)).json()["state"]
        == "reported"
    )


def test_an_action_not_allowed_now_is_409_with_the_state_version_and_allowed_actions(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    case = report(client, auth_headers(Role.OPERATOR), **report_body())
    before = counts(db)
    answer = client.post(
        f"/api/cases/{case['id']}/actions/close", headers=auth_headers(Role.SHIFT_LEADER)
    )

    body = assert_problem(answer, 409, "transition_not_allowed")
    assert body["state"] == "reported"
    assert body["version"] == case["version"]
    assert body["allowed"] == workflow.allowed_actions(CaseState.REPORTED, SHIFT_LEADER)
    assert "close" not in body["allowed"]
    assert counts(db) == before


@pytest.mark.parametrize("where", ["body", "if-match", "weak-etag"])
def test_acting_on_a_stale_version_is_409_with_the_current_state(
    client: TestClient, db: Session, auth_headers: Any, where: str
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    stale = case["version"]
    act(client, auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01]), case["id"], "verify")
    before = counts(db)
    body: dict[str, Any] = {"expected_version": stale} if where == "body" else {}
    headers = dict(operator)
    if where == "if-match":
        headers["If-Match"] = f'"{stale}"'
    elif where == "weak-etag":
        headers["If-Match"] = f'W/"{stale}"'
    answer = client.post(f"/api/cases/{case['id']}/actions/register", json=body, headers=headers)

    problem = assert_problem(answer, 409)
    assert problem["state"] == "reported"
    assert problem["version"] > stale
    assert "register" in problem["allowed"]
    assert counts(db) == before


def test_the_current_version_in_if_match_lets_the_action_through(
    client: TestClient, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    answer = client.post(
        f"/api/cases/{case['id']}/actions/register",
        headers=operator | {"If-Match": f'"{case["version"]}"'},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "registered"
    assert answer.headers["etag"] == f'"{answer.json()["version"]}"'


BAD_ACTIONS: dict[str, tuple[str, dict[str, Any], dict[str, str], int, str]] = {
    "reject without a reason": ("reject", {}, {}, 422, "reason_required"),
    "reject with a blank reason": ("reject", {"reason": "  "}, {}, 422, "reason_required"),
    "an action that does not exist": ("teleport", {}, {}, 404, "unknown_action"),
    "an unexpected field": ("register", {"officer": 3}, {}, 422, "invalid_input"),
    "a version that is not a number": ("register", {}, {"If-Match": '"abc"'}, 422, "bad_if_match"),
    "If-Match and body disagree": (
        "register",
        {"expected_version": 1},
        {"If-Match": '"2"'},
        422,
        "if_match_mismatch",
    ),
    "a negative officer id": ("register", {"officer_id": -1}, {}, 422, "invalid_input"),
}


@pytest.mark.parametrize("bad", BAD_ACTIONS.values(), ids=list(BAD_ACTIONS))
def test_bad_action_request_is_a_problem_and_changes_nothing(
    client: TestClient,
    db: Session,
    auth_headers: Any,
    bad: tuple[str, dict[str, Any], dict[str, str], int, str],
) -> None:
    action, body, extra_headers, status, code = bad
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    before = counts(db)
    answer = client.post(
        f"/api/cases/{case['id']}/actions/{action}", json=body, headers=operator | extra_headers
    )

    assert_problem(answer, status, code)
    assert counts(db) == before
    assert client.get(f"/api/cases/{case['id']}", headers=operator).json()["state"] == "reported"


def test_acting_on_a_case_that_does_not_exist_is_404(client: TestClient, auth_headers: Any) -> None:
    answer = client.post(
        "/api/cases/987654321/actions/register", headers=auth_headers(Role.OPERATOR)
    )
    assert_problem(answer, 404)


def test_dispatch_to_someone_who_is_not_an_officer_is_refused(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    act(client, operator, case["id"], "register")
    before = counts(db)
    answer = client.post(
        f"/api/cases/{case['id']}/actions/dispatch",
        json={"officer_id": 987654321},
        headers=auth_headers(Role.DISPATCHER),
    )

    assert_problem(answer, 422)
    assert counts(db) == before


def test_the_workflow_table_lists_every_transition_for_the_console(
    client: TestClient, auth_headers: Any
) -> None:
    answer = client.get("/api/workflow", headers=auth_headers(Role.GRID_OFFICER))

    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert table["states"][0] == "reported"
    by_action = {t["action"]: t for t in table["transitions"]}
    assert list(by_action) == [t.action for t in workflow.TRANSITIONS]
    assert by_action["register"] == {
        "action": "register",
        "label": "立案",
        "from_states": ["reported"],
        "to_state": "registered",
        "roles": ["operator", "shift_leader"],
        "reason_required": False,
        "starts_stage": "dispatch",
    }
    assert by_action["reject"]["reason_required"] is True
    assert by_action["close"]["roles"] == ["shift_leader"]
    assert table["return_to"]["checked"] == "handled"


def test_the_workflow_table_needs_a_sign_in(client: TestClient) -> None:
    assert_problem(client.get("/api/workflow"), 401)


def test_an_operator_reclassifies_a_case_with_a_reason(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    answer = client.post(
        f"/api/cases/{case['id']}/reclassify",
        json={"matter_code": "09005", "reason": "实为店外经营"},
        headers=operator,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["matter_code"] == "09005"
    assert answer.json()["timeline"][-1]["reason"] == "实为店外经营"


@pytest.mark.parametrize(
    ("body", "role", "status"),
    [
        ({"matter_code": "09007", "reason": "改类"}, Role.OPERATOR, 422),
        ({"matter_code": "09005"}, Role.OPERATOR, 422),
        ({"matter_code": "09005", "reason": "改类"}, Role.GRID_OFFICER, 403),
    ],
    ids=["unknown matter", "no reason", "grid officer"],
)
def test_a_bad_reclassification_is_refused_and_changes_nothing(
    client: TestClient,
    db: Session,
    auth_headers: Any,
    body: dict[str, Any],
    role: Role,
    status: int,
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    before = counts(db)
    answer = client.post(
        f"/api/cases/{case['id']}/reclassify",
        json=body,
        headers=auth_headers(role, grid_codes=[GRID_01]),
    )

    assert_problem(answer, status)
    assert counts(db) == before
    assert client.get(f"/api/cases/{case['id']}", headers=operator).json()["matter_code"] == (
        "09006"
    )


def test_an_operator_merges_a_duplicate_and_keeps_both_reports(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    keep = report(client, operator, **report_body())
    duplicate = report(
        client, operator, **report_body(matter_code="09005", description="店外摆摊占道")
    )
    assert duplicate["id"] != keep["id"]
    answer = client.post(
        f"/api/cases/{keep['id']}/merge",
        json={"duplicate_id": duplicate["id"], "reason": "同一摊位"},
        headers=operator,
    )

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["reports"]) == 2
    gone = client.get(f"/api/cases/{duplicate['id']}", headers=operator).json()
    assert gone["state"] == "rejected"


def test_merging_a_case_into_itself_or_a_missing_case_is_refused(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    operator = auth_headers(Role.OPERATOR)
    case = report(client, operator, **report_body())
    before = counts(db)
    itself = client.post(
        f"/api/cases/{case['id']}/merge",
        json={"duplicate_id": case["id"], "reason": "重复"},
        headers=operator,
    )
    missing = client.post(
        f"/api/cases/{case['id']}/merge",
        json={"duplicate_id": 987654321, "reason": "重复"},
        headers=operator,
    )

    assert 400 <= itself.status_code < 500 and itself.status_code != 404
    assert_problem(missing, 404)
    assert counts(db) == before


def test_a_verified_report_no_longer_offers_verification(
    client: TestClient, auth_headers: Any
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01])
    case = report(client, auth_headers(Role.OPERATOR), **report_body())
    before = client.get(f"/api/cases/{case['id']}", headers=officer).json()
    assert "verify" in before["allowed_actions"]

    act(client, officer, case["id"], "verify")

    after = client.get(f"/api/cases/{case['id']}", headers=officer).json()
    assert after["state"] == "reported"
    assert "verify" not in after["allowed_actions"]
