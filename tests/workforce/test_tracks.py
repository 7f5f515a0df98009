"""Patrol statistics, GeoJSON and GPX on synthetic walks of known length and duration."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from shapely.geometry import shape

from tests.workforce.tracks_support import GUANHU, START, polyline_length, rectangle, route, walk
from urbanops.workforce.tracks import (
    GPX_NS,
    Fix,
    TrackRules,
    patrol_stats,
    track_geojson,
    track_gpx,
)

# An L-shaped beat of exactly 3.2 km: 1.6 km east, then 1.6 km north.
BEAT = route(GUANHU, [(90.0, 1600.0), (0.0, 1600.0)])
WALK_S = 3200.0 / 1.4
GPX = {"g": GPX_NS}


def within(value: float, expected: float, share: float = 0.01) -> bool:
    return abs(value - expected) <= share * expected


def test_the_synthetic_beat_is_exactly_3_2_km() -> None:
    assert polyline_length(BEAT) == pytest.approx(3200.0, abs=1e-6)


def test_walk_with_a_10_minute_stop_gives_distance_moving_time_and_one_stop() -> None:
    fixes = walk(BEAT, stop_at_m=1600.0, stop_s=600.0, jitter_m=4.0, accuracy_m=8.0)

    stats = patrol_stats(fixes)

    assert within(stats.distance_m, 3200.0)
    assert within(stats.moving_s, WALK_S)
    assert len(stats.stops) == 1
    stop = stats.stops[0]
    assert stop.duration_s == pytest.approx(600.0, abs=10.0)
    assert stop.start == pytest.approx(
        START + timedelta(seconds=1600 / 1.4), abs=timedelta(seconds=5)
    )
    corner_lon, corner_lat = BEAT[1]
    assert stop.lon == pytest.approx(corner_lon, abs=5e-5)
    assert stop.lat == pytest.approx(corner_lat, abs=5e-5)
    assert stats.first_at is not None and stats.last_at is not None
    assert stats.last_at - stats.first_at == timedelta(seconds=WALK_S + 600.0)


def test_standing_device_jitter_adds_no_distance() -> None:
    fixes = walk(BEAT, stop_at_m=0.0, stop_s=1800.0, jitter_m=4.0, accuracy_m=8.0)[:300]

    stats = patrol_stats(fixes)

    assert stats.distance_m == 0.0
    assert stats.moving_s == 0.0
    assert len(stats.stops) == 1


def test_fixes_every_second_still_count_the_whole_walk() -> None:
    fixes = walk(BEAT, every_s=1.0)  # steps of 1.4 m, below the 5 m jitter threshold

    stats = patrol_stats(fixes)

    assert within(stats.distance_m, 3200.0)
    assert within(stats.moving_s, WALK_S)
    assert stats.stops == []


def test_reported_speed_decides_moving_time() -> None:
    fixes = walk(BEAT, stop_at_m=1600.0, stop_s=600.0, report_speed=True)

    stats = patrol_stats(fixes)

    assert within(stats.moving_s, WALK_S)
    assert within(stats.distance_m, 3200.0)


def test_short_pause_is_not_a_stop() -> None:
    fixes = walk(BEAT, stop_at_m=800.0, stop_s=120.0)

    stats = patrol_stats(fixes)

    assert stats.stops == []
    assert within(stats.moving_s, WALK_S)


def test_long_silence_is_neither_distance_nor_moving_time_and_splits_the_track() -> None:
    fixes = walk(BEAT)
    half = len(fixes) // 2
    late = [replace(f, at=f.at + timedelta(minutes=30)) for f in fixes[half:]]
    track = fixes[:half] + late

    stats = patrol_stats(track)
    feature = track_geojson(track)

    step = 1.4 * 5.0
    assert within(stats.distance_m, 3200.0 - step, 0.01)
    assert stats.distance_m < 3200.0 - step + 1.0
    assert within(stats.moving_s, WALK_S - 5.0)
    assert stats.segments == 2
    assert feature["geometry"]["type"] == "MultiLineString"
    assert [len(line) for line in feature["geometry"]["coordinates"]] == [half, len(fixes) - half]


def test_custom_stop_rules_apply() -> None:
    fixes = walk(BEAT, stop_at_m=1600.0, stop_s=120.0)

    default = patrol_stats(fixes)
    strict = patrol_stats(fixes, rules=TrackRules(stop_min=timedelta(minutes=1)))

    assert default.stops == []
    assert len(strict.stops) == 1
    assert strict.stops[0].duration_s == pytest.approx(120.0, abs=10.0)


def test_grids_visited_with_time_in_each() -> None:
    fixes = walk(BEAT)
    half = len(fixes) // 2
    coded = [
        replace(f, unit_grid_code="440309001001001" if i < half else "440309001001002")
        for i, f in enumerate(fixes)
    ]

    stats = patrol_stats(coded)

    assert [g.code for g in stats.grids] == ["440309001001001", "440309001001002"]
    assert [g.fixes for g in stats.grids] == [half, len(fixes) - half]
    total = sum(g.seconds for g in stats.grids)
    assert total == pytest.approx(WALK_S, abs=0.2)
    assert stats.grids[0].seconds == pytest.approx(half * 5.0, abs=0.1)


def test_coverage_of_a_grid_walked_end_to_end_is_the_buffered_strip() -> None:
    grid = rectangle(GUANHU, east_m=1000.0, north_m=200.0)
    centre_line = route(GUANHU, [(0.0, 100.0)])
    west = centre_line[1]
    line = [west, route(west, [(90.0, 1000.0)])[1]]
    fixes = walk(line)

    stats = patrol_stats(fixes, grid=("440309001-01", grid))

    cov = stats.coverage
    assert cov is not None
    assert cov.grid_m2 == pytest.approx(200_000.0, rel=0.005)
    assert cov.share == pytest.approx(60.0 * 1000.0 / 200_000.0, rel=0.01)  # 30 m each side


def test_coverage_buffer_is_configurable_and_empty_track_covers_nothing() -> None:
    grid = rectangle(GUANHU, east_m=1000.0, north_m=200.0)
    west = route(GUANHU, [(0.0, 100.0)])[1]
    fixes = walk([west, route(west, [(90.0, 1000.0)])[1]])

    wide = patrol_stats(fixes, grid=("g", grid), rules=TrackRules(coverage_buffer_m=50.0))
    empty = patrol_stats([], grid=("g", grid))

    assert wide.coverage is not None and wide.coverage.share == pytest.approx(0.5, rel=0.01)
    assert empty.coverage is not None and empty.coverage.share == 0.0
    assert empty.distance_m == 0.0 and empty.fixes == 0 and empty.first_at is None


def test_geojson_is_a_valid_feature_with_times_and_statistics() -> None:
    fixes = walk(BEAT, stop_at_m=1600.0, stop_s=600.0)

    feature = json.loads(json.dumps(track_geojson(fixes, properties={"user_id": 7})))

    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    coords = feature["geometry"]["coordinates"]
    assert len(coords) == len(fixes)
    assert coords[0] == [fixes[0].lon, fixes[0].lat]  # GeoJSON order: lon, lat
    assert shape(feature["geometry"]).is_valid
    props = feature["properties"]
    assert props["user_id"] == 7
    assert len(props["coordinate_times"]) == len(fixes)
    assert props["coordinate_times"][0] == "2026-11-26T01:00:00Z"
    assert within(props["statistics"]["distance_m"], 3200.0)
    assert len(props["statistics"]["stops"]) == 1


def test_geojson_of_no_fixes_has_no_geometry() -> None:
    feature = track_geojson([])

    assert feature["geometry"] is None
    assert feature["properties"]["statistics"]["fixes"] == 0


def test_gpx_parses_back_with_every_point_and_its_time() -> None:
    fixes = walk(BEAT, stop_at_m=1600.0, stop_s=600.0)
    fixes = fixes[:100] + [replace(f, at=f.at + timedelta(hours=1)) for f in fixes[100:]]

    data = track_gpx(fixes, name="张三 2026-11-26", created_at=START)

    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(data)
    assert root.tag == f"{{{GPX_NS}}}gpx"
    assert root.get("version") == "1.1"
    assert root.findtext("g:trk/g:name", namespaces=GPX) == "张三 2026-11-26"
    segments = root.findall("g:trk/g:trkseg", GPX)
    assert [len(s.findall("g:trkpt", GPX)) for s in segments] == [100, len(fixes) - 100]
    points = root.findall(".//g:trkpt", GPX)
    assert len(points) == len(fixes)
    first = points[0]
    assert float(first.get("lat", "nan")) == pytest.approx(fixes[0].lat, abs=1e-7)
    assert float(first.get("lon", "nan")) == pytest.approx(fixes[0].lon, abs=1e-7)
    times = [datetime.fromisoformat(p.findtext("g:time", namespaces=GPX) or "") for p in points]
    assert times == [f.at for f in fixes]


def test_fixes_out_of_order_are_sorted() -> None:
    fixes = walk(BEAT)

    shuffled = fixes[::2] + fixes[1::2]

    assert patrol_stats(shuffled).distance_m == pytest.approx(patrol_stats(fixes).distance_m)


def test_a_single_fix_is_a_track_of_zero_length() -> None:
    stats = patrol_stats([Fix(at=START, lon=GUANHU[0], lat=GUANHU[1])])

    assert stats.fixes == 1
    assert stats.distance_m == 0.0
    assert stats.moving_s == 0.0
    assert stats.segments == 1


def test_hours_standing_with_a_noisy_gps_is_one_stop_and_a_small_covered_disc() -> None:
    grid = rectangle(GUANHU, east_m=2000.0, north_m=2000.0)
    fixes = walk(
        BEAT, every_s=1.0, stop_at_m=1600.0, stop_s=4 * 3600.0, jitter_m=8.0, accuracy_m=10.0
    )

    stats = patrol_stats(fixes, grid=("g", grid))

    assert within(stats.distance_m, 3200.0)
    assert within(stats.moving_s, WALK_S)
    assert [s.duration_s for s in stats.stops] == [pytest.approx(4 * 3600.0, abs=10.0)]
    assert stats.coverage is not None
    still = patrol_stats(walk(BEAT), grid=("g", grid)).coverage
    assert still is not None
    assert stats.coverage.covered_m2 == pytest.approx(still.covered_m2, rel=0.01)
