"""The demo street's areas and grids: where they lie, how they are coded, how they fit together."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, shape

from urbanops.demo.geometry import (
    CELL_SIZE_M,
    METRIC_CRS,
    DemoStreet,
    UnitGrid,
    build_guanhu,
)
from urbanops.demo.names import GUANHU_COMMUNITIES
from urbanops.kit.geo import SpatialIndex

_TO_METRES = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


def metres(geometry: Any) -> Any:
    """The geometry projected to UTM 50N so that areas read in square metres."""
    return shapely.transform(geometry, _TO_METRES.transform, interleaved=False)


def area_m2(geometry: Any) -> float:
    return float(metres(geometry).area)


def overlap_m2(polygons: list[Polygon]) -> float:
    """Total area where two of the polygons overlap."""
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left.tolist(), right.tolist(), strict=True) if i < j]
    return sum(area_m2(polygons[i].intersection(polygons[j])) for i, j in pairs)


def raw_longhua_gcj02() -> Any:
    text = resources.files("urbanops.demo").joinpath("data/longhua-district-440309.json")
    return shape(json.loads(text.read_text(encoding="utf-8"))[0]["geometry"])


def test_district_is_the_real_longhua_boundary_moved_from_gcj02_to_wgs84(
    guanhu: DemoStreet,
) -> None:
    raw, converted = raw_longhua_gcj02().centroid, guanhu.district.polygon.centroid
    assert (guanhu.district.code, guanhu.district.name) == ("440309", "龙华区")
    assert guanhu.district.polygon.is_valid
    # In Shenzhen GCJ-02 lies about 500 m east and 300 m south of WGS84.
    assert 0.004 < raw.x - converted.x < 0.006
    assert 0.002 < converted.y - raw.y < 0.0035
    assert 120e6 < area_m2(guanhu.district.polygon) < 200e6


def test_street_guanhu_is_a_single_valid_polygon_of_25_to_40_km2(guanhu: DemoStreet) -> None:
    street = guanhu.street
    assert (street.code, street.name) == ("440309001", "观湖街道")
    assert isinstance(street.polygon, Polygon) and street.polygon.is_valid
    assert 25e6 <= area_m2(street.polygon) <= 40e6


def test_street_lies_inside_longhua_in_its_north_east(guanhu: DemoStreet) -> None:
    street, district = guanhu.street.polygon, guanhu.district.polygon
    assert area_m2(street.difference(district)) < 1.0
    assert street.centroid.x > district.centroid.x
    assert street.centroid.y > district.centroid.y
    assert 114.04 < street.centroid.x < 114.12 and 22.70 < street.centroid.y < 22.76


def test_communities_carry_real_guanhu_names_and_sequential_codes(guanhu: DemoStreet) -> None:
    codes = [community.code for community in guanhu.communities]
    assert 8 <= len(codes) <= 10
    assert codes == [f"440309001{n:03d}" for n in range(1, len(codes) + 1)]
    assert [c.name for c in guanhu.communities] == [
        f"{name}社区" for name in GUANHU_COMMUNITIES[: len(codes)]
    ]


def test_communities_partition_the_street_without_overlaps_or_gaps(guanhu: DemoStreet) -> None:
    polygons = [community.polygon for community in guanhu.communities]
    street_area = area_m2(guanhu.street.polygon)
    assert all(isinstance(p, Polygon) and p.is_valid for p in polygons)
    assert overlap_m2(polygons) < 1.0
    assert area_m2(shapely.union_all(polygons).symmetric_difference(guanhu.street.polygon)) < (
        street_area * 1e-6
    )


def test_unit_grids_number_a_few_hundred_valid_cells_without_slivers(guanhu: DemoStreet) -> None:
    areas = [area_m2(unit.polygon) for unit in guanhu.unit_grids]
    assert 300 <= len(areas) <= 1_000
    assert all(isinstance(u.polygon, Polygon) and u.polygon.is_valid for u in guanhu.unit_grids)
    assert min(areas) >= 2_000
    assert max(areas) <= 2 * CELL_SIZE_M**2


def test_unit_grid_codes_are_15_digits_under_their_community(guanhu: DemoStreet) -> None:
    community_codes = {community.code for community in guanhu.communities}
    codes = [unit.code for unit in guanhu.unit_grids]
    assert len(set(codes)) == len(codes)
    for unit in guanhu.unit_grids:
        assert re.fullmatch(r"440309001\d{6}", unit.code)
        assert unit.community_code in community_codes
        assert unit.code[:12] == unit.community_code
    for community_code in community_codes:
        serials = [
            int(u.code[12:]) for u in guanhu.unit_grids if u.community_code == community_code
        ]
        assert serials == list(range(1, len(serials) + 1))


def test_unit_grids_tile_the_street_without_overlaps_or_gaps(guanhu: DemoStreet) -> None:
    polygons = [unit.polygon for unit in guanhu.unit_grids]
    street = guanhu.street.polygon
    assert overlap_m2(polygons) < 1.0
    gap = area_m2(shapely.union_all(polygons).symmetric_difference(street))
    assert gap < area_m2(street) * 0.001


def test_every_unit_grid_lies_in_its_community(guanhu: DemoStreet) -> None:
    communities = {community.code: community.polygon for community in guanhu.communities}
    for unit in guanhu.unit_grids:
        assert area_m2(unit.polygon.difference(communities[unit.community_code])) < 1.0


def lattice_anchor(unit: UnitGrid) -> tuple[int, int]:
    """(northing index, easting index) of the 250 m UTM square holding most of the unit grid."""
    polygon = metres(unit.polygon)
    west, south, east, north = polygon.bounds
    squares = [
        (n, e)
        for n in range(int(south // CELL_SIZE_M), int(north // CELL_SIZE_M) + 1)
        for e in range(int(west // CELL_SIZE_M), int(east // CELL_SIZE_M) + 1)
    ]
    boxes = [
        shapely.box(e * CELL_SIZE_M, n * CELL_SIZE_M, (e + 1) * CELL_SIZE_M, (n + 1) * CELL_SIZE_M)
        for n, e in squares
    ]
    shares = [polygon.intersection(square).area for square in boxes]
    return squares[int(np.argmax(shares))]


def test_unit_grids_are_numbered_west_to_east_then_north_to_south(guanhu: DemoStreet) -> None:
    anchors = {unit.code: lattice_anchor(unit) for unit in guanhu.unit_grids}
    tops = {unit.row + anchors[unit.code][0] for unit in guanhu.unit_grids}
    lefts = {anchors[unit.code][1] - unit.column for unit in guanhu.unit_grids}
    assert len(tops) == 1 and len(lefts) == 1  # row and column are the lattice square's
    for community in guanhu.communities:
        units = [u for u in guanhu.unit_grids if u.community_code == community.code]
        order = [(-anchors[u.code][0], anchors[u.code][1]) for u in units]
        assert order == sorted(order)


def test_there_are_17_responsibility_grids_coded_and_named_by_community(
    guanhu: DemoStreet,
) -> None:
    grids = guanhu.responsibility_grids
    names = {
        community.code: community.name.removesuffix("社区") for community in guanhu.communities
    }
    assert [grid.code for grid in grids] == [f"440309001-{n:02d}" for n in range(1, 18)]
    for grid in grids:
        assert re.fullmatch(f"{names[grid.community_code]}第[一二三四五六七八九十]网格", grid.name)
    assert len({grid.name for grid in grids}) == 17


def test_every_unit_grid_belongs_to_exactly_one_responsibility_grid(guanhu: DemoStreet) -> None:
    counts = Counter(code for grid in guanhu.responsibility_grids for code in grid.unit_grid_codes)
    assert set(counts) == {unit.code for unit in guanhu.unit_grids}
    assert set(counts.values()) == {1}


def test_responsibility_grid_is_one_piece_made_of_its_unit_grids(guanhu: DemoStreet) -> None:
    units = {unit.code: unit for unit in guanhu.unit_grids}
    for grid in guanhu.responsibility_grids:
        members = [units[code] for code in grid.unit_grid_codes]
        assert isinstance(grid.polygon, Polygon) and grid.polygon.is_valid
        assert {unit.community_code for unit in members} == {grid.community_code}
        member_area = sum(area_m2(unit.polygon) for unit in members)
        assert abs(area_m2(grid.polygon) - member_area) < member_area * 1e-6


def test_responsibility_grids_do_not_overlap(guanhu: DemoStreet) -> None:
    assert overlap_m2([grid.polygon for grid in guanhu.responsibility_grids]) < 1.0


def test_sample_points_land_in_three_different_grids(guanhu: DemoStreet) -> None:
    inside = [sample for sample in guanhu.sample_points() if sample.unit_grid_code is not None]
    units = {unit.code: unit.polygon for unit in guanhu.unit_grids}
    grids = {grid.code: grid for grid in guanhu.responsibility_grids}
    assert len(inside) == 3
    assert len({sample.responsibility_grid_code for sample in inside}) == 3
    for sample in inside:
        assert sample.unit_grid_code is not None and sample.responsibility_grid_code is not None
        grid = grids[sample.responsibility_grid_code]
        assert units[sample.unit_grid_code].contains(sample.point)
        assert grid.polygon.contains(sample.point)
        assert sample.unit_grid_code in grid.unit_grid_codes


def test_point_in_futian_is_outside_the_street_and_longhua(guanhu: DemoStreet) -> None:
    outside = [sample for sample in guanhu.sample_points() if sample.unit_grid_code is None]
    assert len(outside) == 1 and outside[0].responsibility_grid_code is None
    assert "福田" in outside[0].name
    assert not guanhu.street.polygon.contains(outside[0].point)
    assert not guanhu.district.polygon.contains(outside[0].point)


def test_spatial_index_of_the_demo_grids_locates_the_sample_points(guanhu: DemoStreet) -> None:
    index = SpatialIndex((grid.code, grid.polygon) for grid in guanhu.responsibility_grids)
    for sample in guanhu.sample_points():
        assert index.locate(sample.point.x, sample.point.y) == sample.responsibility_grid_code


def test_two_builds_with_the_same_seed_are_equal(guanhu: DemoStreet) -> None:
    assert build_guanhu() == guanhu


def test_another_seed_draws_another_layout_with_grids_still_in_one_piece(
    guanhu: DemoStreet,
) -> None:
    other = build_guanhu(seed=20)  # a seed whose raw k-means clusters come out in two pieces
    units = {unit.code: unit.polygon for unit in other.unit_grids}
    assert other.street == guanhu.street
    assert other.communities != guanhu.communities
    assert len(other.responsibility_grids) == 17
    for grid in other.responsibility_grids:
        member_area = sum(area_m2(units[code]) for code in grid.unit_grid_codes)
        assert abs(area_m2(grid.polygon) - member_area) < member_area * 1e-6
