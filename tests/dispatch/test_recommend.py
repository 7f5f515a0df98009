"""The ranking itself (pure arithmetic): tiers, arrival times, the response-limit rule."""

from __future__ import annotations

from datetime import UTC, datetime
from math import cos, radians

import numpy as np
import pytest
import shapely

from urbanops.dispatch.recommend import (
    ROAD_FACTOR,
    SPEED_MPS,
    Candidate,
    CandidateSet,
    rank,
)
from urbanops.dispatch.roster import grid_neighbours
from urbanops.workforce.models import TravelMode

LON, LAT = 114.05, 22.72  # a case in Longhua
AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
WALK, BICYCLE, VEHICLE = TravelMode.WALK, TravelMode.BICYCLE, TravelMode.VEHICLE


def officer(user_id: int, grid: str | None, east_m: float, mode: TravelMode = WALK) -> Candidate:
    lon = LON + east_m / (111_195.0 * cos(radians(LAT)))
    return Candidate(user_id, user_id, f"队员{user_id}", grid, mode, lon, LAT, AT)


def order(candidates: list[Candidate], **options: object) -> list[int]:
    found = rank(
        candidates, lon=LON, lat=LAT, grid_code="A", neighbours=frozenset({"B"}), **options
    )  # type: ignore[arg-type]
    return [r.candidate.user_id for r in found]


def test_arrival_time_is_distance_times_road_factor_over_the_mode_speed() -> None:
    [found] = rank(
        [officer(1, "A", 1000.0, BICYCLE)],
        lon=LON,
        lat=LAT,
        grid_code="A",
        neighbours=frozenset(),
    )
    assert found.distance_m == pytest.approx(1000.0, rel=2e-3)
    assert found.eta_s == pytest.approx(found.distance_m * ROAD_FACTOR / SPEED_MPS[BICYCLE])
    assert found.tier == 0


def test_the_nearest_in_time_comes_first_so_a_cyclist_beats_a_nearer_walker() -> None:
    walker_near, walker_far = officer(1, "A", 300.0), officer(2, "A", 900.0)
    cyclist = officer(3, "A", 700.0, BICYCLE)
    assert order([walker_far, cyclist, walker_near]) == [3, 1, 2]


def test_own_grid_before_neighbours_however_far_without_a_response_limit() -> None:
    own_far, neighbour_near = officer(1, "A", 3000.0), officer(2, "B", 50.0)
    assert order([neighbour_near, own_far]) == [1, 2]


def test_a_neighbour_within_the_limit_goes_before_an_own_officer_who_would_be_late() -> None:
    own_far, neighbour_near = officer(1, "A", 3000.0), officer(2, "B", 50.0)
    assert order([neighbour_near, own_far], response_limit_s=300.0) == [2, 1]


def test_an_own_officer_within_the_limit_keeps_his_priority() -> None:
    own, neighbour = officer(1, "A", 200.0), officer(2, "B", 20.0)
    assert order([neighbour, own], response_limit_s=300.0) == [1, 2]


def test_other_grids_only_when_the_caller_allows_them_and_then_last() -> None:
    elsewhere, neighbour = officer(1, "Z", 10.0), officer(2, "B", 2000.0)
    assert order([elsewhere, neighbour]) == [2]
    assert order([elsewhere, neighbour], include_elsewhere=True) == [2, 1]


def test_excluded_officers_and_the_limit_on_the_answer() -> None:
    team = [officer(i, "A", 100.0 * i) for i in range(1, 8)]
    assert order(team, limit=3) == [1, 2, 3]
    assert order(team, limit=3, exclude_user_ids=[1, 3]) == [2, 4, 5]
    assert order([], limit=3) == []
    assert order(team, limit=0) == []


def test_a_case_outside_every_grid_ranks_everyone_as_elsewhere() -> None:
    found = rank(
        [officer(1, "A", 500.0), officer(2, None, 100.0)],
        lon=LON,
        lat=LAT,
        grid_code=None,
        neighbours=frozenset(),
        include_elsewhere=True,
    )
    assert [(r.candidate.user_id, r.tier) for r in found] == [(2, 2), (1, 2)]


def test_a_prebuilt_set_ranks_ten_thousand_officers_like_a_sort_would() -> None:
    rng = np.random.default_rng(7)
    modes = list(TravelMode)
    team = [
        officer(i, f"G{i % 50}", float(rng.uniform(-8000, 8000)), modes[i % 3])
        for i in range(10_000)
    ]
    found = CandidateSet(team).rank(
        lon=LON, lat=LAT, grid_code="G1", neighbours=frozenset({"G2", "G3"}), limit=25
    )
    everyone = CandidateSet(team).rank(
        lon=LON, lat=LAT, grid_code="G1", neighbours=frozenset({"G2", "G3"}), limit=10_000
    )
    keys = [(r.tier, r.eta_s) for r in everyone]
    assert keys == sorted(keys)
    assert len(everyone) == sum(1 for c in team if c.grid_code in {"G1", "G2", "G3"})
    assert found == everyone[:25]


def test_neighbouring_grids_touch_or_lie_within_the_distance() -> None:
    metre = 1 / 111_195.0  # degrees per metre near the equator, both ways
    square = shapely.box(0, 0, 500 * metre, 500 * metre)
    touching = shapely.box(500 * metre, 0, 1000 * metre, 500 * metre)
    across_a_street = shapely.box(0, 530 * metre, 500 * metre, 1000 * metre)
    far = shapely.box(0, -1000 * metre, 500 * metre, -700 * metre)

    found = grid_neighbours(
        [("A", square), ("B", touching), ("C", across_a_street), ("D", far)], within_m=50.0
    )

    assert found["A"] == frozenset({"B", "C"})
    assert found["B"] == frozenset({"A", "C"})  # C's corner is 30 m from B's
    assert found["D"] == frozenset()
