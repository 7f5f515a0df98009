"""Seed the demo street 观湖 (440309001) into a database through the modules' own services.

The areas go in through the real import path (the same checks a city's GIS file gets); users,
responsibility grids, devices and cameras through their services or tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas import service as areas
from urbanops.areas.models import Area
from urbanops.areas.schemas import OfficerIn
from urbanops.auth import passwords
from urbanops.auth import service as auth
from urbanops.demo.geometry import DemoStreet, build_guanhu
from urbanops.demo.geometry import Officer as DemoOfficer
from urbanops.kit.actor import SYSTEM, Role
from urbanops.video.models import Camera, CameraKind
from urbanops.workforce.models import (
    Device,
    DeviceKind,
    DutyChange,
    DutyStatus,
    Officer,
    Squad,
    TravelMode,
)

#: Every demo account signs in with this password (printed by ``urbanops demo``).
DEMO_PASSWORD = "guanhu-demo"
STREET_CODE = "440309001"
SQUAD_NAMES = ("第一中队", "第二中队", "第三中队")
#: Demo duty plan by member number within a grid: a few away, the rest on duty.
TRAINING_MEMBER, LEAVE_MEMBER = 7, 11


@dataclass(frozen=True)
class SeedSummary:
    communities: int
    unit_grids: int
    responsibility_grids: int
    users: int
    cameras: int
    devices: int

    def __str__(self) -> str:
        return (
            f"{self.communities} communities, {self.unit_grids} unit grids, "
            f"{self.responsibility_grids} responsibility grids, {self.users} users, "
            f"{self.cameras} cameras, {self.devices} devices"
        )


def seed_demo_street(session: Session, *, now: datetime | None = None) -> SeedSummary:
    """Store the demo street once; a second call finds it and changes nothing."""
    street = build_guanhu()
    now = now or datetime.now(UTC)
    if session.scalar(select(Area.id).where(Area.code == STREET_CODE)) is None:
        _import_areas(session, street, now)
        user_ids = _create_users(session, street, now)
        _create_responsibility_grids(session, street, user_ids, now)
        _create_devices(session, street, user_ids, now)
        _create_workforce(session, street, user_ids, now)
        _create_cameras(session, street, now)
        session.flush()
    return _summary(street)


def _summary(street: DemoStreet) -> SeedSummary:
    return SeedSummary(
        communities=len(street.communities),
        unit_grids=len(street.unit_grids),
        responsibility_grids=len(street.responsibility_grids),
        users=len(street.officers) + len(street.staff),
        cameras=len(street.cameras),
        devices=len(street.devices),
    )


def _feature(code: str, name: str, geometry: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": mapping(geometry),
    }


def _import_areas(session: Session, street: DemoStreet, now: datetime) -> None:
    features = [
        _feature(street.district.code, street.district.name, street.district.polygon),
        _feature(street.street.code, street.street.name, street.street.polygon),
        *(_feature(c.code, c.name, c.polygon) for c in street.communities),
        *(_feature(g.code, f"单元网格 {g.code[-3:]}", g.polygon) for g in street.unit_grids),
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    areas.import_areas(
        session, data=data, filename="guanhu.geojson", crs="wgs84", level=None, by=SYSTEM, now=now
    )


def _create_users(session: Session, street: DemoStreet, now: datetime) -> dict[str, int]:
    """All demo accounts share one Argon2 hash of the demo password (hashing 300 is slow)."""
    shared_hash = passwords.hash_password(DEMO_PASSWORD)
    people: list[tuple[str, str, str, list[Role], list[str]]] = [
        (s.username, s.name, s.phone, [s.role], list(s.grid_codes)) for s in street.staff
    ]
    people += [(o.username, o.name, o.phone, [o.role], [o.grid_code]) for o in street.officers]
    ids: dict[str, int] = {}
    for username, name, phone, roles, grids in people:
        user = auth.create_user(
            session,
            username=username,
            password=None,
            display_name=name,
            roles=roles,
            grid_codes=grids,
            phone=phone,
            by=SYSTEM,
            now=now,
        )
        user.password_hash = shared_hash
        ids[username] = user.id
    return ids


def _create_responsibility_grids(
    session: Session, street: DemoStreet, user_ids: dict[str, int], now: datetime
) -> None:
    for grid in street.responsibility_grids:
        areas.create_responsibility_grid(
            session,
            code=grid.code,
            name=grid.name,
            street_code=street.street.code,
            unit_grid_codes=grid.unit_grid_codes,
            by=SYSTEM,
            now=now,
        )
        officers = [
            OfficerIn(user_id=user_ids[o.username], role="leader" if o.is_grid_leader else "member")
            for o in street.officers
            if o.grid_code == grid.code
        ]
        areas.set_officers(session, code=grid.code, officers=officers, by=SYSTEM, now=now)


def _create_devices(
    session: Session, street: DemoStreet, user_ids: dict[str, int], now: datetime
) -> None:
    for d in street.devices:
        device = Device(
            identifier=d.identifier,
            kind=DeviceKind(d.kind),
            name=d.name,
            user_id=user_ids.get(d.username) if d.username else None,
            vehicle_plate=d.vehicle_plate,
        )
        device.stamp_created(SYSTEM.ref, now)
        session.add(device)


def _create_workforce(
    session: Session, street: DemoStreet, user_ids: dict[str, int], now: datetime
) -> None:
    """Three squads (one per squad leader, over his grids) and an officer row per grid officer."""
    squad_of_grid: dict[str, int] = {}
    leaders = [s for s in street.staff if s.role is Role.SQUAD_LEADER]
    for n, (leader, name) in enumerate(zip(leaders, SQUAD_NAMES, strict=False), start=1):
        squad = Squad(code=f"SQ{n:02d}", name=name, leader_user_id=user_ids[leader.username])
        squad.stamp_created(SYSTEM.ref, now)
        session.add(squad)
        session.flush()
        squad_of_grid.update({code: squad.id for code in leader.grid_codes})
    officers = [_demo_officer(o, user_ids, squad_of_grid, now) for o in street.officers]
    session.add_all(officers)
    session.flush()
    session.add_all(
        DutyChange(
            officer_id=o.id,
            at=now,
            from_status=None,
            to_status=o.duty_status,
            reason="demo",
            by=SYSTEM.ref,
        )
        for o in officers
    )


def _demo_officer(
    officer: DemoOfficer, user_ids: dict[str, int], squad_of_grid: dict[str, int], now: datetime
) -> Officer:
    member = int(officer.username[-2:])
    status = {TRAINING_MEMBER: DutyStatus.TRAINING, LEAVE_MEMBER: DutyStatus.LEAVE}.get(
        member, DutyStatus.ON_DUTY
    )
    row = Officer(
        user_id=user_ids[officer.username],
        certificate_no=officer.certificate_no,
        squad_id=squad_of_grid.get(officer.grid_code),
        grid_code=officer.grid_code,
        phone=officer.phone,
        travel_mode=TravelMode.BICYCLE if officer.is_grid_leader else TravelMode.WALK,
        duty_status=status,
        duty_since=now,
    )
    row.stamp_created(SYSTEM.ref, now)
    return row


def _create_cameras(session: Session, street: DemoStreet, now: datetime) -> None:
    for c in street.cameras:
        camera = Camera(
            code=c.code,
            name=c.name,
            kind=CameraKind(c.kind),
            lon=c.point.x,
            lat=c.point.y,
            bearing_deg=c.bearing_deg,
            unit_grid_code=c.unit_grid_code,
        )
        camera.stamp_created(SYSTEM.ref, now)
        session.add(camera)
