"""The EventBus across processes: events cross PostgreSQL LISTEN/NOTIFY and Redis pub/sub as JSON
and come back as the same class; only watchers hear another process's news; big events cross
NOTIFY's 8,000-byte limit; a lost connection is made again and the watchers are told.

Two ``EventBus`` objects with a transport each play two processes (each has its own origin), on
the real PostgreSQL and Redis, each test on a channel of its own.
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson
import psycopg
import pytest
import redis

from tests.support.server import PG_URL, REQUIRE_PG
from urbanops.config import Settings
from urbanops.kit.events import (
    BusResumed,
    Event,
    EventBus,
    UnknownEvent,
    event_class,
    event_from_payload,
)
from urbanops.kit.transports import (
    NOTIFY_PART_BYTES,
    PostgresTransport,
    RedisTransport,
    RelayTransport,
    channel_for,
    encode,
    split_parts,
    transport_for,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
WAIT_S = 5.0  # the most a test waits for news to arrive (it arrives in milliseconds)


class Mode(enum.StrEnum):
    WALK = "walk"
    RIDE = "ride"


@dataclass(frozen=True, kw_only=True)
class Move:
    officer_id: int
    name: str
    lon: float
    lat: float
    at: datetime
    mode: Mode


@dataclass(frozen=True, kw_only=True)
class Moved(Event):
    """Shaped like the console's PositionsMoved: one event a flush, the latest fix of each."""

    name = "TestMoved"
    moves: tuple[Move, ...]
    by_grid: dict[int, list[int]]
    day: date | None = None


@dataclass(frozen=True, kw_only=True)
class Noted(Event):
    name = "TestNoted"
    text: str


# --- the wire form -------------------------------------------------------------------------------


def _moves(count: int) -> Moved:
    return Moved(
        at=AT,
        moves=tuple(
            Move(
                officer_id=i,
                name=f"网格员{i}号",  # three bytes a character: parts must not cut one
                lon=114.05 + i / 1e5,
                lat=22.6 + i / 1e5,
                at=AT - timedelta(seconds=i),
                mode=Mode.RIDE if i % 2 else Mode.WALK,
            )
            for i in range(count)
        ),
        by_grid={7: [1, 2], 9: []},
        day=date(2026, 11, 26),
    )


def test_an_event_comes_back_from_json_as_the_same_class_with_its_types() -> None:
    event = _moves(3)
    again = event_from_payload(orjson.loads(encode(event)))
    assert again == event
    assert type(again) is Moved
    assert isinstance(again.moves[0], Move) and again.moves[0].mode is Mode.WALK
    assert again.moves[1].at.tzinfo is not None
    assert event_class("TestMoved") is Moved
    assert event_class("CaseReported") is not None  # the domain's events are registered too


def test_unknown_names_and_missing_fields_are_refused() -> None:
    with pytest.raises(UnknownEvent):
        event_from_payload({"event": "NoSuchEvent", "at": AT.isoformat()})
    with pytest.raises(TypeError):
        event_from_payload({"event": "TestNoted", "at": AT.isoformat()})
    newer = {"event": "TestNoted", "at": AT.isoformat(), "text": "x", "added_later": 1}
    assert event_from_payload(newer) == Noted(at=AT, text="x")


def test_parts_stay_under_the_notify_limit_and_never_cut_a_character() -> None:
    body = encode(_moves(1_000))
    assert len(body) > 10 * NOTIFY_PART_BYTES
    parts = split_parts(body, NOTIFY_PART_BYTES)
    assert all(len(p.encode()) <= NOTIFY_PART_BYTES for p in parts)
    assert "".join(parts).encode() == body
    assert split_parts(b'{"a":1}', NOTIFY_PART_BYTES) == ['{"a":1}']


# --- who hears what ---------------------------------------------------------------------


def test_remote_news_goes_only_to_the_watchers() -> None:
    bus = EventBus()
    work: list[Event] = []
    watch: list[Event] = []
    bus.subscribe("TestNoted", work.append)
    bus.subscribe("*", watch.append, remote=True)
    local, remote = Noted(at=AT, text="here"), Noted(at=AT, text="there")
    bus.deliver(local)
    bus.deliver_remote(remote)
    assert work == [local]  # the work subscriber runs for this process's commits only
    assert watch == [local, remote]


def test_settings_choose_the_transport() -> None:
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/district"
    assert transport_for(Settings(database_url=pg)) is None
    assert isinstance(
        transport_for(Settings(database_url=pg, event_bus="postgres")), PostgresTransport
    )
    relay = transport_for(Settings(database_url=pg, event_bus="redis", redis_url=REDIS_URL))
    assert isinstance(relay, RedisTransport) and relay.channel == channel_for(pg)
    with pytest.raises(ValueError, match="PostgreSQL"):
        transport_for(Settings(database_url="sqlite:///x.db", event_bus="postgres"))
    with pytest.raises(ValueError):
        Settings(event_bus="kafka")  # type: ignore[arg-type]
    # one channel a database, whatever the password
    assert channel_for(pg) == channel_for(pg.replace("postgres@", "postgres:secret@"))
    assert channel_for(pg) != channel_for(pg.replace("district", "other"))


# --- across real transports ---------------------------------------------------------------


class Ear:
    """What one bus's subscribers heard, with a wait for the next arrival."""

    def __init__(self) -> None:
        self.heard: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.heard.append(event)
            self._cond.notify_all()

    def wait_for(self, test: Callable[[list[Event]], bool], timeout: float = WAIT_S) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: test(self.heard), timeout)


def _pg_reachable() -> str:
    url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    return url


