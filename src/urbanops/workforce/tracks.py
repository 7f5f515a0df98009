"""Tracks and patrol statistics (巡查轨迹与巡查统计) per officer and day.

The statistics are pure functions of a time-ordered list of ``Fix``: geodesic distance with the
jitter of a standing device filtered out, moving time, stops, unit grids visited with the time in
each, and the coverage of the officer's own responsibility grid (the share of its area passed
within a buffer distance). ``track_geojson`` and ``track_gpx`` draw the same track for a map or a
GPS tool. A gap longer than ``TrackRules.max_gap`` splits the track: it is neither distance nor
moving time, since nobody knows where the officer went meanwhile.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import GeometryCollection, LineString, MultiPoint, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.areas import service as areas_service
from urbanops.auth.models import User
from urbanops.kit.errors import NotFound
from urbanops.workforce.positions_models import position_table

_GEOD = Geod(ellps="WGS84")
GPX_NS = "http://www.topografix.com/GPX/1/1"
_SWEEP_CHUNK = 8  # vertices per piece of track buffered at once


@dataclass(frozen=True, slots=True)
class Fix:
    """One position of a device: UTC time, WGS84 lon/lat, optional speed, accuracy and grid."""

    at: datetime
    lon: float
    lat: float
    speed_mps: float | None = None
    accuracy_m: float | None = None
    unit_grid_code: str | None = None


@dataclass(frozen=True, slots=True)
class TrackRules:
    """Thresholds of the statistics; the defaults suit an officer on foot or on a bicycle."""

    min_step_m: float = 5.0  # shorter steps (or within both fixes' accuracy) are jitter
    moving_speed_mps: float = 0.5  # slower than this is standing
    max_gap: timedelta = timedelta(minutes=5)  # a longer silence splits the track
    stop_radius_m: float = 30.0
    stop_min: timedelta = timedelta(minutes=3)
    coverage_buffer_m: float = 30.0


@dataclass(frozen=True, slots=True)
class Stop:
    """A stay (停留): the officer remained within the stop radius for at least the minimum time."""

    start: datetime
    end: datetime
    lon: float
    lat: float
    fixes: int

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class GridVisit:
    """Time spent and fixes taken in one unit grid."""

    code: str
    seconds: float
    fixes: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a responsibility grid the track passed within ``buffer_m`` (网格巡查覆盖率)."""

    grid_code: str
    buffer_m: float
    covered_m2: float
    grid_m2: float

    @property
    def share(self) -> float:
        return self.covered_m2 / self.grid_m2 if self.grid_m2 > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PatrolStats:
    """The statistics of one track."""

    fixes: int
    first_at: datetime | None
    last_at: datetime | None
    distance_m: float
    moving_s: float
    segments: int
    stops: list[Stop] = field(default_factory=list)
    grids: list[GridVisit] = field(default_factory=list)
    coverage: Coverage | None = None

    @property
    def average_moving_speed_mps(self) -> float:
        return self.distance_m / self.moving_s if self.moving_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The statistics as JSON-ready values (ISO times, rounded figures)."""
        return {
            "fixes": self.fixes,
            "first_at": _iso(self.first_at),
            "last_at": _iso(self.last_at),
            "distance_m": round(self.distance_m, 1),
            "moving_s": round(self.moving_s, 1),
            "average_moving_speed_mps": round(self.average_moving_speed_mps, 3),
            "segments": self.segments,
            "stops": [_stop_dict(s) for s in self.stops],
            "grids": [{"code": g.code, "seconds": g.seconds, "fixes": g.fixes} for g in self.grids],
            "coverage": _coverage_dict(self.coverage),
        }


# --- the walk between fixes --------------------------------------------------------------------


def _arrays(fixes: Sequence[Fix]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitudes, latitudes and POSIX seconds of the fixes."""
    lon = np.array([f.lon for f in fixes], dtype=np.float64)
    lat = np.array([f.lat for f in fixes], dtype=np.float64)
    t = np.array([f.at.timestamp() for f in fixes], dtype=np.float64)
    return lon, lat, t


def step_lengths(fixes: Sequence[Fix]) -> np.ndarray:
    """Geodesic length in metres between each fix and the next (n − 1 values)."""
    if len(fixes) < 2:
        return np.zeros(0)
    lon, lat, _ = _arrays(fixes)
    _, _, dist = _GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return np.asarray(dist, dtype=np.float64)


