"""Auth test helpers: people with passwords, built through the real service."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.orm import Session

from urbanops.auth import passwords, service
from urbanops.auth.models import User
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock

PASSWORD = "correct horse battery"

MakeUser = Callable[..., User]


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Real Argon2id with light parameters, so lockout scenarios (many hashes) stay quick."""
    monkeypatch.setattr(
        passwords,
        "_hasher",
        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),)),
    )
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def make_user(db: Session, clock: ManualClock) -> MakeUser:
    """Factory: a user with ``PASSWORD``, the given roles and grids."""

    def _make(
        username: str, *roles: Role, grid_codes: tuple[str, ...] = (), password: str = PASSWORD
    ) -> User:
        return service.create_user(
            db,
            username=username,
            password=password,
            display_name=username.title(),
            roles=roles,
            grid_codes=grid_codes,
            by=SYSTEM,
            now=clock.now(),
        )

    return _make
