"""PostgreSQL restarted while reports stream in: 503 with Retry-After meanwhile, then recovery.

A real ``urbanops serve`` process runs on a private PostgreSQL cluster (never the shared server,
which the rest of the run uses). Four clients report without pause, each report with its own
idempotency key, and retry a key that was answered 503 as a real client would. PostgreSQL is
stopped mid-stream (``fast``: every session ended; ``immediate``: a crash, recovered from the WAL
on start), and started again. Meanwhile every answer must be 503 ``database_unavailable`` with
``Retry-After``, never a 500 and never a dropped connection; afterwards the same process must take
reports again, and every report it acknowledged (201/200) must be in the database, on its case.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.cases.test_crash_safety import _body, _integration_key, _points
from tests.reliability.pg_cluster import PrivateCluster, binaries
from tests.support.server import REQUIRE_PG, ServerProcess
from urbanops import migrations
from urbanops.cases.models import CaseReport
from urbanops.demo.street import seed_demo_street
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

pytestmark = [pytest.mark.slow]

THREADS = 4
BEFORE = 20  # reports acknowledged before PostgreSQL goes down ...
REFUSED = 8  # ... 503 answers seen while it is down ...
AFTER = 20  # ... and reports acknowledged after it is back
PHASE_DEADLINE_S = 30.0
RETRY_PAUSE_S = 0.05  # a test client does not wait the whole Retry-After


@dataclass
class Stream:
    """What the reporting clients saw."""

    acked: dict[str, int] = field(default_factory=dict)
    refused: int = 0  # 503 answers
    retry_after: set[str] = field(default_factory=set)  # the Retry-After values they carried
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.acked), self.refused


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    bindir = binaries()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
        if REQUIRE_PG:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = PrivateCluster(bindir).init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def database_url(cluster: PrivateCluster) -> str:
    """The cluster's database, migrated and seeded once for the module (the stop modes differ in
    their idempotency keys)."""
    url = cluster.create_database("urbanops")
    engine = make_engine(url)
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session)
    engine.dispose()
    return url


def _report(base_url: str, api_key: str, prefix: str, thread: int, stream: Stream) -> None:
    """Report one key after another; a key answered 503 is sent again until it is stored."""
    points = _points()
    offset = thread * (len(points) // THREADS)
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=15.0) as client:
        for n in itertools.count():
            key = f"{prefix}-t{thread}-{n}"
            while True:
                if stream.stop.is_set():
                    return
                try:
                    answer = client.post("/api/cases", json=_body(key, offset + n, points))
                except httpx.TransportError as exc:
                    with stream.lock:
                        stream.unexpected.append(f"{key}: connection lost: {exc!r}")
                    return
                if answer.status_code in (200, 201):
                    with stream.lock:
                        stream.acked[key] = int(answer.json()["id"])
                    break
                if answer.status_code == 503 and _is_database_unavailable(answer):
                    with stream.lock:
                        stream.refused += 1
                        stream.retry_after.add(answer.headers.get("retry-after", ""))
                    time.sleep(RETRY_PAUSE_S)
                    continue
                with stream.lock:
                    stream.unexpected.append(f"{key}: {answer.status_code} {answer.text[:300]}")
                return


def _is_database_unavailable(answer: httpx.Response) -> bool:
    return (
        answer.headers.get("content-type", "").startswith("application/problem+json")
        and answer.json().get("code") == "database_unavailable"
    )


def _wait_for(stream: Stream, what: str, done: Callable[[int, int], bool]) -> None:
    """Wait until ``done(acked, refused)`` holds; fail on anything unexpected or the deadline."""
    deadline = time.monotonic() + PHASE_DEADLINE_S
    while time.monotonic() < deadline:
        assert not stream.unexpected, f"while {what}: {stream.unexpected[:3]}"
        if done(*stream.counts()):
            return
        time.sleep(0.05)
    raise AssertionError(f"while {what}: not done in {PHASE_DEADLINE_S} s {stream.counts()}")


def _stored(url: str, prefix: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.execute(
                select(CaseReport.idempotency_key, CaseReport.case_id).where(
                    CaseReport.idempotency_key.like(f"{prefix}-%")
                )
            ).all()
    finally:
        engine.dispose()
    return {str(key): int(case_id) for key, case_id in rows}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restart_answers_503_meanwhile_and_keeps_every_acknowledged_report(
    cluster: PrivateCluster, database_url: str, mode: str, tmp_path: Path
) -> None:
    url, prefix = database_url, f"restart-{mode}"
    api_key = _integration_key(url)
    server = ServerProcess(
        database_url=url,
        workdir=tmp_path / "server",
        env={"URBANOPS_SWEEPER_INTERVAL_S": "0"},
    ).start()
    stream = Stream()
    threads = [
        threading.Thread(
            target=_report, args=(server.base_url, api_key, prefix, t, stream), daemon=True
        )
        for t in range(THREADS)
    ]
    try:
        for thread in threads:
            thread.start()
        _wait_for(stream, "streaming", lambda acked, _: acked >= BEFORE)

        cluster.stop(mode)
        acked_when_stopped = stream.counts()[0]
        _wait_for(stream, "PostgreSQL is down", lambda _, refused: refused >= REFUSED)
        health = httpx.get(f"{server.base_url}/health", timeout=10.0)
        assert health.status_code == 503, health.text
        assert health.headers["retry-after"].isdigit()

        cluster.start()
        _wait_for(
            stream,
            "PostgreSQL is back",
            lambda acked, _: acked >= max(acked_when_stopped, BEFORE) + AFTER,
        )
        assert httpx.get(f"{server.base_url}/health", timeout=10.0).status_code == 200
    finally:
        stream.stop.set()
        for thread in threads:
            thread.join(timeout=20)
        server.stop()
    assert not any(t.is_alive() for t in threads), "a reporting client hung"
    assert not stream.unexpected, f"answers other than 2xx or 503: {stream.unexpected[:3]}"
    assert stream.retry_after and all(v.isdigit() for v in stream.retry_after), stream.retry_after

    stored = _stored(url, prefix)
    missing = sorted(set(stream.acked) - set(stored))
    assert not missing, f"{len(missing)} of {len(stream.acked)} acknowledged reports lost"
    moved = {k: (v, stored[k]) for k, v in stream.acked.items() if stored[k] != v}
    assert not moved, f"acknowledged reports now on other cases: {list(moved.items())[:5]}"
    print(
        f"{mode}: {len(stream.acked)} reports acknowledged, {stream.refused} answers 503 "
        f"(Retry-After {sorted(stream.retry_after)}), none lost"
    )
