"""The deadline sweeper: a moved clock (never sleeping) turns lights yellow and red and escalates.

Cases are built directly as rows with a running ten-hour stage clock (natural time, so the
percentages are easy to read): 80 % is at +8 h, 100 % at +10 h, 150 % at +15 h.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support.cleanup import delete_cases
from urbanops.app import create_app
from urbanops.auth import service as auth_service
from urbanops.cases import deadlines, tasks, timeline
from urbanops.cases.models import Case, CaseState, Light, Stage, TimelineEntry
from urbanops.cases.tasks import SweepReport, run_sweep, sweep
from urbanops.config import Settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import load_calendar
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker
from urbanops.kit.events import Event, bus
from urbanops.kit.jobs import JobOutcome, PeriodicRunner

GRID = "440309001-01"
STAGE_LENGTH = timedelta(hours=10)
SWEEPER_ACTIONS = ("deadline_warned", "deadline_missed", "escalate")


def _new_case(
    *,
    start: datetime,
    state: CaseState = CaseState.ACCEPTED,
    stage: Stage = Stage.HANDLE,
    grid: str = GRID,
    length: timedelta = STAGE_LENGTH,
) -> Case:
    """An accepted case whose handling clock started at ``start`` and runs ``length``."""
    return Case(
        number=f"T-{uuid.uuid4().hex[:20]}",
        state=state,
        channel="grid_report",
        matter_code="09006",
        description="路口有人占道经营水果摊",
        lon=114.05,
        lat=22.70,
        inside_jurisdiction=True,
        responsibility_grid_code=grid,
        reported_at=start,
        stage=stage,
        stage_started_at=start,
        stage_limit_amount=length.total_seconds() / 3600,
        stage_limit_unit="hour",
        warn_at=start + length * 0.8,
        due_at=start + length,
        created_by="test",
        updated_at=start,
    )


def _sweeper_rows(session: Session, case_id: int) -> list[TimelineEntry]:
    return [e for e in timeline.entries(session, case_id=case_id) if e.action in SWEEPER_ACTIONS]


def _squad_leader_of(session: Session, grid: str) -> tuple[int, str]:
    """Found through the auth service (not the sweeper's query): the demo's squad leader of grid."""
    for n in range(1, 4):
        user = auth_service.find_user(session, username=f"squad{n:02d}")
        if user is not None and grid in auth_service.user_grid_codes(session, user.id):
            return user.id, user.display_name
    raise AssertionError(f"the demo street has no squad leader for {grid}")


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    """The sweeper's events the bus delivers during the test."""
    received: list[Event] = []
    names = ("DeadlineWarned", "DeadlineMissed", "CaseEscalated")
    off = [bus.subscribe(name, received.append) for name in names]
    yield received
    for unsubscribe in off:
        unsubscribe()


@pytest.fixture
def case(db: Session, clock: ManualClock) -> Case:
    row = _new_case(start=clock.now())
    db.add(row)
    db.flush()
    return row


def _sweep(db: Session, clock: ManualClock, **kwargs: float) -> SweepReport:
    report = sweep(db, now=clock.now(), **kwargs)  # type: ignore[arg-type]
    db.commit()  # a savepoint inside the test's transaction: the events are delivered
    return report


# --- one sweeper, moved clock ------------------------------------------------------------------


def test_nothing_happens_before_80_percent(db: Session, clock: ManualClock, case: Case) -> None:
    clock.advance(timedelta(hours=7, minutes=59))
    assert _sweep(db, clock).marks == 0
    assert _sweeper_rows(db, case.id) == []
    assert deadlines.light_of(case, clock.now()) is Light.GREEN


def test_past_80_percent_warns_once_and_the_light_is_yellow(
    db: Session, clock: ManualClock, case: Case, heard: list[Event]
) -> None:
    clock.advance(timedelta(hours=8))
    report = _sweep(db, clock)

    assert (report.warned, report.missed, report.marks) == (1, 0, 1)
    db.refresh(case)
    assert case.warned and not case.missed and case.escalation_level == 0
    assert deadlines.light_of(case, clock.now()) is Light.YELLOW
    [row] = _sweeper_rows(db, case.id)
    assert (row.action, row.actor_name, row.from_state, row.to_state) == (
        "deadline_warned",
        "超时巡检",
        "accepted",
        "accepted",
    )
    assert row.at == clock.now()
    assert row.data == {
        "stage": "handle",
        "warn_at": case.warn_at.isoformat(),  # type: ignore[union-attr]
        "due_at": case.due_at.isoformat(),  # type: ignore[union-attr]
    }
    assert [(e.name, e.case_id, e.stage) for e in heard] == [  # type: ignore[attr-defined]
        ("DeadlineWarned", case.id, "handle")
    ]

    clock.advance(timedelta(minutes=30))
    assert _sweep(db, clock).marks == 0  # a second pass adds nothing
    assert len(_sweeper_rows(db, case.id)) == 1
    assert len(heard) == 1


def test_past_100_percent_marks_missed_and_escalates_to_the_shift_leader(
    db: Session, clock: ManualClock, case: Case, heard: list[Event]
) -> None:
    clock.advance(timedelta(hours=8))
    _sweep(db, clock)
    clock.advance(timedelta(hours=2))  # exactly due
    report = _sweep(db, clock)

    assert (report.warned, report.missed, report.escalated_to_shift_leader) == (0, 1, 1)
    assert report.escalated_to_squad_leader == 0
    db.refresh(case)
    assert case.missed and case.escalation_level == 1
    assert deadlines.light_of(case, clock.now()) is Light.RED
    rows = _sweeper_rows(db, case.id)
    assert [r.action for r in rows] == ["deadline_warned", "deadline_missed", "escalate"]
    assert rows[2].data == {"level": 1, "to_role": "shift_leader", "stage": "handle"}
    assert "值班长" in (rows[2].note or "")
    assert [e.name for e in heard] == ["DeadlineWarned", "DeadlineMissed", "CaseEscalated"]
    escalated = heard[2]
    assert (escalated.level, escalated.to_role, escalated.case_id) == (  # type: ignore[attr-defined]
        1,
        "shift_leader",
        case.id,
    )

    clock.advance(timedelta(hours=4, minutes=59))  # 149.9 %: still level 1
    assert _sweep(db, clock).marks == 0
    assert len(_sweeper_rows(db, case.id)) == 3


def test_past_150_percent_escalates_to_the_squad_leader_of_the_grid_by_name(
    db: Session, clock: ManualClock, case: Case, heard: list[Event]
) -> None:
    clock.advance(timedelta(hours=10))
    _sweep(db, clock)
    clock.advance(timedelta(hours=5))
    report = _sweep(db, clock)

    assert report.escalated_to_squad_leader == 1 and report.marks == 1
    db.refresh(case)
    assert case.escalation_level == 2
    leader_id, leader_name = _squad_leader_of(db, GRID)
    last = _sweeper_rows(db, case.id)[-1]
    assert last.action == "escalate"
    assert last.data == {
        "level": 2,
        "to_role": "squad_leader",
        "stage": "handle",
        "to_user_id": leader_id,
        "to_user_name": leader_name,
    }
    assert leader_name in (last.note or "") and "中队长" in (last.note or "")
    assert [(e.name, getattr(e, "level", None)) for e in heard][-1] == ("CaseEscalated", 2)

    clock.advance(timedelta(days=3))
    assert _sweep(db, clock).marks == 0  # level 2 is the top
    assert [r.action for r in _sweeper_rows(db, case.id)] == [
        "deadline_warned",
        "deadline_missed",
        "escalate",
        "escalate",
    ]


def test_a_clock_jump_past_150_percent_writes_every_step_in_order(
    db: Session, clock: ManualClock, case: Case, heard: list[Event]
) -> None:
    clock.advance(timedelta(hours=15))
    report = _sweep(db, clock)

    assert (report.warned, report.missed) == (1, 1)
    assert (report.escalated_to_shift_leader, report.escalated_to_squad_leader) == (1, 1)
    rows = _sweeper_rows(db, case.id)
    assert [(r.action, (r.data or {}).get("level")) for r in rows] == [
        ("deadline_warned", None),
        ("deadline_missed", None),
        ("escalate", 1),
        ("escalate", 2),
    ]
    assert [e.name for e in heard] == [
        "DeadlineWarned",
        "DeadlineMissed",
        "CaseEscalated",
        "CaseEscalated",
    ]


def test_escalate_after_sets_the_second_level(db: Session, clock: ManualClock, case: Case) -> None:
    clock.advance(timedelta(hours=15))
    assert _sweep(db, clock, escalate_after=1.0).escalated_to_squad_leader == 0
    clock.advance(timedelta(hours=5))  # 200 %
    assert _sweep(db, clock, escalate_after=1.0).escalated_to_squad_leader == 1


def test_no_squad_leader_for_the_grid_still_escalates_without_a_name(
    db: Session, clock: ManualClock
) -> None:
    orphan = _new_case(start=clock.now(), grid="440309999-99")
    db.add(orphan)
    db.flush()
    clock.advance(timedelta(hours=15))
    assert _sweep(db, clock).escalated_to_squad_leader == 1
    last = _sweeper_rows(db, orphan.id)[-1]
    assert last.data == {"level": 2, "to_role": "squad_leader", "stage": "handle"}


@pytest.mark.parametrize("state", [CaseState.SUSPENDED, CaseState.CLOSED, CaseState.REJECTED])
def test_a_stopped_case_is_not_swept(db: Session, clock: ManualClock, state: CaseState) -> None:
    stopped = _new_case(start=clock.now(), state=state)
    db.add(stopped)
    db.flush()
    clock.advance(timedelta(days=2))
    assert _sweep(db, clock).marks == 0
    db.refresh(stopped)
    assert (stopped.warned, stopped.missed, stopped.escalation_level) == (False, False, 0)
    assert _sweeper_rows(db, stopped.id) == []


def test_sweeper_marks_leave_the_optimistic_version_alone(
    db: Session, clock: ManualClock, case: Case
) -> None:
    before = case.version
    clock.advance(timedelta(hours=15))
    assert _sweep(db, clock).marks == 4
    db.refresh(case)
    assert case.version == before  # an operator who opened the case earlier gets no 409 for it


def test_a_restarted_stage_clears_the_marks_and_is_swept_afresh(
    db: Session, clock: ManualClock, case: Case, settings: Settings
) -> None:
    clock.advance(timedelta(hours=15))
    _sweep(db, clock)
    db.refresh(case)
    deadlines.start_stage(
        case, Stage.CHECK, now=clock.now(), calendar=load_calendar(db, settings), session=db
    )
    case.state = CaseState.HANDLED
    db.commit()
    db.refresh(case)
    assert (case.warned, case.missed, case.escalation_level) == (False, False, 0)

    assert case.due_at is not None
    clock.set(case.due_at)
    report = _sweep(db, clock)
    assert (report.warned, report.missed, report.escalated_to_shift_leader) == (1, 1, 1)
    stages = [(r.action, (r.data or {}).get("stage")) for r in _sweeper_rows(db, case.id)]
    assert stages[-3:] == [
        ("deadline_warned", "check"),
        ("deadline_missed", "check"),
        ("escalate", "check"),
    ]


def test_batches_are_bounded_and_run_sweep_drains_them(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases
) -> None:
    ids = committed.add(7, start=clock.now())
    clock.advance(timedelta(hours=8))
    with Session(db_engine) as session:
        first = sweep(session, now=clock.now(), batch=3)
        session.rollback()
    assert (first.candidates, first.warned) == (3, 3)
    factory = make_sessionmaker(db_engine)
    report = run_sweep(factory, now=clock.now(), batch=3)
    assert (report.candidates, report.warned) == (7, 7)
    assert committed.count_rows(ids) == {"deadline_warned": 7}


# --- committed data, several sweepers ----------------------------------------------------------


class CommittedCases:
    """Cases committed for real (for concurrent sessions), deleted with their timelines after."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids: list[int] = []

    def add(self, count: int, *, start: datetime, length: timedelta = STAGE_LENGTH) -> list[int]:
        with Session(self.engine) as session, session.begin():
            rows = [_new_case(start=start, length=length) for _ in range(count)]
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
        self.ids.extend(ids)
        return ids

    def count_rows(self, ids: list[int]) -> dict[str, int]:
        """Timeline rows per action (escalations per level) over ``ids``."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(TimelineEntry).where(TimelineEntry.case_id.in_(ids))
            ).all()
        counts: dict[str, int] = {}
        for row in rows:
            key = row.action
            if row.action == "escalate":
                key = f"escalate:{(row.data or {}).get('level')}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def per_case(self, ids: list[int]) -> set[tuple[str, ...]]:
        """The distinct sequences of sweeper rows the cases carry."""
        with Session(self.engine) as session:
            return {
                tuple(
                    f"{r.action}:{(r.data or {}).get('level', '')}"
                    for r in _sweeper_rows(session, case_id)
                )
                for case_id in ids
            }

    def cleanup(self) -> None:
        if not self.ids:
            return
        with Session(self.engine) as session, session.begin():
            delete_cases(session, list(self.ids))


