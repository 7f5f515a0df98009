"""Staffing and credentials for a simulation on a seeded demo street.

``prepare`` runs once, in one transaction, before the app serves the simulation: it puts K
officers per responsibility grid on duty (more officers are hired when K exceeds the grid's team,
the surplus goes off duty), gives every officer on duty a device that reports his position
(grid leaders keep their radio or body camera, the others get a phone), and hands out the
credentials the simulated people use: a bearer token per officer and per staff member, an API
key for the device platform that posts positions in batches, and one for the channel gateway
that forwards 12345 calls, AI alarms, Open311 requests and citizens' app reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas import service as areas
from urbanops.areas.models import ResponsibilityGridOfficer
from urbanops.areas.schemas import OfficerIn
from urbanops.auth import service as auth
from urbanops.auth.models import User
from urbanops.demo.geometry import DemoStreet
from urbanops.demo.names import synthetic_names
from urbanops.kit.actor import SYSTEM, Role
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device, DeviceKind, DutyStatus, Officer, TravelMode

#: Staff the simulation acts as: operator (受理员), shift leader (值班长), dispatcher (派遣员).
STAFF = {"operator": "op01", "shift_leader": "duty01", "dispatcher": "dispatch01"}
MAX_OFFICERS_PER_GRID = 60
STAFFING_REASON = "模拟排班 simulation staffing"


@dataclass(frozen=True)
class SimOfficer:
    """An officer on duty in the simulation, with his device and his phone's token."""

    index: int
    user_id: int
    officer_id: int
    username: str
    name: str
    grid_code: str
    travel_mode: TravelMode
    device: str
    token: str


@dataclass(frozen=True)
class Credentials:
    """Everyone the simulation acts as."""

    officers: tuple[SimOfficer, ...]
    staff_tokens: dict[str, str]  # role name in STAFF → bearer token
    platform_key: str  # device platform: position batches
    gateway_key: str  # channel gateway: 12345, AI alarms, Open311, citizens' app


def prepare(
    session: Session,
    street: DemoStreet,
    *,
    now: datetime,
    officers_per_grid: int | None,
    token_ttl_s: int,
) -> Credentials:
    """Staff the grids, give devices and credentials; the caller commits."""
    if officers_per_grid is not None and not 1 <= officers_per_grid <= MAX_OFFICERS_PER_GRID:
        raise ValueError(f"officers per grid must lie in 1..{MAX_OFFICERS_PER_GRID}")
    rows = session.execute(
        select(Officer, User).join(User, User.id == Officer.user_id).order_by(User.username)
    ).all()
    members: dict[str, list[tuple[Officer, User]]] = {}
    for officer, user in rows:
        members.setdefault(officer.grid_code or "", []).append((officer, user))
    on_duty: list[tuple[Officer, User]] = []
    for number, grid in enumerate(street.responsibility_grids, start=1):
        team = members.get(grid.code, [])
        on_duty += _staff_grid(session, grid.code, number, team, officers_per_grid, now)
    devices = _devices(session, on_duty, now)
    officers = tuple(
        SimOfficer(
            index=i,
            user_id=user.id,
            officer_id=officer.id,
            username=user.username,
            name=user.display_name,
            grid_code=officer.grid_code or "",
            travel_mode=officer.travel_mode,
            device=devices[user.id],
            token=auth.issue_token(session, user=user, now=now, ttl_s=token_ttl_s),
        )
        for i, (officer, user) in enumerate(on_duty)
    )
    staff = {}
    for role, username in STAFF.items():
        member = auth.find_user(session, username=username)
        if member is None:
            raise ValueError(f"the demo street has no {username}: seed it first")
        staff[role] = auth.issue_token(session, user=member, now=now, ttl_s=token_ttl_s)
    _, platform_key = auth.create_api_key(
        session, name="定位平台（模拟）", principal_kind="integration", roles=[], by=SYSTEM, now=now
    )
    _, gateway_key = auth.create_api_key(
        session, name="渠道网关（模拟）", principal_kind="integration", roles=[], by=SYSTEM, now=now
    )
    session.flush()
    return Credentials(officers, staff, platform_key, gateway_key)


