"""Periodic and event-driven alerts: silent devices of officers on duty, late and escalated cases.

``device_watch`` runs on the app's ``PeriodicRunner`` beside the deadline sweeper. Each pass, in
one transaction: devices bound to an officer on duty that sent nothing for longer than
``device_offline_after_s`` get a ``device_offline`` alert (设备离线, once: the dedupe key), and
alerts whose condition is over end (the device is online again, the officer went off duty). A
device's silence counts from the later of its last fix and its officer's start of duty, so an
officer who has just clocked in is not reported before his radio had time to speak. Idempotent
and safe in several processes: the open-key index lets one alert through.

The case sweeper's news (``DeadlineMissed``, ``CaseEscalated``) arrives after its commit; the
handler stores the alert in a transaction of its own. The dedupe key holds the event's instant,
so the same news heard by several processes (a cross-process event transport) is stored once,
while a stage missed again after rework is a new alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from urbanops.alerts import service
from urbanops.alerts.events import DeviceBackOnline, DeviceWentOffline
from urbanops.alerts.models import Alert, AlertKind, Severity
from urbanops.alerts.watch import ON_DUTY, left_grid_key, offline_key
from urbanops.auth.models import User
from urbanops.cases.events import CaseEscalated, DeadlineMissed
from urbanops.cases.models import Case
from urbanops.cases.tasks import squad_leader_of
from urbanops.config import Settings
from urbanops.kit import events
from urbanops.kit.actor import ROLE_NAMES, Role
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work
from urbanops.workforce.models import Device, Officer

log = logging.getLogger(__name__)

#: Stages of a case (and the whole-case deadlines) as the console names them.
STAGE_NAMES = {
    "verify": "核实",
    "register": "立案",
    "dispatch": "派遣",
    "respond": "响应",
    "handle": "处置",
    "check": "核查",
    "close": "结案",
    "contact": "联系诉求人",
}


@dataclass
class DeviceWatchReport:
    """What one pass did."""

    offline: int = 0
    back_online: int = 0
    ended: int = 0  # alerts ended because the officer is no longer on duty


def watch_devices(
    session: Session, *, now: datetime, offline_after_s: float, tz: tzinfo = UTC
) -> DeviceWatchReport:
    """One pass over the devices of officers on duty; flushes, never commits."""
    cutoff = now - timedelta(seconds=offline_after_s)
    report = DeviceWatchReport()
    open_offline = _open_ids(session, AlertKind.DEVICE_OFFLINE, "device_offline:")
    silent = session.execute(
        select(Device.id, Device.name, Device.last_fix_at, Officer.id, Officer.user_id,
               Officer.grid_code, User.display_name)
        .join(Officer, Officer.user_id == Device.user_id)
        .join(User, User.id == Officer.user_id)
        .where(
            Officer.duty_status.in_(sorted(ON_DUTY)),
            Officer.duty_since < cutoff,
            or_(Device.last_fix_at.is_(None), Device.last_fix_at < cutoff),
        )
        .order_by(Device.id)
    ).all()  # fmt: skip
    for device_id, device_name, last_fix_at, officer_id, user_id, grid_code, person in silent:
        if device_id in open_offline:
            continue
        since = (
            "从未上报定位"
            if last_fix_at is None
            else f"最后定位 {last_fix_at.astimezone(tz):%m-%d %H:%M}"
        )
        alert = service.raise_alert(
            session, kind=AlertKind.DEVICE_OFFLINE, at=now, severity=Severity.WARNING,
            title=f"{person} 的 {device_name} 在岗期间离线（{since}）",
            officer_id=officer_id, user_id=user_id, device_id=device_id, grid_code=grid_code,
            to_role=Role.SHIFT_LEADER.value, dedupe_key=offline_key(device_id),
            data={"last_fix_at": None if last_fix_at is None else last_fix_at.isoformat(),
                  "offline_after_s": offline_after_s},
        )  # fmt: skip
        if alert is not None:
            report.offline += 1
            events.publish(
                session,
                DeviceWentOffline(
                    at=now, device_id=device_id, officer_id=officer_id, user_id=user_id,
                    last_fix_at=None if last_fix_at is None else last_fix_at.isoformat(),
                ),
            )  # fmt: skip
    still = {row[0] for row in silent}
    for device_id in sorted(open_offline - still):
        report.back_online += _end_offline(session, device_id, now=now, cutoff=cutoff)
    report.ended += _end_left_grid_off_duty(session, now=now)
    return report


def _open_ids(session: Session, kind: AlertKind, prefix: str) -> set[int]:
    return {int(k.rsplit(":", 1)[1]) for k in service.open_keys(session, kind=kind, prefix=prefix)}


def _end_offline(session: Session, device_id: int, *, now: datetime, cutoff: datetime) -> int:
    """End a device's offline alert: it spoke again, or its officer is no longer on duty."""
    alert = service.resolve(session, dedupe_key=offline_key(device_id), at=now)
    if alert is None:
        return 0
    last = session.scalar(select(Device.last_fix_at).where(Device.id == device_id))
    if last is not None and last >= cutoff:
        events.publish(
            session, DeviceBackOnline(at=now, device_id=device_id, officer_id=alert.officer_id)
        )
        return 1
    return 0


