"""The three ways of answering the same emergencies that ``urbanops simulate`` compares.

(i) *platform*: what happened in the simulation, through the real API and dispatch.
(ii) *grid only* (仅本网格): a replay that sends the nearest free officer of the case's own
responsibility grid, or waits for the first of them to be free; no re-dispatch.
(iii) *bound* (最优上界): the best any dispatcher could do with perfect foresight.

Both replays use the run's own record: the same emergencies (time, place, handling time), the
same officers with the same bodies (where each one was at every instant), the same ordinary work
keeping them busy, and the same acceptance delay for the same officer on the same emergency.

The bound is exact in this model: it maximises the number of emergencies reached within the
limit, then the number handled within theirs, over every assignment in which an officer works
one emergency at a time, starts no sooner than the report and no sooner than he is free of
ordinary work, needs his acceptance delay, and travels from where he was at that instant. The
platform's own successes form such an assignment (its officer is notified at the report instant
and stops there), so the bound is never below the platform's 5-minute share. Search: emergencies
that share no officer who could reach both in time are independent; inside a group, a
depth-first search in time order where an officer who cannot be needed later by the group is
taken without branching (taking him can only help), and branches only among officers who might
be. Should a group ever exceed ``NODE_BUDGET`` search nodes, the rest of it is relaxed by
dropping the one-at-a-time constraint, which can only raise the figure: it stays an upper bound
(``Share.exact`` says which).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from urbanops.demo.sim_world import Body

REACH_LIMIT_S = 5 * 60.0
HANDLE_LIMIT_S = 10 * 60.0
NODE_BUDGET = 200_000


@dataclass
class OfficerTrack:
    """One officer as the replays see him: speed to a task, body, and ordinary work."""

    index: int
    user_id: int
    grid_code: str
    speed_mps: float
    body: Body
    #: Busy on ordinary (non-emergency) cases: from acceptance to handling, in run seconds.
    ordinary: list[tuple[float, float]] = field(default_factory=list)
    #: When his device's fixes were sent (what the platform could see of him).
    fix_times: list[float] = field(default_factory=list)

    def seen(self, t: float) -> tuple[float, float]:
        """Where the platform last saw him at ``t``: his latest fix sent by then."""
        i = bisect.bisect_right(self.fix_times, t) - 1
        return self.body.at(self.fix_times[i] if i >= 0 else t)

    def free_from(self, t: float, extra: Iterable[tuple[float, float]] = ()) -> float:
        """The first instant at or after ``t`` when no busy interval holds him."""
        spans = sorted([*self.ordinary, *extra])
        moved = True
        while moved:
            moved = False
            for start, end in spans:
                if start <= t < end:
                    t, moved = end, True
        return t


@dataclass
class EmergencyRecord:
    """An emergency of the run: where and when, its drawn handling time and acceptance delays."""

    case_id: int
    number: str
    channel: str
    t: float
    x: float
    y: float
    grid_code: str | None
    handle_s: float
    #: Acceptance delay of each officer (by ``OfficerTrack.index``) for this emergency.
    delays: np.ndarray
    # What the platform did (filled in as the run goes).
    dispatches: list[tuple[float, int]] = field(default_factory=list)
    accepted_at: float | None = None
    officer: int | None = None
    reached_at: float | None = None
    handled_at: float | None = None


@dataclass(frozen=True)
class Outcome:
    """One emergency's answer: seconds from report to arrival, and from acceptance to handled."""

    reached_s: float | None
    handled_s: float | None


@dataclass(frozen=True)
class Share:
    """How many of ``total`` emergencies were reached and handled in time."""

    total: int
    reached: int
    handled: int
    exact: bool = True

    @property
    def reached_share(self) -> float:
        return self.reached / self.total if self.total else 1.0

    @property
    def handled_share(self) -> float:
        return self.handled / self.total if self.total else 1.0


def share_of(outcomes: Sequence[Outcome], *, exact: bool = True) -> Share:
    return Share(
        total=len(outcomes),
        reached=sum(o.reached_s is not None and o.reached_s <= REACH_LIMIT_S for o in outcomes),
        handled=sum(o.handled_s is not None and o.handled_s <= HANDLE_LIMIT_S for o in outcomes),
        exact=exact,
    )


def platform(emergencies: Sequence[EmergencyRecord]) -> list[Outcome]:
    """(i) What the run did."""
    return [
        Outcome(
            None if e.reached_at is None else e.reached_at - e.t,
            None if e.handled_at is None or e.accepted_at is None else e.handled_at - e.accepted_at,
        )
        for e in emergencies
    ]


