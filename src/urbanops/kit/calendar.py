"""Working calendar and deadline arithmetic (工作日历与处置时限计算).

Time-limit units of case standards (处置时限单位) are the four ``LimitUnit`` values. The calendar
knows China's public holidays and make-up working days (调休) from the maintained
``chinese-calendar`` library for the years it covers; for other years it falls back to "Monday to
Friday work", and rows of the ``calendar_override`` table (entered by a command centre from the
State Council notice) win over both. See ``docs/decisions/0003-working-calendar.md``.

Rules of ``WorkingCalendar.add`` (every unit answers ``start`` itself for an amount of 0):

- ``urgent_hour`` (紧急工作时): continuous time, ``start + amount`` hours.
- ``natural_day`` (自然日): the same local clock time ``floor(amount)`` calendar days later, plus
  the fraction as a share of 24 hours.
- ``work_hour`` (工作时): ``amount`` hours counted inside working periods of working days only; a
  start outside working time begins at the next working period; the result is inside a working
  period or exactly at a period's end, never in the break after it.
- ``work_day`` (工作日): counted "from the day after receipt" — the start day never counts, working
  or not, whatever the hour. N whole working days end at the END of the working hours of the Nth
  working day after the start day; a fraction is that share of one working day's hours, counted as
  working hours from there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache, lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from urbanops.config import Settings
from urbanops.kit import revision
from urbanops.kit.actor import Actor
from urbanops.kit.calendar_models import CalendarOverride, OverrideKind
from urbanops.kit.errors import Conflict, NotFound


class LimitUnit(StrEnum):
    """The four units in which a handling limit is expressed."""

    URGENT_HOUR = "urgent_hour"  # 紧急工作时: continuous hours, 24×7
    WORK_HOUR = "work_hour"  # 工作时: only configured working hours on working days
    WORK_DAY = "work_day"  # 工作日: working days, weekends and public holidays excluded
    NATURAL_DAY = "natural_day"  # 自然日: calendar days


LIMIT_UNIT_NAMES: dict[LimitUnit, str] = {
    LimitUnit.URGENT_HOUR: "紧急工作时",
    LimitUnit.WORK_HOUR: "工作时",
    LimitUnit.WORK_DAY: "工作日",
    LimitUnit.NATURAL_DAY: "自然日",
}

WorkingPeriod = tuple[time, time]
DEFAULT_WORKING_HOURS: tuple[WorkingPeriod, ...] = ((time(9), time(12)), (time(14), time(18)))

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_MICROSECOND = timedelta(microseconds=1)


class DayKind(StrEnum):
    """Why a day is or is not worked (工作日 / 休息日 / 法定节假日 / 调休上班日)."""

    WORKDAY = "workday"  # an ordinary Monday-to-Friday working day
    WEEKEND = "weekend"  # an ordinary Saturday or Sunday
    HOLIDAY = "holiday"  # a public holiday, from the library or an override
    MAKE_UP_WORKDAY = "make_up_workday"  # a weekend day worked in lieu (调休上班), or an override


class DaySource(StrEnum):
    """Where the answer for a day came from, so operators can see what to trust."""

    OVERRIDE = "override"  # a calendar_override row
    LIBRARY = "library"  # chinese-calendar, for a year it covers
    WEEKDAY_RULE = "weekday_rule"  # fallback for a year the library does not know


@dataclass(frozen=True)
class DayInfo:
    """One calendar day as the working calendar sees it."""

    day: date
    working: bool
    kind: DayKind
    name: str | None
    source: DaySource


class CalendarConfigError(ValueError):
    """The working-hours setting or a time zone cannot be used."""


@cache
def _library_years() -> frozenset[int]:
    """Years for which chinese-calendar holds the State Council holiday notice."""
    days = set(chinese_calendar.constants.holidays) | set(chinese_calendar.constants.workdays)
    return frozenset(d.year for d in days)


def covers(year: int) -> bool:
    """Whether the holiday library knows ``year``'s holidays and make-up working days."""
    return year in _library_years()


def library_years() -> tuple[int, int]:
    """The first and last year the holiday library covers."""
    years = _library_years()
    return min(years), max(years)


