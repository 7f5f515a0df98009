"""Benchmark: reports per second through the HTTP API, beside a bare endpoint of the same app.

One real uvicorn server process (one worker, the app of ``create_app()`` plus ``POST /bench/bare``,
an ``async`` endpoint like intake's that only parses the same ``ReportIn`` body and answers 201; a
run where either phase answers anything else stops with an error) runs on a fresh SQLite file,
then on a fresh PostgreSQL database. Load comes from separate client processes holding 50
keep-alive connections in all, each sending one report after another (a small hand-written
HTTP/1.1 client over asyncio, so the client costs far less per request than the server: about
0.13 ms of CPU per bare request, on the other core). Every report is distinct (its own idempotency
key, a random point inside a unit grid of the demo street, one of the 18 matters with a shipped
standard); a share of them repeats a recent report's matter a few metres away, a real duplicate.
After a warm-up, completed requests are counted for a fixed window; the latencies of those give
p50 and p99.

Three figures per database, each its own `BENCH` line whose ``reference`` is the bare endpoint's
figure from the same server in the same run (``ratio`` compares with it, higher is better) and
whose ``target`` and ``met`` are the issue's:

- ``intake.<db>.rate``: reports/s; target 1,500 reports/s (absolute);
- ``intake.<db>.share_of_bare``: reports/s; target ratio 0.25 of the bare endpoint's rate;
- ``intake.<db>.p99``: p99 latency in ms (ratio = bare p99 / p99); target at most 50 ms.

Each line also carries the server's CPU time per request of both phases: on a machine where other
work competes for the cores, rates move with the competition but CPU per request barely does.

Options: ``--seconds``, ``--warmup``, ``--clients``, ``--processes``, ``--db sqlite|postgresql``,
``--profile DIR`` (records the server with py-spy during the intake window, if py-spy is there).
PostgreSQL comes from ``URBANOPS_BENCH_PG_URL`` (default ``URBANOPS_TEST_PG_URL``, default the
local server); a new database is created there and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_URL = os.environ.get(
    "URBANOPS_BENCH_PG_URL",
    os.environ.get("URBANOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)

TARGET_RATE = 1500.0  # reports/s
TARGET_SHARE_OF_BARE = 0.25
TARGET_P99_MS = 50.0
CONCURRENCY = 50
CLIENT_PROCESSES = 2
WARMUP_S = 1.5
MEASURE_S = 5.0
DUPLICATE_SHARE = 0.1  # reports that repeat a recent one a few metres away
GRACE_S = 2.0  # how long after the window a request may still be answered
POINTS = 60_000
SEED = 20261126
CHANNEL = "hotline_12345"
MATTERS = (
    "01040", "06001", "06007", "06010", "06012", "06036", "06043", "07001", "07002",
    "07003", "07006", "09001", "09002", "09004", "09005", "09006", "09010", "09012",
)  # fmt: skip
INTAKE_PATH = "/api/cases"
BARE_PATH = "/bench/bare"


# --- the server -------------------------------------------------------------------------------


def bench_app() -> Any:
    """``create_app()`` plus ``POST /bench/bare``: parse and validate a report, answer 201."""
    from urbanops.app import create_app
    from urbanops.cases.schemas import ReportIn
    from urbanops.config import get_settings
    from urbanops.kit.db import make_engine

    engine = None
    if pool := os.environ.get("BENCH_POOL_SIZE"):  # diagnostic only: not what the product ships
        engine = make_engine(get_settings().database_url, pool_size=int(pool), max_overflow=0)
    app = create_app(engine=engine)

    async def bare(report: ReportIn) -> dict[str, Any]:
        """The same body through the same framework path, and nothing else."""
        return {"id": 0, "idempotency_key": report.idempotency_key}

    # Annotations are strings in this module (``from __future__``) and ``ReportIn`` is imported
    # here, not globally: FastAPI must be given the real class, or it would take ``report`` for a
    # missing query parameter and answer every call 422 without reading the body.
    bare.__annotations__ = {"report": ReportIn, "return": dict[str, Any]}
    app.post(BARE_PATH, status_code=201, include_in_schema=False)(bare)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A uvicorn process serving ``bench_app`` on one worker."""

    database_url: str
    workdir: Path
    pool_size: int | None = None  # None: the engine create_app() builds (SQLAlchemy's default)
    app: str = "intake:bench_app"  # the uvicorn app factory (other benchmarks name their own)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import httpx

        env = {k: v for k, v in os.environ.items() if not k.startswith("URBANOPS_")}
        env.update(
            URBANOPS_MODE="test",
            URBANOPS_DATABASE_URL=self.database_url,
            URBANOPS_EVIDENCE_ROOT=str(self.workdir / "evidence"),
            PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        )
        if self.pool_size:
            env["BENCH_POOL_SIZE"] = str(self.pool_size)
        log = (self.workdir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--factory", *self.options()],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not come up:\n{self.log_tail()}")

    def options(self) -> list[str]:
        """One worker, no access log (it would cost both endpoints alike), quiet."""
        return (
            f"--host 127.0.0.1 --port {self.port} --workers 1 --no-access-log --log-level warning"
        ).split()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file in ``workdir``, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'intake.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    name = f"urbanops_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str) -> str:
    """Migrate, seed the demo street, and return a new integration API key, just used."""
    from urbanops import migrations
    from urbanops.auth import service as auth
    from urbanops.demo.street import seed_demo_street
    from urbanops.kit.actor import SYSTEM, Role
    from urbanops.kit.clock import SystemClock
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

    engine = make_engine(url)
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session)
        now = SystemClock().now()
        row, key = auth.create_api_key(
            session,
            name="intake benchmark",
            principal_kind="integration",
            roles=[Role.INTEGRATION],
            by=SYSTEM,
            now=now,
        )
        row.last_used_at = now  # steady state: no once-a-minute "last used" write in the run
    engine.dispose()
    return key


