"""Pydantic shapes of the alert API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from urbanops.alerts.models import KIND_NAMES, Alert


class AlertOut(BaseModel):
    """An alert as the console shows it: a zh-CN title, its kind's name, open or ended."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    kind_name: str = Field(description="告警类型的中文名称")
    severity: str = Field(description="info 提示 | warning 警告 | critical 紧急")
    at: datetime
    title: str
    officer_id: int | None
    user_id: int | None
    device_id: int | None
    case_id: int | None
    grid_code: str | None
    to_role: str | None
    to_user_id: int | None
    data: dict[str, Any] | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    open: bool

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls(
            id=alert.id, kind=alert.kind, kind_name=KIND_NAMES.get(alert.kind, alert.kind),
            severity=alert.severity, at=alert.at, title=alert.title, officer_id=alert.officer_id,
            user_id=alert.user_id, device_id=alert.device_id, case_id=alert.case_id,
            grid_code=alert.grid_code, to_role=alert.to_role, to_user_id=alert.to_user_id,
            data=alert.data, acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by, resolved_at=alert.resolved_at,
            open=alert.resolved_at is None,
        )  # fmt: skip


class AlertPage(BaseModel):
    """One page of alerts, newest first."""

    items: list[AlertOut]
    total: int
    page: int
    size: int
