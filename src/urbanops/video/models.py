"""Cameras of the street: PTZ, fixed, and self-built solar cameras with LED text and speaker."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK


class CameraKind(StrEnum):
    PTZ = "ptz"  # 高清云台
    FIXED = "fixed"  # 固定枪机
    SOLAR_LED = "solar_led"  # 太阳能高清摄像头, LED 屏与喇叭


class Camera(Audited, Base):
    """A camera at a fixed place (WGS84), in a unit grid."""

    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[CameraKind] = mapped_column(
        Enum(
            CameraKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    unit_grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
