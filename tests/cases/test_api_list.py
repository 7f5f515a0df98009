"""The case list: each filter narrows it, paging and sorting, the viewer's grids, bad queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import (
    act,
    assert_problem,
    demo_officer,
    hotline_body,
    report,
    report_body,
)
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock


@dataclass
class Street:
    """Three cases in three grids: A dispatched, B an emergency hotline call, C a video find."""

    a: dict[str, Any]
    b: dict[str, Any]
    c: dict[str, Any]
    officer_id: int
    headers: dict[str, str]

    def ids(self, *names: str) -> set[int]:
        return {getattr(self, n)["id"] for n in names}


@pytest.fixture
def street(client: TestClient, db: Session, clock: ManualClock, auth_headers: Any) -> Street:
    operator = auth_headers(Role.OPERATOR)
    a = report(client, operator, **report_body(0))  # 09:00, grid 01
    clock.advance(timedelta(minutes=10))
    b = report(client, operator, **hotline_body(1, is_emergency=True))  # 09:10, grid 09
    clock.advance(timedelta(minutes=10))
    c = report(  # 09:20, grid 17
        client,
        operator,
        **report_body(2, channel="video_patrol", matter_code="09001", description="游商"),
    )
    officer = demo_officer(db, "440309001-01")
    act(client, operator, a["id"], "register")
    act(client, auth_headers(Role.DISPATCHER), a["id"], "dispatch", officer_id=officer.id)
    act(client, auth_headers(Role.SHIFT_LEADER), b["id"], "supervise", reason="市领导批示")
    return Street(a, b, c, officer.id, operator)


def ids_of(client: TestClient, headers: dict[str, str], query: str) -> set[int]:
    answer = client.get(f"/api/cases?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["total"] == len(page["items"])
    return {item["id"] for item in page["items"]}


FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "no filter": ("", ("a", "b", "c")),
    "one state": ("state=dispatched", ("a",)),
    "two states": ("state=dispatched&state=reported", ("a", "b", "c")),
    "one channel": ("channel=hotline_12345", ("b",)),
    "two channels": ("channel=hotline_12345&channel=video_patrol", ("b", "c")),
    "matter": ("matter=09001", ("c",)),
    "two matters": ("matter=09001&matter=09006", ("a", "c")),
    "responsibility grid": ("grid=440309001-09", ("b",)),
    "unit grid": ("grid=440309001010032", ("c",)),
    "emergency": ("emergency=true", ("b",)),
    "not emergency": ("emergency=false", ("a", "c")),
    "supervised": ("supervised=true", ("b",)),
    "reported from": ("reported_from=2026-11-26T09:05:00%2B08:00", ("b", "c")),
    "reported to": ("reported_to=2026-11-26T01:15:00Z", ("a", "b")),
    "time range": (
        "reported_from=2026-11-26T09:05:00%2B08:00&reported_to=2026-11-26T09:15:00%2B08:00",
        ("b",),
    ),
    "text": ("q=游商", ("c",)),
    "nothing matches": ("channel=petition", ()),
}


@pytest.mark.parametrize("query", FILTERS.values(), ids=list(FILTERS))
def test_each_filter_narrows_the_list(
    client: TestClient, street: Street, query: tuple[str, tuple[str, ...]]
) -> None:
    text, expected = query
    assert ids_of(client, street.headers, text) == street.ids(*expected)


def test_officer_filter_finds_the_cases_dispatched_to_him(
    client: TestClient, street: Street
) -> None:
    assert ids_of(client, street.headers, f"officer={street.officer_id}") == street.ids("a")


def test_a_case_number_finds_its_case(client: TestClient, street: Street) -> None:
    assert ids_of(client, street.headers, f"q={street.c['number']}") == street.ids("c")


def test_light_filter_matches_the_light_each_row_shows_now(
    client: TestClient, street: Street, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=1, minutes=30))
    rows = client.get("/api/cases", headers=street.headers).json()["items"]
    lights = {row["id"]: row["light"] for row in rows}
    assert "red" in lights.values()  # A's dispatch/respond clock has run out

    for light in ("green", "yellow", "red", "none"):
        expected = {i for i, lit in lights.items() if lit == light}
        assert ids_of(client, street.headers, f"light={light}") == expected, light
    assert ids_of(client, street.headers, "light=red&light=green") == {
        i for i, lit in lights.items() if lit in ("red", "green")
    }


def test_each_row_carries_its_light_and_the_viewers_allowed_actions(
    client: TestClient, street: Street, auth_headers: Any
) -> None:
    rows = client.get("/api/cases", headers=auth_headers(Role.DISPATCHER)).json()["items"]
    by_id = {row["id"]: row for row in rows}

    assert by_id[street.a["id"]]["light"] in ("green", "yellow", "red")
    assert "redispatch" in by_id[street.a["id"]]["allowed_actions"]
    assert "register" not in by_id[street.c["id"]]["allowed_actions"]  # dispatchers don't 立案
    assert "reports" not in by_id[street.a["id"]]  # rows stay light; the detail has reports


def test_pages_cover_the_list_once_in_the_requested_order(
    client: TestClient, street: Street
) -> None:
    first = client.get("/api/cases?size=2&page=1", headers=street.headers).json()
    second = client.get("/api/cases?size=2&page=2", headers=street.headers).json()
    beyond = client.get("/api/cases?size=2&page=3", headers=street.headers).json()

    assert (first["total"], first["page"], first["size"]) == (3, 1, 2)
    newest_first = [i["id"] for i in first["items"] + second["items"]]
    assert newest_first == [street.c["id"], street.b["id"], street.a["id"]]
    assert beyond["items"] == [] and beyond["total"] == 3


def test_sorting_by_report_time_ascending_and_descending(
    client: TestClient, street: Street
) -> None:
    def order(sort: str) -> list[int]:
        answer = client.get(f"/api/cases?sort={sort}", headers=street.headers)
        assert answer.status_code == 200, answer.text
        return [i["id"] for i in answer.json()["items"]]

    oldest_first = [street.a["id"], street.b["id"], street.c["id"]]
    assert order("reported_at") == oldest_first
    assert order("-reported_at") == oldest_first[::-1]
    assert order("number") == sorted(oldest_first, key=_number_of(street))
    assert sorted(order("due_at")) == sorted(oldest_first)


def _number_of(street: Street) -> Any:
    numbers = {s["id"]: s["number"] for s in (street.a, street.b, street.c)}
    return lambda case_id: numbers[case_id]


def test_a_grid_officer_lists_only_the_cases_of_his_grid(
    client: TestClient, street: Street, auth_headers: Any
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["440309001-09"])

    assert ids_of(client, officer, "") == street.ids("b")
    assert ids_of(client, officer, "grid=440309001-01") == set()


BAD_QUERIES = {
    "size over 200": "size=201",
    "size zero": "size=0",
    "page zero": "page=0",
    "unknown sort field": "sort=complainant_phone",
    "unknown state": "state=lost",
    "unknown light": "light=purple",
    "malformed matter": "matter=abc",
    "officer not a number": "officer=abc",
    "time without zone": "reported_from=2026-11-26T09:00:00",
    "not a time": "reported_to=yesterday",
    "emergency not a boolean": "emergency=maybe",
}


@pytest.mark.parametrize("query", BAD_QUERIES.values(), ids=list(BAD_QUERIES))
def test_a_bad_query_is_a_422_problem(client: TestClient, auth_headers: Any, query: str) -> None:
    answer = client.get(f"/api/cases?{query}", headers=auth_headers(Role.OPERATOR))
    assert_problem(answer, 422)


def test_the_list_needs_a_sign_in_and_a_role_that_reads_cases(
    client: TestClient, auth_headers: Any
) -> None:
    assert_problem(client.get("/api/cases"), 401)
    assert_problem(client.get("/api/cases", headers=auth_headers(Role.DEVICE)), 403)
