"""The deadline sweeper (超时巡检): marks late stages and escalates them, safe in many processes.

Each pass looks at open cases whose running stage has a clock and, in this order:

1. ``warn_at`` passed and not yet warned → ``warned``, timeline ``deadline_warned``, DeadlineWarned
   (the light turned yellow);
2. ``due_at`` passed and not yet missed → ``missed`` and escalation level 1 to the shift leader
   (值班长): timeline ``deadline_missed`` and ``escalate``, DeadlineMissed and CaseEscalated;
3. ``escalate_after`` of the stage's length beyond ``due_at`` (150 % by default) → level 2 to the
   squad leader (中队长) whose grid scope holds the case's responsibility grid, named in the row.

Safe in several processes at once, with no scheduler to elect: every mark is one conditional
UPDATE that re-checks its condition in SQL (``... WHERE id = :id AND missed = false AND due_at <=
:now``), and only the process whose UPDATE changed the row writes the timeline row and publishes
the event. On PostgreSQL candidates are taken in bounded batches with ``FOR UPDATE SKIP LOCKED`` so
sweepers share the work instead of queueing on each other; on SQLite (one writer) the conditional
UPDATE alone is enough, and a sweeper whose snapshot went stale retries its pass.

Sweeper marks do not bump ``Case.version``. The optimistic lock protects human decisions; a light
turning red is not one, and an operator who opened the case before it turned red must not get a
409 for it. The marks write only the sweeper's own columns (``warned``, ``missed``,
``escalation_level``), and each re-checks the stage's ``due_at`` so that it never lands on a stage
a human has just restarted. The reverse race (a human restarts the stage of a row the sweeper
marked meanwhile) is the stage clock's job: ``deadlines.start_stage`` must write its resets of
those columns even when the value it loaded already looked reset.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, tuple_, union, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from urbanops.auth.models import User, UserGridScope, UserRole
from urbanops.cases import timeline
from urbanops.cases.events import CaseEscalated, DeadlineMissed, DeadlineWarned
from urbanops.cases.models import Case
from urbanops.cases.workflow import OPEN
from urbanops.kit.actor import ROLE_NAMES, Actor, Role
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work
from urbanops.kit.events import publish

log = logging.getLogger(__name__)

#: The sweeper's signature in the timeline.
SWEEPER = Actor(kind="system", id=None, name="超时巡检")
ESCALATE_AFTER = 0.5  # level 2 at due + 50 % of the stage's length, i.e. at 150 %
BATCH = 500
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_SLACK_S = 0.01


@dataclass
class SweepReport:
    """What one pass (or several, added up) did; counts only the marks this process won."""

    candidates: int = 0
    warned: int = 0
    missed: int = 0
    escalated_to_shift_leader: int = 0
    escalated_to_squad_leader: int = 0
    whole_case_missed: int = 0  # contact_by / close_by passed

    def __add__(self, other: SweepReport) -> SweepReport:
        return SweepReport(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def marks(self) -> int:
        return (
            self.warned
            + self.missed
            + self.escalated_to_shift_leader
            + self.escalated_to_squad_leader
            + self.whole_case_missed
        )


def sweep(
    session: Session, *, now: datetime, escalate_after: float = ESCALATE_AFTER, batch: int = BATCH
) -> SweepReport:
    """One bounded pass over open cases with a running clock; flushes, never commits."""
    if escalate_after < 0:
        raise ValueError("escalate_after must not be negative")
    cases = _candidates(session, now=now, escalate_after=escalate_after, batch=batch)
    report = SweepReport(candidates=len(cases))
    # The timeline rows of the whole pass wait and go in one batched INSERT at the end (the
    # conditional UPDATEs do not read them), instead of one round trip per row.
    with session.no_autoflush:
        _sweep_cases(session, cases, report, now=now, escalate_after=escalate_after, batch=batch)
    session.flush()
    return report


def _sweep_cases(
    session: Session,
    cases: list[Case],
    report: SweepReport,
    *,
    now: datetime,
    escalate_after: float,
    batch: int,
) -> None:
    warn = [c for c in cases if c.warn_at is not None and c.warn_at <= now and not c.warned]
    for case in _won(session, warn, Case.warned.is_(False), Case.warn_at <= now, warned=True):
        report.warned += _warned(session, case, now=now)
    late = [c for c in cases if c.due_at is not None and c.due_at <= now and not c.missed]
    for case in _won(
        session, late, Case.missed.is_(False), Case.due_at <= now, missed=True, escalation_level=1
    ):
        won = _missed(session, case, now=now)
        report.missed += won
        report.escalated_to_shift_leader += won
    for case in cases:
        if case.escalation_level < 2 and _past_level_two(case, now, escalate_after):
            report.escalated_to_squad_leader += _escalate_to_squad(
                session, case, now=now, escalate_after=escalate_after
            )
    for case in _whole_case_candidates(session, now=now, batch=batch):
        report.candidates += 1
        report.whole_case_missed += _miss_whole_case(session, case, now=now)


def _whole_case_candidates(session: Session, *, now: datetime, batch: int) -> list[Case]:
    """Open cases past a whole-case deadline: 12345 contact (联系诉求人) or the final answer."""
    query = (
        select(Case)
        .where(
            Case.state.in_(OPEN),
            or_(
                and_(
                    Case.contact_missed.is_(False),
                    Case.contacted_at.is_(None),
                    Case.contact_by <= now,
                ),
                and_(Case.close_missed.is_(False), Case.close_by <= now),
            ),
        )
        .order_by(Case.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def _miss_whole_case(session: Session, case: Case, *, now: datetime) -> int:
    """Mark a missed contact or close deadline once; the row and event go to the winner only."""
    won = 0
    late = {
        "contact": case.contact_by is not None
        and case.contacted_at is None
        and not case.contact_missed
        and case.contact_by <= now,
        "close": case.close_by is not None and not case.close_missed and case.close_by <= now,
    }
    for stage, is_late in late.items():
        if not is_late:
            continue
        flag = Case.contact_missed if stage == "contact" else Case.close_missed
        due = case.contact_by if stage == "contact" else case.close_by
        statement = (
            update(Case)
            .where(Case.id == case.id, Case.state.in_(OPEN), flag.is_(False))
            .values({flag.key: True})
            .execution_options(synchronize_session=False)
        )
        if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
            continue
        set_committed_value(case, flag.key, True)
        data = {"stage": stage, "due_at": due.isoformat() if due else None}
        timeline.record(
            session, case, by=SWEEPER, action="deadline_missed", at=now, data=data, flush=False
        )
        publish(session, DeadlineMissed(at=now, stage=stage, **_event_base(case)))
        won += 1
    return won


def run_sweep(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    escalate_after: float = ESCALATE_AFTER,
    batch: int = BATCH,
    max_batches: int = 20,
    attempts: int = 5,
) -> SweepReport:
    """Sweep in committed transactions, batch after batch, retrying a pass that lost a lock race."""
    total = SweepReport()
    for _ in range(max_batches):
        report = _committed_pass(
            factory, now=now, escalate_after=escalate_after, batch=batch, attempts=attempts
        )
        total += report
        if report.candidates < batch:
            break
    return total


def sweep_job(factory: sessionmaker[Session], clock: Clock) -> SweepReport:
    """The periodic job the app's runner calls (``kit.jobs``)."""
    report = run_sweep(factory, now=clock.now())
    if report.marks:
        log.info("deadline sweep: %s", report)
    return report


