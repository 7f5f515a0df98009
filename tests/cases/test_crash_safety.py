"""Crash safety of intake: a server SIGKILLed while reports stream in loses none it acknowledged.

A real ``urbanops serve`` process on a scratch database (a SQLite file, a new PostgreSQL database)
takes reports from a few threads, each with its own idempotency key. Every key answered 201 or 200
is written down; the process is killed mid-stream, restarted on the same database, and every
acknowledged key must be there, on the case it was acknowledged with.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.server import ServerProcess, scratch_database
from urbanops import migrations
from urbanops.auth import service as auth
from urbanops.cases.models import CaseReport
from urbanops.demo.geometry import build_guanhu
from urbanops.demo.street import seed_demo_street
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import SystemClock
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

pytestmark = [pytest.mark.slow, pytest.mark.db]

CHANNEL = "hotline_12345"
MATTERS = ("09006", "09005", "06010", "07001")
THREADS = 4
KILL_AFTER_S = 1.5  # stream this long before the SIGKILL ...
MIN_ACKED = 20  # ... and at least this many acknowledged reports
KILL_DEADLINE_S = 12.0
RECHECK_SAMPLE = 20


@dataclass
class Stream:
    """What the reporting threads saw: acknowledged keys and their case ids, and anything odd."""

    acked: dict[str, int] = field(default_factory=dict)
    cut_off: int = 0  # threads that lost the server mid-request
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A scratch database, migrated and seeded with the demo street."""
    with scratch_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            seed_demo_street(session)
        engine.dispose()
        yield url


def _integration_key(url: str) -> str:
    """A fresh integration API key (how a 12345 gateway would report)."""
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        _, key = auth.create_api_key(
            session,
            name="crash-safety stream",
            principal_kind="integration",
            roles=[Role.INTEGRATION],
            by=SYSTEM,
            now=SystemClock().now(),
        )
    engine.dispose()
    return key


@functools.cache
def _points() -> list[tuple[float, float]]:
    """One point inside each unit grid of the demo street."""
    street = build_guanhu()
    return [
        (round(p.x, 6), round(p.y, 6))
        for p in (grid.polygon.representative_point() for grid in street.unit_grids)
    ]


def _body(key: str, n: int, points: list[tuple[float, float]]) -> dict[str, Any]:
    lon, lat = points[n % len(points)]
    return {
        "channel": CHANNEL,
        "matter_code": MATTERS[n % len(MATTERS)],
        "description": f"crash-safety report {key}",
        "lon": lon,
        "lat": lat,
        "idempotency_key": key,
        "complainant_name": "张三",
        "complainant_phone": "13800000000",
        "caller_number": "13800000000",
    }


def _report_until_cut_off(
    base_url: str, api_key: str, thread: int, points: list[tuple[float, float]], stream: Stream
) -> None:
    """Post reports one after another until the server goes away (or the test says stop)."""
    offset = thread * (len(points) // THREADS)
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=10.0) as client:
        for n in itertools.count():
            if stream.stop.is_set():
                return
            key = f"crash-t{thread}-{n}"
            try:
                answer = client.post("/api/cases", json=_body(key, offset + n, points))
            except httpx.TransportError:
                with stream.lock:
                    stream.cut_off += 1
                return  # unanswered: not acknowledged, may or may not be stored
            if answer.status_code not in (200, 201):
                with stream.lock:
                    stream.unexpected.append(f"{key}: {answer.status_code} {answer.text[:300]}")
                return
            with stream.lock:
                stream.acked[key] = int(answer.json()["id"])


def _stream_and_kill(server: ServerProcess, api_key: str) -> Stream:
    """Stream from THREADS threads, SIGKILL the server mid-stream, wait for the threads."""
    points, stream = _points(), Stream()
    threads = [
        threading.Thread(
            target=_report_until_cut_off,
            args=(server.base_url, api_key, t, points, stream),
            daemon=True,
        )
        for t in range(THREADS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while time.monotonic() - started < KILL_DEADLINE_S:
        elapsed = time.monotonic() - started
        if stream.unexpected or (elapsed >= KILL_AFTER_S and stream.count() >= MIN_ACKED):
            break
        time.sleep(0.05)
    status = server.kill()
    assert status == -9, f"the server was not killed by SIGKILL (exit status {status})"
    stream.stop.set()
    for thread in threads:
        thread.join(timeout=15)
        assert not thread.is_alive(), "a reporting thread hung after the kill"
    return stream


def _stored(url: str, keys: set[str]) -> dict[str, int]:
    """Idempotency key → case id of every stored report among ``keys``."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.execute(
                select(CaseReport.idempotency_key, CaseReport.case_id).where(
                    CaseReport.idempotency_key.like("crash-%")
                )
            ).all()
    finally:
        engine.dispose()
    return {str(key): int(case_id) for key, case_id in rows if key in keys}


def test_reports_acknowledged_before_a_sigkill_are_all_there_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    api_key = _integration_key(database_url)
    server = ServerProcess(database_url=database_url, workdir=tmp_path / "server")
    server.start()
    try:
        stream = _stream_and_kill(server, api_key)
        assert not stream.unexpected, f"reports refused while streaming: {stream.unexpected[:3]}"
        assert len(stream.acked) >= MIN_ACKED, f"only {len(stream.acked)} reports acknowledged"
        assert stream.cut_off >= 1, "no request was in flight when the server was killed"

        server.start()  # same database, same port: recovery happens here
        stored = _stored(database_url, set(stream.acked))
        missing = sorted(set(stream.acked) - set(stored))
        assert not missing, (
            f"{len(missing)} of {len(stream.acked)} acknowledged reports lost: {missing[:10]}"
        )
        moved = {
            k: (stream.acked[k], stored[k]) for k in stream.acked if stored[k] != stream.acked[k]
        }
        assert not moved, (
            f"acknowledged reports now on other cases: {dict(list(moved.items())[:5])}"
        )
        _assert_restarted_server_knows_them(server, api_key, stream.acked)
        print(
            f"acknowledged {len(stream.acked)} reports on {len(set(stream.acked.values()))} "
            f"cases before the SIGKILL; {stream.cut_off} requests cut off; none lost"
        )
    finally:
        server.stop()


def _assert_restarted_server_knows_them(
    server: ServerProcess, api_key: str, acked: dict[str, int]
) -> None:
    """Re-sending acknowledged keys to the restarted server answers 200 with the same case."""
    points = _points()
    sample = sorted(acked)[:: max(1, len(acked) // RECHECK_SAMPLE)][:RECHECK_SAMPLE]
    with httpx.Client(base_url=server.base_url, headers={"X-API-Key": api_key}) as client:
        for key in sample:
            thread, n = key.removeprefix("crash-t").split("-")
            offset = int(thread) * (len(points) // THREADS)
            answer = client.post("/api/cases", json=_body(key, offset + int(n), points))
            assert answer.status_code == 200, f"{key}: {answer.status_code} {answer.text[:300]}"
            assert answer.json()["id"] == acked[key]