def _holiday_chinese_name(english: str | None) -> str | None:
    """The Chinese name of a library holiday (春节, 国庆节…), or the library's text if unknown."""
    if english is None:
        return None
    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        return english


def parse_working_hours(text: str) -> tuple[WorkingPeriod, ...]:
    """Parse a setting like ``"09:00-12:00,14:00-18:00"`` into ordered, disjoint periods."""
    periods: list[WorkingPeriod] = []
    for chunk in text.split(","):
        start_text, sep, end_text = chunk.strip().partition("-")
        if not sep:
            raise CalendarConfigError(f"working period {chunk.strip()!r} is not HH:MM-HH:MM")
        periods.append((_parse_clock(start_text), _parse_clock(end_text)))
    return validate_working_hours(periods)


def _parse_clock(text: str) -> time:
    """A wall-clock ``HH:MM`` of a working-hours setting."""
    try:
        return time.fromisoformat(text.strip())
    except ValueError as exc:
        raise CalendarConfigError(f"{text.strip()!r} is not a time of day (HH:MM)") from exc


def validate_working_hours(periods: Sequence[WorkingPeriod]) -> tuple[WorkingPeriod, ...]:
    """Refuse empty, reversed, unordered or overlapping working periods."""
    if not periods:
        raise CalendarConfigError("at least one working period is needed")
    previous_end: time | None = None
    for start, end in periods:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise CalendarConfigError("working periods are local wall-clock times, without zone")
        if start >= end:
            raise CalendarConfigError(f"working period {start}-{end} does not end after it starts")
        if previous_end is not None and start < previous_end:
            raise CalendarConfigError(f"working period {start}-{end} overlaps or is out of order")
        previous_end = end
    return tuple(periods)


def _zone(name: str) -> ZoneInfo:
    """The IANA time zone named in the settings."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarConfigError(f"unknown time zone {name!r}") from exc


def _as_amount(amount: float | Decimal | int) -> Decimal:
    """An amount as an exact decimal (a float as written), refusing negative or non-finite ones."""
    try:
        value = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"amount {amount!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount must be a finite number ≥ 0, not {amount}")
    return value


def _share_of(length: timedelta, share: Decimal) -> timedelta:
    """``share`` × ``length``, rounded to the microsecond."""
    micros = (share * (length // _MICROSECOND)).to_integral_value()
    return timedelta(microseconds=int(micros))


def _split(value: Decimal) -> tuple[int, Decimal]:
    """Whole units and the remaining fraction of a non-negative amount."""
    whole = int(value)
    return whole, value - whole


def _length(start: time, end: time) -> timedelta:
    """The wall-clock length of one working period."""
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


def _require_aware(moment: datetime) -> None:
    """Refuse naive datetimes: a deadline needs to know which instant it starts from."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")


