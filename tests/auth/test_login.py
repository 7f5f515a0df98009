"""Signing in and out: passwords, bearer tokens, session cookies, expiry and lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.auth.conftest import PASSWORD, MakeUser
from urbanops.auth.models import AuthToken
from urbanops.auth.service import LOCKOUT, LOCKOUT_THRESHOLD, SESSION_COOKIE
from urbanops.config import Settings
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock


def _login(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_dispatcher_signs_in_and_the_token_opens_the_api(
    client: TestClient, make_user: MakeUser, settings: Settings, clock: ManualClock
) -> None:
    make_user("wang.fang", Role.DISPATCHER)
    response = _login(client, "wang.fang")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "wang.fang"
    assert body["user"]["roles"] == ["dispatcher"]
    assert "password_hash" not in body["user"]
    expected_expiry = clock.now() + timedelta(seconds=settings.api_token_ttl_s)
    assert body["expires_at"].startswith(expected_expiry.strftime("%Y-%m-%dT%H:%M:%S"))
    client.cookies.clear()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["ref"] == f"user:{body['user']['id']}"
    assert me.json()["grid_scope"] is None


def test_tokens_are_stored_only_as_hashes(
    client: TestClient, make_user: MakeUser, db: Session
) -> None:
    make_user("li.na", Role.OPERATOR)
    token = _login(client, "li.na").json()["access_token"]
    stored = db.scalars(select(AuthToken.token_hash)).all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def test_login_sets_an_httponly_lax_session_cookie(client: TestClient, make_user: MakeUser) -> None:
    make_user("zhao.lei", Role.OPERATOR)
    response = _login(client, "zhao.lei")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert response.json()["access_token"] not in cookie


def test_session_cookie_alone_opens_a_page_style_get(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user("chen.jie", Role.SHIFT_LEADER)
    assert _login(client, "chen.jie").status_code == 200
    page = client.get("/api/auth/me")  # no Authorization header: the cookie carries the session
    assert page.status_code == 200
    assert page.json()["roles"] == ["shift_leader"]


def test_form_login_works_like_json(client: TestClient, make_user: MakeUser) -> None:
    make_user("form.user", Role.OPERATOR)
    response = client.post("/api/auth/login", data={"username": "form.user", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "form.user"


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: TestClient, make_user: MakeUser, db: Session
) -> None:
    make_user("sun.li", Role.OPERATOR)
    tokens_before = db.scalar(select(func.count()).select_from(AuthToken))
    wrong_password = _login(client, "sun.li", "not-the-password")
    unknown_user = _login(client, "nobody.here", "not-the-password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.headers["content-type"].startswith("application/problem+json")
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "invalid_credentials"
    text = wrong_password.text.lower()
    assert "sun.li" not in text and "argon" not in text and "exist" not in text
    assert "set-cookie" not in wrong_password.headers
    assert db.scalar(select(func.count()).select_from(AuthToken)) == tokens_before


def test_login_without_a_password_is_a_422_problem(client: TestClient) -> None:
    response = client.post("/api/auth/login", json={"username": "x"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"


def test_login_with_broken_json_is_a_400_problem(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_login_as_plain_text_is_a_415_problem(client: TestClient) -> None:
    response = client.post(
        "/api/auth/login", content=b"user:pass", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_api_call_without_a_token_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unauthorized"


def test_made_up_or_basic_credentials_are_refused(client: TestClient) -> None:
    for headers in (
        {"Authorization": "Bearer made-up-token"},
        {"Authorization": "Basic d2FuZzpwYXNz"},
        {"Authorization": "Bearer "},
        {"X-API-Key": "uok_deadbeef_nothing"},
        {"X-API-Key": "garbage"},
    ):
        assert client.get("/api/auth/me", headers=headers).status_code == 401, headers
    client.cookies.set(SESSION_COOKIE, "forged")
    assert client.get("/api/auth/me").status_code == 401


def test_token_stops_working_once_its_ttl_has_passed(
    client: TestClient, make_user: MakeUser, clock: ManualClock, settings: Settings
) -> None:
    make_user("night.shift", Role.OPERATOR)
    token = _login(client, "night.shift").json()["access_token"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    clock.advance(timedelta(seconds=settings.api_token_ttl_s - 1))
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    clock.advance(timedelta(seconds=2))
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_session_cookie_expires_after_its_max_age(
    client: TestClient, make_user: MakeUser, clock: ManualClock, settings: Settings
) -> None:
    make_user("day.shift", Role.OPERATOR)
    _login(client, "day.shift")
    clock.advance(timedelta(seconds=settings.session_max_age_s + 1))
    assert client.get("/api/auth/me").status_code == 401


def test_a_session_cookie_is_not_a_bearer_token(client: TestClient, make_user: MakeUser) -> None:
    make_user("mixer", Role.OPERATOR)
    cookie = _login(client, "mixer").cookies[SESSION_COOKIE]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {cookie}"}
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_logout_revokes_the_token_and_the_session(client: TestClient, make_user: MakeUser) -> None:
    make_user("leaving", Role.OPERATOR)
    token = _login(client, "leaving").json()["access_token"]
    session_cookie = client.cookies[SESSION_COOKIE]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    client.cookies.clear()
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    client.cookies.set(SESSION_COOKIE, session_cookie)
    assert client.get("/api/auth/me").status_code == 401


def test_ten_failures_lock_the_account_until_the_lockout_passes(
    client: TestClient, make_user: MakeUser, clock: ManualClock
) -> None:
    make_user("guessed", Role.OPERATOR)
    for _ in range(LOCKOUT_THRESHOLD):
        assert _login(client, "guessed", "wrong-guess").status_code == 401
    locked = _login(client, "guessed")  # even the right password waits out the lock
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) > 0
    clock.advance(LOCKOUT - timedelta(seconds=1))
    assert _login(client, "guessed").status_code == 429
    clock.advance(timedelta(seconds=2))
    assert _login(client, "guessed").status_code == 200


def test_unknown_usernames_lock_the_same_way(client: TestClient) -> None:
    for _ in range(LOCKOUT_THRESHOLD):
        assert _login(client, "ghost", "x").status_code == 401
    assert _login(client, "ghost", "x").status_code == 429


def test_a_successful_login_resets_the_failure_count(
    client: TestClient, make_user: MakeUser
) -> None:
    make_user("clumsy", Role.OPERATOR)
    for _ in range(LOCKOUT_THRESHOLD - 1):
        _login(client, "clumsy", "typo-typo")
    assert _login(client, "clumsy").status_code == 200
    assert _login(client, "clumsy", "typo-typo").status_code == 401
    assert _login(client, "clumsy").status_code == 200


def test_deactivated_user_cannot_sign_in_and_gets_no_hint(
    client: TestClient,
    make_user: MakeUser,
    auth_headers: Callable[..., dict[str, str]],
) -> None:
    user = make_user("retired", Role.OPERATOR)
    admin = auth_headers(Role.ADMIN)
    assert (
        client.patch(f"/api/users/{user.id}", json={"is_active": False}, headers=admin).status_code
        == 200
    )
    response = _login(client, "retired")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
