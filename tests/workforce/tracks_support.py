"""Synthetic walks of exactly known length and duration, built with pyproj's Geod."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from pyproj import Geod
from shapely.geometry import Polygon

from urbanops.workforce.tracks import Fix

GEOD = Geod(ellps="WGS84")
START = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
GUANHU = (114.045, 22.700)


def route(
    start: tuple[float, float], legs: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Vertices of a polyline from ``start`` along (azimuth°, metres) geodesic legs."""
    points = [start]
    for azimuth, metres in legs:
        lon, lat, _ = GEOD.fwd(points[-1][0], points[-1][1], azimuth, metres)
        points.append((float(lon), float(lat)))
    return points


def polyline_length(points: Sequence[tuple[float, float]]) -> float:
    """Geodesic length of a polyline in metres."""
    lons, lats = zip(*points, strict=True)
    return float(GEOD.line_length(lons, lats))


def point_at(points: Sequence[tuple[float, float]], metres: float) -> tuple[float, float]:
    """The position ``metres`` along a polyline (clamped to its end)."""
    for a, b in itertools.pairwise(points):
        azimuth, _, leg = GEOD.inv(a[0], a[1], b[0], b[1])
        if metres <= leg:
            lon, lat, _ = GEOD.fwd(a[0], a[1], azimuth, metres)
            return float(lon), float(lat)
        metres -= leg
    return points[-1]


def walk(
    points: Sequence[tuple[float, float]],
    *,
    speed_mps: float = 1.4,
    every_s: float = 5.0,
    stop_at_m: float | None = None,
    stop_s: float = 0.0,
    jitter_m: float = 0.0,
    accuracy_m: float | None = None,
    report_speed: bool = False,
    start: datetime = START,
    seed: int = 7,
) -> list[Fix]:
    """Fixes every ``every_s`` of a walk along ``points``, standing ``stop_s`` at ``stop_at_m``.

    While standing, fixes scatter up to ``jitter_m`` around the true place, as a still GPS does.
    """
    rng = np.random.default_rng(seed)
    length = polyline_length(points)
    stop_from = (stop_at_m / speed_mps) if stop_at_m is not None else math.inf
    total_s = length / speed_mps + (stop_s if stop_at_m is not None else 0.0)
    times = [*np.arange(0.0, total_s, every_s).tolist(), total_s]  # the last fix at the very end
    fixes = []
    for t in times:
        standing = stop_from <= t < stop_from + stop_s
        walked = min(t, stop_from) + max(0.0, t - stop_from - stop_s) if stop_s else t
        lon, lat = point_at(points, walked * speed_mps)
        if standing and jitter_m:
            azimuth, distance = rng.uniform(0, 360), rng.uniform(0, jitter_m)
            lon, lat, _ = GEOD.fwd(lon, lat, azimuth, distance)
        fixes.append(
            Fix(
                at=start + timedelta(seconds=t),
                lon=float(lon),
                lat=float(lat),
                speed_mps=(0.0 if standing else speed_mps) if report_speed else None,
                accuracy_m=accuracy_m,
            )
        )
    return fixes


def rectangle(south_west: tuple[float, float], *, east_m: float, north_m: float) -> Polygon:
    """A geodesic rectangle ``east_m`` wide and ``north_m`` tall."""
    corners = route(south_west, [(90.0, east_m), (0.0, north_m), (270.0, east_m)])
    return Polygon(corners)