class WorkingCalendar:
    """Working days and hours of one command centre, and deadline arithmetic over them."""

    def __init__(
        self,
        tz: str = "Asia/Shanghai",
        working_hours: Sequence[WorkingPeriod] = DEFAULT_WORKING_HOURS,
        overrides: Mapping[date, bool] | None = None,
        override_names: Mapping[date, str] | None = None,
    ) -> None:
        self.zone = _zone(tz)
        self.working_hours = validate_working_hours(working_hours)
        self.overrides: dict[date, bool] = dict(overrides or {})
        self.override_names: dict[date, str] = dict(override_names or {})
        self.day_length = sum((_length(s, e) for s, e in self.working_hours), timedelta())

    # -- days ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is worked: override, else the library, else Monday to Friday."""
        if day in self.overrides:
            return self.overrides[day]
        return _library_or_weekday_rule(day)

    def describe(self, day: date) -> DayInfo:
        """What the calendar says about ``day`` and why (for the operators' calendar view)."""
        weekend = day.weekday() >= 5
        if day in self.overrides:
            working = self.overrides[day]
            name = self.override_names.get(day)
            return DayInfo(day, working, _kind(working, weekend, True), name, DaySource.OVERRIDE)
        if covers(day.year):
            working = bool(chinese_calendar.is_workday(day))
            named = _holiday_chinese_name(chinese_calendar.get_holiday_detail(day)[1])
            kind = _kind(working, weekend, named is not None)
            return DayInfo(day, working, kind, named, DaySource.LIBRARY)
        kind = _kind(not weekend, weekend, False)
        return DayInfo(day, not weekend, kind, None, DaySource.WEEKDAY_RULE)

    def days(self, first: date, last: date) -> list[DayInfo]:
        """Every day from ``first`` to ``last`` inclusive."""
        return [self.describe(first + timedelta(days=i)) for i in range((last - first).days + 1)]

    # -- deadlines ----------------------------------------------------------------------------

    def add(self, start: datetime, amount: float | Decimal | int, unit: LimitUnit) -> datetime:
        """The deadline ``amount`` ``unit`` after ``start`` (aware in, aware UTC out)."""
        _require_aware(start)
        value = _as_amount(amount)
        start = start.astimezone(UTC)
        if value == 0:
            return start
        match unit:
            case LimitUnit.URGENT_HOUR:
                return start + _share_of(_HOUR, value)
            case LimitUnit.NATURAL_DAY:
                return self._add_natural_days(start, value)
            case LimitUnit.WORK_HOUR:
                return self._consume_working_time(start, _share_of(_HOUR, value))
            case LimitUnit.WORK_DAY:
                return self._add_working_days(start, value)
        raise ValueError(f"unknown limit unit {unit!r}")

    def elapsed(self, start: datetime, end: datetime, unit: LimitUnit) -> float:
        """How much of ``unit`` has passed from ``start`` to ``end`` (0 when end ≤ start)."""
        _require_aware(start)
        _require_aware(end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        match unit:
            case LimitUnit.URGENT_HOUR:
                return (end - start) / _HOUR
            case LimitUnit.NATURAL_DAY:
                return self._natural_days_between(start, end)
            case LimitUnit.WORK_HOUR:
                return self._working_time_between(start, end) / _HOUR
            case LimitUnit.WORK_DAY:
                return self._working_days_between(start, end)
        raise ValueError(f"unknown limit unit {unit!r}")

    # -- natural days ---------------------------------------------------------------------------

    def _same_clock_days_later(self, start: datetime, days: int) -> datetime:
        """The same local wall-clock time ``days`` calendar days after ``start``."""
        local = start.astimezone(self.zone)
        wall = local.replace(tzinfo=None) + timedelta(days=days)
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def _add_natural_days(self, start: datetime, value: Decimal) -> datetime:
        """Whole calendar days at the same clock time, then the fraction of a day as hours."""
        whole, fraction = _split(value)
        return self._same_clock_days_later(start, whole) + _share_of(_DAY, fraction)

    def _natural_days_between(self, start: datetime, end: datetime) -> float:
        """Inverse of ``_add_natural_days``: whole days passed plus the share of the next one."""
        whole = max(0, (end - start).days - 1)
        while self._same_clock_days_later(start, whole + 1) <= end:
            whole += 1
        base = self._same_clock_days_later(start, whole)
        return whole + (end - base) / _DAY

    # -- working time ---------------------------------------------------------------------------

    def _combine(self, day: date, clock: time) -> datetime:
        """The UTC instant of a local wall-clock time on ``day``."""
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def _periods_of(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of ``day`` as UTC intervals (none on a day off)."""
        if not self.is_working_day(day):
            return []
        return [(self._combine(day, s), self._combine(day, e)) for s, e in self.working_hours]

    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working periods from ``start`` on, the first clipped to begin no earlier than it."""
        day = start.astimezone(self.zone).date()
        while True:
            for begin, end in self._periods_of(day):
                if end > start:
                    yield max(begin, start), end
            day += _DAY

    def _consume_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of working time has been spent after ``start``."""
        remaining = amount
        for begin, end in self._periods_from(start):
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable: the periods never end")  # pragma: no cover

    def _working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time spent between ``start`` and ``end``."""
        spent = timedelta()
        for begin, stop in self._periods_from(start):
            if begin >= end:
                break
            spent += min(stop, end) - begin
        return spent

    # -- working days ---------------------------------------------------------------------------

    def _working_days_after(self, day: date) -> Iterator[date]:
        """Working days strictly after ``day``, in order."""
        while True:
            day += _DAY
            if self.is_working_day(day):
                yield day

    def _end_of_day(self, day: date) -> datetime:
        """The end of the last working period of ``day``."""
        return self._combine(day, self.working_hours[-1][1])

    def _add_working_days(self, start: datetime, value: Decimal) -> datetime:
        """Whole working days end at the Nth working day's close; a fraction adds working hours."""
        whole, fraction = _split(value)
        start_day = start.astimezone(self.zone).date()
        if whole:
            nth = next(islice(self._working_days_after(start_day), whole - 1, None))
            base = self._end_of_day(nth)
        else:
            base = self._combine(start_day + _DAY, time(0))
        if not fraction:
            return base
        return self._consume_working_time(base, _share_of(self.day_length, fraction))

    def _working_days_between(self, start: datetime, end: datetime) -> float:
        """Working days after the start day closed by ``end``, plus the share of the next one."""
        days = self._working_days_after(start.astimezone(self.zone).date())
        for whole, day in enumerate(days):
            if self._end_of_day(day) > end:
                opens = self._combine(day, time(0))
                spent = self._working_time_between(opens, end) if end > opens else timedelta()
                return whole + spent / self.day_length
        raise AssertionError("unreachable: working days never end")  # pragma: no cover


@lru_cache(maxsize=8192)
def _library_or_weekday_rule(day: date) -> bool:
    """The library's answer for a covered year, else Monday to Friday (memoised: it is hot)."""
    if covers(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def _kind(working: bool, weekend: bool, announced: bool) -> DayKind:
    """Name a day from whether it is worked, falls on a weekend and was announced as special."""
    if working:
        return DayKind.MAKE_UP_WORKDAY if weekend else DayKind.WORKDAY
    return DayKind.HOLIDAY if announced or not weekend else DayKind.WEEKEND


# -- persistence: overrides of the library (service functions; flush, never commit) ------------


def _load_overrides(session: Session) -> tuple[dict[date, bool], dict[date, str]]:
    """Every override row: day → worked, day → name."""
    rows = session.scalars(select(CalendarOverride)).all()
    return {row.day: row.working for row in rows}, {row.day: row.name for row in rows}


_overrides = revision.RevisionCache(revision.CALENDAR, _load_overrides)


def load_calendar(session: Session, settings: Settings) -> WorkingCalendar:
    """The working calendar of the settings, with every override row applied (rows cached)."""
    working, names = _overrides.get(session)
    return WorkingCalendar(
        tz=settings.timezone,
        working_hours=parse_working_hours(settings.working_hours),
        overrides=working,
        override_names=names,
    )


def list_overrides(
    session: Session, *, first: date | None = None, last: date | None = None
) -> list[CalendarOverride]:
    """Override rows in date order, optionally within ``first``..``last`` inclusive."""
    query = select(CalendarOverride).order_by(CalendarOverride.day)
    if first is not None:
        query = query.where(CalendarOverride.day >= first)
    if last is not None:
        query = query.where(CalendarOverride.day <= last)
    return list(session.scalars(query))


def create_override(
    session: Session, *, day: date, kind: OverrideKind, name: str, by: Actor, now: datetime
) -> CalendarOverride:
    """Record a State Council holiday or make-up working day (调休) the library lacks."""
    if session.scalar(select(CalendarOverride.id).where(CalendarOverride.day == day)):
        raise Conflict(f"{day} already has an override; delete it first", code="override_exists")
    row = CalendarOverride(day=day, kind=OverrideKind(kind).value, name=name)
    row.stamp_created(by.ref, now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict(f"{day} already has an override", code="override_exists") from exc
    revision.mark_changed(session, kind=revision.CALENDAR, now=now)
    return row


def delete_override(session: Session, *, day: date) -> None:
    """Remove the override of ``day`` so the library (or the weekday rule) applies again."""
    row = session.scalar(select(CalendarOverride).where(CalendarOverride.day == day))
    if row is None:
        raise NotFound(f"{day} has no override", code="override_not_found")
    session.delete(row)
    session.flush()
    revision.mark_changed(session, kind=revision.CALENDAR)
