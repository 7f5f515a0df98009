"""Users, passwords, sessions, tokens, API keys and the audit trail (操作日志).

Services flush and never commit: the request (or the job) owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from urbanops.auth import passwords
from urbanops.auth.models import (
    ApiKey,
    AuditLog,
    AuthToken,
    LoginThrottle,
    User,
    UserGridScope,
    UserRole,
)
from urbanops.kit import revision
from urbanops.kit.actor import Actor, Role
from urbanops.kit.db import connection_lost
from urbanops.kit.errors import Conflict, InvalidInput, NotFound, Problem, Unauthorized

verify_password = passwords.verify_password

SESSION_COOKIE = "urbanops_session"
API_KEY_HEADER = "X-API-Key"
DEFAULT_TTL_S = 12 * 3600
MIN_PASSWORD_LENGTH = 8
LOCKOUT_THRESHOLD = 10
LOCKOUT = timedelta(minutes=5)
#: Failures older than this no longer count towards a lockout.
FAILURE_WINDOW = timedelta(minutes=15)
#: ``last_used_at`` is refreshed at most this often, so reads do not write on every request.
TOUCH_EVERY = timedelta(minutes=1)

#: Roles that see the whole street; every other user is limited to his grids.
STREET_WIDE_ROLES = frozenset(
    {
        Role.ADMIN,
        Role.LEADER,
        Role.SHIFT_LEADER,
        Role.OPERATOR,
        Role.DISPATCHER,
        Role.LEGAL_REVIEWER,
    }
)
#: Roles for machines only: never given to a person, always carried by an API key.
PRINCIPAL_ROLES = {"device": Role.DEVICE, "integration": Role.INTEGRATION}
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
GRID_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
API_KEY_PREFIX_LEN = 8

INVALID_CREDENTIALS = "The username or the password is wrong"


class InvalidCredentials(Unauthorized):
    """Wrong username or wrong password: one answer for both, so neither leaks."""

    code = "invalid_credentials"
    title = "Sign-in failed"


class TooManyAttempts(Problem):
    """Too many failed sign-ins for one username: locked for a few minutes."""

    status, code, title = 429, "too_many_attempts", "Too many failed sign-ins"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- audit -------------------------------------------------------------------------------------


def audit(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object | None,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> AuditLog:
    """Append one audit row: who did what to which entity, when (for every module's writes)."""
    row = AuditLog(
        at=now,
        actor_ref=actor.ref,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail,
    )
    session.add(row)
    session.flush()
    return row


def list_audit(
    session: Session,
    *,
    actor_ref: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[AuditLog]:
    """Audit rows matching the filters, newest first."""
    query = select(AuditLog)
    for column, value in (
        (AuditLog.actor_ref, actor_ref),
        (AuditLog.action, action),
        (AuditLog.entity, entity),
        (AuditLog.entity_id, entity_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if until is not None:
        query = query.where(AuditLog.at < until)
    query = query.order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    return session.scalars(query).all()


# --- users -------------------------------------------------------------------------------------


def _check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "A username has 3 to 64 characters: letters, digits, '_', '.' or '-'",
            code="invalid_username",
        )
    return username


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters",
            code="password_too_short",
        )
    return password


def _check_roles(roles: Iterable[Role | str]) -> set[Role]:
    try:
        checked = {Role(r) for r in roles}
    except ValueError as exc:
        raise InvalidInput(str(exc), code="unknown_role") from exc
    machine = checked.intersection(PRINCIPAL_ROLES.values())
    if machine:
        raise InvalidInput(
            "Device and integration roles belong to API keys, not to people",
            code="role_not_for_users",
            roles=sorted(machine),
        )
    return checked


def _check_grid_codes(grid_codes: Iterable[str]) -> set[str]:
    codes = set(grid_codes)
    bad = sorted(c for c in codes if not GRID_CODE_RE.match(c))
    if bad:
        raise InvalidInput(
            "Grid codes are 1 to 32 letters or digits", code="invalid_grid_code", grid_codes=bad
        )
    return codes


def get_user(session: Session, *, user_id: int) -> User:
    """The user with ``user_id``, or a 404 problem."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}", code="user_not_found")
    return user


def find_user(session: Session, *, username: str) -> User | None:
    """The user called ``username`` (case-insensitive), if any."""
    return session.scalars(select(User).where(User.username == username.lower())).one_or_none()


def user_roles(session: Session, user_id: int) -> frozenset[Role]:
    """The roles a user holds."""
    rows = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id))
    return frozenset(Role(r) for r in rows)


def user_grid_codes(session: Session, user_id: int) -> frozenset[str]:
    """The responsibility grids a user is scoped to."""
    rows = session.scalars(select(UserGridScope.grid_code).where(UserGridScope.user_id == user_id))
    return frozenset(rows)


def _set_roles(session: Session, user: User, roles: set[Role]) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == user.id))
    session.add_all(UserRole(user_id=user.id, role=r.value) for r in sorted(roles))


def _set_grid_codes(session: Session, user: User, grid_codes: set[str]) -> None:
    session.execute(delete(UserGridScope).where(UserGridScope.user_id == user.id))
    session.add_all(UserGridScope(user_id=user.id, grid_code=c) for c in sorted(grid_codes))


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    display_name: str,
    roles: Iterable[Role | str],
    grid_codes: Iterable[str] = (),
    phone: str | None = None,
    by: Actor,
    now: datetime,
) -> User:
    """Create an account; ``password=None`` makes one that cannot sign in with a password."""
    username = _check_username(username).lower()
    checked_roles = _check_roles(roles)
    codes = _check_grid_codes(grid_codes)
    if password is not None:
        _check_password(password)
    if find_user(session, username=username) is not None:
        raise Conflict(f"The username {username!r} is taken", code="username_taken")
    user = User(
        username=username,
        display_name=display_name,
        phone=phone,
        password_hash=passwords.UNUSABLE if password is None else passwords.hash_password(password),
        is_active=True,
    )
    user.stamp_created(by.ref, now)
    session.add(user)
    session.flush()
    _set_roles(session, user, checked_roles)
    _set_grid_codes(session, user, codes)
    session.flush()
    audit(
        session,
        actor=by,
        action="user.create",
        entity="user",
        entity_id=user.id,
        detail={"username": username, "roles": sorted(checked_roles), "grid_codes": sorted(codes)},
        now=now,
    )
    return user


def update_user(
    session: Session,
    *,
    user: User,
    by: Actor,
    now: datetime,
    display_name: str | None = None,
    phone: str | None = None,
    roles: Iterable[Role | str] | None = None,
    grid_codes: Iterable[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change an account; a password reset or a deactivation signs the user out everywhere."""
    new_roles = None if roles is None else _check_roles(roles)
    codes = None if grid_codes is None else _check_grid_codes(grid_codes)
    if password is not None:
        _check_password(password)
    demotes = is_active is False or (new_roles is not None and Role.ADMIN not in new_roles)
    if by.kind == "user" and by.id == user.id and demotes:
        raise Conflict(
            "An administrator cannot deactivate or demote himself", code="cannot_demote_self"
        )
    changed: list[str] = []
    if display_name is not None:
        user.display_name = display_name
        changed.append("display_name")
    if phone is not None:
        user.phone = phone
        changed.append("phone")
    if new_roles is not None:
        _set_roles(session, user, new_roles)
        changed.append("roles")
    if codes is not None:
        _set_grid_codes(session, user, codes)
        changed.append("grid_codes")
    if is_active is not None:
        user.is_active = is_active
        changed.append("is_active")
    if password is not None:
        user.password_hash = passwords.hash_password(password)
        changed.append("password")
    if password is not None or is_active is False:
        revoke_user_tokens(session, user=user, now=now)
    user.stamp_updated(by.ref, now)
    session.flush()
    # The actors of this user's tokens and of the keys bound to him carry his name, roles, grids.
    revision.mark_changed(session, kind=revision.API_KEYS, now=now)
    detail: dict[str, Any] = {"changed": changed}
    if new_roles is not None:
        detail["roles"] = sorted(new_roles)
    if codes is not None:
        detail["grid_codes"] = sorted(codes)
    if is_active is not None:
        detail["is_active"] = is_active
    audit(
        session,
        actor=by,
        action="user.update",
        entity="user",
        entity_id=user.id,
        detail=detail,
        now=now,
    )
    return user


def list_users(session: Session, *, viewer: Actor) -> Sequence[User]:
    """Users the viewer may see: everyone for street-wide roles, else users in his grids."""
    query = select(User).order_by(User.id)
    if viewer.grid_scope is not None:
        in_scope = select(UserGridScope.user_id).where(
            UserGridScope.grid_code.in_(sorted(viewer.grid_scope))
        )
        query = query.where(User.id.in_(in_scope))
    return session.scalars(query).all()


def actor_for_user(session: Session, user: User) -> Actor:
    """The Actor a user acts as: his roles, and his grids unless a role sees the whole street."""
    roles = user_roles(session, user.id)
    scope = None if roles & STREET_WIDE_ROLES else user_grid_codes(session, user.id)
    return Actor(kind="user", id=user.id, name=user.display_name, roles=roles, grid_scope=scope)


# --- sign-in, tokens and sessions --------------------------------------------------------------


def _throttle(session: Session, username: str) -> LoginThrottle | None:
    return session.get(LoginThrottle, username)


def check_not_locked(session: Session, *, username: str, now: datetime) -> None:
    """Refuse with 429 while a username is locked after too many failed sign-ins."""
    row = _throttle(session, username.lower()[:64])
    if row is not None and row.locked_until is not None and row.locked_until > now:
        retry_after = int((row.locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(
            "Too many failed sign-ins; try again in a few minutes", retry_after_s=retry_after
        )


def _new_throttle(session: Session, key: str, now: datetime) -> LoginThrottle:
    """A fresh counter row; a concurrent failure may have inserted it first, then use that one."""
    try:
        with session.begin_nested():
            row = LoginThrottle(username=key, failures=0, last_failure_at=now)
            session.add(row)
        return row
    except IntegrityError:
        existing = _throttle(session, key)
        assert existing is not None
        return existing


def record_failed_login(session: Session, *, username: str, now: datetime) -> None:
    """Count one failed sign-in; the tenth within the window locks the username for a while."""
    key = username.lower()[:64]
    row = _throttle(session, key) or _new_throttle(session, key, now)
    if now - row.last_failure_at > FAILURE_WINDOW or (
        row.locked_until is not None and row.locked_until <= now
    ):
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= LOCKOUT_THRESHOLD:
        row.locked_until = now + LOCKOUT
    session.flush()


def login(session: Session, *, username: str, password: str, now: datetime) -> User:
    """Check a username and password (登录); one 401 for every failure, 429 while locked.

    A failure is counted (flushed) before the problem is raised: the caller must keep it.
    """
    check_not_locked(session, username=username, now=now)
    user = find_user(session, username=username) if len(username) <= 64 else None
    if user is None:
        passwords.burn_time(password)
        ok = False
    else:
        ok = passwords.verify_password(password, user.password_hash) and user.is_active
    if not ok:
        record_failed_login(session, username=username, now=now)
        raise InvalidCredentials(INVALID_CREDENTIALS)
    assert user is not None
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == user.username))
    return user


def issue_token(
    session: Session, *, user: User, now: datetime, kind: str = "api", ttl_s: int = DEFAULT_TTL_S
) -> str:
    """A fresh random token for ``user`` (kind ``api`` or ``session``); only its hash is stored."""
    if kind not in ("api", "session"):
        raise ValueError(f"unknown token kind {kind!r}")
    token = secrets.token_urlsafe(32)
    row = AuthToken(
        token_hash=_digest(token),
        kind=kind,
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.flush()
    return token


def token_expiry(session: Session, *, token: str) -> datetime | None:
    """When a token stops working, if it exists."""
    return session.scalars(
        select(AuthToken.expires_at).where(AuthToken.token_hash == _digest(token))
    ).one_or_none()


def revoke_token(session: Session, *, token: str, now: datetime) -> bool:
    """Revoke one token or session (退出登录); True when something was revoked."""
    result = session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == _digest(token), AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revoked = bool(getattr(result, "rowcount", 0))
    if revoked:
        revision.mark_changed(session, kind=revision.API_KEYS, now=now)
    return revoked


def revoke_user_tokens(session: Session, *, user: User, now: datetime) -> None:
    """Revoke every token and session of a user."""
    session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revision.mark_changed(session, kind=revision.API_KEYS, now=now)


# --- API keys ----------------------------------------------------------------------------------


def create_api_key(
    session: Session,
    *,
    name: str,
    principal_kind: str,
    roles: Iterable[Role | str],
    by: Actor,
    now: datetime,
    user_id: int | None = None,
    device_ref: str | None = None,
) -> tuple[ApiKey, str]:
    """A key for a device or an integration; the plain key is returned once and never stored."""
    if principal_kind not in PRINCIPAL_ROLES:
        raise InvalidInput(
            "principal_kind is 'device' or 'integration'", code="invalid_principal_kind"
        )
    try:
        key_roles = {Role(r) for r in roles} | {PRINCIPAL_ROLES[principal_kind]}
    except ValueError as exc:
        raise InvalidInput(str(exc), code="unknown_role") from exc
    if Role.ADMIN in key_roles:
        raise InvalidInput("An API key cannot hold the admin role", code="role_not_for_keys")
    if user_id is not None:
        get_user(session, user_id=user_id)
    prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
    plain = f"uok_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        principal_kind=principal_kind,
        key_prefix=prefix,
        key_hash=_digest(plain),
        roles=sorted(r.value for r in key_roles),
        user_id=user_id,
        device_ref=device_ref,
    )
    key.stamp_created(by.ref, now)
    session.add(key)
    session.flush()
    audit(
        session,
        actor=by,
        action="api_key.create",
        entity="api_key",
        entity_id=key.id,
        detail={"name": name, "principal_kind": principal_kind, "roles": key.roles},
        now=now,
    )
    return key, plain


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    """Every API key, revoked ones included, oldest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_api_key(session: Session, *, key_id: int, by: Actor, now: datetime) -> ApiKey:
    """Revoke a key so it stops working at once; revoking twice is harmless."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = now
        key.stamp_updated(by.ref, now)
        session.flush()
        revision.mark_changed(session, kind=revision.API_KEYS, now=now)
        audit(
            session, actor=by, action="api_key.revoke", entity="api_key", entity_id=key.id, now=now
        )
    return key


def _api_key_for(session: Session, plain: str) -> ApiKey | None:
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "uok":
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.key_prefix == parts[1])).one_or_none()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plain)):
        return None
    return key