@pytest.fixture
def committed(db_engine: Engine) -> Iterator[CommittedCases]:
    cases = CommittedCases(db_engine)
    try:
        yield cases
    finally:
        cases.cleanup()


def test_two_sweepers_at_once_write_each_escalation_exactly_once(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases, heard: list[Event]
) -> None:
    ids = committed.add(40, start=clock.now())
    clock.advance(timedelta(hours=16))
    factory = make_sessionmaker(db_engine)
    start = threading.Barrier(2)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            start.wait(timeout=10)
            reports.append(run_sweep(factory, now=clock.now(), batch=5))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(reports) == 2
    total = reports[0] + reports[1]
    assert (total.warned, total.missed) == (40, 40)
    assert (total.escalated_to_shift_leader, total.escalated_to_squad_leader) == (40, 40)
    assert committed.count_rows(ids) == {
        "deadline_warned": 40,
        "deadline_missed": 40,
        "escalate:1": 40,
        "escalate:2": 40,
    }
    assert committed.per_case(ids) == {
        ("deadline_warned:", "deadline_missed:", "escalate:1", "escalate:2")
    }
    mine = [e for e in heard if e.case_id in set(ids)]  # type: ignore[attr-defined]
    assert len(mine) == 160
    assert len({(e.name, e.case_id, getattr(e, "level", 0)) for e in mine}) == 160  # type: ignore[attr-defined]
    # and a third sweeper afterwards finds nothing left to do
    assert run_sweep(factory, now=clock.now()).marks == 0


