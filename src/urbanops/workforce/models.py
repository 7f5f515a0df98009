"""Tables of the field force: squads, officers, duty history, shifts and devices.

An officer (执法队员) is an auth user with a workforce record: certificate, squad, home grid,
travel mode and duty status. Every duty change is an append-only ``DutyChange`` row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK, UTCDateTime


def _enum(cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class DeviceKind(StrEnum):
    RADIO = "radio"  # GPS 对讲机
    PHONE = "phone"  # 手机
    BODY_CAMERA = "body_camera"  # 执法记录仪
    DRONE = "drone"  # 无人机
    VEHICLE = "vehicle"  # 车载终端


class DutyStatus(StrEnum):
    """An officer's duty status (在岗状态); ``busy`` is set by dispatch while he works a case."""

    ON_DUTY = "on_duty"  # 在岗
    OFF_DUTY = "off_duty"  # 下班 / 休息
    TRAINING = "training"  # 培训
    LEAVE = "leave"  # 请假
    BUSY = "busy"  # 处置中


class TravelMode(StrEnum):
    """How an officer moves on patrol, for arrival-time estimates."""

    WALK = "walk"  # 步巡
    BICYCLE = "bicycle"  # 骑巡
    VEHICLE = "vehicle"  # 车巡


class ShiftKind(StrEnum):
    DAY = "day"  # 白班
    NIGHT = "night"  # 夜班


class Squad(Audited, Base):
    """A squad (中队) of officers under one leader."""

    __tablename__ = "squad"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    leader_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("user.id"), index=True
    )


class Officer(Audited, Base):
    """The workforce record of one user: certificate (执法证) where held, squad, home grid."""

    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("user.id"), unique=True)
    certificate_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    squad_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("squad.id"), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    travel_mode: Mapped[TravelMode] = mapped_column(_enum(TravelMode))
    duty_status: Mapped[DutyStatus] = mapped_column(_enum(DutyStatus), index=True)
    duty_since: Mapped[datetime] = mapped_column(UTCDateTime())


class DutyChange(Base):
    """One change of an officer's duty status; append-only history."""

    __tablename__ = "duty_change"
    __table_args__ = (Index("ix_duty_change_officer_at", "officer_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    officer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("officer.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_status: Mapped[DutyStatus | None] = mapped_column(_enum(DutyStatus))
    to_status: Mapped[DutyStatus] = mapped_column(_enum(DutyStatus))
    reason: Mapped[str] = mapped_column(String(200))
    by: Mapped[str] = mapped_column(String(64))


class Shift(Audited, Base):
    """A shift (班次) one officer works, from ``starts_at`` to ``ends_at`` (exclusive)."""

    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_officer_starts", "officer_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    officer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("officer.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[ShiftKind] = mapped_column(_enum(ShiftKind, length=8))


class Device(Audited, Base):
    """A device that reports positions or evidence, bound to an officer (user) or a vehicle."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)  # IMEI or platform id
    kind: Mapped[DeviceKind] = mapped_column(_enum(DeviceKind))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    vehicle_plate: Mapped[str | None] = mapped_column(String(16))
    #: When the device's latest fix was taken; online while younger than the offline setting.
    last_fix_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The live API key the device authenticates with, if one was issued.
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