def _staff_grid(
    session: Session,
    grid_code: str,
    number: int,
    team: list[tuple[Officer, User]],
    wanted: int | None,
    now: datetime,
) -> list[tuple[Officer, User]]:
    """The grid's officers on duty: as seeded, or exactly ``wanted`` (hiring or sending home)."""
    on = [(o, u) for o, u in team if o.duty_status in (DutyStatus.ON_DUTY, DutyStatus.BUSY)]
    if wanted is None:
        return on
    for officer, _ in on[wanted:]:
        workforce.set_duty(
            session,
            officer=officer,
            status=DutyStatus.OFF_DUTY,
            reason=STAFFING_REASON,
            by=SYSTEM,
            now=now,
        )
    chosen = on[:wanted]
    missing = wanted - len(chosen)
    if missing > 0:
        chosen += _hire(session, grid_code, number, team, missing, now)
    return chosen


def _hire(
    session: Session,
    grid_code: str,
    number: int,
    team: list[tuple[Officer, User]],
    count: int,
    now: datetime,
) -> list[tuple[Officer, User]]:
    """New walking officers for a grid (users ``ghGGNN`` after the team's last number)."""
    taken = {u.username for _, u in team}
    names = synthetic_names(count=count + len(taken) + 40, seed=440309001 + number * 101)
    fresh_names = [n for n in names if n not in {u.display_name for _, u in team}]
    hired: list[tuple[Officer, User]] = []
    serial = len(team) + 1
    for name in fresh_names[:count]:
        while f"gh{number:02d}{serial:02d}" in taken:
            serial += 1
        username = f"gh{number:02d}{serial:02d}"
        serial += 1
        user = auth.find_user(session, username=username) or auth.create_user(
            session,
            username=username,
            password=None,
            display_name=name,
            roles=[Role.GRID_OFFICER],
            grid_codes=[grid_code],
            phone=f"1390000{number:02d}{serial:02d}",
            by=SYSTEM,
            now=now,
        )
        officer = workforce.officer_of_user(session, user_id=user.id) or workforce.create_officer(
            session,
            user_id=user.id,
            certificate_no=None,
            squad_code=None,
            grid_code=grid_code,
            phone=user.phone,
            travel_mode=TravelMode.WALK,
            duty_status=DutyStatus.ON_DUTY,
            by=SYSTEM,
            now=now,
        )
        hired.append((officer, user))
    _carry(session, grid_code, [u.id for _, u in hired], now)
    return hired


def _carry(session: Session, grid_code: str, user_ids: list[int], now: datetime) -> None:
    """Add officers to the grid's list of officers (网格员), keeping those it has."""
    grid = areas.get_responsibility_grid(session, code=grid_code)
    carried = select(ResponsibilityGridOfficer).where(
        ResponsibilityGridOfficer.responsibility_grid_id == grid.id
    )
    current = [OfficerIn(user_id=o.user_id, role=o.role) for o in session.scalars(carried)]
    known = {o.user_id for o in current}
    current += [OfficerIn(user_id=u, role="member") for u in user_ids if u not in known]
    areas.set_officers(session, code=grid_code, officers=current, by=SYSTEM, now=now)


def _devices(
    session: Session, on_duty: list[tuple[Officer, User]], now: datetime
) -> dict[int, str]:
    """Each officer's reporting device: his own if bound, else a phone registered for him."""
    user_ids = [u.id for _, u in on_duty]
    bound: dict[int, str] = {}
    for identifier, user_id in session.execute(
        select(Device.identifier, Device.user_id)
        .where(Device.user_id.in_(user_ids))
        .order_by(Device.id)
    ):
        if user_id is not None:
            bound.setdefault(user_id, identifier)
    for _, user in on_duty:
        if user.id not in bound:
            device = workforce.create_device(
                session,
                identifier=f"phone-{user.username}",
                kind=DeviceKind.PHONE,
                name=f"执法手机 {user.display_name}",
                user_id=user.id,
                vehicle_plate=None,
                by=SYSTEM,
                now=now,
            )
            bound[user.id] = device.identifier
    return bound