def segment_bounds(fixes: Sequence[Fix], *, rules: TrackRules) -> list[tuple[int, int]]:
    """Index ranges ``[start, end)`` of the pieces of track between gaps longer than max_gap."""
    if not fixes:
        return []
    bounds, start = [], 0
    for i in range(1, len(fixes)):
        if fixes[i].at - fixes[i - 1].at > rules.max_gap:
            bounds.append((start, i))
            start = i
    bounds.append((start, len(fixes)))
    return bounds


def _jitter_m(a: Fix, b: Fix, rules: TrackRules) -> float:
    """The displacement below which two fixes may be the same place (their error circles meet)."""
    return max(rules.min_step_m, (a.accuracy_m or 0.0) + (b.accuracy_m or 0.0))


def _walk_segment(
    fixes: Sequence[Fix], start: int, end: int, rules: TrackRules
) -> tuple[float, np.ndarray]:
    """Distance of one segment and the speed of each of its steps, jitter filtered out.

    The distance is measured from the last accepted fix (the anchor) to the first fix that is
    farther than the jitter: a standing device adds nothing, a slow walk with short steps still
    counts in full. The steps leading to that fix share its average speed; when that average is
    below walking pace (the officer stood a while first) only the departure is moving.
    """
    speeds = np.zeros(max(end - start - 1, 0))
    distance, anchor = 0.0, start
    for i in range(start + 1, end):
        a, b = fixes[anchor], fixes[i]
        _, _, d = _GEOD.inv(a.lon, a.lat, b.lon, b.lat)
        if d <= _jitter_m(a, b, rules):
            continue
        distance += d
        span = (b.at - a.at).total_seconds()
        if span > 0 and d / span > rules.moving_speed_mps:
            speeds[anchor - start : i - start] = d / span
        else:
            left = _departure(fixes, anchor, i)
            _, _, away = _GEOD.inv(fixes[left].lon, fixes[left].lat, b.lon, b.lat)
            dt = (b.at - fixes[left].at).total_seconds()
            speeds[left - start : i - start] = away / dt if dt > 0 else 0.0
        anchor = i
    return distance, speeds


def _departure(fixes: Sequence[Fix], anchor: int, i: int) -> int:
    """Where the walk to fix ``i`` began: back from it while each earlier fix lies farther away."""
    b = fixes[i]

    def away(j: int) -> float:
        _, _, d = _GEOD.inv(fixes[j].lon, fixes[j].lat, b.lon, b.lat)
        return float(d)

    j, d_j = i - 1, away(i - 1)
    while j > anchor:
        d_before = away(j - 1)
        if d_before <= d_j:
            break
        j, d_j = j - 1, d_before
    return j


def _step_speeds(fixes: Sequence[Fix], start: int, end: int, implied: np.ndarray) -> np.ndarray:
    """The reported speed of a step's closing fix where there is one, else the implied one."""
    reported = [fixes[i].speed_mps for i in range(start + 1, end)]
    return np.array(
        [r if r is not None else s for r, s in zip(reported, implied, strict=True)],
        dtype=np.float64,
    )


def _moving_flags(fixes: Sequence[Fix], rules: TrackRules) -> tuple[float, np.ndarray]:
    """Total distance and, for each step (n − 1), whether the officer was moving."""
    moving = np.zeros(max(len(fixes) - 1, 0), dtype=bool)
    distance = 0.0
    for start, end in segment_bounds(fixes, rules=rules):
        d, implied = _walk_segment(fixes, start, end, rules)
        distance += d
        moving[start : end - 1] = _step_speeds(fixes, start, end, implied) > rules.moving_speed_mps
    return distance, moving


def _step_seconds(fixes: Sequence[Fix], rules: TrackRules) -> np.ndarray:
    """Duration of each step, zero for the gaps that split the track."""
    _, _, t = _arrays(fixes)
    dt = np.diff(t)
    dt[dt > rules.max_gap.total_seconds()] = 0.0
    return dt


# --- stops --------------------------------------------------------------------------------------


def find_stops(fixes: Sequence[Fix], *, rules: TrackRules, moving: np.ndarray) -> list[Stop]:
    """Stays within ``stop_radius_m`` of their first fix for at least ``stop_min``.

    A stay starts only at a fix where the officer is not walking on, and the departure (steps
    at walking pace still inside the radius) is trimmed, so a stop lasts from arrival to leaving.
    """
    stops: list[Stop] = []
    x, y = _metric_xy(fixes)
    i, n = 0, len(fixes)
    while i < n - 1:
        if moving[i]:
            i += 1
            continue
        j = _cluster_end(x, y, i, rules.stop_radius_m)
        last = j
        while last > i and moving[last - 1]:
            last -= 1
        if fixes[last].at - fixes[i].at >= rules.stop_min:
            stops.append(_stop(fixes, i, last))
            i = j + 1
        else:
            i += 1
    return stops


