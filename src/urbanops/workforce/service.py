"""Business operations of the field force: squads, officers, duty, shifts and devices.

Services flush and never commit; the request (or the job) owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from urbanops.areas.models import ResponsibilityGrid
from urbanops.auth import service as auth
from urbanops.auth.models import ApiKey, User
from urbanops.kit import events
from urbanops.kit.actor import Actor
from urbanops.kit.errors import Conflict, InvalidInput, NotFound, Problem
from urbanops.workforce.models import (
    Device,
    DeviceKind,
    DutyChange,
    DutyStatus,
    Officer,
    Shift,
    ShiftKind,
    Squad,
    TravelMode,
)

#: The longest shift accepted (a 24-hour duty is the most a rota ever holds).
MAX_SHIFT = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class OfficerDutyChanged(events.Event):
    """An officer's duty status changed (published after commit)."""

    name = "OfficerDutyChanged"
    officer_id: int
    user_id: int
    from_status: str | None
    to_status: str


@dataclass(frozen=True, kw_only=True)
class DeviceBound(events.Event):
    """A device now speaks for an officer (a new phone page, a binding): published after commit,
    so that caches of who carries which device (dispatch's roster) learn it at once."""

    name = "DeviceBound"
    device_id: int
    user_id: int


def _insert(session: Session, row: Any, conflict: Problem) -> None:
    """Add and flush ``row`` in a savepoint; a unique clash (also a racing one) answers 409."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise conflict from exc


def _check_certificate_free(session: Session, certificate_no: str, officer_id: int) -> None:
    holder = session.scalar(select(Officer.id).where(Officer.certificate_no == certificate_no))
    if holder is not None and holder != officer_id:
        raise Conflict(
            f"The certificate number {certificate_no!r} belongs to another officer",
            code="certificate_taken",
        )


# --- squads ------------------------------------------------------------------------------------


def get_squad(session: Session, *, code: str) -> Squad:
    """The squad with ``code``, or a 404 problem."""
    squad = session.scalar(select(Squad).where(Squad.code == code))
    if squad is None:
        raise NotFound(f"No squad has the code {code!r}", code="squad_not_found")
    return squad


def list_squads(session: Session) -> Sequence[Squad]:
    """Every squad in code order."""
    return session.scalars(select(Squad).order_by(Squad.code)).all()


def squad_members(session: Session) -> dict[int, tuple[list[str], int]]:
    """Per squad id: the home grids of its officers and how many officers it has."""
    rows = session.execute(
        select(Officer.squad_id, Officer.grid_code, func.count())
        .where(Officer.squad_id.is_not(None))
        .group_by(Officer.squad_id, Officer.grid_code)
    ).all()
    found: dict[int, tuple[list[str], int]] = {}
    for squad_id, grid_code, count in rows:
        assert squad_id is not None  # filtered above
        grids, total = found.get(squad_id, ([], 0))
        if grid_code is not None:
            grids.append(grid_code)
        found[squad_id] = (sorted(grids), total + count)
    return found


def create_squad(
    session: Session, *, code: str, name: str, leader_user_id: int | None, by: Actor, now: datetime
) -> Squad:
    """Create a squad (中队), optionally with its leader."""
    if leader_user_id is not None:
        _require_user(session, leader_user_id)
    squad = Squad(code=code, name=name, leader_user_id=leader_user_id)
    squad.stamp_created(by.ref, now)
    _insert(session, squad, Conflict(f"The squad code {code!r} is taken", code="squad_code_taken"))
    auth.audit(
        session, actor=by, action="squad.create", entity="squad", entity_id=squad.id, now=now
    )
    return squad


# --- officers ----------------------------------------------------------------------------------


def _require_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"No user {user_id}", code="unknown_user", user_id=user_id)
    return user


def _require_grid(session: Session, grid_code: str) -> str:
    found = session.scalar(
        select(ResponsibilityGrid.id).where(ResponsibilityGrid.code == grid_code)
    )
    if found is None:
        raise InvalidInput(
            f"No responsibility grid has the code {grid_code!r}",
            code="unknown_grid",
            grid_code=grid_code,
        )
    return grid_code


def _squad_id(session: Session, squad_code: str | None) -> int | None:
    if squad_code is None:
        return None
    squad_id = session.scalar(select(Squad.id).where(Squad.code == squad_code))
    if squad_id is None:
        raise InvalidInput(
            f"No squad has the code {squad_code!r}", code="unknown_squad", squad_code=squad_code
        )
    return squad_id


def get_officer(session: Session, *, officer_id: int) -> Officer:
    """The officer with ``officer_id``, or a 404 problem."""
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"No officer {officer_id}", code="officer_not_found")
    return officer


def officer_of_user(session: Session, *, user_id: int) -> Officer | None:
    """The workforce record of a user, if he has one."""
    return session.scalar(select(Officer).where(Officer.user_id == user_id))


def list_officers(
    session: Session,
    *,
    scope: frozenset[str] | None = None,
    grid_code: str | None = None,
    squad_code: str | None = None,
    duty_status: DutyStatus | None = None,
) -> Sequence[tuple[Officer, User, Squad | None]]:
    """Officers with their user and squad, limited to ``scope`` grids when given, by id."""
    query = (
        select(Officer, User, Squad)
        .join(User, User.id == Officer.user_id)
        .outerjoin(Squad, Squad.id == Officer.squad_id)
        .order_by(Officer.id)
    )
    if scope is not None:
        query = query.where(Officer.grid_code.in_(sorted(scope)))
    if grid_code is not None:
        query = query.where(Officer.grid_code == grid_code)
    if squad_code is not None:
        query = query.where(Squad.code == squad_code)
    if duty_status is not None:
        query = query.where(Officer.duty_status == duty_status)
    return [(o, u, s) for o, u, s in session.execute(query).all()]


def create_officer(
    session: Session,
    *,
    user_id: int,
    certificate_no: str | None,
    squad_code: str | None,
    grid_code: str | None,
    phone: str | None,
    travel_mode: TravelMode,
    duty_status: DutyStatus,
    by: Actor,
    now: datetime,
) -> Officer:
    """Give a user a workforce record (执法队员); the first duty status starts his history."""
    user = _require_user(session, user_id)
    if grid_code is not None:
        _require_grid(session, grid_code)
    officer = Officer(
        user_id=user.id,
        certificate_no=certificate_no,
        squad_id=_squad_id(session, squad_code),
        grid_code=grid_code,
        phone=phone if phone is not None else user.phone,
        travel_mode=travel_mode,
        duty_status=duty_status,
        duty_since=now,
    )
    officer.stamp_created(by.ref, now)
    _insert(session, officer, _officer_conflict(session, user_id, certificate_no))
    _append_duty(session, officer=officer, before=None, reason="created", by=by, now=now)
    auth.audit(
        session, actor=by, action="officer.create", entity="officer", entity_id=officer.id, now=now
    )
    return officer


def _officer_conflict(session: Session, user_id: int, certificate_no: str | None) -> Conflict:
    """The 409 answer for a clash on the user or the certificate number."""
    if officer_of_user(session, user_id=user_id) is not None:
        return Conflict(f"User {user_id} already has an officer record", code="officer_exists")
    return Conflict(
        f"The certificate number {certificate_no!r} belongs to another officer",
        code="certificate_taken",
    )


def update_officer(
    session: Session, *, officer: Officer, changes: dict[str, Any], by: Actor, now: datetime
) -> Officer:
    """Change an officer's certificate, squad, home grid, phone or travel mode."""
    changed = sorted(changes)
    if changes.get("grid_code") is not None:
        _require_grid(session, changes["grid_code"])
    if "squad_code" in changes:
        officer.squad_id = _squad_id(session, changes.pop("squad_code"))
    if changes.get("travel_mode", False) is None:
        raise InvalidInput("travel_mode cannot be cleared", code="travel_mode_required")
    if changes.get("certificate_no") is not None:
        _check_certificate_free(session, changes["certificate_no"], officer.id)
    for name, value in changes.items():
        setattr(officer, name, value)
    officer.stamp_updated(by.ref, now)
    session.flush()
    auth.audit(
        session,
        actor=by,
        action="officer.update",
        entity="officer",
        entity_id=officer.id,
        detail={"changed": changed},
        now=now,
    )
    return officer


