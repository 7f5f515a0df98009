"""A year of a large district on PostgreSQL: 1,000,000 cases and 20,000,000 positions.

Builds (once, then reuses) a database ``urbanops_scale`` on the local PostgreSQL: the demo
street's areas and catalogue, 10,000 officers with a device each, a year of cases (one in ten
still open, so 100,000 open) and a year of positions, written with set-based SQL so building
takes minutes, not hours. Then it measures what a district's command centre does all day:

- the console's queue (open cases, most urgent first, one page);
- the map's query (open cases inside the bounding box of the visible map, by state);
- the leaders' board for a month (counts by channel, matter, grid and light; indicators);
- one sweeper pass over the 100,000 open cases, 200 of them newly overdue;
- the memory of one process with the 10,000 officers' roster and latest positions loaded.

Each figure is printed beside the same work done by raw SQL on the same data (the reference),
as ``BENCH`` lines. Targets (issue 7): each query ≤ 200 ms, the sweeper pass ≤ 1 s, memory
≤ 500 MB. ``--cases`` and ``--positions`` make a smaller world for a quick try.

    python benchmarks/scale.py [--cases 1000000] [--positions 20000000] [--rebuild]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit

PG_URL = os.environ.get("URBANOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "urbanops_scale"
OFFICERS = 10_000
QUERY_TARGET_MS = 200.0
SWEEP_TARGET_MS = 1_000.0
MEMORY_TARGET_MB = 500.0
#: Cases crossing their warning and deadline in one pass. With 100,000 open cases whose
#: deadlines fall over a couple of days, a 30-second pass meets about 50; 200 is four times that.
NEWLY_OVERDUE = 200
#: "Now" of the benchmark's world: the year of data ends here.
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
OPEN_STATES = ("reported", "registered", "dispatched", "accepted", "handled", "checked")


def database_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def create_database(rebuild: bool) -> bool:
    """Create the scale database; True when it must be filled (new or rebuilt)."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
            ).scalar()
            if exists and not rebuild:
                return False
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
            return True
    finally:
        admin.dispose()


def world_size(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        cases = conn.execute(text('SELECT count(*) FROM "case"')).scalar_one()
        positions = conn.execute(text("SELECT count(*) FROM position")).scalar_one()
    return int(cases), int(positions)


def build(engine: Engine, *, cases: int, positions: int) -> None:
    """Migrate, seed the demo street, then fill officers, devices, cases and positions in SQL."""
    from urbanops import migrations
    from urbanops.demo.street import seed_demo_street
    from urbanops.kit.db import make_sessionmaker, unit_of_work
    from urbanops.workforce.positions import ensure_partitions

    started = time.perf_counter()
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session, now=NOW - timedelta(days=366))
    with engine.begin() as conn:
        _officers(conn)
        _cases(conn, cases)
    days = [(NOW - timedelta(days=d)).date() for d in range(365, -1, -1)]
    with unit_of_work(make_sessionmaker(engine)) as session:
        ensure_partitions(session, days)
    _positions(engine, positions, days)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('VACUUM ANALYZE "case"'))
        conn.execute(text("ANALYZE position"))
    print(f"built the world in {time.perf_counter() - started:.0f} s", flush=True)


def _officers(conn: Any) -> None:
    conn.execute(
        text(
            """
            INSERT INTO "user" (username, display_name, password_hash, is_active,
                                created_at, created_by)
            SELECT 'scale' || g, '队员' || g, '!', true, :now, 'bench'
            FROM generate_series(1, :n) g
            """
        ),
        {"n": OFFICERS, "now": NOW},
    )
    conn.execute(
        text(
            """
            WITH grids AS (SELECT array_agg(code ORDER BY code) AS codes FROM responsibility_grid)
            INSERT INTO officer (user_id, grid_code, travel_mode, duty_status, duty_since,
                                 created_at, created_by)
            SELECT u.id, grids.codes[1 + (u.id % array_length(grids.codes, 1))],
                   (ARRAY['walk', 'bicycle', 'vehicle'])[1 + u.id % 3],
                   CASE WHEN u.id % 10 < 8 THEN 'on_duty' ELSE 'off_duty' END, :now, :now, 'bench'
            FROM "user" u, grids WHERE u.username LIKE 'scale%'
            """
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            """
            INSERT INTO device (identifier, kind, name, user_id, last_fix_at,
                                created_at, created_by)
            SELECT 'scale-' || u.id, 'radio', '对讲机 ' || u.id, u.id, :now, :now, 'bench'
            FROM "user" u WHERE u.username LIKE 'scale%'
            """
        ),
        {"now": NOW},
    )


