from collections.abc import Callable

from fastapi.testclient import TestClient

from urbanops.kit.actor import Role


def test_auth_headers_fixture_signs_in_a_squad_leader_with_his_grids(
    client: TestClient, auth_headers: Callable[..., dict[str, str]]
) -> None:
    headers = auth_headers(Role.SQUAD_LEADER, grid_codes=["440309007001", "440309007002"])
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["roles"] == ["squad_leader"]
    assert body["grid_scope"] == ["440309007001", "440309007002"]


def test_auth_headers_fixture_gives_a_device_an_api_key(
    client: TestClient, auth_headers: Callable[..., dict[str, str]]
) -> None:
    headers = auth_headers(Role.DEVICE)
    assert set(headers) == {"X-API-Key"}
    body = client.get("/api/auth/me", headers=headers).json()
    assert (body["kind"], body["roles"]) == ("device", ["device"])
