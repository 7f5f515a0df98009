"""Shapes of the auth API: sign-in, users, API keys and audit rows (in and out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from urbanops.kit.actor import Role


class LoginIn(BaseModel):
    """Credentials for signing in (登录)."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """An account as the API shows it; never its password hash."""

    id: int
    username: str
    display_name: str
    phone: str | None
    is_active: bool
    roles: list[Role]
    grid_codes: list[str]
    created_at: datetime
    created_by: str


class LoginOut(BaseModel):
    """A bearer token for the API; the same call also sets a session cookie for pages."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: UserOut


class MeOut(BaseModel):
    """Who the caller is, as the platform sees him."""

    kind: str
    id: int | None
    name: str
    ref: str
    roles: list[Role]
    grid_scope: list[str] | None
    user: UserOut | None = None


class UserCreate(BaseModel):
    """A new account."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(max_length=1024)
    display_name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    roles: list[Role] = Field(min_length=1)
    grid_codes: list[str] = Field(default_factory=list, max_length=500)


class UserPatch(BaseModel):
    """Changes to an account; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    roles: list[Role] | None = Field(default=None, min_length=1)
    grid_codes: list[str] | None = Field(default=None, max_length=500)
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=1024)


class ApiKeyCreate(BaseModel):
    """A new key for a device or an integrated system."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    principal_kind: Literal["device", "integration"]
    roles: list[Role] = Field(default_factory=list)
    user_id: int | None = None
    device_ref: str | None = Field(default=None, max_length=100)


class ApiKeyOut(BaseModel):
    """An API key as listed: its prefix identifies it, the secret is never shown again."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    principal_kind: str
    key_prefix: str
    roles: list[str]
    user_id: int | None
    device_ref: str | None
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A freshly created key, with its secret: shown this once only."""

    key: str


class AuditOut(BaseModel):
    """One audit row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_ref: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any] | None
