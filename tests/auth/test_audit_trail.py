"""Changes to the reference data are audited by their services, whichever door they came in by.

The REST API and the console's administration pages call the same services; the audit row is
written there (the calendar's, which lives in ``kit``, by its API and the console's page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.areas.conftest import collection, street_features
from urbanops.kit.actor import Role

Headers = Callable[..., dict[str, str]]


def _audited(client: TestClient, headers: dict[str, str], action: str) -> list[dict[str, Any]]:
    answer = client.get("/api/audit", params={"action": action}, headers=headers)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def test_reference_changes_through_the_api_leave_audit_rows(
    client: TestClient, auth_headers: Headers
) -> None:
    admin = auth_headers(Role.ADMIN)
    imported = client.post(
        "/api/areas/import",
        headers=admin,
        files={"file": ("g.geojson", collection(street_features()), "application/geo+json")},
        data={"crs": "wgs84"},
    )
    assert imported.status_code == 200, imported.text
    rule = client.put(
        "/api/sla-rules/hotline_12345/handle", json={"amount": 3, "unit": "work_day"},
        headers=admin,
    )  # fmt: skip
    assert rule.status_code in (200, 201), rule.text
    removed = client.delete("/api/sla-rules/hotline_12345/handle", headers=admin)
    assert removed.status_code == 204, removed.text
    first = client.get("/api/catalog/standards", headers=admin).json()[0]["id"]
    changed = client.patch(
        f"/api/catalog/standards/{first}", json={"limit_amount": 9}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    declared = client.post(
        "/api/calendar/overrides",
        json={"day": "2031-05-06", "kind": "holiday", "name": "测试假日"},
        headers=admin,
    )
    assert declared.status_code == 201, declared.text
    withdrawn = client.delete("/api/calendar/overrides/2031-05-06", headers=admin)
    assert withdrawn.status_code == 204, withdrawn.text

    assert _audited(client, admin, "areas.import")[0]["detail"]["created"]["unit_grid"] == 2
    put = _audited(client, admin, "sla_rule.put")[0]["detail"]
    assert put == {"profile": "hotline_12345", "stage": "handle", "amount": 3.0, "unit": "work_day"}
    assert _audited(client, admin, "sla_rule.delete")[0]["detail"]["stage"] == "handle"
    standard = _audited(client, admin, "case_standard.update")[0]
    assert standard["entity_id"] == str(first) and standard["detail"] == {"limit_amount": 9.0}
    assert _audited(client, admin, "calendar_override.create")[0]["entity_id"] == "2031-05-06"
    assert _audited(client, admin, "calendar_override.delete")[0]["entity_id"] == "2031-05-06"
