"""Stage clocks (处置时限): when a stage warns (80 %) and falls due (100 %), and the status light.

A stage's limit comes, in order, from the channel's SLA rules (``catalog.channels.stage_limit``:
the emergency profile, then the channel's, then ``default``), for ``handle`` from the matter's case
standard, and last from ``FALLBACK`` so that a clock always runs. The SLA ``close`` and ``contact``
rules are whole-case deadlines (``close_by``, ``contact_by``) counted from the report; the
``close`` stage clock after 核查 therefore uses the fallback, never the whole-case rule.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from urbanops.cases.models import Case, CaseState, Light, Stage
from urbanops.catalog import channels
from urbanops.catalog.service import default_standard
from urbanops.kit.calendar import LimitUnit, WorkingCalendar

WARN_SHARE = Decimal("0.8")
STOPPED = (CaseState.SUSPENDED, CaseState.CLOSED, CaseState.REJECTED)

#: Limits used when neither the SLA rules nor the matter's standard name one.
FALLBACK: dict[Stage, tuple[float, LimitUnit]] = {
    Stage.VERIFY: (2, LimitUnit.WORK_HOUR),
    Stage.REGISTER: (1, LimitUnit.WORK_HOUR),
    Stage.DISPATCH: (0.5, LimitUnit.WORK_HOUR),
    Stage.RESPOND: (1, LimitUnit.WORK_HOUR),
    Stage.HANDLE: (1, LimitUnit.WORK_DAY),
    Stage.CHECK: (2, LimitUnit.WORK_HOUR),
    Stage.CLOSE: (1, LimitUnit.WORK_DAY),
}


def stage_limit(session: Session, *, case: Case, stage: Stage) -> tuple[float, LimitUnit]:
    """The limit of ``stage`` for this case: SLA rule, matter standard (handle), fallback."""
    if stage is not Stage.CLOSE:
        found = channels.stage_limit(
            session, channel=case.channel, stage=stage.value, emergency=case.is_emergency
        )
        if found is not None:
            return found
    if stage is Stage.HANDLE:
        standard = default_standard(session, code=case.matter_code)
        if standard is not None:
            return float(standard.limit_amount), LimitUnit(standard.limit_unit)
    return FALLBACK[stage]


def whole_case_deadline(
    session: Session, *, case: Case, rule: str, start: datetime, calendar: WorkingCalendar
) -> datetime | None:
    """``contact_by`` / ``close_by`` from the channel's ``contact`` / ``close`` rule, if any."""
    found = channels.stage_limit(
        session, channel=case.channel, stage=rule, emergency=case.is_emergency
    )
    return None if found is None else calendar.add(start, found[0], found[1])


def start_stage(
    case: Case, stage: Stage, *, now: datetime, calendar: WorkingCalendar, session: Session
) -> None:
    """Start ``stage``'s clock at ``now``: limit, warn at 80 %, due at 100 %, marks reset."""
    amount, unit = stage_limit(session, case=case, stage=stage)
    case.stage = stage
    case.stage_started_at = now
    case.stage_limit_amount = amount
    case.stage_limit_unit = unit.value
    case.warn_at = calendar.add(now, Decimal(str(amount)) * WARN_SHARE, unit)
    case.due_at = calendar.add(now, amount, unit)
    _reset_marks(case)


def _reset_marks(case: Case) -> None:
    """Clear the sweeper's marks, written even if they look clear (the sweeper may set them)."""
    for name, value in (("warned", False), ("missed", False), ("escalation_level", 0)):
        if name in case.__dict__:
            flag_modified(case, name)
        setattr(case, name, value)


def stop_clock(case: Case) -> None:
    """No stage runs any more (closed, rejected)."""
    case.stage = None
    case.stage_started_at = None
    case.stage_limit_amount = None
    case.stage_limit_unit = None
    case.warn_at = None
    case.due_at = None
    _reset_marks(case)


def extend_for_pause(
    case: Case, *, paused_from: datetime, now: datetime, cal: WorkingCalendar
) -> None:
    """Push the running stage's warn/due later by the paused time, measured in the stage's unit."""
    if case.stage_limit_unit is None or case.due_at is None or case.warn_at is None:
        return
    unit = LimitUnit(case.stage_limit_unit)
    paused = cal.elapsed(paused_from, now, unit)
    case.warn_at = cal.add(case.warn_at, paused, unit)
    case.due_at = cal.add(case.due_at, paused, unit)
    if case.close_by is not None:
        case.close_by = case.close_by + (now - paused_from)


def light_of(case: Case, now: datetime) -> Light:
    """Green before 80 % of the stage's time, yellow to 100 %, red after; none without a clock."""
    if case.state in STOPPED or case.warn_at is None or case.due_at is None:
        return Light.NONE
    if now < case.warn_at:
        return Light.GREEN
    return Light.YELLOW if now < case.due_at else Light.RED


def light_clause(light: Light, now: datetime) -> ColumnElement[bool]:
    """SQL for "the case's light is ``light`` at ``now``" (same rule as ``light_of``)."""
    running = and_(Case.state.not_in(STOPPED), Case.warn_at.is_not(None), Case.due_at.is_not(None))
    match light:
        case Light.GREEN:
            return and_(running, Case.warn_at > now)
        case Light.YELLOW:
            return and_(running, Case.warn_at <= now, Case.due_at > now)
        case Light.RED:
            return and_(running, Case.due_at <= now)
        case Light.NONE:
            return or_(Case.state.in_(STOPPED), Case.warn_at.is_(None), Case.due_at.is_(None))
    raise ValueError(f"unknown light {light!r}")  # pragma: no cover