def actor_for_api_key(session: Session, key: str, now: datetime) -> Actor | None:
    """The device or integration behind a live API key, or None (device protocols call this)."""
    return _remembered(session, "api_key", key, now, _load_api_key)


def _load_api_key(session: Session, key: str, now: datetime) -> _Known | None:
    row = _api_key_for(session, key)
    if row is None or row.revoked_at is not None:
        return None
    scope = None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        scope = actor_for_user(session, user).grid_scope
    actor = Actor(
        kind=row.principal_kind,
        id=row.id,
        name=row.name,
        roles=frozenset(Role(r) for r in row.roles),
        grid_scope=scope,
        device_ref=row.device_ref,
    )
    return _Known(actor, ApiKey, row.id, None, row.last_used_at)


# --- credentials remembered ----------------------------------------------------------------------
#
# Every request presents a credential; intake's gateways present the same API key thousands of
# times a minute. Who stands behind a credential is remembered per database, keyed by the SHA-256
# of the secret (never the secret), and valid while the ``api_keys`` revision token is the one it
# was read at. Everything that can change the answer changes that token in its own transaction:
# revoking a key, a token or all of a user's tokens, and any change of a user (roles, grids, name,
# deactivation), so every process notices at once. Expiry is checked against the request's clock
# on every use. Unknown or refused credentials are never remembered: a guess costs a query, as
# before, and a credential created later is found at once. The once-a-minute "last used" stamp is
# still written, as one UPDATE of the row.