def _make_postgres(channel: str) -> RelayTransport:
    _pg_reachable()
    return PostgresTransport(PG_URL, channel=channel)


def _make_redis(channel: str) -> RelayTransport:
    redis.Redis.from_url(REDIS_URL).ping()  # Redis runs on the machine; a failure fails
    return RedisTransport(REDIS_URL, channel=channel)


@pytest.fixture(params=["postgres", "redis"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[EventBus, EventBus]]:
    """Two buses ("processes" A and B) joined by the transport of the parameter."""
    make = _make_postgres if request.param == "postgres" else _make_redis
    channel = f"urbanops_test_{uuid.uuid4().hex[:10]}"
    a, b = EventBus(), EventBus()
    ta, tb = make(channel), make(channel)
    ta.start(a)
    tb.start(b)
    assert ta.listening and tb.listening
    yield a, b
    ta.stop()
    tb.stop()


def _transport(bus: EventBus) -> RelayTransport:
    transport = bus.transports[0]
    assert isinstance(transport, RelayTransport)
    return transport


def test_news_committed_in_one_process_reaches_the_watchers_of_the_other_once(
    pair: tuple[EventBus, EventBus],
) -> None:
    a, b = pair
    a_work, a_watch, b_work, b_watch = Ear(), Ear(), Ear(), Ear()
    a.subscribe("TestNoted", a_work)
    a.subscribe("TestNoted", a_watch, remote=True)
    b.subscribe("TestNoted", b_work)
    b.subscribe("*", b_watch, remote=True)

    first, second = Noted(at=AT, text="一"), Noted(at=AT, text="two")
    a.deliver(first)  # what the after-commit hook does in A
    a.deliver(second)
    assert b_watch.wait_for(lambda h: len(h) >= 2)
    assert b_watch.heard == [first, second]  # in order, as the same class
    # B's work subscriber never runs for A's commit; A hears its own news once, at its commit
    b.deliver(Noted(at=AT, text="from b"))
    assert a_watch.wait_for(lambda h: len(h) == 3)
    assert a_watch.heard == [first, second, Noted(at=AT, text="from b")]
    assert a_work.heard == [first, second]
    assert b_work.heard == [Noted(at=AT, text="from b")]
    assert _transport(a).received == 1 and _transport(b).received == 2


def test_a_position_flush_of_a_thousand_officers_crosses_as_one_event(
    pair: tuple[EventBus, EventBus],
) -> None:
    a, b = pair
    ear = Ear()
    b.subscribe("TestMoved", ear, remote=True)
    big = _moves(1_000)
    assert len(encode(big)) > 8_000
    a.deliver(big)
    a.deliver(Noted(at=AT, text="after"))
    assert ear.wait_for(lambda h: len(h) == 1)
    assert ear.heard == [big]


def test_a_lost_listener_connection_is_made_again_and_the_watchers_are_told(
    pair: tuple[EventBus, EventBus],
) -> None:
    a, b = pair
    ear = Ear()
    b.subscribe("*", ear, remote=True)
    listener = _transport(b)
    _kill_listener(listener)
    assert ear.wait_for(lambda h: any(isinstance(e, BusResumed) for e in h), timeout=10.0)
    assert listener.listening
    after = Noted(at=AT, text="after the break")
    a.deliver(after)
    assert ear.wait_for(lambda h: after in h)


def _kill_listener(transport: RelayTransport) -> None:
    """End the listener's connection from the server's side, as a restart or a network cut would."""
    if isinstance(transport, PostgresTransport):
        with psycopg.connect(_pg_reachable(), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND query LIKE %s",
                (f"urbanops-bus-{transport.origin}", "LISTEN%"),
            ).fetchall()
        assert killed, "the listener's backend was not found"
        return
    admin = redis.Redis.from_url(REDIS_URL)
    clients = [
        c
        for c in admin.client_list(_type="pubsub")
        if c["name"] == f"urbanops-bus-{transport.origin}"
    ]
    assert clients, "the listener's Redis client was not found"
    for client in clients:
        admin.client_kill_filter(_id=client["id"])
    admin.close()


def test_stop_sends_what_is_queued_and_leaves_the_bus(pair: tuple[EventBus, EventBus]) -> None:
    a, b = pair
    ear = Ear()
    b.subscribe("TestNoted", ear, remote=True)
    transport = _transport(a)
    for n in range(50):
        a.deliver(Noted(at=AT, text=str(n)))
    transport.stop()
    assert a.transports == []
    assert ear.wait_for(lambda h: len(h) == 50)
    assert [e.text for e in ear.heard if isinstance(e, Noted)] == [str(n) for n in range(50)]
    assert transport.sent == 50
    a.deliver(Noted(at=AT, text="not sent"))  # no transport any more: it stays in A
    assert transport.sent == 50 and transport._queue.empty()
    transport.start(a)  # the fixture stops it again


def test_the_console_s_positions_moved_of_a_thousand_devices_round_trips_in_parts() -> None:
    from urbanops.workforce.moves import PositionsMoved

    flush = PositionsMoved(
        at=AT,
        device_ids=tuple(range(1, 1_001)),
        user_ids=tuple(None if i % 7 == 0 else i + 100 for i in range(1_000)),
        lons=tuple(114.05 + i / 1e5 for i in range(1_000)),
        lats=tuple(22.6 + i / 1e5 for i in range(1_000)),
        fix_ms=tuple(1_795_000_000_000 + i for i in range(1_000)),
    )
    body = encode(flush)
    assert len(split_parts(body, NOTIFY_PART_BYTES)) > 1
    assert event_from_payload(orjson.loads("".join(split_parts(body, NOTIFY_PART_BYTES)))) == flush
