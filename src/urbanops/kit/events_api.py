"""``GET /api/events``: the EventBus as server-sent events (text/event-stream).

A console of another process, the officer's page or an outside dashboard hears the committed
news of every process of the district: the stream subscribes with ``remote=True``. Each event
is one SSE message, ``event: <name>`` and ``data: <payload() as JSON>``; a comment line every
``KEEPALIVE_S`` keeps proxies from closing a quiet stream. Nothing is replayed: a client that
(re)connects, or hears ``BusResumed``, reloads what it shows from the REST API.

Who hears what: command-centre staff hear everything; a squad leader does not hear news that
names a grid outside his own; a grid officer hears only news addressed to him (his user, his
officer record). A client that reads too slowly to keep up gets ``event: overflow`` and the
stream ends (it reconnects and reloads) rather than the process holding news without bound.

The stream holds no database connection while it lasts, and no place under ``RequestLimit``
(``RequestLimit``'s ``exempt``): a hundred consoles must not starve the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import text

from urbanops.auth.deps import require
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import InvalidInput
from urbanops.kit.events import Event, bus, event_class
from urbanops.kit.transports import encode
from urbanops.kit.web import SessionDep

EVENTS_PATH = "/api/events"
KEEPALIVE_S = 15.0
QUEUE_MAX = 1_000  # events waiting for one slow client before it is cut off
RETRY_MS = 3_000  # how long an EventSource waits before reconnecting
STAFF_ROLES = (
    Role.OPERATOR,
    Role.SHIFT_LEADER,
    Role.DISPATCHER,
    Role.LEADER,
    Role.SQUAD_LEADER,
    Role.LEGAL_REVIEWER,
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

Listener = Annotated[Actor, Depends(require(*STAFF_ROLES, Role.GRID_OFFICER))]
Visible = Callable[[Event], bool]

router = APIRouter(tags=["events"])


def _names(raw: str | None) -> frozenset[str] | None:
    """The ``names`` filter: comma-separated event names this process knows, or None for all."""
    if raw is None or not raw.strip():
        return None
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    bad = sorted(n for n in names if not _NAME.match(n) or event_class(n) is None)
    if bad:
        raise InvalidInput(
            "Unknown event names: " + ", ".join(bad[:20]),
            code="unknown_event_name",
            names=bad[:20],
        )
    return names


def _audience(session: SessionDep, viewer: Listener) -> Visible:
    """What ``viewer`` may hear, decided once when the stream opens."""
    if Role.ADMIN in viewer.roles or viewer.has(*STAFF_ROLES):
        scope = viewer.grid_scope
        if scope is None:
            return lambda _event: True
        return lambda event: getattr(event, "grid_code", None) in (None, *scope)
    # A grid officer: news naming his user, or his officer record (looked up by the table's
    # name, so that kit does not import workforce; the record links to the user one to one).
    officer_id = session.scalar(
        text("SELECT id FROM officer WHERE user_id = :user_id"), {"user_id": viewer.id}
    )

    def addressed(event: Event) -> bool:
        if event.name == "BusResumed":
            return True
        if viewer.id in (getattr(event, "user_id", None), getattr(event, "to_user_id", None)):
            return True
        officer = getattr(event, "officer_id", None)
        if officer is None:
            return False
        # Case events name the officer by his user id (``Case.officer_id``); the field-force
        # and alert events carry a ``user_id`` beside the officer record's id.
        return officer == (officer_id if hasattr(event, "user_id") else viewer.id)

    return addressed


Audience = Annotated[Visible, Depends(_audience, scope="function")]


@router.get(
    EVENTS_PATH,
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream"}},
)
async def stream_events(
    request: Request,
    visible: Audience,
    names: Annotated[
        str | None,
        Query(max_length=2_000, description="Comma-separated event names; all when left out"),
    ] = None,
) -> StreamingResponse:
    """Committed news of every process, as server-sent events (staff roles and grid officers)."""
    wanted = _names(names)
    return StreamingResponse(
        _stream(wanted, visible),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _Inbox:
    """Events handed over from the bus's threads to the stream's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.overflowed = False

    def offer(self, event: Event) -> None:
        """Called on whichever thread delivered the event."""
        with contextlib.suppress(RuntimeError):  # the loop closed: the stream is gone
            self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event) -> None:
        if self.queue.qsize() >= QUEUE_MAX:
            self.overflowed = True
            self.queue.put_nowait(event)  # wakes the stream, which ends it
        elif not self.overflowed:
            self.queue.put_nowait(event)


def _message(event: Event) -> bytes:
    return b"event: " + event.name.encode() + b"\ndata: " + encode(event) + b"\n\n"


async def _stream(wanted: frozenset[str] | None, visible: Visible) -> AsyncIterator[bytes]:
    inbox = _Inbox(asyncio.get_running_loop())

    def hear(event: Event) -> None:
        if visible(event):
            inbox.offer(event)

    stops = [bus.subscribe(name, hear, remote=True) for name in (wanted or ("*",))]
    try:
        # subscribed before the first byte: a client that has read it misses nothing after
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        while True:
            try:
                event = await asyncio.wait_for(inbox.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if inbox.overflowed:
                yield b"event: overflow\ndata: {}\n\n"
                return
            yield _message(event)
    finally:
        for stop in stops:
            stop()