def _cases(conn: Any, count: int) -> None:
    """A year of cases, newest last; one in ten open, its deadline around now."""
    conn.execute(
        text(
            """
            WITH grids AS (SELECT array_agg(code ORDER BY code) AS codes FROM responsibility_grid),
                 matters AS (SELECT array_agg(code ORDER BY code) AS codes FROM catalog_entry
                             WHERE kind = 'matter'),
                 channels AS (SELECT array_agg(code ORDER BY code) AS codes FROM channel),
                 box AS (SELECT min(min_lon) AS x0, max(max_lon) AS x1,
                                min(min_lat) AS y0, max(max_lat) AS y1 FROM responsibility_grid),
                 rows AS (
                   SELECT g, :now - make_interval(secs => (:n - g) * (31536000.0 / :n)) AS at,
                          (g % 10 = 0) AS open
                   FROM generate_series(1::bigint, :n) g)
            INSERT INTO "case" (number, state, channel, is_emergency, matter_code, description,
                                lon, lat, inside_jurisdiction, responsibility_grid_code,
                                verification_required, reported_at, closed_at, stage,
                                stage_started_at, warn_at, due_at, warned, missed,
                                escalation_level, contact_missed, close_missed,
                                suspension_requested, suspended_seconds, rework_count,
                                return_count, reopen_count, supervised, report_count, officer_id,
                                created_by, updated_at, version)
            SELECT 'S-' || lpad(g::text, 9, '0'),
                   CASE WHEN open THEN (ARRAY['reported', 'registered', 'dispatched',
                                              'accepted', 'handled'])[1 + (g / 10) % 5]
                        ELSE 'closed' END,
                   channels.codes[1 + g % array_length(channels.codes, 1)],
                   g % 97 = 0,
                   matters.codes[1 + (g * 7) % array_length(matters.codes, 1)],
                   '规模测试案件 ' || g,
                   box.x0 + (box.x1 - box.x0) * ((g * 7919) % 10007) / 10007.0,
                   box.y0 + (box.y1 - box.y0) * ((g * 104729) % 10009) / 10009.0,
                   true,
                   grids.codes[1 + (g * 13) % array_length(grids.codes, 1)],
                   false, at,
                   CASE WHEN open THEN NULL ELSE at + interval '3 hours' END,
                   CASE WHEN open THEN (ARRAY['register', 'dispatch', 'respond', 'handle',
                                              'check'])[1 + (g / 10) % 5] END,
                   CASE WHEN open THEN at END,
                   CASE WHEN open THEN :now + make_interval(secs => ((g * 37) % 172800) - 86400)
                        END,
                   CASE WHEN open THEN :now + make_interval(secs => ((g * 37) % 172800) - 43200)
                        END,
                   open AND :now + make_interval(secs => ((g * 37) % 172800) - 86400) <= :now,
                   open AND :now + make_interval(secs => ((g * 37) % 172800) - 43200) <= :now,
                   CASE WHEN open AND :now + make_interval(secs => ((g * 37) % 172800) - 43200)
                                      <= :now THEN 2 ELSE 0 END,
                   false, false, false, 0, (g % 53 = 0)::int, 0, 0, false, 1, NULL,
                   'bench', at, 1
            FROM rows, grids, matters, channels, box
            """
        ),
        {"n": count, "now": NOW},
    )


def _positions(engine: Engine, count: int, days: list[date]) -> None:
    """``count`` fixes spread over ``days``, one day's partition per statement."""
    per_day = max(1, count // len(days))
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM device WHERE identifier LIKE 'scale-%'"))
        device0 = int(first.scalar_one())
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    """
                    INSERT INTO position (device_id, at, received_at, lon, lat, source)
                    SELECT :d0 + g % :officers,
                           :start + make_interval(secs => g * (86399.0 / :n)),
                           :start + make_interval(secs => g * (86399.0 / :n)),
                           114.02 + 0.04 * ((g * 7919) % 10007) / 10007.0,
                           22.64 + 0.04 * ((g * 104729) % 10009) / 10009.0,
                           'bench'
                    FROM generate_series(0::bigint, :n - 1) g
                    """
                ),
                {"d0": device0, "officers": OFFICERS, "start": start, "n": per_day},
            )
    with engine.begin() as conn:  # the latest fix per device
        conn.execute(
            text(
                """
                INSERT INTO position_latest (device_id, at, received_at, lon, lat, source)
                SELECT DISTINCT ON (device_id) device_id, at, received_at, lon, lat, source
                FROM position WHERE at >= :since ORDER BY device_id, at DESC
                ON CONFLICT (device_id) DO NOTHING
                """
            ),
            {"since": NOW - timedelta(days=1)},
        )


