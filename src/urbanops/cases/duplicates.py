"""Duplicate reports (重复上报): an open case of the same matter near enough, recently enough."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from urbanops.cases.models import Case, CaseState
from urbanops.cases.workflow import OPEN

DEFAULT_RADIUS_M = 50
DEFAULT_WINDOW_H = 24
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180
UNRESOLVED = (*OPEN, CaseState.SUSPENDED)
#: Places looked up per query (the query for a count is built once; larger batches are split).
MAX_PROBES = 64


@dataclass(frozen=True)
class Probe:
    """A place and time to find an open case of ``matter_code`` around."""

    matter_code: str
    lon: float
    lat: float
    at: datetime
    radius_m: float = DEFAULT_RADIUS_M
    window_h: float = DEFAULT_WINDOW_H

    def bounds(self, n: int) -> dict[str, Any]:
        """The query parameters of probe number ``n``: matter, time window, bounding box."""
        dlat = self.radius_m / _M_PER_DEG_LAT
        dlon = dlat / max(math.cos(math.radians(self.lat)), 1e-6)
        window = timedelta(hours=self.window_h)
        return {
            f"matter{n}": self.matter_code, f"since{n}": self.at - window,
            f"until{n}": self.at + window, f"lat_lo{n}": self.lat - dlat,
            f"lat_hi{n}": self.lat + dlat, f"lon_lo{n}": self.lon - dlon,
            f"lon_hi{n}": self.lon + dlon,
        }  # fmt: skip


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
    probe = Probe(matter_code, lon, lat, at, radius_m, window_h)
    return nearest(probe, open_cases_near(session, [probe]).get(probe, ()))


def open_cases_near(session: Session, probes: Sequence[Probe]) -> dict[Probe, list[Case]]:
    """Stored unresolved cases in each probe's box and window (one query per ``MAX_PROBES``)."""
    wanted = list(dict.fromkeys(probes))
    found: dict[str, list[Case]] = {}
    for first in range(0, len(wanted), MAX_PROBES):
        chunk = wanted[first : first + MAX_PROBES]
        params: dict[str, Any] = {}
        for n, probe in enumerate(chunk):
            params |= probe.bounds(n)
        for case in session.scalars(_near(len(chunk)), params):
            found.setdefault(case.matter_code, []).append(case)
    return {p: found.get(p.matter_code, []) for p in wanted}


@cache
def _near(count: int) -> Select[Case]:
    """Unresolved cases inside any of ``count`` boxes and windows, built once per count."""
    boxes = [
        and_(
            Case.matter_code == bindparam(f"matter{n}"),
            Case.reported_at >= bindparam(f"since{n}"),
            Case.reported_at <= bindparam(f"until{n}"),
            Case.lat.between(bindparam(f"lat_lo{n}"), bindparam(f"lat_hi{n}")),
            Case.lon.between(bindparam(f"lon_lo{n}"), bindparam(f"lon_hi{n}")),
        )
        for n in range(count)
    ]
    return select(Case).where(Case.state.in_(UNRESOLVED), or_(*boxes))


def nearest(probe: Probe, cases: Iterable[Case]) -> Case | None:
    """The nearest of ``cases`` that duplicates the probe: same matter, unresolved, in the
    window, within the radius. Cases not stored yet (``id`` None) may be among them; on equal
    distance a stored case wins, then the lower id, then the earlier one given."""
    window = timedelta(hours=probe.window_h)
    best: tuple[float, float, int, Case] | None = None
    for order, case in enumerate(cases):
        if (
            case.matter_code != probe.matter_code
            or case.state not in UNRESOLVED
            or abs(case.reported_at - probe.at) > window
        ):
            continue
        distance = distance_m(probe.lon, probe.lat, case.lon, case.lat)
        if distance > probe.radius_m:
            continue
        rank = (distance, case.id if case.id is not None else math.inf, order, case)
        if best is None or rank[:3] < best[:3]:
            best = rank
    return best[3] if best is not None else None
