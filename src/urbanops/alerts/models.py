"""The alert table: news that needs a person's attention, raised by any module.

An alert is *open* until ``resolved_at`` is set: by its condition ending (the officer is back in
his grid, the device online again) or, for kinds that have no condition to watch (an SOS, a
missed deadline), by a person acknowledging it. ``dedupe_key`` allows one open alert per key; a
partial unique index enforces it, so two processes raising the same news at once store it once.
Alerts name officers, devices and cases by id without foreign keys: they are a log that outlives
what they point at, like the position history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Base, BigIntPK, UTCDateTime


class AlertKind(StrEnum):
    """What an alert is about; the Chinese name is what the console shows."""

    LEFT_GRID = "left_grid"  # 离开网格: an officer on duty outside his responsibility grid
    DEVICE_OFFLINE = "device_offline"  # 设备离线: an on-duty officer's device went silent
    SOS = "sos"  # 一键报警: the SOS button of a device or the officer's page
    DEADLINE_MISSED = "deadline_missed"  # 超时: a case stage passed its deadline
    ESCALATION = "escalation"  # 升级: a late case escalated to a leader
    DISPATCH_TIMEOUT = "dispatch_timeout"  # 派遣超时未响应: a dispatched officer did not respond
    NO_OFFICER_AVAILABLE = "no_officer_available"  # 无可派人员: an emergency found nobody free
    FOLLOWUP_UNSATISFIED = "followup_unsatisfied"  # 回访再次不满意: supervised after a 2nd rating


class Severity(StrEnum):
    INFO = "info"  # 提示
    WARNING = "warning"  # 警告
    CRITICAL = "critical"  # 紧急


#: Kinds whose condition the platform watches and ends by itself; the others end when a person
#: acknowledges them.
CONDITION_KINDS = frozenset({AlertKind.LEFT_GRID, AlertKind.DEVICE_OFFLINE})

KIND_NAMES: dict[str, str] = {
    AlertKind.LEFT_GRID: "离开网格",
    AlertKind.DEVICE_OFFLINE: "设备离线",
    AlertKind.SOS: "一键报警",
    AlertKind.DEADLINE_MISSED: "超时",
    AlertKind.ESCALATION: "升级",
    AlertKind.DISPATCH_TIMEOUT: "派遣超时未响应",
}


class Alert(Base):
    """One alert (告警) for the console and, where it names one, on an officer's record."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "uq_alert_open_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("dedupe_key IS NOT NULL AND resolved_at IS NULL"),
            postgresql_where=text("dedupe_key IS NOT NULL AND resolved_at IS NULL"),
        ),
        Index("ix_alert_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    officer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    device_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    grid_code: Mapped[str | None] = mapped_column(String(32))
    to_role: Mapped[str | None] = mapped_column(String(32))
    to_user_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
