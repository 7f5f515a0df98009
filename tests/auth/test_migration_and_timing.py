"""The auth migration goes both ways; an unknown user costs as much time as a wrong password."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from tests.auth.conftest import MakeUser
from urbanops import migrations
from urbanops.auth import service
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_engine

AUTH_TABLES = {"user", "user_role", "user_grid_scope", "auth_token", "api_key", "audit_log"}


def test_auth_migration_upgrades_and_downgrades_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrations.upgrade(engine, "0003_auth")
        assert set(inspect(engine).get_table_names()) >= AUTH_TABLES
        migrations.downgrade(engine, "0002_catalog")
        assert not AUTH_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _seconds(session: Session, username: str, now: datetime) -> float:
    start = time.perf_counter()
    with pytest.raises(service.InvalidCredentials):
        service.login(session, username=username, password="wrong-password", now=now)
    return time.perf_counter() - start


def test_unknown_user_takes_about_as_long_as_a_wrong_password(
    db: Session, clock: ManualClock, make_user: MakeUser
) -> None:
    make_user("timed", Role.OPERATOR)
    known = min(_seconds(db, "timed", clock.now()) for _ in range(3))
    unknown = min(_seconds(db, "nobody-at-all", clock.now()) for _ in range(3))
    assert unknown > known * 0.5, (known, unknown)
