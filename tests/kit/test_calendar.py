"""The working calendar: Chinese holidays, make-up working days and deadlines in four units."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.config import Settings
from urbanops.kit.actor import SYSTEM
from urbanops.kit.calendar import (
    CalendarConfigError,
    DayKind,
    DaySource,
    LimitUnit,
    WorkingCalendar,
    covers,
    create_override,
    delete_override,
    list_overrides,
    load_calendar,
    parse_working_hours,
)
from urbanops.kit.calendar_models import CalendarOverride, OverrideKind
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict, NotFound

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()
U = LimitUnit


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def feb(day: int) -> date:
    return date(2026, 2, day)


# -- what the library says about the 2026 Spring Festival ------------------------------------------


def test_library_lists_the_2026_spring_festival_as_nine_days_off() -> None:
    festival = [d for d, n in chinese_calendar.constants.holidays.items() if n == "Spring Festival"]
    assert sorted(d for d in festival if d.year == 2026) == [feb(d) for d in range(15, 24)]


def test_library_lists_saturdays_14_and_28_february_2026_as_make_up_working_days() -> None:
    make_up = [d for d, n in chinese_calendar.constants.workdays.items() if d.year == 2026]
    assert {feb(14), feb(28)} <= set(make_up)
    assert feb(14).weekday() == feb(28).weekday() == 5


def test_calendar_agrees_with_the_library_on_every_day_of_february_2026() -> None:
    for info in CAL.days(feb(1), feb(28)):
        assert info.working == chinese_calendar.is_workday(info.day)
        assert info.source == DaySource.LIBRARY


def test_spring_festival_days_are_named_holidays_and_make_up_saturdays_are_workdays() -> None:
    days = {info.day: info for info in CAL.days(feb(13), date(2026, 3, 1))}
    assert days[feb(13)].kind == DayKind.WORKDAY
    assert (days[feb(14)].kind, days[feb(14)].name) == (DayKind.MAKE_UP_WORKDAY, "春节")
    assert all(days[feb(d)].kind == DayKind.HOLIDAY for d in range(15, 24))
    assert {days[feb(d)].name for d in range(15, 24)} == {"春节"}
    assert days[feb(24)].kind == DayKind.WORKDAY
    assert days[feb(28)].working and days[feb(28)].kind == DayKind.MAKE_UP_WORKDAY
    assert days[date(2026, 3, 1)].kind == DayKind.WEEKEND


def test_library_covers_2026_but_not_a_far_future_year() -> None:
    assert covers(2026)
    assert not covers(2099)


def test_uncovered_year_falls_back_to_monday_to_friday() -> None:
    week = CAL.days(date(2099, 1, 5), date(2099, 1, 11))  # Monday to Sunday
    assert [d.working for d in week] == [True] * 5 + [False] * 2
    assert {d.source for d in week} == {DaySource.WEEKDAY_RULE}
    assert week[5].kind == DayKind.WEEKEND


# -- deadlines across the Spring Festival week, each unit ----------------------------------------

FRIDAY_BEFORE_FESTIVAL = sh(2026, 2, 13, 10, 0)
HOLIDAY_MONDAY = sh(2026, 2, 16, 11, 0)

SPRING_FESTIVAL_CASES = [
    # received Friday 13 Feb 10:00, the last ordinary working day before the holiday
    (FRIDAY_BEFORE_FESTIVAL, 72, U.URGENT_HOUR, sh(2026, 2, 16, 10, 0)),
    (FRIDAY_BEFORE_FESTIVAL, 3, U.NATURAL_DAY, sh(2026, 2, 16, 10, 0)),
    (FRIDAY_BEFORE_FESTIVAL, Decimal("1.5"), U.NATURAL_DAY, sh(2026, 2, 14, 22, 0)),
    # 6 h on Friday, 3 h on make-up Saturday morning, 1 h after lunch
    (FRIDAY_BEFORE_FESTIVAL, 10, U.WORK_HOUR, sh(2026, 2, 14, 15, 0)),
    # Friday 6 h + Saturday 7 h, then the nine days off, then Tuesday 24th 09:00-10:00
    (FRIDAY_BEFORE_FESTIVAL, 14, U.WORK_HOUR, sh(2026, 2, 24, 10, 0)),
    (FRIDAY_BEFORE_FESTIVAL, 1, U.WORK_DAY, sh(2026, 2, 14, 18, 0)),
    (FRIDAY_BEFORE_FESTIVAL, 2, U.WORK_DAY, sh(2026, 2, 24, 18, 0)),
    # 14th, 24th, 25th, 26th, 27th, make-up Saturday 28th, Monday 2 March
    (FRIDAY_BEFORE_FESTIVAL, 7, U.WORK_DAY, sh(2026, 3, 2, 18, 0)),
    # half a working day = 3.5 working hours on the next working day (Saturday 14th)
    (FRIDAY_BEFORE_FESTIVAL, Decimal("0.5"), U.WORK_DAY, sh(2026, 2, 14, 14, 30)),
    # received on a holiday Monday
    (HOLIDAY_MONDAY, 1, U.URGENT_HOUR, sh(2026, 2, 16, 12, 0)),
    (HOLIDAY_MONDAY, 1, U.NATURAL_DAY, sh(2026, 2, 17, 11, 0)),
    (HOLIDAY_MONDAY, 1, U.WORK_HOUR, sh(2026, 2, 24, 10, 0)),
    (HOLIDAY_MONDAY, 1, U.WORK_DAY, sh(2026, 2, 24, 18, 0)),
]


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), SPRING_FESTIVAL_CASES)
def test_deadline_across_the_spring_festival_week(
    start: datetime, amount: int | Decimal, unit: LimitUnit, expected: datetime
) -> None:
    due = CAL.add(start, amount, unit)
    assert due == expected
    assert due.tzinfo is UTC
    assert CAL.elapsed(start, due, unit) == pytest.approx(float(amount), abs=1e-6)


FRIDAY_BEFORE_MAKE_UP_SATURDAY = sh(2026, 2, 27, 17, 0)
ORDINARY_FRIDAY = sh(2026, 3, 6, 17, 0)


@pytest.mark.parametrize(
    ("unit", "amount", "on_make_up_week", "on_ordinary_week"),
    [
        (U.WORK_HOUR, 2, sh(2026, 2, 28, 10, 0), sh(2026, 3, 9, 10, 0)),
        (U.WORK_DAY, 1, sh(2026, 2, 28, 18, 0), sh(2026, 3, 9, 18, 0)),
        (U.NATURAL_DAY, 1, sh(2026, 2, 28, 17, 0), sh(2026, 3, 7, 17, 0)),
        (U.URGENT_HOUR, 20, sh(2026, 2, 28, 13, 0), sh(2026, 3, 7, 13, 0)),
    ],
)
def test_make_up_saturday_counts_as_a_working_day(
    unit: LimitUnit, amount: int, on_make_up_week: datetime, on_ordinary_week: datetime
) -> None:
    assert CAL.add(FRIDAY_BEFORE_MAKE_UP_SATURDAY, amount, unit) == on_make_up_week
    assert CAL.add(ORDINARY_FRIDAY, amount, unit) == on_ordinary_week


def test_work_hours_pass_through_a_make_up_saturday() -> None:
    # Thursday 26 Feb 16:00: 2 h Thu, 7 h Fri, 7 h make-up Sat, then Monday 2 March
    assert CAL.add(sh(2026, 2, 26, 16, 0), 17, U.WORK_HOUR) == sh(2026, 3, 2, 10, 0)


def test_start_after_office_hours_begins_at_next_working_period() -> None:
    assert CAL.add(sh(2026, 2, 13, 20, 0), 1, U.WORK_HOUR) == sh(2026, 2, 14, 10, 0)
    assert CAL.add(sh(2026, 2, 13, 12, 30), 1, U.WORK_HOUR) == sh(2026, 2, 13, 15, 0)


def test_work_hours_ending_at_noon_land_at_noon_not_after_lunch() -> None:
    assert CAL.add(sh(2026, 3, 2, 9, 0), 3, U.WORK_HOUR) == sh(2026, 3, 2, 12, 0)


def test_work_day_counts_from_the_day_after_receipt_whatever_the_hour() -> None:
    early = CAL.add(sh(2026, 3, 2, 0, 5), 1, U.WORK_DAY)
    late = CAL.add(sh(2026, 3, 2, 23, 55), 1, U.WORK_DAY)
    assert early == late == sh(2026, 3, 3, 18, 0)


def test_custom_working_hours_change_work_hour_deadlines() -> None:
    cal = WorkingCalendar(working_hours=parse_working_hours("08:30-12:00,13:30-17:30"))
    assert cal.add(sh(2026, 3, 2, 8, 30), 4, U.WORK_HOUR) == sh(2026, 3, 2, 14, 0)
    assert cal.add(sh(2026, 3, 2, 10, 0), 1, U.WORK_DAY) == sh(2026, 3, 3, 17, 30)


def test_in_memory_override_turns_a_weekday_into_a_holiday() -> None:
    cal = WorkingCalendar(overrides={date(2026, 3, 3): False})
    assert cal.add(sh(2026, 3, 2, 10, 0), 1, U.WORK_DAY) == sh(2026, 3, 4, 18, 0)
    assert CAL.add(sh(2026, 3, 2, 10, 0), 1, U.WORK_DAY) == sh(2026, 3, 3, 18, 0)


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", [-1, Decimal("-0.5"), float("nan"), float("inf"), Decimal("NaN")]
)
def test_negative_or_non_finite_amount_is_refused(amount: float | Decimal) -> None:
    with pytest.raises(ValueError, match="amount"):
        CAL.add(FRIDAY_BEFORE_FESTIVAL, amount, U.WORK_HOUR)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2026, 2, 13, 10, 0), 1, U.WORK_DAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.elapsed(FRIDAY_BEFORE_FESTIVAL, datetime(2026, 2, 14), U.WORK_DAY)


def test_working_hours_setting_is_parsed() -> None:
    assert parse_working_hours(" 09:00-12:00 , 14:00-18:00 ") == (
        (time(9), time(12)),
        (time(14), time(18)),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "09:00",
        "12:00-09:00",
        "09:00-09:00",
        "09:00-12:00,11:00-13:00",
        "14:00-18:00,09:00-12:00",
        "25:00-26:00",
        "nine-five",
    ],
)
def test_unusable_working_hours_setting_is_refused(text: str) -> None:
    with pytest.raises(CalendarConfigError):
        parse_working_hours(text)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CalendarConfigError, match="time zone"):
        WorkingCalendar(tz="Mars/Olympus_Mons")


# -- properties ----------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 6, 1),
    max_value=datetime(2027, 6, 30),
    timezones=st.sampled_from([SH, UTC]),
)
units = st.sampled_from(list(LimitUnit))
amounts = st.decimals(min_value=0, max_value=120, places=3)
TOLERANCE = {  # one second, in each unit
    U.URGENT_HOUR: 1 / 3600,
    U.WORK_HOUR: 1 / 3600,
    U.NATURAL_DAY: 1 / 86400,
    U.WORK_DAY: 1 / (7 * 3600),
}


def _inside_or_closing_a_working_period(moment: datetime) -> bool:
    local = moment.astimezone(SH)
    if not CAL.is_working_day(local.date()):
        return False
    clock = local.timetz().replace(tzinfo=None)
    return any(s < clock <= e for s, e in CAL.working_hours)


@given(start=starts, a=amounts, b=amounts, unit=units)
def test_deadline_never_moves_earlier_for_a_larger_amount(
    start: datetime, a: Decimal, b: Decimal, unit: LimitUnit
) -> None:
    low, high = sorted((a, b))
    assert start <= CAL.add(start, low, unit) <= CAL.add(start, high, unit)


@given(start=starts, unit=units)
def test_zero_amount_is_due_at_the_start(start: datetime, unit: LimitUnit) -> None:
    assert CAL.add(start, 0, unit) == start


@given(start=starts, amount=amounts, unit=units)
def test_elapsed_measures_back_the_amount_added(
    start: datetime, amount: Decimal, unit: LimitUnit
) -> None:
    due = CAL.add(start, amount, unit)
    assert abs(CAL.elapsed(start, due, unit) - float(amount)) <= TOLERANCE[unit]


@given(start=starts, hours=st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_urgent_hours_are_plain_continuous_time(start: datetime, hours: float) -> None:
    due = CAL.add(start, hours, U.URGENT_HOUR)
    assert abs(due - (start + timedelta(hours=hours))) <= timedelta(microseconds=1)


@given(start=starts, seconds=st.integers(min_value=0, max_value=3_600_000))
def test_urgent_hours_in_whole_seconds_equal_timedelta_addition(
    start: datetime, seconds: int
) -> None:
    hours = Decimal(seconds) / 3600
    assert CAL.add(start, hours, U.URGENT_HOUR) == start + timedelta(seconds=seconds)


@given(start=starts, amount=st.decimals(min_value=Decimal("0.001"), max_value=200, places=3))
def test_work_hour_deadline_lands_inside_a_working_period_or_at_its_end(
    start: datetime, amount: Decimal
) -> None:
    assert _inside_or_closing_a_working_period(CAL.add(start, amount, U.WORK_HOUR))


@given(start=starts, days=st.integers(min_value=1, max_value=60))
def test_whole_work_days_end_at_close_of_a_working_day_after_the_start_day(
    start: datetime, days: int
) -> None:
    local = CAL.add(start, days, U.WORK_DAY).astimezone(SH)
    assert CAL.is_working_day(local.date())
    assert local.time() == time(18, 0)
    assert local.date() > start.astimezone(SH).date()


@settings(max_examples=50)
@given(start=starts, a=st.integers(min_value=1, max_value=30))
def test_one_more_work_day_is_the_next_working_day(start: datetime, a: int) -> None:
    this = CAL.add(start, a, U.WORK_DAY).astimezone(SH).date()
    following = CAL.add(start, a + 1, U.WORK_DAY).astimezone(SH).date()
    skipped = [this + timedelta(days=i) for i in range(1, (following - this).days)]
    assert following > this
    assert not any(CAL.is_working_day(d) for d in skipped)


# -- override rows in the database (both SQLite and PostgreSQL) -----------------------------------


def test_override_row_turning_a_weekday_into_a_holiday_moves_the_deadline(
    db: Session, settings: Settings, clock: ManualClock
) -> None:
    received = clock.now()  # Thursday 26 November 2026, 09:00
    assert load_calendar(db, settings).add(received, 1, U.WORK_DAY) == sh(2026, 11, 27, 18, 0)
    create_override(
        db, day=date(2026, 11, 27), kind=OverrideKind.HOLIDAY, name="区庆", by=SYSTEM, now=received
    )
    cal = load_calendar(db, settings)
    assert cal.add(received, 1, U.WORK_DAY) == sh(2026, 11, 30, 18, 0)
    assert cal.add(received, 8, U.WORK_HOUR) == sh(2026, 11, 30, 10, 0)
    info = cal.describe(date(2026, 11, 27))
    assert (info.kind, info.name, info.source) == (DayKind.HOLIDAY, "区庆", DaySource.OVERRIDE)


def test_override_workday_on_an_uncovered_year_saturday_counts(
    db: Session, settings: Settings, clock: ManualClock
) -> None:
    saturday = date(2099, 1, 10)
    create_override(
        db, day=saturday, kind=OverrideKind.WORKDAY, name="春节调休", by=SYSTEM, now=clock.now()
    )
    cal = load_calendar(db, settings)
    assert cal.add(sh(2099, 1, 9, 10, 0), 1, U.WORK_DAY) == sh(2099, 1, 10, 18, 0)
    assert cal.describe(saturday).kind == DayKind.MAKE_UP_WORKDAY


def test_override_row_records_who_entered_it(db: Session, clock: ManualClock) -> None:
    create_override(
        db, day=date(2027, 2, 8), kind=OverrideKind.HOLIDAY, name="春节", by=SYSTEM, now=clock.now()
    )
    row = db.scalar(select(CalendarOverride).where(CalendarOverride.day == date(2027, 2, 8)))
    assert row is not None
    assert (row.created_by, row.created_at) == ("system", clock.now())


def test_second_override_for_the_same_day_is_a_conflict_and_writes_nothing(
    db: Session, clock: ManualClock
) -> None:
    day = date(2027, 2, 8)
    create_override(db, day=day, kind=OverrideKind.HOLIDAY, name="春节", by=SYSTEM, now=clock.now())
    with pytest.raises(Conflict):
        create_override(
            db, day=day, kind=OverrideKind.WORKDAY, name="调休", by=SYSTEM, now=clock.now()
        )
    assert [(o.day, o.kind) for o in list_overrides(db)] == [(day, "holiday")]


def test_deleting_an_override_restores_the_library_answer(
    db: Session, settings: Settings, clock: ManualClock
) -> None:
    make_up_saturday = feb(14)
    create_override(
        db, day=make_up_saturday, kind=OverrideKind.HOLIDAY, name="x", by=SYSTEM, now=clock.now()
    )
    assert not load_calendar(db, settings).is_working_day(make_up_saturday)
    delete_override(db, day=make_up_saturday)
    assert load_calendar(db, settings).is_working_day(make_up_saturday)
    with pytest.raises(NotFound):
        delete_override(db, day=make_up_saturday)


def test_overrides_are_listed_in_date_order_within_a_range(db: Session, clock: ManualClock) -> None:
    for day in (date(2027, 10, 1), date(2027, 2, 8), date(2027, 5, 1)):
        create_override(
            db, day=day, kind=OverrideKind.HOLIDAY, name="节日", by=SYSTEM, now=clock.now()
        )
    listed = list_overrides(db, first=date(2027, 1, 1), last=date(2027, 6, 30))
    assert [o.day for o in listed] == [date(2027, 2, 8), date(2027, 5, 1)]