def test_a_sweeper_acting_on_a_stale_read_wins_nothing(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases, heard: list[Event]
) -> None:
    [case_id] = committed.add(1, start=clock.now())
    clock.advance(timedelta(hours=10))
    factory = make_sessionmaker(db_engine)
    late = factory()
    try:
        stale = late.get(Case, case_id)  # read before the other sweeper's marks
        late.commit()
        assert stale is not None and not stale.missed

        assert run_sweep(factory, now=clock.now()).missed == 1  # the other sweeper wins

        now = clock.now()  # its UPDATEs change no row: the marks are there already
        missed = tasks._won(late, [stale], Case.missed.is_(False), Case.due_at <= now, missed=True)
        warned = tasks._won(late, [stale], Case.warned.is_(False), Case.warn_at <= now, warned=True)
        assert missed == [] and warned == []
        late.commit()
    finally:
        late.close()
    assert committed.count_rows([case_id]) == {
        "deadline_warned": 1,
        "deadline_missed": 1,
        "escalate:1": 1,
    }
    assert len([e for e in heard if e.case_id == case_id]) == 3  # type: ignore[attr-defined]


def test_a_human_restarting_a_stage_the_sweeper_marked_meanwhile_gets_no_409(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases, settings: Settings
) -> None:
    [case_id] = committed.add(1, start=clock.now())
    clock.advance(timedelta(hours=11))
    factory = make_sessionmaker(db_engine)
    human = factory()
    try:
        case = human.get(Case, case_id)  # the operator opened the case before the sweep
        human.commit()
        assert case is not None and case.version == 1

        assert run_sweep(factory, now=clock.now()).missed == 1

        cal = load_calendar(human, settings)
        deadlines.start_stage(case, Stage.CHECK, now=clock.now(), calendar=cal, session=human)
        case.state = CaseState.HANDLED
        human.commit()  # no StaleDataError: the sweeper left the version alone
    finally:
        human.close()
    with Session(db_engine) as session:
        fresh = session.get(Case, case_id)
        assert fresh is not None
        assert (fresh.state, fresh.stage, fresh.version) == (CaseState.HANDLED, Stage.CHECK, 2)
        # the marks of the old stage did not survive onto the new one
        assert (fresh.warned, fresh.missed, fresh.escalation_level) == (False, False, 0)


