"""REST routes for signing in, accounts, API keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from urbanops.auth import service
from urbanops.auth.deps import CurrentActor, require
from urbanops.auth.models import ApiKey, User
from urbanops.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditOut,
    LoginIn,
    LoginOut,
    MeOut,
    UserCreate,
    UserOut,
    UserPatch,
)
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import BadRequest, InvalidInput, Problem, UnsupportedMediaType
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep, problem_response

router = APIRouter()

AdminActor = Annotated[Actor, Depends(require(Role.ADMIN))]
UserViewer = Annotated[Actor, Depends(require(Role.SQUAD_LEADER))]


def user_out(session: Session, user: User) -> UserOut:
    """The API view of an account, with its roles and grids."""
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        phone=user.phone,
        is_active=user.is_active,
        roles=sorted(service.user_roles(session, user.id)),
        grid_codes=sorted(service.user_grid_codes(session, user.id)),
        created_at=user.created_at,
        created_by=user.created_by,
    )


async def _read_credentials(request: Request) -> LoginIn:
    """Credentials from a JSON body or an HTML form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            raw: object = await request.json()
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            raw = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            raise UnsupportedMediaType(
                "Send the credentials as JSON or as a form", code="unsupported_media_type"
            )
    except ValueError as exc:
        raise BadRequest("The body is not valid JSON", code="malformed_json") from exc
    try:
        return LoginIn.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(
            "Send a username and a password",
            code="invalid_input",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()],
        ) from exc


