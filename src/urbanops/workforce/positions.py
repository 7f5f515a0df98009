"""Position ingestion (定位上报): check, filter, buffer and write device fixes in batches.

Every way in (OsmAnd, JSON batches, the officer's browser) ends in ``PositionIngest.submit``
(fixes one by one) or ``submit_block`` (a batch as a ``FixBlock`` of numpy columns, judged by the
same rules over arrays): each raw fix is checked (``FixError`` with a stable reason:
``invalid_coordinates``, ``invalid_time``, ``future_time``, ``invalid_number``), then filtered
against the device's previous fixes (``duplicate``, ``poor_accuracy``, ``impossible_speed``,
``not_valid``). Accepted fixes update the in-memory latest position at once and wait in a buffer
that ``flush`` writes in one go: COPY on PostgreSQL (into daily partitions created on demand), one
executemany on SQLite, plus an upsert of ``position_latest``. A background thread flushes every
``flush_interval_s`` (or sooner when ``flush_max`` fixes wait). Why it is built this way, with
measurements: docs/decisions/0009-position-ingestion.md.

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
from sqlalchemy.orm import Session

from urbanops.areas import locator
from urbanops.areas.codes import AreaLevel
from urbanops.config import Settings
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device
from urbanops.workforce.positions_models import position_latest_table

log = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]

#: Speed units of the OsmAnd ``speed`` parameter (Traccar's ``osmand.speed``), to m/s.
SPEED_TO_MPS = {"knots": 1852 / 3600, "kmh": 1 / 3.6, "mps": 1.0, "mph": 1609.344 / 3600}
EARTH_RADIUS_M = 6_371_008.8
_EPOCH_MS_FROM = 2**31  # Traccar: integer timestamps at or above this are milliseconds
_MAX_EPOCH_S = 253_402_300_800  # 10000-01-01: datetime ends before


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


@dataclass(frozen=True)
class Alarm:
    """An alarm a device sent with a position (Traccar's ``alarm`` key: ``sos`` …), at receipt."""

    device_id: int
    user_id: int | None
    kind: str
    at: datetime
    lon: float | None
    lat: float | None
    source: str


#: Hooks other modules (alerts) hang on the ingest: after each write, in the writer's transaction,
#: with the newest fix of each device written (its unit grid set), and for each alarm at once, in
#: the request's transaction.
WriteHook = Callable[[Session, Sequence["Fix"]], None]
AlarmHook = Callable[[Session, Alarm], None]


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


@dataclass(frozen=True)
class Rejection:
    """A fix not stored: its index in the request, the reason code and a sentence."""

    index: int
    reason: str
    detail: str


# --- fixes as columns ------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_FIX = -(2**63)  # "no time": below every epoch microsecond
_US_PER_DAY = 86_400_000_000
_NUMBERS = ("speed_mps", "course", "altitude", "accuracy_m", "battery")
#: The columns of ``position`` in the order of a row or record (see ``_rows``).
ROW_COLUMNS = ("device_id", "user_id", "at", "received_at", "lon", "lat", *_NUMBERS, "source",
               "attributes", "unit_grid_code")  # fmt: skip


def to_us(at: datetime) -> int:
    """An aware instant as whole microseconds since the epoch (exact, unlike ``timestamp()``)."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """The UTC instant ``us`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=us)


@dataclass
class FixBlock:
    """Checked fixes as columns, one numpy array a field: how batches are filtered and written.

    ``index`` is each fix's place in its request (for rejections); times are whole microseconds
    since the epoch (UTC); a missing number is NaN and a missing ``user_id`` is -1; ``source``,
    ``attributes`` and ``unit_grid_code`` are object arrays (the last set by ``locate``).
    """

    index: np.ndarray
    device_id: np.ndarray
    user_id: np.ndarray
    at_us: np.ndarray
    received_us: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    speed_mps: np.ndarray
    course: np.ndarray
    altitude: np.ndarray
    accuracy_m: np.ndarray
    battery: np.ndarray
    source: np.ndarray
    attributes: np.ndarray
    unit_grid_code: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> FixBlock:
        """The fixes at ``rows`` (positions or a boolean mask), as a new block."""
        return FixBlock(**{name: getattr(self, name)[rows] for name in _BLOCK_FIELDS})

    @classmethod
    def concat(cls, blocks: Sequence[FixBlock]) -> FixBlock:
        """One block of all ``blocks``' fixes, in order."""
        if len(blocks) == 1:
            return blocks[0]
        if not blocks:
            return cls.from_fixes([])
        return cls(
            **{name: np.concatenate([getattr(b, name) for b in blocks]) for name in _BLOCK_FIELDS}
        )

    @classmethod
    def from_fixes(cls, fixes: Sequence[Fix], index: Sequence[int] | None = None) -> FixBlock:
        """The block of ``fixes`` (``index`` their places in the request, else 0, 1, …)."""
        n = len(fixes)

        def floats(name: str) -> np.ndarray:
            return np.array([getattr(f, name) for f in fixes], dtype=np.float64).reshape(n)

        return cls(
            index=np.arange(n) if index is None else np.array(index, dtype=np.int64).reshape(n),
            device_id=np.fromiter((f.device_id for f in fixes), np.int64, n),
            user_id=np.fromiter(
                (-1 if f.user_id is None else f.user_id for f in fixes), np.int64, n
            ),
            at_us=np.fromiter((to_us(f.at) for f in fixes), np.int64, n),
            received_us=np.fromiter((to_us(f.received_at) for f in fixes), np.int64, n),
            lon=floats("lon"),
            lat=floats("lat"),
            **{name: floats(name) for name in _NUMBERS},
            source=object_column([f.source for f in fixes]),
            attributes=object_column([f.attributes for f in fixes]),
            unit_grid_code=object_column([f.unit_grid_code for f in fixes]),
        )

    def records(self) -> list[tuple[Any, ...]]:
        """The fixes as plain tuples in ``ROW_COLUMNS`` order (times in epoch µs, None for
        missing values): what a ``Fix`` is made of, without holding on to the block."""
        return _rows(self, _as_list, json_text=False)

    def fixes(self) -> list[Fix]:
        """The fixes as ``Fix`` objects, for code that wants objects."""
        times: dict[int, datetime] = {}
        return [record_fix(record, times) for record in self.records()]


def record_fix(record: tuple[Any, ...], times: dict[int, datetime] | None = None) -> Fix:
    """A ``Fix`` of one of ``FixBlock.records`` (``times``: a memo of instants already made)."""
    times = {} if times is None else times
    fix = Fix.__new__(Fix)
    (fix.device_id, fix.user_id, at_us, received_us, fix.lon, fix.lat, fix.speed_mps, fix.course,
     fix.altitude, fix.accuracy_m, fix.battery, fix.source, fix.attributes,
     fix.unit_grid_code) = record  # fmt: skip
    fix.at = times.get(at_us) or times.setdefault(at_us, from_us(at_us))
    fix.received_at = times.get(received_us) or times.setdefault(received_us, from_us(received_us))
    return fix


def _as_list(values: np.ndarray) -> list[Any]:
    return values.tolist()


_BLOCK_FIELDS = tuple(FixBlock.__dataclass_fields__)


def object_column(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (never a 2-d one, whatever the values are)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def nullable_floats(values: np.ndarray) -> list[float | None]:
    """A float column as a list, NaN (missing) as None."""
    missing = np.isnan(values)
    if not missing.any():
        return values.tolist()
    if missing.all():
        return [None] * len(values)
    out: list[float | None] = values.tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def float_column(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Plain JSON numbers as float64 (NaN for None) and a mask of the values that are not.

    Only ``int``, ``float`` and ``None`` are read here; anything else (text, booleans, NaN,
    infinities, huge integers) is flagged, for the caller to check one by one with ``number``.
    """
    n = len(values)
    missing = values.count(None)
    if missing == n:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    if set(map(type, values)) <= {float, int, type(None)}:
        plain = [math.nan if v is None else v for v in values] if missing else values
        try:
            column = np.fromiter(plain, np.float64, n)
        except OverflowError:
            pass
        else:
            odd = ~np.isfinite(column)
            if missing and odd.any():  # a None is absent, not odd
                odd &= np.fromiter((v is not None for v in values), bool, n)
            return column, odd
    column, odd = np.full(n, np.nan), np.zeros(n, dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            number = float(value) if type(value) in (float, int) else math.nan
        except OverflowError:
            number = math.nan
        if math.isfinite(number):
            column[i] = number
        else:
            odd[i] = True
    return column, odd


def time_column(values: list[Any], *, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Fix times as epoch microseconds, read as ``parse_time`` reads them, and a mask of those
    it refuses. Whole-number stamps are read in one go; others once per distinct value."""
    n = len(values)
    if set(map(type, values)) <= {int}:
        try:
            stamps = np.fromiter(values, np.int64, n)
        except OverflowError:
            pass
        else:
            millis = stamps >= _EPOCH_MS_FROM
            bad = (stamps < 0) | (millis & (stamps >= _MAX_EPOCH_S * 1000))
            stamps = np.where(bad, 0, stamps)
            return np.where(millis, stamps * 1000, stamps * 1_000_000), bad
    column, bad = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    seen: dict[tuple[type, Any], int | None] = {}
    for i, value in enumerate(values):
        try:
            key = (type(value), value)
            us = seen[key] if key in seen else seen.setdefault(key, _time_us(value, now))
        except TypeError:  # unhashable: a list or an object is no time
            us = None
        if us is None:
            bad[i] = True
        else:
            column[i] = us
    return column, bad


def _time_us(value: Any, now: datetime) -> int | None:
    try:
        return to_us(parse_time(value, now=now))
    except FixError:
        return None


# --- checking raw values ---------------------------------------------------------------------


def number(value: Any, name: str) -> float | None:
    """A finite float from a number or numeric text; None for absent/empty."""
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError) as exc:  # overflow: an integer beyond 1e308
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
        stamp = float(value) if not isinstance(value, int) or value < 2**63 else math.inf
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


_DUPLICATE = "a fix of this device at this time was already received"


def _future_detail(at: datetime) -> str:
    return f"fix dated {at.isoformat()} is in the future"


def _accuracy_detail(accuracy_m: float, limit: float) -> str:
    return f"accuracy {accuracy_m:g} m is worse than {limit:g} m"


def _speed_detail(speed_mps: float) -> str:
    return f"{speed_mps * 3.6:.0f} km/h since the previous fix"


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distances_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> Any:
    """``distance_m`` over arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


# --- the ingest ------------------------------------------------------------------------------


@dataclass
class _Track:
    """What the filter remembers of one device: its newest fix and recent fix times (epoch µs;
    every time in ``seen`` is at or before ``latest_us``)."""

    latest: Fix | None = None  # made from ``latest_record`` when first asked for
    latest_record: tuple[Any, ...] | None = None
    latest_us: int = NO_FIX
    latest_lon: float = math.nan
    latest_lat: float = math.nan
    recent: deque[int] = field(default_factory=deque)
    seen: set[int] = field(default_factory=set)

    def latest_fix(self) -> Fix | None:
        """The newest fix as an object (made now if it came in a block)."""
        record = self.latest_record
        if record is not None:
            self.latest, self.latest_record = record_fix(record), None
        return self.latest

    def remember(self, at_us: int, limit: int) -> None:
        """Note the time of an accepted fix among the recent ones."""
        self.recent.append(at_us)
        self.seen.add(at_us)
        if len(self.recent) > limit:
            self.seen.discard(self.recent.popleft())

    def remember_all(self, times: list[int], limit: int) -> None:
        """``remember`` each of ``times`` in turn, in bulk (a block's fixes of this device)."""
        recent = self.recent
        recent.extend(times)
        self.seen.update(times)
        while len(recent) > limit:
            self.seen.discard(recent.popleft())

    def advance(self, at_us: int, lon: float, lat: float, fix: Fix | None) -> bool:
        """Make an accepted fix the latest if it is newer; whether it was."""
        if at_us <= self.latest_us:
            return False
        self.latest, self.latest_record = fix, None
        self.latest_us, self.latest_lon, self.latest_lat = at_us, lon, lat
        return True


class PositionIngest:
    """The per-process buffer, filter state, device cache and latest positions."""

    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._singles: list[Fix] = []  # the buffer: fixes that came alone …
        self._blocks: list[FixBlock] = []  # … and blocks of batches
        self._waiting = 0
        self._tracks: dict[int, _Track] = {}
        self._devices: dict[str, tuple[DeviceRef, float]] = {}
        self._devices_loaded_at = -math.inf
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.after_write: list[WriteHook] = []
        self.alarm_hooks: list[AlarmHook] = []

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

    def devices(self, session: Session, identifiers: Iterable[str]) -> dict[str, DeviceRef | None]:
        """``device`` of each identifier (a batch names the same devices again and again)."""
        fresh_since = time.monotonic() - self.limits.device_cache_ttl_s
        found: dict[str, DeviceRef | None] = {}
        for identifier in identifiers:
            hit = self._devices.get(identifier)
            if hit is not None and hit[1] >= fresh_since:
                found[identifier] = hit[0]
            else:
                found[identifier] = self.load_device(session, identifier)
        return found

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
            tracks[ref.id].advance(to_us(fix.at), fix.lon, fix.lat, fix)
        with self._lock:
            for device_id, track in tracks.items():
                self._tracks.setdefault(device_id, track)

    # submitting

    def submit(self, fixes: Sequence[Fix | FixError], *, now: datetime) -> list[Rejection]:
        """Filter checked fixes (errors pass through as rejections) and buffer the good ones."""
        rejections = [
            Rejection(i, f.reason, f.detail) for i, f in enumerate(fixes) if isinstance(f, FixError)
        ]
        future_us = self._future_us(now)
        order = sorted(
            (i for i, f in enumerate(fixes) if isinstance(f, Fix)),
            key=lambda i: fixes[i].at,  # type: ignore[union-attr]
        )
        accepted: list[Fix] = []
        with self._lock:
            self._make_room(len(order))
            for i in order:
                fix = fixes[i]
                assert isinstance(fix, Fix)
                reason = self._filter(fix, future_us)
                if reason is None:
                    accepted.append(fix)
                else:
                    rejections.append(Rejection(i, reason[0], reason[1]))
            self._singles.extend(accepted)
            self._waiting += len(accepted)
            waiting = self._waiting
        if waiting >= self.limits.flush_max:
            self._wake.set()
        rejections.sort(key=lambda r: r.index)
        return rejections

    def submit_block(self, block: FixBlock, *, now: datetime) -> list[Rejection]:
        """``submit`` for a block of checked fixes: the same filter, run over arrays."""
        with self._lock:
            self._make_room(len(block))
            keep, rejections = self._filter_block(block, self._future_us(now))
            if keep.any():
                self._blocks.append(block.take(keep))
                self._waiting += int(keep.sum())
            waiting = self._waiting
        if waiting >= self.limits.flush_max:
            self._wake.set()
        rejections.sort(key=lambda r: r.index)
        return rejections

    def _future_us(self, now: datetime) -> int:
        return to_us(now) + round(self.limits.max_future_s * 1_000_000)

    def _make_room(self, count: int) -> None:
        if self._waiting + count > self.limits.buffer_max:
            raise BufferFull(self._waiting)

    def _track(self, device_id: int) -> _Track:
        track = self._tracks.get(device_id)
        if track is None:
            track = self._tracks[device_id] = _Track()
        return track

    def _filter(self, fix: Fix, future_us: int) -> tuple[str, str] | None:
        """Why ``fix`` is dropped, or None; remembers it when kept (caller holds the lock)."""
        at_us = to_us(fix.at)
        if at_us > future_us:
            return "future_time", _future_detail(fix.at)
        track = self._track(fix.device_id)
        reason = self._judge(track, at_us, fix.lon, fix.lat, fix.accuracy_m)
        if reason is None:
            track.remember(at_us, self.limits.recent_per_device)
            track.advance(at_us, fix.lon, fix.lat, fix)
        return reason

    def _judge(
        self, track: _Track, at_us: int, lon: float, lat: float, accuracy_m: float | None
    ) -> tuple[str, str] | None:
        """Why a fix that is not from the future is dropped, given its device's track, or None."""
        if at_us == track.latest_us or at_us in track.seen:
            return "duplicate", _DUPLICATE
        limit = self.limits.max_accuracy_m
        if accuracy_m is not None and accuracy_m > limit:
            return "poor_accuracy", _accuracy_detail(accuracy_m, limit)
        if track.latest_us != NO_FIX and at_us > track.latest_us:
            metres = distance_m(track.latest_lon, track.latest_lat, lon, lat)
            speed = metres / ((at_us - track.latest_us) / 1_000_000)
            if speed * 3.6 > self.limits.max_speed_kmh:
                return "impossible_speed", _speed_detail(speed)
        return None

    def _filter_block(self, block: FixBlock, future_us: int) -> tuple[np.ndarray, list[Rejection]]:
        """``_filter`` over a block: the mask of fixes kept, and the others' rejections.

        Each device's fixes are judged in time order against the fix before them, all at once.
        That is exact as long as every fix before a device's last one is kept; a device where
        one is dropped (rare: a duplicate, a jump) is judged again, fix by fix, with ``_judge``.
        The caller holds the lock.
        """
        keep = np.zeros(len(block), dtype=bool)
        future = block.at_us > future_us
        rejections = [
            Rejection(
                int(block.index[r]), "future_time", _future_detail(from_us(int(block.at_us[r])))
            )
            for r in np.flatnonzero(future).tolist()
        ]
        rows = np.flatnonzero(~future)
        if not len(rows):
            return keep, rejections
        rows = rows[np.lexsort((block.index[rows], block.at_us[rows], block.device_id[rows]))]
        device, at, lon, lat = (block.device_id[rows], block.at_us[rows], block.lon[rows],
                                block.lat[rows])  # fmt: skip
        accuracy = block.accuracy_m[rows]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = device[1:] != device[:-1]
        group = np.cumsum(first) - 1
        known = self._tracks.get
        tracks = [known(d) or self._track(d) for d in device[first].tolist()]
        stored_us = np.array([t.latest_us for t in tracks], dtype=np.int64)[group]
        stored_lon = np.array([t.latest_lon for t in tracks], dtype=np.float64)[group]
        stored_lat = np.array([t.latest_lat for t in tracks], dtype=np.float64)[group]
        prev_us, prev_lon, prev_lat = np.roll(at, 1), np.roll(lon, 1), np.roll(lat, 1)

        duplicate = (~first & (at == prev_us)) | (at == stored_us)
        for k in np.flatnonzero(at < stored_us).tolist():  # a late fix: among the recent ones?
            duplicate[k] |= int(at[k]) in tracks[group[k]].seen
        poor = accuracy > self.limits.max_accuracy_m
        # the newest fix before: the one before in the block when newer than the stored latest
        after_prev = ~first & (prev_us > stored_us)
        ref_us = np.where(after_prev, prev_us, stored_us)
        moving = (after_prev | (stored_us != NO_FIX)) & (at > ref_us)
        speed = np.zeros(len(rows))
        speed[moving] = distances_m(
            np.where(after_prev, prev_lon, stored_lon)[moving],
            np.where(after_prev, prev_lat, stored_lat)[moving],
            lon[moving],
            lat[moving],
        ) / ((at - ref_us)[moving] / 1_000_000)
        too_fast = moving & (speed * 3.6 > self.limits.max_speed_kmh)
        dropped = duplicate | poor | too_fast

        last = np.ones(len(rows), dtype=bool)
        last[:-1] = first[1:]
        again = np.zeros(len(tracks), dtype=bool)
        again[group[dropped & ~last]] = True  # a dropped fix that a later one was judged against
        redo = again[group]
        for k in np.flatnonzero(dropped & ~redo).tolist():
            reason = (
                ("duplicate", _DUPLICATE) if duplicate[k]
                else ("poor_accuracy", _accuracy_detail(float(accuracy[k]),
                                                        self.limits.max_accuracy_m)) if poor[k]
                else ("impossible_speed", _speed_detail(float(speed[k])))
            )  # fmt: skip
            rejections.append(Rejection(int(block.index[rows[k]]), *reason))
        keep[rows[~dropped & ~redo]] = True

        newest: dict[int, int] = {}  # group → position in ``rows`` of its new latest fix
        starts = [*np.flatnonzero(first).tolist(), len(rows)]
        kept, at_list, lon_list, lat_list = (
            (~dropped).tolist(),
            at.tolist(),
            lon.tolist(),
            lat.tolist(),
        )
        limit = self.limits.recent_per_device
        for g, (track, redo_group) in enumerate(zip(tracks, again.tolist(), strict=True)):
            if redo_group:
                continue
            # not judged again: only the device's last fix can have been dropped
            start, end = starts[g], starts[g + 1]
            k = end - 1 if kept[end - 1] else end - 2  # sorted by time: the newest kept
            if k < start:
                continue
            track.remember_all(at_list[start : k + 1], limit)
            if track.advance(at_list[k], lon_list[k], lat_list[k], None):
                newest[g] = k
        for g in np.flatnonzero(again).tolist():
            track = tracks[g]
            for k in range(starts[g], starts[g + 1]):
                acc = float(accuracy[k])
                why = self._judge(track, at_list[k], lon_list[k], lat_list[k],
                                  None if math.isnan(acc) else acc)  # fmt: skip
                if why is not None:
                    rejections.append(Rejection(int(block.index[rows[k]]), *why))
                    continue
                keep[rows[k]] = True
                track.remember(at_list[k], limit)
                if track.advance(at_list[k], lon_list[k], lat_list[k], None):
                    newest[g] = k
        if newest:  # each new latest fix as a plain record, made a Fix when someone asks
            records = block.take(rows[list(newest.values())]).records()
            for g, record in zip(newest, records, strict=True):
                tracks[g].latest_record = record
        return keep, rejections

    # reading

    def latest(self, device_id: int) -> Fix | None:
        """The newest fix this process knows of a device."""
        track = self._tracks.get(device_id)
        return None if track is None else track.latest_fix()

    def latest_all(self) -> dict[int, Fix]:
        """Device id → newest fix, for every device this process has heard from."""
        with self._lock:
            fixes = {d: t.latest_fix() for d, t in self._tracks.items()}
        return {d: fix for d, fix in fixes.items() if fix is not None}

    @property
    def waiting(self) -> int:
        """Fixes buffered and not yet written."""
        return self._waiting

    # writing

    def flush(self, session: Session) -> int:
        """Write every buffered fix with ``session`` (the caller commits); the count written."""
        with self._write_lock:
            with self._lock:
                singles, blocks = self._singles, self._blocks
                self._singles, self._blocks, self._waiting = [], [], 0
            if not singles and not blocks:
                return 0
            block = FixBlock.concat([FixBlock.from_fixes(singles), *blocks] if singles else blocks)
            try:
                newest = write_fixes(session, block)
            except BaseException:
                with self._lock:  # back to the front, for the next flush
                    self._blocks.insert(0, block)
                    self._waiting += len(block)
                raise
            if self.after_write:
                self._after_write(session, newest.fixes())
            return len(block)

    def _after_write(self, session: Session, fixes: Sequence[Fix]) -> None:
        """Run the write hooks, each in a savepoint: a failing hook never costs the fixes."""
        for hook in self.after_write:
            try:
                with session.begin_nested():
                    hook(session, fixes)
            except Exception:
                log.exception("a hook after writing %d fixes failed", len(fixes))

    def raise_alarm(self, session: Session, alarm: Alarm) -> None:
        """Hand a device's alarm to the alarm hooks now (not at the next flush)."""
        for hook in self.alarm_hooks:
            hook(session, alarm)

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


def write_fixes(session: Session, fixes: FixBlock | Sequence[Fix]) -> FixBlock:
    """Locate, append to ``position``, upsert ``position_latest`` and ``device.last_fix_at``;
    answers the newest fix of each device."""
    block = fixes if isinstance(fixes, FixBlock) else FixBlock.from_fixes(fixes)
    if not len(block):
        return block
    # in index order, (device, time): each device's fixes land on the same index page one
    # after the other instead of a different page each (a third less work for SQLite)
    block = block.take(np.lexsort((block.at_us, block.device_id)))
    locate_unit_grids(session, block)
    if session.get_bind().dialect.name == "postgresql":
        days = np.unique(block.at_us // _US_PER_DAY).tolist()
        ensure_partitions(session, {EPOCH.date() + timedelta(days=d) for d in days})
        _copy(session, block)
    else:
        _insert_sqlite(session, block)
    newest = block.take(_last_per_device(block))
    times = _upsert_latest(session, newest)
    workforce.note_fix_times(session, device_ids=newest.device_id.tolist(), times=times)
    return newest


def locate_unit_grids(session: Session, block: FixBlock) -> None:
    """Set each fix's unit grid (单元网格) in one vectorised pass; outside stays None."""
    holder = locator.current(session).holders.get(AreaLevel.UNIT_GRID)
    if holder is not None and len(block):
        block.unit_grid_code = holder.get().locate_many(block.lon, block.lat)


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


def _rows(
    block: FixBlock, times: Callable[[np.ndarray], list[Any]], *, json_text: bool = True
) -> list[tuple[Any, ...]]:
    """The block as rows of ``position`` (``ROW_COLUMNS`` order), times written by ``times``,
    attributes as JSON text (for the driver) or as they are."""
    return list(zip(*_columns(block, times, json_text=json_text), strict=True))


def _columns(
    block: FixBlock, times: Callable[[np.ndarray], list[Any]], *, json_text: bool = True
) -> list[list[Any]]:
    """The block's columns as lists in ``ROW_COLUMNS`` order (None for missing values)."""
    users = block.user_id.tolist()
    if (block.user_id < 0).any():
        users = [None if u < 0 else u for u in users]
    attributes = block.attributes.tolist()
    if json_text:
        attributes = [None if a is None else json.dumps(a, ensure_ascii=False) for a in attributes]
    return [
        block.device_id.tolist(),
        users,
        times(block.at_us),
        times(block.received_us),
        block.lon.tolist(),
        block.lat.tolist(),
        *(nullable_floats(getattr(block, name)) for name in _NUMBERS),
        block.source.tolist(),
        attributes,
        block.unit_grid_code.tolist(),
    ]


def _iso_times(us: np.ndarray) -> list[str]:
    """Epoch microseconds as ISO 8601 UTC text (``…T…Z``), which PostgreSQL reads exactly."""
    return _each_distinct(us, _iso_texts)


def _sqlite_times(us: np.ndarray) -> list[str]:
    """Epoch microseconds as SQLAlchemy stores a ``UTCDateTime`` on SQLite (naive UTC text)."""
    return _each_distinct(us, _sqlite_texts)


def _iso_texts(us: np.ndarray) -> list[str]:
    texts: list[str] = np.datetime_as_string(
        us.astype("datetime64[us]"), unit="us", timezone="UTC"
    ).tolist()
    return texts


def _sqlite_texts(us: np.ndarray) -> list[str]:
    texts = np.datetime_as_string(us.astype("datetime64[us]"), unit="us").tolist()
    return [t.replace("T", " ") for t in texts]


def _each_distinct(us: np.ndarray, texts: Callable[[np.ndarray], list[str]]) -> list[str]:
    """``texts(us)``, each distinct time written once: a flush's ``received_at`` is a handful of
    instants, and devices of one platform often report on the same second."""
    if len(us) < 16:
        return texts(us)
    distinct, where = np.unique(us, return_inverse=True)
    if len(distinct) > len(us) // 2:
        return texts(us)
    made = object_column(texts(distinct))
    out: list[str] = made[where].tolist()
    return out


def _copy(session: Session, block: FixBlock) -> None:
    """COPY the fixes into ``position`` through psycopg."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = ", ".join(ROW_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY position ({columns}) FROM STDIN") as copy:
        for row in _rows(block, _iso_times):
            copy.write_row(row)


def _insert_sqlite(session: Session, block: FixBlock) -> None:
    """One driver-level executemany into ``position`` (the ORM's per-value processing skipped)."""
    cursor = session.connection().connection.cursor()
    marks = ", ".join("?" * len(ROW_COLUMNS))
    try:
        cursor.executemany(
            f"INSERT INTO position ({', '.join(ROW_COLUMNS)}) VALUES ({marks})",
            _rows(block, _sqlite_times),
        )
    finally:
        cursor.close()


def _last_per_device(block: FixBlock) -> np.ndarray:
    """The mask of each device's last row in a block sorted by device and time (its newest)."""
    device = block.device_id
    last = np.ones(len(device), dtype=bool)
    last[:-1] = device[1:] != device[:-1]
    return last


def _upsert_latest(session: Session, newest: FixBlock) -> list[str]:
    """Insert or replace each device's latest row, only with a newer fix: on PostgreSQL COPY into
    a temporary table and one INSERT … SELECT from it, on SQLite one driver-level executemany.
    ``newest`` is ordered by device, so concurrent writers lock rows in the same order. Answers
    the fix times as written (for ``note_fix_times``)."""
    changes = ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS if c != "device_id")
    columns = ", ".join(ROW_COLUMNS)
    upsert = (
        f"INSERT INTO position_latest ({columns}) {{rows}} ON CONFLICT (device_id) "
        f"DO UPDATE SET {changes} WHERE excluded.at > position_latest.at"
    )
    if session.get_bind().dialect.name == "postgresql":
        raw = session.connection().connection.driver_connection
        assert raw is not None
        rows = _rows(newest, _iso_times)
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS position_incoming (LIKE position_latest)"
            )
            with cursor.copy(f"COPY position_incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(upsert.format(rows=f"SELECT {columns} FROM position_incoming"))
            cursor.execute("DELETE FROM position_incoming")  # empty for the next flush
        return [row[_AT] for row in rows]
    rows = _rows(newest, _sqlite_times)
    cursor = session.connection().connection.cursor()
    try:
        marks = ", ".join("?" * len(ROW_COLUMNS))
        cursor.executemany(upsert.format(rows=f"VALUES ({marks})"), rows)
    finally:
        cursor.close()
    return [row[_AT] for row in rows]


_AT = ROW_COLUMNS.index("at")