def timed(work: Callable[[], Any], *, repeats: int = 7) -> tuple[float, Any]:
    """Median wall time in ms of ``work`` after one warm-up run, and its last result."""
    result = work()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure_queries(engine: Engine) -> None:
    from urbanops.cases import service as cases
    from urbanops.cases.schemas import CaseFilter
    from urbanops.kit.actor import SYSTEM
    from urbanops.kit.db import make_sessionmaker

    factory = make_sessionmaker(engine)
    open_states = list(OPEN_STATES)

    def queue() -> Any:
        with factory() as session:
            return cases.list_cases(
                session,
                filters=CaseFilter(state=open_states),
                viewer=SYSTEM,
                now=NOW,
                size=50,
                sort="due_at",
            )

    def raw_queue() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text('SELECT * FROM "case" WHERE state IN :s ORDER BY due_at LIMIT 50').bindparams(
                    _expanding("s")
                ),
                {"s": open_states},
            ).all()

    ms, (rows, total) = timed(queue)
    ref, _ = timed(raw_queue)
    emit("scale.queue", value=ms, reference=ref, unit="ms", target=QUERY_TARGET_MS,
         lower_is_better=True, absolute=True, open_cases=total, page=len(rows),
         note="reference: the raw SQL of the same page")  # fmt: skip