def _committed_pass(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    escalate_after: float,
    batch: int,
    attempts: int,
) -> SweepReport:
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work(factory) as session:  # BEGIN IMMEDIATE on SQLite
                return sweep(session, now=now, escalate_after=escalate_after, batch=batch)
        except OperationalError:  # SQLite busy / stale snapshot, PostgreSQL deadlock: retry
            if attempt == attempts:
                raise
            log.info("deadline sweep lost a lock race (attempt %d); retrying", attempt)
            time.sleep(0.05 * attempt)  # lock back-off, not a deadline: the clock is not read
    raise AssertionError("unreachable")


# --- candidates --------------------------------------------------------------------------------


def _epoch(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a timestamp column, in the dialect's own arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(column) - _UNIX_EPOCH_JULIAN_DAY) * 86400.0
    return func.extract("epoch", column)


def _level_two_reached(
    session: Session, now: datetime, escalate_after: float
) -> ColumnElement[bool]:
    """SQL for ``now >= due + f × (due − start)``, in epoch seconds.

    Float arithmetic (SQLite's julianday keeps milliseconds) gets a 10 ms slack here; the exact
    comparison in Python (``_past_level_two``) decides.
    """
    due, start = _epoch(session, Case.due_at), _epoch(session, Case.stage_started_at)
    return due * (1 + escalate_after) - start * escalate_after <= now.timestamp() + _SLACK_S


def _running() -> ColumnElement[bool]:
    return and_(
        Case.state.in_(OPEN),
        Case.warn_at.is_not(None),
        Case.due_at.is_not(None),
    )


def _candidates(
    session: Session, *, now: datetime, escalate_after: float, batch: int
) -> list[Case]:
    level_two = and_(
        Case.escalation_level < 2,
        Case.due_at <= now,
        Case.stage_started_at.is_not(None),
        _level_two_reached(session, now, escalate_after),
    )
    # Each kind of pending mark has its own partial index (migration 0015). The ids come first,
    # in a statement of their own: folded into one query, the planner (which cannot know that
    # "past its deadline" and "not yet marked" rarely meet) reads every open case's row.
    pending = union(
        select(Case.id, Case.due_at).where(Case.warned == false(), Case.warn_at <= now),
        select(Case.id, Case.due_at).where(Case.missed == false(), Case.due_at <= now),
        select(Case.id, Case.due_at).where(Case.escalation_level < 2, Case.due_at <= now),
    ).subquery()
    soonest = select(pending.c.id).order_by(pending.c.due_at, pending.c.id).limit(4 * batch)
    ids = list(session.scalars(soonest))
    if not ids:
        return []
    query = (
        select(Case)
        .where(
            Case.id.in_(ids),
            _running(),
            or_(
                and_(Case.warned.is_(False), Case.warn_at <= now),
                and_(Case.missed.is_(False), Case.due_at <= now),
                level_two,
            ),
        )
        .order_by(Case.due_at, Case.id)
        .limit(batch)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer and ignores it
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def _past_level_two(case: Case, now: datetime, escalate_after: float) -> bool:
    if case.due_at is None or case.stage_started_at is None or case.due_at > now:
        return False
    return now >= case.due_at + escalate_after * (case.due_at - case.stage_started_at)


# --- marks -------------------------------------------------------------------------------------


def _conditional_update(
    session: Session, case: Case, *conditions: ColumnElement[bool], **values: Any
) -> bool:
    """UPDATE the case's sweeper columns if ``conditions`` still hold; True when this call won."""
    statement = (
        update(Case)
        .where(Case.id == case.id, Case.state.in_(OPEN), Case.due_at == case.due_at, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    won = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    if won:
        for key, value in values.items():  # mirror the row without dirtying the object
            set_committed_value(case, key, value)
    return won


def _stage_data(case: Case) -> dict[str, Any]:
    return {
        "stage": case.stage.value if case.stage else None,
        "warn_at": case.warn_at.isoformat() if case.warn_at else None,
        "due_at": case.due_at.isoformat() if case.due_at else None,
    }


def _won(
    session: Session, cases: list[Case], *conditions: ColumnElement[bool], **values: Any
) -> list[Case]:
    """``_conditional_update`` for many cases in one statement: the cases this call won.

    Each case must still be open, at the deadline this pass read (the same ``due_at``) and
    meet ``conditions``; another process's sweeper that got there first wins it instead.
    """
    if not cases:
        return []
    keys = [(c.id, c.due_at) for c in cases]
    statement = (
        update(Case)
        .where(tuple_(Case.id, Case.due_at).in_(keys), Case.state.in_(OPEN), *conditions)
        .values(**values)
        .returning(Case.id)
        .execution_options(synchronize_session=False)
    )
    won_ids = set(session.scalars(statement))
    won = [c for c in cases if c.id in won_ids]
    for case in won:
        for key, value in values.items():  # mirror the row without dirtying the object
            set_committed_value(case, key, value)
    return won


def _warned(session: Session, case: Case, *, now: datetime) -> int:
    timeline.record(
        session,
        case,
        by=SWEEPER,
        action="deadline_warned",
        at=now,
        data=_stage_data(case),
        flush=False,
    )
    publish(session, DeadlineWarned(at=now, stage=_stage_name(case), **_event_base(case)))
    return 1


def _missed(session: Session, case: Case, *, now: datetime) -> int:
    timeline.record(
        session,
        case,
        by=SWEEPER,
        action="deadline_missed",
        at=now,
        data=_stage_data(case),
        flush=False,
    )
    publish(session, DeadlineMissed(at=now, stage=_stage_name(case), **_event_base(case)))
    _record_escalation(session, case, now=now, level=1, role=Role.SHIFT_LEADER, extra={})
    return 1


def _escalate_to_squad(
    session: Session, case: Case, *, now: datetime, escalate_after: float
) -> int:
    won = _conditional_update(
        session,
        case,
        Case.escalation_level < 2,
        Case.missed.is_(True),
        _level_two_reached(session, now, escalate_after),
        escalation_level=2,
    )
    if not won:
        return 0
    leader = squad_leader_of(session, grid_code=case.responsibility_grid_code)
    extra = {"to_user_id": leader[0], "to_user_name": leader[1]} if leader else {}
    _record_escalation(session, case, now=now, level=2, role=Role.SQUAD_LEADER, extra=extra)
    return 1


def _record_escalation(
    session: Session, case: Case, *, now: datetime, level: int, role: Role, extra: dict[str, Any]
) -> None:
    stage = case.stage.value if case.stage else None
    data = {"level": level, "to_role": role.value, "stage": stage, **extra}
    note = f"escalated to {ROLE_NAMES[role]}" + (f" {extra['to_user_name']}" if extra else "")
    timeline.record(
        session, case, by=SWEEPER, action="escalate", at=now, note=note, data=data, flush=False
    )
    publish(session, CaseEscalated(at=now, level=level, to_role=role.value, **_event_base(case)))


def _event_base(case: Case) -> dict[str, Any]:
    return {"case_id": case.id, "number": case.number, "state": case.state.value}


def _stage_name(case: Case) -> str:
    return case.stage.value if case.stage else ""


def squad_leader_of(session: Session, *, grid_code: str | None) -> tuple[int, str] | None:
    """The active squad leader (中队长) whose grid scope holds ``grid_code``: (user id, name)."""
    if grid_code is None:
        return None
    query = (
        select(User.id, User.display_name)
        .join(UserRole, UserRole.user_id == User.id)
        .join(UserGridScope, UserGridScope.user_id == User.id)
        .where(
            UserRole.role == Role.SQUAD_LEADER.value,
            UserGridScope.grid_code == grid_code,
            User.is_active.is_(True),
        )
        .order_by(User.id)
        .limit(1)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row else None
