"""Position ingestion (定位上报): check, filter, buffer and write device fixes in batches.

Every way in (OsmAnd, JSON batches, the officer's browser) ends in ``PositionIngest.submit``:
each raw fix is checked (``FixError`` with a stable reason: ``invalid_coordinates``,
``invalid_time``, ``future_time``, ``invalid_number``), then filtered against the device's
previous fixes (``duplicate``, ``poor_accuracy``, ``impossible_speed``, ``not_valid``). Accepted
fixes update the in-memory latest position at once and wait in a buffer that ``flush`` writes in
one go: COPY on PostgreSQL (into daily partitions created on demand), one executemany on SQLite,
plus an upsert of ``position_latest``. A background thread flushes every
``flush_interval_s`` (or sooner when ``flush_max`` fixes wait).

Durability: a fix is acknowledged once buffered (Traccar semantics), so a crash can lose at most
the last flush interval of fixes; a failed write puts the fixes back for the next flush. Reports
and cases are never acknowledged this way.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from urbanops.areas import locator
from urbanops.areas.codes import AreaLevel
from urbanops.config import Settings
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device
from urbanops.workforce.positions_models import (
    FIX_COLUMNS,
    position_latest_table,
)

log = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]

#: Speed units of the OsmAnd ``speed`` parameter (Traccar's ``osmand.speed``), to m/s.
SPEED_TO_MPS = {"knots": 1852 / 3600, "kmh": 1 / 3.6, "mps": 1.0, "mph": 1609.344 / 3600}
EARTH_RADIUS_M = 6_371_008.8
_EPOCH_MS_FROM = 2**31  # Traccar: integer timestamps at or above this are milliseconds


class FixError(ValueError):
    """A fix that cannot be stored; ``reason`` is a stable snake_case code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Limits:
    """Filtering and buffering limits; ``from_settings`` takes the operator's values."""

    max_accuracy_m: float = 100.0
    max_speed_kmh: float = 200.0
    max_future_s: float = 300.0
    osmand_speed_unit: str = "knots"
    flush_interval_s: float = 0.25
    flush_max: int = 20_000
    buffer_max: int = 500_000
    device_cache_ttl_s: float = 60.0
    recent_per_device: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits an operator set (``URBANOPS_POSITION_*``, ``URBANOPS_OSMAND_SPEED_UNIT``)."""
        return cls(
            max_accuracy_m=settings.position_max_accuracy_m,
            max_speed_kmh=settings.position_max_speed_kmh,
            osmand_speed_unit=settings.osmand_speed_unit,
            flush_interval_s=settings.position_flush_interval_s,
        )


@dataclass(frozen=True)
class DeviceRef:
    """What ingestion needs of a device: its id, identifier and the officer it is bound to."""

    id: int
    identifier: str
    user_id: int | None


class Fix:
    """One checked fix, WGS84, speed in m/s, battery in percent."""

    __slots__ = (
        "accuracy_m",
        "altitude",
        "at",
        "attributes",
        "battery",
        "course",
        "device_id",
        "lat",
        "lon",
        "received_at",
        "source",
        "speed_mps",
        "unit_grid_code",
        "user_id",
    )

    def __init__(
        self,
        *,
        device: DeviceRef,
        at: datetime,
        received_at: datetime,
        lon: float,
        lat: float,
        source: str,
        speed_mps: float | None = None,
        course: float | None = None,
        altitude: float | None = None,
        accuracy_m: float | None = None,
        battery: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self.device_id, self.user_id = device.id, device.user_id
        self.at, self.received_at, self.lon, self.lat = at, received_at, lon, lat
        self.source, self.speed_mps, self.course, self.altitude = (
            source,
            speed_mps,
            course,
            altitude,
        )
        self.accuracy_m, self.battery, self.attributes = accuracy_m, battery, attributes
        self.unit_grid_code: str | None = None

    def row(self) -> dict[str, Any]:
        """The fix as a row of ``position`` / ``position_latest``."""
        return {name: getattr(self, name) for name in FIX_COLUMNS}


@dataclass(frozen=True)
class Rejection:
    """A fix not stored: its index in the request, the reason code and a sentence."""

    index: int
    reason: str
    detail: str


# --- checking raw values ---------------------------------------------------------------------


def number(value: Any, name: str) -> float | None:
    """A finite float from a number or numeric text; None for absent/empty."""
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise FixError("invalid_number", f"{name} is not a number: {value!r}") from exc
    if not math.isfinite(result):
        raise FixError("invalid_number", f"{name} is not a finite number: {value!r}")
    return result


def coordinates(lat: Any, lon: Any) -> tuple[float, float]:
    """Latitude and longitude in range (WGS84 degrees), as ``(lon, lat)``."""
    try:
        y, x = number(lat, "lat"), number(lon, "lon")
    except FixError as exc:
        raise FixError("invalid_coordinates", exc.detail) from exc
    if y is None or x is None:
        raise FixError("invalid_coordinates", "lat and lon are required")
    if not -90.0 <= y <= 90.0:
        raise FixError("invalid_coordinates", f"latitude {y} is outside -90..90")
    if not -180.0 <= x <= 180.0:
        raise FixError("invalid_coordinates", f"longitude {x} is outside -180..180")
    return x, y


def parse_time(value: Any, *, now: datetime) -> datetime:
    """Epoch seconds (< 2^31) or milliseconds, ISO 8601, or ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    if value is None or value == "":
        return now
    if isinstance(value, bool):
        raise FixError("invalid_time", f"timestamp is not a time: {value!r}")
    if isinstance(value, int | float) or _numeric(value):
        stamp = float(value)
        if not math.isfinite(stamp) or stamp < 0:
            raise FixError("invalid_time", f"timestamp is not a time: {value!r}")
        seconds = stamp if stamp < _EPOCH_MS_FROM else stamp / 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise FixError("invalid_time", f"timestamp out of range: {value!r}") from exc
    if not isinstance(value, str):
        raise FixError("invalid_time", f"timestamp is not a time: {value!r}")
    try:
        parsed = (
            datetime.fromisoformat(value)
            if "T" in value
            else datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        )
    except ValueError as exc:
        raise FixError("invalid_time", f"timestamp is not a time: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _numeric(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# --- the ingest ------------------------------------------------------------------------------


@dataclass
class _Track:
    """What the filter remembers of one device: its newest fix and recent fix times."""

    latest: Fix | None = None
    recent: deque[datetime] = field(default_factory=deque)
    seen: set[datetime] = field(default_factory=set)


class PositionIngest:
    """The per-process buffer, filter state, device cache and latest positions."""

    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._buffer: list[Fix] = []
        self._tracks: dict[int, _Track] = {}
        self._devices: dict[str, tuple[DeviceRef, float]] = {}
        self._devices_loaded_at = -math.inf
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # devices

    def cached_device(self, identifier: str) -> DeviceRef | None:
        """The device from the cache while fresh, else None (call ``load_device``)."""
        hit = self._devices.get(identifier)
        if hit is None or time.monotonic() - hit[1] > self.limits.device_cache_ttl_s:
            return None
        return hit[0]

    def load_device(self, session: Session, identifier: str) -> DeviceRef | None:
        """Look a device up by its identifier (IMEI …) and cache it; None when unknown.

        A cold or stale cache is refilled whole (every device and its stored latest fix in two
        queries); a device still missing after that is looked up alone.
        """
        if time.monotonic() - self._devices_loaded_at > self.limits.device_cache_ttl_s:
            self._load_all_devices(session)
            hit = self._devices.get(identifier)
            return None if hit is None else hit[0]
        row = session.execute(
            select(Device.id, Device.identifier, Device.user_id).where(
                Device.identifier == identifier
            )
        ).one_or_none()
        if row is None:
            self._devices.pop(identifier, None)
            return None
        ref = DeviceRef(row.id, row.identifier, row.user_id)
        self._devices[identifier] = (ref, time.monotonic())
        self._preload_latest(session, [ref])
        return ref

    def _load_all_devices(self, session: Session) -> None:
        loaded_at = time.monotonic()
        refs = [
            DeviceRef(r.id, r.identifier, r.user_id)
            for r in session.execute(select(Device.id, Device.identifier, Device.user_id))
        ]
        self._devices = {ref.identifier: (ref, loaded_at) for ref in refs}
        self._devices_loaded_at = loaded_at
        self._preload_latest(session, refs)

    def device(self, session: Session, identifier: str) -> DeviceRef | None:
        """The device with ``identifier``, from the cache or the database."""
        return self.cached_device(identifier) or self.load_device(session, identifier)

    def _preload_latest(self, session: Session, refs: Sequence[DeviceRef]) -> None:
        """Seed the filter with stored latest fixes, so a restart still catches jumps."""
        by_id = {ref.id: ref for ref in refs if ref.id not in self._tracks}
        if not by_id:
            return
        table = position_latest_table
        query = select(table)
        if len(by_id) < 500:
            query = query.where(table.c.device_id.in_(list(by_id)))
        tracks = {device_id: _Track() for device_id in by_id}
        for row in session.execute(query):
            ref = by_id.get(row.device_id)
            if ref is None:
                continue
            fix = Fix(device=ref, at=row.at, received_at=row.received_at, lon=row.lon,
                      lat=row.lat, source=row.source, speed_mps=row.speed_mps,
                      course=row.course, altitude=row.altitude, accuracy_m=row.accuracy_m,
                      battery=row.battery, attributes=row.attributes)  # fmt: skip
            fix.unit_grid_code = row.unit_grid_code
            tracks[ref.id].latest = fix
        with self._lock:
            for device_id, track in tracks.items():
                self._tracks.setdefault(device_id, track)

    # submitting

    def submit(self, fixes: Sequence[Fix | FixError], *, now: datetime) -> list[Rejection]:
        """Filter checked fixes (errors pass through as rejections) and buffer the good ones."""
        rejections: list[Rejection] = []
        future = now + timedelta(seconds=self.limits.max_future_s)
        order = sorted(
            (i for i, f in enumerate(fixes) if isinstance(f, Fix)),
            key=lambda i: fixes[i].at,  # type: ignore[union-attr]
        )
        for i, item in enumerate(fixes):
            if isinstance(item, FixError):
                rejections.append(Rejection(i, item.reason, item.detail))
        accepted: list[Fix] = []
        with self._lock:
            if len(self._buffer) + len(order) > self.limits.buffer_max:
                raise BufferFull(len(self._buffer))
            for i in order:
                fix = fixes[i]
                assert isinstance(fix, Fix)
                reason = self._filter(fix, future)
                if reason is None:
                    accepted.append(fix)
                else:
                    rejections.append(Rejection(i, reason[0], reason[1]))
            self._buffer.extend(accepted)
            waiting = len(self._buffer)
        if waiting >= self.limits.flush_max:
            self._wake.set()
        rejections.sort(key=lambda r: r.index)
        return rejections

    def _filter(self, fix: Fix, future: datetime) -> tuple[str, str] | None:
        """Why ``fix`` is dropped, or None; remembers it when kept (caller holds the lock)."""
        if fix.at > future:
            return "future_time", f"fix dated {fix.at.isoformat()} is in the future"
        track = self._tracks.get(fix.device_id)
        if track is None:
            track = self._tracks[fix.device_id] = _Track()
        if fix.at in track.seen or (track.latest is not None and track.latest.at == fix.at):
            return "duplicate", "a fix of this device at this time was already received"
        limit = self.limits.max_accuracy_m
        if fix.accuracy_m is not None and fix.accuracy_m > limit:
            return "poor_accuracy", f"accuracy {fix.accuracy_m:g} m is worse than {limit:g} m"
        last = track.latest
        if last is not None and fix.at > last.at:
            speed = distance_m(last.lon, last.lat, fix.lon, fix.lat) / (
                (fix.at - last.at).total_seconds()
            )
            if speed * 3.6 > self.limits.max_speed_kmh:
                return "impossible_speed", f"{speed * 3.6:.0f} km/h since the previous fix"
        track.recent.append(fix.at)
        track.seen.add(fix.at)
        if len(track.recent) > self.limits.recent_per_device:
            track.seen.discard(track.recent.popleft())
        if last is None or fix.at > last.at:
            track.latest = fix
        return None

    # reading

    def latest(self, device_id: int) -> Fix | None:
        """The newest fix this process knows of a device."""
        track = self._tracks.get(device_id)
        return None if track is None else track.latest

    def latest_all(self) -> dict[int, Fix]:
        """Device id → newest fix, for every device this process has heard from."""
        with self._lock:
            return {d: t.latest for d, t in self._tracks.items() if t.latest is not None}

    @property
    def waiting(self) -> int:
        """Fixes buffered and not yet written."""
        return len(self._buffer)

    # writing

    def flush(self, session: Session) -> int:
        """Write every buffered fix with ``session`` (the caller commits); the count written."""
        with self._write_lock:
            with self._lock:
                fixes, self._buffer = self._buffer, []
            if not fixes:
                return 0
            try:
                write_fixes(session, fixes)
            except BaseException:
                with self._lock:
                    self._buffer[:0] = fixes  # back to the front, for the next flush
                raise
            return len(fixes)

    def start(self, scope: SessionScope) -> None:
        """Start the writer thread (flushes every ``flush_interval_s`` with its own session)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(scope,), name="position-writer", daemon=True
        )
        self._thread.start()

    def stop(self, scope: SessionScope) -> None:
        """Stop the writer thread and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._flush_with(scope)

    def _run(self, scope: SessionScope) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.limits.flush_interval_s)
            self._wake.clear()
            self._flush_with(scope)

    def _flush_with(self, scope: SessionScope) -> None:
        try:
            with scope() as session:
                self.flush(session)
        except Exception:
            log.exception("writing %d buffered fixes failed; kept for the next flush", self.waiting)


