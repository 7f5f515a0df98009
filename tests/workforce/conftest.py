"""Field-force fixtures: demo officers by username, and headers to act as any demo user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.auth import service as auth_service
from urbanops.auth.models import User
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock
from urbanops.workforce.models import Officer

GRID_01 = "440309001-01"
GRID_02 = "440309001-02"

Headers = Callable[..., dict[str, str]]
OfficerOf = Callable[[str], Officer]
SignedIn = Callable[[str], dict[str, str]]


@pytest.fixture
def officer_of(db: Session) -> Callable[[str], Officer]:
    """Factory: the demo officer row of a username such as ``gh0101``."""

    def _find(username: str) -> Officer:
        officer = db.scalar(
            select(Officer).join(User, User.id == Officer.user_id).where(User.username == username)
        )
        assert officer is not None, username
        return officer

    return _find


@pytest.fixture
def signed_in(
    db: Session, clock: ManualClock, settings: Settings
) -> Callable[[str], dict[str, str]]:
    """Factory: bearer headers of an existing (demo) user by username."""

    def _headers(username: str) -> dict[str, str]:
        user = auth_service.find_user(db, username=username)
        assert user is not None, username
        token = auth_service.issue_token(
            db, user=user, now=clock.now(), ttl_s=settings.api_token_ttl_s
        )
        return {"Authorization": f"Bearer {token}"}

    return _headers
