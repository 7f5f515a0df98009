"""``GET /api/events``: who may listen, what each listener hears, and bad filters refused.

The stream itself (bytes over a real socket, news of another process) is proven against real
server processes in ``test_multiprocess.py``; these tests cover the refusals, which answer
before any stream starts, and the audience rules.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.alerts.events import AlertRaised
from urbanops.auth import service as auth
from urbanops.cases.events import CaseDispatched, CaseReported
from urbanops.demo.street import DEMO_PASSWORD
from urbanops.kit.actor import SYSTEM, Actor, Role
from urbanops.kit.errors import InvalidInput
from urbanops.kit.events import BusResumed
from urbanops.kit.events_api import _audience, _names
from urbanops.workforce.models import Officer

pytestmark = pytest.mark.db
AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_stream_refuses_strangers_other_roles_and_unknown_names(
    client: TestClient, db: Session
) -> None:
    anonymous = client.get("/api/events")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")

    _, key = auth.create_api_key(
        db, name="12345 gateway", principal_kind="integration", roles=[Role.INTEGRATION],
        by=SYSTEM, now=AT,
    )  # fmt: skip
    db.commit()
    gateway = client.get("/api/events", headers={"X-API-Key": key})
    assert gateway.status_code == 403

    staff = _bearer(client, "op01")
    for names in ("CaseReported,NoSuchEvent", "Case Reported", "x" * 70):
        answer = client.get("/api/events", params={"names": names}, headers=staff)
        assert answer.status_code == 422, names
        assert answer.json()["code"] in ("unknown_event_name", "invalid_input")
    too_long = client.get("/api/events", params={"names": "a," * 1_001}, headers=staff)
    assert too_long.status_code == 422


def test_names_filter_reads_a_comma_separated_list() -> None:
    assert _names(None) is None
    assert _names(" ") is None
    assert _names("CaseReported, AlertRaised,") == frozenset({"CaseReported", "AlertRaised"})
    with pytest.raises(InvalidInput):
        _names("CaseReported,Nope")


def _case(**fields: object) -> CaseDispatched:
    base = {"at": AT, "case_id": 1, "number": "N1", "state": "dispatched", "officer_id": None}
    return CaseDispatched(**(base | fields))  # type: ignore[arg-type]


def _alert(**fields: object) -> AlertRaised:
    base = {"at": AT, "alert_id": 1, "kind": "sos", "severity": "critical", "title": "SOS"}
    return AlertRaised(**(base | fields))  # type: ignore[arg-type]


def test_staff_hear_everything_a_squad_leader_his_grids_an_officer_his_own_news(
    db: Session,
) -> None:
    operator = Actor(kind="user", id=1, name="受理员", roles=frozenset({Role.OPERATOR}))
    hears = _audience(db, operator)
    reported = CaseReported(
        at=AT, case_id=1, number="N1", state="reported", channel="hotline_12345", matter_code="x"
    )
    assert all(hears(e) for e in (reported, _alert(grid_code="g9"), _case(officer_id=5)))

    squad = Actor(
        kind="user", id=2, name="中队长", roles=frozenset({Role.SQUAD_LEADER}),
        grid_scope=frozenset({"g1"}),
    )  # fmt: skip
    hears = _audience(db, squad)
    assert hears(_alert(grid_code="g1")) and hears(_alert()) and hears(reported)
    assert not hears(_alert(grid_code="g9"))

    officer = db.scalars(select(Officer).order_by(Officer.id).limit(1)).one()
    me = Actor(kind="user", id=officer.user_id, name="网格员", roles=frozenset({Role.GRID_OFFICER}))
    hears = _audience(db, me)
    assert hears(_case(officer_id=officer.user_id))  # a case names its officer by user id
    assert not hears(_case(officer_id=officer.user_id + 10_000))
    assert hears(_alert(to_user_id=officer.user_id)) and hears(_alert(user_id=officer.user_id))
    assert hears(_alert(officer_id=officer.id))  # an alert by the officer record's id
    assert not hears(_alert(officer_id=officer.id + 10_000))
    assert hears(BusResumed(at=AT, transport="postgres"))
    assert not hears(reported) and not hears(_alert(grid_code="g1"))
