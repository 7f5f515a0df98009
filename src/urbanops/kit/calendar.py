"""Working calendar and deadline arithmetic (filled in by the calendar work).

Time-limit units of case standards (处置时限单位):
"""

from __future__ import annotations

from enum import StrEnum


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
