"""Shared case fixtures: the demo street's people as actors, and reports at its sample points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from sqlalchemy.orm import Session

from urbanops.auth import service as auth_service
from urbanops.cases import service
from urbanops.cases.schemas import ReportIn
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import Actor
from urbanops.kit.clock import ManualClock

#: Report fields each shipped channel requires, filled with plausible values.
CHANNEL_FIELDS: dict[str, dict[str, Any]] = {
    "video_patrol": {},
    "grid_report": {},
    "hotline_12345": {
        "caller_number": "075512345678",
        "complainant_name": "张三",
        "complainant_phone": "13800000001",
    },
    "petition": {"letter_number": "龙信〔2026〕118号", "complainant_name": "李四"},
    "minxinqiao": {"complainant_name": "王五"},
    "secretary_mailbox": {"letter_number": "SJXX-2026-0042"},
    "transfer_letter": {"letter_number": "龙华转〔2026〕7号", "source_ref": "ZB-7"},
    "citizen": {"complainant_phone": "13900000002"},
    "ai_alarm": {"source_ref": "CAM-0001-ALARM-1"},
    "open311": {"source_ref": "311-0001"},
}


@cache
def sample_point(index: int = 0) -> tuple[float, float]:
    """(lon, lat) of demo sample point ``index``: 0–2 inside grids 01, 09, 17; 3 outside."""
    point = build_guanhu().sample_points()[index].point
    return point.x, point.y


def report_in(index: int = 0, **overrides: Any) -> ReportIn:
    """A report of street vending (占道经营, 09006) by a grid officer at a demo point."""
    lon, lat = sample_point(index)
    body: dict[str, Any] = {
        "channel": "grid_report",
        "matter_code": "09006",
        "description": "路口有人占道经营水果摊",
        "lon": lon,
        "lat": lat,
        "address": "观湖街道松元厦路口",
    }
    channel = overrides.get("channel", body["channel"])
    return ReportIn.model_validate(body | CHANNEL_FIELDS.get(channel, {}) | overrides)


def actor(db: Session, username: str) -> Actor:
    """The demo user ``username`` as an actor (roles and grid scope from the database)."""
    user = auth_service.find_user(db, username=username)
    assert user is not None, username
    return auth_service.actor_for_user(db, user)


@dataclass(frozen=True)
class People:
    """Demo staff: operator, shift leader, dispatcher, squad leader, and grid 01's officers."""

    operator: Actor
    shift_leader: Actor
    dispatcher: Actor
    squad_leader: Actor
    officer: Actor
    other_officer: Actor


@pytest.fixture
def people(db: Session) -> People:
    return People(
        operator=actor(db, "op01"),
        shift_leader=actor(db, "duty01"),
        dispatcher=actor(db, "dispatch01"),
        squad_leader=actor(db, "squad01"),
        officer=actor(db, "gh0101"),
        other_officer=actor(db, "gh0102"),
    )


def make_report(
    db: Session, clock: ManualClock, by: Actor, index: int = 0, **overrides: Any
) -> service.ReportResult:
    """Report through the service at the clock's time."""
    return service.report(db, data=report_in(index, **overrides), by=by, now=clock.now())


def at(text: str) -> datetime:
    """A Shenzhen wall-clock time, e.g. ``at("2026-11-26 10:00")``."""
    from tests.conftest import SHANGHAI

    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