#: At most this many credentials per process (forgotten all at once beyond: a flood of distinct
#: valid credentials is not a steady state worth a smarter policy).
MAX_REMEMBERED = 10_000


@dataclass
class _Known:
    """Who stands behind a credential, and what its row says about expiry and last use."""

    actor: Actor
    table: type[ApiKey] | type[AuthToken]
    row_id: int
    expires_at: datetime | None
    last_used_at: datetime | None
    token: str = ""  # the ``api_keys`` revision token it was read at


_remembered_lock = threading.Lock()
_known: dict[tuple[str, str, str], _Known] = {}


def _remembered(
    session: Session,
    kind: str,
    secret: str,
    now: datetime,
    load: Callable[[Session, str, datetime], _Known | None],
) -> Actor | None:
    """The actor behind ``secret`` (of ``kind``), remembered while the revision token holds."""
    current = revision.token(session, revision.API_KEYS)
    key = (revision.database_key(session), kind, _digest(secret))
    known = _known.get(key) if current is not None else None
    if known is None or known.token != current:
        known = load(session, secret, now)
        if known is None:
            return None
        if current is not None:
            known.token = current
            with _remembered_lock:
                if len(_known) >= MAX_REMEMBERED:
                    _known.clear()
                _known[key] = known
    if known.expires_at is not None and known.expires_at <= now:
        return None
    if known.last_used_at is None or now - known.last_used_at >= TOUCH_EVERY:
        _stamp(session, known, now)
    return known.actor


