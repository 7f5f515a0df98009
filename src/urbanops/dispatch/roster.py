"""What a recommendation reads without a big query: the roster of officers and grid neighbours.

``Roster`` holds every officer of one database in memory (grid, travel mode, duty status, name,
devices), grouped by home responsibility grid. It reloads itself when older than its time to live
and is patched at once by ``OfficerDutyChanged`` events, so a duty change made in this process is
seen by the next recommendation; a change made in another process is seen within the TTL. Before
a case is actually given to an officer, the service re-reads his row (``confirm_on_duty``): a
stale roster can suggest, never assign.

``neighbours`` are the responsibility grids whose outlines lie within a small distance of a grid
(touching ones included), computed from the grid geometry once and cached under the ``grids``
revision token, so every process sees an edited grid at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from math import cos, radians
from typing import Protocol

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas.models import ResponsibilityGrid
from urbanops.auth.models import User
from urbanops.kit import revision
from urbanops.workforce.models import Device, DutyStatus, Officer, TravelMode
from urbanops.workforce.positions_models import position_latest_table

_METRES_PER_DEGREE = 6_371_008.8 * np.pi / 180.0


@dataclass(frozen=True)
class RosterEntry:
    """One officer as dispatch sees him."""

    officer_id: int
    user_id: int
    name: str
    grid_code: str | None
    travel_mode: TravelMode
    duty_status: DutyStatus
    device_ids: tuple[int, ...]


@dataclass
class _Snapshot:
    database: str
    loaded_at: float
    by_user: dict[int, RosterEntry] = field(default_factory=dict)
    by_officer: dict[int, int] = field(default_factory=dict)  # officer id → user id
    by_grid: dict[str | None, list[int]] = field(default_factory=dict)  # grid → user ids


class Roster:
    """The officers of one database, in memory; one per app (see the module docstring)."""

    def __init__(self, *, ttl_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._snapshot: _Snapshot | None = None
        self._fixed = False  # built from entries in memory: never reloaded
        self._patches = 0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, entries: Iterable[RosterEntry]) -> Roster:
        """A roster of ``entries`` held in memory, never reloaded (benchmarks, simulations)."""
        roster = cls(ttl_s=float("inf"))
        roster._snapshot = _Snapshot(database="memory", loaded_at=0.0)
        for entry in entries:
            _add(roster._snapshot, entry)
        roster._fixed = True
        return roster

    def _current(self, session: Session | None) -> _Snapshot:
        snap = self._snapshot
        if self._fixed and snap is not None:
            return snap
        if session is None:
            raise ValueError("this roster loads from a database: pass a session")
        database = revision.database_key(session)
        fresh = snap is not None and self._monotonic() - snap.loaded_at <= self.ttl_s
        if snap is not None and fresh and snap.database == database:
            return snap
        with self._lock:
            snap = load_snapshot(session, database=database, at=self._monotonic())
            self._snapshot = snap
        return snap

    def entries(
        self, session: Session | None, *, grids: Iterable[str | None] | None = None
    ) -> list[RosterEntry]:
        """Officers of ``grids`` (every officer when None), each once."""
        snap = self._current(session)
        if grids is None:
            return list(snap.by_user.values())
        return [snap.by_user[u] for g in dict.fromkeys(grids) for u in snap.by_grid.get(g, ())]

    def refresh(self, session: Session | None) -> None:
        """Reload now if the loaded roster is stale (``entries`` and ``entry`` do it too)."""
        self._current(session)

    def entry(self, session: Session | None, *, user_id: int) -> RosterEntry | None:
        """The officer who is user ``user_id``, if any."""
        return self._current(session).by_user.get(user_id)

    @property
    def version(self) -> int:
        """Changes whenever the roster is reloaded or patched (for caches built on it)."""
        return hash((id(self._snapshot), self._patches))

    def note_duty(self, *, officer_id: int, status: str) -> None:
        """Apply a committed duty change (``OfficerDutyChanged``) to the loaded roster."""
        snap = self._snapshot
        if snap is None or officer_id not in snap.by_officer:
            return
        user_id = snap.by_officer[officer_id]
        snap.by_user[user_id] = replace(snap.by_user[user_id], duty_status=DutyStatus(status))
        self._patches += 1

    def note_devices(self, *, user_id: int, device_ids: Iterable[int]) -> None:
        """Remember devices found bound to an officer since the roster was loaded."""
        snap = self._snapshot
        entry = None if snap is None else snap.by_user.get(user_id)
        if snap is not None and entry is not None:
            merged = tuple(dict.fromkeys((*entry.device_ids, *device_ids)))
            if merged != entry.device_ids:
                snap.by_user[user_id] = replace(entry, device_ids=merged)
                self._patches += 1

    def invalidate(self) -> None:
        """Reload on the next read (a roster held in memory stays as it is)."""
        if not self._fixed:
            self._snapshot = None


def load_snapshot(session: Session, *, database: str, at: float) -> _Snapshot:
    """Every officer with his user's name and his devices, in two queries."""
    devices: dict[int, list[int]] = {}
    bound = select(Device.id, Device.user_id).where(Device.user_id.is_not(None))
    for device_id, user_id in session.execute(bound.order_by(Device.id)):
        if user_id is not None:
            devices.setdefault(user_id, []).append(device_id)
    snap = _Snapshot(database=database, loaded_at=at)
    rows = session.execute(
        select(
            Officer.id,
            Officer.user_id,
            User.display_name,
            Officer.grid_code,
            Officer.travel_mode,
            Officer.duty_status,
        )
        .join(User, User.id == Officer.user_id)
        .where(User.is_active.is_(True))
        .order_by(Officer.id)
    )
    for officer_id, user_id, name, grid_code, mode, status in rows:
        entry = RosterEntry(
            officer_id, user_id, name, grid_code, mode, status, tuple(devices.get(user_id, ()))
        )
        _add(snap, entry)
    return snap


