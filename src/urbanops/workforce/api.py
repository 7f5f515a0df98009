"""REST routes of the field force: officers, duty, squads, shifts and devices.

Staff read; administrators and squad leaders (within their grids) write. An officer may change
his own duty status; ``busy`` is set by dispatch, never through this API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from urbanops.auth.deps import require, require_grid
from urbanops.auth.models import User
from urbanops.config import Settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import Forbidden, InvalidInput, NotFound
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep
from urbanops.workforce import service
from urbanops.workforce.models import Device, DeviceKind, DutyStatus, Officer, Squad
from urbanops.workforce.schemas import (
    DeviceIn,
    DeviceKeyOut,
    DeviceOut,
    DevicePatch,
    DutyChangeOut,
    DutyIn,
    OfficerIn,
    OfficerOut,
    OfficerPatch,
    ShiftIn,
    ShiftOut,
    SquadIn,
    SquadOut,
)

router = APIRouter(tags=["workforce"])

STAFF_ROLES = (
    Role.OPERATOR,
    Role.SHIFT_LEADER,
    Role.DISPATCHER,
    Role.GRID_OFFICER,
    Role.SQUAD_LEADER,
    Role.LEGAL_REVIEWER,
    Role.LEADER,
    Role.INTEGRATION,
)
Staff = Annotated[Actor, Depends(require(*STAFF_ROLES))]
Writer = Annotated[Actor, Depends(require(Role.SQUAD_LEADER))]
DutyWriter = Annotated[
    Actor, Depends(require(Role.SQUAD_LEADER, Role.SHIFT_LEADER, Role.GRID_OFFICER))
]
AdminOnly = Annotated[Actor, Depends(require(Role.ADMIN))]
DeviceActor = Annotated[Actor, Depends(require(Role.DEVICE))]


# --- shaping -----------------------------------------------------------------------------------


def officer_out(officer: Officer, user: User, squad: Squad | None) -> OfficerOut:
    """An officer with his user's name and his squad's code."""
    return OfficerOut(
        id=officer.id,
        user_id=officer.user_id,
        username=user.username,
        name=user.display_name,
        certificate_no=officer.certificate_no,
        squad_code=None if squad is None else squad.code,
        grid_code=officer.grid_code,
        phone=officer.phone,
        travel_mode=officer.travel_mode,
        duty_status=officer.duty_status,
        duty_since=officer.duty_since,
    )


def _officer_out(session: Session, officer: Officer) -> OfficerOut:
    user = session.get(User, officer.user_id)
    assert user is not None  # a foreign key holds it
    squad = session.get(Squad, officer.squad_id) if officer.squad_id is not None else None
    return officer_out(officer, user, squad)


def device_out(device: Device, settings: Settings, clock_now: AwareDatetime) -> DeviceOut:
    """A device with its online state now."""
    return DeviceOut(
        id=device.id,
        identifier=device.identifier,
        kind=device.kind,
        name=device.name,
        user_id=device.user_id,
        vehicle_plate=device.vehicle_plate,
        last_fix_at=device.last_fix_at,
        online=service.online(
            device, now=clock_now, offline_after_s=settings.device_offline_after_s
        ),
        has_api_key=device.api_key_id is not None,
    )


def _visible_officer(session: Session, actor: Actor, officer_id: int) -> Officer:
    """The officer, or 404 when he is outside the viewer's grids (his existence is not told)."""
    officer = service.get_officer(session, officer_id=officer_id)
    if not actor.may_see_grid(officer.grid_code) and not _is_self(actor, officer):
        raise NotFound(f"No officer {officer_id}", code="officer_not_found")
    return officer


def _is_self(actor: Actor, officer: Officer) -> bool:
    return actor.kind == "user" and actor.id == officer.user_id


def _check_device_scope(session: Session, actor: Actor, user_id: int | None) -> None:
    """A squad leader writes only devices bound to officers of his grids."""
    if actor.grid_scope is None:
        return
    officer = None if user_id is None else service.officer_of_user(session, user_id=user_id)
    require_grid(actor, None if officer is None else officer.grid_code)


# --- squads ------------------------------------------------------------------------------------


