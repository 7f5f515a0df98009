"""Events of the alert store and of the field-force watch, published after commit."""

from __future__ import annotations

from dataclasses import dataclass

from urbanops.kit.events import Event


@dataclass(frozen=True, kw_only=True)
class AlertRaised(Event):
    """A new alert was stored (the console lights it up and sounds it)."""

    name = "AlertRaised"
    alert_id: int
    kind: str
    severity: str
    title: str
    officer_id: int | None = None
    user_id: int | None = None
    device_id: int | None = None
    case_id: int | None = None
    grid_code: str | None = None
    to_role: str | None = None
    to_user_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class AlertAcknowledged(Event):
    name = "AlertAcknowledged"
    alert_id: int
    kind: str
    by: str


@dataclass(frozen=True, kw_only=True)
class AlertResolved(Event):
    name = "AlertResolved"
    alert_id: int
    kind: str


@dataclass(frozen=True, kw_only=True)
class OfficerLeftGrid(Event):
    """An on-duty officer has been outside his responsibility grid past the hysteresis."""

    name = "OfficerLeftGrid"
    officer_id: int
    user_id: int
    device_id: int
    grid_code: str
    unit_grid_code: str | None
    lon: float
    lat: float


@dataclass(frozen=True, kw_only=True)
class OfficerReturnedToGrid(Event):
    name = "OfficerReturnedToGrid"
    officer_id: int
    user_id: int
    device_id: int | None
    grid_code: str | None


@dataclass(frozen=True, kw_only=True)
class DeviceWentOffline(Event):
    """The device of an on-duty officer sent nothing for longer than the offline setting."""

    name = "DeviceWentOffline"
    device_id: int
    officer_id: int
    user_id: int
    last_fix_at: str | None


@dataclass(frozen=True, kw_only=True)
class DeviceBackOnline(Event):
    name = "DeviceBackOnline"
    device_id: int
    officer_id: int | None


@dataclass(frozen=True, kw_only=True)
class DeviceSos(Event):
    """A device (or the officer's page) pressed SOS (一键报警)."""

    name = "DeviceSos"
    device_id: int
    alert_id: int
    officer_id: int | None
    user_id: int | None
    lon: float | None
    lat: float | None
