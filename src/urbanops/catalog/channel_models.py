"""Tables of the intake channels (受理渠道) and their SLA profiles (渠道时限规则)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Double,
    Enum,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.calendar import LimitUnit
from urbanops.kit.db import Audited, Base, BigIntPK

#: Stages an SLA rule may time; ``contact`` is the whole-case "call the complainant back" limit.
SLA_STAGES = ("verify", "register", "dispatch", "respond", "handle", "check", "close", "contact")


class Channel(Audited, Base):
    """One intake channel (受理渠道) of reports: its name, flags and the report fields it needs."""

    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(64))
    requires_verification: Mapped[bool] = mapped_column(Boolean, default=False)
    citizen_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency_by_default: Mapped[bool] = mapped_column(Boolean, default=False)
    required_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")


class SlaRule(Audited, Base):
    """A stage's time limit in one SLA profile: a channel's code, ``default`` or ``emergency``."""

    __tablename__ = "sla_rule"
    __table_args__ = (
        UniqueConstraint("profile", "stage"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("stage IN (" + ", ".join(f"'{s}'" for s in SLA_STAGES) + ")", name="stage"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    profile: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    #: Double precision, so that 5/60 of an hour comes back as exactly five minutes.
    amount: Mapped[float] = mapped_column(Double)
    unit: Mapped[LimitUnit] = mapped_column(
        Enum(
            LimitUnit,
            native_enum=False,
            create_constraint=True,
            length=16,
            name="limit_unit",
            values_callable=lambda units: [u.value for u in units],
        )
    )
    note: Mapped[str] = mapped_column(Text, default="")