# --- the periodic runner -----------------------------------------------------------------------


def test_the_runner_started_by_the_app_sweeps_with_the_manual_clock(
    db_engine: Engine, clock: ManualClock, committed: CommittedCases
) -> None:
    settings = Settings(mode="test", database_url="sqlite://", sweeper_interval_s=3600)
    app = create_app(settings, engine=db_engine, clock=clock)
    jobs: PeriodicRunner = app.state.jobs
    assert not jobs.running
    [case_id] = committed.add(1, start=clock.now())
    with TestClient(app):
        assert jobs.running  # started by the lifespan
        outcome = _sweep_outcome(jobs.run_once())
        assert outcome.ok and outcome.result.marks == 0
        clock.advance(timedelta(hours=15))
        outcome = _sweep_outcome(jobs.run_once())
        assert outcome.ok and outcome.result.marks == 4
    assert not jobs.running  # stopped with the app
    assert committed.count_rows([case_id]) == {
        "deadline_warned": 1,
        "deadline_missed": 1,
        "escalate:1": 1,
        "escalate:2": 1,
    }


def test_an_interval_of_zero_disables_the_runner(db_engine: Engine, clock: ManualClock) -> None:
    settings = Settings(mode="test", database_url="sqlite://", sweeper_interval_s=0)
    app = create_app(settings, engine=db_engine, clock=clock)
    with TestClient(app):
        assert not app.state.jobs.running