def travel_s(track: OfficerTrack, x: float, y: float, at: float, road_factor: float) -> float:
    """Seconds from where the officer is at ``at`` to ``(x, y)``: straight × road factor / speed."""
    return _eta(track, track.body.at(at), x, y, road_factor)


def _eta(
    track: OfficerTrack, where: tuple[float, float], x: float, y: float, road_factor: float
) -> float:
    return math.hypot(x - where[0], y - where[1]) * road_factor / track.speed_mps


# --- (ii) the grid-only baseline ---------------------------------------------------------------


def grid_only(
    emergencies: Sequence[EmergencyRecord],
    officers: Sequence[OfficerTrack],
    *,
    road_factor: float,
) -> list[Outcome]:
    """(ii) The nearest free officer of the case's own grid, or the first of them to be free.

    "Nearest" by estimated arrival from the positions a dispatcher would see (each officer's
    latest fix); the travel itself starts from where the officer really is.
    """
    by_grid: dict[str, list[OfficerTrack]] = {}
    for track in officers:
        by_grid.setdefault(track.grid_code, []).append(track)
    busy: dict[int, list[tuple[float, float]]] = {t.index: [] for t in officers}
    outcomes = [Outcome(None, None)] * len(emergencies)
    for i in sorted(range(len(emergencies)), key=lambda i: emergencies[i].t):
        e = emergencies[i]
        own = by_grid.get(e.grid_code or "", [])
        if not own:
            continue
        start = min(track.free_from(e.t, busy[track.index]) for track in own)
        free = [track for track in own if track.free_from(start, busy[track.index]) == start]
        chosen = min(free, key=lambda track: _eta(track, track.seen(start), e.x, e.y, road_factor))
        travel = travel_s(chosen, e.x, e.y, start, road_factor)
        accepted = start + float(e.delays[chosen.index])
        done = accepted + travel + e.handle_s
        busy[chosen.index].append((start, done))
        outcomes[i] = Outcome(accepted + travel - e.t, travel + e.handle_s)
    return outcomes


# --- (iii) the bound ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    officer: int
    start: float
    arrive: float  # seconds after the report
    travel: float
    end: float  # when the officer is free again

    def handled(self, handle_s: float) -> bool:
        return self.travel + handle_s <= HANDLE_LIMIT_S


