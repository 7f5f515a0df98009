"""Recommendation and the one-call assignment over HTTP, with positions from the real intake."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dispatch.conftest import GRID_01, GRID_02, GRID_17, Street, near
from urbanops.dispatch.models import OfferOutcome
from urbanops.workforce.models import DutyStatus


def names(answer: dict[str, object]) -> list[int]:
    return [o["user_id"] for o in answer["officers"]]  # type: ignore[attr-defined, index]


def test_the_nearest_officers_come_first_with_distance_and_arrival_time(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=300))
    street.place("gh0103", at=near(0, north_m=100))
    street.place("gh0104", at=near(0, east_m=-600))

    answer = street.recommend(case["id"])

    top = answer["officers"][:3]
    assert [o["user_id"] for o in top] == [
        street.user_id(u) for u in ("gh0103", "gh0102", "gh0104")
    ]
    first = top[0]
    assert (first["tier"], first["grid_code"], first["travel_mode"]) == (0, GRID_01, "walk")
    assert first["distance_m"] == pytest.approx(100, abs=2)
    assert first["eta_s"] == pytest.approx(first["distance_m"] * 1.3 / 1.3, abs=1)
    assert first["position_age_s"] == 0
    assert answer["grid_code"] == GRID_01 and GRID_02 in answer["neighbours"]
    assert answer["response_limit_s"] == 3600  # 1 working hour to respond (default profile)


def test_busy_training_leave_and_offline_officers_are_left_out_with_the_reason(
    street: Street,
) -> None:
    earlier = street.report(0)
    street.place("gh0105", at=near(0, east_m=500))  # will go offline
    street.clock.advance(timedelta(minutes=6))
    for username in ("gh0102", "gh0103", "gh0107", "gh0111"):
        street.place(username, at=near(0, east_m=50))  # gh0107 training, gh0111 on leave
    street.assign(earlier["id"], officer_user_id=street.user_id("gh0103"))
    street.act(earlier["id"], "accept", by="gh0103")  # he is now busy with it
    assert street.duty("gh0103") is DutyStatus.BUSY
    case = street.report(0, description="另一处占道经营")

    answer = street.recommend(case["id"])

    assert street.user_id("gh0102") in names(answer)
    for username in ("gh0103", "gh0105", "gh0107", "gh0111"):
        assert street.user_id(username) not in names(answer)
    why = {o["user_id"]: o["reason"] for o in answer["unavailable"]}
    assert why[street.user_id("gh0103")] == "busy"
    assert why[street.user_id("gh0107")] == "training"
    assert why[street.user_id("gh0111")] == "leave"
    assert why[street.user_id("gh0105")] == "offline"
    assert why[street.user_id("gh0106")] == "no_position"


def test_with_nobody_free_in_the_own_grid_the_neighbouring_grid_is_offered(
    street: Street,
) -> None:
    case = street.report(0)
    street.place("gh0201", at=near(0, east_m=900))  # grid 02's leader (a cyclist)
    street.place("gh1701", at=near(0, east_m=100))  # grid 17: not a neighbour of 01

    answer = street.recommend(case["id"])

    assert names(answer) == [street.user_id("gh0201")]
    assert answer["officers"][0]["tier"] == 1
    assert answer["officers"][0]["grid_code"] == GRID_02


def test_other_grids_are_offered_last_when_the_own_and_neighbouring_grids_have_nobody(
    street: Street,
) -> None:
    case = street.report(0)
    street.place("gh1701", at=near(0, east_m=100))

    answer = street.recommend(case["id"])

    [only] = answer["officers"]
    assert (only["user_id"], only["tier"], only["grid_code"]) == (
        street.user_id("gh1701"),
        2,
        GRID_17,
    )


def test_a_duty_change_is_seen_by_the_next_recommendation(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=80))
    assert names(street.recommend(case["id"])) == [street.user_id("gh0102")]

    street.set_duty("gh0102", DutyStatus.OFF_DUTY)

    answer = street.recommend(case["id"])
    assert names(answer) == []
    assert {o["user_id"]: o["reason"] for o in answer["unavailable"]}[
        street.user_id("gh0102")
    ] == "off_duty"


def test_one_call_registers_and_dispatches_a_reported_case(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=120))
    officer = street.user_id("gh0102")

    answer = street.assign(case["id"], officer_user_id=officer, expected_version=case["version"])

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == "dispatch"
    assert body["case"]["state"] == "dispatched" and body["case"]["officer_id"] == officer
    assert body["officer"]["eta_s"] == pytest.approx(120 * 1.3 / 1.3, abs=2)
    assert body["offer"]["outcome"] == "pending" and body["offer"]["attempt"] == 1
    assert answer.headers["ETag"] == f'"{body["case"]["version"]}"'
    actions = [(row.action, row.to_state) for row in street.timeline(case["id"])]
    assert actions[-2:] == [("register", "registered"), ("dispatch", "dispatched")]


def test_assigning_a_dispatched_case_to_another_officer_redispatches_it(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=120))
    street.place("gh0103", at=near(0, east_m=220))
    street.assign(case["id"], officer_user_id=street.user_id("gh0102"))

    again = street.assign(case["id"], officer_user_id=street.user_id("gh0103"), note="就近改派")

    assert again.status_code == 200, again.text
    assert again.json()["action"] == "redispatch"
    offers = street.offers(case["id"])
    assert [(o.user_id, o.outcome) for o in offers] == [
        (street.user_id("gh0102"), OfferOutcome.WITHDRAWN),
        (street.user_id("gh0103"), OfferOutcome.PENDING),
    ]
    same = street.assign(case["id"], officer_user_id=street.user_id("gh0103"))
    assert same.status_code == 409 and same.json()["code"] == "already_assigned"


def test_auto_assignment_picks_the_best_officer(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=400))
    street.place("gh0104", at=near(0, east_m=150))

    answer = street.assign(case["id"], auto=True)

    assert answer.status_code == 200, answer.text
    assert answer.json()["case"]["officer_id"] == street.user_id("gh0104")


def test_an_unavailable_officer_is_refused_with_the_reason_and_nothing_changes(
    street: Street,
) -> None:
    case = street.report(0)
    street.place("gh0107", at=near(0, east_m=50))  # in training

    answer = street.assign(case["id"], officer_user_id=street.user_id("gh0107"))

    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (answer.json()["code"], answer.json()["reason"]) == ("officer_unavailable", "training")
    assert street.case(case["id"])["state"] == "reported"
    assert street.offers(case["id"]) == []


def test_auto_assignment_with_nobody_available_is_a_conflict(street: Street) -> None:
    case = street.report(0)
    answer = street.assign(case["id"], auto=True)
    assert answer.status_code == 409 and answer.json()["code"] == "no_officer_available"


def test_a_dispatcher_may_not_register_so_a_reported_case_is_refused(street: Street) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=50))
    answer = street.assign(case["id"], by="dispatch01", officer_user_id=street.user_id("gh0102"))
    assert answer.status_code == 403 and answer.json()["code"] == "role_not_allowed"
    assert street.case(case["id"])["state"] == "reported"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "invalid_input"),
        ({"auto": True, "officer_user_id": 5}, 422, "invalid_input"),
        ({"officer_user_id": 0}, 422, "invalid_input"),
        ({"auto": True, "extra": 1}, 422, "invalid_input"),
        ({"officer_user_id": 2**40}, 422, "officer_not_eligible"),
        ({"auto": True, "expected_version": 99}, 409, "concurrent_update"),
    ],
)
def test_bad_assignments_are_problems_that_change_nothing(
    street: Street, body: dict[str, object], status: int, code: str
) -> None:
    case = street.report(0)
    street.place("gh0102", at=near(0, east_m=50))
    answer = street.assign(case["id"], **body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert street.case(case["id"])["state"] == "reported"


def test_an_unknown_case_is_404_and_field_officers_may_not_ask(street: Street) -> None:
    assert (
        street.client.get(
            "/api/cases/999999/recommendations", headers=street.headers("dispatch01")
        ).status_code
        == 404
    )
    assert street.assign(999999, auto=True).status_code == 404
    case = street.report(0)
    refused = street.client.get(
        f"/api/cases/{case['id']}/recommendations", headers=street.headers("gh0101")
    )
    assert refused.status_code == 403


def test_an_officer_whose_phone_page_starts_after_the_roster_loaded_is_offered_at_once(
    street: Street,
) -> None:
    case = street.report(0)
    before = street.recommend(case["id"])  # the roster is loaded now: gh0101 has a silent radio
    why = {o["user_id"]: o["reason"] for o in before["unavailable"]}
    assert why[street.user_id("gh0101")] == "no_position"

    street.place("gh0101", at=near(0, east_m=40))  # his phone page: a new device, announced

    after = street.recommend(case["id"])
    assert street.user_id("gh0101") in names(after)