# --- duty --------------------------------------------------------------------------------------


def _append_duty(
    session: Session,
    *,
    officer: Officer,
    before: DutyStatus | None,
    reason: str,
    by: Actor,
    now: datetime,
) -> DutyChange:
    row = DutyChange(
        officer_id=officer.id,
        at=now,
        from_status=before,
        to_status=officer.duty_status,
        reason=reason,
        by=by.ref,
    )
    session.add(row)
    session.flush()
    events.publish(
        session,
        OfficerDutyChanged(
            at=now,
            officer_id=officer.id,
            user_id=officer.user_id,
            from_status=None if before is None else before.value,
            to_status=officer.duty_status.value,
        ),
    )
    return row


def set_duty(
    session: Session,
    *,
    officer: Officer,
    status: DutyStatus,
    reason: str,
    by: Actor,
    now: datetime,
) -> Officer:
    """Change an officer's duty status (在岗/下班/培训/请假/处置中); the same status is a no-op."""
    if officer.duty_status == status:
        return officer
    before = officer.duty_status
    officer.duty_status, officer.duty_since = status, now
    officer.stamp_updated(by.ref, now)
    _append_duty(session, officer=officer, before=before, reason=reason, by=by, now=now)
    return officer


def duty_history(session: Session, *, officer_id: int) -> Sequence[DutyChange]:
    """An officer's duty changes in the order they were written."""
    return session.scalars(
        select(DutyChange).where(DutyChange.officer_id == officer_id).order_by(DutyChange.id)
    ).all()