def test_the_runner_thread_runs_jobs_and_survives_a_failing_one(
    db_engine: Engine, clock: ManualClock
) -> None:
    ran = threading.Event()
    runs: list[datetime] = []

    def failing(_factory: object, _clock: object) -> None:
        raise RuntimeError("job bug")

    def counting(_factory: object, job_clock: ManualClock) -> int:
        runs.append(job_clock.now())
        if len(runs) >= 2:
            ran.set()
        return len(runs)

    runner = PeriodicRunner(factory=make_sessionmaker(db_engine), clock=clock, interval_s=0.01)
    runner.add("failing", failing)  # type: ignore[arg-type]
    runner.add("counting", counting)  # type: ignore[arg-type]
    runner.start()
    try:
        assert ran.wait(timeout=10)  # waits for the thread, not for a deadline
    finally:
        runner.stop()
    assert not runner.running
    assert runs[0] == clock.now()
    outcomes = runner.run_once()
    assert [(o.name, o.ok) for o in outcomes] == [("failing", False), ("counting", True)]
    assert isinstance(outcomes[0].error, RuntimeError)


def test_a_runner_refuses_a_negative_interval_and_a_duplicate_job(
    db_engine: Engine, clock: ManualClock
) -> None:
    with pytest.raises(ValueError, match="interval"):
        PeriodicRunner(factory=make_sessionmaker(db_engine), clock=clock, interval_s=-1)
    runner = PeriodicRunner(factory=make_sessionmaker(db_engine), clock=clock, interval_s=0)
    runner.add("sweep", tasks.sweep_job)
    with pytest.raises(ValueError, match="already"):
        runner.add("sweep", tasks.sweep_job)
    runner.start()
    assert not runner.running  # disabled


def test_settings_refuse_a_negative_sweeper_interval() -> None:
    with pytest.raises(ValueError, match="sweeper_interval_s"):
        Settings(mode="test", sweeper_interval_s=-5)


def test_a_missed_12345_contact_deadline_is_marked_once(db: Session, clock: ManualClock) -> None:
    from urbanops.cases import service
    from urbanops.cases.schemas import ReportIn
    from urbanops.demo.geometry import build_guanhu

    point = build_guanhu().sample_points()[0].point
    operator = Actor(kind="user", id=None, name="受理员", roles=frozenset({Role.OPERATOR}))
    hotline = service.report(
        db,
        data=ReportIn(
            channel="hotline_12345",
            matter_code="09006",
            description="占道经营",
            lon=point.x,
            lat=point.y,
            caller_number="13800000001",
        ),
        by=operator,
        now=clock.now(),
    ).case
    db.flush()
    assert hotline.contact_by is not None
    clock.set(hotline.contact_by + timedelta(seconds=1))
    first = sweep(db, now=clock.now())
    again = sweep(db, now=clock.now())
    assert first.whole_case_missed == 1
    assert again.whole_case_missed == 0
    rows = [e for e in timeline.entries(db, case_id=hotline.id) if e.action == "deadline_missed"]
    assert [r.data["stage"] for r in rows if r.data and r.data["stage"] == "contact"] == ["contact"]
    assert hotline.contact_missed is True


def _sweep_outcome(outcomes: list[JobOutcome]) -> JobOutcome:
    """The deadline sweeper's outcome among the app's periodic jobs."""
    [outcome] = [o for o in outcomes if o.name == "sweep_deadlines"]
    return outcome
