"""The case sweeper's news becomes alerts: a missed deadline (超时) and its escalations (升级)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from tests.cases.test_sweeper import CommittedCases
from urbanops.alerts.models import Alert, AlertKind
from urbanops.alerts.tasks import case_alert
from urbanops.app import create_app
from urbanops.cases.events import CaseEscalated, DeadlineMissed
from urbanops.cases.tasks import run_sweep
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock


@pytest.fixture
def committed(db_engine: Engine) -> Iterator[CommittedCases]:
    """Cases committed for real (the sweeper and the alert handler use their own sessions)."""
    cases = CommittedCases(db_engine)
    try:
        yield cases
    finally:
        if cases.ids:
            with Session(db_engine) as session, session.begin():
                session.execute(delete(Alert).where(Alert.case_id.in_(cases.ids)))
        cases.cleanup()


def test_a_deadline_the_sweeper_finds_missed_becomes_alerts_for_the_shift_and_squad_leaders(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases
) -> None:
    app = create_app(Settings(mode="test", database_url="sqlite://", sweeper_interval_s=0),
                     engine=db_engine, clock=clock)  # fmt: skip
    [case_id] = committed.add(1, start=clock.now())
    clock.advance(timedelta(hours=16))  # 160 % of a ten-hour handling stage
    with TestClient(app):  # the app hears the bus while it serves
        assert run_sweep(app.state.sessionmaker, now=clock.now()).missed == 1
    with Session(db_engine) as session:
        rows = session.scalars(select(Alert).where(Alert.case_id == case_id).order_by(Alert.id))
        found = [(a.kind, a.severity, a.to_role, a.grid_code, a.title) for a in rows]
    number = found[0][4].split()[1]
    assert found == [
        ("deadline_missed", "warning", "shift_leader", "440309001-01", f"案件 {number} 处置超时"),
        ("escalation", "warning", "shift_leader", "440309001-01",
         f"案件 {number} 超时未办结，已升级至值班长"),
        ("escalation", "critical", "squad_leader", "440309001-01",
         f"案件 {number} 超时未办结，已升级至中队长"),
    ]  # fmt: skip


def test_the_same_news_heard_twice_is_stored_once_and_a_later_miss_again(
    db: Session, clock: ManualClock
) -> None:
    missed = DeadlineMissed(at=clock.now(), case_id=424242, number="T-1", state="accepted",
                            stage="handle")  # fmt: skip
    first = case_alert(db, missed)
    assert first is not None and first.kind == AlertKind.DEADLINE_MISSED
    assert case_alert(db, missed) is None  # another process heard the same event
    escalated = CaseEscalated(at=clock.now(), case_id=424242, number="T-1", state="accepted",
                              level=1, to_role="shift_leader")  # fmt: skip
    assert case_alert(db, escalated) is not None
    clock.advance(timedelta(hours=3))  # reworked, and late again
    again = DeadlineMissed(at=clock.now(), case_id=424242, number="T-1", state="accepted",
                           stage="handle")  # fmt: skip
    assert case_alert(db, again) is not None
    kinds = db.scalars(select(Alert.kind).where(Alert.case_id == 424242)).all()
    assert sorted(kinds) == ["deadline_missed", "deadline_missed", "escalation"]
