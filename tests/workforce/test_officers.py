"""Officers, squads and duty status through the REST API, on both databases."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.workforce.conftest import GRID_01, GRID_02, Headers, OfficerOf, SignedIn
from urbanops.auth import service as auth_service
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock
from urbanops.workforce.models import DutyChange, DutyStatus, Officer, Squad


def test_the_demo_street_has_three_squads_and_an_officer_record_for_every_grid_officer(
    db: Session,
) -> None:
    street = build_guanhu()
    officers = {o.user_id: o for o in db.scalars(select(Officer))}
    assert len(officers) == len(street.officers) == 289
    by_cert = {o.certificate_no for o in officers.values() if o.certificate_no}
    assert by_cert == {o.certificate_no for o in street.officers if o.certificate_no}
    statuses = Counter(o.duty_status for o in officers.values())
    assert statuses[DutyStatus.ON_DUTY] > 0.8 * len(officers)
    assert statuses[DutyStatus.TRAINING] > 0 and statuses[DutyStatus.LEAVE] > 0
    squads = db.scalars(select(Squad)).all()
    assert len(squads) == 3 and all(s.leader_user_id for s in squads)
    assert all(o.squad_id is not None for o in officers.values())
    assert (db.scalar(select(func.count()).select_from(DutyChange)) or 0) >= 289


def test_squads_list_their_officers_home_grids(client: TestClient, auth_headers: Headers) -> None:
    squads = client.get("/api/squads", headers=auth_headers(Role.OPERATOR)).json()
    grids = [code for squad in squads for code in squad["grid_codes"]]
    assert len(grids) == len(set(grids)) == 17
    assert sum(s["officers"] for s in squads) == 289


def test_an_officer_goes_to_training_then_on_leave_then_back_and_the_history_keeps_each_step(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf, clock: ManualClock
) -> None:
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_01])
    officer = officer_of("gh0102")
    assert officer.duty_status is DutyStatus.ON_DUTY
    for status, reason in (("training", "法制培训"), ("leave", "事假"), ("on_duty", "")):
        clock.advance(timedelta(minutes=30))
        answer = client.put(
            f"/api/officers/{officer.id}/duty",
            json={"status": status, "reason": reason},
            headers=leader,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["duty_status"] == status
        assert datetime.fromisoformat(answer.json()["duty_since"]) == clock.now()
    history = client.get(f"/api/officers/{officer.id}/duty", headers=leader).json()
    steps = [(h["from_status"], h["to_status"]) for h in history[-3:]]
    assert steps == [("on_duty", "training"), ("training", "leave"), ("leave", "on_duty")]
    assert history[-3]["reason"] == "法制培训"
    assert history[-1]["by"].startswith("user:")


def test_setting_the_status_an_officer_already_has_writes_no_history(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    leader = auth_headers(Role.SHIFT_LEADER)
    officer = officer_of("gh0103")
    before = len(client.get(f"/api/officers/{officer.id}/duty", headers=leader).json())
    answer = client.put(
        f"/api/officers/{officer.id}/duty", json={"status": "on_duty"}, headers=leader
    )
    assert answer.status_code == 200
    assert len(client.get(f"/api/officers/{officer.id}/duty", headers=leader).json()) == before


def test_an_officer_sets_his_own_duty_but_not_a_colleagues(
    client: TestClient, signed_in: SignedIn, officer_of: OfficerOf
) -> None:
    me, colleague = officer_of("gh0102"), officer_of("gh0103")
    headers = signed_in("gh0102")
    own = client.put(f"/api/officers/{me.id}/duty", json={"status": "off_duty"}, headers=headers)
    assert own.status_code == 200, own.text
    other = client.put(
        f"/api/officers/{colleague.id}/duty", json={"status": "off_duty"}, headers=headers
    )
    assert other.status_code == 403
    assert other.json()["code"] == "duty_not_yours"
    assert colleague.duty_status is DutyStatus.ON_DUTY


def test_a_squad_leader_cannot_see_or_change_an_officer_outside_his_grids(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_02])
    outsider = officer_of("gh0102")
    answer = client.put(
        f"/api/officers/{outsider.id}/duty", json={"status": "leave"}, headers=leader
    )
    assert answer.status_code == 404
    assert outsider.duty_status is DutyStatus.ON_DUTY
    listed = client.get("/api/officers", headers=leader).json()
    assert listed and {o["grid_code"] for o in listed} == {GRID_02}


def test_busy_is_left_to_dispatch(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    officer = officer_of("gh0104")
    answer = client.put(
        f"/api/officers/{officer.id}/duty", json={"status": "busy"}, headers=auth_headers()
    )
    assert answer.status_code in (403, 422)
    admin = auth_headers(Role.ADMIN)
    answer = client.put(f"/api/officers/{officer.id}/duty", json={"status": "busy"}, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["code"] == "busy_set_by_dispatch"


def test_bad_duty_input_is_refused_and_nothing_changes(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    admin = auth_headers(Role.ADMIN)
    officer = officer_of("gh0105")
    for body in ({"status": "asleep"}, {"status": "leave", "reason": "x" * 201}, {}):
        answer = client.put(f"/api/officers/{officer.id}/duty", json=body, headers=admin)
        assert answer.status_code == 422, body
    missing = client.put("/api/officers/999999/duty", json={"status": "leave"}, headers=admin)
    assert missing.status_code == 404
    assert client.get("/api/officers").status_code == 401
    assert officer.duty_status is DutyStatus.ON_DUTY


def _new_user(db: Session, clock: ManualClock, username: str) -> int:
    user = auth_service.create_user(
        db,
        username=username,
        password=None,
        display_name="新队员",
        roles=[Role.GRID_OFFICER],
        grid_codes=[GRID_01],
        phone="13800009999",
        by=SYSTEM,
        now=clock.now(),
    )
    return user.id


def test_an_admin_enrols_a_new_officer_who_starts_off_duty_with_one_history_row(
    client: TestClient, auth_headers: Headers, db: Session, clock: ManualClock
) -> None:
    admin = auth_headers(Role.ADMIN)
    user_id = _new_user(db, clock, "newbie01")
    body = {"user_id": user_id, "certificate_no": "440309009999", "squad_code": "SQ01"}
    answer = client.post("/api/officers", json={**body, "grid_code": GRID_01}, headers=admin)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["duty_status"] == "off_duty"
    assert created["phone"] == "13800009999" and created["squad_code"] == "SQ01"
    history = client.get(f"/api/officers/{created['id']}/duty", headers=admin).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [(None, "off_duty")]
    again = client.post("/api/officers", json=body, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "officer_exists"


def test_enrolling_with_a_taken_certificate_or_unknown_references_is_refused(
    client: TestClient,
    auth_headers: Headers,
    db: Session,
    clock: ManualClock,
    officer_of: OfficerOf,
) -> None:
    admin = auth_headers(Role.ADMIN)
    user_id = _new_user(db, clock, "newbie02")
    taken = officer_of("gh0101").certificate_no
    cases: list[tuple[dict[str, object], int, str | None]] = [
        ({"certificate_no": taken}, 409, "certificate_taken"),
        ({"grid_code": "440309001-99"}, 422, "unknown_grid"),
        ({"squad_code": "SQ99"}, 422, "unknown_squad"),
        ({"user_id": 99_999_999}, 422, "unknown_user"),
        ({"phone": "call me"}, 422, None),
        ({"travel_mode": "helicopter"}, 422, None),
        ({"duty_status": "busy"}, 422, "busy_set_by_dispatch"),
    ]
    for extra, status, code in cases:
        body: dict[str, object] = {"user_id": user_id, **extra}
        answer = client.post("/api/officers", json=body, headers=admin)
        assert answer.status_code == status, (extra, answer.text)
        if code:
            assert answer.json()["code"] == code
    assert db.scalar(select(Officer).where(Officer.user_id == user_id)) is None


def test_a_squad_leader_enrols_only_into_his_own_grids(
    client: TestClient, auth_headers: Headers, db: Session, clock: ManualClock
) -> None:
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=[GRID_02])
    user_id = _new_user(db, clock, "newbie03")
    refused = client.post(
        "/api/officers", json={"user_id": user_id, "grid_code": GRID_01}, headers=leader
    )
    assert refused.status_code == 403
    grid_officer = auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_02])
    assert (
        client.post("/api/officers", json={"user_id": user_id}, headers=grid_officer).status_code
        == 403
    )
    accepted = client.post(
        "/api/officers", json={"user_id": user_id, "grid_code": GRID_02}, headers=leader
    )
    assert accepted.status_code == 201


def test_an_officer_moves_squad_and_travel_mode_and_cannot_take_anothers_certificate(
    client: TestClient, auth_headers: Headers, officer_of: OfficerOf
) -> None:
    admin = auth_headers(Role.ADMIN)
    officer, other = officer_of("gh0102"), officer_of("gh0103")
    answer = client.patch(
        f"/api/officers/{officer.id}",
        json={"squad_code": "SQ02", "travel_mode": "vehicle", "phone": "13900001111"},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["squad_code"] == "SQ02"
    assert answer.json()["travel_mode"] == "vehicle"
    clash = client.patch(
        f"/api/officers/{officer.id}",
        json={"certificate_no": other.certificate_no},
        headers=admin,
    )
    assert clash.status_code == 409 and clash.json()["code"] == "certificate_taken"
    unknown = client.patch(f"/api/officers/{officer.id}", json={"colour": "red"}, headers=admin)
    assert unknown.status_code == 422
