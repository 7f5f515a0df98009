"""Devices of the field force: GPS walkie-talkies, phones, body cameras, drones, vehicles."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK


class DeviceKind(StrEnum):
    RADIO = "radio"  # GPS 对讲机
    PHONE = "phone"  # 手机
    BODY_CAMERA = "body_camera"  # 执法记录仪
    DRONE = "drone"  # 无人机
    VEHICLE = "vehicle"  # 车载终端


class Device(Audited, Base):
    """A device that reports positions or evidence, bound to an officer (user) or a vehicle."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)  # IMEI or platform id
    kind: Mapped[DeviceKind] = mapped_column(
        Enum(
            DeviceKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    vehicle_plate: Mapped[str | None] = mapped_column(String(16))
