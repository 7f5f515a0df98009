"""The demo street's simulator (模拟演练): officers patrol, cases arrive, the platform dispatches.

Everything goes through the real API, as the people and systems around the platform would use
it: the device platform posts every officer's fix in one batch per interval (``/api/positions/
batch``, an integration key); the channel gateway and the operators report cases from every
channel (``POST /api/cases``); emergencies are registered and dispatched by the platform itself;
operators register and assign ordinary cases from the recommendation; officers hear of a task on
their phone (a push, then ``GET /api/cases?officer=<me>&state=dispatched`` as themselves),
accept after a human delay, travel, note their arrival at an emergency, work on site and post
``handle``; operators check and shift leaders close. Each officer's body moves in
``sim_world``; the comparison of the run with the grid-only baseline and the optimal bound is
``sim_models``.

Two ways to run it:

- ``run(config)``, headless (``urbanops simulate``): a scratch SQLite database, the real app
  in-process with a manual clock; simulated time jumps from event to event, and the simulator
  runs the app's periodic jobs and writes the position buffer itself, as the background threads
  would. Answers a ``SimReport``.
- ``start_live(...)`` (``urbanops demo``): a background thread driving the served app over HTTP
  in real time, so the street is alive on the console.

Assumptions (speeds, delays, rates) are in ``docs/decisions/0007-simulator.md``.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import math
import queue
import shutil
import tempfile
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from urbanops.cases.events import CaseDispatched
from urbanops.demo import sim_models
from urbanops.demo.geometry import DemoStreet, build_guanhu
from urbanops.demo.names import synthetic_names
from urbanops.demo.sim_models import EmergencyRecord, OfficerTrack, Share
from urbanops.demo.sim_setup import Credentials, SimOfficer, prepare
from urbanops.demo.sim_world import (
    Body,
    Frame,
    GridArea,
    KeyPoint,
    centre_of,
    manhattan_path,
    patrol,
    point_near,
    straight_m,
    street_areas,
    street_point,
)
from urbanops.dispatch.recommend import ROAD_FACTOR, SPEED_MPS
from urbanops.kit.events import Event, bus

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A working Thursday morning in Shenzhen: the shift the simulation plays by default.
DEFAULT_START = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)
DEFAULT_RATE = 20.0
DEFAULT_HOURS = 8.0
#: The default run's dice (seeds 1–5 are compared in docs/decisions/0007-simulator.md).
DEFAULT_SEED = 1


@dataclass(frozen=True)
class SimConfig:
    """One simulation: how long, how busy, how staffed, which dice."""

    hours: float = DEFAULT_HOURS
    rate_per_hour: float = DEFAULT_RATE
    officers_per_grid: int | None = None  # None: the demo's duty plan
    seed: int = DEFAULT_SEED
    start: datetime = DEFAULT_START
    fix_interval_s: float = 60.0  # the device platform forwards its fixes once a minute
    job_interval_s: float = 60.0  # the app's periodic jobs (a served app: sweeper_interval_s)
    drain_s: float = 20 * 60.0  # after the last arrival, time for the emergencies to finish
    poll_s: float = 0.0  # officers' phones also poll their tasks this often (0: push only)
    missed_phone_share: float = 0.01  # an officer does not see an emergency's push for minutes


# --- the behaviour model (documented in docs/decisions/0007-simulator.md) ------------------------


@dataclass(frozen=True)
class ChannelPlan:
    """How often a channel brings a report, who sends it, where, about what."""

    code: str
    weight: float
    sender: str  # "gateway" | "operator" | "officer"
    place: str  # "camera" | "street" | "officer"
    matters: tuple[str, ...]
    emergency_share: float = 0.0  # reports flagged is_emergency (ai_alarm is one by default)


#: Matters (GB/T 47678.5-2026 codes) with a sentence a reporter would write.
MATTERS: dict[str, str] = {
    "09006": "有人占道经营水果摊",
    "09001": "有流动摊贩沿街叫卖",
    "09005": "商铺把货架摆到店外经营",
    "07001": "电线杆和墙上贴满小广告",
    "06010": "路边有暴露垃圾",
    "06036": "人行道上乱堆杂物",
    "06029": "有人露天烧烤，油烟很大",
    "06028": "商铺用高音喇叭促销，噪声扰民",
    "08001": "工地施工噪声扰民",
    "09009": "机动车占用人行道停放",
    "09010": "共享单车堆放堵塞通道",
    "09012": "消防通道被车辆占用",
    "06027": "餐馆油烟直排",
    "09022": "商家占道搭台促销",
}
SEEN_BY_CAMERA = ("09006", "09001", "09005", "06010", "06036", "06029", "09010", "09012")
ANY_MATTER = tuple(MATTERS)
CHANNELS: tuple[ChannelPlan, ...] = (
    ChannelPlan("ai_alarm", 0.25, "gateway", "camera", SEEN_BY_CAMERA),
    ChannelPlan("grid_report", 0.28, "officer", "officer", ANY_MATTER),
    ChannelPlan("video_patrol", 0.10, "operator", "camera", SEEN_BY_CAMERA),
    ChannelPlan("hotline_12345", 0.20, "gateway", "street", ANY_MATTER, emergency_share=0.05),
    ChannelPlan("citizen", 0.07, "gateway", "street", ANY_MATTER),
    ChannelPlan("open311", 0.03, "gateway", "street", ANY_MATTER),
    ChannelPlan("minxinqiao", 0.03, "operator", "street", ANY_MATTER),
    ChannelPlan("secretary_mailbox", 0.02, "operator", "street", ANY_MATTER),
    ChannelPlan("petition", 0.01, "operator", "street", ANY_MATTER),
    ChannelPlan("transfer_letter", 0.01, "operator", "street", ANY_MATTER),
)
#: Where a street report lies: at one of the grids' key points (else anywhere in the street);
#: an urgent call is about a busy place more often (a market, a school gate, a metro exit).
AT_KEY_POINT = 0.5
URGENT_AT_KEY_POINT = 0.8
#: A device reports after moving this far, or after this long without a fix.
FIX_DISTANCE_M = 50.0
FIX_HEARTBEAT_S = 240.0


def _lognormal(
    rng: np.random.Generator, median: float, sigma: float, lo: float, hi: float
) -> float:
    return float(min(max(median * math.exp(sigma * rng.standard_normal()), lo), hi))


def emergency_delays(rng: np.random.Generator, count: int, missed_share: float) -> np.ndarray:
    """Seconds each officer would take to accept an emergency on his phone.

    Lognormal, median 40 s; ``missed_share`` of the time (1 % by default) the phone goes unseen
    for 5½ to 15 minutes (in a conversation, on a scooter, in a noisy market), which the
    5-minute re-dispatch exists for.
    """
    delays = 40.0 * np.exp(0.6 * rng.standard_normal(count))
    missed = rng.random(count) < missed_share
    delays[missed] = rng.uniform(330.0, 900.0, int(missed.sum()))
    return np.clip(delays, 5.0, None)


def emergency_handling_s(rng: np.random.Generator) -> float:
    """On site for an emergency: persuade, move the stall, photograph (median 2½ minutes)."""
    return _lognormal(rng, 150.0, 0.4, 60.0, 480.0)


def ordinary_handling_s(rng: np.random.Generator) -> float:
    """On site for an ordinary case (median 12 minutes)."""
    return _lognormal(rng, 720.0, 0.5, 180.0, 2700.0)


def ordinary_delay_s(rng: np.random.Generator) -> float:
    """Accepting an ordinary task (median 1 minute)."""
    return _lognormal(rng, 60.0, 0.8, 5.0, 1200.0)


def staff_delay_s(rng: np.random.Generator, median: float) -> float:
    """A command-centre step (register, assign, check, close) around ``median`` seconds."""
    return _lognormal(rng, median, 0.6, 10.0, 8 * median)


# --- the people ---------------------------------------------------------------------------------


@dataclass
class Task:
    """A case an officer was given."""

    case_id: int
    x: float
    y: float
    emergency: bool
    handle_s: float
    accepted_at: float | None = None
    record: EmergencyRecord | None = None
    busy_index: int | None = None  # his ordinary-work interval in ``OfficerTrack.ordinary``
    leg: int = 0  # bumped when an emergency interrupts it: stale arrivals are ignored


class Agent:
    """One officer on duty: his body in the street, his phone's tasks, what he is doing."""

    def __init__(
        self, officer: SimOfficer, area: GridArea, rng: np.random.Generator, start: float
    ) -> None:
        self.officer = officer
        self.area = area
        self.rng = rng
        self.speed = SPEED_MPS[officer.travel_mode]
        x, y = area.random_point(rng)
        self.body = Body(x, y, start)
        self.track = OfficerTrack(officer.index, officer.user_id, area.code, self.speed, self.body)
        self.state = "patrol"  # patrol | paused | travel | on_site
        self.offers: dict[int, float] = {}  # case id → when he heard of it, not yet accepted
        self.tasks: deque[Task] = deque()
        self.current: Task | None = None

    def at(self, t: float) -> tuple[float, float]:
        """Where he is at ``t`` (patrolling on when nothing else holds him)."""
        if self.state == "patrol":
            patrol(self.body, self.area, self.rng, until=t, speed_mps=self.speed)
        elif self.body.end < t:
            self.body.dwell(t - self.body.end)
        return self.body.at(t)

    def pause(self, t: float) -> None:
        """Stop to read the phone."""
        if self.state == "patrol":
            self.at(t)
            self.body.stop(t)
            self.state = "paused"

    def resume(self, t: float) -> None:
        self.at(t)
        self.body.stop(t)
        self.state = "patrol"

    @property
    def idle(self) -> bool:
        return self.state in ("patrol", "paused") and self.current is None


