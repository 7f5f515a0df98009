"""Revision tokens of reference data (参考数据版本): process caches that stay right everywhere.

Data that changes rarely (grids, channels and SLA rules, the catalogue and its standards, the
working calendar) is read on every report. Each kind has one row in ``reference_revision`` whose
random token every write of that kind changes, in the writer's transaction. A reader asks for the
tokens (one query for every kind, remembered until the session's transaction or savepoint ends)
and reloads its cached copy when the token differs from the one it was built at, so this process
and every other one see a committed change at once, and a rolled-back change is never mistaken
for a later committed one (random tokens, never counters).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, String, event, select, update
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from urbanops.kit.db import Base, UTCDateTime

GRIDS = "grids"
CHANNELS = "channels"
CATALOG = "catalog"
CALENDAR = "calendar"
API_KEYS = "api_keys"
#: Every kind the migration seeds a token for.
KINDS = (GRIDS, CHANNELS, CATALOG, CALENDAR, API_KEYS)

_MEMO = "urbanops.revision.tokens"

T = TypeVar("T")


class ReferenceRevision(Base):
    """One row per kind of reference data; its token changes on every write of that kind."""

    __tablename__ = "reference_revision"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), nullable=False)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


_ALL_TOKENS = select(ReferenceRevision.kind, ReferenceRevision.token)


def new_token() -> str:
    """A fresh random token."""
    return uuid.uuid4().hex


def mark_changed(session: Session, *, kind: str, now: datetime | None = None) -> None:
    """Record that ``kind`` changed, in this transaction, so every process reloads its copy."""
    token = new_token()
    changed = session.execute(
        update(ReferenceRevision)
        .where(ReferenceRevision.kind == kind)
        .values(token=token, changed_at=now)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ReferenceRevision(kind=kind, token=token, changed_at=now))
    session.info.pop(_MEMO, None)
    session.flush()


def tokens(session: Session) -> dict[str, str]:
    """Every kind's token, read once per transaction (or savepoint) of ``session``."""
    memo: dict[str, str] | None = session.info.get(_MEMO)
    if memo is None:
        memo = {kind: token for kind, token in session.execute(_ALL_TOKENS)}
        session.info[_MEMO] = memo
    return memo


def token(session: Session, kind: str) -> str | None:
    """The token of ``kind``; None when the table has no row for it (then nothing is cached)."""
    return tokens(session).get(kind)


@event.listens_for(Session, "after_transaction_end")
def _forget_tokens(session: Session, transaction: SessionTransaction) -> None:
    """A transaction or savepoint that ends (commit or rollback) drops the remembered tokens."""
    session.info.pop(_MEMO, None)


#: Each engine's cache key, remembered: rendering the URL on every cache read cost about 8 % of
#: preparing a report. Weak keys, so a disposed and dropped engine (tests make many) is forgotten.
_DATABASE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: Session) -> str:
    """The database a session talks to, as a cache key (its URL without the password)."""
    engine = session.get_bind().engine
    key = _DATABASE_KEYS.get(engine)
    if key is None:
        key = _DATABASE_KEYS[engine] = engine.url.render_as_string(hide_password=True)
    return key


@dataclass
class _Entry(Generic[T]):
    token: str
    value: T


class RevisionCache(Generic[T]):
    """A value built from one kind of reference data, per database, rebuilt when its token moves.

    ``extra`` keys variants of the value (e.g. settings it depends on).
    """

    def __init__(self, kind: str, build: Callable[[Session], T]) -> None:
        self.kind = kind
        self.build = build
        self._entries: dict[tuple[str, Any], _Entry[T]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, extra: Any = None) -> T:
        """The value for ``session``'s database at the current token (built if stale or absent)."""
        current = token(session, self.kind)
        if current is None:
            return self.build(session)
        key = (database_key(session), extra)
        entry = self._entries.get(key)
        if entry is not None and entry.token == current:
            return entry.value
        value = self.build(session)
        with self._lock:
            self._entries[key] = _Entry(current, value)
        return value

    def clear(self) -> None:
        """Forget every cached value (tests)."""
        with self._lock:
            self._entries.clear()
