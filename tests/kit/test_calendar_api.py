"""The calendar over HTTP: deadlines, the day list and the overrides a command centre enters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from urbanops.kit import calendar_api
from urbanops.kit.actor import Role

Headers = Callable[..., dict[str, str]]
FRIDAY_BEFORE_FESTIVAL = "2026-02-13T10:00:00+08:00"


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    """The application with the calendar router, whether or not app.py includes it yet."""
    if not any(getattr(r, "path", "").startswith("/api/calendar") for r in app.routes):
        app.include_router(calendar_api.router)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client


@pytest.fixture
def user(auth_headers: Headers) -> dict[str, str]:
    return auth_headers(Role.OPERATOR)


@pytest.fixture
def admin(auth_headers: Headers) -> dict[str, str]:
    return auth_headers(Role.ADMIN)


def _deadline(api: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return api.get("/api/calendar/deadline", params=params, headers=headers)


@pytest.mark.parametrize(
    ("amount", "unit", "deadline_local", "unit_name"),
    [
        ("72", "urgent_hour", "2026-02-16T10:00:00+08:00", "紧急工作时"),
        ("14", "work_hour", "2026-02-24T10:00:00+08:00", "工作时"),
        ("2", "work_day", "2026-02-24T18:00:00+08:00", "工作日"),
        ("3", "natural_day", "2026-02-16T10:00:00+08:00", "自然日"),
    ],
)
def test_operator_gets_a_deadline_across_the_spring_festival(
    api: TestClient,
    user: dict[str, str],
    amount: str,
    unit: str,
    deadline_local: str,
    unit_name: str,
) -> None:
    response = _deadline(api, user, start=FRIDAY_BEFORE_FESTIVAL, amount=amount, unit=unit)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deadline_local"] == deadline_local
    assert body["deadline"].endswith("Z")
    assert (body["unit"], body["unit_name"]) == (unit, unit_name)


def test_deadline_needs_a_signed_in_user(api: TestClient) -> None:
    response = api.get(
        "/api/calendar/deadline",
        params={"start": FRIDAY_BEFORE_FESTIVAL, "amount": "1", "unit": "work_day"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"start": FRIDAY_BEFORE_FESTIVAL, "amount": "1", "unit": "fortnight"},
        {"start": FRIDAY_BEFORE_FESTIVAL, "amount": "-1", "unit": "work_day"},
        {"start": FRIDAY_BEFORE_FESTIVAL, "amount": "NaN", "unit": "work_day"},
        {"start": FRIDAY_BEFORE_FESTIVAL, "amount": "1000000", "unit": "work_day"},
        {"start": "2026-02-13T10:00:00", "amount": "1", "unit": "work_day"},
        {"start": "next friday", "amount": "1", "unit": "work_day"},
        {"amount": "1", "unit": "work_day"},
    ],
    ids=["unknown-unit", "negative", "nan", "huge", "naive", "unparsable", "missing-start"],
)
def test_bad_deadline_question_is_a_422_problem(
    api: TestClient, user: dict[str, str], params: dict[str, str]
) -> None:
    response = api.get("/api/calendar/deadline", params=params, headers=user)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"


def test_days_of_the_spring_festival_show_holidays_and_make_up_saturdays(
    api: TestClient, user: dict[str, str]
) -> None:
    response = api.get(
        "/api/calendar/days", params={"from": "2026-02-13", "to": "2026-03-01"}, headers=user
    )
    assert response.status_code == 200, response.text
    body = response.json()
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 17
    assert days["2026-02-14"] == {
        "date": "2026-02-14",
        "working": True,
        "kind": "make_up_workday",
        "name": "春节",
        "source": "library",
    }
    assert not days["2026-02-17"]["working"] and days["2026-02-17"]["kind"] == "holiday"
    assert days["2026-02-28"]["working"]
    assert not days["2026-03-01"]["working"] and days["2026-03-01"]["kind"] == "weekend"
    assert body["uncovered_years"] == []


def test_days_of_a_year_the_library_lacks_are_flagged(
    api: TestClient, user: dict[str, str]
) -> None:
    response = api.get(
        "/api/calendar/days", params={"from": "2099-12-28", "to": "2100-01-03"}, headers=user
    )
    assert response.status_code == 200
    body = response.json()
    assert body["uncovered_years"] == [2099, 2100]
    assert {d["source"] for d in body["days"]} == {"weekday_rule"}


@pytest.mark.parametrize(
    ("first", "last", "code"),
    [
        ("2026-01-01", "2027-01-02", "range_too_long"),
        ("2026-03-01", "2026-02-01", "reversed_range"),
        ("2026-02-30", "2026-03-01", "invalid_input"),
    ],
)
def test_bad_day_range_is_a_422_problem(
    api: TestClient, user: dict[str, str], first: str, last: str, code: str
) -> None:
    response = api.get("/api/calendar/days", params={"from": first, "to": last}, headers=user)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_admin_declares_a_holiday_and_the_deadline_moves(
    api: TestClient, admin: dict[str, str], user: dict[str, str]
) -> None:
    question = {"start": "2026-11-26T09:00:00+08:00", "amount": "1", "unit": "work_day"}
    before = _deadline(api, user, **question).json()["deadline_local"]
    assert before == "2026-11-27T18:00:00+08:00"

    created = api.post(
        "/api/calendar/overrides",
        json={"day": "2026-11-27", "kind": "holiday", "name": "区庆放假"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"].startswith("user:")

    after = _deadline(api, user, **question).json()["deadline_local"]
    assert after == "2026-11-30T18:00:00+08:00"
    listed = api.get("/api/calendar/overrides", headers=admin).json()
    assert [(o["day"], o["kind"], o["name"]) for o in listed] == [
        ("2026-11-27", "holiday", "区庆放假")
    ]

    assert api.delete("/api/calendar/overrides/2026-11-27", headers=admin).status_code == 204
    assert _deadline(api, user, **question).json()["deadline_local"] == before


def test_second_override_of_a_day_is_a_conflict_and_keeps_the_first(
    api: TestClient, admin: dict[str, str]
) -> None:
    first = {"day": "2027-02-06", "kind": "workday", "name": "春节调休"}
    assert api.post("/api/calendar/overrides", json=first, headers=admin).status_code == 201
    second = {"day": "2027-02-06", "kind": "holiday", "name": "春节"}
    response = api.post("/api/calendar/overrides", json=second, headers=admin)
    assert response.status_code == 409
    assert response.json()["code"] == "override_exists"
    listed = api.get("/api/calendar/overrides", headers=admin).json()
    assert [(o["kind"], o["name"]) for o in listed] == [("workday", "春节调休")]


@pytest.mark.parametrize(
    "body",
    [
        {"day": "2027-02-06", "kind": "half_day", "name": "x"},
        {"day": "2027-02-06", "kind": "holiday", "name": ""},
        {"day": "2027-02-06", "kind": "holiday", "name": "x" * 65},
        {"day": "someday", "kind": "holiday", "name": "x"},
        {"day": "2027-02-06", "kind": "holiday", "name": "x", "extra": 1},
    ],
    ids=["bad-kind", "empty-name", "long-name", "bad-day", "unknown-field"],
)
def test_bad_override_is_refused_and_writes_nothing(
    api: TestClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    response = api.post("/api/calendar/overrides", json=body, headers=admin)
    assert response.status_code == 422
    assert api.get("/api/calendar/overrides", headers=admin).json() == []


def test_operator_may_not_touch_overrides(
    api: TestClient, user: dict[str, str], admin: dict[str, str]
) -> None:
    body = {"day": "2027-02-06", "kind": "holiday", "name": "春节"}
    assert api.post("/api/calendar/overrides", json=body, headers=user).status_code == 403
    assert api.get("/api/calendar/overrides", headers=user).status_code == 403
    assert api.delete("/api/calendar/overrides/2027-02-06", headers=user).status_code == 403
    assert api.get("/api/calendar/overrides", headers=admin).json() == []


def test_deleting_a_day_without_override_is_not_found(
    api: TestClient, admin: dict[str, str]
) -> None:
    response = api.delete("/api/calendar/overrides/2027-02-06", headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "override_not_found"