# --- results ------------------------------------------------------------------------------------


@dataclass
class SimReport:
    """What a headless run shows: the three shares and what the street went through."""

    hours: float
    rate_per_hour: float
    seed: int
    officers_on_duty: int
    officers_per_grid: dict[str, int]
    reports: int
    cases: int
    merged: int
    by_channel: dict[str, int]
    emergencies: int
    auto_dispatched: int
    redispatches: int
    platform: Share
    grid_only: Share
    bound: Share
    positions_posted: int
    positions_stored: int
    requests: int
    setup_s: float  # migrating and seeding the scratch database
    wall_s: float  # the simulation itself
    cpu_s: float  # processor time of the simulation (this process, every thread)
    sim_s: float
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("platform", "grid_only", "bound"):
            share: Share = getattr(self, name)
            data[name] |= {
                "reached_share": round(share.reached_share, 4),
                "handled_share": round(share.handled_share, 4),
            }
        return data

    def table(self) -> str:
        """The run as a readable table, zh-CN and English labels."""
        per_grid = sorted(self.officers_per_grid.values())
        staffing = (
            f"{per_grid[0]}" if per_grid[0] == per_grid[-1] else f"{per_grid[0]}–{per_grid[-1]}"
        )
        lines = [
            f"观湖街道模拟 Guanhu street simulation — {self.hours:g} h, "
            f"{self.rate_per_hour:g} 件/小时 reports per hour, seed {self.seed}",
            f"在岗队员 officers on duty: {self.officers_on_duty} "
            f"({staffing} 每网格 per grid, {len(per_grid)} 网格 grids)",
            "",
            f"{'紧急案件 emergencies: ' + str(self.emergencies):<44}"
            f"{'5分钟到场 reached ≤ 5 min':>26}{'10分钟处置 handled ≤ 10 min':>30}",
        ]
        rows = (
            ("平台派遣 platform dispatch", self.platform),
            ("仅本网格 grid-only baseline", self.grid_only),
            ("最优上界 optimal bound" + ("" if self.bound.exact else " (relaxed)"), self.bound),
        )
        for label, share in rows:
            reached = f"{share.reached_share:6.1%} ({share.reached}/{share.total})"
            handled = f"{share.handled_share:6.1%} ({share.handled}/{share.total})"
            lines.append(f"{label:<44}{reached:>26}{handled:>30}")
        lines += [
            "",
            f"上报 reports: {self.reports}  案件 cases: {self.cases}  "
            f"合并 merged as duplicates: {self.merged}",
            "渠道 by channel: "
            + ", ".join(f"{code} {n}" for code, n in sorted(self.by_channel.items())),
            f"自动派遣 auto-dispatched: {self.auto_dispatched}  "
            f"超时改派 re-dispatches: {self.redispatches}",
            f"定位 positions: {self.positions_posted} posted, {self.positions_stored} stored  "
            f"请求 requests: {self.requests}",
            f"用时 wall time: {self.wall_s:.1f} s (CPU {self.cpu_s:.1f} s) for "
            f"{self.sim_s / 3600:.2f} simulated hours, after {self.setup_s:.1f} s of setup",
        ]
        lines += [f"问题 problem: {p}" for p in self.problems]
        return "\n".join(lines)