@router.get("/api/squads", operation_id="list_squads")
def list_squads(session: SessionDep, _: Staff) -> list[SquadOut]:
    """Every squad (中队) with its officers' home grids."""
    members = service.squad_members(session)
    answer = []
    for squad in service.list_squads(session):
        grids, count = members.get(squad.id, ([], 0))
        answer.append(
            SquadOut(
                id=squad.id,
                code=squad.code,
                name=squad.name,
                leader_user_id=squad.leader_user_id,
                grid_codes=grids,
                officers=count,
            )
        )
    return answer


@router.post("/api/squads", status_code=201, operation_id="create_squad")
def create_squad(session: SessionDep, clock: ClockDep, by: AdminOnly, body: SquadIn) -> SquadOut:
    """Create a squad."""
    squad = service.create_squad(
        session,
        code=body.code,
        name=body.name,
        leader_user_id=body.leader_user_id,
        by=by,
        now=clock.now(),
    )
    return SquadOut.model_validate(squad)


# --- officers ----------------------------------------------------------------------------------


@router.get("/api/officers", operation_id="list_officers")
def list_officers(
    session: SessionDep,
    viewer: Staff,
    grid_code: str | None = None,
    squad_code: str | None = None,
    duty_status: DutyStatus | None = None,
) -> list[OfficerOut]:
    """Officers the viewer may see (his grids, or all for street-wide roles)."""
    rows = service.list_officers(
        session,
        scope=viewer.grid_scope,
        grid_code=grid_code,
        squad_code=squad_code,
        duty_status=duty_status,
    )
    return [officer_out(o, u, s) for o, u, s in rows]


@router.get("/api/officers/on-shift", operation_id="officers_on_shift")
def officers_on_shift(
    session: SessionDep,
    clock: ClockDep,
    viewer: Staff,
    at: AwareDatetime | None = None,
    grid_code: str | None = None,
) -> list[OfficerOut]:
    """Officers whose shift covers ``at`` (default now)."""
    found = service.on_shift(session, at=at or clock.now(), grid_code=grid_code)
    return [_officer_out(session, o) for o in found if viewer.may_see_grid(o.grid_code)]


@router.get("/api/officers/{officer_id}", operation_id="get_officer")
def get_officer(session: SessionDep, viewer: Staff, officer_id: int) -> OfficerOut:
    """One officer."""
    return _officer_out(session, _visible_officer(session, viewer, officer_id))


@router.post("/api/officers", status_code=201, operation_id="create_officer")
def create_officer(session: SessionDep, clock: ClockDep, by: Writer, body: OfficerIn) -> OfficerOut:
    """Give a user an officer record; a squad leader only in his grids."""
    require_grid(by, body.grid_code)
    if body.duty_status is DutyStatus.BUSY:
        raise InvalidInput("busy is set by dispatch", code="busy_set_by_dispatch")
    officer = service.create_officer(session, **body.model_dump(), by=by, now=clock.now())
    return _officer_out(session, officer)


@router.patch("/api/officers/{officer_id}", operation_id="update_officer")
def update_officer(
    session: SessionDep, clock: ClockDep, by: Writer, officer_id: int, body: OfficerPatch
) -> OfficerOut:
    """Change an officer; moving him to another grid needs both grids in scope."""
    officer = _visible_officer(session, by, officer_id)
    require_grid(by, officer.grid_code)
    changes = body.model_dump(exclude_unset=True)
    if "grid_code" in changes:
        require_grid(by, changes["grid_code"])
    service.update_officer(session, officer=officer, changes=changes, by=by, now=clock.now())
    return _officer_out(session, officer)


@router.put("/api/officers/{officer_id}/duty", operation_id="set_officer_duty")
def set_duty(
    session: SessionDep, clock: ClockDep, by: DutyWriter, officer_id: int, body: DutyIn
) -> OfficerOut:
    """Set an officer's duty status: himself, his squad leader, a shift leader or an admin."""
    officer = _visible_officer(session, by, officer_id)
    may = by.has(Role.ADMIN, Role.SHIFT_LEADER) or _is_self(by, officer)
    may = may or (by.has(Role.SQUAD_LEADER) and by.may_see_grid(officer.grid_code))
    if not may:
        raise Forbidden(
            "Only the officer himself or his leaders set his duty", code="duty_not_yours"
        )
    if body.status is DutyStatus.BUSY:
        raise InvalidInput("busy is set by dispatch", code="busy_set_by_dispatch")
    service.set_duty(
        session, officer=officer, status=body.status, reason=body.reason, by=by, now=clock.now()
    )
    return _officer_out(session, officer)


