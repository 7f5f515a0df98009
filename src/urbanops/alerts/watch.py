"""The field-force watch: geofence (离开网格), devices back online, and SOS (一键报警).

It hangs on the position ingest (``workforce.positions``): after every write it looks at the newest
fix per device, in the writer's transaction, and when a device sends an alarm it raises the SOS
alert at once, in the request's transaction.

Geofence: an officer on duty (``on_duty`` or ``busy``) is out of his grid when the unit grid of
his device's fix belongs to no responsibility grid or to another one than his. GPS jitter at the
border must not alert, so an alert (``left_grid:<officer id>``) needs ``outside_fixes`` consecutive
outside fixes spanning ``outside_s`` seconds; one fix back inside ends the streak and resolves the
alert. Streaks live in this process's memory (a device's fixes normally reach one process); the
open alerts are read from the database with the officers, so any process resolves them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.alerts import service
from urbanops.alerts.events import (
    DeviceBackOnline,
    DeviceSos,
    OfficerLeftGrid,
    OfficerReturnedToGrid,
)
from urbanops.alerts.models import AlertKind, Severity
from urbanops.areas import locator
from urbanops.auth.models import User
from urbanops.kit import events
from urbanops.kit.actor import Role
from urbanops.workforce.models import Device, DutyStatus, Officer
from urbanops.workforce.positions import Alarm, Fix

log = logging.getLogger(__name__)

ON_DUTY = frozenset({DutyStatus.ON_DUTY, DutyStatus.BUSY})
SOS_KINDS = frozenset({"sos"})


def left_grid_key(officer_id: int) -> str:
    return f"left_grid:{officer_id}"


def offline_key(device_id: int) -> str:
    return f"device_offline:{device_id}"


def sos_key(device_id: int, at: datetime) -> str:
    """One SOS alert per device and minute: pressing the button again does not spam."""
    return f"sos:{device_id}:{at.astimezone(UTC):%Y%m%d%H%M}"


@dataclass(frozen=True)
class OfficerRef:
    """What the watch needs of an officer: ids, home grid and whether he is on duty."""

    id: int
    user_id: int
    grid_code: str | None
    on_duty: bool


@dataclass
class _Streak:
    """Consecutive fixes of one device outside its officer's grid."""

    since: datetime
    last: datetime
    fixes: int = 1


@dataclass
class _Memory:
    """Officers by user id and the open alerts the watch may end, as last read."""

    officers: dict[int, OfficerRef] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)  # officer ids with an open left_grid alert
    offline: set[int] = field(default_factory=set)  # device ids with an open offline alert
    loaded_at: float = -math.inf