def street_points(count: int) -> list[tuple[float, float]]:
    """``count`` random points inside the demo street's unit grids, uniform over its area."""
    import numpy as np
    import shapely

    from urbanops.demo.geometry import build_guanhu

    grids = [g.polygon for g in build_guanhu().unit_grids]
    rng = np.random.default_rng(SEED)
    min_x, min_y, max_x, max_y = shapely.total_bounds(grids)
    tree = shapely.STRtree(grids)
    found: list[tuple[float, float]] = []
    while len(found) < count:
        x, y = rng.uniform(min_x, max_x, count), rng.uniform(min_y, max_y, count)
        inside = np.unique(tree.query(shapely.points(x, y), predicate="within")[0])
        found += [(round(float(x[i]), 6), round(float(y[i]), 6)) for i in inside]
    return found[:count]


# --- the load generator (runs in its own processes) ---------------------------------------------


@dataclass
class Job:
    """What one client process does: which endpoint, how many connections, which points."""

    port: int
    path: str
    api_key: str
    connections: int
    tag: str
    points: list[tuple[float, float]]
    warmup_s: float
    measure_s: float


@dataclass
class Tally:
    """What one client process measured inside the window."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    merged: int = 0
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0  # connections still waiting for an answer when the window had closed
    cpu_s: float = 0.0


class Bodies:
    """Distinct report bodies; a share repeat a recent report's matter a few metres away."""

    def __init__(self, job: Job, conn_no: int) -> None:
        self.job, self.prefix = job, f"{job.tag}-{conn_no}"
        self.rng = random.Random(f"{job.tag}-{conn_no}")
        self.points = job.points[conn_no :: job.connections]
        self.recent: list[tuple[float, float, str]] = []
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        if self.recent and self.rng.random() < DUPLICATE_SHARE:
            lon, lat, matter = self.rng.choice(self.recent)
            lon, lat = lon + self.rng.uniform(-5e-5, 5e-5), lat + self.rng.uniform(-5e-5, 5e-5)
        else:
            lon, lat = self.points[self.n % len(self.points)]
            matter = self.rng.choice(MATTERS)
            self.recent = [*self.recent[-49:], (lon, lat, matter)]
        body = {
            "channel": CHANNEL,
            "matter_code": matter,
            "description": f"占道经营，benchmark report {self.n}",
            "lon": round(lon, 6),
            "lat": round(lat, 6),
            "idempotency_key": f"{self.prefix}-{self.n}",
            "caller_number": f"138{self.rng.randrange(10**8):08d}",
            "complainant_name": "李四",
        }
        return json.dumps(body, ensure_ascii=False).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    at = lowered.find(b"content-length:")
    if at < 0:
        raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
    length = int(lowered[at + 15 : lowered.index(b"\r\n", at)])
    return status, await reader.readexactly(length)


