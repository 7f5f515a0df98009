"""Dispatch recommendation (派遣推荐): rank available officers by estimated arrival time.

Pure arithmetic, no database: the caller hands in the officers it considers available, with
their latest positions, and gets them back ranked. The hot path keeps a ``CandidateSet`` (the
candidates as numpy arrays, built once per roster/positions snapshot) and ranks on it; the
module-level ``rank`` builds one and ranks in a single call.

Arrival time = straight-line distance x ``ROAD_FACTOR`` / the officer's speed.

- ``SPEED_MPS`` are urban averages including stops at crossings and lights, not top speeds:
  walking 1.3 m/s (4.7 km/h), a bicycle or e-bike in mixed traffic 4.2 m/s (15 km/h), a patrol
  car in city traffic 8.3 m/s (30 km/h).
- ``ROAD_FACTOR`` 1.3: the ratio of network distance to straight-line distance (detour index)
  in a dense Chinese street grid of blocks, arterials and gated compounds is about 1.2 to 1.4;
  1.3 is the middle. One factor for every mode: no road network is needed.

Distance is computed on a local equirectangular projection around the case (metres); over the
few kilometres of a street or a district it differs from the great-circle distance by far less
than the road factor's uncertainty.

Tiers (the order of preference, ``Ranked.tier``):

- 0: the officer's home responsibility grid (责任网格) is the case's grid;
- 1: his grid is one of ``neighbours`` (grids touching the case's grid);
- 2: anyone else, ranked only when the caller passes ``include_elsewhere=True``.

Without a response limit the answer is sorted by ``(tier, eta)``: an own-grid officer always
comes first, however far. With ``response_limit_s`` set (the case's response limit), the own
grid keeps its priority only while its best officer can arrive within that limit; when none
can, every candidate who can arrive within the limit (neighbours first, then — if allowed —
anyone else, each tier by eta) comes before those who cannot, and those who cannot follow by
eta alone: when nobody makes the limit, whoever arrives first goes, whatever his grid. So a
command centre sends its own officer when he makes the limit, a neighbour who does rather than
an own officer who would not, and the soonest arrival when nobody does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import cos, radians

import numpy as np
import numpy.typing as npt

from urbanops.workforce.models import TravelMode

#: Average urban speeds in m/s (see the module docstring).
SPEED_MPS: dict[TravelMode, float] = {
    TravelMode.WALK: 1.3,
    TravelMode.BICYCLE: 4.2,
    TravelMode.VEHICLE: 8.3,
}
#: Network distance / straight-line distance in a Chinese urban street grid.
ROAD_FACTOR = 1.3

_METRES_PER_DEGREE = 6_371_008.8 * np.pi / 180.0
_TIER_BAND = 1e9  # larger than any arrival time on earth, in seconds
OWN, NEIGHBOUR, ELSEWHERE = 0, 1, 2


@dataclass(frozen=True)
class Candidate:
    """An available officer with his latest position (WGS84) and when it was taken."""

    officer_id: int
    user_id: int
    name: str
    grid_code: str | None
    travel_mode: TravelMode
    lon: float
    lat: float
    fix_at: datetime


@dataclass(frozen=True)
class Ranked:
    """A candidate with his tier (0 own grid, 1 neighbouring, 2 elsewhere), distance and ETA."""

    candidate: Candidate
    tier: int
    distance_m: float
    eta_s: float


#: A candidate as a plain tuple in ``Candidate``'s field order (cheaper to make in bulk).
CandidateRow = tuple[int, int, str, str | None, TravelMode, float, float, datetime]


class CandidateSet:
    """Candidates as arrays, built once, ranked many times (each rank is O(n) in numpy)."""

    def __init__(
        self, candidates: Sequence[Candidate], *, speeds: Mapping[TravelMode, float] = SPEED_MPS
    ) -> None:
        rows: list[CandidateRow] = [
            (c.officer_id, c.user_id, c.name, c.grid_code, c.travel_mode, c.lon, c.lat, c.fix_at)
            for c in candidates
        ]
        self._init(rows, speeds)

    @classmethod
    def from_rows(
        cls, rows: Sequence[CandidateRow], *, speeds: Mapping[TravelMode, float] = SPEED_MPS
    ) -> CandidateSet:
        """A set of candidates given as tuples (``Candidate`` objects are made for results)."""
        made = cls.__new__(cls)
        made._init(list(rows), speeds)
        return made

    def _init(self, rows: list[CandidateRow], speeds: Mapping[TravelMode, float]) -> None:
        self._rows = rows
        n = len(rows)
        numbers = np.array([(r[5], r[6], speeds[r[4]]) for r in rows], dtype=np.float64)
        self.lon, self.lat, self.speed = numbers.reshape(n, 3).T
        self._fix_s: npt.NDArray[np.float64] | None = None
        self.user_id = np.array([r[1] for r in rows], dtype=np.int64)
        self._grid_index: dict[str | None, int] = {}
        index = self._grid_index
        self.grid = np.array([index.setdefault(r[3], len(index)) for r in rows], dtype=np.int32)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def fix_s(self) -> npt.NDArray[np.float64]:
        """When each position was taken, in epoch seconds (made on first use)."""
        if self._fix_s is None:
            self._fix_s = np.array([r[7].timestamp() for r in self._rows], dtype=np.float64)
        return self._fix_s

    def candidate(self, i: int) -> Candidate:
        return Candidate(*self._rows[i])

    def _grids(self, codes: Iterable[str | None]) -> npt.NDArray[np.int32]:
        return np.array(
            [self._grid_index[c] for c in codes if c in self._grid_index], dtype=np.int32
        )

    def rank(
        self,
        *,
        lon: float,
        lat: float,
        grid_code: str | None,
        neighbours: frozenset[str] = frozenset(),
        road_factor: float = ROAD_FACTOR,
        limit: int = 10,
        response_limit_s: float | None = None,
        include_elsewhere: bool = False,
        exclude_user_ids: Iterable[int] = (),
        exclude_grids: Iterable[str | None] = (),
        fixed_since: datetime | None = None,
    ) -> list[Ranked]:
        """The best ``limit`` candidates for a case at ``(lon, lat)`` in ``grid_code``.

        Order as the module docstring defines it. Left out: ``exclude_user_ids`` (officers who
        already timed out on this case, ...), officers of ``exclude_grids``, and positions
        older than ``fixed_since``. A case outside every grid (``grid_code`` None) has no own
        grid: everyone is tier 2.
        """
        n = len(self._rows)
        if n == 0 or limit <= 0:
            return []
        k = _METRES_PER_DEGREE
        dx = (self.lon - lon) * (k * cos(radians(lat)))
        dy = (self.lat - lat) * k
        distance = np.hypot(dx, dy)
        eta = distance * road_factor / self.speed
        tier = np.full(n, ELSEWHERE, dtype=np.int8)
        if neighbours:
            tier[np.isin(self.grid, self._grids(neighbours - {grid_code}))] = NEIGHBOUR
        if grid_code is not None and grid_code in self._grid_index:
            tier[self.grid == self._grid_index[grid_code]] = OWN
        usable = np.ones(n, dtype=bool) if include_elsewhere else tier < 2
        excluded = np.fromiter(exclude_user_ids, dtype=np.int64)
        if excluded.size:
            usable &= ~np.isin(self.user_id, excluded)
        left_out = self._grids(exclude_grids)
        if left_out.size:
            usable &= ~np.isin(self.grid, left_out)
        if fixed_since is not None:
            usable &= self.fix_s >= fixed_since.timestamp()
        key = tier.astype(np.float64) * _TIER_BAND + eta
        if response_limit_s is not None:
            in_time = eta <= response_limit_s
            if not (usable & in_time & (tier == OWN)).any():
                # those who make the limit first (by tier), then the late ones by arrival alone
                key = np.where(in_time, key, 3 * _TIER_BAND + eta)
        key[~usable] = np.inf
        count = min(limit, int(usable.sum()))
        if count == 0:
            return []
        best = np.argpartition(key, count - 1)[:count] if count < n else np.arange(n)
        best = best[np.argsort(key[best], kind="stable")]
        return [
            Ranked(self.candidate(i), int(tier[i]), float(distance[i]), float(eta[i]))
            for i in best.tolist()
        ]


def order_key(ranked: Ranked, *, in_time_first: float | None) -> tuple[int, int, float]:
    """The sort key of ``rank``'s order, to merge answers ranked apart.

    ``in_time_first`` is the response limit when the rule puts officers who make it first
    (no own-grid officer makes it), else None.
    """
    late = in_time_first is not None and ranked.eta_s > in_time_first
    return (1, 0, ranked.eta_s) if late else (0, ranked.tier, ranked.eta_s)


def rank(
    candidates: Sequence[Candidate],
    *,
    lon: float,
    lat: float,
    grid_code: str | None,
    neighbours: frozenset[str],
    road_factor: float = ROAD_FACTOR,
    speeds: Mapping[TravelMode, float] = SPEED_MPS,
    limit: int = 10,
    response_limit_s: float | None = None,
    include_elsewhere: bool = False,
    exclude_user_ids: Iterable[int] = (),
) -> list[Ranked]:
    """Rank ``candidates`` for a case at ``(lon, lat)`` in ``grid_code`` (one-off form)."""
    return CandidateSet(candidates, speeds=speeds).rank(
        lon=lon,
        lat=lat,
        grid_code=grid_code,
        neighbours=neighbours,
        road_factor=road_factor,
        limit=limit,
        response_limit_s=response_limit_s,
        include_elsewhere=include_elsewhere,
        exclude_user_ids=exclude_user_ids,
    )
