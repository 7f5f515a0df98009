"""The EventBus: modules hear each other's news without importing each other's services.

Services call ``publish(session, event)``; the event is held on the session and delivered to
subscribers only after the transaction commits (never for a rollback), so a subscriber never
sees news of something that did not happen. The in-process bus is the default; other
backends (PostgreSQL LISTEN/NOTIFY, Redis pub/sub: ``urbanops.kit.transports``) implement
``Transport`` to fan out across processes.

Two kinds of subscriber, on purpose. A *work* subscriber (auto-dispatch on ``CaseReported``, an
alert stored on ``DeadlineMissed``) changes the database; it must run once, in the process that
committed, or two processes would dispatch the same case twice. A *watching* subscriber (a
console's map, the ``/api/events`` stream) only shows news; it asks for ``remote=True`` and then
hears the committed news of every process. Events cross as JSON and are rebuilt as the same
class by their ``name`` (``event_from_payload``); a process ignores its own echoes.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import threading
import types
import typing
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a concrete event; abstract bases (CaseEvent) have none
            _REGISTRY[cls.name] = cls

    def payload(self) -> dict[str, Any]:
        """The wire form: ``{"event": name, "at": ISO time, ...fields}`` (JSON-ready but for
        nested datetimes, which orjson writes as ISO text too)."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return {"event": self.name, **data}


_REGISTRY: dict[str, type[Event]] = {}


class UnknownEvent(ValueError):
    """A payload names no event class of this process (another version sent it)."""


def event_class(name: str) -> type[Event] | None:
    """The event class registered under the wire ``name``, if this process defines one."""
    return _REGISTRY.get(name)


def event_from_payload(data: dict[str, Any]) -> Event:
    """Rebuild the event of ``payload()``: the same class, datetimes and nested events revived.

    Unknown fields are ignored (a newer process may send more); a missing one raises TypeError.
    """
    name = data.get("event")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnknownEvent(f"no event class named {name!r}")
    return typing.cast(Event, _revive_dataclass(cls, data))


def _hints(cls: type) -> dict[str, Any]:
    """Field types of a dataclass, resolved; a class whose hints cannot be resolved (one defined
    inside a function with postponed annotations) falls back to the annotation text."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _revive_dataclass(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    kwargs = {
        f.name: _revive(hints.get(f.name), data[f.name])
        for f in dataclasses.fields(cls)
        if f.init and f.name in data
    }
    return cls(**kwargs)


def _revive(hint: Any, value: Any) -> Any:
    """``value`` read from JSON, turned back into the type ``hint`` names where JSON lost it."""
    if value is None or hint is None or hint is Any:
        return value
    if isinstance(hint, str):  # unresolved annotation text: only datetimes are worth a guess
        if hint.startswith("datetime") and isinstance(value, str):
            return datetime.fromisoformat(value)
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            revived = _revive(arg, value) if arg is not type(None) else value
            if revived is not value:  # the first member that turns the JSON back into a type
                return revived
        return value
    if origin in (tuple, list, set, frozenset) and isinstance(value, list):
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_revive(a, v) for a, v in zip(args, value, strict=False))
        item = args[0] if args else None
        return origin(_revive(item, v) for v in value)
    if origin is dict and isinstance(value, dict):
        key_type, value_type = (typing.get_args(hint) or (None, None))[:2]
        as_key = key_type if key_type in (int, float) else None  # JSON keys are always text
        return {(as_key(k) if as_key else k): _revive(value_type, v) for k, v in value.items()}
    if not isinstance(hint, type):
        return value
    if hint is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if hint is date and isinstance(value, str):
        return date.fromisoformat(value)
    if issubclass(hint, enum.Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _revive_dataclass(hint, value)
    return value


Handler = Callable[[Event], None]


class Transport(Protocol):
    """Carries committed events to other processes (LISTEN/NOTIFY, Redis pub/sub)."""

    def send(self, event: Event) -> None: ...


def new_origin() -> str:
    """A process's id on the wire: its own echoes carry it and are ignored."""
    return f"{os.getpid():x}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, kw_only=True)
class BusResumed(Event):
    """A transport got its connection back after losing it: news of other processes sent in
    between was missed, so a watcher should reload what it shows. Delivered to remote
    subscribers only, in the process whose transport reconnected."""

    name = "BusResumed"
    transport: str


@dataclass(frozen=True)
class _Subscription:
    handler: Handler
    remote: bool


@dataclass
class EventBus:
    """Subscribers by event name ('*' hears everything); handlers must not raise.

    ``origin`` names this bus on the wire (one per process; a test may build two buses to play
    two processes).
    """

    _handlers: dict[str, list[_Subscription]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    transports: list[Transport] = field(default_factory=list)
    origin: str = field(default_factory=new_origin)

    def subscribe(self, name: str, handler: Handler, *, remote: bool = False) -> Callable[[], None]:
        """Register ``handler``; returns a function that unsubscribes it.

        ``remote=True``: also hear the news other processes committed (watchers only: a handler
        that changes the database must stay local, or every process would do the work).
        """
        subscription = _Subscription(handler, remote)
        with self._lock:
            self._handlers[name].append(subscription)

        def _unsubscribe() -> None:
            with self._lock:
                if subscription in self._handlers[name]:
                    self._handlers[name].remove(subscription)

        return _unsubscribe

    def _subscribers(self, name: str, *, remote_only: bool) -> list[Handler]:
        with self._lock:
            subs = [*self._handlers.get(name, ()), *self._handlers.get("*", ())]
        return [s.handler for s in subs if s.remote or not remote_only]

    def _call(self, handlers: list[Handler], event: Event) -> None:
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # a subscriber's bug must not undo a committed case
                log.exception("event handler failed for %s", event.name)

    def deliver(self, event: Event) -> None:
        """Hand an event committed in this process to its subscribers, then to the transports."""
        self._call(self._subscribers(event.name, remote_only=False), event)
        for transport in self.transports:
            try:
                transport.send(event)
            except Exception:
                log.exception("event transport failed for %s", event.name)

    def deliver_remote(self, event: Event) -> None:
        """Hand an event another process committed to the subscribers that asked for remote news
        (never to the work subscribers: the committing process ran those)."""
        self._call(self._subscribers(event.name, remote_only=True), event)


#: The process's bus. Tests may subscribe to it and must unsubscribe.
bus = EventBus()


def _renew_origin() -> None:  # a forked worker is another process on the wire
    bus.origin = new_origin()


os.register_at_fork(after_in_child=_renew_origin)


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