def _stamp(session: Session, known: _Known, now: datetime) -> None:
    """Write the once-a-minute "last used" stamp, as best effort.

    A read's transaction on SQLite cannot take the write lock once another connection has
    committed since it began ("database is locked", at once): the stamp then waits for the next
    request instead of failing this one. A lost connection still fails it (503).
    """
    try:
        with session.begin_nested():
            # "evaluate": a row of the same session's identity map shows the new stamp too.
            session.execute(
                update(known.table).where(known.table.id == known.row_id).values(last_used_at=now),
                execution_options={"synchronize_session": "evaluate"},
            )
    except OperationalError as exc:
        if connection_lost(exc):
            raise
        return
    known.last_used_at = now


def forget_credentials() -> None:
    """Forget every remembered credential (tests)."""
    with _remembered_lock:
        _known.clear()


# --- requests ----------------------------------------------------------------------------------


def request_credential(request: Request) -> tuple[str, str] | None:
    """Which credential a request carries: ("bearer" | "api_key" | "session", secret)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return ("bearer", value.strip()) if scheme.lower() == "bearer" else ("invalid", "")
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key is not None:
        return "api_key", api_key.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return "session", cookie
    return None


def authenticate_request(session: Session, *, request: Request, now: datetime) -> Actor | None:
    """The Actor behind a request's bearer token, API key or session cookie, if valid."""
    credential = request_credential(request)
    if credential is None or not credential[1]:
        return None
    kind, secret = credential
    if kind == "api_key":
        return actor_for_api_key(session, secret, now)
    if kind in ("bearer", "session"):
        token_kind = "api" if kind == "bearer" else "session"
        return _remembered(session, token_kind, secret, now, _token_loader(token_kind))
    return None


def _token_loader(kind: str) -> Callable[[Session, str, datetime], _Known | None]:
    """Reads who stands behind a live token of ``kind`` (for the remembered credentials)."""

    def load(session: Session, token: str, now: datetime) -> _Known | None:
        row = session.scalars(
            select(AuthToken).where(AuthToken.token_hash == _digest(token), AuthToken.kind == kind)
        ).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        actor = actor_for_user(session, user)
        return _Known(actor, AuthToken, row.id, row.expires_at, row.last_used_at)

    return load
