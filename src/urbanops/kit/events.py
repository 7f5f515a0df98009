"""The EventBus: modules hear each other's news without importing each other's services.

Services call ``publish(session, event)``; the event is held on the session and delivered to
subscribers only after the transaction commits (never for a rollback), so a subscriber never
sees news of something that did not happen. The in-process bus is the default; other
backends (PostgreSQL LISTEN/NOTIFY, Redis) implement ``Transport`` to fan out across processes.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING = "urbanops.pending_events"


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event; ``name`` is the stable wire name."""

    name: ClassVar[str] = "Event"
    at: datetime

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return {"event": self.name, **data}


Handler = Callable[[Event], None]


class Transport(Protocol):
    """Carries committed events to other processes (LISTEN/NOTIFY, Redis pub/sub)."""

    def send(self, event: Event) -> None: ...


@dataclass
class EventBus:
    """Subscribers by event name ('*' hears everything); handlers must not raise."""

    _handlers: dict[str, list[Handler]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    transports: list[Transport] = field(default_factory=list)

    def subscribe(self, name: str, handler: Handler) -> Callable[[], None]:
        """Register ``handler``; returns a function that unsubscribes it."""
        with self._lock:
            self._handlers[name].append(handler)

        def _unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers[name]:
                    self._handlers[name].remove(handler)

        return _unsubscribe

    def deliver(self, event: Event) -> None:
        """Hand a committed event to local subscribers, then to the transports."""
        with self._lock:
            handlers = [*self._handlers.get(event.name, ()), *self._handlers.get("*", ())]
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # a subscriber's bug must not undo a committed case
                log.exception("event handler failed for %s", event.name)
        for transport in self.transports:
            try:
                transport.send(event)
            except Exception:
                log.exception("event transport failed for %s", event.name)


#: The process's bus. Tests may subscribe to it and must unsubscribe.
bus = EventBus()


def publish(session: Session, event: Event) -> None:
    """Queue ``event`` on the session; it is delivered when the session's transaction commits.

    An event published inside a savepoint that is rolled back is dropped with the savepoint.
    """
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((txn, event))


def pending(session: Session) -> list[Event]:
    """Events queued on ``session`` and not yet delivered (for tests and diagnostics)."""
    return [ev for _txn, ev in session.info.get(_PENDING, ())]


def _within(txn: Any, ancestor: Any) -> bool:
    while txn is not None:
        if txn is ancestor:
            return True
        txn = txn.parent
    return False


@sa_event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls this on a savepoint's release too; only the real commit counts
    queued = session.info.pop(_PENDING, [])
    for _txn, ev in queued:
        bus.deliver(ev)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    queued = session.info.get(_PENDING)
    if queued:
        kept = [(t, ev) for t, ev in queued if not _within(t, previous_transaction)]
        session.info[_PENDING] = kept