class BufferFull(Exception):
    """The buffer holds ``buffer_max`` fixes: the database is not keeping up."""


# --- the writer ------------------------------------------------------------------------------


def write_fixes(session: Session, fixes: Sequence[Fix]) -> None:
    """Locate, append to ``position``, upsert ``position_latest`` and ``device.last_fix_at``."""
    locate_unit_grids(session, fixes)
    if session.get_bind().dialect.name == "postgresql":
        ensure_partitions(session, {f.at.astimezone(UTC).date() for f in fixes})
        _copy(session, fixes)
    else:
        _insert_sqlite(session, fixes)
    newest = _newest_per_device(fixes)
    _upsert_latest(session, newest)
    workforce.note_fixes(session, fixes=[(f.device_id, f.at) for f in newest])


def locate_unit_grids(session: Session, fixes: Sequence[Fix]) -> None:
    """Set each fix's unit grid (单元网格) in one vectorised pass; outside stays None."""
    holder = locator.current(session).holders.get(AreaLevel.UNIT_GRID)
    if holder is None or not fixes:
        return
    lon = np.fromiter((f.lon for f in fixes), dtype=np.float64, count=len(fixes))
    lat = np.fromiter((f.lat for f in fixes), dtype=np.float64, count=len(fixes))
    for fix, code in zip(fixes, holder.get().locate_many(lon, lat).tolist(), strict=True):
        fix.unit_grid_code = code


