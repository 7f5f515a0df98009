"""Importing grids, topology, responsibility grids and point lookup, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.areas.conftest import (
    DISTRICT,
    EAST,
    WEST,
    ImportFile,
    collection,
    feature,
    street_features,
)
from urbanops.areas import service
from urbanops.areas.codes import AreaLevel
from urbanops.areas.models import Area
from urbanops.areas.schemas import ImportOut, OfficerIn
from urbanops.kit.actor import SYSTEM
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict, InvalidInput
from urbanops.kit.geo import to_wgs84_xy

SHENZHEN = Path(__file__).parents[1] / "data" / "shenzhen-districts-440300.json"
WEST_POINT = (101.02, 30.65)
EAST_POINT = (101.08, 30.65)


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Area).where(Area.code.like("440311%"))) or 0


def test_shenzhen_districts_in_gcj02_land_each_centre_in_its_own_district(
    db: Session, import_file: ImportFile
) -> None:
    raw = SHENZHEN.read_bytes()
    result = import_file(raw, "shenzhen-districts-440300.json", crs="gcj02")
    assert result.total == 9
    assert sum(result.created.values()) + sum(result.updated.values()) == 9
    for item in json.loads(raw):
        props = item["properties"]
        lon, lat = props["center"]
        found = service.locate(db, lon=lon, lat=lat, crs="gcj02")
        assert found.inside, props["name"]
        assert found.district is not None
        assert (found.district.code, found.district.name) == (str(props["adcode"]), props["name"])
    wgs_lon, wgs_lat = to_wgs84_xy([114.044346], [22.691963], "gcj02")
    assert service.locate(db, lon=wgs_lon[0], lat=wgs_lat[0]).district.code == "440309"  # type: ignore[union-attr]


def test_district_sizes_are_measured_in_square_metres(db: Session, import_file: ImportFile) -> None:
    import_file(SHENZHEN.read_bytes(), "shenzhen-districts-440300.json", crs="gcj02")
    futian = service.get_area(db, code="440304")
    # 福田区 covers about 78.66 km².
    assert futian.area_m2 is not None and 70e6 < futian.area_m2 < 90e6


def test_whole_street_hierarchy_is_created_parents_first(guanhu_street: ImportOut) -> None:
    assert guanhu_street.created == {
        "district": 1,
        "street": 1,
        "community": 1,
        "unit_grid": 2,
    }


def test_fourteen_digit_grid_code_is_refused_and_nothing_written(
    db: Session, import_file: ImportFile
) -> None:
    features = [*street_features()[:3], feature("44031100100101", "十四位网格", WEST)]
    with pytest.raises(InvalidInput) as caught:
        import_file(collection(features))
    assert caught.value.code == "invalid_grid_code"
    assert "44031100100101" in str(caught.value.detail)
    assert _count(db) == 0


def test_self_intersecting_grid_is_refused_naming_it_and_nothing_written(
    db: Session, import_file: ImportFile
) -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[101.0, 30.6], [101.1, 30.7], [101.1, 30.6], [101.0, 30.7], [101.0, 30.6]]
        ],
    }
    features = [*street_features()[:4], feature("440311001001002", "蝴蝶网格", bow_tie)]
    with pytest.raises(InvalidInput) as caught:
        import_file(collection(features))
    assert caught.value.code == "invalid_geometry"
    assert "440311001001002" in str(caught.value.detail)
    assert "蝴蝶网格" in str(caught.value.detail)
    assert _count(db) == 0


def test_street_whose_district_is_unknown_is_refused(db: Session, import_file: ImportFile) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_file(collection([feature("440311001", "光明街道", DISTRICT)]))
    assert caught.value.code == "unknown_parent"
    assert _count(db) == 0


def test_declared_level_must_match_the_codes(db: Session, import_file: ImportFile) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_file(collection(street_features()[:1]), level=AreaLevel.UNIT_GRID)
    assert caught.value.code == "level_mismatch"


def test_reimporting_a_grid_updates_it_in_place(
    db: Session, guanhu_street: ImportOut, import_file: ImportFile
) -> None:
    renamed = feature("440311001001001", "新名字网格", WEST)
    result = import_file(collection([renamed]))
    assert result.updated == {"unit_grid": 1} and result.created == {}
    assert service.get_area(db, code="440311001001001").name == "新名字网格"


def test_overlap_and_gap_between_sibling_grids_are_reported(
    db: Session, import_file: ImportFile
) -> None:
    # The west grid reaches 0.01° into the east one; a 0.01° strip at the east edge is bare.
    features = [
        *street_features()[:3],
        feature("440311001001001", "西网格", box(101.00, 30.60, 101.06, 30.70)),
        feature("440311001001002", "东网格", box(101.05, 30.60, 101.09, 30.70)),
    ]
    result = import_file(collection(features))
    [grids] = [t for t in result.topology if t.level == "unit_grid"]
    assert grids.parent == "440311001001"
    [overlap] = grids.overlaps
    assert {overlap.first, overlap.second} == {"440311001001001", "440311001001002"}
    assert 10e6 < overlap.area_m2 < 11e6  # 0.01° × 0.1° at 30.65°N ≈ 10.6 km²
    [gap] = grids.gaps
    assert 10e6 < gap.area_m2 < 11e6
    assert 101.09 < gap.centre_lon < 101.10
    again = service.topology_of(db, code="440311001001")
    assert again.overlaps == grids.overlaps and again.gaps == grids.gaps


def test_tiling_grids_report_no_overlap_and_no_gap(guanhu_street: ImportOut) -> None:
    [grids] = [t for t in guanhu_street.topology if t.level == "unit_grid"]
    assert grids.count == 2 and grids.overlaps == [] and grids.gaps == []


def test_point_in_a_unit_grid_answers_the_whole_chain(
    db: Session, guanhu_street: ImportOut
) -> None:
    found = service.locate(db, lon=EAST_POINT[0], lat=EAST_POINT[1])
    assert found.inside
    assert found.unit_grid is not None and found.unit_grid.code == "440311001001002"
    assert found.community is not None and found.community.code == "440311001001"
    assert found.street is not None and found.street.name == "光明街道"
    assert found.district is not None and found.district.code == "440311"
    assert found.responsibility_grid is None


def test_point_outside_every_grid_is_outside_jurisdiction_not_an_error(
    db: Session, guanhu_street: ImportOut
) -> None:
    found = service.locate(db, lon=-40.0, lat=-60.0)
    assert not found.inside
    assert found.reason == "outside_jurisdiction"
    assert found.unit_grid is None and found.district is None


def test_index_answers_a_grid_added_after_the_first_lookup(
    db: Session, guanhu_street: ImportOut, import_file: ImportFile
) -> None:
    north = box(101.00, 30.70, 101.10, 30.75)
    assert not service.locate(db, lon=101.05, lat=30.72).inside
    extension = [
        feature("440311002", "新街道", north),
        feature("440311002001", "新社区", north),
        feature("440311002001001", "新网格", north),
    ]
    import_file(collection(extension))
    found = service.locate(db, lon=101.05, lat=30.72)
    assert found.unit_grid is not None and found.unit_grid.code == "440311002001001"


def test_batch_lookup_answers_each_point_in_order(db: Session, guanhu_street: ImportOut) -> None:
    found = service.locate_many(db, points=[WEST_POINT, (0.0, 0.0), EAST_POINT])
    assert [f.unit_grid.code if f.unit_grid else None for f in found] == [
        "440311001001001",
        None,
        "440311001001002",
    ]


@pytest.mark.parametrize("fmt", ["shapefile", "gpkg", "geojson"])
def test_exported_grids_import_back_unchanged(
    db: Session, guanhu_street: ImportOut, import_file: ImportFile, fmt: str
) -> None:
    data = service.export_areas(db, fmt=fmt, parent_code="440311001001")  # type: ignore[arg-type]
    before = {c: shapely.from_wkb(service.get_area(db, code=c).geometry) for c in _grid_codes()}
    ext = {"shapefile": "zip", "gpkg": "gpkg", "geojson": "geojson"}[fmt]
    result = import_file(data, f"export.{ext}")
    assert result.updated == {"unit_grid": 2}
    for code, outline in before.items():
        after = shapely.from_wkb(service.get_area(db, code=code).geometry)
        assert shapely.symmetric_difference(after, outline).area < 1e-12
        assert service.get_area(db, code=code).name.endswith("网格")


def test_export_in_gcj02_imports_back_to_the_same_place(
    db: Session, guanhu_street: ImportOut, import_file: ImportFile
) -> None:
    data = service.export_areas(db, fmt="geojson", level=AreaLevel.UNIT_GRID, crs="gcj02")
    import_file(data, "gcj.geojson", crs="gcj02")
    after = shapely.from_wkb(service.get_area(db, code="440311001001001").geometry)
    assert shapely.hausdorff_distance(after, WEST) < 1e-7


def _grid_codes() -> list[str]:
    return ["440311001001001", "440311001001002"]


def test_responsibility_grid_groups_unit_grids_and_is_located(
    db: Session, guanhu_street: ImportOut, clock: ManualClock
) -> None:
    grid = service.create_responsibility_grid(
        db,
        code="440311001-01",
        name="光明一责任网格",
        street_code="440311001",
        unit_grid_codes=_grid_codes(),
        by=SYSTEM,
        now=clock.now(),
    )
    assert grid.area_m2 is not None
    assert grid.area_m2 == pytest.approx(
        service.get_area(db, code="440311001001").area_m2, rel=1e-6
    )
    found = service.locate(db, lon=WEST_POINT[0], lat=WEST_POINT[1])
    assert found.responsibility_grid is not None
    assert found.responsibility_grid.code == "440311001-01"


def test_unit_grid_belongs_to_at_most_one_responsibility_grid(
    db: Session, guanhu_street: ImportOut, clock: ManualClock
) -> None:
    service.create_responsibility_grid(
        db, code="440311001-01", name="一", street_code="440311001",
        unit_grid_codes=_grid_codes()[:1], by=SYSTEM, now=clock.now(),
    )  # fmt: skip
    with pytest.raises(Conflict) as caught:
        service.create_responsibility_grid(
            db, code="440311001-02", name="二", street_code="440311001",
            unit_grid_codes=_grid_codes(), by=SYSTEM, now=clock.now(),
        )  # fmt: skip
    assert caught.value.code == "unit_grid_taken"


def test_responsibility_grids_of_a_street_report_the_uncovered_half(
    db: Session, guanhu_street: ImportOut, clock: ManualClock
) -> None:
    service.create_responsibility_grid(
        db, code="440311001-01", name="一", street_code="440311001",
        unit_grid_codes=_grid_codes()[:1], by=SYSTEM, now=clock.now(),
    )  # fmt: skip
    report = service.responsibility_topology(db, street_code="440311001")
    [gap] = report.gaps
    assert gap.bbox[0] == pytest.approx(EAST.bounds[0])


def test_officers_are_carried_and_listed_by_grid(
    db: Session, guanhu_street: ImportOut, clock: ManualClock
) -> None:
    service.create_responsibility_grid(
        db, code="440311001-01", name="一", street_code="440311001",
        unit_grid_codes=[], by=SYSTEM, now=clock.now(),
    )  # fmt: skip
    officers = [OfficerIn(user_id=7, role="leader"), OfficerIn(user_id=8, role="member")]
    service.set_officers(db, code="440311001-01", officers=officers, by=SYSTEM, now=clock.now())
    assert service.grids_of_officer(db, user_id=7) == ["440311001-01"]
    with pytest.raises(InvalidInput) as caught:
        two_leaders = [OfficerIn(user_id=7, role="leader"), OfficerIn(user_id=9, role="leader")]
        service.set_officers(
            db, code="440311001-01", officers=two_leaders, by=SYSTEM, now=clock.now()
        )
    assert caught.value.code == "several_leaders"