class SimulationError(RuntimeError):
    """The platform answered the simulation with a server error (always a bug)."""


# --- the simulation -----------------------------------------------------------------------------


class Simulation:
    """The street, its people and the event queue; ``drive`` is headless or live."""

    def __init__(
        self,
        config: SimConfig,
        client: httpx.Client,
        credentials: Credentials,
        street: DemoStreet,
        *,
        live: bool = False,
    ) -> None:
        self.config = config
        self.client = client
        self.credentials = credentials
        self.live = live
        seeds = np.random.SeedSequence(config.seed).spawn(5)
        self.arrivals_rng, self.people_rng, self.staff_rng, self.delay_rng, walk_seed = (
            np.random.default_rng(s) for s in seeds
        )
        centre = centre_of(street)
        self.frame = Frame(centre.x, centre.y)
        self.areas = street_areas(street, self.frame)
        by_code = {a.code: a for a in self.areas}
        walkers = walk_seed.spawn(len(credentials.officers))
        self.agents = [
            Agent(o, by_code[o.grid_code], np.random.default_rng(s), 0.0)
            for o, s in zip(credentials.officers, walkers, strict=True)
        ]
        self.by_user = {a.officer.user_id: a for a in self.agents}
        self.cameras = [k for a in self.areas for k in a.key_points if k.camera_code]
        self.area_of_camera = {
            k.camera_code or "": a for a in self.areas for k in a.key_points if k.camera_code
        }
        self.names = itertools.cycle(synthetic_names(count=300, seed=config.seed + 7))
        self.serial = itertools.count(1)
        self.run_id = f"{config.seed}-{int(time.time() * 1000) % 10**9}"
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self.notices: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self.emergencies: dict[int, EmergencyRecord] = {}
        self.by_channel: Counter[str] = Counter()
        self.reports = self.cases = self.merged = self.auto_dispatched = 0
        self.positions_posted = self.requests = 0
        self.problems: list[str] = []
        self.arrivals_until = config.hours * 3600.0

    # time

    def when(self, t: float) -> datetime:
        return self.config.start.astimezone(UTC) + timedelta(seconds=t)

    def at(self, t: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (t, next(self._order), action, args))

    # HTTP

    def _headers(self, who: str | SimOfficer) -> dict[str, str]:
        if isinstance(who, SimOfficer):
            return {"Authorization": f"Bearer {who.token}"}
        if who in ("platform", "gateway"):
            key = (
                self.credentials.platform_key if who == "platform" else self.credentials.gateway_key
            )
            return {"X-API-Key": key}
        return {"Authorization": f"Bearer {self.credentials.staff_tokens[who]}"}

    def call(
        self,
        method: str,
        path: str,
        who: str | SimOfficer,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        drain: bool = True,
    ) -> httpx.Response:
        """One request as ``who``; a 5xx is a bug (raised headless, logged live)."""
        self.requests += 1
        response = self.client.request(
            method, path, json=json, params=params, headers=self._headers(who)
        )
        if response.status_code >= 500:
            message = f"{method} {path} answered {response.status_code}: {response.text[:300]}"
            if not self.live:
                raise SimulationError(message)
            log.warning("simulator: %s", message)
        if drain:
            self.drain_notices()
        return response

    def act(self, case_id: int, action: str, who: str | SimOfficer, **body: Any) -> httpx.Response:
        return self.call("POST", f"/api/cases/{case_id}/actions/{action}", who, json=body or None)

    # the push channel: the platform tells an officer's phone that it has a task

    def on_dispatched(self, event: Event) -> None:
        """Bus subscriber (any thread): note the officer and the case for the phone to fetch."""
        if isinstance(event, CaseDispatched) and event.officer_id is not None:
            self.notices.put((event.officer_id, event.case_id))

    def drain_notices(self) -> None:
        while True:
            try:
                user_id, case_id = self.notices.get_nowait()
            except queue.Empty:
                return
            agent = self.by_user.get(user_id)
            if agent is None:
                continue
            record = self.emergencies.get(case_id)
            if record is not None:
                record.dispatches.append((self.now, agent.officer.index))
            self.at(self.now, self.phone_fetch, agent)

    # periodic work

    def post_fixes(self) -> None:
        """The device platform's batch: the fix of every device due to report at this instant.

        A device reports when it has moved ``FIX_DISTANCE_M`` since its last fix, else every
        ``FIX_HEARTBEAT_S`` (a tracker's distance filter and heartbeat).
        """
        stamp = self.when(self.now).isoformat()
        fixes = []
        for agent in self.agents:
            x, y = agent.at(self.now)
            sent = agent.track.fix_times
            if sent:
                moved = straight_m(x, y, *agent.body.at(sent[-1]))
                if moved < FIX_DISTANCE_M and self.now - sent[-1] < FIX_HEARTBEAT_S:
                    continue
            sent.append(self.now)
            lon, lat = self.frame.to_lonlat(x, y)
            fixes.append(
                {
                    "device": agent.officer.device,
                    "at": stamp,
                    "lon": round(lon, 7),
                    "lat": round(lat, 7),
                    "accuracy_m": 8.0,
                }
            )
        response = self.call("POST", "/api/positions/batch", "platform", json={"fixes": fixes})
        if response.status_code == 200:
            self.positions_posted += int(response.json()["accepted"])
        self.flush_positions()
        self.at(self.now + self.config.fix_interval_s, self.post_fixes)

    def flush_positions(self) -> None:
        """Headless: write the ingest buffer now (a served app's writer thread does it)."""

    def run_jobs(self) -> None:
        """Headless: the app's periodic jobs (a served app runs its own)."""

    # arrivals

    def next_arrival(self) -> None:
        gap = self.arrivals_rng.exponential(3600.0 / self.config.rate_per_hour)
        if self.now + gap < self.arrivals_until:
            self.at(self.now + gap, self.arrive)

    def arrive(self) -> None:
        """A report comes in from a channel drawn by weight."""
        rng = self.arrivals_rng
        weights = np.array([c.weight for c in CHANNELS])
        plan = CHANNELS[int(rng.choice(len(CHANNELS), p=weights / weights.sum()))]
        self.report(plan)
        self.next_arrival()

    def report(self, plan: ChannelPlan) -> None:
        rng = self.arrivals_rng
        matter = plan.matters[int(rng.integers(len(plan.matters)))]
        n = next(self.serial)
        sender: str | SimOfficer = plan.sender
        camera: KeyPoint | None = None
        flagged = plan.emergency_share > 0 and rng.random() < plan.emergency_share
        if plan.place == "camera":
            camera = self.cameras[int(rng.integers(len(self.cameras)))]
            area = self.area_of_camera[camera.camera_code or ""]
            radius = 40.0 if plan.code == "ai_alarm" else 120.0
            x, y = point_near(camera.x, camera.y, radius, area, rng)
            place = camera.name
        elif plan.place == "officer" and (walking := self._walking()):
            agent = walking[int(rng.integers(len(walking)))]
            sender = agent.officer
            x, y = point_near(*agent.at(self.now), 20.0, agent.area, rng)
            place = agent.area.name
        else:
            key_share = URGENT_AT_KEY_POINT if flagged else AT_KEY_POINT
            area, x, y, place = self._street_place(rng, key_share)
        lon, lat = self.frame.to_lonlat(x, y)
        body: dict[str, Any] = {
            "channel": plan.code,
            "matter_code": matter,
            "description": f"{place}{MATTERS[matter]}",
            "lon": round(lon, 7),
            "lat": round(lat, 7),
            "address": f"观湖街道{place}",
            "idempotency_key": f"sim-{self.run_id}-{n}",
            **self._channel_fields(plan.code, n, camera),
        }
        if flagged:
            body["is_emergency"] = True
        # the push it triggers is heard once the emergency is on record (``took``)
        response = self.call("POST", "/api/cases", sender, json=body, drain=False)
        self.reports += 1
        self.by_channel[plan.code] += 1
        if response.status_code not in (200, 201):
            self.problems.append(f"report refused: {response.status_code} {response.text[:200]}")
        else:
            self.took(response.json(), x, y)
        self.drain_notices()

    def _walking(self) -> list[Agent]:
        return [a for a in self.agents if a.state == "patrol"]

    def _street_place(
        self, rng: np.random.Generator, key_share: float
    ) -> tuple[GridArea, float, float, str]:
        if rng.random() < key_share:
            area = self.areas[int(rng.integers(len(self.areas)))]
            key = area.key_points[int(rng.integers(len(area.key_points)))]
            x, y = point_near(key.x, key.y, 60.0, area, rng)
            return area, x, y, key.name
        area, x, y = street_point(self.areas, rng)
        return area, x, y, area.name

    def _channel_fields(self, channel: str, n: int, camera: KeyPoint | None) -> dict[str, Any]:
        """The fields a channel requires, with plausible values."""
        name = next(self.names)
        phone = f"139{self.arrivals_rng.integers(10**7, 10**8)}"
        return {
            "hotline_12345": {
                "caller_number": phone,
                "complainant_name": name,
                "complainant_phone": phone,
            },
            "petition": {"letter_number": f"龙信〔2026〕{n}号", "complainant_name": name},
            "minxinqiao": {"complainant_name": name},
            "secretary_mailbox": {"letter_number": f"SJXX-2026-{n:04d}"},
            "transfer_letter": {"letter_number": f"龙华转〔2026〕{n}号", "source_ref": f"ZB-{n}"},
            "citizen": {"complainant_phone": phone},
            "ai_alarm": {"source_ref": f"{camera.camera_code if camera else 'CAM'}-ALARM-{n}"},
            "open311": {"source_ref": f"311-{n:05d}"},
        }.get(channel, {})

    def took(self, answer: dict[str, Any], x: float, y: float) -> None:
        """The platform's answer to a report: a new case (emergency or not) or a merge."""
        if answer.get("merged"):
            self.merged += 1
            return
        if not answer.get("created"):
            return
        self.cases += 1
        case_id = int(answer["id"])
        if answer.get("is_emergency"):
            record = EmergencyRecord(
                case_id=case_id,
                number=answer["number"],
                channel=answer["channel"],
                t=self.now,
                x=x,
                y=y,
                grid_code=answer.get("responsibility_grid_code"),
                handle_s=emergency_handling_s(self.delay_rng),
                delays=emergency_delays(
                    self.delay_rng, len(self.agents), self.config.missed_phone_share
                ),
            )
            self.emergencies[case_id] = record
            self.drain_notices()
            if record.dispatches:
                self.auto_dispatched += 1
            else:  # nobody free at once: the dispatch job tries again each pass
                self.problems.append(f"emergency {answer['number']} not dispatched at once")
        else:
            verify = bool(answer.get("verification_required"))
            self.at(self.now + staff_delay_s(self.staff_rng, 90.0), self.triage, case_id, verify)

    # the command centre

    def triage(self, case_id: int, verify: bool) -> None:
        """The operator verifies (核实, by phone or camera) where needed and registers (立案)."""
        if verify:
            self.act(case_id, "verify", "operator", note="电话/视频核实属实")
        if self.act(case_id, "register", "operator").status_code == 200:
            self.at(self.now + staff_delay_s(self.staff_rng, 60.0), self.assign, case_id)

    def assign(self, case_id: int) -> None:
        """The dispatcher (派遣员) assigns the platform's first recommendation (派遣)."""
        answer = self.call("GET", f"/api/cases/{case_id}/recommendations", "dispatcher")
        ranked = _recommended_users(answer.json()) if answer.status_code == 200 else []
        if not ranked:  # nobody free nearby: look again in a few minutes
            self.at(self.now + 180.0, self.assign, case_id)
            return
        path, body = f"/api/cases/{case_id}/assign", {"officer_user_id": ranked[0]}
        if self.call("POST", path, "dispatcher", json=body).status_code >= 400:
            self.at(self.now + 120.0, self.assign, case_id)

    def check(self, case_id: int) -> None:
        """核查 by video or a colleague, then the shift leader closes (结案)."""
        if self.act(case_id, "check", "operator", note="视频核查：已整改").status_code == 200:
            self.at(self.now + staff_delay_s(self.staff_rng, 300.0), self.close, case_id)

    def close(self, case_id: int) -> None:
        self.act(case_id, "close", "shift_leader")

    # the officers

    def phone_fetch(self, agent: Agent) -> None:
        """His phone lists the cases dispatched to him; new ones wait for him to accept."""
        officer = agent.officer
        answer = self.call(
            "GET",
            "/api/cases",
            officer,
            params={"officer": officer.user_id, "state": "dispatched", "size": 50},
        )
        if answer.status_code != 200:
            return
        for item in answer.json()["items"]:
            case_id = int(item["id"])
            if case_id in agent.offers or any(t.case_id == case_id for t in agent.tasks):
                continue
            if agent.current is not None and agent.current.case_id == case_id:
                continue
            agent.offers[case_id] = self.now
            agent.pause(self.now)
            record = self.emergencies.get(case_id)
            if record is not None:
                delay = float(record.delays[officer.index])
            else:
                delay = ordinary_delay_s(self.people_rng)
            x, y = self.frame.to_xy(float(item["lon"]), float(item["lat"]))
            self.at(self.now + delay, self.accept, agent, case_id, x, y)

    def poll(self, agent: Agent) -> None:
        self.phone_fetch(agent)
        self.at(self.now + self.config.poll_s, self.poll, agent)

    def accept(self, agent: Agent, case_id: int, x: float, y: float) -> None:
        """签收 on the phone; a case taken away meanwhile answers 403/409 and is dropped."""
        agent.offers.pop(case_id, None)
        answer = self.act(case_id, "accept", agent.officer)
        if answer.status_code != 200:
            if agent.idle and not agent.offers and not agent.tasks:
                agent.resume(self.now)
            return
        record = self.emergencies.get(case_id)
        handle_s = record.handle_s if record else ordinary_handling_s(self.people_rng)
        task = Task(case_id, x, y, record is not None, handle_s, self.now, record)
        if record is not None:
            record.accepted_at, record.officer = self.now, agent.officer.index
            agent.tasks.appendleft(task)
            if agent.current is not None and not agent.current.emergency:
                self.interrupt(agent)  # an emergency comes before ordinary work
        else:  # busy on ordinary work until handled (the replays need to know)
            task.busy_index = len(agent.track.ordinary)
            agent.track.ordinary.append((self.now, math.inf))
            agent.tasks.append(task)
        if agent.idle:
            self.start_next(agent)

    def interrupt(self, agent: Agent) -> None:
        """Leave the ordinary task in hand (to go back to after the emergency)."""
        current = agent.current
        assert current is not None
        current.leg += 1  # its scheduled arrival or end no longer happens
        agent.tasks.insert(1, current)
        agent.current = None
        agent.state = "paused"

    def start_next(self, agent: Agent) -> None:
        """Off to the next task (emergencies first), or back on patrol (or to his phone)."""
        if not agent.tasks:
            agent.current = None
            if agent.offers:
                agent.at(self.now)
                agent.body.stop(self.now)
                agent.state = "paused"
            else:
                agent.resume(self.now)
            return
        task = agent.tasks.popleft()
        agent.current = task
        x0, y0 = agent.at(self.now)
        agent.body.stop(self.now)
        travel = straight_m(x0, y0, task.x, task.y) * ROAD_FACTOR / agent.speed
        agent.body.follow(manhattan_path(x0, y0, task.x, task.y, None, agent.rng), travel)
        agent.state = "travel"
        self.at(self.now + travel, self.on_site, agent, task, task.leg)

    def on_site(self, agent: Agent, task: Task, leg: int) -> None:
        """到场: for an emergency the phone says so in the case's timeline."""
        if leg != task.leg:
            return
        agent.state = "on_site"
        if task.record is not None:
            task.record.reached_at = self.now
            self.act(task.case_id, "note", agent.officer, note="已到达现场")
        agent.body.dwell(task.handle_s)
        self.at(self.now + task.handle_s, self.handled, agent, task, task.leg)

    def handled(self, agent: Agent, task: Task, leg: int) -> None:
        """处置反馈; ordinary work counted as busy time for the replays."""
        if leg != task.leg:
            return
        answer = self.act(task.case_id, "handle", agent.officer, note="已现场处置，恢复正常")
        if answer.status_code == 200:
            if task.record is not None:
                task.record.handled_at = self.now
            elif task.busy_index is not None:
                agent.track.ordinary[task.busy_index] = (task.accepted_at or self.now, self.now)
            self.at(self.now + staff_delay_s(self.staff_rng, 300.0), self.check, task.case_id)
        agent.current = None
        self.start_next(agent)

    # running

    def begin(self) -> None:
        self.at(0.0, self.post_fixes)
        self.next_arrival()
        if self.config.poll_s > 0:
            gap = self.config.poll_s / max(len(self.agents), 1)
            for i, agent in enumerate(self.agents):
                self.at(self.config.fix_interval_s + i * gap, self.poll, agent)

    def step(self) -> bool:
        """Run the next event; False when the queue is empty."""
        if not self._queue:
            return False
        t, _, action, args = heapq.heappop(self._queue)
        self.now = max(self.now, t)
        self.set_clock(self.now)
        action(*args)
        return True

    def set_clock(self, t: float) -> None:
        """Headless: move the app's manual clock (live: the system clock moves by itself)."""

    @property
    def next_time(self) -> float | None:
        return self._queue[0][0] if self._queue else None