def partition_name(day: Any) -> str:
    """The daily partition of ``position`` holding UTC day ``day``."""
    return f"position_{day:%Y%m%d}"


def ensure_partitions(session: Session, days: Iterable[Any]) -> None:
    """Create the missing daily partitions of ``position`` (PostgreSQL)."""
    for day in sorted(days):
        name = partition_name(day)
        exists = session.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar()
        if exists is not None:
            continue
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        with session.begin_nested():  # another process may create it at the same moment
            session.execute(
                text(
                    f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF position '
                    f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
                )
            )


def _copy(session: Session, fixes: Sequence[Fix]) -> None:
    """COPY the fixes into ``position`` through psycopg."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = ", ".join(FIX_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY position ({columns}) FROM STDIN") as copy:
        for f in fixes:
            copy.write_row(
                (
                    f.device_id,
                    f.user_id,
                    f.at,
                    f.received_at,
                    f.lon,
                    f.lat,
                    f.speed_mps,
                    f.course,
                    f.altitude,
                    f.accuracy_m,
                    f.battery,
                    f.source,
                    None if f.attributes is None else json.dumps(f.attributes, ensure_ascii=False),
                    f.unit_grid_code,
                )
            )


def _sqlite_time(at: datetime) -> str:
    """An instant as SQLAlchemy stores a ``UTCDateTime`` on SQLite (naive UTC text)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sqlite(session: Session, fixes: Sequence[Fix]) -> None:
    """One driver-level executemany into ``position`` (the ORM's per-value processing skipped)."""
    cursor = session.connection().connection.cursor()
    marks = ", ".join("?" * len(FIX_COLUMNS))
    try:
        cursor.executemany(
            f"INSERT INTO position ({', '.join(FIX_COLUMNS)}) VALUES ({marks})",
            [
                (
                    f.device_id,
                    f.user_id,
                    _sqlite_time(f.at),
                    _sqlite_time(f.received_at),
                    f.lon,
                    f.lat,
                    f.speed_mps,
                    f.course,
                    f.altitude,
                    f.accuracy_m,
                    f.battery,
                    f.source,
                    None if f.attributes is None else json.dumps(f.attributes, ensure_ascii=False),
                    f.unit_grid_code,
                )
                for f in fixes
            ],
        )
    finally:
        cursor.close()


def _newest_per_device(fixes: Iterable[Fix]) -> list[Fix]:
    newest: dict[int, Fix] = {}
    for fix in fixes:
        seen = newest.get(fix.device_id)
        if seen is None or fix.at > seen.at:
            newest[fix.device_id] = fix
    return list(newest.values())


def _upsert_latest(session: Session, newest: Sequence[Fix]) -> None:
    """Insert or replace each device's latest row, only with a newer fix."""
    table = position_latest_table
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.device_id],
        set_={c: stmt.excluded[c] for c in FIX_COLUMNS if c != "device_id"},
        where=stmt.excluded.at > table.c.at,
    )
    session.execute(stmt, [f.row() for f in sorted(newest, key=lambda f: f.device_id)])
