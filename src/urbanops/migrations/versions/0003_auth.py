"""auth: users, roles, grid scope, tokens, API keys, login throttle, audit log

Revision ID: 0003_auth
Revises: 0002_catalog

``user_grid_scope.grid_code`` holds a responsibility-grid code owned by the areas module, with no
foreign key on purpose: grids are re-imported from GIS files without touching accounts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from urbanops.migrations.columns import PK as BIGINT
from urbanops.migrations.columns import audited

revision: str = "0003_auth"
down_revision: str | None = "0002_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *audited(),
        sa.PrimaryKeyConstraint("id", name="pk_user"),
        sa.UniqueConstraint("username", name="uq_user_username"),
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_user_role_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name="pk_user_role"),
    )
    op.create_table(
        "user_grid_scope",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_user_grid_scope_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "grid_code", name="pk_user_grid_scope"),
    )
    op.create_index("ix_user_grid_scope_grid_code", "user_grid_scope", ["grid_code"])
    op.create_table(
        "auth_token",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("expires_at", UTC_DT, nullable=False),
        sa.Column("revoked_at", UTC_DT, nullable=True),
        sa.Column("last_used_at", UTC_DT, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_auth_token_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_auth_token"),
        sa.UniqueConstraint("token_hash", name="uq_auth_token_token_hash"),
    )
    op.create_index("ix_auth_token_user_id", "auth_token", ["user_id"])
    op.create_table(
        "api_key",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("principal_kind", sa.String(16), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("user_id", BIGINT, nullable=True),
        sa.Column("device_ref", sa.String(100), nullable=True),
        sa.Column("last_used_at", UTC_DT, nullable=True),
        sa.Column("revoked_at", UTC_DT, nullable=True),
        *audited(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_api_key_user_id_user", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("key_prefix", name="uq_api_key_key_prefix"),
    )
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTC_DT, nullable=False),
        sa.Column("locked_until", UTC_DT, nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_login_throttle"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.Column("actor_ref", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_audit_log_actor_ref", "audit_log", ["actor_ref"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("login_throttle")
    op.drop_table("api_key")
    op.drop_table("auth_token")
    op.drop_table("user_grid_scope")
    op.drop_table("user_role")
    op.drop_table("user")
