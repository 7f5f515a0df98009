"""The catalogue over HTTP: anyone signed in reads; only an administrator edits standards."""

from __future__ import annotations

import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from urbanops.kit.actor import Role

Headers = Callable[..., dict[str, str]]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEW_STANDARD = {
    "matter_code": "09009",
    "variant": "一般情形",
    "registration_condition": "机动车停放在人行道上，妨碍通行",
    "closure_condition": "车辆已驶离",
    "limit_amount": 2,
    "limit_unit": "work_hour",
    "handling_unit": "街道综合行政执法队",
    "responsible_department": "交警大队",
}


def test_reading_the_catalogue_needs_a_sign_in(client: TestClient) -> None:
    response = client.get("/api/catalog", params={"q": "乱摆卖"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_grid_officer_searches_street_slang_and_finds_street_vending(
    client: TestClient, auth_headers: Headers
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["440309001001"])
    response = client.get("/api/catalog", params={"q": "乱摆卖"}, headers=officer)
    assert response.status_code == 200
    page = response.json()
    assert "09006" in [e["code"] for e in page["items"]]
    vending = next(e for e in page["items"] if e["code"] == "09006")
    assert "摆摊" in vending["keywords"] and vending["wuwu"] == "无乱摆卖"


def test_catalogue_lists_403_entries_by_kind(client: TestClient, auth_headers: Headers) -> None:
    headers = auth_headers(Role.OPERATOR)
    totals = {
        kind: client.get("/api/catalog", params={"kind": kind}, headers=headers).json()["total"]
        for kind in ("component", "matter")
    }
    assert totals == {"component": 153, "matter": 250}


def test_matter_detail_shows_its_standards(client: TestClient, auth_headers: Headers) -> None:
    response = client.get("/api/catalog/matter/06001", headers=auth_headers(Role.DISPATCHER))
    assert response.status_code == 200
    detail = response.json()
    assert detail["name"] == "私搭乱建"
    variants = {s["variant"]: s for s in detail["standards"]}
    assert variants["正在建设"]["is_default"] is True
    assert (variants["已形成"]["limit_amount"], variants["已形成"]["limit_unit"]) == (
        15.0,
        "natural_day",
    )


def test_unknown_entry_and_kind_are_problems(client: TestClient, auth_headers: Headers) -> None:
    headers = auth_headers(Role.OPERATOR)
    missing = client.get("/api/catalog/matter/09007", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "catalog_entry_not_found"
    assert client.get("/api/catalog/thing/09005", headers=headers).status_code == 422


def test_legacy_code_maps_over_http(client: TestClient, auth_headers: Headers) -> None:
    headers = auth_headers(Role.OPERATOR)
    found = client.get("/api/catalog/legacy/04-05", headers=headers)
    assert found.status_code == 200
    assert found.json()["entry"]["code"] == "09005"
    dropped = client.get("/api/catalog/legacy/01-31", headers=headers)
    assert dropped.status_code == 404
    assert "06031" in dropped.json()["detail"]
    malformed = client.get("/api/catalog/legacy/0405", headers=headers)
    assert malformed.status_code == 422 and malformed.json()["code"] == "invalid_legacy_code"


def test_grid_officer_cannot_edit_standards(client: TestClient, auth_headers: Headers) -> None:
    officer = auth_headers(Role.GRID_OFFICER)
    standards = client.get("/api/catalog/standards", headers=officer).json()
    first = standards[0]["id"]
    assert (
        client.post("/api/catalog/standards", json=NEW_STANDARD, headers=officer).status_code == 403
    )
    patched = client.patch(
        f"/api/catalog/standards/{first}", json={"limit_amount": 9}, headers=officer
    )
    assert patched.status_code == 403
    assert client.delete(f"/api/catalog/standards/{first}", headers=officer).status_code == 403
    after = client.get("/api/catalog/standards", headers=officer).json()
    assert after == standards


def test_admin_edits_are_recorded_with_the_admin_as_actor(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    created = client.post("/api/catalog/standards", json=NEW_STANDARD, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["created_by"].startswith("user:") and body["is_default"] is True
    patched = client.patch(
        f"/api/catalog/standards/{body['id']}",
        json={"limit_amount": 1.5, "limit_unit": "urgent_hour"},
        headers=admin,
    )
    assert patched.status_code == 200
    assert patched.json()["updated_by"] == body["created_by"]
    assert (patched.json()["limit_amount"], patched.json()["limit_unit"]) == (1.5, "urgent_hour")
    deleted = client.delete(f"/api/catalog/standards/{body['id']}", headers=admin)
    assert deleted.status_code == 204
    left = client.get(
        "/api/catalog/standards", params={"matter_code": "09009"}, headers=admin
    ).json()
    assert left == []


def test_non_positive_limit_or_unknown_unit_is_refused(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    for bad in ({"limit_amount": 0}, {"limit_amount": -2}, {"limit_unit": "hour"}):
        response = client.post("/api/catalog/standards", json=NEW_STANDARD | bad, headers=admin)
        assert response.status_code == 422
    assert (
        client.get("/api/catalog/standards", params={"matter_code": "09009"}, headers=admin).json()
        == []
    )


def test_export_then_import_round_trips_over_http(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    before = client.get("/api/catalog/standards", headers=admin).json()
    exported = client.get("/api/catalog/standards.xlsx", headers=admin)
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    assert load_workbook(io.BytesIO(exported.content)).active is not None
    files = {"file": ("standards.xlsx", exported.content, XLSX)}
    imported = client.post("/api/catalog/standards/import", files=files, headers=admin)
    assert imported.status_code == 200
    assert imported.json() == {"created": 0, "updated": len(before)}
    after = client.get("/api/catalog/standards", headers=admin).json()
    strip = ("updated_at", "updated_by")
    assert [{k: v for k, v in s.items() if k not in strip} for s in after] == [
        {k: v for k, v in s.items() if k not in strip} for s in before
    ]


def test_import_of_a_non_xlsx_upload_is_unsupported(
    client: TestClient, auth_headers: Headers
) -> None:
    files = {"file": ("standards.xlsx", b"code,limit\n09005,2\n", XLSX)}
    response = client.post(
        "/api/catalog/standards/import", files=files, headers=auth_headers(Role.ADMIN)
    )
    assert response.status_code == 415 and response.json()["code"] == "not_xlsx"


def test_grid_officer_cannot_import(client: TestClient, auth_headers: Headers) -> None:
    exported = client.get("/api/catalog/standards.xlsx", headers=auth_headers(Role.ADMIN))
    files = {"file": ("standards.xlsx", exported.content, XLSX)}
    response = client.post(
        "/api/catalog/standards/import", files=files, headers=auth_headers(Role.GRID_OFFICER)
    )
    assert response.status_code == 403


def test_import_with_bad_rows_answers_each_row_and_changes_nothing(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    before = client.get("/api/catalog/standards", headers=admin).json()
    book = load_workbook(
        io.BytesIO(client.get("/api/catalog/standards.xlsx", headers=admin).content)
    )
    sheet = book.active
    assert sheet is not None
    sheet.cell(row=2, column=6).value = 99
    sheet.cell(row=3, column=1).value = "09007"
    sheet.cell(row=4, column=6).value = 0
    out = io.BytesIO()
    book.save(out)
    files = {"file": ("standards.xlsx", out.getvalue(), XLSX)}
    response = client.post("/api/catalog/standards/import", files=files, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["row"] for e in response.json()["errors"]] == [3, 4]
    assert client.get("/api/catalog/standards", headers=admin).json() == before
