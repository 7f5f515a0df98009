"""Helpers shared by the case API tests: report bodies at demo points, the demo officers' logins."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.areas.models import ResponsibilityGridOfficer
from urbanops.areas.service import get_responsibility_grid
from urbanops.auth import service as auth_service
from urbanops.auth.models import User
from urbanops.cases.models import Case, CaseReport, TimelineEntry
from urbanops.demo.geometry import SamplePoint, build_guanhu
from urbanops.kit.clock import ManualClock

GRID_01 = "440309001-01"
PHONE = "13800000001"
CALLER = "075512345678"


@cache
def sample_points() -> tuple[SamplePoint, ...]:
    """Three points in grids 01, 09 and 17 of the demo street, then one in Futian (outside)."""
    return build_guanhu().sample_points()


def point(index: int = 0) -> tuple[float, float]:
    """(lon, lat) of a demo sample point."""
    p = sample_points()[index].point
    return p.x, p.y


def report_body(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A grid officer's report (巡查上报) of street vending at a demo point."""
    lon, lat = point(index)
    body: dict[str, Any] = {
        "channel": "grid_report",
        "matter_code": "09006",
        "description": "路口有人占道经营水果摊",
        "lon": lon,
        "lat": lat,
        "address": "观湖街道松元厦路口",
    }
    return body | overrides


def hotline_body(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A 12345 hotline report with the complainant's name, phone and caller number."""
    return (
        report_body(
            index,
            channel="hotline_12345",
            matter_code="09009",
            description=f"市民张三来电({PHONE})反映机动车乱停放",
            complainant_name="张三",
            complainant_phone=PHONE,
            caller_number=CALLER,
        )
        | overrides
    )


def counts(db: Session) -> tuple[int, int, int]:
    """Rows in the case, case_report and case_timeline tables."""
    return (
        db.scalar(select(func.count()).select_from(Case)) or 0,
        db.scalar(select(func.count()).select_from(CaseReport)) or 0,
        db.scalar(select(func.count()).select_from(TimelineEntry)) or 0,
    )


def demo_officer(db: Session, grid_code: str = GRID_01) -> User:
    """A real demo grid officer (网格员) carried by the grid."""
    grid = get_responsibility_grid(db, code=grid_code)
    user_id = db.scalars(
        select(ResponsibilityGridOfficer.user_id)
        .where(ResponsibilityGridOfficer.responsibility_grid_id == grid.id)
        .order_by(ResponsibilityGridOfficer.user_id)
    ).first()
    assert user_id is not None
    return auth_service.get_user(db, user_id=user_id)


def login_as(db: Session, clock: ManualClock, user: User) -> dict[str, str]:
    """Bearer headers for an existing (demo) user."""
    token = auth_service.issue_token(db, user=user, now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def report(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """Report through the API and answer the new case."""
    answer = client.post("/api/cases", json=body or report_body(), headers=headers)
    assert answer.status_code in (200, 201), answer.text
    data: dict[str, Any] = answer.json()
    return data


def act(
    client: TestClient, headers: dict[str, str], case_id: int, action: str, **body: Any
) -> dict[str, Any]:
    """Run one workflow action through the API; assert it succeeded."""
    answer = client.post(f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def assert_problem(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is an RFC 9457 problem with this status (and code)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    data: dict[str, Any] = answer.json()
    assert data["status"] == status
    if code is not None:
        assert data["code"] == code, data
    return data
