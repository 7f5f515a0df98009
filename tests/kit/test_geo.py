"""Scenarios for coordinate conversion (WGS84, CGCS2000, GCJ-02, BD-09) and the grid index."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box

from urbanops.kit.errors import InvalidInput
from urbanops.kit.geo import (
    Crs,
    SpatialIndex,
    SpatialIndexHolder,
    bd09_to_gcj02,
    from_wgs84,
    from_wgs84_xy,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    to_wgs84,
    to_wgs84_xy,
    wgs84_to_gcj02,
)

SHENZHEN_CIVIC_CENTRE = (114.0579, 22.5431)
GEOD = Geod(ellps="WGS84")

china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


# --- CRS names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wgs84", Crs.WGS84),
        ("EPSG:4326", Crs.WGS84),
        ("CGCS2000", Crs.CGCS2000),
        ("epsg:4490", Crs.CGCS2000),
        ("GCJ-02", Crs.GCJ02),
        (" gcj02 ", Crs.GCJ02),
        ("BD09", Crs.BD09),
        (Crs.BD09, Crs.BD09),
    ],
)
def test_crs_names_and_aliases_are_understood(name: str, expected: Crs) -> None:
    assert parse_crs(name) is expected


def test_unknown_crs_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_crs("EPSG:3857")
    problem = caught.value
    assert problem.status == 422
    assert problem.code == "unknown_crs"
    assert "EPSG:3857" in str(problem.detail)
    for accepted in ("wgs84", "cgcs2000", "gcj02", "bd09"):
        assert accepted in str(problem.detail)
    assert problem.to_dict()["accepted"] == ["wgs84", "cgcs2000", "gcj02", "bd09"]


def test_converting_from_an_unknown_crs_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Unknown coordinate system"):
        to_wgs84_xy(np.array([114.0]), np.array([22.5]), "mercator")


# --- GCJ-02 and BD-09 ---------------------------------------------------------------------------


def test_tiananmen_reference_pair_matches_the_published_gcj02_value() -> None:
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert lat == pytest.approx(39.91640428150164, abs=1e-9)


def test_tiananmen_reference_pair_matches_the_published_bd09_value() -> None:
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-9)
    assert lat == pytest.approx(39.92133699351021, abs=1e-9)


def test_a_shenzhen_point_on_an_amap_base_map_is_shifted_by_some_hundreds_of_metres() -> None:
    lon, lat = SHENZHEN_CIVIC_CENTRE
    gcj_lon, gcj_lat = from_wgs84_xy(np.array([lon]), np.array([lat]), "gcj02")
    _, _, metres = GEOD.inv(lon, lat, gcj_lon[0], gcj_lat[0])
    assert 300 < metres < 700
    assert gcj_lon[0] > lon  # the shift in Shenzhen is to the north-east... in longitude at least


def test_gcj02_is_the_identity_outside_china() -> None:
    lon = np.array([139.6917, -0.1276, 151.2093, 2.3522])  # Tokyo, London, Sydney, Paris
    lat = np.array([35.6895, 51.5072, -33.8688, 48.8566])
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    back_lon, back_lat = gcj02_to_wgs84(lon, lat)
    assert np.array_equal(gcj_lon, lon) and np.array_equal(gcj_lat, lat)
    assert np.array_equal(back_lon, lon) and np.array_equal(back_lat, lat)


def test_inverse_gcj02_is_precise_not_the_one_step_approximation() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(100.0, 125.0, 2000), rng.uniform(20.0, 45.0, 2000)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7
    crude_lon = gcj_lon - (gcj_lon - lon)  # sanity: what the crude inverse would have to beat
    assert np.abs(crude_lon - lon).max() < 1e-6


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_wgs84_gcj02_round_trip_stays_within_a_microdegree(lon: float, lat: float) -> None:
    gcj_lon, gcj_lat = from_wgs84_xy(np.array([lon]), np.array([lat]), Crs.GCJ02)
    back_lon, back_lat = to_wgs84_xy(gcj_lon, gcj_lat, Crs.GCJ02)
    assert abs(back_lon[0] - lon) < 1e-6 and abs(back_lat[0] - lat) < 1e-6


@settings(max_examples=200, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_wgs84_bd09_round_trip_stays_within_a_microdegree(lon: float, lat: float) -> None:
    bd_lon, bd_lat = from_wgs84_xy(np.array([lon]), np.array([lat]), "bd09")
    back_lon, back_lat = to_wgs84_xy(bd_lon, bd_lat, "bd09")
    assert abs(back_lon[0] - lon) < 1e-6 and abs(back_lat[0] - lat) < 1e-6


def test_bd09_inverse_recovers_gcj02_precisely() -> None:
    gcj_lon, gcj_lat = np.array([114.06301399856547]), np.array([22.54038281422246])
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(gcj_lon, gcj_lat))
    assert abs(back_lon[0] - gcj_lon[0]) < 1e-8 and abs(back_lat[0] - gcj_lat[0]) < 1e-8


def test_cgcs2000_coordinates_are_within_a_metre_of_wgs84() -> None:
    lon, lat = SHENZHEN_CIVIC_CENTRE
    wgs_lon, wgs_lat = to_wgs84_xy(np.array([lon]), np.array([lat]), "EPSG:4490")
    _, _, metres = GEOD.inv(lon, lat, wgs_lon[0], wgs_lat[0])
    assert metres < 1.0
    out_lon, out_lat = from_wgs84_xy(wgs_lon, wgs_lat, "cgcs2000")
    assert abs(out_lon[0] - lon) < 1e-8 and abs(out_lat[0] - lat) < 1e-8


def test_conversion_leaves_the_callers_arrays_untouched() -> None:
    lon, lat = np.array([114.05, 114.06]), np.array([22.54, 22.55])
    before = (lon.copy(), lat.copy())
    to_wgs84_xy(lon, lat, "gcj02")
    from_wgs84_xy(lon, lat, "bd09")
    assert np.array_equal(lon, before[0]) and np.array_equal(lat, before[1])


def test_a_grid_drawn_on_a_gcj02_base_map_converts_to_wgs84_and_back() -> None:
    drawn = Polygon([(114.05, 22.54), (114.06, 22.54), (114.06, 22.55), (114.05, 22.55)])
    stored = to_wgs84(drawn, "gcj02")
    assert stored.geom_type == "Polygon"
    assert not shapely.equals_exact(stored, drawn, tolerance=1e-4)  # it really moved
    assert shapely.equals_exact(from_wgs84(stored, "gcj02"), drawn, tolerance=1e-7)
    assert to_wgs84(drawn, "wgs84") is drawn


def test_a_multipolygon_from_baidu_keeps_its_parts_and_hole() -> None:
    outer = box(114.0, 22.5, 114.02, 22.52).difference(box(114.005, 22.505, 114.01, 22.51))
    shape = MultiPolygon([outer, box(114.03, 22.5, 114.04, 22.51)])
    stored = to_wgs84(shape, Crs.BD09)
    assert stored.geom_type == "MultiPolygon" and len(stored.geoms) == 2
    assert len(stored.geoms[0].interiors) == 1
    assert shapely.equals_exact(from_wgs84(stored, Crs.BD09), shape, tolerance=1e-7)


# --- The spatial index --------------------------------------------------------------------------


def square_lattice(n: int = 3) -> list[tuple[str, Polygon]]:
    """An n × n lattice of unit squares keyed so that sort order differs from build order."""
    return [
        (f"g{(n * n - k):02d}", box(k % n, k // n, k % n + 1, k // n + 1)) for k in range(n * n)
    ]


def jittered_lattice(n: int = 12, seed: int = 3) -> tuple[list[tuple[str, Polygon]], np.ndarray]:
    """Irregular quadrilaterals sharing jittered corners over Shenzhen; also returns the corners."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.linspace(114.0, 114.06, n + 1), np.linspace(22.5, 22.56, n + 1))
    step = 0.06 / n
    vx = xs + rng.uniform(-0.25 * step, 0.25 * step, xs.shape)
    vy = ys + rng.uniform(-0.25 * step, 0.25 * step, ys.shape)
    grids = []
    for r in range(n):
        for c in range(n):
            ring = [(vx[r, c], vy[r, c]), (vx[r, c + 1], vy[r, c + 1]),
                    (vx[r + 1, c + 1], vy[r + 1, c + 1]), (vx[r + 1, c], vy[r + 1, c])]  # fmt: skip
            grids.append((f"44030900100{r:02d}{c:02d}", Polygon(ring)))
    rng.shuffle(grids)
    return grids, np.column_stack([vx.ravel(), vy.ravel()])