def _metric_xy(fixes: Sequence[Fix]) -> tuple[np.ndarray, np.ndarray]:
    """The fixes in metres, in a transverse Mercator centred on the track."""
    if not fixes:
        return np.zeros(0), np.zeros(0)
    lon, lat, _ = _arrays(fixes)
    transformer = local_metric(MultiPoint(np.column_stack([lon, lat])))
    x, y = transformer.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _cluster_end(x: np.ndarray, y: np.ndarray, i: int, radius_m: float) -> int:
    """The last index j such that every fix i..j lies within ``radius_m`` of fix i.

    Distances are measured in growing windows so that a day of walking stays linear.
    """
    start, width = i + 1, 32
    while start < x.size:
        stop = min(start + width, x.size)
        d = np.hypot(x[start:stop] - x[i], y[start:stop] - y[i])
        outside = np.flatnonzero(d > radius_m)
        if outside.size:
            return start + int(outside[0]) - 1
        start, width = stop, width * 2
    return x.size - 1


def _stop(fixes: Sequence[Fix], first: int, last: int) -> Stop:
    """A stop over fixes first..last, centred on their mean position."""
    lon, lat, _ = _arrays(fixes[first : last + 1])
    return Stop(
        start=fixes[first].at,
        end=fixes[last].at,
        lon=float(lon.mean()),
        lat=float(lat.mean()),
        fixes=last - first + 1,
    )


# --- grids and coverage --------------------------------------------------------------------------


def grid_visits(fixes: Sequence[Fix], *, rules: TrackRules) -> list[GridVisit]:
    """Unit grids visited, in order of first visit; a step's time goes to its starting grid."""
    seconds = np.append(_step_seconds(fixes, rules), 0.0) if fixes else np.zeros(0)
    time_in: dict[str, float] = {}
    count: dict[str, int] = {}
    for fix, s in zip(fixes, seconds, strict=True):
        if fix.unit_grid_code is None:
            continue
        time_in[fix.unit_grid_code] = time_in.get(fix.unit_grid_code, 0.0) + float(s)
        count[fix.unit_grid_code] = count.get(fix.unit_grid_code, 0) + 1
    return [GridVisit(code=c, seconds=round(time_in[c], 1), fixes=count[c]) for c in time_in]


def local_metric(geom: BaseGeometry) -> Transformer:
    """A transverse Mercator centred on ``geom``: metres with negligible scale error nearby."""
    centre = geom.centroid
    proj = f"+proj=tmerc +lon_0={centre.x} +lat_0={centre.y} +k=1 +ellps=WGS84 +units=m"
    return Transformer.from_crs("EPSG:4326", proj, always_xy=True)


