"""The alert list of the command centre, acknowledging, and an officer's alert record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.alerts.conftest import GRID, NEIGHBOUR, Patrol
from tests.workforce.conftest import SignedIn
from urbanops.alerts import service
from urbanops.alerts.models import AlertKind, Severity
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock

Headers = Any


def seed(db: Session, clock: ManualClock, patrol: Patrol) -> dict[str, int]:
    """Five alerts a minute apart: his radio offline, his SOS, two late cases, another grid's."""
    made: dict[str, int] = {}
    plan = [
        ("offline", AlertKind.DEVICE_OFFLINE, Severity.WARNING, patrol.officer.id, None, GRID),
        ("sos", AlertKind.SOS, Severity.CRITICAL, patrol.officer.id, None, GRID),
        ("late_1", AlertKind.DEADLINE_MISSED, Severity.WARNING, None, 9001, GRID),
        ("late_2", AlertKind.DEADLINE_MISSED, Severity.WARNING, None, 9002, GRID),
        ("other", AlertKind.DEADLINE_MISSED, Severity.WARNING, None, 9003, NEIGHBOUR),
    ]
    for name, kind, severity, officer_id, case_id, grid in plan:
        clock.advance(timedelta(minutes=1))
        alert = service.raise_alert(
            db, kind=kind, at=clock.now(), title=f"测试告警 {name}", severity=severity,
            officer_id=officer_id, case_id=case_id, grid_code=grid, dedupe_key=f"test:{name}",
        )  # fmt: skip
        assert alert is not None
        made[name] = alert.id
    db.commit()
    return made


def ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_the_shift_leader_lists_alerts_newest_first_with_filters_and_pages(
    client: TestClient, db: Session, clock: ManualClock, patrol: Patrol, auth_headers: Headers
) -> None:
    start = clock.now()
    made = seed(db, clock, patrol)
    headers = auth_headers(Role.SHIFT_LEADER)
    everything = client.get("/api/alerts", headers=headers)
    assert ids(everything) == [made[n] for n in ("other", "late_2", "late_1", "sos", "offline")]
    oldest = everything.json()["items"][-1]
    assert (oldest["kind"], oldest["kind_name"]) == ("device_offline", "设备离线")
    assert oldest["open"] is True
    assert everything.json()["total"] == 5

    late = client.get("/api/alerts", params={"kind": "deadline_missed"}, headers=headers)
    assert ids(late) == [made["other"], made["late_2"], made["late_1"]]
    several = client.get("/api/alerts", params=[("kind", "sos"), ("kind", "device_offline")],
                         headers=headers)  # fmt: skip
    assert ids(several) == [made["sos"], made["offline"]]
    mine = client.get("/api/alerts", params={"officer": patrol.officer.id}, headers=headers)
    assert ids(mine) == [made["sos"], made["offline"]]
    case = client.get("/api/alerts", params={"case": 9002}, headers=headers)
    assert ids(case) == [made["late_2"]]
    since = (start + timedelta(minutes=3)).isoformat()
    recent = client.get("/api/alerts", params={"since": since}, headers=headers)
    assert ids(recent) == [made["other"], made["late_2"], made["late_1"]]

    page_2 = client.get("/api/alerts", params={"size": 2, "page": 2}, headers=headers)
    assert ids(page_2) == [made["late_1"], made["sos"]]
    assert (page_2.json()["total"], page_2.json()["page"], page_2.json()["size"]) == (5, 2, 2)
    assert client.get("/api/alerts", params={"size": 0}, headers=headers).status_code == 422
    bad_kind = client.get("/api/alerts", params={"kind": "ufo"}, headers=headers)
    assert bad_kind.status_code == 422
    assert bad_kind.headers["content-type"] == "application/problem+json"


def test_acknowledging_an_sos_ends_it_but_an_offline_radio_stays_open_until_it_speaks(
    client: TestClient, db: Session, clock: ManualClock, patrol: Patrol, auth_headers: Headers
) -> None:
    made = seed(db, clock, patrol)
    headers = auth_headers(Role.SHIFT_LEADER)
    clock.advance(timedelta(minutes=1))
    sos = client.post(f"/api/alerts/{made['sos']}/acknowledge", headers=headers)
    assert sos.status_code == 200, sos.text
    assert sos.json()["acknowledged_at"] is not None and sos.json()["open"] is False
    offline = client.post(f"/api/alerts/{made['offline']}/acknowledge", headers=headers)
    assert offline.json()["acknowledged_by"].startswith("user:") and offline.json()["open"]

    still_open = client.get("/api/alerts", params={"open": True}, headers=headers)
    assert made["sos"] not in ids(still_open) and made["offline"] in ids(still_open)
    unseen = client.get("/api/alerts", params={"unacknowledged": True}, headers=headers)
    assert ids(unseen) == [made["other"], made["late_2"], made["late_1"]]
    again = client.post(f"/api/alerts/{made['sos']}/acknowledge", headers=headers)
    assert again.json()["acknowledged_at"] == sos.json()["acknowledged_at"]  # the first stays
    missing = client.post("/api/alerts/999999999/acknowledge", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "alert_not_found"


def test_a_grid_officer_cannot_list_alerts_and_a_squad_leader_sees_only_his_grids(
    client: TestClient, db: Session, clock: ManualClock, patrol: Patrol, auth_headers: Headers
) -> None:
    made = seed(db, clock, patrol)
    officer = client.get("/api/alerts", headers=auth_headers(Role.GRID_OFFICER))
    assert officer.status_code == 403
    assert officer.headers["content-type"] == "application/problem+json"
    acknowledged = client.post(
        f"/api/alerts/{made['sos']}/acknowledge", headers=auth_headers(Role.GRID_OFFICER)
    )
    assert acknowledged.status_code == 403
    assert client.get("/api/alerts").status_code == 401

    squad = auth_headers(Role.SQUAD_LEADER, grid_codes=[NEIGHBOUR])
    assert ids(client.get("/api/alerts", headers=squad)) == [made["other"]]
    hidden = client.get(f"/api/alerts/{made['sos']}", headers=squad)
    assert hidden.status_code == 404
    assert client.post(f"/api/alerts/{made['sos']}/acknowledge", headers=squad).status_code == 404
    assert client.get(f"/api/alerts/{made['other']}", headers=squad).json()["title"] == (
        "测试告警 other"
    )


def test_an_officers_record_shows_his_alerts_to_him_and_to_the_command_staff(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrol: Patrol,
    auth_headers: Headers,
    signed_in: SignedIn,
) -> None:
    made = seed(db, clock, patrol)
    path = f"/api/officers/{patrol.officer.id}/alerts"
    for headers in (auth_headers(Role.LEADER), signed_in("gh0101")):
        assert ids(client.get(path, headers=headers)) == [made["sos"], made["offline"]]
    sos_only = client.get(path, params={"kind": "sos"}, headers=auth_headers(Role.OPERATOR))
    assert ids(sos_only) == [made["sos"]]
    colleague = client.get(path, headers=signed_in("gh0102"))
    assert colleague.status_code == 403
    elsewhere = auth_headers(Role.SQUAD_LEADER, grid_codes=[NEIGHBOUR])
    assert client.get(path, headers=elsewhere).status_code == 404
    nobody = client.get("/api/officers/999999999/alerts", headers=auth_headers(Role.LEADER))
    assert nobody.status_code == 404
