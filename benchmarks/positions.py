"""Benchmark: position fixes per second (OsmAnd single fixes, JSON batches of 1,000).

One real uvicorn server process (one worker: ``create_app()`` plus two bare endpoints that read
the request body and answer 200 with nothing else: ``/bench/bare``, a FastAPI route behind the
router like every route, and ``/bench/bare-asgi``, answered before the router like the OsmAnd
fast path) runs on a fresh SQLite file, then on a fresh PostgreSQL database, with 1,000
devices. Load comes from separate client processes (the asyncio HTTP/1.1 reader of
``intake.py``): for single fixes, keep-alive connections each send
``GET /osmand?id=…&lat=…&lon=…&timestamp=…&speed=…`` back to back, every fix distinct and
plausible (devices walk); for batches, fewer connections each ``POST /api/positions/batch``
with 1,000 fixes. Each connection makes its first requests before the start (more as needed),
so the load generator leaves the cores to the server. After a warm-up, 200 answers are counted
over a fixed window (a batch answer counts only when it rejected nothing). The bare endpoints get
the same requests in the same server, just before.

Fixes are acknowledged once buffered; after each phase the script waits until the writer thread
has stored every acknowledged fix and reports that drain time and the stored count (a rate
that the database did not keep up with would show as a long drain). Server CPU per request is
reported for every phase: on a small machine the clients share the cores with the server, and
that figure says what the server itself spends.

`BENCH` lines per database: ``positions.<db>.osmand`` (requests/s against the target of 3,000)
and ``positions.<db>.osmand_vs_bare`` (against ``/bench/bare-asgi`` in the same run);
``positions.<db>.batch`` (fixes/s against the target of 50,000) and
``positions.<db>.batch_vs_bare`` (against ``/bench/bare`` fed the same batches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fastapi import Request, Response  # module level: the bare endpoint's annotations resolve

from _common import emit
from intake import Server, database, machine_busy, read_response, street_points

TARGET_SINGLE = 3000.0  # requests/s
TARGET_BATCH = 50_000.0  # fixes/s
#: Share of the bare endpoint's rate the real one keeps (ours; the issue sets none): taking a
#: buffered fix may cost as much again as the bare HTTP exchange; a batch may cost three times.
TARGET_SHARE_SINGLE = 0.5
TARGET_SHARE_BATCH = 0.25
DEVICES = 1000
BATCH = 1000
BARE_PATH = "/bench/bare"
BARE_ASGI_PATH = "/bench/bare-asgi"
T0 = 1_795_000_000  # epoch seconds, well in the past of any run


def bench_app() -> Any:
    """``create_app()`` plus the bare endpoints: read the body, answer 200."""
    from urbanops.app import create_app

    app = create_app()

    @app.api_route(BARE_PATH, methods=["GET", "POST"], include_in_schema=False)
    async def bare(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    app.add_middleware(BareAsgi)
    return app


class BareAsgi:
    """``/bench/bare-asgi`` answered before the router (where ``OsmandFastPath`` sits)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != BARE_ASGI_PATH:
            await self.app(scope, receive, send)
            return
        more = scope["method"] != "GET"
        while more:
            message = await receive()
            more = message["type"] == "http.request" and message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"0")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})


def prepare(url: str) -> str:
    """Migrate, seed the demo street, add ``DEVICES`` devices; an integration key."""
    from urbanops import migrations
    from urbanops.auth import service as auth
    from urbanops.demo.street import seed_demo_street
    from urbanops.kit.actor import SYSTEM, Role
    from urbanops.kit.clock import SystemClock
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work
    from urbanops.workforce.models import Device, DeviceKind

    engine = make_engine(url)
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session)
        now = SystemClock().now()
        for n in range(DEVICES):
            device = Device(identifier=f"bench{n:05d}", kind=DeviceKind.PHONE, name=f"bench {n}")
            device.stamp_created(SYSTEM.ref, now)
            session.add(device)
        row, key = auth.create_api_key(session, name="positions benchmark",
                                       principal_kind="integration", roles=[Role.INTEGRATION],
                                       by=SYSTEM, now=now)  # fmt: skip
        row.last_used_at = now
    engine.dispose()
    return key


