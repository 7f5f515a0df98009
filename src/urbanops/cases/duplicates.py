"""Duplicate reports (重复上报): an open case of the same matter near enough, recently enough."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from urbanops.cases.models import Case, CaseState
from urbanops.cases.workflow import OPEN

DEFAULT_RADIUS_M = 50
DEFAULT_WINDOW_H = 24
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180
UNRESOLVED = (*OPEN, CaseState.SUSPENDED)
#: Built once (statement construction costs more than the query on an indexed table).
_CANDIDATES = select(Case).where(
    Case.matter_code == bindparam("matter"),
    Case.reported_at >= bindparam("since"),
    Case.reported_at <= bindparam("until"),
    Case.state.in_(UNRESOLVED),
    Case.lat.between(bindparam("lat_lo"), bindparam("lat_hi")),
    Case.lon.between(bindparam("lon_lo"), bindparam("lon_hi")),
)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def find_duplicate(
    session: Session,
    *,
    matter_code: str,
    lon: float,
    lat: float,
    at: datetime,
    radius_m: float = DEFAULT_RADIUS_M,
    window_h: float = DEFAULT_WINDOW_H,
) -> Case | None:
    """The nearest unresolved case of the matter within ``radius_m``, reported in the window."""
    dlat = radius_m / _M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    window = timedelta(hours=window_h)
    params = {
        "matter": matter_code, "since": at - window, "until": at + window,
        "lat_lo": lat - dlat, "lat_hi": lat + dlat, "lon_lo": lon - dlon, "lon_hi": lon + dlon,
    }  # fmt: skip
    found = session.scalars(_CANDIDATES, params)
    near = [(distance_m(lon, lat, c.lon, c.lat), c.id, c) for c in found]
    near = [n for n in near if n[0] <= radius_m]
    return min(near, key=lambda n: (n[0], n[1]))[2] if near else None