def _end_left_grid_off_duty(session: Session, *, now: datetime) -> int:
    """End the left-grid alerts of officers who went off duty (the watch sees no fix of them)."""
    officer_ids = _open_ids(session, AlertKind.LEFT_GRID, "left_grid:")
    if not officer_ids:
        return 0
    off = session.scalars(
        select(Officer.id).where(
            Officer.id.in_(sorted(officer_ids)), Officer.duty_status.not_in(sorted(ON_DUTY))
        )
    ).all()
    return sum(
        service.resolve(session, dedupe_key=left_grid_key(i), at=now) is not None for i in off
    )


def device_watch_job(settings: Settings) -> Callable[[sessionmaker[Session], Clock], Any]:
    """The periodic job (``kit.jobs``) with the operator's offline setting and time zone."""
    offline_after_s, tz = settings.device_offline_after_s, ZoneInfo(settings.timezone)

    def _job(factory: sessionmaker[Session], clock: Clock) -> DeviceWatchReport:
        with unit_of_work(factory) as session:
            report = watch_devices(session, now=clock.now(), offline_after_s=offline_after_s, tz=tz)
        if report.offline or report.back_online or report.ended:
            log.info("device watch: %s", report)
        return report

    return _job


# --- the case sweeper's news -------------------------------------------------------------------


def case_alert(session: Session, event: DeadlineMissed | CaseEscalated) -> Alert | None:
    """Store the alert of a missed deadline (超时) or an escalation (升级); None if already held."""
    row = session.execute(
        select(Case.responsibility_grid_code, Case.officer_id).where(Case.id == event.case_id)
    ).one_or_none()
    grid_code, user_id = row if row is not None else (None, None)
    officer_id = (
        None
        if user_id is None
        else session.scalar(select(Officer.id).where(Officer.user_id == user_id))
    )
    stamp = f"{event.at.astimezone(UTC):%Y%m%dT%H%M%S}"
    to_user_id: int | None = None
    if isinstance(event, DeadlineMissed):
        kind, severity, to_role = AlertKind.DEADLINE_MISSED, Severity.WARNING, Role.SHIFT_LEADER
        title = f"案件 {event.number} {STAGE_NAMES.get(event.stage, event.stage)}超时"
        data: dict[str, Any] = {"number": event.number, "stage": event.stage}
        key = f"deadline_missed:{event.case_id}:{event.stage}:{stamp}"
    else:
        kind, to_role = AlertKind.ESCALATION, Role(event.to_role)
        severity = Severity.CRITICAL if event.level >= 2 else Severity.WARNING
        if event.level >= 2:
            leader = squad_leader_of(session, grid_code=grid_code)
            to_user_id = leader[0] if leader else None
        title = f"案件 {event.number} 超时未办结，已升级至{ROLE_NAMES[to_role]}"
        data = {"number": event.number, "level": event.level}
        key = f"escalation:{event.case_id}:{event.level}:{stamp}"
    return service.raise_alert(
        session, kind=kind, at=event.at, title=title, severity=severity, officer_id=officer_id,
        user_id=user_id, case_id=event.case_id, grid_code=grid_code, to_role=to_role.value,
        to_user_id=to_user_id, data={**data, "state": event.state}, dedupe_key=key,
    )  # fmt: skip


def store_case_alert(factory: sessionmaker[Session], event: DeadlineMissed | CaseEscalated) -> None:
    """The bus handler: the case's transaction is committed, so this one is its own."""
    with unit_of_work(factory) as session:
        case_alert(session, event)
