"""REST routes of the working calendar: deadlines, the day list and the overrides (节假日调整)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from urbanops.auth.deps import CurrentActor, require
from urbanops.auth.service import audit
from urbanops.kit import calendar
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LIMIT_UNIT_NAMES, DayKind, DaySource, LimitUnit
from urbanops.kit.calendar_models import CalendarOverride, OverrideKind
from urbanops.kit.errors import InvalidInput
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/calendar", tags=["calendar"])

MAX_AMOUNT = Decimal(1000)
MAX_RANGE = timedelta(days=366)

AdminDep = Annotated[Actor, Depends(require(Role.ADMIN))]


class DeadlineOut(BaseModel):
    """A computed deadline, in UTC and in the command centre's local time."""

    start: datetime
    amount: Decimal
    unit: LimitUnit
    unit_name: str
    deadline: datetime
    deadline_local: datetime


class DayOut(BaseModel):
    """One day of the working calendar."""

    date: date
    working: bool
    kind: DayKind
    name: str | None
    source: DaySource


class DaysOut(BaseModel):
    """A range of days, with the years the holiday library does not know."""

    days: list[DayOut]
    uncovered_years: list[int]
    library_years: tuple[int, int]


class OverrideIn(BaseModel):
    """A day to declare a holiday or a make-up working day."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    day: date
    kind: OverrideKind
    name: str = Field(min_length=1, max_length=64)


class OverrideOut(BaseModel):
    """An override row as stored."""

    model_config = ConfigDict(from_attributes=True)

    day: date
    kind: OverrideKind
    name: str
    created_at: datetime
    created_by: str


@router.get("/deadline", operation_id="calendar_deadline", response_model=DeadlineOut)
def deadline(
    _actor: CurrentActor,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[AwareDatetime, Query(description="ISO 8601 instant with offset")],
    amount: Annotated[Decimal, Query(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)],
    unit: LimitUnit,
) -> DeadlineOut:
    """The deadline ``amount`` ``unit`` after ``start`` on this centre's working calendar."""
    cal = calendar.load_calendar(session, settings)
    due = cal.add(start, amount, unit)
    return DeadlineOut(
        start=start,
        amount=amount,
        unit=unit,
        unit_name=LIMIT_UNIT_NAMES[unit],
        deadline=due,
        deadline_local=due.astimezone(cal.zone),
    )


@router.get("/days", operation_id="calendar_days", response_model=DaysOut)
def days(
    _actor: CurrentActor,
    session: SessionDep,
    settings: SettingsDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> DaysOut:
    """Each day from ``from`` to ``to`` (at most a year): worked or not, and which holiday."""
    _check_range(first, last)
    cal = calendar.load_calendar(session, settings)
    listed = [
        DayOut(date=d.day, working=d.working, kind=d.kind, name=d.name, source=d.source)
        for d in cal.days(first, last)
    ]
    years = range(first.year, last.year + 1)
    return DaysOut(
        days=listed,
        uncovered_years=[y for y in years if not calendar.covers(y)],
        library_years=calendar.library_years(),
    )


@router.get("/overrides", operation_id="calendar_list_overrides", response_model=list[OverrideOut])
def list_overrides(
    _admin: AdminDep,
    session: SessionDep,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> list[CalendarOverride]:
    """The days this centre declared itself, in date order."""
    return calendar.list_overrides(session, first=first, last=last)


@router.post(
    "/overrides",
    operation_id="calendar_create_override",
    response_model=OverrideOut,
    status_code=status.HTTP_201_CREATED,
)
def create_override(
    body: OverrideIn, admin: AdminDep, session: SessionDep, clock: ClockDep
) -> CalendarOverride:
    """Declare a holiday or make-up working day from a State Council notice (国务院通知)."""
    row = calendar.create_override(
        session, day=body.day, kind=body.kind, name=body.name, by=admin, now=clock.now()
    )
    audit(
        session, actor=admin, action="calendar_override.create", entity="calendar_override",
        entity_id=body.day.isoformat(), detail={"kind": row.kind, "name": row.name},
        now=clock.now(),
    )  # fmt: skip
    return row


@router.delete(
    "/overrides/{day}",
    operation_id="calendar_delete_override",
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_override(day: date, admin: AdminDep, session: SessionDep, clock: ClockDep) -> None:
    """Withdraw a declared day so the library's answer applies again."""
    calendar.delete_override(session, day=day)
    audit(
        session, actor=admin, action="calendar_override.delete", entity="calendar_override",
        entity_id=day.isoformat(), now=clock.now(),
    )  # fmt: skip


def _check_range(first: date, last: date) -> None:
    """Refuse reversed ranges and ranges over a year."""
    if last < first:
        raise InvalidInput("'to' is before 'from'", code="reversed_range")
    if last - first >= MAX_RANGE:
        raise InvalidInput("A range covers at most 366 days", code="range_too_long")