class _Bound:
    """The exact search of the module docstring, over one run's record."""

    def __init__(
        self,
        emergencies: Sequence[EmergencyRecord],
        officers: Sequence[OfficerTrack],
        road_factor: float,
    ) -> None:
        self.emergencies = sorted(emergencies, key=lambda e: e.t)
        self.officers = list(officers)
        self.road_factor = road_factor
        self.exact = True
        # Officers who could reach each emergency in time, had nobody else needed them.
        self.static = [self._options(e, {}) for e in self.emergencies]
        self.reachers = [{o.officer for o in opts} for opts in self.static]
        # Seconds from acceptance to handled by the best officer free at the report, if any.
        self.best_handled = [self._best_handled(e) for e in self.emergencies]

    def _option(self, e: EmergencyRecord, track: OfficerTrack, busy_until: float) -> _Option | None:
        start = track.free_from(max(e.t, busy_until))
        if start - e.t > REACH_LIMIT_S:
            return None
        travel = travel_s(track, e.x, e.y, start, self.road_factor)
        arrive = start + float(e.delays[track.index]) + travel - e.t
        if arrive > REACH_LIMIT_S:
            return None
        return _Option(track.index, start, arrive, travel, e.t + arrive + e.handle_s)

    def _options(self, e: EmergencyRecord, busy: dict[int, float]) -> list[_Option]:
        found = []
        for track in self.officers:
            option = self._option(e, track, busy.get(track.index, -math.inf))
            if option is not None:
                found.append(option)
        return sorted(found, key=lambda o: o.arrive)

    def _best_handled(self, e: EmergencyRecord) -> float | None:
        """Acceptance to handled by the nearest officer free at the report (conflicts ignored)."""
        times = [
            travel_s(track, e.x, e.y, e.t, self.road_factor) + e.handle_s
            for track in self.officers
            if track.free_from(e.t) == e.t
        ]
        return min(times, default=None)

    def _handled_in_time(self, k: int) -> bool:
        seconds = self.best_handled[k]
        return seconds is not None and seconds <= HANDLE_LIMIT_S

    def groups(self) -> list[list[int]]:
        """Emergencies (indexes) that may compete for an officer, joined; the rest alone."""
        parent = list(range(len(self.emergencies)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for j, ej in enumerate(self.emergencies):
            horizon = ej.t + REACH_LIMIT_S + ej.handle_s
            for k in range(j + 1, len(self.emergencies)):
                if self.emergencies[k].t >= horizon:
                    break
                if self.reachers[j] & self.reachers[k]:
                    parent[root(k)] = root(j)
        groups: dict[int, list[int]] = {}
        for i in range(len(self.emergencies)):
            groups.setdefault(root(i), []).append(i)
        return list(groups.values())

    def solve(self) -> list[Outcome]:
        chosen: dict[int, _Option | None] = {}
        for group in self.groups():
            chosen.update(self._solve_group(group))
        outcomes = []
        for i, e in enumerate(self.emergencies):
            option = chosen.get(i)
            if option is None:
                outcomes.append(Outcome(None, self.best_handled[i]))
            else:
                outcomes.append(Outcome(option.arrive, option.travel + e.handle_s))
        return outcomes

    def _solve_group(self, group: list[int]) -> dict[int, _Option | None]:
        if len(group) == 1:
            e = self.emergencies[group[0]]
            best = max(
                self.static[group[0]],
                key=lambda o: (o.handled(e.handle_s), -o.arrive),
                default=None,
            )
            return {group[0]: best}
        search = _GroupSearch(self, group)
        search.run(0, {}, (0, 0), {})
        self.exact = self.exact and search.exact
        return search.best_picks


class _GroupSearch:
    """Depth-first search over one group of competing emergencies, in time order."""

    def __init__(self, bound: _Bound, group: list[int]) -> None:
        self.bound, self.group = bound, group
        self.best_score: tuple[int, int] = (-1, -1)
        self.best_picks: dict[int, _Option | None] = {}
        self.nodes = 0
        self.exact = True

    def needed_later(self, pos: int, officer: int, end: float) -> bool:
        """Whether an officer busy until ``end`` could be wanted by a later emergency."""
        b = self.bound
        return any(
            b.emergencies[k].t < end and officer in b.reachers[k] for k in self.group[pos + 1 :]
        )

    def run(
        self,
        pos: int,
        busy: dict[int, float],
        score: tuple[int, int],
        picks: dict[int, _Option | None],
    ) -> None:
        self.nodes += 1
        left = len(self.group) - pos
        if (score[0] + left, score[1] + left) <= self.best_score:
            return
        if pos == len(self.group):
            self.best_score, self.best_picks = score, dict(picks)
            return
        if self.nodes > NODE_BUDGET:
            self.relax(pos, score, picks)
            return
        b, k = self.bound, self.group[pos]
        e = b.emergencies[k]
        options = b._options(e, busy) if busy else b.static[k]
        free = [o for o in options if not self.needed_later(pos, o.officer, o.end)]
        branches: list[_Option] = []
        if free:  # one who is not needed later: taking him can only help
            rep = max(free, key=lambda o: (o.handled(e.handle_s), -o.arrive))
            branches.append(rep)
            if not rep.handled(e.handle_s):
                branches += [o for o in options if o not in free and o.handled(e.handle_s)]
        else:
            branches = options
        for option in branches:
            self.run(
                pos + 1,
                {**busy, option.officer: option.end},
                (score[0] + 1, score[1] + option.handled(e.handle_s)),
                {**picks, k: option},
            )
        if not free:  # leaving it unreached can pay only when every officer is needed later
            handled = b._handled_in_time(k)
            self.run(pos + 1, busy, (score[0], score[1] + handled), {**picks, k: None})

    def relax(self, pos: int, score: tuple[int, int], picks: dict[int, _Option | None]) -> None:
        """Over budget: the rest take their best officer each, conflicts ignored (still a bound)."""
        self.exact = False
        b = self.bound
        relaxed = dict(picks)
        reached, handled = score
        for k in self.group[pos:]:
            option = b.static[k][0] if b.static[k] else None
            relaxed[k] = option
            reached += option is not None
            handled += (
                option.handled(b.emergencies[k].handle_s)
                if option is not None
                else b._handled_in_time(k)
            )
        if (reached, handled) > self.best_score:
            self.best_score, self.best_picks = (reached, handled), relaxed


def bound(
    emergencies: Sequence[EmergencyRecord], officers: Sequence[OfficerTrack], *, road_factor: float
) -> tuple[list[Outcome], bool]:
    """(iii) The optimal assignment with perfect foresight; and whether it was solved exactly."""
    solver = _Bound(emergencies, officers, road_factor)
    outcomes = solver.solve()
    order = sorted(range(len(emergencies)), key=lambda i: emergencies[i].t)
    by_original = [Outcome(None, None)] * len(emergencies)
    for rank, original in enumerate(order):
        by_original[original] = outcomes[rank]
    return by_original, solver.exact