def _recommended_users(payload: Any) -> list[int]:
    """User ids in the recommendation's order (``officers``, best first)."""
    items = payload.get("officers", []) if isinstance(payload, dict) else payload
    users = []
    for item in items or []:
        candidate = item.get("candidate", item) if isinstance(item, dict) else {}
        user = candidate.get("user_id") or candidate.get("officer_user_id")
        if user is not None:
            users.append(int(user))
    return users


# --- headless -----------------------------------------------------------------------------------


class _Headless(Simulation):
    """The app in-process: a manual clock, the jobs and the position writer run by hand."""

    def __init__(self, *args: Any, app: Any, clock: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.clock = clock
        self.job_errors = 0

    def set_clock(self, t: float) -> None:
        self.clock.set(self.when(t))

    def flush_positions(self) -> None:
        from urbanops.kit.db import unit_of_work
        from urbanops.workforce.positions_api import ingest_of

        with unit_of_work(self.app.state.sessionmaker) as session:
            ingest_of(self.app).flush(session)

    def run_jobs(self) -> None:
        for outcome in self.app.state.jobs.run_once():
            if not outcome.ok:
                self.problems.append(f"job {outcome.name} failed: {outcome.error}")
        self.drain_notices()
        self.at(self.now + self.config.job_interval_s, self.run_jobs)

    def begin(self) -> None:
        super().begin()
        self.at(self.config.job_interval_s / 2, self.run_jobs)


def run(
    config: SimConfig,
    *,
    database: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimReport:
    """Simulate ``config.hours`` on a fresh copy of the demo street and compare dispatching.

    The database is a scratch SQLite file, thrown away after the run unless ``database`` names
    a file to keep it in (it must not exist yet; serve it afterwards to look at the shift).
    """
    say = progress or (lambda _: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="urbanops-sim-") as tmp:
        path = database or Path(tmp) / "simulate.db"
        if path.exists():
            raise FileExistsError(f"{path} exists; name a new file for the simulated database")
        engine, settings = _scratch_database(path, evidence=Path(tmp) / "evidence")
        try:
            setup_s = time.perf_counter() - started
            say(f"demo street ready in {setup_s:.1f} s; simulating {config.hours:g} h")
            return _run_headless(config, engine, settings, setup_s)
        finally:
            engine.dispose()


_template: dict[str, Path] = {}


def _scratch_database(path: Path, *, evidence: Path) -> tuple[Engine, Any]:
    """A migrated database with the demo street seeded at ``path``.

    Seeding takes seconds, so the first one of the process is kept as a template and later ones
    are copies of it.
    """
    from urbanops import migrations
    from urbanops.config import Settings
    from urbanops.demo.street import seed_demo_street
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

    settings = Settings(
        mode="demo",
        database_url=f"sqlite:///{path}",
        evidence_root=evidence,
        sweeper_interval_s=0,
        position_flush_interval_s=0,
    )
    template = _template.get("demo")
    if template is not None and template.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        return make_engine(settings.database_url), settings
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session)
    engine.dispose()  # checkpoints the WAL into the file
    folder = Path(tempfile.mkdtemp(prefix="urbanops-sim-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _template["demo"] = folder / "demo.db"
    shutil.copyfile(path, _template["demo"])
    return make_engine(settings.database_url), settings


def _run_headless(config: SimConfig, engine: Engine, settings: Any, setup_s: float) -> SimReport:
    with warnings.catch_warnings():  # Starlette's note about its httpx-based client
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from urbanops.app import create_app
    from urbanops.kit.clock import ManualClock
    from urbanops.kit.db import make_sessionmaker, unit_of_work

    street = build_guanhu()
    clock = ManualClock(config.start)
    ttl = int(config.hours * 3600 + config.drain_s + 3600)
    with unit_of_work(make_sessionmaker(engine)) as session:
        credentials = prepare(
            session,
            street,
            now=clock.now(),
            officers_per_grid=config.officers_per_grid,
            token_ttl_s=ttl,
        )
    app = create_app(settings, engine=engine, clock=clock)
    started, cpu = time.perf_counter(), time.process_time()
    with TestClient(app, raise_server_exceptions=True) as client:
        sim = _Headless(config, client, credentials, street, app=app, clock=clock)
        with _listening(sim):
            sim.begin()
            end = config.hours * 3600.0 + config.drain_s
            while sim.next_time is not None and sim.next_time <= end:
                sim.step()
            sim.flush_positions()
    timing = (setup_s, time.perf_counter() - started, time.process_time() - cpu)
    with unit_of_work(make_sessionmaker(engine), write=False) as session:
        stored = _stored_positions(session)
    return _report(sim, stored, timing)


@contextmanager
def _listening(sim: Simulation) -> Iterator[None]:
    stop = bus.subscribe(CaseDispatched.name, sim.on_dispatched)
    try:
        yield
    finally:
        stop()


def _stored_positions(session: Session) -> int:
    from urbanops.workforce.positions_models import position_table

    return int(session.scalar(select(func.count()).select_from(position_table)) or 0)


def _report(sim: Simulation, stored: int, timing: tuple[float, float, float]) -> SimReport:
    records = sorted(sim.emergencies.values(), key=lambda e: e.t)
    tracks = [a.track for a in sim.agents]
    platform = sim_models.share_of(sim_models.platform(records))
    grid_only = sim_models.share_of(sim_models.grid_only(records, tracks, road_factor=ROAD_FACTOR))
    outcomes, exact = sim_models.bound(records, tracks, road_factor=ROAD_FACTOR)
    per_grid = Counter(a.officer.grid_code for a in sim.agents)
    return SimReport(
        hours=sim.config.hours,
        rate_per_hour=sim.config.rate_per_hour,
        seed=sim.config.seed,
        officers_on_duty=len(sim.agents),
        officers_per_grid=dict(sorted(per_grid.items())),
        reports=sim.reports,
        cases=sim.cases,
        merged=sim.merged,
        by_channel=dict(sorted(sim.by_channel.items())),
        emergencies=len(records),
        auto_dispatched=sim.auto_dispatched,
        redispatches=sum(max(len(e.dispatches) - 1, 0) for e in records),
        platform=platform,
        grid_only=grid_only,
        bound=sim_models.share_of(outcomes, exact=exact),
        positions_posted=sim.positions_posted,
        positions_stored=stored,
        requests=sim.requests,
        setup_s=round(timing[0], 2),
        wall_s=round(timing[1], 2),
        cpu_s=round(timing[2], 2),
        sim_s=sim.now,
        problems=sim.problems,
    )


# --- live ---------------------------------------------------------------------------------------


class _Live(Simulation):
    """Real time against a served app: its own jobs and writer run; the clock is the system's."""

    def __init__(self, *args: Any, stopped: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, live=True, **kwargs)
        self.stopped = stopped
        self._t0 = time.monotonic()
        self._start = datetime.now(UTC)

    def when(self, t: float) -> datetime:
        return self._start + timedelta(seconds=t)

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def run_forever(self) -> None:
        self._start = datetime.now(UTC)
        self._t0 = time.monotonic()
        self.arrivals_until = math.inf
        self.begin()
        while not self.stopped.is_set():
            try:
                self.now = max(self.now, self.elapsed())
                self.drain_notices()
                upcoming = self.next_time
                if upcoming is not None and upcoming <= self.elapsed():
                    self.step()
                    continue
                wait = 1.0 if upcoming is None else min(upcoming - self.elapsed(), 1.0)
                self.stopped.wait(max(wait, 0.01))
            except httpx.HTTPError as exc:  # the server is going down or restarting
                log.info("simulator: %s", exc)
                self.stopped.wait(2.0)
            except Exception:
                log.exception("simulator step failed")
                self.stopped.wait(2.0)


#: The street comes alive this long after the server first answers (its first readers go first).
LIVE_START_DELAY_S = 5.0


@dataclass
class LiveSimulator:
    """The live simulator's thread; ``stop`` ends it."""

    thread: threading.Thread
    stopped: threading.Event

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        self.thread.join(timeout)


def start_live(
    *,
    base_url: str,
    factory: sessionmaker[Session],
    config: SimConfig,
) -> LiveSimulator:
    """Staff the served demo street and drive it in real time from a daemon thread.

    Call before the server starts (the staffing is written at once); the thread waits for the
    server to answer ``/health``. The push to officers' phones is heard on this process's event
    bus, so the server must run in this process (``urbanops demo`` does); ``config.poll_s``
    makes the phones poll as well.
    """
    from urbanops.kit.db import unit_of_work

    street = build_guanhu()
    with unit_of_work(factory) as session:
        credentials = prepare(
            session,
            street,
            now=datetime.now(UTC),
            officers_per_grid=config.officers_per_grid,
            token_ttl_s=7 * 24 * 3600,
        )
    stopped = threading.Event()

    def main() -> None:
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            while not stopped.is_set():
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                stopped.wait(0.5)
            stopped.wait(LIVE_START_DELAY_S)
            sim = _Live(config, client, credentials, street, stopped=stopped)
            with _listening(sim):
                sim.run_forever()

    thread = threading.Thread(target=main, name="urbanops-simulator", daemon=True)
    thread.start()
    return LiveSimulator(thread, stopped)