async def drive(
    job: Job,
    conn_no: int,
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    start: float,
    tally: Tally,
) -> None:
    """Send reports back to back on one keep-alive connection until the window ends."""
    reader, writer = stream
    bodies = Bodies(job, conn_no)
    head = (
        f"POST {job.path} HTTP/1.1\r\nHost: 127.0.0.1:{job.port}\r\n"
        f"Content-Type: application/json\r\nX-API-Key: {job.api_key}\r\nContent-Length: "
    ).encode()
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    window_start, window_end = start + job.warmup_s, start + job.warmup_s + job.measure_s
    while (sent_at := time.monotonic()) < window_end:
        body = bodies.next()
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status, payload = await read_response(reader)
        done = time.monotonic()
        if window_start <= done <= window_end:
            tally.sent += 1
            tally.latencies.append(done - sent_at)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.merged += b'"merged":true' in payload
            if status >= 300 and len(tally.errors) < 5:
                tally.errors.append(f"{status} {payload[:300].decode(errors='replace')}")
    writer.close()


async def run_job(job: Job, pipe: Connection) -> Tally:
    """Open every connection, say ready, wait for the common start time, then drive them all."""
    tally = Tally()
    streams = [await asyncio.open_connection("127.0.0.1", job.port) for _ in range(job.connections)]
    pipe.send("ready")
    start = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    cpu0 = time.process_time()
    drivers = [asyncio.create_task(drive(job, n, s, start, tally)) for n, s in enumerate(streams)]
    deadline = start + job.warmup_s + job.measure_s + GRACE_S - time.monotonic()
    done, stuck = await asyncio.wait(drivers, timeout=max(0.0, deadline))
    for task in stuck:  # a request still unanswered well after the window: counted, dropped
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    tally.unanswered = len(stuck)
    tally.cpu_s = time.process_time() - cpu0
    for task in done:
        if task.exception() is not None:
            raise RuntimeError(f"connection failed: {task.exception()!r}")
    return tally


def client_main(job: Job, pipe: Connection) -> None:
    """Entry point of a client process."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    try:
        pipe.send(asyncio.run(run_job(job, pipe)))
    except Exception as exc:
        pipe.send(RuntimeError(f"client failed: {exc!r}"))


# --- one measured phase -----------------------------------------------------------------------


@dataclass
class Phase:
    """One endpoint under load: rate, latencies, statuses, CPU used."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: dict[int, int]
    merged: int
    errors: list[str]
    unanswered: int
    server_cpu: float  # cores used by the server process during the window
    client_cpu: float  # cores used by all client processes together (whole run)
    machine_cpu: float  # cores busy on the whole machine during the window


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def measure(server: Server, *, path: str, api_key: str, points: list[tuple[float, float]],
            args: argparse.Namespace, tag: str) -> Phase:  # fmt: skip
    """Drive ``path`` with ``args.clients`` connections from ``args.processes`` processes."""
    import numpy as np

    ctx = mp.get_context("spawn")
    per = [args.clients // args.processes + (i < args.clients % args.processes)
           for i in range(args.processes)]  # fmt: skip
    pipes, procs = [], []
    for i, connections in enumerate(per):
        mine, theirs = ctx.Pipe()
        job = Job(server.port, path, api_key, connections, f"{tag}-{i}",
                  points[i :: args.processes], args.warmup, args.seconds)  # fmt: skip
        proc = ctx.Process(target=client_main, args=(job, theirs), daemon=True)
        proc.start()
        pipes.append(mine)
        procs.append(proc)
    for pipe in pipes:
        answer = pipe.recv()
        if isinstance(answer, Exception):
            raise answer
    start = time.monotonic() + 0.3
    for pipe in pipes:
        pipe.send(start)
    time.sleep(max(0.0, start + args.warmup - time.monotonic()))
    cpu0, (busy0, total0) = server.cpu_seconds(), machine_busy()
    profiler = start_profiler(server, args, tag)
    time.sleep(max(0.0, start + args.warmup + args.seconds - time.monotonic()))
    cpu1, (busy1, total1) = server.cpu_seconds(), machine_busy()
    tallies = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join(timeout=10)
    if profiler is not None:
        profiler.wait(timeout=60)
    for tally in tallies:
        if isinstance(tally, Exception):
            raise tally
    latencies = np.array([lat for t in tallies for lat in t.latencies]) * 1000
    statuses: dict[int, int] = {}
    for t in tallies:
        for status, n in t.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    ncpu = os.cpu_count() or 1
    return Phase(
        rate=len(latencies) / args.seconds,
        p50_ms=float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        p99_ms=float(np.percentile(latencies, 99)) if len(latencies) else float("nan"),
        requests=len(latencies),
        statuses=statuses,
        merged=sum(t.merged for t in tallies),
        errors=[e for t in tallies for e in t.errors][:3],
        unanswered=sum(t.unanswered for t in tallies),
        server_cpu=(cpu1 - cpu0) / args.seconds,
        client_cpu=sum(t.cpu_s for t in tallies) / (args.warmup + args.seconds),
        machine_cpu=(busy1 - busy0) / max(1, total1 - total0) * ncpu,
    )


