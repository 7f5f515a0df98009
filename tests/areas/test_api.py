"""The areas API over HTTP: who may import, file answers, lookups and responsibility grids."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.areas.conftest import collection, street_features
from urbanops.kit.actor import Role

Headers = Callable[..., dict[str, str]]


def _import(
    client: TestClient, headers: dict[str, str], data: bytes, name: str, crs: str = "wgs84"
):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/areas/import",
        headers=headers,
        files={"file": (name, data, "application/octet-stream")},
        data={"crs": crs},
    )


def test_admin_imports_a_street_and_gets_counts_and_topology(
    client: TestClient, auth_headers: Headers
) -> None:
    answer = _import(client, auth_headers(Role.ADMIN), collection(street_features()), "g.geojson")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["created"]["unit_grid"] == 2
    assert {t["level"] for t in body["topology"]} >= {"unit_grid", "street"}


def test_grid_officer_may_not_import(client: TestClient, auth_headers: Headers) -> None:
    headers = auth_headers(Role.GRID_OFFICER)
    answer = _import(client, headers, collection(street_features()), "g.geojson")
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_lookup_without_a_token_is_unauthorised(client: TestClient) -> None:
    answer = client.get("/api/locate", params={"lon": 101.02, "lat": 30.65})
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"


def test_unknown_crs_is_a_422_problem(client: TestClient, auth_headers: Headers) -> None:
    answer = _import(client, auth_headers(Role.ADMIN), collection([]), "g.geojson", crs="xian80")
    assert answer.status_code == 422
    assert answer.json()["code"] == "unknown_crs"


def test_csv_upload_is_unsupported_media(client: TestClient, auth_headers: Headers) -> None:
    answer = _import(client, auth_headers(Role.ADMIN), b"code,name\n", "grids.csv")
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_format"


def test_malformed_geojson_is_a_problem(client: TestClient, auth_headers: Headers) -> None:
    answer = _import(client, auth_headers(Role.ADMIN), b"{not json", "grids.geojson")
    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed_file"


def test_fourteen_digit_code_is_refused_over_http(
    client: TestClient, auth_headers: Headers
) -> None:
    features = street_features()
    features[3]["properties"]["code"] = "44031100100101"
    answer = _import(client, auth_headers(Role.ADMIN), collection(features), "g.geojson")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_grid_code"
    listed = client.get("/api/areas", headers=auth_headers(Role.ADMIN), params={"parent": "440311"})
    assert listed.json()["total"] == 0


def test_officer_locates_points_singly_and_in_batch(
    client: TestClient, auth_headers: Headers
) -> None:
    _import(client, auth_headers(Role.ADMIN), collection(street_features()), "g.geojson")
    officer = auth_headers(Role.GRID_OFFICER)
    inside = client.get("/api/locate", headers=officer, params={"lon": 101.08, "lat": 30.65})
    assert inside.status_code == 200
    assert inside.json()["unit_grid"]["code"] == "440311001001002"
    outside = client.get("/api/locate", headers=officer, params={"lon": -40, "lat": -60})
    assert outside.status_code == 200
    assert outside.json()["inside"] is False
    assert outside.json()["reason"] == "outside_jurisdiction"
    batch = client.post(
        "/api/locate/batch",
        headers=officer,
        json={"points": [{"lon": 101.02, "lat": 30.65}, {"lon": -40, "lat": -60}]},
    )
    assert [r["inside"] for r in batch.json()["results"]] == [True, False]


def test_area_reads_as_a_geojson_feature_and_lists_by_parent(
    client: TestClient, auth_headers: Headers
) -> None:
    _import(client, auth_headers(Role.ADMIN), collection(street_features()), "g.geojson")
    headers = auth_headers(Role.DISPATCHER)
    one = client.get("/api/areas/440311001001001", headers=headers).json()
    assert one["type"] == "Feature" and one["geometry"]["type"] == "Polygon"
    assert one["properties"]["parent_code"] == "440311001001"
    page = client.get("/api/areas", headers=headers, params={"parent": "440311001001"}).json()
    assert [a["code"] for a in page["items"]] == ["440311001001001", "440311001001002"]
    missing = client.get("/api/areas/440311009", headers=headers)
    assert missing.status_code == 404


def test_shapefile_export_is_a_zip_that_imports_back(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    _import(client, admin, collection(street_features()), "g.geojson")
    export = client.get(
        "/api/areas/export",
        headers=admin,
        params={"level": "unit_grid", "parent": "440311001001", "format": "shapefile"},
    )
    assert export.status_code == 200
    assert export.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert {"areas.shp", "areas.shx", "areas.dbf", "areas.prj"} <= set(names)
    again = _import(client, admin, export.content, "areas.zip")
    assert again.json()["updated"] == {"unit_grid": 2}


def test_admin_builds_a_responsibility_grid_with_officers(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    _import(client, admin, collection(street_features()), "g.geojson")
    grid = {
        "code": "440311001-01",
        "name": "光明一责任网格",
        "street_code": "440311001",
        "unit_grid_codes": ["440311001001001"],
    }
    created = client.post("/api/responsibility-grids", headers=admin, json=grid)
    assert created.status_code == 201, created.text
    patched = client.patch(
        "/api/responsibility-grids/440311001-01",
        headers=admin,
        json={"unit_grid_codes": ["440311001001001", "440311001001002"]},
    )
    assert patched.json()["unit_grid_codes"] == ["440311001001001", "440311001001002"]
    officers = client.put(
        "/api/responsibility-grids/440311001-01/officers",
        headers=admin,
        json={"officers": [{"user_id": 5, "role": "leader"}]},
    )
    assert officers.json()["officers"] == [{"user_id": 5, "role": "leader"}]
    officer = auth_headers(Role.GRID_OFFICER)
    forbidden = client.post("/api/responsibility-grids", headers=officer, json=grid)
    assert forbidden.status_code == 403
    located = client.get("/api/locate", headers=officer, params={"lon": 101.08, "lat": 30.65})
    assert located.json()["responsibility_grid"]["code"] == "440311001-01"
    listed = client.get(
        "/api/responsibility-grids", headers=officer, params={"street": "440311001"}
    )
    assert listed.json()["total"] == 1
