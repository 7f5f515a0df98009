"""Dispatch fixtures: the demo street's officers placed around a case through the real position
intake, and the case API driven over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import cos, radians
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.conftest import CHANNEL_FIELDS, sample_point
from urbanops.alerts.models import Alert
from urbanops.auth import service as auth_service
from urbanops.cases.models import Case, TimelineEntry
from urbanops.config import Settings
from urbanops.dispatch.models import DispatchOffer
from urbanops.dispatch.tasks import DispatchReport, run_pass
from urbanops.dispatch.wiring import context_of
from urbanops.kit.clock import ManualClock
from urbanops.workforce.models import DutyStatus, Officer

GRID_01 = "440309001-01"  # sample point 0 lies in it; its neighbours are 02, 03 and 05
GRID_02 = "440309001-02"
GRID_17 = "440309001-17"  # far from grid 01 (sample point 2)
METRES_PER_DEGREE = 111_195.0


def near(index: int = 0, *, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """(lon, lat) ``east_m`` / ``north_m`` metres from demo sample point ``index``."""
    lon, lat = sample_point(index)
    return (
        lon + east_m / (METRES_PER_DEGREE * cos(radians(lat))),
        lat + north_m / METRES_PER_DEGREE,
    )


@dataclass
class Street:
    """The demo street over HTTP: people by username, their positions, cases and the job."""

    client: TestClient
    app: FastAPI
    db: Session
    clock: ManualClock

    def headers(self, username: str) -> dict[str, str]:
        user = auth_service.find_user(self.db, username=username)
        assert user is not None, username
        token = auth_service.issue_token(self.db, user=user, now=self.clock.now(), ttl_s=3600)
        return {"Authorization": f"Bearer {token}"}

    def user_id(self, username: str) -> int:
        user = auth_service.find_user(self.db, username=username)
        assert user is not None, username
        return user.id

    def officer(self, username: str) -> Officer:
        officer = self.db.scalar(
            select(Officer)
            .where(Officer.user_id == self.user_id(username))
            .execution_options(populate_existing=True)
        )
        assert officer is not None, username
        return officer

    def duty(self, username: str) -> DutyStatus:
        return self.officer(username).duty_status

    def place(self, username: str, *, at: tuple[float, float]) -> None:
        """The officer's phone reports his position now (``POST /api/positions/me``)."""
        lon, lat = at
        stamp = self.clock.now().timestamp() * 1000
        answer = self.client.post(
            "/api/positions/me",
            json={"lon": lon, "lat": lat, "accuracy": 8, "timestamp": stamp},
            headers=self.headers(username),
        )
        assert answer.status_code == 200 and answer.json()["accepted"], answer.text

    def set_duty(self, username: str, status: DutyStatus) -> None:
        answer = self.client.put(
            f"/api/officers/{self.officer(username).id}/duty",
            json={"status": status.value, "reason": "test"},
            headers=self.headers("duty01"),
        )
        assert answer.status_code == 200, answer.text

    def report(self, index: int = 0, *, by: str = "op01", **fields: Any) -> dict[str, Any]:
        lon, lat = sample_point(index)
        channel = fields.get("channel", "grid_report")
        body = {
            "channel": "grid_report",
            "matter_code": "09006",
            "description": "路口有人占道经营水果摊",
            "lon": lon,
            "lat": lat,
        }
        body |= CHANNEL_FIELDS.get(channel, {}) | fields
        answer = self.client.post("/api/cases", json=body, headers=self.headers(by))
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def case(self, case_id: int) -> dict[str, Any]:
        answer = self.client.get(f"/api/cases/{case_id}", headers=self.headers("op01"))
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def act(self, case_id: int, action: str, *, by: str, **body: Any) -> dict[str, Any]:
        answer = self.client.post(
            f"/api/cases/{case_id}/actions/{action}", json=body, headers=self.headers(by)
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def recommend(self, case_id: int, *, by: str = "dispatch01", **query: Any) -> dict[str, Any]:
        answer = self.client.get(
            f"/api/cases/{case_id}/recommendations", params=query, headers=self.headers(by)
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def assign(self, case_id: int, *, by: str = "op01", **body: Any) -> Any:
        return self.client.post(f"/api/cases/{case_id}/assign", json=body, headers=self.headers(by))

    def run_job(self) -> DispatchReport:
        """One pass of the dispatch job at the clock's time, committed like the job commits."""
        report = run_pass(self.db, now=self.clock.now(), context=context_of(self.app))
        self.db.commit()
        return report

    def offers(self, case_id: int) -> list[DispatchOffer]:
        return list(
            self.db.scalars(
                select(DispatchOffer)
                .where(DispatchOffer.case_id == case_id)
                .order_by(DispatchOffer.attempt)
                .execution_options(populate_existing=True)
            )
        )

    def alerts(self, case_id: int) -> list[Alert]:
        return list(
            self.db.scalars(select(Alert).where(Alert.case_id == case_id).order_by(Alert.id))
        )

    def timeline(self, case_id: int) -> list[TimelineEntry]:
        return list(
            self.db.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.case_id == case_id)
                .order_by(TimelineEntry.id)
            )
        )

    def stored_case(self, case_id: int) -> Case:
        case = self.db.get(Case, case_id, populate_existing=True)
        assert case is not None
        return case

    def now(self) -> datetime:
        return self.clock.now()


@pytest.fixture
def street(
    client: TestClient, app: FastAPI, db: Session, clock: ManualClock, settings: Settings
) -> Street:
    return Street(client, app, db, clock)
