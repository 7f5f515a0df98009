"""Two dispatch jobs at once on committed data: each late emergency moves on exactly once.

These tests need real commits seen by several connections, so they run on a database of their
own (migrated, without the demo street: a few officers made here), dropped at the end.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import cos, radians

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import SHANGHAI, _postgres_engine, _sqlite_engine
from urbanops import migrations
from urbanops.alerts.models import Alert, AlertKind
from urbanops.app import create_app
from urbanops.auth import service as auth_service
from urbanops.cases import service as cases
from urbanops.cases.models import Case, CaseReport, TimelineEntry
from urbanops.cases.schemas import ReportIn
from urbanops.config import Settings
from urbanops.dispatch.models import DispatchOffer, OfferOutcome
from urbanops.dispatch.service import DispatchContext
from urbanops.dispatch.tasks import DispatchReport, dispatch_job, run_dispatch
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker, unit_of_work
from urbanops.workforce import service as workforce
from urbanops.workforce.models import DeviceKind, DutyStatus, TravelMode
from urbanops.workforce.positions import DeviceRef, Fix, PositionIngest
from urbanops.workforce.positions_api import ingest_of

LON, LAT = 114.0600, 22.7000
START = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    gen = _sqlite_engine(tmp_path_factory) if request.param == "sqlite" else _postgres_engine()
    engine = next(gen)
    migrations.upgrade(engine)
    yield engine
    with contextlib.suppress(StopIteration):
        next(gen)


@dataclass
class Team:
    """Three walkers at 100, 400 and 900 m from the scene, each with a radio."""

    factory: sessionmaker[Session]
    context: DispatchContext
    users: list[int]
    devices: list[DeviceRef]
    ingest: PositionIngest

    def report_in_place(self, now: datetime) -> None:
        """Each radio reports its officer's position at ``now`` (the real intake filter)."""
        fixes: list[Fix | object] = []
        for east_m, device in zip((100, 400, 900), self.devices, strict=True):
            lon = LON + east_m / (111_195.0 * cos(radians(LAT)))
            fixes.append(
                Fix(device=device, at=now, received_at=now, lon=lon, lat=LAT, source="test")
            )
        assert self.ingest.submit(fixes, now=now) == []  # type: ignore[arg-type]


@pytest.fixture
def team(own_engine: Engine) -> Iterator[Team]:
    """The team in a database of its own; the cases the test made are deleted after it."""
    factory = make_sessionmaker(own_engine)
    now = START
    tag = uuid.uuid4().hex[:6]
    users, devices = [], []
    with unit_of_work(factory) as session:
        for n in range(3):
            user = auth_service.create_user(
                session, username=f"walker{tag}x{n}", password=None,
                display_name=f"队员{tag}-{n}", roles=[Role.GRID_OFFICER], by=SYSTEM, now=now,
            )  # fmt: skip
            workforce.create_officer(
                session, user_id=user.id, certificate_no=None, squad_code=None, grid_code=None,
                phone=None, travel_mode=TravelMode.WALK, duty_status=DutyStatus.ON_DUTY,
                by=SYSTEM, now=now,
            )  # fmt: skip
            device = workforce.create_device(
                session, identifier=f"radio-{tag}-{n}", kind=DeviceKind.RADIO,
                name=f"对讲机 {n}", user_id=user.id, vehicle_plate=None, by=SYSTEM, now=now,
            )  # fmt: skip
            users.append(user.id)
            devices.append(DeviceRef(device.id, device.identifier, user.id))
    ingest = PositionIngest()
    settings = Settings(mode="test", database_url="sqlite://", sweeper_interval_s=0)
    yield Team(factory, DispatchContext.of(settings, positions=ingest), users, devices, ingest)
    with unit_of_work(factory) as session:
        for table in (DispatchOffer, Alert, TimelineEntry, CaseReport, Case):
            session.execute(delete(table))


def emergency(team: Team, now: datetime) -> int:
    """An AI alarm, committed; nobody hears of it, so the job's catch-up dispatches it."""
    data = ReportIn(
        channel="ai_alarm", matter_code="09006", description="AI告警", lon=LON, lat=LAT,
        source_ref=f"CAM-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    with unit_of_work(team.factory) as session:
        return cases.report(session, data=data, by=SYSTEM, now=now).case.id


def test_the_job_catches_up_an_emergency_nobody_dispatched(team: Team) -> None:
    team.report_in_place(START)
    case_id = emergency(team, START)

    report = run_dispatch(team.factory, now=START, context=team.context)

    assert report.auto_dispatched == 1
    with Session(team.factory.kw["bind"]) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.officer_id == team.users[0]


def test_two_passes_at_once_move_a_late_emergency_exactly_once(team: Team) -> None:
    clock = ManualClock(START)
    team.report_in_place(clock.now())
    case_id = emergency(team, clock.now())
    dispatch_job(team.factory, clock, context=team.context)
    clock.advance(timedelta(minutes=5))
    team.report_in_place(clock.now())

    start = threading.Barrier(2)
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            start.wait(timeout=10)
            reports.append(run_dispatch(team.factory, now=clock.now(), context=team.context))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.redispatched for r in reports) == 1
    with Session(team.factory.kw["bind"]) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.officer_id == team.users[1]
        offers = session.scalars(
            select(DispatchOffer).where(DispatchOffer.case_id == case_id).order_by("attempt")
        ).all()
        assert [(o.user_id, o.outcome) for o in offers] == [
            (team.users[0], OfferOutcome.TIMED_OUT),
            (team.users[1], OfferOutcome.PENDING),
        ]
        redispatches = session.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.case_id == case_id, TimelineEntry.action == "redispatch")
        )
        assert redispatches == 1
        alerts = session.scalars(
            select(Alert.kind).where(
                Alert.case_id == case_id, Alert.kind == AlertKind.DISPATCH_TIMEOUT
            )
        ).all()
        assert len(alerts) == 1


def test_the_apps_runner_runs_the_dispatch_job_with_the_apps_positions(
    team: Team, own_engine: Engine
) -> None:
    clock = ManualClock(START)
    settings = Settings(mode="test", database_url="sqlite://", sweeper_interval_s=0)
    app = create_app(settings, engine=own_engine, clock=clock)
    team.ingest = ingest_of(app)  # the officers' radios report to this app
    team.report_in_place(clock.now())
    case_id = emergency(team, clock.now())  # committed while no app listens

    outcomes = {o.name: o for o in app.state.jobs.run_once()}

    assert outcomes["dispatch"].ok, outcomes["dispatch"].error
    assert outcomes["dispatch"].result.auto_dispatched == 1
    with Session(own_engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.officer_id == team.users[0]