def _to_metric(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    """``geom`` (WGS84) in the metric projection."""

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


def track_geometry(fixes: Sequence[Fix], *, rules: TrackRules) -> BaseGeometry:
    """The track's pieces as WGS84 lines (a lone fix between gaps stays a point)."""
    parts: list[BaseGeometry] = []
    for start, end in segment_bounds(fixes, rules=rules):
        coords = [(f.lon, f.lat) for f in fixes[start:end]]
        parts.append(LineString(coords) if len(coords) > 1 else Point(coords[0]))
    return GeometryCollection(parts)


def _swept_pieces(
    fixes: Sequence[Fix], *, rules: TrackRules, transformer: Transformer
) -> list[BaseGeometry]:
    """The track in metres as short lines, ready to buffer.

    Fixes closer than a tenth of the buffer to the last kept one are dropped (the swept area
    changes by well under 1 %), and lines are cut every ``_SWEEP_CHUNK`` vertices: GEOS buffers
    a long self-crossing zigzag, as a standing device draws, very slowly, short pieces fast.
    """
    step_m = rules.coverage_buffer_m / 10
    lon, lat, _ = _arrays(fixes)
    x, y = (np.asarray(v, dtype=np.float64) for v in transformer.transform(lon, lat))
    pieces: list[BaseGeometry] = []
    for start, end in segment_bounds(fixes, rules=rules):
        kept = [start]
        for i in range(start + 1, end):
            if np.hypot(x[i] - x[kept[-1]], y[i] - y[kept[-1]]) >= step_m:
                kept.append(i)
        points = np.column_stack([x[kept], y[kept]])
        if len(kept) == 1:
            pieces.append(Point(points[0]))
        for i in range(0, len(kept) - 1, _SWEEP_CHUNK):
            pieces.append(LineString(points[i : i + _SWEEP_CHUNK + 1]))
    return pieces


def coverage(
    fixes: Sequence[Fix], *, grid_code: str, grid: BaseGeometry, rules: TrackRules
) -> Coverage:
    """The area of ``grid`` within ``coverage_buffer_m`` of the track, over the grid's area."""
    transformer = local_metric(grid)
    grid_m = _to_metric(grid, transformer)
    covered = 0.0
    if fixes:
        pieces = _swept_pieces(fixes, rules=rules, transformer=transformer)
        swept = shapely.union_all(shapely.buffer(pieces, rules.coverage_buffer_m, quad_segs=16))
        covered = float(shapely.intersection(swept, grid_m).area)
    return Coverage(
        grid_code=grid_code,
        buffer_m=rules.coverage_buffer_m,
        covered_m2=covered,
        grid_m2=float(grid_m.area),
    )


# --- the whole --------------------------------------------------------------------------------


def patrol_stats(
    fixes: Sequence[Fix],
    *,
    rules: TrackRules | None = None,
    grid: tuple[str, BaseGeometry] | None = None,
) -> PatrolStats:
    """Distance, moving time, stops, grids visited and, given the officer's grid, its coverage."""
    rules = rules or TrackRules()
    ordered = sorted(fixes, key=lambda f: f.at)
    distance, moving = _moving_flags(ordered, rules)
    seconds = _step_seconds(ordered, rules) if ordered else np.zeros(0)
    return PatrolStats(
        fixes=len(ordered),
        first_at=ordered[0].at if ordered else None,
        last_at=ordered[-1].at if ordered else None,
        distance_m=distance,
        moving_s=float(seconds[moving].sum()),
        segments=len(segment_bounds(ordered, rules=rules)),
        stops=find_stops(ordered, rules=rules, moving=moving),
        grids=grid_visits(ordered, rules=rules),
        coverage=(
            coverage(ordered, grid_code=grid[0], grid=grid[1], rules=rules) if grid else None
        ),
    )


# --- the query -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficerDay:
    """An officer's fixes of one local day from his main device, and his own grid's outline."""

    user_id: int
    name: str
    day: date
    device_id: int | None
    fixes: list[Fix]
    grid: tuple[str, BaseGeometry] | None


def day_window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start and end of a local calendar day."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def officer_day(
    session: Session, *, user_id: int, day: date, tz: ZoneInfo, device_id: int | None = None
) -> OfficerDay:
    """The officer's track of ``day``: fixes of ``device_id`` or of the device that sent most."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No officer has the id {user_id}", code="officer_not_found")
    start, end = day_window(day, tz)
    in_day = (
        (position_table.c.user_id == user_id)
        & (position_table.c.at >= start)
        & (position_table.c.at < end)
    )
    device = device_id if device_id is not None else _main_device(session, in_day)
    fixes = _fixes(session, in_day & (position_table.c.device_id == device)) if device else []
    return OfficerDay(
        user_id=user_id,
        name=user.display_name,
        day=day,
        device_id=device,
        fixes=_with_grids(session, fixes),
        grid=own_grid(session, user_id=user_id),
    )


def _main_device(session: Session, in_day: Any) -> int | None:
    """The device that sent the most fixes (an officer may carry a radio and a phone)."""
    count = func.count()
    row = session.execute(
        select(position_table.c.device_id, count)
        .where(in_day)
        .group_by(position_table.c.device_id)
        .order_by(count.desc(), position_table.c.device_id)
        .limit(1)
    ).first()
    return int(row[0]) if row else None


def _fixes(session: Session, where: Any) -> list[Fix]:
    """The fixes matching ``where`` in time order."""
    c = position_table.c
    rows = session.execute(
        select(c.at, c.lon, c.lat, c.speed_mps, c.accuracy_m, c.unit_grid_code)
        .where(where)
        .order_by(c.at)
    )
    return [
        Fix(
            at=r.at,
            lon=r.lon,
            lat=r.lat,
            speed_mps=r.speed_mps,
            accuracy_m=r.accuracy_m,
            unit_grid_code=r.unit_grid_code,
        )
        for r in rows
    ]


def _with_grids(session: Session, fixes: list[Fix]) -> list[Fix]:
    """Fixes stored without a unit grid get one from the point locator."""
    missing = [i for i, f in enumerate(fixes) if f.unit_grid_code is None]
    if not missing:
        return fixes
    found = areas_service.locate_many(
        session, points=[(fixes[i].lon, fixes[i].lat) for i in missing]
    )
    out = list(fixes)
    for i, where in zip(missing, found, strict=True):
        if where.unit_grid is not None:
            out[i] = replace(fixes[i], unit_grid_code=where.unit_grid.code)
    return out


def own_grid(session: Session, *, user_id: int) -> tuple[str, BaseGeometry] | None:
    """The code and outline of the officer's (first) responsibility grid, if he has one."""
    codes = areas_service.grids_of_officer(session, user_id=user_id)
    if not codes:
        return None
    grid = areas_service.get_responsibility_grid(session, code=codes[0])
    if grid.geometry is None:
        return None
    return grid.code, shapely.from_wkb(grid.geometry)


