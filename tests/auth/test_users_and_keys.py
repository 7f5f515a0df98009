"""Accounts, roles with grid scope, API keys and the audit trail through the admin API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.auth.conftest import PASSWORD, MakeUser
from urbanops.auth import service
from urbanops.auth.deps import require_grid
from urbanops.auth.models import ApiKey, AuditLog, User
from urbanops.kit.actor import SYSTEM, Actor, Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Forbidden

AuthHeaders = Callable[..., dict[str, str]]

NEW_OFFICER = {
    "username": "zhang.wei",
    "password": "s3cure-pass",
    "display_name": "张伟",
    "roles": ["grid_officer"],
    "grid_codes": ["440309007001"],
}


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_admin_creates_a_grid_officer_stamped_with_his_ref(
    client: TestClient, auth_headers: AuthHeaders, db: Session
) -> None:
    admin = auth_headers(Role.ADMIN)
    admin_ref = client.get("/api/auth/me", headers=admin).json()["ref"]
    response = client.post("/api/users", json=NEW_OFFICER, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["roles"] == ["grid_officer"]
    assert body["grid_codes"] == ["440309007001"]
    assert body["created_by"] == admin_ref
    row = db.get(User, body["id"])
    assert row is not None and row.created_by == admin_ref
    assert row.password_hash.startswith("$argon2id$")
    audit = db.scalars(
        select(AuditLog).where(AuditLog.entity == "user", AuditLog.entity_id == str(row.id))
    ).one()
    assert audit.action == "user.create" and audit.actor_ref == admin_ref


def test_new_officer_can_sign_in_and_is_scoped_to_his_grid(
    client: TestClient, auth_headers: AuthHeaders
) -> None:
    client.post("/api/users", json=NEW_OFFICER, headers=auth_headers(Role.ADMIN))
    login = client.post(
        "/api/auth/login", json={"username": "zhang.wei", "password": "s3cure-pass"}
    )
    assert login.status_code == 200
    me = client.get("/api/auth/me").json()
    assert me["grid_scope"] == ["440309007001"]


def test_grid_officer_calling_an_admin_endpoint_is_refused_and_nothing_is_written(
    client: TestClient, auth_headers: AuthHeaders, db: Session
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["440309007001"])
    users_before, audit_before = _count(db, User), _count(db, AuditLog)
    response = client.post("/api/users", json=NEW_OFFICER, headers=officer)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "forbidden"
    assert (_count(db, User), _count(db, AuditLog)) == (users_before, audit_before)
    assert service.find_user(db, username="zhang.wei") is None


def test_anonymous_caller_cannot_create_users(client: TestClient, db: Session) -> None:
    users_before = _count(db, User)
    response = client.post("/api/users", json=NEW_OFFICER)
    assert response.status_code == 401
    assert _count(db, User) == users_before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"password": "short"}, "password_too_short"),
        ({"username": "a b"}, "invalid_input"),
        ({"username": "ab"}, "invalid_input"),
        ({"roles": ["device"]}, "role_not_for_users"),
        ({"roles": ["emperor"]}, "invalid_input"),
        ({"roles": []}, "invalid_input"),
        ({"grid_codes": ["not a code!"]}, "invalid_grid_code"),
        ({"is_admin": True}, "invalid_input"),
    ],
)
def test_bad_new_account_is_a_422_and_writes_nothing(
    client: TestClient, auth_headers: AuthHeaders, db: Session, change: dict, code: str
) -> None:
    admin = auth_headers(Role.ADMIN)
    users_before = _count(db, User)
    response = client.post("/api/users", json={**NEW_OFFICER, **change}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert _count(db, User) == users_before


def test_a_taken_username_is_a_409_whatever_its_case(
    client: TestClient, auth_headers: AuthHeaders
) -> None:
    admin = auth_headers(Role.ADMIN)
    assert client.post("/api/users", json=NEW_OFFICER, headers=admin).status_code == 201
    again = client.post("/api/users", json={**NEW_OFFICER, "username": "Zhang.Wei"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"


def test_squad_leader_lists_only_the_users_of_his_grids(
    client: TestClient, auth_headers: AuthHeaders, make_user: MakeUser
) -> None:
    make_user("officer.a", Role.GRID_OFFICER, grid_codes=("G-A",))
    make_user("officer.b", Role.GRID_OFFICER, grid_codes=("G-B",))
    make_user("officer.c", Role.GRID_OFFICER, grid_codes=("G-C",))
    leader = auth_headers(Role.SQUAD_LEADER, grid_codes=["G-A", "G-B"])
    response = client.get("/api/users", headers=leader)
    assert response.status_code == 200
    names = {u["username"] for u in response.json()}
    assert {"officer.a", "officer.b"} <= names
    assert "officer.c" not in names
    admin_names = {
        u["username"] for u in client.get("/api/users", headers=auth_headers(Role.ADMIN)).json()
    }
    assert {"officer.a", "officer.b", "officer.c"} <= admin_names


def test_grid_officer_cannot_list_users(client: TestClient, auth_headers: AuthHeaders) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["G-A"])
    assert client.get("/api/users", headers=officer).status_code == 403


def test_grid_scope_follows_the_role(db: Session, make_user: MakeUser) -> None:
    leader = service.actor_for_user(
        db, make_user("squad", Role.SQUAD_LEADER, grid_codes=("G-A", "G-B"))
    )
    dispatcher = service.actor_for_user(
        db, make_user("dispatch", Role.DISPATCHER, grid_codes=("G-A",))
    )
    assert leader.grid_scope == frozenset({"G-A", "G-B"})
    assert dispatcher.grid_scope is None  # a dispatcher sees the whole street
    require_grid(leader, "G-B")
    require_grid(dispatcher, "G-Z")
    with pytest.raises(Forbidden) as refused:
        require_grid(leader, "G-Z")
    assert refused.value.code == "grid_out_of_scope"
    with pytest.raises(Forbidden):
        require_grid(leader, None)


def test_admin_changes_roles_and_grids_and_it_is_audited(
    client: TestClient, auth_headers: AuthHeaders, make_user: MakeUser, db: Session
) -> None:
    user = make_user("promoted", Role.GRID_OFFICER, grid_codes=("G-A",))
    admin = auth_headers(Role.ADMIN)
    response = client.patch(
        f"/api/users/{user.id}",
        json={"roles": ["squad_leader"], "grid_codes": ["G-A", "G-B"], "phone": "13800000000"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["squad_leader"]
    assert response.json()["grid_codes"] == ["G-A", "G-B"]
    db.refresh(user)
    assert user.updated_by is not None and user.updated_by.startswith("user:")
    rows = client.get(
        "/api/audit", params={"entity": "user", "entity_id": user.id}, headers=admin
    ).json()
    assert [r["action"] for r in rows] == ["user.update", "user.create"]
    assert rows[0]["detail"]["roles"] == ["squad_leader"]
    assert rows[0]["actor_ref"] == user.updated_by


def test_password_reset_signs_the_user_out_and_the_new_password_works(
    client: TestClient, auth_headers: AuthHeaders, make_user: MakeUser
) -> None:
    user = make_user("forgetful", Role.OPERATOR)
    old_token = client.post(
        "/api/auth/login", json={"username": "forgetful", "password": PASSWORD}
    ).json()["access_token"]
    client.cookies.clear()
    reset = client.patch(
        f"/api/users/{user.id}",
        json={"password": "brand-new-pass"},
        headers=auth_headers(Role.ADMIN),
    )
    assert reset.status_code == 200
    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {old_token}"}).status_code
        == 401
    )
    old = client.post("/api/auth/login", json={"username": "forgetful", "password": PASSWORD})
    assert old.status_code == 401
    new = client.post(
        "/api/auth/login", json={"username": "forgetful", "password": "brand-new-pass"}
    )
    assert new.status_code == 200


def test_admin_cannot_demote_himself(client: TestClient, auth_headers: AuthHeaders) -> None:
    admin = auth_headers(Role.ADMIN)
    my_id = client.get("/api/auth/me", headers=admin).json()["id"]
    response = client.patch(f"/api/users/{my_id}", json={"roles": ["operator"]}, headers=admin)
    assert response.status_code == 409
    assert client.get("/api/auth/me", headers=admin).json()["roles"] == ["admin"]


def test_patching_a_missing_user_is_a_404(client: TestClient, auth_headers: AuthHeaders) -> None:
    response = client.patch(
        "/api/users/987654", json={"is_active": False}, headers=auth_headers(Role.ADMIN)
    )
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_device_key_works_until_it_is_revoked(
    client: TestClient, auth_headers: AuthHeaders, db: Session
) -> None:
    admin = auth_headers(Role.ADMIN)
    created = client.post(
        "/api/api-keys",
        json={"name": "执法记录仪 07", "principal_kind": "device", "device_ref": "BWC-0007"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    key_id = created.json()["id"]
    assert key.startswith(f"uok_{created.json()['key_prefix']}_")
    stored = db.get(ApiKey, key_id)
    assert stored is not None and key not in (stored.key_hash, stored.key_prefix)
    me = client.get("/api/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json()["kind"] == "device"
    assert me.json()["ref"] == f"device:{key_id}"
    assert me.json()["roles"] == ["device"]
    listed = client.get("/api/api-keys", headers=admin).json()
    assert all("key" not in k for k in listed)
    assert any(k["id"] == key_id and k["last_used_at"] for k in listed)
    assert client.delete(f"/api/api-keys/{key_id}", headers=admin).status_code == 200
    assert client.get("/api/auth/me", headers={"X-API-Key": key}).status_code == 401
    actions = [
        r["action"]
        for r in client.get(
            "/api/audit", params={"entity": "api_key", "entity_id": key_id}, headers=admin
        ).json()
    ]
    assert actions == ["api_key.revoke", "api_key.create"]


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(
    client: TestClient, auth_headers: AuthHeaders
) -> None:
    created = client.post(
        "/api/api-keys",
        json={"name": "12345 hotline", "principal_kind": "integration", "roles": ["operator"]},
        headers=auth_headers(Role.ADMIN),
    ).json()
    forged = f"uok_{created['key_prefix']}_{'x' * 43}"
    assert client.get("/api/auth/me", headers={"X-API-Key": forged}).status_code == 401
    me = client.get("/api/auth/me", headers={"X-API-Key": created["key"]}).json()
    assert me["roles"] == ["integration", "operator"]


def test_an_api_key_cannot_be_an_admin(
    client: TestClient, auth_headers: AuthHeaders, db: Session
) -> None:
    keys_before = _count(db, ApiKey)
    response = client.post(
        "/api/api-keys",
        json={"name": "root", "principal_kind": "integration", "roles": ["admin"]},
        headers=auth_headers(Role.ADMIN),
    )
    assert response.status_code == 422
    assert _count(db, ApiKey) == keys_before


def test_device_protocols_resolve_a_key_through_the_service(
    db: Session, clock: ManualClock, make_user: MakeUser
) -> None:
    officer = make_user("carrier", Role.GRID_OFFICER, grid_codes=("G-A",))
    _, key = service.create_api_key(
        db,
        name="camera",
        principal_kind="device",
        roles=[],
        by=SYSTEM,
        now=clock.now(),
        user_id=officer.id,
        device_ref="CAM-1",
    )
    actor = service.actor_for_api_key(db, key, clock.now())
    assert actor is not None
    assert (actor.kind, actor.device_ref, actor.grid_scope) == (
        "device",
        "CAM-1",
        frozenset({"G-A"}),
    )
    assert service.actor_for_api_key(db, key + "x", clock.now()) is None


def test_audit_helper_records_other_modules_writes(db: Session, clock: ManualClock) -> None:
    officer = Actor(kind="user", id=7, name="网格员", roles=frozenset({Role.GRID_OFFICER}))
    row = service.audit(
        db,
        actor=officer,
        action="case.report",
        entity="case",
        entity_id=42,
        detail={"channel": "officer_app"},
        now=clock.now(),
    )
    assert (row.actor_ref, row.entity_id, row.at) == ("user:7", "42", clock.now())
    found = service.list_audit(db, actor_ref="user:7", entity="case")
    assert [r.id for r in found] == [row.id]
    assert (
        service.list_audit(db, actor_ref="user:7", since=clock.now() + timedelta(seconds=1)) == []
    )


def test_audit_rows_cannot_be_edited(db: Session, clock: ManualClock) -> None:
    row = service.audit(
        db, actor=SYSTEM, action="x.test", entity="x", entity_id=None, now=clock.now()
    )
    row.action = "x.forged"
    with pytest.raises(ValueError, match="append-only"):
        db.flush()


def test_audit_log_is_for_admins_only(client: TestClient, auth_headers: AuthHeaders) -> None:
    leader = auth_headers(Role.LEADER)
    assert client.get("/api/audit", headers=leader).status_code == 403
    naive = client.get(
        "/api/audit", params={"since": "2026-11-26T09:00:00"}, headers=auth_headers(Role.ADMIN)
    )
    assert naive.status_code == 422