class FieldWatch:
    """One per app: ``written`` after each position write, ``alarm`` for each device alarm."""

    def __init__(
        self,
        *,
        outside_fixes: int = 3,
        outside_s: float = 60.0,
        offline_after_s: float = 300.0,
        refresh_s: float = 10.0,
    ) -> None:
        self.outside_fixes = outside_fixes
        self.outside = timedelta(seconds=outside_s)
        self.offline_after = timedelta(seconds=offline_after_s)
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._streaks: dict[int, _Streak] = {}
        self._memory = _Memory()

    def forget(self) -> None:
        """Read officers and open alerts again at the next write (a duty status changed)."""
        self._memory.loaded_at = -math.inf

    # after each write

    def written(self, session: Session, fixes: Sequence[Fix]) -> None:
        """Look at each device's newest fix of a write: left or back in the grid, back online."""
        newest: dict[int, Fix] = {}
        for fix in fixes:
            if fix.user_id is not None:
                seen = newest.get(fix.device_id)
                if seen is None or fix.at > seen.at:
                    newest[fix.device_id] = fix
        if not newest:
            return
        with self._lock:
            memory = self._load(session)
            home_of = locator.current(session).responsibility
            for fix in sorted(newest.values(), key=lambda f: f.at):
                if fix.device_id in memory.offline:
                    self._back_online(session, fix, memory)
                officer = memory.officers.get(fix.user_id)  # type: ignore[arg-type]
                if officer is None:
                    continue
                unit = fix.unit_grid_code
                home = home_of.get(unit) if unit is not None else None
                inside = home is not None and home.code == officer.grid_code
                if not officer.on_duty or officer.grid_code is None or inside:
                    self._streaks.pop(fix.device_id, None)
                    if officer.id in memory.left:
                        self._returned(session, officer, fix, memory, inside=inside)
                else:
                    self._outside(session, officer, fix, memory)

    def _load(self, session: Session) -> _Memory:
        """The memory, read again when older than ``refresh_s`` (caller holds the lock)."""
        if time.monotonic() - self._memory.loaded_at <= self.refresh_s:
            return self._memory
        loaded_at = time.monotonic()
        rows = session.execute(
            select(Officer.id, Officer.user_id, Officer.grid_code, Officer.duty_status)
        )
        officers = {
            user_id: OfficerRef(officer_id, user_id, grid_code, status in ON_DUTY)
            for officer_id, user_id, grid_code, status in rows
        }
        left = service.open_keys(session, kind=AlertKind.LEFT_GRID, prefix="left_grid:")
        offline = service.open_keys(
            session, kind=AlertKind.DEVICE_OFFLINE, prefix="device_offline:"
        )
        self._memory = _Memory(
            officers=officers,
            left={int(key.rsplit(":", 1)[1]) for key in left},
            offline={int(key.rsplit(":", 1)[1]) for key in offline},
            loaded_at=loaded_at,
        )
        return self._memory

    def _outside(self, session: Session, officer: OfficerRef, fix: Fix, memory: _Memory) -> None:
        streak = self._streaks.get(fix.device_id)
        if streak is None:
            streak = self._streaks[fix.device_id] = _Streak(since=fix.at, last=fix.at)
        elif fix.at > streak.last:
            streak.fixes, streak.last = streak.fixes + 1, fix.at
        if officer.id in memory.left:
            return
        if streak.fixes < self.outside_fixes or streak.last - streak.since < self.outside:
            return
        assert officer.grid_code is not None  # officers without a home grid are not watched
        alert = service.raise_alert(
            session,
            kind=AlertKind.LEFT_GRID,
            at=fix.at,
            title=f"{_name(session, officer.user_id)} 在岗期间离开责任网格 {officer.grid_code}",
            severity=Severity.WARNING,
            officer_id=officer.id,
            user_id=officer.user_id,
            device_id=fix.device_id,
            grid_code=officer.grid_code,
            to_role=Role.SHIFT_LEADER.value,
            data={
                "lon": fix.lon,
                "lat": fix.lat,
                "unit_grid_code": fix.unit_grid_code,
                "outside_since": streak.since.isoformat(),
                "outside_fixes": streak.fixes,
            },
            dedupe_key=left_grid_key(officer.id),
        )
        memory.left.add(officer.id)
        if alert is None:  # another process raised it first
            return
        events.publish(
            session,
            OfficerLeftGrid(
                at=fix.at, officer_id=officer.id, user_id=officer.user_id,
                device_id=fix.device_id, grid_code=officer.grid_code,
                unit_grid_code=fix.unit_grid_code, lon=fix.lon, lat=fix.lat,
            ),
        )  # fmt: skip

    def _returned(
        self, session: Session, officer: OfficerRef, fix: Fix, memory: _Memory, *, inside: bool
    ) -> None:
        """End the alert: back in his grid (OfficerReturnedToGrid), or no longer on duty."""
        memory.left.discard(officer.id)
        ended = service.resolve(session, dedupe_key=left_grid_key(officer.id), at=fix.at)
        if ended is None or not inside:
            return
        events.publish(
            session,
            OfficerReturnedToGrid(
                at=fix.at, officer_id=officer.id, user_id=officer.user_id,
                device_id=fix.device_id, grid_code=officer.grid_code,
            ),
        )  # fmt: skip

    def _back_online(self, session: Session, fix: Fix, memory: _Memory) -> None:
        if fix.at < fix.received_at - self.offline_after:
            return  # an old fix sent late does not make a device online
        memory.offline.discard(fix.device_id)
        alert = service.resolve(session, dedupe_key=offline_key(fix.device_id), at=fix.at)
        if alert is not None:
            events.publish(
                session,
                DeviceBackOnline(at=fix.at, device_id=fix.device_id, officer_id=alert.officer_id),
            )

    # alarms

    def alarm(self, session: Session, alarm: Alarm) -> None:
        """An SOS raises a critical alert at once; other alarms stay attributes of the fix."""
        if alarm.kind not in SOS_KINDS:
            return
        raise_sos(session, alarm)


def raise_sos(session: Session, alarm: Alarm) -> None:
    """Store the SOS (紧急) for the shift leader and announce it (DeviceSos)."""
    row = session.execute(
        select(Device.name, Officer.id, Officer.grid_code, User.display_name)
        .outerjoin(Officer, Officer.user_id == Device.user_id)
        .outerjoin(User, User.id == Device.user_id)
        .where(Device.id == alarm.device_id)
    ).one_or_none()
    device_name, officer_id, grid_code, person = row if row is not None else (None,) * 4
    who = person or device_name or f"设备 {alarm.device_id}"
    alert = service.raise_alert(
        session,
        kind=AlertKind.SOS,
        at=alarm.at,
        title=f"{who} 一键报警（SOS），请立即联系并派员支援",
        severity=Severity.CRITICAL,
        officer_id=officer_id,
        user_id=alarm.user_id,
        device_id=alarm.device_id,
        grid_code=grid_code,
        to_role=Role.SHIFT_LEADER.value,
        data={"lon": alarm.lon, "lat": alarm.lat, "source": alarm.source, "device": device_name},
        dedupe_key=sos_key(alarm.device_id, alarm.at),
    )
    if alert is None:
        return
    events.publish(
        session,
        DeviceSos(
            at=alarm.at, device_id=alarm.device_id, alert_id=alert.id, officer_id=officer_id,
            user_id=alarm.user_id, lon=alarm.lon, lat=alarm.lat,
        ),
    )  # fmt: skip


def _name(session: Session, user_id: int) -> str:
    name = session.scalar(select(User.display_name).where(User.id == user_id))
    return name or f"队员 {user_id}"
