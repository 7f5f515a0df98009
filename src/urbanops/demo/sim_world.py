"""The simulator's world: the street in metres, its key points, and officers' bodies moving in it.

Pure and deterministic (numpy generators passed in), no database and no HTTP: the simulator
(``demo.simulator``) decides *when* an officer patrols, stops, travels or works; this module says
*where* he is at any instant. A body's movement is a list of straight legs (a dwell is a leg that
stays put); the whole history is kept, so the comparison models can ask where everyone was at
the moment an emergency came in.

Geometry is a local equirectangular projection around the street's centre: over the 8 km of the
street it differs from the great-circle distance by far less than the road factor's uncertainty,
and it is the projection ``dispatch.recommend`` ranks with.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from urbanops.demo.geometry import DemoStreet

M_PER_DEGREE = 6_371_008.8 * math.pi / 180.0
#: Names of the key points (重点点位) a grid's patrols keep an eye on, besides its cameras.
KEY_POINT_KINDS = ("农贸市场", "学校门口", "地铁站口", "商业街", "城中村路口", "公交站")
KEY_POINTS_PER_GRID = 2
KEY_POINT_SEED = 440309001
#: A camera this close to another grid's edge is a key point of that grid's patrols too.
SHARED_WITHIN_M = 150.0


@dataclass(frozen=True)
class Frame:
    """Local metres (x east, y north) around a WGS84 origin."""

    lon0: float
    lat0: float

    @property
    def _kx(self) -> float:
        return M_PER_DEGREE * math.cos(math.radians(self.lat0))

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self._kx, (lat - self.lat0) * M_PER_DEGREE

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self._kx, self.lat0 + y / M_PER_DEGREE

    def polygon(self, polygon: Polygon) -> Polygon:
        """A WGS84 polygon in local metres."""
        kx = self._kx

        def project(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(
                [(coords[:, 0] - self.lon0) * kx, (coords[:, 1] - self.lat0) * M_PER_DEGREE]
            )

        return shapely.transform(polygon, project)


@dataclass(frozen=True)
class KeyPoint:
    """A place patrols visit often and problems gather (重点点位: 市场、校门、地铁口、摄像头)."""

    name: str
    x: float
    y: float
    camera_code: str | None = None


@dataclass
class GridArea:
    """A responsibility grid (责任网格) in metres, with its key points."""

    code: str
    name: str
    polygon: Polygon
    key_points: list[KeyPoint] = field(default_factory=list)
    #: Cameras of neighbouring grids close to this grid's edge: watched from both sides.
    nearby: list[KeyPoint] = field(default_factory=list)

    def __post_init__(self) -> None:
        shapely.prepare(self.polygon)
        self._inner = self.polygon.buffer(-15.0)
        if self._inner.is_empty:
            self._inner = self.polygon
        shapely.prepare(self._inner)
        self._slack = self.polygon.buffer(5.0)
        shapely.prepare(self._slack)

    def contains(self, x: float, y: float) -> bool:
        return bool(shapely.contains_xy(self.polygon, x, y))

    def random_point(self, rng: np.random.Generator) -> tuple[float, float]:
        """A uniform point inside the grid, at least 15 m from its edge where it can be."""
        west, south, east, north = self._inner.bounds
        while True:
            xs = rng.uniform(west, east, 16)
            ys = rng.uniform(south, north, 16)
            inside = np.flatnonzero(shapely.contains_xy(self._inner, xs, ys))
            if inside.size:
                return float(xs[inside[0]]), float(ys[inside[0]])

    def keeps(self, *points: tuple[float, float]) -> bool:
        """Whether the path through ``points`` stays inside the grid (a few metres' slack)."""
        return bool(self._slack.contains(LineString(points)))


def street_areas(street: DemoStreet, frame: Frame) -> list[GridArea]:
    """The street's responsibility grids in metres; key points: cameras and a few synthetic ones."""
    rng = np.random.default_rng(KEY_POINT_SEED)
    grid_of_unit = {u: g.code for g in street.responsibility_grids for u in g.unit_grid_codes}
    areas = []
    for grid in street.responsibility_grids:
        area = GridArea(grid.code, grid.name, frame.polygon(grid.polygon))
        for camera in street.cameras:
            if grid_of_unit.get(camera.unit_grid_code) == grid.code:
                x, y = frame.to_xy(camera.point.x, camera.point.y)
                area.key_points.append(KeyPoint(camera.name, x, y, camera.code))
        for _ in range(KEY_POINTS_PER_GRID):
            kind = KEY_POINT_KINDS[int(rng.integers(len(KEY_POINT_KINDS)))]
            x, y = area.random_point(rng)
            area.key_points.append(KeyPoint(f"{grid.name}{kind}", x, y))
        areas.append(area)
    for area in areas:
        area.nearby = [
            key
            for other in areas
            if other is not area
            for key in other.key_points
            if key.camera_code and area.polygon.distance(Point(key.x, key.y)) <= SHARED_WITHIN_M
        ]
    return areas


@dataclass(frozen=True)
class Leg:
    """Straight movement from ``(x0, y0)`` at ``t0`` to ``(x1, y1)`` at ``t1`` (seconds)."""

    t0: float
    x0: float
    y0: float
    t1: float
    x1: float
    y1: float

    def at(self, t: float) -> tuple[float, float]:
        if self.t1 <= self.t0:
            return self.x1, self.y1
        f = min(max((t - self.t0) / (self.t1 - self.t0), 0.0), 1.0)
        return self.x0 + f * (self.x1 - self.x0), self.y0 + f * (self.y1 - self.y0)


class Body:
    """Where one officer is over time: legs back to back, history kept, future replaceable."""

    def __init__(self, x: float, y: float, t: float) -> None:
        self._legs: list[Leg] = [Leg(t, x, y, t, x, y)]
        self._starts: list[float] = [t]

    @property
    def end(self) -> float:
        """When the planned movement runs out."""
        return self._legs[-1].t1

    @property
    def last(self) -> tuple[float, float]:
        leg = self._legs[-1]
        return leg.x1, leg.y1

    def at(self, t: float) -> tuple[float, float]:
        """The position at ``t`` (before the first leg: its start; after the last: its end)."""
        i = bisect.bisect_right(self._starts, t) - 1
        return self._legs[max(i, 0)].at(t)

    def add(self, x: float, y: float, duration: float) -> None:
        """Move in a straight line from the plan's end to ``(x, y)`` in ``duration`` seconds."""
        x0, y0 = self.last
        t0 = self.end
        self._legs.append(Leg(t0, x0, y0, t0 + max(duration, 0.0), x, y))
        self._starts.append(t0)

    def follow(self, points: Sequence[tuple[float, float]], duration: float) -> None:
        """Move along ``points`` (from the plan's end) at one speed, taking ``duration`` in all."""
        x0, y0 = self.last
        path = [(x0, y0), *points]
        lengths = [math.dist(a, b) for a, b in itertools.pairwise(path)]
        total = sum(lengths)
        for (x, y), length in zip(points, lengths, strict=True):
            self.add(x, y, duration * length / total if total > 0 else 0.0)

    def dwell(self, duration: float) -> None:
        x, y = self.last
        self.add(x, y, duration)

    def stop(self, t: float) -> None:
        """Drop every plan after ``t``: the body stands where it is at ``t``."""
        if t >= self.end:
            if t > self.end:
                self.dwell(t - self.end)
            return
        i = max(bisect.bisect_right(self._starts, t) - 1, 0)
        leg = self._legs[i]
        x, y = leg.at(t)
        del self._legs[i + 1 :]
        del self._starts[i + 1 :]
        self._legs[i] = Leg(leg.t0, leg.x0, leg.y0, t, x, y)


def manhattan_path(
    x0: float, y0: float, x1: float, y1: float, area: GridArea | None, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Along streets: one corner (east-west then north-south, or the other way) to ``(x1, y1)``.

    Inside a grid, a corner that would leave it is avoided; when both would, the path is straight.
    """
    corners = [(x1, y0), (x0, y1)]
    if rng.random() < 0.5:
        corners.reverse()
    for corner in corners:
        if area is None or area.keeps((x0, y0), corner, (x1, y1)):
            return [corner, (x1, y1)]
    return [(x1, y1)]


def straight_m(x0: float, y0: float, x1: float, y1: float) -> float:
    return math.hypot(x1 - x0, y1 - y0)


def inside_street(areas: Sequence[GridArea], x: float, y: float) -> GridArea | None:
    """The grid holding a point, if any."""
    for area in areas:
        if area.contains(x, y):
            return area
    return None


def point_near(
    x: float, y: float, radius: float, area: GridArea, rng: np.random.Generator
) -> tuple[float, float]:
    """A point within ``radius`` metres of ``(x, y)`` inside ``area`` (else the point itself)."""
    for _ in range(20):
        angle, r = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.random())
        px, py = x + r * math.cos(angle), y + r * math.sin(angle)
        if area.contains(px, py):
            return px, py
    return x, y


def street_point(
    areas: Sequence[GridArea], rng: np.random.Generator
) -> tuple[GridArea, float, float]:
    """A uniform random point of the street, with its grid (grids weighted by their area)."""
    weights = np.array([a.polygon.area for a in areas])
    area = areas[int(rng.choice(len(areas), p=weights / weights.sum()))]
    x, y = area.random_point(rng)
    return area, x, y


#: Patrol pace as a share of the travel-mode speed (inspecting shops, talking to people).
PATROL_PACE = 0.75
#: Chance that the next patrol waypoint is one of the grid's key points.
KEY_POINT_SHARE = 0.6
CAMERA_WEIGHT = 2.0


def patrol(
    body: Body, area: GridArea, rng: np.random.Generator, *, until: float, speed_mps: float
) -> None:
    """Extend a body's plan with patrol legs inside its grid until it covers ``until``.

    Waypoints: a key point (its own, or a neighbour's camera by its edge; a watch of 4 to 8
    minutes there) or a random point of the grid 150 to 700 m away (a pause of up to 90 s),
    reached along streets at patrol pace.
    """
    pace = speed_mps * PATROL_PACE
    while body.end < until:
        x0, y0 = body.last
        if not area.contains(x0, y0):  # back from a task in another grid: walk home first
            x1, y1 = area.random_point(rng)
            body.follow([(x1, y1)], straight_m(x0, y0, x1, y1) / pace)
            continue
        keys = area.key_points + area.nearby
        if keys and rng.random() < KEY_POINT_SHARE:
            key = _key_point(keys, rng)
            x1, y1, watch = key.x, key.y, rng.uniform(240, 480)
        else:
            x1, y1 = _waypoint(area, x0, y0, rng)
            watch = rng.uniform(0, 90)
        path = manhattan_path(x0, y0, x1, y1, area, rng)
        length = sum(math.dist(a, b) for a, b in zip([(x0, y0), *path], path, strict=False))
        body.follow(path, length / pace)
        body.dwell(watch)


def _key_point(keys: Sequence[KeyPoint], rng: np.random.Generator) -> KeyPoint:
    """A key point, cameras twice as often: the team knows where the alarms come from."""
    weights = np.array([CAMERA_WEIGHT if k.camera_code else 1.0 for k in keys])
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def _waypoint(
    area: GridArea, x0: float, y0: float, rng: np.random.Generator
) -> tuple[float, float]:
    for _ in range(12):
        x1, y1 = area.random_point(rng)
        if 150 <= straight_m(x0, y0, x1, y1) <= 700:
            return x1, y1
    return x1, y1


def centre_of(street: DemoStreet) -> Point:
    """The street's centroid (WGS84): the origin of the simulator's frame."""
    return street.street.polygon.centroid
