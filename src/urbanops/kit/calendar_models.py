"""Tables of the working calendar: overrides of the holiday library (节假日调整)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK


class OverrideKind(StrEnum):
    """What an override makes of its day: a holiday (放假) or a working day (调休上班)."""

    HOLIDAY = "holiday"
    WORKDAY = "workday"


class CalendarOverride(Audited, Base):
    """One day whose working status a command centre set itself; it wins over the library."""

    __tablename__ = "calendar_override"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)

    @property
    def working(self) -> bool:
        """Whether the override makes its day a working day."""
        return self.kind == OverrideKind.WORKDAY
