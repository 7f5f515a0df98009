"""Live news for a console page: bus events handed to the page's own event loop, in batches.

The EventBus calls its subscribers in the thread that committed (a request's worker thread, the
position writer, the sweeper), where no NiceGUI element may be touched. ``follow`` subscribes a
page to some events and queues what it hears; the first event of a burst wakes the page's loop
(``call_soon_threadsafe``, no polling timer and so no timer's delay), which hands *every* event
queued by then to the page's handler in one call. A page therefore redraws once per burst,
however many events the burst held, and a slow page coalesces instead of falling behind.

Usage, inside a page function (``build(ctx)``)::

    def news(events: list[Event]) -> None:  # on the page's loop, in the page's client context
        ...

    live.follow(["CaseReported", "CaseClosed"], news)

The subscription is ``remote=True`` (a watcher: it hears every process's committed news) and
ends when the browser tab's client is deleted. A ``BusResumed`` event (a transport reconnected,
news may have been missed) is always delivered, so a page can reload what it shows.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from urbanops.kit.events import BusResumed, Event, EventBus, bus

log = logging.getLogger(__name__)

NewsHandler = Callable[[list[Event]], Awaitable[None] | None]
#: Events held for a page that does not keep up; the oldest go first past this.
QUEUE_MAX = 10_000


class LiveFeed:
    """One page's subscription: a thread-safe queue drained on the page's event loop."""

    def __init__(
        self,
        names: Iterable[str],
        handler: NewsHandler,
        *,
        client: Any,
        loop: asyncio.AbstractEventLoop,
        event_bus: EventBus = bus,
    ) -> None:
        self.handler, self.client, self.loop = handler, client, loop
        self._queue: deque[Event] = deque(maxlen=QUEUE_MAX)
        self._lock = threading.Lock()
        self._scheduled = False
        self._closed = False
        wanted = dict.fromkeys([*names, BusResumed.name])
        self._unsubscribe = [event_bus.subscribe(n, self.hear, remote=True) for n in wanted]

    @property
    def closed(self) -> bool:
        return self._closed

    def hear(self, event: Event) -> None:
        """Any thread: queue ``event`` and wake the page's loop if it is not woken already."""
        if self._closed:
            return
        with self._lock:
            self._queue.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop has closed: the server is stopping
            self.close()

    def _drain(self) -> None:
        """On the page's loop: hand everything queued so far to the handler, in one call."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
            self._scheduled = False
        if self._closed or not events:
            return
        if getattr(self.client, "is_deleted", False):
            self.close()
            return
        try:
            with self.client:
                result = self.handler(events)
                if inspect.isawaitable(result):
                    self.loop.create_task(_guarded(result))
        except Exception:  # a page's bug must not stop the news for the others
            log.exception("a console page failed to show %d events", len(events))

    def close(self) -> None:
        """Stop hearing news (idempotent)."""
        self._closed = True
        for off in self._unsubscribe:
            off()
        self._unsubscribe = []
        with self._lock:
            self._queue.clear()


async def _guarded(result: Awaitable[None]) -> None:
    try:
        await result
    except Exception:
        log.exception("a console page failed to show its news")


def follow(names: Iterable[str], handler: NewsHandler) -> LiveFeed:
    """Deliver the events ``names`` to ``handler`` on the current page, batched, until it closes.

    Call it while building a page (it takes the page's client and running loop).
    """
    from nicegui import ui

    client = ui.context.client
    feed = LiveFeed(names, handler, client=client, loop=asyncio.get_running_loop())
    client.on_delete(feed.close)
    return feed
