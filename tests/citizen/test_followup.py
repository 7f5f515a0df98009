"""Follow-up (回访): when it is due, who may rate, what each rating does, and the job that opens
follow-ups of closed cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.api_support import act, assert_problem, hotline_body, report, report_body
from tests.cases.conftest import People, make_report
from tests.citizen.support import (
    case_id_of,
    citizen_reports,
    handle_and_close,
    staff,
)
from urbanops.cases import followup, service
from urbanops.cases.followup_models import Followup, Outcome, Rating, RatingMethod
from urbanops.cases.models import Case, CaseState
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict
from urbanops.kit.events import pending


def _closed_citizen_case(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> tuple[str, int]:
    people = staff(db, clock, auth_headers)
    sent = citizen_reports(client)
    case_id = case_id_of(client, people, sent["number"])
    act(client, people.operator, case_id, "verify")
    act(client, people.operator, case_id, "register")
    handle_and_close(client, clock, people, case_id, after_photo=False)
    return sent["tracking_id"], case_id


def test_rating_a_case_that_is_not_closed_is_refused(client: TestClient) -> None:
    tracking_id = citizen_reports(client)["tracking_id"]
    answer = client.post(f"/api/citizen/reports/{tracking_id}/rating", json={"rating": "satisfied"})
    assert_problem(answer, 409, "followup_not_due")
    assert client.get(f"/api/citizen/reports/{tracking_id}").json()["rating_due"] is False


def test_a_closure_is_rated_once(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    tracking_id, case_id = _closed_citizen_case(client, db, clock, auth_headers)
    url = f"/api/citizen/reports/{tracking_id}/rating"
    assert client.post(url, json={"rating": "basically_satisfied"}).status_code == 200
    assert_problem(client.post(url, json={"rating": "unsatisfied"}), 409, "already_rated")
    phone = client.post(
        f"/api/cases/{case_id}/followup",
        json={"rating": "unsatisfied"},
        headers=auth_headers(Role.OPERATOR),
    )
    assert_problem(phone, 409, "already_rated")
    case = db.get(Case, case_id)
    assert case is not None and case.state is CaseState.CLOSED


def test_bad_ratings_and_unknown_tracking_ids_are_clean_problems(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    tracking_id, _ = _closed_citizen_case(client, db, clock, auth_headers)
    url = f"/api/citizen/reports/{tracking_id}/rating"
    assert_problem(client.post(url, json={"rating": "meh"}), 422, "invalid_input")
    assert_problem(client.post(url, json={"rating": "satisfied", "comment": "x" * 1001}), 422)
    number, secret = tracking_id.rsplit("-", 1)
    for unknown in ("ABCDEFGHJKLM", f"{number}-ABCDEFGHJKLM", "not a tracking id", "0" * 12):
        assert_problem(client.get(f"/api/citizen/reports/{unknown}"), 404, "tracking_id_not_found")
        answer = client.post(f"/api/citizen/reports/{unknown}/rating", json={"rating": "satisfied"})
        assert_problem(answer, 404, "tracking_id_not_found")
    # The secret alone finds the report, typed in any case and with spaces.
    spaced = f" {secret[:4].lower()} {secret[4:]} "
    assert client.get(f"/api/citizen/reports/{spaced}").json()["rating_due"] is True
    assert (
        db.scalar(select(func.count()).select_from(Followup).where(Followup.rating.is_not(None)))
        == 0
    )


def test_only_citizen_facing_channels_get_a_follow_up(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    people = staff(db, clock, auth_headers)
    case_id = report(client, people.operator, **report_body(1))["id"]
    act(client, people.operator, case_id, "register")
    handle_and_close(client, clock, people, case_id, after_photo=False)
    answer = client.post(
        f"/api/cases/{case_id}/followup", json={"rating": "satisfied"}, headers=people.operator
    )
    assert_problem(answer, 409, "followup_not_applicable")
    assert followup.open_due(db, now=clock.now()) == 0


def test_only_operators_and_shift_leaders_record_phone_ratings(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    _, case_id = _closed_citizen_case(client, db, clock, auth_headers)
    for role in (Role.GRID_OFFICER, Role.DISPATCHER, Role.LEADER):
        answer = client.post(
            f"/api/cases/{case_id}/followup",
            json={"rating": "satisfied"},
            headers=auth_headers(role),
        )
        assert_problem(answer, 403)
    assert_problem(client.post(f"/api/cases/{case_id}/followup", json={"rating": "satisfied"}), 401)
    leader = client.post(
        f"/api/cases/{case_id}/followup",
        json={"rating": "satisfied"},
        headers=auth_headers(Role.SHIFT_LEADER),
    )
    assert leader.status_code == 200, leader.text


def test_the_job_opens_the_follow_ups_of_closed_cases_once_and_the_queue_lists_them(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    people = staff(db, clock, auth_headers)
    hotline = report(client, people.operator, **hotline_body(0))["id"]
    act(client, people.operator, hotline, "verify")
    act(client, people.operator, hotline, "register")
    handle_and_close(client, clock, people, hotline, after_photo=False)

    assert followup.open_due(db, now=clock.now()) == 1
    assert followup.open_due(db, now=clock.now()) == 0
    queue = client.get("/api/followups/pending", headers=people.operator).json()
    assert [(f["case_id"], f["round"], f["channel"]) for f in queue["items"]] == [
        (hotline, 1, "hotline_12345")
    ]
    assert queue["total"] == 1
    client.post(
        f"/api/cases/{hotline}/followup", json={"rating": "satisfied"}, headers=people.operator
    )
    assert client.get("/api/followups/pending", headers=people.operator).json()["total"] == 0


def test_a_citizens_report_merged_into_an_officers_case_still_gets_its_follow_up(
    db: Session, clock: ManualClock, people: People
) -> None:
    own = make_report(db, clock, people.officer, index=0).case
    merged = make_report(db, clock, people.operator, index=0, channel="citizen")
    assert merged.merged and merged.case.id == own.id
    for action, by in (
        ("register", people.operator),
        ("dispatch", people.dispatcher),
        ("accept", people.officer),
        ("handle", people.officer),
        ("check", people.operator),
        ("close", people.shift_leader),
    ):
        clock.advance(timedelta(minutes=5))
        service.act(
            db, case_id=own.id, action=action, by=by, now=clock.now(),
            officer_id=people.officer.id if action == "dispatch" else None,
        )  # fmt: skip
    assert followup.is_due(db, own)
    row = followup.rate(
        db, case_id=own.id, rating=Rating.UNSATISFIED, method=RatingMethod.PHONE,
        by=people.operator, now=clock.now(),
    )  # fmt: skip
    assert (row.channel, row.outcome) == ("citizen", Outcome.REOPENED)
    assert own.state is CaseState.REGISTERED
    rated = [e for e in pending(db) if isinstance(e, followup.FollowupRated)]
    assert [(e.case_id, e.rating, e.outcome) for e in rated] == [
        (own.id, "unsatisfied", "reopened")
    ]


def test_rating_counts_by_period_and_channel(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    tracking_id, _ = _closed_citizen_case(client, db, clock, auth_headers)
    start = clock.now()
    client.post(f"/api/citizen/reports/{tracking_id}/rating", json={"rating": "satisfied"})
    counts = followup.rating_counts(db, rated_from=start, channel="citizen")
    assert counts == {Rating.SATISFIED: 1, Rating.BASICALLY_SATISFIED: 0, Rating.UNSATISFIED: 0}
    later = followup.rating_counts(db, rated_from=start + timedelta(seconds=1))
    assert sum(later.values()) == 0
    assert sum(followup.rating_counts(db, channel="hotline_12345").values()) == 0
    naive = client.get(
        "/api/followups/counts",
        params={"rated_from": "2026-11-26T00:00:00"},
        headers=auth_headers(Role.LEADER),
    )
    assert_problem(naive, 422, "naive_datetime")


def test_a_lost_race_for_the_same_closure_is_already_rated(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.operator, index=1, channel="citizen").case
    for action, by in (
        ("verify", people.operator),
        ("register", people.operator),
        ("dispatch", people.dispatcher),
        ("accept", people.officer),
        ("handle", people.officer),
        ("check", people.operator),
        ("close", people.shift_leader),
    ):
        service.act(
            db, case_id=case.id, action=action, by=by, now=clock.now(),
            officer_id=people.officer.id if action == "dispatch" else None,
        )  # fmt: skip
    row = followup.ensure(db, case=case, channel="citizen", now=clock.now())
    # Another process rates it between our read and our write.
    db.execute(
        Followup.__table__.update()
        .where(Followup.id == row.id)
        .values(rating=Rating.SATISFIED.value, rated_at=clock.now())
    )
    with pytest.raises(Conflict) as refused:
        followup.rate(
            db, case_id=case.id, rating=Rating.UNSATISFIED, method=RatingMethod.PAGE,
            by=people.operator, now=clock.now(),
        )  # fmt: skip
    assert refused.value.code == "already_rated"
    assert case.state is CaseState.CLOSED
