"""The API times cases with the application's own working hours, not a global default."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from urbanops.app import create_app
from urbanops.config import Settings
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.web import get_session

SHENZHEN = ZoneInfo("Asia/Shanghai")


def test_a_centre_working_through_lunch_gets_its_registration_deadline_in_its_own_hours(
    db_engine: Engine, db: Session, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock(datetime(2026, 11, 26, 12, 30, tzinfo=SHENZHEN))  # a Thursday, lunch time
    settings = Settings(mode="test", working_hours="08:00-18:00", sweeper_interval_s=0)
    app = create_app(settings, engine=db_engine, clock=clock)

    def _session() -> Iterator[Session]:
        yield db
        db.commit()

    app.dependency_overrides[get_session] = _session
    point = build_guanhu().sample_points()[0].point
    body = {
        "channel": "grid_report",
        "matter_code": "09006",
        "description": "午间占道经营",
        "lon": point.x,
        "lat": point.y,
    }
    with TestClient(app) as client:
        answer = client.post("/api/cases", json=body, headers=auth_headers(Role.OPERATOR))
    assert answer.status_code == 201, answer.text
    due = datetime.fromisoformat(answer.json()["deadlines"]["due_at"]).astimezone(SHENZHEN)
    # 1 working hour from 12:30 with no lunch break is 13:30 (the default hours would give 15:00).
    assert due - clock.now().astimezone(SHENZHEN) == timedelta(hours=1)
