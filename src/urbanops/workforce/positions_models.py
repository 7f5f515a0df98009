"""Position tables: every accepted fix (history, partitioned by day on PostgreSQL) and the latest.

``position`` is an append-only log with no primary key in the database (on PostgreSQL it is the
parent of daily range partitions ``position_YYYYMMDD`` on ``at``, UTC days); the ORM maps it by
``(device_id, at)``, which the ingestion filter keeps unique per process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Float, Index, String, Table
from sqlalchemy.orm import Mapped

from urbanops.kit.db import Base, UTCDateTime


def _fix_columns() -> list[Column[Any]]:
    """The columns of one fix, shared by the history and the latest-position table."""
    return [
        Column("user_id", BigInteger, nullable=True),
        Column("at", UTCDateTime(), nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
        Column("lon", Float, nullable=False),
        Column("lat", Float, nullable=False),
        Column("speed_mps", Float, nullable=True),
        Column("course", Float, nullable=True),
        Column("altitude", Float, nullable=True),
        Column("accuracy_m", Float, nullable=True),
        Column("battery", Float, nullable=True),
        Column("source", String(16), nullable=False),
        Column("attributes", JSON, nullable=True),
        Column("unit_grid_code", String(15), nullable=True),
    ]


position_table = Table(
    "position",
    Base.metadata,
    Column("device_id", BigInteger, nullable=False),
    *_fix_columns(),
    Index("ix_position_device_id_at", "device_id", "at"),
)

position_latest_table = Table(
    "position_latest",
    Base.metadata,
    Column("device_id", BigInteger, primary_key=True, autoincrement=False),
    *_fix_columns(),
)

#: Column names in table order, for COPY and bulk inserts.
FIX_COLUMNS: tuple[str, ...] = tuple(c.name for c in position_table.columns)


class Position(Base):
    """One accepted fix of a device (定位点), WGS84, speed in m/s."""

    __table__ = position_table
    __mapper_args__ = {  # noqa: RUF012 - read once by the mapper
        "primary_key": [position_table.c.device_id, position_table.c.at]
    }

    device_id: Mapped[int]
    user_id: Mapped[int | None]
    at: Mapped[datetime]
    received_at: Mapped[datetime]
    lon: Mapped[float]
    lat: Mapped[float]
    speed_mps: Mapped[float | None]
    course: Mapped[float | None]
    altitude: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    battery: Mapped[float | None]
    source: Mapped[str]
    attributes: Mapped[dict[str, Any] | None]
    unit_grid_code: Mapped[str | None]


class PositionLatest(Base):
    """The newest fix of each device (最新位置), upserted at every flush."""

    __table__ = position_latest_table

    device_id: Mapped[int]
    user_id: Mapped[int | None]
    at: Mapped[datetime]
    received_at: Mapped[datetime]
    lon: Mapped[float]
    lat: Mapped[float]
    speed_mps: Mapped[float | None]
    course: Mapped[float | None]
    altitude: Mapped[float | None]
    accuracy_m: Mapped[float | None]
    battery: Mapped[float | None]
    source: Mapped[str]
    attributes: Mapped[dict[str, Any] | None]
    unit_grid_code: Mapped[str | None]