# --- drawings -------------------------------------------------------------------------------------


def track_geojson(
    fixes: Sequence[Fix],
    *,
    rules: TrackRules | None = None,
    stats: PatrolStats | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The track as a GeoJSON Feature: a LineString, or a MultiLineString split at long gaps.

    ``properties.coordinate_times`` holds the ISO time of every vertex, nested like the
    coordinates; a lone fix between two gaps draws no line (it still counts in the statistics).
    """
    rules = rules or TrackRules()
    ordered = sorted(fixes, key=lambda f: f.at)
    pieces = [ordered[s:e] for s, e in segment_bounds(ordered, rules=rules) if e - s > 1]
    lines = [[[f.lon, f.lat] for f in piece] for piece in pieces]
    times = [[_iso(f.at) for f in piece] for piece in pieces]
    geometry: dict[str, Any] | None = None
    if len(lines) == 1:
        geometry = {"type": "LineString", "coordinates": lines[0]}
        times_out: list[Any] = times[0]
    else:
        geometry = {"type": "MultiLineString", "coordinates": lines} if lines else None
        times_out = times
    props: dict[str, Any] = dict(properties or {})
    props["coordinate_times"] = times_out
    props["statistics"] = (stats or patrol_stats(ordered, rules=rules)).as_dict()
    return {"type": "Feature", "geometry": geometry, "properties": props}


def track_gpx(
    fixes: Sequence[Fix],
    *,
    name: str,
    rules: TrackRules | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """The track as GPX 1.1 (UTF-8 XML): one trk, one trkseg per piece between long gaps."""
    rules = rules or TrackRules()
    ordered = sorted(fixes, key=lambda f: f.at)
    ET.register_namespace("", GPX_NS)
    root = ET.Element(_q("gpx"), {"version": "1.1", "creator": "urbanops"})
    metadata = ET.SubElement(root, _q("metadata"))
    ET.SubElement(metadata, _q("name")).text = name
    if created_at is not None:
        ET.SubElement(metadata, _q("time")).text = _iso(created_at)
    trk = ET.SubElement(root, _q("trk"))
    ET.SubElement(trk, _q("name")).text = name
    for start, end in segment_bounds(ordered, rules=rules):
        seg = ET.SubElement(trk, _q("trkseg"))
        for fix in ordered[start:end]:
            point = ET.SubElement(
                seg, _q("trkpt"), {"lat": f"{fix.lat:.7f}", "lon": f"{fix.lon:.7f}"}
            )
            ET.SubElement(point, _q("time")).text = _iso(fix.at)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _q(tag: str) -> str:
    """A tag in the GPX 1.1 namespace."""
    return f"{{{GPX_NS}}}{tag}"


def _iso(at: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as GPX wants it."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="auto").replace("+00:00", "Z")


def _stop_dict(stop: Stop) -> dict[str, Any]:
    return {
        "start": _iso(stop.start),
        "end": _iso(stop.end),
        "duration_s": stop.duration_s,
        "lon": round(stop.lon, 7),
        "lat": round(stop.lat, 7),
        "fixes": stop.fixes,
    }


def _coverage_dict(cov: Coverage | None) -> dict[str, Any] | None:
    if cov is None:
        return None
    return {
        "grid_code": cov.grid_code,
        "buffer_m": cov.buffer_m,
        "covered_m2": round(cov.covered_m2, 1),
        "grid_m2": round(cov.grid_m2, 1),
        "share": round(cov.share, 4),
    }
