"""The simulator: a shift on a scratch copy of the demo street, through the real API and dispatch.

One simulated hour through ``urbanops simulate`` is shared by the first tests (its database
kept); the comparison models are also checked on small scenarios worked out by hand.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.support.server import free_port
from urbanops.cases.models import Case, TimelineEntry
from urbanops.cli import app as cli
from urbanops.demo import sim_models
from urbanops.demo.sim_models import EmergencyRecord, OfficerTrack
from urbanops.demo.sim_world import Body
from urbanops.demo.simulator import SimConfig, SimReport, run, start_live
from urbanops.dispatch.service import AUTO_DISPATCHER
from urbanops.kit.db import make_engine, make_sessionmaker
from urbanops.workforce.models import Device
from urbanops.workforce.positions_models import position_latest_table, position_table

runner = CliRunner()
SHARE = re.compile(r"^(?P<label>平台派遣|仅本网格|最优上界).*?(?P<reached>[\d.]+)% \((\d+)/(\d+)\)")


@dataclass(frozen=True)
class Shift:
    output: str
    engine: Engine

    def shares(self) -> dict[str, float]:
        found = {}
        for line in self.output.splitlines():
            match = SHARE.match(line)
            if match:
                found[match["label"]] = float(match["reached"])
        return found

    def counted(self, label: str) -> int:
        match = re.search(rf"{label}: (\d+)", self.output)
        assert match, label
        return int(match[1])


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shift]:
    """An hour of the demo street with its default staffing, seed 3, database kept."""
    database = tmp_path_factory.mktemp("simulate") / "shift.db"
    result = runner.invoke(
        cli, ["simulate", "--hours", "1", "--seed", "3", "--database", str(database)]
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{database}")
    yield Shift(result.stdout, engine)
    engine.dispose()


def test_simulate_prints_the_three_shares_and_the_platform_reaches_95_percent(
    shift: Shift,
) -> None:
    shares = shift.shares()
    assert set(shares) == {"平台派遣", "仅本网格", "最优上界"}, shift.output
    assert shares["平台派遣"] >= 95.0, shift.output
    assert shares["最优上界"] >= shares["平台派遣"]
    assert shares["最优上界"] >= shares["仅本网格"]
    assert shift.counted("emergencies") >= 3
    assert "hotline_12345" in shift.output and "ai_alarm" in shift.output


def test_officers_positions_arrive_in_the_database_through_the_ingestion_path(
    shift: Shift,
) -> None:
    posted = int(re.search(r"定位 positions: (\d+) posted", shift.output)[1])  # type: ignore[index]
    with shift.engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(position_table))
        sources = set(conn.scalars(select(position_table.c.source).distinct()))
        latest = conn.scalar(select(func.count()).select_from(position_latest_table))
        phones = conn.scalar(
            select(func.count()).select_from(Device).where(Device.identifier.like("phone-%"))
        )
    assert stored == posted > 0
    assert sources == {"batch"}
    assert latest == shift.counted("officers on duty")  # every officer on duty is on the map
    assert phones and phones > 200  # members got phones; grid leaders kept their radios


def test_emergencies_are_registered_and_dispatched_by_the_platform_itself(shift: Shift) -> None:
    with shift.engine.connect() as conn:
        emergencies = list(conn.scalars(select(Case.id).where(Case.is_emergency.is_(True))))
        dispatched_by_platform = set(
            conn.scalars(
                select(TimelineEntry.case_id).where(
                    TimelineEntry.action == "dispatch",
                    TimelineEntry.actor_name == AUTO_DISPATCHER.name,
                )
            )
        )
        arrived = conn.scalar(
            select(func.count()).where(
                TimelineEntry.action == "note", TimelineEntry.note == "已到达现场"
            )
        )
    assert emergencies and set(emergencies) <= dispatched_by_platform
    assert arrived and arrived >= len(emergencies)


def test_an_officer_who_misses_the_push_is_replaced_after_five_minutes(tmp_path: Path) -> None:
    database = tmp_path / "redispatch.db"
    report = run(
        SimConfig(hours=0.5, rate_per_hour=40, seed=5, missed_phone_share=0.5),
        database=database,
    )
    assert report.redispatches >= 1, report.table()
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        redispatched = conn.execute(
            select(TimelineEntry.case_id, TimelineEntry.at, TimelineEntry.reason).where(
                TimelineEntry.action == "redispatch"
            )
        ).all()
        first = dict(
            conn.execute(
                select(TimelineEntry.case_id, func.min(TimelineEntry.at))
                .where(TimelineEntry.action == "dispatch")
                .group_by(TimelineEntry.case_id)
            ).all()
        )
    engine.dispose()
    assert redispatched
    for case_id, at, reason in redispatched:
        assert "未响应" in (reason or "")
        assert (at - first[case_id]).total_seconds() >= 300


def _record(t: float, x: float, y: float, handle_s: float = 150.0) -> EmergencyRecord:
    return EmergencyRecord(
        case_id=int(t) + 1, number=f"E{t:g}", channel="ai_alarm", t=t, x=x, y=y,
        grid_code="G", handle_s=handle_s, delays=np.full(3, 40.0),
    )  # fmt: skip


def _officer(index: int, x: float, grid: str = "G", speed: float = 1.3) -> OfficerTrack:
    track = OfficerTrack(index, 100 + index, grid, speed, Body(x, 0.0, 0.0))
    track.fix_times.append(0.0)
    return track


def test_the_bound_leaves_the_nearest_officer_for_the_emergency_only_he_can_reach() -> None:
    # Officer 1 is nearest to A but the only one who can reach B a minute later in time;
    # sending the nearest to A (what the grid-only dispatcher does) loses B.
    a, b = _record(0.0, 0.0, 0.0), _record(60.0, -200.0, 0.0)
    officers = [_officer(0, 200.0), _officer(1, 50.0)]
    greedy = sim_models.share_of(sim_models.grid_only([a, b], officers, road_factor=1.3))
    outcomes, exact = sim_models.bound([a, b], officers, road_factor=1.3)
    assert greedy.reached == 1
    assert exact and sim_models.share_of(outcomes).reached == 2
    assert outcomes[0].reached_s == pytest.approx(40.0 + 200.0)
    assert outcomes[1].reached_s == pytest.approx(40.0 + 250.0)


def test_the_grid_only_baseline_waits_for_its_own_officer_while_a_neighbour_is_free() -> None:
    emergency = _record(100.0, 0.0, 0.0)
    own = _officer(0, 100.0)
    own.ordinary.append((0.0, 600.0))  # on an ordinary case until 10 minutes past
    neighbour = _officer(1, 150.0, grid="H")
    [waited] = sim_models.grid_only([emergency], [own, neighbour], road_factor=1.3)
    outcomes, _ = sim_models.bound([emergency], [own, neighbour], road_factor=1.3)
    assert waited.reached_s == pytest.approx(500.0 + 40.0 + 100.0)
    assert outcomes[0].reached_s == pytest.approx(40.0 + 150.0)


def test_a_body_stops_where_it_is_and_keeps_its_past() -> None:
    body = Body(0.0, 0.0, 0.0)
    body.follow([(100.0, 0.0), (100.0, 100.0)], 200.0)
    body.stop(150.0)
    assert body.at(50.0) == pytest.approx((50.0, 0.0))
    assert body.at(150.0) == pytest.approx((100.0, 50.0))
    assert body.at(999.0) == pytest.approx((100.0, 50.0))


def test_the_live_simulator_drives_a_served_app_over_http(tmp_path: Path) -> None:
    from urbanops.app import create_app
    from urbanops.demo.simulator import _scratch_database

    engine, scratch = _scratch_database(tmp_path / "live.db", evidence=tmp_path / "evidence")
    settings = scratch.model_copy(update={"position_flush_interval_s": 0.2})  # as served
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=engine), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    live = start_live(
        base_url=f"http://127.0.0.1:{port}",
        factory=make_sessionmaker(engine),
        config=SimConfig(rate_per_hour=1),
    )
    try:
        stored = 0
        for _ in range(200):
            with engine.connect() as conn:
                stored = conn.scalar(select(func.count()).select_from(position_latest_table)) or 0
            if stored:
                break
            live.stopped.wait(0.2)
        assert stored > 200
    finally:
        live.stop()
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_a_report_of_the_run_says_what_it_compared() -> None:
    share = sim_models.Share(total=4, reached=3, handled=4)
    report = SimReport(
        hours=1, rate_per_hour=20, seed=1, officers_on_duty=2, officers_per_grid={"G": 2},
        reports=5, cases=5, merged=0, by_channel={"ai_alarm": 4, "citizen": 1}, emergencies=4,
        auto_dispatched=4, redispatches=1, platform=share, grid_only=share, bound=share,
        positions_posted=10, positions_stored=10, requests=50, setup_s=1, wall_s=2, cpu_s=2,
        sim_s=3600,
    )  # fmt: skip
    assert "75.0% (3/4)" in report.table()
    assert report.to_dict()["platform"]["reached_share"] == 0.75
