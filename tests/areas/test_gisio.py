"""Reading and writing grid files through GDAL, with CRS conversion and geometry checks."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import shapely
from shapely.geometry import Polygon

from tests.areas.conftest import WEST, collection, feature
from urbanops.areas import gisio
from urbanops.kit.errors import BadRequest, InvalidInput, UnsupportedMediaType
from urbanops.kit.geo import from_wgs84

BOW_TIE = Polygon([(101.0, 30.6), (101.1, 30.7), (101.1, 30.6), (101.0, 30.7), (101.0, 30.6)])


def test_bare_array_of_features_is_read_like_a_collection() -> None:
    data = json.dumps([feature("440311", "光明区", WEST)]).encode()
    [read] = gisio.read_features(data, "districts.json", "wgs84")
    assert (read.code, read.name) == ("440311", "光明区")
    assert read.geometry.equals_exact(WEST, 1e-12)


def test_gcj02_outline_is_converted_to_wgs84_on_the_way_in() -> None:
    shifted = from_wgs84(WEST, "gcj02")
    [read] = gisio.read_features(
        collection([feature("440311", "光明区", shifted)]), "a.geojson", "gcj02"
    )
    assert shapely.hausdorff_distance(read.geometry, WEST) < 1e-6


def test_self_intersecting_polygon_is_refused_naming_the_feature() -> None:
    data = collection(
        [feature("440311", "光明区", WEST), feature("440311001", "光明街道", BOW_TIE)]
    )
    with pytest.raises(InvalidInput) as caught:
        gisio.read_features(data, "grids.geojson", "wgs84")
    assert caught.value.code == "invalid_geometry"
    assert "feature #2" in str(caught.value.detail)
    assert "440311001" in str(caught.value.detail)
    assert "Self-intersection" in str(caught.value.detail)


def test_point_feature_is_refused_as_not_a_polygon() -> None:
    point = {"type": "Point", "coordinates": [101.0, 30.6]}
    with pytest.raises(InvalidInput) as caught:
        gisio.read_features(collection([feature("440311", "光明区", point)]), "g.geojson", "wgs84")
    assert caught.value.code == "invalid_geometry"
    assert "Point" in str(caught.value.detail)


def test_malformed_geojson_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        gisio.read_features(b'{"type": "FeatureCollection", "features": [', "g.geojson", "wgs84")
    assert caught.value.code == "malformed_file"


def test_zip_without_a_shapefile_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no grids here")
    with pytest.raises(BadRequest) as caught:
        gisio.read_features(buffer.getvalue(), "grids.zip", "wgs84")
    assert caught.value.code == "malformed_file"


def test_unknown_crs_is_refused_before_reading() -> None:
    with pytest.raises(InvalidInput) as caught:
        gisio.read_features(collection([]), "g.geojson", "beijing54")
    assert caught.value.code == "unknown_crs"


def test_unknown_file_type_is_refused_as_unsupported_media() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        gisio.read_features(b"a,b\n1,2\n", "grids.csv", "wgs84")
    assert caught.value.status == 415


def test_projected_wgs84_coordinates_declared_as_lonlat_are_refused() -> None:
    metres = Polygon([(500000, 3400000), (501000, 3400000), (501000, 3401000), (500000, 3400000)])
    with pytest.raises(InvalidInput) as caught:
        gisio.read_features(collection([feature("440311", "光明区", metres)]), "g.geojson", "wgs84")
    assert caught.value.code == "coordinates_out_of_range"


@pytest.mark.parametrize("fmt", ["geojson", "shapefile", "gpkg"])
def test_written_file_reads_back_the_same_outlines(fmt: gisio.ExportFormat) -> None:
    rows = [
        gisio.ExportRow(
            WEST, {"code": "440311001001001", "name": "光明社区一号网格", "area_m2": 1.5}
        )
    ]
    data = gisio.write_features(rows, fmt)
    [read] = gisio.read_features(data, f"out.{gisio.EXTENSIONS[fmt]}", "wgs84")
    assert read.code == "440311001001001"
    assert read.name == "光明社区一号网格"
    assert shapely.symmetric_difference(read.geometry, WEST).area < 1e-12
