"""Tables of users (用户), their roles and grid scope, tokens, API keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK, UTCDateTime


class User(Audited, Base):
    """A person who signs in: operator, dispatcher, grid officer, squad leader, admin, …"""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class UserRole(Base):
    """One role held by a user (角色)."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class UserGridScope(Base):
    """A responsibility grid (责任网格) a user may act on.

    ``grid_code`` is the grid's code as the areas module knows it; deliberately no foreign key, so
    grids can be re-imported without touching accounts and auth does not depend on areas.
    """

    __tablename__ = "user_grid_scope"

    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    grid_code: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_user_grid_scope_grid_code", "grid_code"),)


class AuthToken(Base):
    """A bearer token or a session cookie (会话); only its SHA-256 is kept, so it can be revoked."""

    __tablename__ = "auth_token"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "api" | "session"
    user_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(Audited, Base):
    """A key for a device (设备) or an integrated system; found by prefix, checked by hash."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    principal_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    user_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    device_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginThrottle(Base):
    """Failed sign-ins per username, to lock out password guessing for a few minutes."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditLog(Base):
    """One append-only row per write (操作日志): who did what to which entity, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_actor_ref", "actor_ref"),
        Index("ix_audit_log_at", "at"),
    )


def _refuse_change(_mapper: Any, _connection: Any, target: AuditLog) -> None:
    raise ValueError(f"audit_log row {target.id} is append-only")


event.listen(AuditLog, "before_update", _refuse_change)
event.listen(AuditLog, "before_delete", _refuse_change)
