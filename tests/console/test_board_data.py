"""The board's figures from real cases on both databases: counts, today against earlier days,
trend, lights and the evaluation indicators (按期结案率, 返工率, 平均处置时长)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.cases.conftest import People, actor, make_report
from urbanops.cases import service
from urbanops.cases.models import Case, CaseState
from urbanops.cases.tasks import sweep
from urbanops.kit.actor import Actor
from urbanops.kit.clock import ManualClock
from urbanops.ui.console import board_data

ZONE = ZoneInfo("Asia/Shanghai")
#: A Monday afternoon far from the other tests' cases, so windowed counts see only ours.
NOW = datetime(2031, 3, 10, 15, 0, tzinfo=ZONE)


@pytest.fixture
def board_clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def people(db: Session) -> People:
    return People(
        operator=actor(db, "op01"),
        shift_leader=actor(db, "duty01"),
        dispatcher=actor(db, "dispatch01"),
        squad_leader=actor(db, "squad01"),
        officer=actor(db, "gh0101"),
        other_officer=actor(db, "gh0102"),
    )


def _report(db: Session, clock: ManualClock, by: Actor, index: int, **kw: object) -> Case:
    result = make_report(db, clock, by, index, **kw)
    assert result.created
    return result.case


def _act(db: Session, clock: ManualClock, case: Case, action: str, by: Actor, **kw: object) -> None:
    service.act(db, case_id=case.id, action=action, by=by, now=clock.now(), **kw)  # type: ignore[arg-type]


def _close(db: Session, clock: ManualClock, p: People, case: Case, *, rework: bool = False) -> None:
    """Register, dispatch, accept, handle, (rework and handle again,) check and close."""
    steps: list[tuple[str, Actor, dict[str, object]]] = [
        ("register", p.shift_leader, {}),
        ("dispatch", p.dispatcher, {"officer_id": p.officer.id}),
        ("accept", p.officer, {}),
        ("handle", p.officer, {}),
    ]
    if rework:
        steps += [
            ("rework", p.operator, {"reason": "现场仍有摊位"}),
            ("accept", p.officer, {}),
            ("handle", p.officer, {}),
        ]
    steps += [("check", p.operator, {}), ("close", p.shift_leader, {})]
    if case.verification_required:
        steps.insert(0, ("verify", p.officer, {}))
    for action, by, kw in steps:
        clock.advance(timedelta(minutes=5))
        _act(db, clock, case, action, by, **kw)


def test_counts_by_channel_matter_and_grid_are_todays_reports(
    db: Session, board_clock: ManualClock, people: People
) -> None:
    clock = board_clock
    clock.set(NOW - timedelta(days=1))
    _report(db, clock, people.officer, 0, matter_code="06010")  # yesterday: not today's
    clock.set(NOW - timedelta(hours=3))
    made = [
        _report(db, clock, people.officer, 0, matter_code="09006"),
        _report(db, clock, people.operator, 1, channel="hotline_12345", matter_code="09009"),
        _report(db, clock, people.operator, 2, channel="petition", matter_code="07002"),
        _report(db, clock, people.operator, 1, channel="hotline_12345", matter_code="06010"),
    ]
    window = board_data.today(NOW, ZONE)
    assert window.start == datetime(2031, 3, 10, 0, 0, tzinfo=ZONE)
    for dimension, attribute in (
        ("channel", "channel"),
        ("matter", "matter_code"),
        ("grid", "responsibility_grid_code"),
    ):
        expected = Counter(getattr(c, attribute) for c in made)
        assert board_data.counts_by(db, dimension=dimension, window=window) == expected
    assert list(board_data.counts_by(db, dimension="channel", window=window)) == [
        "hotline_12345",
        "grid_report",
        "petition",
    ]
    week = board_data.last_days(NOW, ZONE, 7)
    assert board_data.counts_by(db, dimension="matter", window=week)["06010"] == 2


def test_today_against_the_same_stretch_of_earlier_days(
    db: Session, board_clock: ManualClock, people: People
) -> None:
    clock = board_clock
    plan = [
        (timedelta(hours=-2), 0, "09006"),  # today 13:00
        (timedelta(hours=-1), 1, "09009"),  # today 14:00
        (timedelta(days=-1, hours=-5), 2, "07002"),  # yesterday 10:00: inside the stretch
        (timedelta(days=-1, hours=5), 0, "06010"),  # yesterday 20:00: after 15:00, outside
        (timedelta(days=-10, hours=-1), 1, "06010"),  # 10 days ago 14:00: in the 30-day average
        (timedelta(days=-40), 2, "06010"),  # too old for either
    ]
    for delta, index, matter in plan:
        clock.set(NOW + delta)
        _report(db, clock, people.officer, index, matter_code=matter)
    compare = board_data.compare_days(db, now=NOW, zone=ZONE)
    assert compare["reported"] == {
        "today": 2,
        "sum7": 1,
        "sum30": 2,
        "avg7": round(1 / 7, 1),
        "avg30": round(2 / 30, 1),
    }
    assert compare["closed"]["today"] == 0

    trend = board_data.trend(db, now=NOW, zone=ZONE)
    assert len(trend["days"]) == 31 and trend["days"][-1] == "2031-03-10"
    assert trend["reported"][-1] == 2 and trend["reported"][-2] == 2
    assert trend["reported"][-11] == 1 and sum(trend["reported"]) == 5
    assert trend["closed"] == [0] * 31


def test_closing_a_case_moves_closed_today_and_the_trend(
    db: Session, board_clock: ManualClock, people: People
) -> None:
    clock = board_clock
    clock.set(NOW - timedelta(hours=2))
    case = _report(db, clock, people.officer, 0)
    before = board_data.board(db, now=NOW, zone=ZONE)
    _close(db, clock, people, case)
    after = board_data.board(db, now=NOW, zone=ZONE)
    assert after["compare"]["closed"]["today"] == before["compare"]["closed"]["today"] + 1 == 1
    assert after["trend"]["closed"][-1] == 1
    assert after["indicators_window"]["closed"] == 1
    unfinished = sum(before["lights"].values()) - sum(after["lights"].values())
    assert unfinished == 1
    assert after["names"]["channel"]["grid_report"][0]
    assert after["names"]["matter"]["09006"][0]
    grid = case.responsibility_grid_code
    assert grid is not None and after["names"]["grid"][grid][0]


@pytest.mark.parametrize("days", [0, 7, 30])
def test_the_page_s_concurrent_board_equals_the_one_by_one_board(
    db: Session, board_clock: ManualClock, people: People, days: int
) -> None:
    clock = board_clock
    for back, index in ((0, 0), (3, 1), (12, 2)):
        clock.set(NOW - timedelta(days=back, hours=1))
        case = _report(db, clock, people.officer, index)
    _close(db, clock, people, case, rework=True)
    threads: set[str] = set()
    turn = threading.Lock()  # the test's one session, handed to one part at a time

    @contextmanager
    def read() -> Iterator[Session]:
        with turn:
            threads.add(threading.current_thread().name)
            yield db

    alone = board_data.board(db, now=NOW, zone=ZONE, days=days)
    assert board_data.board_concurrently(read, now=NOW, zone=ZONE, days=days) == alone
    assert any(name.startswith("board") for name in threads)  # the parts ran on the pool
    assert sum(alone["by_channel"].values()) == (1 if days == 0 else 2 if days == 7 else 3)


def test_lights_of_unfinished_cases_turn_red_when_the_clock_passes_due(
    db: Session, board_clock: ManualClock, people: People
) -> None:
    clock = board_clock
    baseline_now = board_data.lights(db, now=NOW)
    later = NOW + timedelta(days=3)
    baseline_later = board_data.lights(db, now=later)
    load_before = board_data.open_by_grid(db)
    case = _report(db, clock, people.officer, 0)
    now_lights = board_data.lights(db, now=NOW)
    assert now_lights["green"] == baseline_now["green"] + 1
    later_lights = board_data.lights(db, now=later)
    assert later_lights["red"] == baseline_later["red"] + 1
    grid = case.responsibility_grid_code
    assert grid is not None
    assert board_data.open_by_grid(db)[grid] == load_before.get(grid, 0) + 1
    _act(db, clock, case, "register", people.shift_leader)
    _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.officer.id)
    _act(db, clock, case, "accept", people.officer)
    _act(db, clock, case, "request_suspension", people.officer, reason="待业主整改")
    _act(db, clock, case, "suspend", people.shift_leader, reason="待业主整改")
    assert case.state is CaseState.SUSPENDED
    assert board_data.lights(db, now=later)["none"] == baseline_later["none"] + 1


def test_indicators_on_time_rework_and_mean_times(
    db: Session, board_clock: ManualClock, people: People
) -> None:
    clock = board_clock
    start = NOW - timedelta(hours=6)  # 09:00, a working morning
    window = board_data.Window(start, NOW)
    clock.set(start)
    on_time = _report(db, clock, people.officer, 0, matter_code="09006")
    _close(db, clock, people, on_time)  # 6 steps 5 min apart: handled 10 min after dispatch
    reworked = _report(db, clock, people.officer, 1, matter_code="09009")
    _close(db, clock, people, reworked, rework=True)
    late = _report(db, clock, people.officer, 2, matter_code="07002")
    clock.advance(timedelta(hours=2))  # the 1-working-hour 立案 limit passes
    assert sweep(db, now=clock.now()).missed == 1
    _close(db, clock, people, late)
    still_open = _report(db, clock, people.officer, 0, matter_code="06010")
    assert still_open.state is CaseState.REPORTED
    found = board_data.indicators(db, window=window, now=clock.now() + timedelta(days=2))
    assert found["closed"] == 3
    assert found["on_time"] == 2  # the late one missed its 立案 deadline
    assert found["overdue_open"] >= 1  # the open one is red two days on
    assert found["due"] == 3 + found["overdue_open"]
    assert found["on_time_rate"] == round(100 * 2 / found["due"], 1)
    assert found["reworks"] == 1
    assert found["rework_rate"] == round(100 * 1 / 4, 1)  # 1 rework out of 4 handlings
    # accepted 5 min after (re)dispatch, handled 5 min later: 10 min from the last dispatch.
    assert found["mean_handle_s"] == pytest.approx(600, abs=1)
    assert found["mean_close_s"] is not None and found["mean_close_s"] > 0
    empty = board_data.indicators(db, window=board_data.Window(NOW, NOW), now=NOW)
    assert empty["closed"] == 0 and empty["rework_rate"] is None and empty["mean_handle_s"] is None