@router.get("/api/officers/{officer_id}/duty", operation_id="officer_duty_history")
def duty_history(session: SessionDep, viewer: Staff, officer_id: int) -> list[DutyChangeOut]:
    """An officer's duty changes, oldest first."""
    officer = _visible_officer(session, viewer, officer_id)
    rows = service.duty_history(session, officer_id=officer.id)
    return [DutyChangeOut.model_validate(r) for r in rows]


# --- shifts ------------------------------------------------------------------------------------


@router.get("/api/shifts", operation_id="list_shifts")
def list_shifts(
    session: SessionDep,
    _: Staff,
    officer_id: int | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> list[ShiftOut]:
    """Shifts overlapping [since, until), optionally of one officer."""
    rows = service.list_shifts(session, officer_id=officer_id, since=since, until=until)
    return [ShiftOut.model_validate(r) for r in rows]


@router.post("/api/shifts", status_code=201, operation_id="create_shift")
def create_shift(session: SessionDep, clock: ClockDep, by: Writer, body: ShiftIn) -> ShiftOut:
    """Put an officer on a shift; a squad leader only for officers of his grids."""
    officer = _visible_officer(session, by, body.officer_id)
    require_grid(by, officer.grid_code)
    shift = service.create_shift(
        session,
        officer=officer,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        kind=body.kind,
        by=by,
        now=clock.now(),
    )
    return ShiftOut.model_validate(shift)


# --- devices -----------------------------------------------------------------------------------


@router.get("/api/devices", operation_id="list_devices")
def list_devices(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    _: Staff,
    online: Annotated[bool | None, Query()] = None,
    kind: DeviceKind | None = None,
) -> list[DeviceOut]:
    """Devices; ``online=true`` those with a recent fix, ``online=false`` the others."""
    now = clock.now()
    found = service.list_devices(
        session,
        now=now,
        offline_after_s=settings.device_offline_after_s,
        online_only=online,
        kind=kind,
    )
    return [device_out(d, settings, now) for d in found]


@router.get("/api/devices/me", operation_id="my_device")
def my_device(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, device: DeviceActor
) -> DeviceOut:
    """The device behind the calling API key."""
    found = (
        service.device_by_identifier(session, identifier=device.device_ref)
        if device.device_ref
        else None
    )
    if found is None:
        raise NotFound("This API key is bound to no registered device", code="device_not_found")
    return device_out(found, settings, clock.now())


@router.get("/api/devices/{device_id}", operation_id="get_device")
def get_device(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, _: Staff, device_id: int
) -> DeviceOut:
    """One device."""
    return device_out(service.get_device(session, device_id=device_id), settings, clock.now())


@router.post("/api/devices", status_code=201, operation_id="create_device")
def create_device(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, by: Writer, body: DeviceIn
) -> DeviceOut:
    """Register a device; a squad leader only for officers of his grids."""
    _check_device_scope(session, by, body.user_id)
    device = service.create_device(session, **body.model_dump(), by=by, now=clock.now())
    return device_out(device, settings, clock.now())


@router.patch("/api/devices/{device_id}", operation_id="update_device")
def update_device(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: Writer,
    device_id: int,
    body: DevicePatch,
) -> DeviceOut:
    """Rename or rebind a device."""
    device = service.get_device(session, device_id=device_id)
    _check_device_scope(session, by, device.user_id)
    changes = body.model_dump(exclude_unset=True)
    if "user_id" in changes:
        _check_device_scope(session, by, changes["user_id"])
    service.update_device(session, device=device, changes=changes, by=by, now=clock.now())
    return device_out(device, settings, clock.now())


@router.post("/api/devices/{device_id}/api-key", status_code=201, operation_id="issue_device_key")
def issue_device_key(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, by: Writer, device_id: int
) -> DeviceKeyOut:
    """A new API key for the device, answered once; any earlier key stops working."""
    device = service.get_device(session, device_id=device_id)
    _check_device_scope(session, by, device.user_id)
    key, plain = service.issue_device_key(session, device=device, by=by, now=clock.now())
    return DeviceKeyOut(
        device=device_out(device, settings, clock.now()), api_key=plain, key_prefix=key.key_prefix
    )