def stored_fixes(url: str) -> int:
    from sqlalchemy import text

    from urbanops.kit.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM position")).scalar() or 0)
    engine.dispose()
    return count


# --- clients ---------------------------------------------------------------------------------


@dataclass
class Job:
    port: int
    path: str
    batch: bool
    api_key: str
    connections: int
    first_device: int
    devices: int
    seq0: int  # timestamps start here: each phase moves on, so no fix repeats an earlier one
    points: list[tuple[float, float]]
    warmup_s: float
    measure_s: float


@dataclass
class Tally:
    in_window: int = 0
    ok_in_window: int = 0  # 200 answers in the window (a batch's only when it rejected nothing)
    ok_total: int = 0  # the same, window or not
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class Walker:
    """Plausible fixes: each device walks ~1 m/s from a street point, one fix a second."""

    def __init__(self, job: Job, conn_no: int) -> None:
        self.rng = random.Random(f"{job.first_device}-{conn_no}")
        per = max(1, job.devices // job.connections)
        self.devices = [job.first_device + conn_no * per + i for i in range(per)]
        self.where = {d: job.points[d % len(job.points)] for d in self.devices}
        self.seq, self.n = job.seq0, 0

    def next(self) -> tuple[str, float, float, int]:
        device = self.devices[self.n % len(self.devices)]
        self.n += 1
        if self.n % len(self.devices) == 0:
            self.seq += 1
        lon, lat = self.where[device]
        lon, lat = lon + self.rng.uniform(-8e-6, 8e-6), lat + self.rng.uniform(-8e-6, 8e-6)
        self.where[device] = (lon, lat)
        return f"bench{device:05d}", round(lon, 7), round(lat, 7), T0 + self.seq


def single_request(job: Job, walker: Walker) -> bytes:
    device, lon, lat, at = walker.next()
    query = f"id={device}&lat={lat}&lon={lon}&timestamp={at}&speed=1.9&accuracy=8&batt=80"
    return f"GET {job.path}?{query} HTTP/1.1\r\nHost: b\r\n\r\n".encode()


def batch_request(job: Job, walker: Walker) -> bytes:
    fixes = []
    for _ in range(BATCH):
        device, lon, lat, at = walker.next()
        fixes.append({"device": device, "at": at, "lat": lat, "lon": lon, "speed_mps": 1.0,
                      "accuracy_m": 8})  # fmt: skip
    body = json.dumps({"fixes": fixes}).encode()
    head = (f"POST {job.path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {job.api_key}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


#: Requests each connection makes before the start (then more as needed), so that on a small
#: machine the clients' own work does not take the cores the server needs: ~9,000 single-fix
#: requests/s and ~70,000 fixes/s in batches over a warm-up and a window of the default lengths.
READY_MADE_SINGLE = 1200
READY_MADE_BATCHES = 60


def ready_made(job: Job) -> list[tuple[Walker, list[bytes]]]:
    """Each connection's walker and its first requests, made in advance (in order)."""
    make = batch_request if job.batch else single_request
    count = READY_MADE_BATCHES if job.batch else READY_MADE_SINGLE
    out = []
    for conn_no in range(job.connections):
        walker = Walker(job, conn_no)
        out.append((walker, [make(job, walker) for _ in range(count)]))
    return out


async def drive(job: Job, walker: Walker, requests: list[bytes], start: float,
                tally: Tally) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", job.port)
    make = batch_request if job.batch else single_request
    requests.reverse()  # popped from the end, in the order made
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    window_start, window_end = start + job.warmup_s, start + job.warmup_s + job.measure_s
    while time.monotonic() < window_end:
        writer.write(requests.pop() if requests else make(job, walker))
        status, payload = await read_response(reader)
        done = time.monotonic()
        ok = status == 200 and b'"rejected":[{' not in payload
        tally.ok_total += ok
        if window_start <= done <= window_end:
            tally.in_window += 1
            tally.ok_in_window += ok
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if (status != 200 or b'"rejected":[{' in payload) and len(tally.errors) < 3:
                tally.errors.append(f"{status} {payload[:300].decode(errors='replace')}")
    writer.close()


def client_main(job: Job, pipe: Connection) -> None:
    async def run() -> Tally:
        tally = Tally()
        connections = ready_made(job)
        pipe.send("ready")
        start = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await asyncio.gather(*(drive(job, walker, requests, start, tally)
                               for walker, requests in connections))  # fmt: skip
        return tally

    try:
        pipe.send(asyncio.run(run()))
    except Exception as exc:  # report to the parent instead of hanging it
        pipe.send(exc)


@dataclass
class Phase:
    rate: float  # good answers/s in the window
    ok_total: int
    statuses: dict[int, int]
    errors: list[str]
    server_cores: float
    machine_cores: float


def measure(server: Server, *, path: str, batch: bool, api_key: str, seq0: int,
            points: list[tuple[float, float]], args: argparse.Namespace) -> Phase:  # fmt: skip
    ctx = mp.get_context("spawn")
    clients = args.batch_clients if batch else args.clients
    per_proc = max(1, clients // args.processes)
    devices_per_proc = DEVICES // args.processes
    pipes, procs = [], []
    for i in range(args.processes):
        mine, theirs = ctx.Pipe()
        job = Job(server.port, path, batch, api_key, per_proc, i * devices_per_proc,
                  devices_per_proc, seq0, points, args.warmup, args.seconds)  # fmt: skip
        proc = ctx.Process(target=client_main, args=(job, theirs), daemon=True)
        proc.start()
        pipes.append(mine)
        procs.append(proc)
    for pipe in pipes:
        pipe.recv()
    start = time.monotonic() + 0.5
    for pipe in pipes:
        pipe.send(start)
    time.sleep(max(0.0, start + args.warmup - time.monotonic()))
    cpu0, (busy0, total0) = server.cpu_seconds(), machine_busy()
    time.sleep(max(0.0, start + args.warmup + args.seconds - time.monotonic()))
    cpu1, (busy1, total1) = server.cpu_seconds(), machine_busy()
    tallies = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join(timeout=10)
    for tally in tallies:
        if isinstance(tally, Exception):
            raise tally
    statuses: dict[int, int] = {}
    for t in tallies:
        for status, n in t.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    return Phase(
        rate=sum(t.ok_in_window for t in tallies) / args.seconds,
        ok_total=sum(t.ok_total for t in tallies),
        statuses=statuses,
        errors=[e for t in tallies for e in t.errors][:3],
        server_cores=(cpu1 - cpu0) / args.seconds,
        machine_cores=(busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1),
    )


def drain(url: str, expected: int, timeout_s: float = 60.0) -> tuple[int, float]:
    """Wait until ``expected`` fixes are stored; (stored, seconds waited)."""
    started = time.monotonic()
    while True:
        count = stored_fixes(url)
        waited = time.monotonic() - started
        if count >= expected or waited > timeout_s:
            return count, waited
        time.sleep(0.1)


def run_database(kind: str, args: argparse.Namespace, points: list[tuple[float, float]]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"urbanops-bench-pos-{kind}-"))
    try:
        with database(kind, workdir) as url:
            key = prepare(url)
            server = Server(url, workdir, app="positions:bench_app")
            server.start()
            try:
                seq = 0
                phases: dict[str, Phase] = {}
                drains: dict[str, tuple[int, float]] = {}
                expected = 0
                for name, path, batch in (
                    ("bare_single", BARE_PATH, False),
                    ("bare_asgi_single", BARE_ASGI_PATH, False),
                    ("osmand", "/osmand", False),
                    ("bare_batch", BARE_PATH, True),
                    ("batch", "/api/positions/batch", True),
                ):
                    seq += 100_000
                    phase = measure(server, path=path, batch=batch, api_key=key, seq0=seq,
                                    points=points, args=args)  # fmt: skip
                    phases[name] = phase
                    if not name.startswith("bare"):
                        expected += phase.ok_total * (BATCH if batch else 1)
                        drains[name] = drain(url, expected)
            finally:
                server.stop()
            report(kind, phases, drains, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(kind: str, phases: dict[str, Phase], drains: dict[str, tuple[int, float]],
           args: argparse.Namespace) -> None:  # fmt: skip
    single, batch = phases["osmand"], phases["batch"]
    bare_routed, bare_asgi, bare_batch = (phases["bare_single"], phases["bare_asgi_single"],
                                          phases["bare_batch"])  # fmt: skip
    common = {"window_s": args.seconds, "client_processes": args.processes,
              "machine_cpus": os.cpu_count()}  # fmt: skip
    single_extra = {
        "clients": args.clients,
        "bare_routed_rate": round(bare_routed.rate, 1),
        "bare_asgi_rate": round(bare_asgi.rate, 1),
        "server_cpu_us": {name: cpu_us(phases[name]) for name in
                          ("bare_single", "bare_asgi_single", "osmand")},
        "statuses": {name: phases[name].statuses for name in
                     ("bare_single", "bare_asgi_single", "osmand")},
        "errors": single.errors,
        "stored_after_drain": drains["osmand"][0],
        "drain_s": round(drains["osmand"][1], 2),
        "server_cores": round(single.server_cores, 2),
        "machine_cores_busy": round(single.machine_cores, 2),
    }  # fmt: skip
    emit(f"positions.{kind}.osmand", value=single.rate, reference=TARGET_SINGLE,
         unit="requests/s", target=1.0, **single_extra,
         note="reference: the target of 3,000 single-fix requests/s", **common)  # fmt: skip
    emit(f"positions.{kind}.osmand_vs_bare", value=single.rate, reference=bare_asgi.rate,
         unit="requests/s", target=TARGET_SHARE_SINGLE, bare_routed_rate=round(bare_routed.rate, 1),
         note=f"reference: GET {BARE_ASGI_PATH} (answered before the router, as /osmand is) "
              "in the same server", **common)  # fmt: skip
    batch_extra = {
        "clients": args.batch_clients,
        "batch_size": BATCH,
        "bare_rate_fixes": round(bare_batch.rate * BATCH, 1),
        "server_cpu_us_per_fix": {name: round(cpu_us(phases[name]) / BATCH, 2) for name in
                                  ("bare_batch", "batch")},
        "statuses": {name: phases[name].statuses for name in ("bare_batch", "batch")},
        "errors": batch.errors,
        "stored_after_drain": drains["batch"][0],
        "drain_s": round(drains["batch"][1], 2),
        "server_cores": round(batch.server_cores, 2),
        "machine_cores_busy": round(batch.machine_cores, 2),
    }  # fmt: skip
    emit(f"positions.{kind}.batch", value=batch.rate * BATCH, reference=TARGET_BATCH,
         unit="fixes/s", target=1.0, **batch_extra,
         note="reference: the target of 50,000 fixes/s in batches of 1,000", **common)  # fmt: skip
    emit(f"positions.{kind}.batch_vs_bare", value=batch.rate * BATCH,
         reference=bare_batch.rate * BATCH, unit="fixes/s", target=TARGET_SHARE_BATCH,
         note=f"reference: POST {BARE_PATH} (a route that reads the body) with the same "
              "batches in the same server", **common)  # fmt: skip


def cpu_us(phase: Phase) -> float:
    """Server CPU microseconds per good answer in a phase."""
    return round(phase.server_cores / phase.rate * 1e6, 1) if phase.rate else float("nan")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batch-clients", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], action="append")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    points = street_points(DEVICES)
    print(f"# {os.cpu_count()} CPUs; {args.clients} single / {args.batch_clients} batch clients "
          f"in {args.processes} processes; {args.warmup} s warm-up, {args.seconds} s measured",
          flush=True)  # fmt: skip
    for kind in args.db or ["sqlite", "postgresql"]:
        try:
            run_database(kind, args, points)
        except Exception as exc:
            if kind == "postgresql" and "connect" in repr(exc).lower():
                print(f"# postgresql not measured: {exc}", flush=True)
                continue
            raise
        print(f"# {kind} done ({uuid.uuid4().hex[:4]})", flush=True)


if __name__ == "__main__":
    main()