# --- shifts ------------------------------------------------------------------------------------


def create_shift(
    session: Session,
    *,
    officer: Officer,
    starts_at: datetime,
    ends_at: datetime,
    kind: ShiftKind,
    by: Actor,
    now: datetime,
) -> Shift:
    """Put an officer on a shift (排班); it may not overlap another of his shifts."""
    if not starts_at < ends_at <= starts_at + MAX_SHIFT:
        raise InvalidInput(
            "A shift ends after it starts and lasts at most 24 hours", code="invalid_shift_times"
        )
    clash = session.scalar(
        select(Shift.id).where(
            Shift.officer_id == officer.id, Shift.starts_at < ends_at, Shift.ends_at > starts_at
        )
    )
    if clash is not None:
        raise Conflict(
            "The officer already has a shift in that time", code="shift_overlaps", shift_id=clash
        )
    shift = Shift(officer_id=officer.id, starts_at=starts_at, ends_at=ends_at, kind=kind)
    shift.stamp_created(by.ref, now)
    session.add(shift)
    session.flush()
    return shift


def list_shifts(
    session: Session,
    *,
    officer_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[Shift]:
    """Shifts overlapping [since, until), optionally of one officer, by start."""
    query = select(Shift).order_by(Shift.starts_at, Shift.id)
    if officer_id is not None:
        query = query.where(Shift.officer_id == officer_id)
    if since is not None:
        query = query.where(Shift.ends_at > since)
    if until is not None:
        query = query.where(Shift.starts_at < until)
    return session.scalars(query).all()


def on_shift(session: Session, *, at: datetime, grid_code: str | None = None) -> Sequence[Officer]:
    """Officers whose shift covers the instant ``at`` (在班), optionally of one home grid."""
    query = (
        select(Officer)
        .join(Shift, Shift.officer_id == Officer.id)
        .where(Shift.starts_at <= at, Shift.ends_at > at)
        .order_by(Officer.id)
    )
    if grid_code is not None:
        query = query.where(Officer.grid_code == grid_code)
    return session.scalars(query).unique().all()


# --- devices -----------------------------------------------------------------------------------


def get_device(session: Session, *, device_id: int) -> Device:
    """The device with ``device_id``, or a 404 problem."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(f"No device {device_id}", code="device_not_found")
    return device


def device_by_identifier(session: Session, *, identifier: str) -> Device | None:
    """The device with this identifier (IMEI or platform id), if registered."""
    return session.scalar(select(Device).where(Device.identifier == identifier))


def online(device: Device, *, now: datetime, offline_after_s: float) -> bool:
    """Whether the device's latest fix is recent enough for it to count as online (在线)."""
    return (
        device.last_fix_at is not None
        and (now - device.last_fix_at).total_seconds() <= offline_after_s
    )


def list_devices(
    session: Session,
    *,
    now: datetime,
    offline_after_s: float,
    online_only: bool | None = None,
    kind: DeviceKind | None = None,
) -> Sequence[Device]:
    """Devices by id; ``online_only`` True keeps the online ones, False the offline ones."""
    query = select(Device).order_by(Device.id)
    cutoff = now - timedelta(seconds=offline_after_s)
    if online_only is True:
        query = query.where(Device.last_fix_at >= cutoff)
    elif online_only is False:
        query = query.where(or_(Device.last_fix_at.is_(None), Device.last_fix_at < cutoff))
    if kind is not None:
        query = query.where(Device.kind == kind)
    return session.scalars(query).all()


def _check_binding(session: Session, device: Device) -> None:
    if device.user_id is not None and device.vehicle_plate is not None:
        raise InvalidInput(
            "A device is bound to an officer or to a vehicle, not both",
            code="device_binding_ambiguous",
        )
    if device.user_id is not None:
        _require_user(session, device.user_id)


def create_device(
    session: Session,
    *,
    identifier: str,
    kind: DeviceKind,
    name: str,
    user_id: int | None,
    vehicle_plate: str | None,
    by: Actor,
    now: datetime,
) -> Device:
    """Register a device (终端) bound to an officer, a vehicle, or nothing yet."""
    device = Device(
        identifier=identifier, kind=kind, name=name, user_id=user_id, vehicle_plate=vehicle_plate
    )
    _check_binding(session, device)
    device.stamp_created(by.ref, now)
    _insert(
        session,
        device,
        Conflict(f"A device {identifier!r} is registered", code="device_identifier_taken"),
    )
    auth.audit(
        session, actor=by, action="device.create", entity="device", entity_id=device.id, now=now
    )
    return device


def update_device(
    session: Session, *, device: Device, changes: dict[str, Any], by: Actor, now: datetime
) -> Device:
    """Rename, rebind or change the kind of a device."""
    if changes.get("kind", False) is None or changes.get("name", False) is None:
        raise InvalidInput("kind and name cannot be cleared", code="field_required")
    for name, value in changes.items():
        setattr(device, name, value)
    _check_binding(session, device)
    device.stamp_updated(by.ref, now)
    session.flush()
    auth.audit(
        session,
        actor=by,
        action="device.update",
        entity="device",
        entity_id=device.id,
        detail={"changed": sorted(changes)},
        now=now,
    )
    return device


def issue_device_key(
    session: Session, *, device: Device, by: Actor, now: datetime
) -> tuple[ApiKey, str]:
    """A new API key for the device (``device_ref`` = its identifier); the old one is revoked."""
    if device.api_key_id is not None:
        old = session.get(ApiKey, device.api_key_id)
        if old is not None:
            auth.revoke_api_key(session, key_id=old.id, by=by, now=now)
    key, plain = auth.create_api_key(
        session,
        name=f"{device.kind.value} {device.identifier}",
        principal_kind="device",
        roles=[],
        by=by,
        now=now,
        user_id=device.user_id,
        device_ref=device.identifier,
    )
    device.api_key_id = key.id
    device.stamp_updated(by.ref, now)
    session.flush()
    return key, plain


def note_fixes(session: Session, *, fixes: Sequence[tuple[int, datetime]]) -> None:
    """Move each device's ``last_fix_at`` forward to its fix time (never back)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    note_fix_times(
        session,
        device_ids=[device_id for device_id, _ in fixes],
        times=[_stored_text(at, sqlite=sqlite) for _, at in fixes],
    )


def note_fix_times(session: Session, *, device_ids: Sequence[int], times: Sequence[str]) -> None:
    """``note_fixes`` at driver level, for the position writer: one executemany of plain tuples.

    ``times`` are the instants as the database stores them — on SQLite naive UTC text
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (what SQLAlchemy writes for ``UTCDateTime``, so text order is
    time order), on PostgreSQL ISO 8601 with its zone. Going through the ORM's executemany cost
    20–35 µs a device (a bind processor per value); this costs a few: an executemany of tuples
    on SQLite, one ``UPDATE … FROM unnest(…)`` on PostgreSQL (pairs in device order).
    """
    if not device_ids:
        return
    rows = sorted(zip(device_ids, times, strict=True))
    connection = session.connection().connection
    if session.get_bind().dialect.name == "postgresql":
        raw = connection.driver_connection
        assert raw is not None
        ids, stamps = zip(*rows, strict=True)
        with raw.cursor() as cursor:  # one statement, the pairs as two arrays
            cursor.execute(
                "UPDATE device SET last_fix_at = v.at "
                "FROM unnest(%s::bigint[], %s::text[]::timestamptz[]) AS v (id, at) "
                "WHERE device.id = v.id AND (last_fix_at IS NULL OR last_fix_at < v.at)",
                (list(ids), list(stamps)),
            )
        return
    cursor = connection.cursor()
    try:
        cursor.executemany(
            "UPDATE device SET last_fix_at = ?2 WHERE id = ?1 "
            "AND (last_fix_at IS NULL OR last_fix_at < ?2)",
            rows,
        )
    finally:
        cursor.close()


def _stored_text(at: datetime, *, sqlite: bool) -> str:
    """An aware instant as ``note_fix_times`` wants it."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given for a fix time")
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else utc.isoformat()