def _add(snap: _Snapshot, entry: RosterEntry) -> None:
    snap.by_user[entry.user_id] = entry
    snap.by_officer[entry.officer_id] = entry.user_id
    snap.by_grid.setdefault(entry.grid_code, []).append(entry.user_id)


# --- positions ---------------------------------------------------------------------------------


class FixLike(Protocol):
    """What dispatch reads of a fix (``workforce.positions.Fix`` or a stored row)."""

    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def at(self) -> datetime: ...


class PositionSource(Protocol):
    """This process's latest fixes (``workforce.positions.PositionIngest``)."""

    def latest(self, device_id: int) -> FixLike | None: ...


@dataclass(frozen=True)
class StoredFix:
    lon: float
    lat: float
    at: datetime


def stored_fixes(session: Session, device_ids: Iterable[int]) -> dict[int, StoredFix]:
    """The stored latest fix (``position_latest``) of each of ``device_ids`` that has one."""
    ids = sorted(set(device_ids))
    table = position_latest_table
    found: dict[int, StoredFix] = {}
    for start in range(0, len(ids), 1000):
        query = select(table.c.device_id, table.c.lon, table.c.lat, table.c.at).where(
            table.c.device_id.in_(ids[start : start + 1000])
        )
        for device_id, lon, lat, at in session.execute(query):
            found[device_id] = StoredFix(lon, lat, at)
    return found


def devices_of(session: Session, user_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Devices bound to each of ``user_ids`` (for officers the roster knows none of)."""
    ids = sorted(set(user_ids))
    found: dict[int, list[int]] = {}
    for start in range(0, len(ids), 1000):
        query = select(Device.id, Device.user_id).where(
            Device.user_id.in_(ids[start : start + 1000])
        )
        for device_id, user_id in session.execute(query.order_by(Device.id)):
            if user_id is not None:
                found.setdefault(user_id, []).append(device_id)
    return {user: tuple(devices) for user, devices in found.items()}


# --- neighbouring grids ------------------------------------------------------------------------

Neighbours = dict[str, frozenset[str]]

_neighbour_caches: dict[float, revision.RevisionCache[Neighbours]] = {}
_neighbour_lock = threading.Lock()


def neighbours(session: Session, *, grid_code: str, within_m: float) -> frozenset[str]:
    """Responsibility grids within ``within_m`` metres of ``grid_code`` (itself excluded)."""
    with _neighbour_lock:
        cache = _neighbour_caches.get(within_m)
        if cache is None:
            cache = _neighbour_caches[within_m] = revision.RevisionCache(
                revision.GRIDS, lambda s: grid_neighbours(_grid_outlines(s), within_m=within_m)
            )
    return cache.get(session).get(grid_code, frozenset())


def _grid_outlines(session: Session) -> list[tuple[str, BaseGeometry]]:
    rows = session.execute(
        select(ResponsibilityGrid.code, ResponsibilityGrid.geometry).where(
            ResponsibilityGrid.geometry.is_not(None)
        )
    )
    return [(code, shapely.from_wkb(wkb)) for code, wkb in rows]


def grid_neighbours(outlines: list[tuple[str, BaseGeometry]], *, within_m: float) -> Neighbours:
    """Grid code → codes of the grids whose outlines lie within ``within_m`` metres of it."""
    if not outlines:
        return {}
    codes = [code for code, _ in outlines]
    geometries = np.array([geometry for _, geometry in outlines], dtype=object)
    centre = shapely.union_all(geometries).centroid
    scale = cos(radians(centre.y))
    local = shapely.transform(
        geometries, lambda xy: np.column_stack((xy[:, 0] * scale, xy[:, 1])) * _METRES_PER_DEGREE
    )
    tree = shapely.STRtree(local)
    found: dict[str, set[str]] = {code: set() for code in codes}
    pairs = tree.query(local, predicate="dwithin", distance=max(within_m, 1e-6))
    for i, j in pairs.T.tolist():
        if i != j:
            found[codes[i]].add(codes[j])
    return {code: frozenset(near) for code, near in found.items()}
