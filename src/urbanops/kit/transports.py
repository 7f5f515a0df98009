"""Transports of the EventBus across processes: PostgreSQL LISTEN/NOTIFY and Redis pub/sub.

Every process on one database sends the events it committed to a channel and hears the others'.
Both transports share the machinery of ``RelayTransport``:

- ``send`` only queues: the committing request never waits on the network. A sender thread takes
  what is queued and sends it in one round trip (one transaction of ``pg_notify`` calls, one
  Redis pipeline). A process that dies between its commit and the send loses that news (the
  database still has the facts; a watcher reloads on ``BusResumed`` or on reconnecting).
- A message is ``origin|seq|part|parts|json``: the origin is the bus's id, so a process drops
  its own echoes; PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more, so a bigger event
  (``PositionsMoved`` of a thousand officers) is cut into parts, all sent in one transaction
  (they arrive together, in order, or not at all) and joined again by the listener.
- A listener thread with a connection of its own hands rebuilt events to
  ``EventBus.deliver_remote`` (remote subscribers only). It reconnects after a lost connection
  (with a growing pause, at most ``MAX_BACKOFF_S``) and then tells the watchers ``BusResumed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from urbanops.kit.clock import Clock, SystemClock
from urbanops.kit.events import (
    BusResumed,
    Event,
    EventBus,
    UnknownEvent,
    event_from_payload,
)

log = logging.getLogger(__name__)

#: PostgreSQL's NOTIFY payload must be shorter than 8,000 bytes; a part's text stays below this.
NOTIFY_PART_BYTES = 7_800
QUEUE_MAX = 10_000  # events waiting to be sent; beyond it the oldest news is dropped
BATCH_MAX = 500  # events sent in one round trip
PARTIAL_TTL_S = 30.0  # a message missing parts this long is given up
MAX_BACKOFF_S = 5.0
PING_EVERY_S = 10.0  # a silent listener connection is checked this often


def channel_for(database_url: str) -> str:
    """The channel of one database: every process on it meets there, and only those (a Redis
    shared by two districts keeps them apart). Passwords do not enter the name."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    identity = f"{url.host}:{url.port}/{url.database}"
    return "urbanops_events_" + hashlib.sha1(identity.encode()).hexdigest()[:12]


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot send a {type(value).__name__} in an event")


def encode(event: Event) -> bytes:
    """The event's wire form as JSON (orjson writes datetimes, enums and numpy values)."""
    return orjson.dumps(
        event.payload(),
        default=_default,
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )


def split_parts(body: bytes, limit: int | None) -> list[str]:
    """``body`` in texts of at most ``limit`` bytes, never cutting a UTF-8 character."""
    if limit is None or len(body) <= limit:
        return [body.decode()]
    parts, start = [], 0
    while start < len(body):
        end = min(start + limit, len(body))
        while end < len(body) and (body[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        parts.append(body[start:end].decode())
        start = end
    return parts


class RelayTransport:
    """The queue, the sender thread, the framing and the listener thread of a transport.

    Subclasses provide the connection work: ``_send_batch`` (send texts in one go, raising on a
    lost connection) and ``_listen`` (hand received texts to ``on_text`` until ``stop`` is set,
    calling ``ready`` once listening; raise on a lost connection).
    """

    kind = "relay"
    part_bytes: int | None = None

    def __init__(self, *, channel: str, clock: Clock | None = None) -> None:
        self.channel = channel
        self.clock = clock or SystemClock()
        self.bus: EventBus | None = None
        self.origin = ""
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=QUEUE_MAX)
        self._seq = itertools.count(1)
        self._partial: dict[tuple[str, str], tuple[float, list[str | None]]] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections = 0

    # life

    def start(self, bus: EventBus, *, wait_s: float = 5.0) -> None:
        """Join ``bus``: send what it commits, deliver what others commit. Waits up to ``wait_s``
        for the listener to listen (a database down now is retried in the background)."""
        self.bus, self.origin = bus, bus.origin
        self._stop.clear()
        self._ready.clear()
        self._connections = 0
        self._threads = [
            threading.Thread(target=self._send_loop, name=f"bus-{self.kind}-send", daemon=True),
            threading.Thread(target=self._listen_loop, name=f"bus-{self.kind}-listen", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        bus.transports.append(self)
        if not self._ready.wait(wait_s):
            log.warning("event bus over %s: not listening yet; retrying", self.kind)

    def stop(self, timeout: float = 5.0) -> None:
        """Leave the bus: send what is queued, stop listening, close the connections."""
        if self.bus is not None and self in self.bus.transports:
            self.bus.transports.remove(self)
        self._enqueue(None)  # wakes the sender, which sends what precedes it, then ends
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self._close()

    @property
    def listening(self) -> bool:
        return self._ready.is_set()

    # sending

    def send(self, event: Event) -> None:
        """Queue ``event`` for the sender thread (called on the committing thread: never waits)."""
        self._enqueue(event)

    def _enqueue(self, item: Event | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.dropped += 1
                    log.warning("event bus over %s: send queue full, news dropped", self.kind)

    def frames(self, event: Event) -> list[str]:
        """The texts that carry ``event``: one, or its parts when it is too big for one."""
        body = encode(event)
        parts = split_parts(body, self.part_bytes)
        seq, count = next(self._seq), len(parts)
        return [f"{self.origin}|{seq}|{i}|{count}|{part}" for i, part in enumerate(parts)]

    def _send_loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events = [e for e in batch if e is not None]
            if events:
                self._send(events)
            if None in batch:
                return

    def _send(self, events: list[Event]) -> None:
        texts: list[str] = []
        for event in events:
            try:
                texts.extend(self.frames(event))
            except Exception:
                log.exception("event %s cannot be sent", event.name)
        for attempt in (1, 2):  # a connection lost since the last send is made again once
            try:
                self._send_batch(texts)
                self.sent += len(events)
                return
            except Exception as exc:
                self._close_sender()
                if attempt == 2:
                    self.dropped += len(events)
                    log.error(
                        "event bus over %s: %d events not sent: %s", self.kind, len(events), exc
                    )

    # receiving

    def _listen_loop(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen(self._on_text, self._on_ready, self._stop)
                backoff = 0.1
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("event bus over %s: connection lost (%s); reconnecting", self.kind, exc)
                self._ready.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _on_ready(self) -> None:
        self._connections += 1
        self._ready.set()
        if self._connections > 1 and self.bus is not None:
            self.bus.deliver_remote(BusResumed(at=self.clock.now(), transport=self.kind))

    def _on_text(self, text: str) -> None:
        try:
            origin, seq, part, count, body = text.split("|", 4)
            index, total = int(part), int(count)
        except ValueError:
            log.warning("event bus over %s: a message of another shape was ignored", self.kind)
            return
        if origin == self.origin:
            return  # our own echo: this process delivered it at its commit
        if total > 1:
            joined = self._join(origin, seq, index, total, body)
            if joined is None:
                return
            body = joined
        self._deliver(body)

    def _join(self, origin: str, seq: str, index: int, total: int, body: str) -> str | None:
        now = time.monotonic()
        for key in [k for k, (t, _) in self._partial.items() if now - t > PARTIAL_TTL_S]:
            del self._partial[key]
            log.warning("event bus over %s: an event missing parts was given up", self.kind)
        _started, parts = self._partial.setdefault((origin, seq), (now, [None] * total))
        if index >= len(parts):
            return None
        parts[index] = body
        if any(p is None for p in parts):
            return None
        del self._partial[(origin, seq)]
        return "".join(p or "" for p in parts)

    def _deliver(self, body: str) -> None:
        try:
            event = event_from_payload(orjson.loads(body))
        except UnknownEvent as exc:
            log.info("event bus over %s: %s", self.kind, exc)
            return
        except Exception:
            log.exception("event bus over %s: a message could not be read", self.kind)
            return
        self.received += 1
        if self.bus is not None:
            self.bus.deliver_remote(event)

    # connection work of each transport

    def _send_batch(self, texts: list[str]) -> None:
        raise NotImplementedError

    def _close_sender(self) -> None:
        """Forget the sender's connection (it is made again on the next send)."""

    def _listen(
        self, on_text: Callable[[str], None], ready: Callable[[], None], stop: threading.Event
    ) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        self._close_sender()


class PostgresTransport(RelayTransport):
    """LISTEN/NOTIFY on the application's own PostgreSQL database (no new component).

    Two connections of its own, outside the request pool: one notifies, one listens. NOTIFY is
    transactional and delivered in commit order to every listener of the database; at commit
    PostgreSQL takes one lock for the notification queue, so very busy districts move the bus
    to Redis (docs/deploy.md).
    """

    kind = "postgres"
    part_bytes = NOTIFY_PART_BYTES

    def __init__(
        self, database_url: str, *, channel: str | None = None, clock: Clock | None = None
    ):
        super().__init__(channel=channel or channel_for(database_url), clock=clock)
        from sqlalchemy.engine import make_url

        url = make_url(database_url).set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self._sender: Any = None
        self._listener: Any = None

    def _connect(self, *, autocommit: bool) -> Any:
        import psycopg

        return psycopg.connect(
            self.conninfo,
            autocommit=autocommit,
            connect_timeout=5,
            application_name=f"urbanops-bus-{self.origin}",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

    def _send_batch(self, texts: list[str]) -> None:
        if self._sender is None or self._sender.closed:
            self._sender = self._connect(autocommit=False)
        with self._sender.transaction(), self._sender.cursor() as cursor:
            cursor.executemany("SELECT pg_notify(%s, %s)", [(self.channel, t) for t in texts])

    def _close_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                sender.close()

    def _listen(
        self, on_text: Callable[[str], None], ready: Callable[[], None], stop: threading.Event
    ) -> None:
        from psycopg import sql

        with self._connect(autocommit=True) as conn:
            self._listener = conn
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            ready()
            quiet_since = time.monotonic()
            while not stop.is_set():
                for notify in conn.notifies(timeout=0.5):
                    on_text(notify.payload)
                    quiet_since = time.monotonic()
                if time.monotonic() - quiet_since > PING_EVERY_S:  # a dead peer shows here
                    conn.execute("SELECT 1")
                    quiet_since = time.monotonic()
        self._listener = None

    def break_listener(self) -> None:
        """Close the listening connection under the listener (tests of the reconnection)."""
        conn = self._listener
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()


class RedisTransport(RelayTransport):
    """Redis pub/sub: for districts where NOTIFY's commit lock contends. No size limit to cut
    around; a message published while a listener is away is lost, as with NOTIFY."""

    kind = "redis"
    part_bytes = None

    def __init__(self, redis_url: str, *, channel: str, clock: Clock | None = None) -> None:
        super().__init__(channel=channel, clock=clock)
        self.redis_url = redis_url
        self._sender: Any = None
        self._pubsub: Any = None

    def _client(self) -> Any:
        import redis

        return redis.Redis.from_url(
            self.redis_url,
            socket_connect_timeout=5,
            socket_timeout=10,
            socket_keepalive=True,
            client_name=f"urbanops-bus-{self.origin}",
        )

    def _send_batch(self, texts: list[str]) -> None:
        if self._sender is None:
            self._sender = self._client()
        pipe = self._sender.pipeline(transaction=False)
        for text in texts:
            pipe.publish(self.channel, text)
        pipe.execute()

    def _close_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                sender.close()

    def _listen(
        self, on_text: Callable[[str], None], ready: Callable[[], None], stop: threading.Event
    ) -> None:
        client = self._client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub = pubsub
        try:
            pubsub.subscribe(self.channel)
            ready()
            quiet_since = time.monotonic()
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None and message.get("type") == "message":
                    data = message["data"]
                    on_text(data.decode() if isinstance(data, bytes) else str(data))
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > PING_EVERY_S:
                    pubsub.ping()
                    quiet_since = time.monotonic()
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                pubsub.close()
            with contextlib.suppress(Exception):
                client.close()


def transport_for(settings: Any, clock: Clock | None = None) -> RelayTransport | None:
    """The transport ``settings.event_bus`` names, or None for the in-process bus."""
    if settings.event_bus == "local":
        return None
    if settings.event_bus == "postgres":
        if settings.is_sqlite:
            raise ValueError(
                "URBANOPS_EVENT_BUS=postgres needs URBANOPS_DATABASE_URL on PostgreSQL"
            )
        return PostgresTransport(settings.database_url, clock=clock)
    if settings.event_bus == "redis":
        return RedisTransport(
            settings.redis_url, channel=channel_for(settings.database_url), clock=clock
        )
    raise ValueError(f"unknown event bus {settings.event_bus!r}")