def start_profiler(
    server: Server, args: argparse.Namespace, tag: str
) -> subprocess.Popen[bytes] | None:
    """py-spy on the server for the measured window of the intake phase, when asked for."""
    if not args.profile or "bare" in tag or server.proc is None:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("# --profile: py-spy not found; pip install py-spy", flush=True)
        return None
    out = Path(args.profile) / f"{tag}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.proc.pid),
            "--output",
            str(out),
            *f"--duration {max(1, int(args.seconds))} --rate 200 --format raw".split(),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --- figures ----------------------------------------------------------------------------------


def bench_line(row: dict[str, Any]) -> None:
    print("BENCH " + json.dumps(row, ensure_ascii=False), flush=True)


def _per_request_ms(phase: Phase) -> float | None:
    """Server CPU time per answered request: steadier than rates on a machine shared with others."""
    return round(phase.server_cpu / phase.rate * 1000, 3) if phase.rate else None


def _ms(value: float) -> float | None:
    return round(value, 2) if value == value else None  # NaN when no request finished


def _ratio(value: float | None, reference: float | None) -> float:
    return round(value / reference, 3) if value and reference else 0.0


def report(kind: str, intake: Phase, bare: Phase, args: argparse.Namespace) -> None:
    """The three `BENCH` lines of one database: each beside the bare endpoint of the same run.

    ``reference`` is always the bare endpoint's figure from the same server in the same run and
    ``ratio`` compares with it (higher is better: value / reference for rates, reference / value
    for times). ``target`` and ``met`` are the issue's: 1,500 reports/s (absolute), 0.25 of the
    bare endpoint's rate, p99 at most 50 ms (absolute).
    """
    created = intake.statuses.get(201, 0) + intake.statuses.get(200, 0)
    cpu, bare_cpu = _per_request_ms(intake), _per_request_ms(bare)
    common = {
        "clients": args.clients,
        "client_processes": args.processes,
        "db_pool": args.pool_size or "default",
        "window_s": args.seconds,
        "requests": intake.requests,
        "statuses": {str(k): v for k, v in sorted(intake.statuses.items())},
        "bare_statuses": {str(k): v for k, v in sorted(bare.statuses.items())},
        "unanswered": intake.unanswered,
        "merged_share": round(intake.merged / created, 3) if created else None,
        "p50_ms": _ms(intake.p50_ms),
        "p99_ms": _ms(intake.p99_ms),
        "bare_rate": round(bare.rate, 1),
        "bare_p50_ms": _ms(bare.p50_ms),
        "bare_p99_ms": _ms(bare.p99_ms),
        "server_cores": round(intake.server_cpu, 2),
        "bare_server_cores": round(bare.server_cpu, 2),
        "server_cpu_ms_per_report": cpu,
        "bare_server_cpu_ms_per_request": bare_cpu,
        # What the share of bare would be if each phase had the server's core to itself (CPU per
        # request compared): a steadier view on a machine busy with other work. Not the target.
        "cpu_share_of_bare": _ratio(bare_cpu, cpu),
        "client_cores": round(intake.client_cpu, 2),
        "bare_client_cores": round(bare.client_cpu, 2),
        "machine_cores_busy": f"{intake.machine_cpu:.2f} of {os.cpu_count()}",
    }
    if intake.errors:
        common["errors"] = intake.errors
    bare_note = f"reference: POST {BARE_PATH} (parse ReportIn only), same server, same run"
    share = _ratio(intake.rate, bare.rate)
    bench_line({
        "name": f"intake.{kind}.rate", "value": round(intake.rate, 1), "unit": "reports/s",
        "reference": round(bare.rate, 1), "ratio": share, "target": f"≥ {TARGET_RATE:g}",
        "met": intake.rate >= TARGET_RATE, "note": f"{bare_note}; target: 1,500 reports/s",
        **common,
    })  # fmt: skip
    bench_line({
        "name": f"intake.{kind}.share_of_bare", "value": round(intake.rate, 1),
        "unit": "reports/s", "reference": round(bare.rate, 1), "ratio": share,
        "target": f"≥ {TARGET_SHARE_OF_BARE:g} × ref", "met": share >= TARGET_SHARE_OF_BARE,
        "note": f"{bare_note}; target: ratio 0.25", **common,
    })  # fmt: skip
    p99 = _ms(intake.p99_ms)
    bench_line({
        "name": f"intake.{kind}.p99", "value": p99, "unit": "ms", "reference": _ms(bare.p99_ms),
        "ratio": _ratio(_ms(bare.p99_ms), p99), "target": f"≤ {TARGET_P99_MS:g}",
        "met": p99 is not None and p99 <= TARGET_P99_MS,
        "note": f"{bare_note} (its p99); ratio = bare p99 / p99; target: p99 at most 50 ms",
        **common,
    })  # fmt: skip
    print(
        f"# {kind}: {intake.rate:.0f} reports/s (bare {bare.rate:.0f}/s, share {share:.2f}); "
        f"p50 {intake.p50_ms:.1f} ms, p99 {intake.p99_ms:.1f} ms (bare {bare.p50_ms:.1f} / "
        f"{bare.p99_ms:.1f} ms); server CPU per request {cpu} ms (bare {bare_cpu} ms)",
        flush=True,
    )