def outside(found: np.ndarray) -> np.ndarray:
    """Which answers say "outside jurisdiction"."""
    return np.array([key is None for key in found], dtype=bool)


def brute_force(grids: list[tuple[str, Polygon]], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The obvious answer: the first key in sort order whose polygon covers the point."""
    found = np.full(lon.size, None, dtype=object)
    for key, polygon in sorted(grids, key=lambda kv: kv[0]):
        hit = shapely.intersects_xy(polygon, lon, lat)
        found[hit & outside(found)] = key
    return found


Lattice = tuple[list[tuple[str, Polygon]], np.ndarray, SpatialIndex]


@pytest.fixture(scope="module")
def lattice() -> Lattice:
    grids, corners = jittered_lattice()
    return grids, corners, SpatialIndex(grids)


def test_random_points_get_the_same_grid_as_brute_force(lattice: Lattice) -> None:
    grids, _, index = lattice
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(113.99, 114.07, 50_000), rng.uniform(22.49, 22.57, 50_000)
    found = index.locate_many(lon, lat)
    expected = brute_force(grids, lon, lat)
    assert found.dtype == object
    assert np.array_equal(found, expected)
    assert outside(found).any() and not outside(found).all()  # both kinds occur


def test_points_on_shared_corners_belong_to_the_first_key_in_sort_order(lattice: Lattice) -> None:
    grids, corners, index = lattice
    found = index.locate_many(corners[:, 0], corners[:, 1])
    assert np.array_equal(found, brute_force(grids, corners[:, 0], corners[:, 1]))
    assert not outside(found).any()  # every corner, outer ones too, lies on some grid


def test_points_on_shared_edges_belong_to_the_first_key_in_sort_order() -> None:
    grids = square_lattice(3)
    index = SpatialIndex(grids)
    # x = 1.0 is the edge between the squares keyed g09 (left, built first) and g08 (right).
    assert index.locate(1.0, 0.5) == "g08"
    assert index.locate(0.5, 0.5) == "g09"
    assert index.locate(1.0, 1.0) == "g05"  # corner of g09, g08, g06, g05
    edge_lon = np.array([1.0, 2.0, 0.5, 1.5, 2.5, 0.0, 3.0])
    edge_lat = np.array([0.25, 2.75, 1.0, 2.0, 1.0, 1.5, 3.0])
    assert np.array_equal(
        index.locate_many(edge_lon, edge_lat), brute_force(grids, edge_lon, edge_lat)
    )


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(min_value=113.99, max_value=114.07, allow_nan=False),
    lat=st.floats(min_value=22.49, max_value=22.57, allow_nan=False),
)
def test_any_single_point_agrees_with_brute_force(lon: float, lat: float) -> None:
    expected = brute_force(_SHARED_GRIDS, np.array([lon]), np.array([lat]))[0]
    assert _SHARED_INDEX.locate(lon, lat) == expected


_SHARED_GRIDS = jittered_lattice()[0]
_SHARED_INDEX = SpatialIndex(_SHARED_GRIDS)  # built once: hypothesis calls the test many times


def test_a_point_in_another_district_is_outside_jurisdiction_not_an_error() -> None:
    index = SpatialIndex(square_lattice(3))
    assert index.locate(10.0, 10.0) is None
    assert index.locate(-0.001, 0.5) is None
    assert list(index.locate_many(np.array([5.0, 0.5]), np.array([5.0, 0.5]))) == [None, "g09"]


def test_nan_coordinates_are_outside_jurisdiction() -> None:
    index = SpatialIndex(square_lattice(3))
    assert list(index.locate_many(np.array([np.nan, 0.5]), np.array([0.5, np.nan]))) == [
        None,
        None,
    ]


def test_overlapping_grids_resolve_to_the_first_key_in_sort_order() -> None:
    index = SpatialIndex([("b", box(0, 0, 2, 2)), ("a", box(1, 1, 3, 3))])
    assert index.locate(1.5, 1.5) == "a"
    assert index.locate(0.5, 0.5) == "b"
    assert index.locate(2.5, 2.5) == "a"


def test_a_point_in_the_hole_of_a_grid_falls_to_the_grid_inside_the_hole() -> None:
    ring_grid = box(0, 0, 10, 10).difference(box(4, 4, 6, 6))
    island = MultiPolygon([box(4.5, 4.5, 5.5, 5.5), box(20, 20, 21, 21)])
    index = SpatialIndex([("ring", ring_grid), ("island", island)])
    assert index.locate(5.0, 5.0) == "island"
    assert index.locate(4.2, 4.2) is None  # in the hole, outside the island
    assert index.locate(1.0, 1.0) == "ring"
    assert index.locate(20.5, 20.5) == "island"
    assert index.locate(15.0, 15.0) is None


def test_index_reports_its_keys_size_and_bounds() -> None:
    index = SpatialIndex(square_lattice(2))
    assert index.keys == ("g01", "g02", "g03", "g04")
    assert len(index) == 4
    assert index.bounds == (0.0, 0.0, 2.0, 2.0)
    assert index.geometry("g04").equals(box(0, 0, 1, 1))


def test_an_empty_index_places_every_point_outside() -> None:
    index = SpatialIndex([])
    assert len(index) == 0
    assert index.locate(114.0, 22.5) is None
    assert list(index.locate_many(np.array([1.0]), np.array([2.0]))) == [None]


def test_a_single_tiny_grid_is_found() -> None:
    tiny = box(114.05, 22.54, 114.05001, 22.54001)
    index = SpatialIndex([("only", tiny)])
    assert index.locate(114.050005, 22.540005) == "only"
    assert index.locate(114.05002, 22.540005) is None


def test_duplicate_grid_keys_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        SpatialIndex([("a", box(0, 0, 1, 1)), ("a", box(1, 0, 2, 1))])
    assert caught.value.code == "duplicate_grid_key"


@pytest.mark.parametrize("geometry", [Point(0, 0), Polygon(), box(0, 0, 1, 1).exterior])
def test_a_grid_that_is_not_a_polygon_is_refused(geometry: shapely.Geometry) -> None:
    with pytest.raises(InvalidInput) as caught:
        SpatialIndex([("bad", geometry)])
    assert caught.value.code == "grid_not_polygon"


def test_longitude_and_latitude_arrays_of_different_length_are_refused() -> None:
    index = SpatialIndex(square_lattice(2))
    with pytest.raises(InvalidInput):
        index.locate_many(np.array([0.5, 0.5]), np.array([0.5]))


# --- Swapping the index -------------------------------------------------------------------------


def test_holder_publishes_a_new_index_with_a_higher_version() -> None:
    first = SpatialIndex(square_lattice(2))
    holder = SpatialIndexHolder(first)
    assert holder.get() is first and holder.version == 1
    second = SpatialIndex([("new", box(0, 0, 2, 2))])
    assert holder.replace(second) == 2
    assert holder.get() is second and holder.version == 2
    assert holder.get().locate(0.5, 0.5) == "new"
    assert holder.snapshot() == (2, second)


def test_an_empty_holder_answers_outside_until_grids_are_loaded() -> None:
    holder = SpatialIndexHolder()
    assert holder.get().locate(0.5, 0.5) is None
    holder.replace(SpatialIndex(square_lattice(1)))
    assert holder.get().locate(0.5, 0.5) == "g01"


def test_readers_see_a_whole_index_while_a_new_one_is_built_and_swapped() -> None:
    grids, _ = jittered_lattice(n=20, seed=5)
    generations = [[(f"{gen}-{key}", geom) for key, geom in grids] for gen in "abcd"]
    holder = SpatialIndexHolder(SpatialIndex(generations[0]))
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(114.0, 114.06, 2000), rng.uniform(22.5, 22.56, 2000)
    expected = brute_force(grids, lon, lat)
    errors: list[str] = []
    versions_seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            version, index = holder.snapshot()
            versions_seen.add(version)
            prefix = "abcd"[version - 1] + "-"
            found = index.locate_many(lon, lat)
            stripped = np.array([k.removeprefix(prefix) if k else None for k in found])
            if not all(k is None or k.startswith(prefix) for k in found) or not np.array_equal(
                stripped, expected
            ):
                errors.append(f"version {version} gave inconsistent answers")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for generation in generations[1:]:
        holder.replace(SpatialIndex(generation))
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert holder.version == 4
    assert len(versions_seen) >= 2


def test_a_city_of_1600_grids_agrees_with_brute_force_including_corners() -> None:
    grids, corners = jittered_lattice(n=40, seed=9)
    index = SpatialIndex(grids)
    rng = np.random.default_rng(4)
    lon = np.concatenate([rng.uniform(113.99, 114.07, 5000), corners[:, 0]])
    lat = np.concatenate([rng.uniform(22.49, 22.57, 5000), corners[:, 1]])
    assert np.array_equal(index.locate_many(lon, lat), brute_force(grids, lon, lat))


def test_overlapping_layers_agree_with_brute_force_on_random_points() -> None:
    rng = np.random.default_rng(21)
    grids: list[tuple[str, Polygon]] = [("z-street", box(114.0, 22.5, 114.1, 22.6))]
    for k in range(40):  # small responsibility areas ranked before and after the street
        x, y = rng.uniform(114.0, 114.09), rng.uniform(22.5, 22.59)
        size = rng.uniform(0.001, 0.01)
        shape = Point(x, y).buffer(size) if k % 2 else box(x, y, x + size, y + size)
        grids.append((f"{'a' if k % 3 else 'zz'}-{k:02d}", shape))
    index = SpatialIndex(grids)
    lon, lat = rng.uniform(113.99, 114.11, 30_000), rng.uniform(22.49, 22.61, 30_000)
    found = index.locate_many(lon, lat)
    assert np.array_equal(found, brute_force(grids, lon, lat))
    assert {key[:2] for key in found if key} >= {"a-", "z-", "zz"}


def test_a_missing_coordinate_stays_missing_without_spoiling_the_others() -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(np.array([np.nan, 114.05]), np.array([22.5, 22.54]))
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.isnan(back_lon[0])
    assert abs(back_lon[1] - 114.05) < 1e-8 and abs(back_lat[1] - 22.54) < 1e-8