def measure_console(engine: Engine) -> None:
    """What the console asks: its queue, the map's box, the leaders' board for a month."""
    from zoneinfo import ZoneInfo

    from urbanops.kit.actor import SYSTEM
    from urbanops.kit.db import make_sessionmaker, unit_of_work
    from urbanops.ui.console import board_data
    from urbanops.ui.console import map as console_map

    factory = make_sessionmaker(engine)
    proj = console_map.Projection("wgs84")
    zone = ZoneInfo("Asia/Shanghai")
    with engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text("SELECT min(min_lon), min(min_lat), max(max_lon), max(max_lat) "
                 "FROM responsibility_grid")
        ).one()  # fmt: skip
    # the operator looks at a quarter of the district
    box = (x0, y0, x0 + (x1 - x0) / 2, y0 + (y1 - y0) / 2)
    open_states = list(OPEN_STATES)

    def queue() -> Any:
        with factory() as session:
            rows = console_map.open_cases(session, SYSTEM, NOW)
            return console_map.case_items(session, rows, proj, NOW)

    def raw_queue() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text('SELECT * FROM "case" WHERE state IN :s ORDER BY due_at LIMIT 500').bindparams(
                    _expanding("s")
                ),
                {"s": open_states},
            ).all()

    def in_box() -> Any:
        with factory() as session:
            rows = console_map.cases_in_box(session, SYSTEM, box)
            return console_map.case_items(session, rows, proj, NOW), console_map.grid_load(
                session, SYSTEM
            )

    def raw_box() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    'SELECT * FROM "case" WHERE state IN :s AND lon BETWEEN :x0 AND :x1 '
                    "AND lat BETWEEN :y0 AND :y1 ORDER BY id LIMIT 2000"
                ).bindparams(_expanding("s")),
                {"s": open_states, "x0": box[0], "x1": box[2], "y0": box[1], "y1": box[3]},
            ).all()

    def board() -> Any:  # as the board page computes it: its queries side by side
        return board_data.board_concurrently(
            lambda: unit_of_work(factory, write=False), now=NOW, zone=zone, days=30
        )

    def board_one_by_one() -> Any:
        with factory() as session:
            return board_data.board(session, now=NOW, zone=zone, days=30)

    def raw_board() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    'SELECT channel, count(*) FROM "case" WHERE reported_at >= :since '
                    "GROUP BY channel"
                ),
                {"since": NOW - timedelta(days=30)},
            ).all()

    for name, work, reference, note, extra in (
        ("scale.console_queue", queue, raw_queue,
         "the home's queue and map pins (500 most urgent); reference: the raw SQL of the page",
         lambda r: {"rows": len(r)}),
        ("scale.map_box", in_box, raw_box,
         "open cases in a quarter of the district, and the grids' load; reference: raw SQL",
         lambda r: {"rows": len(r[0])}),
        ("scale.board_month", board, raw_board,
         "the leaders' board over 30 days (counts, lights, comparisons, trend, indicators), "
         "its queries side by side as the page runs them; reference: one raw GROUP BY over the "
         "month", lambda r: {"one_by_one_ms": round(timed(board_one_by_one)[0], 1)}),
    ):  # fmt: skip
        ms, result = timed(work)
        ref, _ = timed(reference)
        emit(name, value=ms, reference=ref, unit="ms", target=QUERY_TARGET_MS,
             lower_is_better=True, absolute=True, note=note, **extra(result))  # fmt: skip


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def measure_sweep(engine: Engine) -> None:
    """One sweeper pass at NOW with 1,000 open cases freshly overdue (reset before each run)."""
    from urbanops.cases.tasks import run_sweep
    from urbanops.kit.db import make_sessionmaker

    factory = make_sessionmaker(engine)

    def reset() -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    """
                    UPDATE "case" SET warned = false, missed = false, escalation_level = 0,
                                      warn_at = :now - interval '10 minutes',
                                      due_at = :now - interval '1 minute'
                    WHERE id IN (SELECT id FROM "case" WHERE state <> 'closed'
                                 ORDER BY id DESC LIMIT :k)
                    """
                ),
                {"now": NOW, "k": NEWLY_OVERDUE},
            )
            conn.execute(text("DELETE FROM case_timeline WHERE actor_ref = 'system'"))

    times = []
    marks = 0
    for _ in range(3):
        reset()
        started = time.perf_counter()
        report = run_sweep(factory, now=NOW)
        times.append((time.perf_counter() - started) * 1000)
        marks = report.marks
    ms = statistics.median(times)

    def raw() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    """SELECT id FROM "case" WHERE state <> 'closed' AND
                       ((warn_at <= :now AND NOT warned) OR (due_at <= :now AND NOT missed))"""
                ),
                {"now": NOW},
            ).all()

    reset()
    ref, _ = timed(raw)
    with engine.connect() as conn:
        open_cases = conn.execute(text("""SELECT count(*) FROM "case" WHERE state <> 'closed'"""))
        open_count = int(open_cases.scalar_one())
    emit("scale.sweeper_pass", value=ms, reference=ref, unit="ms", target=SWEEP_TARGET_MS,
         lower_is_better=True, absolute=True, open_cases=open_count, marks=marks,
         newly_overdue=NEWLY_OVERDUE,
         note="reference: the raw SQL selecting the overdue cases")  # fmt: skip


def measure_memory() -> None:
    """RSS of a fresh process that serves the district (roster and positions loaded)."""
    probe = Path(__file__).resolve().parent / "_scale_memory.py"
    full = _run_probe(probe, "full")
    bare = _run_probe(probe, "bare")
    emit("scale.process_memory", value=full["rss_mb"], reference=bare["rss_mb"], unit="MB",
         target=MEMORY_TARGET_MB, lower_is_better=True, absolute=True,
         officers=full.get("officers"), cases=full.get("cases"),
         note="reference: the same process with the app created and nothing loaded")  # fmt: skip


def _run_probe(probe: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(probe), database_url(DATABASE), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--positions", type=int, default=20_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    from urbanops.kit.db import make_engine

    fresh = create_database(args.rebuild)
    engine = make_engine(database_url(DATABASE))
    try:
        if not fresh:
            have = world_size(engine)
            if have[0] < args.cases or have[1] < args.positions * 0.99:
                engine.dispose()
                create_database(True)
                engine = make_engine(database_url(DATABASE))
                fresh = True
        if fresh:
            build(engine, cases=args.cases, positions=args.positions)
        cases, positions = world_size(engine)
        print(f"world: {cases:,} cases, {positions:,} positions", flush=True)
        gc.collect()
        measure_queries(engine)
        measure_console(engine)
        measure_sweep(engine)
        measure_memory()
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