def run_database(kind: str, args: argparse.Namespace, points: list[tuple[float, float]]) -> None:
    """Fresh database, server, bare phase, intake phase, figures.

    Both phases must have answered every request they count with success: a reference made of
    error answers (a bare endpoint answering 422) or failed reports would flatter or hide the cost.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"urbanops-bench-{kind}-"))
    try:
        with database(kind, workdir) as url:
            api_key = prepare(url)
            server = Server(url, workdir, pool_size=args.pool_size)
            server.start()
            try:
                run = uuid.uuid4().hex[:6]
                bare = measure(server, path=BARE_PATH, api_key=api_key, points=points,
                               args=args, tag=f"bare-{run}")  # fmt: skip
                intake = measure(server, path=INTAKE_PATH, api_key=api_key, points=points,
                                 args=args, tag=f"{kind}-{run}")  # fmt: skip
            finally:
                server.stop()
            for phase, ok in ((bare, {201}), (intake, {200, 201})):
                wrong = {k: v for k, v in phase.statuses.items() if k not in ok}
                if wrong:
                    raise RuntimeError(f"{kind}: unexpected answers {wrong}: {phase.errors}")
            report(kind, intake, bare, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=MEASURE_S, help="measured window")
    parser.add_argument("--warmup", type=float, default=WARMUP_S)
    parser.add_argument("--clients", type=int, default=CONCURRENCY)
    parser.add_argument("--processes", type=int, default=CLIENT_PROCESSES)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--profile", help="folder for py-spy profiles of the intake window")
    parser.add_argument(
        "--pool-size",
        type=int,
        help="diagnostic: give the server a connection pool this big instead of the default",
    )
    return parser.parse_args()


def main() -> None:
    """Measure on SQLite and PostgreSQL; an unreachable PostgreSQL is reported, not faked."""
    args = parse_args()
    points = street_points(POINTS)
    print(f"# {os.cpu_count()} CPUs; {args.clients} clients in {args.processes} processes; "
          f"{args.warmup} s warm-up, {args.seconds} s measured", flush=True)  # fmt: skip
    for kind in args.db or ["sqlite", "postgresql"]:
        try:
            run_database(kind, args, points)
        except Exception as exc:
            if kind == "postgresql" and "connect" in repr(exc).lower():
                print(f"# postgresql not measured: {exc}", flush=True)
                continue
            raise


if __name__ == "__main__":
    main()
