"""Credentials remembered behind the ``api_keys`` revision token: no lookup per request, yet a
revoked key or token, a changed user and an expired token are noticed at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from tests.auth.conftest import MakeUser
from urbanops.auth import service
from urbanops.auth.models import ApiKey, AuthToken
from urbanops.kit import revision
from urbanops.kit.actor import SYSTEM, Actor, Role
from urbanops.kit.clock import ManualClock


@pytest.fixture(autouse=True)
def forget() -> Iterator[None]:
    service.forget_credentials()
    yield
    service.forget_credentials()


@pytest.fixture
def lookups(db: Session) -> Iterator[list[str]]:
    """The statements that read the credential tables, as they run."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        lowered = statement.lower()
        if lowered.startswith("select") and (
            "from api_key" in lowered or "from auth_token" in lowered
        ):
            seen.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def _new_transaction(db: Session) -> None:
    """What the next request sees: a new transaction reads the revision tokens again."""
    db.commit()  # the test's outer transaction stays open (savepoint mode); tokens are re-read


def _bearer(token: str) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def _key(db: Session, clock: ManualClock) -> tuple[ApiKey, str]:
    return service.create_api_key(
        db, name="12345 gateway", principal_kind="integration", roles=[], by=SYSTEM,
        now=clock.now(),
    )  # fmt: skip


def test_a_key_is_looked_up_once_then_remembered(
    db: Session, clock: ManualClock, lookups: list[str]
) -> None:
    row, key = _key(db, clock)
    first = service.actor_for_api_key(db, key, clock.now())
    assert first is not None and first.ref == f"integration:{row.id}"
    assert len(lookups) == 1
    for _ in range(3):
        _new_transaction(db)
        assert service.actor_for_api_key(db, key, clock.now()) == first
    assert len(lookups) == 1  # remembered: no further lookup


def test_a_revoked_key_is_refused_at_once(
    db: Session, clock: ManualClock, lookups: list[str]
) -> None:
    row, key = _key(db, clock)
    assert service.actor_for_api_key(db, key, clock.now()) is not None
    before = revision.token(db, revision.API_KEYS)
    service.revoke_api_key(db, key_id=row.id, by=SYSTEM, now=clock.now())
    assert revision.token(db, revision.API_KEYS) != before
    assert service.actor_for_api_key(db, key, clock.now()) is None
    _new_transaction(db)
    assert service.actor_for_api_key(db, key, clock.now()) is None


def test_a_wrong_secret_is_never_remembered(db: Session, clock: ManualClock) -> None:
    _row, key = _key(db, clock)
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert service.actor_for_api_key(db, wrong, clock.now()) is None
    assert service.actor_for_api_key(db, key, clock.now()) is not None
    assert service.actor_for_api_key(db, wrong, clock.now()) is None


def test_last_use_is_still_stamped_once_a_minute(db: Session, clock: ManualClock) -> None:
    row, key = _key(db, clock)
    assert service.actor_for_api_key(db, key, clock.now()) is not None
    stamped = db.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id))
    assert stamped == clock.now()
    clock.advance(timedelta(seconds=30))
    service.actor_for_api_key(db, key, clock.now())
    assert db.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == stamped
    clock.advance(timedelta(seconds=31))
    service.actor_for_api_key(db, key, clock.now())
    assert db.scalar(select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == clock.now()


def test_a_users_new_roles_and_a_revoked_token_are_seen_at_once(
    db: Session, clock: ManualClock, make_user: MakeUser
) -> None:
    user = make_user("wang.fang", Role.OPERATOR)
    token = service.issue_token(db, user=user, now=clock.now())
    actor: Actor | None = service.authenticate_request(db, request=_bearer(token), now=clock.now())
    assert actor is not None and actor.roles == {Role.OPERATOR}
    service.update_user(db, user=user, by=SYSTEM, now=clock.now(), roles=[Role.SHIFT_LEADER])
    actor = service.authenticate_request(db, request=_bearer(token), now=clock.now())
    assert actor is not None and actor.roles == {Role.SHIFT_LEADER}
    assert service.revoke_token(db, token=token, now=clock.now())
    assert service.authenticate_request(db, request=_bearer(token), now=clock.now()) is None


def test_a_remembered_token_still_expires_by_the_clock(
    db: Session, clock: ManualClock, make_user: MakeUser
) -> None:
    user = make_user("li.na", Role.DISPATCHER)
    token = service.issue_token(db, user=user, now=clock.now(), ttl_s=3600)
    assert service.authenticate_request(db, request=_bearer(token), now=clock.now()) is not None
    expires = db.scalar(select(AuthToken.expires_at).where(AuthToken.user_id == user.id))
    assert expires is not None
    clock.advance(timedelta(seconds=3599))
    assert service.authenticate_request(db, request=_bearer(token), now=clock.now()) is not None
    clock.advance(timedelta(seconds=1))
    assert service.authenticate_request(db, request=_bearer(token), now=clock.now()) is None


def test_a_read_whose_last_used_stamp_cannot_take_the_write_lock_still_signs_in(
    tmp_path: Path,
) -> None:
    """SQLite: a read transaction cannot become a writer once another connection has committed
    since it began (the snapshot is stale, and SQLite answers "busy" at once). The once-a-minute
    stamp is best effort: the request goes on, and the next one stamps."""
    from urbanops import migrations
    from urbanops.auth.models import User
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

    engine = make_engine(f"sqlite:///{tmp_path}/stamp.db")
    migrations.upgrade(engine)
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        user = service.create_user(
            session, username="op-stamp", display_name="受理员", password="a-long-password-1",
            roles=[Role.OPERATOR], by=SYSTEM, now=clock.now(),
        )  # fmt: skip
        token = service.issue_token(session, user=user, now=clock.now())
    clock.advance(service.TOUCH_EVERY + timedelta(seconds=1))
    reader = factory()  # a GET's session: a plain (deferred) BEGIN
    try:
        reader.execute(select(User.id)).all()  # its snapshot starts here
        with unit_of_work(factory) as writer:  # positions, intake… commit meanwhile
            writer.execute(select(User).where(User.username == "op-stamp")).scalar_one().phone = "1"

        actor = service.authenticate_request(reader, request=_bearer(token), now=clock.now())

        assert actor is not None and actor.name == "受理员"
        reader.commit()
    finally:
        reader.close()
    clock.advance(timedelta(seconds=1))
    with unit_of_work(factory) as session:  # the next request (a fresh snapshot) stamps
        assert service.authenticate_request(session, request=_bearer(token), now=clock.now())
        stamped = session.scalar(select(AuthToken.last_used_at))
    assert stamped == clock.now()
    engine.dispose()