@router.post(
    "/api/auth/login",
    tags=["auth"],
    operation_id="login",
    response_model=LoginOut,
    responses={401: {"description": "Wrong username or password"}, 429: {"description": "Locked"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginIn.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": LoginIn.model_json_schema()},
            },
        }
    },
)
async def login(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """Sign in with a username and password: a bearer token, and a session cookie for pages."""
    credentials = await _read_credentials(request)
    now = clock.now()
    try:
        user = service.login(
            session, username=credentials.username, password=credentials.password, now=now
        )
    except Problem as problem:
        # Answered, not raised, so the request still commits the failure count.
        response = problem_response(problem, request)
        if isinstance(problem, service.TooManyAttempts):
            response.headers["Retry-After"] = str(problem.extra["retry_after_s"])
        return response
    return _signed_in(
        session,
        user=user,
        now=now,
        settings_ttl=settings.api_token_ttl_s,
        session_ttl=settings.session_max_age_s,
        secure=settings.mode == "production",
    )


def _signed_in(
    session: Session,
    *,
    user: User,
    now: datetime,
    settings_ttl: int,
    session_ttl: int,
    secure: bool,
) -> Response:
    """The sign-in answer: token in the body, session in an HttpOnly cookie, an audit row."""
    token = service.issue_token(session, user=user, now=now, kind="api", ttl_s=settings_ttl)
    cookie = service.issue_token(session, user=user, now=now, kind="session", ttl_s=session_ttl)
    actor = service.actor_for_user(session, user)
    service.audit(
        session, actor=actor, action="auth.login", entity="user", entity_id=user.id, now=now
    )
    expires_at = service.token_expiry(session, token=token)
    assert expires_at is not None
    body = LoginOut(access_token=token, expires_at=expires_at, user=user_out(session, user))
    response = JSONResponse(body.model_dump(mode="json"))
    response.set_cookie(
        service.SESSION_COOKIE,
        cookie,
        max_age=session_ttl,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return response


@router.post("/api/auth/logout", tags=["auth"], operation_id="logout", status_code=204)
def logout(request: Request, actor: CurrentActor, session: SessionDep, clock: ClockDep) -> Response:
    """Sign out: revoke the token or session this request used, and clear the cookie."""
    now = clock.now()
    credential = service.request_credential(request)
    if credential is not None and credential[0] in ("bearer", "session"):
        service.revoke_token(session, token=credential[1], now=now)
    cookie = request.cookies.get(service.SESSION_COOKIE)
    if cookie:
        service.revoke_token(session, token=cookie, now=now)
    service.audit(
        session, actor=actor, action="auth.logout", entity=actor.kind, entity_id=actor.id, now=now
    )
    response = Response(status_code=204)
    response.delete_cookie(service.SESSION_COOKIE, path="/")
    return response


@router.get("/api/auth/me", tags=["auth"], operation_id="whoAmI", response_model=MeOut)
def me(actor: CurrentActor, session: SessionDep) -> MeOut:
    """Who the caller is: kind, roles and grid scope."""
    user = session.get(User, actor.id) if actor.kind == "user" and actor.id is not None else None
    return MeOut(
        kind=actor.kind,
        id=actor.id,
        name=actor.name,
        ref=actor.ref,
        roles=sorted(actor.roles),
        grid_scope=None if actor.grid_scope is None else sorted(actor.grid_scope),
        user=None if user is None else user_out(session, user),
    )


@router.post(
    "/api/users", tags=["users"], operation_id="createUser", response_model=UserOut, status_code=201
)
def create_user(
    body: UserCreate, actor: AdminActor, session: SessionDep, clock: ClockDep
) -> UserOut:
    """Create an account (admin)."""
    user = service.create_user(
        session,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        roles=body.roles,
        grid_codes=body.grid_codes,
        phone=body.phone,
        by=actor,
        now=clock.now(),
    )
    return user_out(session, user)


@router.get("/api/users", tags=["users"], operation_id="listUsers", response_model=list[UserOut])
def list_users(actor: UserViewer, session: SessionDep) -> list[UserOut]:
    """Accounts the caller may see: all for an admin, those in his grids for a squad leader."""
    return [user_out(session, u) for u in service.list_users(session, viewer=actor)]


@router.patch(
    "/api/users/{user_id}", tags=["users"], operation_id="updateUser", response_model=UserOut
)
def update_user(
    user_id: int, body: UserPatch, actor: AdminActor, session: SessionDep, clock: ClockDep
) -> UserOut:
    """Change roles, grids, activity, contact or password of an account (admin)."""
    user = service.get_user(session, user_id=user_id)
    service.update_user(
        session, user=user, by=actor, now=clock.now(), **body.model_dump(exclude_unset=True)
    )
    return user_out(session, user)


@router.post(
    "/api/api-keys",
    tags=["api-keys"],
    operation_id="createApiKey",
    response_model=ApiKeyCreated,
    status_code=201,
)
def create_api_key(
    body: ApiKeyCreate, actor: AdminActor, session: SessionDep, clock: ClockDep
) -> ApiKeyCreated:
    """Create a key for a device or an integration (admin); the key is shown this once."""
    key, plain = service.create_api_key(session, by=actor, now=clock.now(), **body.model_dump())
    return ApiKeyCreated(key=plain, **ApiKeyOut.model_validate(key).model_dump())


@router.get(
    "/api/api-keys", tags=["api-keys"], operation_id="listApiKeys", response_model=list[ApiKeyOut]
)
def list_api_keys(actor: AdminActor, session: SessionDep) -> list[ApiKey]:
    """Every API key, without secrets (admin)."""
    return list(service.list_api_keys(session))


@router.delete(
    "/api/api-keys/{key_id}",
    tags=["api-keys"],
    operation_id="revokeApiKey",
    response_model=ApiKeyOut,
)
def revoke_api_key(key_id: int, actor: AdminActor, session: SessionDep, clock: ClockDep) -> ApiKey:
    """Revoke a key: it stops working at once (admin)."""
    return service.revoke_api_key(session, key_id=key_id, by=actor, now=clock.now())


@router.get("/api/audit", tags=["audit"], operation_id="listAudit", response_model=list[AuditOut])
def list_audit(
    actor: AdminActor,
    session: SessionDep,
    actor_ref: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AuditOut]:
    """The audit log, newest first, filtered by actor, action, entity and time (admin)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                f"{name} needs a timezone, e.g. 2026-11-26T09:00:00+08:00", code="naive_datetime"
            )
    rows = service.list_audit(
        session,
        actor_ref=actor_ref,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [AuditOut.model_validate(r) for r in rows]
