"""Dispatch operations (派遣): recommend officers, assign in one call, auto-dispatch emergencies.

- ``recommend``: the available officers for a case ranked by arrival time (``recommend.py``),
  own grid, then neighbouring grids, then (when allowed) the rest; with the officers who are
  not available and why (``busy``, ``training``, ``leave``, ``off_duty``, ``pending_offer``,
  ``offline``, ``no_position``, and ``timed_out`` / ``declined`` for officers this case already
  passed over).
- ``assign``: one call registers a reported case (if the actor may), dispatches it (or
  redispatches it when already dispatched) and records the offer.
- ``auto_dispatch``: an emergency (紧急案件) goes to the best officer at once, as the system
  actor ``AUTO_DISPATCHER``. An emergency skips 核实: where its channel asks for verification,
  the timeline records a ``verify`` row that says it was skipped for the emergency, so the skip
  is visible, then 立案 and 派遣 follow in the same transaction.
- ``time_out``: the 5/10 mechanism (see ``tasks``): an emergency not accepted within its response
  limit goes to the next officer and the shift leader (值班长) is alerted.
- ``on_case_event``: offers follow the case (accepted, declined, withdrawn) and an officer is
  ``busy`` while he holds an accepted case, ``on_duty`` again once he has none (only from and
  to those two statuses: training, leave and off-duty are never overridden).

Only an officer with an open offer on an *emergency* counts as held (``pending_offer``): an
officer may have several ordinary cases waiting at once, but is asked one emergency at a time.

Services flush, never commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from urbanops.alerts.models import AlertKind, Severity
from urbanops.alerts.service import raise_alert
from urbanops.cases import deadlines, workflow
from urbanops.cases import service as cases
from urbanops.cases.events import CaseEvent
from urbanops.cases.models import Case, CaseState, Stage, TimelineEntry
from urbanops.config import Settings
from urbanops.dispatch.models import DispatchOffer, OfferOutcome
from urbanops.dispatch.recommend import (
    SPEED_MPS,
    CandidateRow,
    CandidateSet,
    Ranked,
    order_key,
)
from urbanops.dispatch.roster import (
    PositionSource,
    Roster,
    RosterEntry,
    devices_of,
    neighbours,
    stored_fixes,
)
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.errors import Conflict, InvalidInput
from urbanops.workforce import service as workforce
from urbanops.workforce.models import DutyStatus, Officer, TravelMode

log = logging.getLogger(__name__)

#: The system actor of automatic dispatch, in the timeline as 自动派遣.
AUTO_DISPATCHER = Actor(
    kind="system", id=None, name="自动派遣", roles=frozenset({Role.OPERATOR, Role.DISPATCHER})
)
#: Alert kind raised when an emergency finds no available officer (无可派遣队员).
NO_OFFICER_AVAILABLE = AlertKind.NO_OFFICER_AVAILABLE
#: Seconds per unit of a stage limit, to compare a response limit with arrival times. Working
#: units count as continuous here: an officer travels in real time.
LIMIT_UNIT_SECONDS: dict[LimitUnit, float] = {
    LimitUnit.URGENT_HOUR: 3600.0,
    LimitUnit.WORK_HOUR: 3600.0,
    LimitUnit.WORK_DAY: 8 * 3600.0,
    LimitUnit.NATURAL_DAY: 86_400.0,
}
DISPATCHABLE = (CaseState.REPORTED, CaseState.REGISTERED, CaseState.DISPATCHED)
#: Offer outcomes that keep an officer from being asked the same case again automatically.
PASSED_OVER = (OfferOutcome.TIMED_OUT, OfferOutcome.DECLINED)


@dataclass
class DispatchContext:
    """What dispatch needs besides a session: settings, the roster, this process's positions.

    It also keeps the arrays of every on-duty officer with a position, for the rare
    recommendation that must look beyond the own and neighbouring grids: rebuilt when the roster
    changes or after ``everyone_ttl_s`` seconds, so a far officer's position may be that old
    (offline is still judged at the moment of each recommendation).
    """

    settings: Settings
    roster: Roster
    positions: PositionSource | None = None
    speeds: Mapping[TravelMode, float] = field(default_factory=lambda: dict(SPEED_MPS))
    everyone_ttl_s: float = 2.0
    _everyone: tuple[float, int, CandidateSet] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, settings: Settings, positions: PositionSource | None = None) -> DispatchContext:
        return cls(settings, Roster(ttl_s=settings.dispatch_roster_ttl_s), positions)

    def everyone(self, session: Session | None, *, now: datetime) -> CandidateSet:
        """Every on-duty officer with a known position, as arrays (see the class docstring)."""
        self.roster.refresh(session)
        cached, version = self._everyone, self.roster.version
        fresh = cached is not None and time.monotonic() - cached[0] <= self.everyone_ttl_s
        if cached is not None and fresh and cached[1] == version:
            return cached[2]
        entries = self.roster.entries(session)
        on_duty = [e for e in entries if e.duty_status is DutyStatus.ON_DUTY]
        fixes = latest_positions(session, on_duty, now=now, context=self)
        built = CandidateSet.from_rows(_rows(on_duty, fixes), speeds=self.speeds)
        self._everyone = (time.monotonic(), version, built)
        return built


@dataclass(frozen=True)
class Unavailable:
    """An officer of the case's grids who cannot be recommended now, and why."""

    officer_id: int
    user_id: int
    name: str
    grid_code: str | None
    reason: str


@dataclass(frozen=True)
class Recommendation:
    """Ranked available officers for a case, and the officers of its grids who are not."""

    case_id: int
    grid_code: str | None
    neighbours: frozenset[str]
    response_limit_s: float | None
    ranked: list[Ranked]
    unavailable: list[Unavailable]


@dataclass(frozen=True)
class Assignment:
    """What ``assign`` did: the case as it is now, the officer chosen, and the action taken."""

    case: Case
    officer: Ranked
    action: str
    offer: DispatchOffer


# --- recommendation ------------------------------------------------------------------------------


def recommend(
    session: Session,
    *,
    case: Case,
    now: datetime,
    context: DispatchContext,
    limit: int = 10,
    exclude: Mapping[int, str] | None = None,
) -> Recommendation:
    """Officers for ``case`` by arrival time; ``exclude``: user id → why he is left out."""
    settings = context.settings
    grid = case.responsibility_grid_code
    near = (
        neighbours(session, grid_code=grid, within_m=settings.dispatch_neighbour_distance_m)
        if grid is not None
        else frozenset()
    )
    limit_s = response_limit_s(session, case)
    scene = Scene(
        lon=case.lon,
        lat=case.lat,
        grid_code=grid,
        neighbours=near,
        response_limit_s=(
            travel_budget_s(limit_s, settings) if settings.dispatch_prefer_in_limit else None
        ),
    )
    held = held_by_emergencies(session, except_case=case.id)
    ranked, unavailable = recommend_at(
        session, scene, now=now, context=context, limit=limit, held=held, exclude=exclude
    )
    return Recommendation(case.id, grid, near, limit_s, ranked, unavailable)


@dataclass(frozen=True)
class Scene:
    """Where help is needed: the point, its grid and neighbours, and the response limit."""

    lon: float
    lat: float
    grid_code: str | None
    neighbours: frozenset[str] = frozenset()
    response_limit_s: float | None = None


def recommend_at(
    session: Session | None,
    scene: Scene,
    *,
    now: datetime,
    context: DispatchContext,
    limit: int = 10,
    held: set[int] | frozenset[int] = frozenset(),
    exclude: Mapping[int, str] | None = None,
) -> tuple[list[Ranked], list[Unavailable]]:
    """The ranking behind ``recommend``; with ``session`` None it reads memory only.

    The own and neighbouring grids' officers are looked at first (a few dozen); everyone else
    only when they have nobody available, or nobody within the response limit, and the settings
    allow other grids. The unavailable list covers the own and neighbouring grids.
    """
    settings = context.settings
    local = [scene.grid_code, *sorted(scene.neighbours)] if scene.grid_code is not None else []
    entries = context.roster.entries(session, grids=local)
    exclude = exclude or {}
    nearby, unavailable = available(
        session, entries, now=now, context=context, held=held, exclude=exclude
    )
    ranked = _rank(scene, nearby, context, limit, everyone=False)
    if settings.dispatch_allow_other_grids and _needs_other_grids(ranked, scene.response_limit_s):
        others = context.everyone(session, now=now).rank(
            lon=scene.lon, lat=scene.lat, grid_code=scene.grid_code,
            neighbours=scene.neighbours, road_factor=settings.dispatch_road_factor, limit=limit,
            response_limit_s=scene.response_limit_s, include_elsewhere=True,
            exclude_user_ids=[*held, *exclude], exclude_grids=local,
            fixed_since=now - timedelta(seconds=settings.device_offline_after_s),
        )  # fmt: skip
        # Nobody near makes the limit (else no fallback): whoever does goes first.
        merged = sorted(
            [*ranked, *others], key=lambda r: order_key(r, in_time_first=scene.response_limit_s)
        )
        ranked = merged[:limit]
    return ranked, unavailable


def _rank(
    scene: Scene,
    rows: list[CandidateRow],
    context: DispatchContext,
    limit: int,
    *,
    everyone: bool,
) -> list[Ranked]:
    return CandidateSet.from_rows(rows, speeds=context.speeds).rank(
        lon=scene.lon,
        lat=scene.lat,
        grid_code=scene.grid_code,
        neighbours=scene.neighbours,
        road_factor=context.settings.dispatch_road_factor,
        limit=limit,
        response_limit_s=scene.response_limit_s,
        include_elsewhere=everyone,
    )


def _needs_other_grids(ranked: list[Ranked], limit_s: float | None) -> bool:
    """Nobody in the own and neighbouring grids, or nobody there within the response limit."""
    return not ranked or (limit_s is not None and ranked[0].eta_s > limit_s)


def travel_budget_s(limit_s: float, settings: Settings) -> float:
    """What of the response limit is left for travel once the officer has seen and accepted
    the task (``dispatch_accept_allowance_s``); never less than half the limit."""
    return max(limit_s - settings.dispatch_accept_allowance_s, limit_s / 2)


def response_limit_s(session: Session, case: Case) -> float:
    """The case's response limit (RESPOND stage: 5 minutes for an emergency) in seconds."""
    amount, unit = deadlines.stage_limit(session, case=case, stage=Stage.RESPOND)
    return float(amount) * LIMIT_UNIT_SECONDS[LimitUnit(unit)]


def held_by_emergencies(session: Session, *, except_case: int | None = None) -> set[int]:
    """Users with an open offer of an emergency (other than ``except_case``)."""
    query = (
        select(DispatchOffer.user_id)
        .join(Case, Case.id == DispatchOffer.case_id)
        .where(DispatchOffer.outcome == OfferOutcome.PENDING, Case.is_emergency.is_(True))
    )
    if except_case is not None:
        query = query.where(DispatchOffer.case_id != except_case)
    return set(session.scalars(query))


def available(
    session: Session | None,
    entries: Iterable[RosterEntry],
    *,
    now: datetime,
    context: DispatchContext,
    held: set[int] | frozenset[int] = frozenset(),
    exclude: Mapping[int, str] | None = None,
) -> tuple[list[CandidateRow], list[Unavailable]]:
    """Split officers into candidates (on duty, free, with a recent position) and the rest."""
    exclude = exclude or {}
    unavailable: list[Unavailable] = []
    waiting: list[RosterEntry] = []
    for e in entries:
        reason = exclude.get(e.user_id)
        if reason is None and e.duty_status is not DutyStatus.ON_DUTY:
            reason = DutyStatus(e.duty_status).value
        if reason is None and e.user_id in held:
            reason = "pending_offer"
        if reason is None:
            waiting.append(e)
        else:
            unavailable.append(_unavailable(e, reason))
    fixes = latest_positions(session, waiting, now=now, context=context)
    fresh_from = now - timedelta(seconds=context.settings.device_offline_after_s)
    rows: list[CandidateRow] = []
    for e in waiting:
        fix = fixes.get(e.user_id)
        if fix is None:
            unavailable.append(_unavailable(e, "no_position"))
        elif fix[2] < fresh_from:
            unavailable.append(_unavailable(e, "offline"))
        else:
            rows.append(
                (e.officer_id, e.user_id, e.name, e.grid_code, e.travel_mode, *fix)
            )  # fmt: skip
    return rows, unavailable


def _rows(entries: Iterable[RosterEntry], fixes: Mapping[int, Position]) -> list[CandidateRow]:
    """Candidate rows of the officers with a position."""
    return [
        (e.officer_id, e.user_id, e.name, e.grid_code, e.travel_mode, *fixes[e.user_id])
        for e in entries
        if e.user_id in fixes
    ]


def _unavailable(e: RosterEntry, reason: str) -> Unavailable:
    return Unavailable(e.officer_id, e.user_id, e.name, e.grid_code, reason)


Position = tuple[float, float, datetime]


def latest_positions(
    session: Session | None,
    entries: list[RosterEntry],
    *,
    now: datetime,
    context: DispatchContext,
) -> dict[int, Position]:
    """User id → (lon, lat, at) of the newest fix of his devices.

    This process's fixes first; a device it has no recent fix of is looked up in
    ``position_latest`` (written by every process), and an officer the roster knows no device
    of has his devices looked up (one may have been bound since the roster was loaded).
    """
    fresh_from = now - timedelta(seconds=context.settings.device_offline_after_s)
    latest = context.positions.latest if context.positions is not None else None
    best: dict[int, Position] = {}
    owner: dict[int, int] = {}
    to_read: list[int] = []
    unknown: list[int] = []
    for e in entries:
        if not e.device_ids:
            unknown.append(e.user_id)
            continue
        if latest is not None:
            for device_id in e.device_ids:
                fix = latest(device_id)
                if fix is not None:
                    _keep_newest(best, e.user_id, (fix.lon, fix.lat, fix.at))
        found = best.get(e.user_id)
        if found is None or found[2] < fresh_from:
            owner.update((d, e.user_id) for d in e.device_ids)
            to_read.extend(e.device_ids)
    if session is None:
        return best
    if unknown:
        for user_id, device_ids in devices_of(session, unknown).items():
            context.roster.note_devices(user_id=user_id, device_ids=device_ids)
            for device_id in device_ids:
                owner[device_id] = user_id
                fix = latest(device_id) if latest is not None else None
                if fix is not None:
                    _keep_newest(best, user_id, (fix.lon, fix.lat, fix.at))
            to_read.extend(device_ids)
    for device_id, stored in stored_fixes(session, to_read).items():
        _keep_newest(best, owner[device_id], (stored.lon, stored.lat, stored.at))
    return best


def _keep_newest(best: dict[int, Position], user_id: int, position: Position) -> None:
    current = best.get(user_id)
    if current is None or position[2] > current[2]:
        best[user_id] = position


def evaluate_officer(
    session: Session, *, case: Case, user_id: int, now: datetime, context: DispatchContext
) -> Ranked:
    """One officer's tier, distance and ETA for ``case``; 422 if not an officer, 409 if not free."""
    officer = session.scalar(select(Officer).where(Officer.user_id == user_id))
    entry = context.roster.entry(session, user_id=user_id)
    if officer is None or entry is None:
        context.roster.invalidate()
        entry = context.roster.entry(session, user_id=user_id)
    if officer is None or entry is None:
        raise InvalidInput(
            f"User {user_id} is not an active officer",
            code="officer_not_eligible",
            officer_user_id=user_id,
        )
    if entry.duty_status is not officer.duty_status:  # the row is the truth; the roster follows
        context.roster.note_duty(officer_id=officer.id, status=officer.duty_status.value)
        entry = context.roster.entry(session, user_id=user_id) or entry
    held = held_by_emergencies(session, except_case=case.id)
    rows, unavailable = available(session, [entry], now=now, context=context, held=held)
    if unavailable:
        reason = unavailable[0].reason
        raise Conflict(
            f"{entry.name} is not available for dispatch ({reason})",
            code="officer_unavailable",
            reason=reason,
            officer_user_id=user_id,
        )
    grid = case.responsibility_grid_code
    near = (
        neighbours(session, grid_code=grid, within_m=context.settings.dispatch_neighbour_distance_m)
        if grid is not None
        else frozenset()
    )
    scene = Scene(lon=case.lon, lat=case.lat, grid_code=grid, neighbours=near)
    [ranked] = _rank(scene, rows, context, 1, everyone=True)
    return ranked


def _still_on_duty(session: Session, user_id: int, context: DispatchContext) -> bool:
    """Re-read the officer's row before giving him a case (the roster may be stale)."""
    row = session.execute(
        select(Officer.id, Officer.duty_status).where(Officer.user_id == user_id)
    ).first()
    if row is None:
        context.roster.invalidate()
        return False
    if row.duty_status is not DutyStatus.ON_DUTY:
        context.roster.note_duty(officer_id=row.id, status=DutyStatus(row.duty_status).value)
        return False
    return True


# --- assignment ----------------------------------------------------------------------------------


def assign(
    session: Session,
    *,
    case_id: int,
    by: Actor,
    now: datetime,
    context: DispatchContext,
    officer_user_id: int | None = None,
    expected_version: int | None = None,
    note: str | None = None,
) -> Assignment:
    """Give the case to ``officer_user_id``, or to the best officer when None (one call)."""
    case = cases.get_case(session, case_id=case_id)
    if case.state not in DISPATCHABLE:
        raise Conflict(
            f"A {case.state.value} case cannot be assigned",
            code="transition_not_allowed",
            state=case.state.value,
        )
    if officer_user_id is None:
        chosen = _best(session, case, now=now, context=context, exclude=_current(case))
        if chosen is None:
            raise Conflict("No officer is available for this case", code=NO_OFFICER_AVAILABLE)
    else:
        if case.state is CaseState.DISPATCHED and case.officer_id == officer_user_id:
            raise Conflict("The case is already dispatched to him", code="already_assigned")
        chosen = evaluate_officer(
            session, case=case, user_id=officer_user_id, now=now, context=context
        )
    return give(session, case, chosen, by=by, now=now, expected_version=expected_version, note=note)


def _current(case: Case) -> dict[int, str]:
    if case.state is CaseState.DISPATCHED and case.officer_id is not None:
        return {case.officer_id: "current"}
    return {}


def _best(
    session: Session,
    case: Case,
    *,
    now: datetime,
    context: DispatchContext,
    exclude: Mapping[int, str],
) -> Ranked | None:
    """The best officer whose row still says he is on duty."""
    for chosen in recommend(
        session, case=case, now=now, context=context, limit=5, exclude=exclude
    ).ranked:
        if _still_on_duty(session, chosen.candidate.user_id, context):
            return chosen
    return None


def give(
    session: Session,
    case: Case,
    chosen: Ranked,
    *,
    by: Actor,
    now: datetime,
    expected_version: int | None = None,
    note: str | None = None,
    reason: str | None = None,
) -> Assignment:
    """Register (if reported), dispatch or redispatch to ``chosen``, and open his offer."""
    version = expected_version
    if case.state is CaseState.REPORTED:
        _register(session, case, by=by, now=now, expected_version=version)
        version = None
    action = "redispatch" if case.state is CaseState.DISPATCHED else "dispatch"
    data = {
        "tier": chosen.tier,
        "eta_s": round(chosen.eta_s, 1),
        "distance_m": round(chosen.distance_m, 1),
    }
    case = cases.act(
        session, case_id=case.id, action=action, by=by, now=now,
        officer_id=chosen.candidate.user_id, expected_version=version, note=note, reason=reason,
        data=data,
    )  # fmt: skip
    offer = open_offer(session, case=case, by=by.ref, now=now, ranked=chosen)
    return Assignment(case, chosen, action, offer)


def _register(
    session: Session, case: Case, *, by: Actor, now: datetime, expected_version: int | None
) -> None:
    """立案; an emergency whose channel asks for 核实 records the skipped check first."""
    workflow.require("register", case.state, by)
    if case.verification_required and case.verified_at is None and case.is_emergency:
        cases.act(
            session, case_id=case.id, action="verify", by=by, now=now,
            expected_version=expected_version, note="紧急案件：免核实，直接立案派遣",
            data={"skipped_for_emergency": True},
        )  # fmt: skip
        expected_version = None
    cases.act(
        session, case_id=case.id, action="register", by=by, now=now,
        expected_version=expected_version,
    )  # fmt: skip


# --- offers --------------------------------------------------------------------------------------


def offers_of(session: Session, *, case_id: int) -> list[DispatchOffer]:
    """The case's offers, oldest first (re-read from the database)."""
    query = (
        select(DispatchOffer)
        .where(DispatchOffer.case_id == case_id)
        .order_by(DispatchOffer.attempt)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def close_offer(
    session: Session, offer: DispatchOffer, *, outcome: OfferOutcome, at: datetime
) -> bool:
    """End a pending offer; False when it was no longer pending (someone else ended it)."""
    result = session.execute(
        update(DispatchOffer)
        .where(DispatchOffer.id == offer.id, DispatchOffer.outcome == OfferOutcome.PENDING)
        .values(outcome=outcome, closed_at=at)
        .execution_options(synchronize_session=False)
    )
    won = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if won:
        session.expire(offer, ["outcome", "closed_at"])
    return won


def open_offer(
    session: Session,
    *,
    case: Case,
    by: str,
    now: datetime,
    ranked: Ranked | None = None,
) -> DispatchOffer:
    """The pending offer of the case to its officer, opened if missing; other pending ones end."""
    assert case.officer_id is not None
    offers = offers_of(session, case_id=case.id)
    current = None
    for offer in offers:
        if offer.outcome is not OfferOutcome.PENDING:
            continue
        if offer.user_id == case.officer_id and current is None:
            current = offer
        else:
            close_offer(session, offer, outcome=OfferOutcome.WITHDRAWN, at=now)
    if current is not None:
        return current
    offer = DispatchOffer(
        case_id=case.id, user_id=case.officer_id,
        attempt=max((o.attempt for o in offers), default=0) + 1,
        offered_at=case.dispatched_at or now, respond_by=case.due_at,
        outcome=OfferOutcome.PENDING, offered_by=by,
        eta_s=ranked.eta_s if ranked else None, distance_m=ranked.distance_m if ranked else None,
    )  # fmt: skip
    try:
        with session.begin_nested():  # a racing writer may open the same attempt first
            session.add(offer)
    except IntegrityError:
        again = [o for o in offers_of(session, case_id=case.id) if o.user_id == case.officer_id]
        if again and again[-1].outcome is OfferOutcome.PENDING:
            return again[-1]
        raise
    return offer


def passed_over(session: Session, *, case_id: int) -> dict[int, str]:
    """Users who timed out on, declined or returned (退单) this case: not asked again
    automatically."""
    rows = session.execute(
        select(DispatchOffer.user_id, DispatchOffer.outcome).where(
            DispatchOffer.case_id == case_id, DispatchOffer.outcome.in_(PASSED_OVER)
        )
    )
    found = {user_id: OfferOutcome(outcome).value for user_id, outcome in rows}
    returns = session.scalars(
        select(TimelineEntry.data).where(
            TimelineEntry.case_id == case_id, TimelineEntry.action == "return"
        )
    )
    for data in returns:
        user_id = (data or {}).get("returned_by_officer")
        if isinstance(user_id, int):
            found.setdefault(user_id, "returned")
    return found


# --- emergencies ---------------------------------------------------------------------------------


def auto_dispatch(
    session: Session,
    *,
    case_id: int,
    now: datetime,
    context: DispatchContext,
    number: str | None = None,
) -> Assignment | None:
    """Dispatch an undispatched emergency to the best officer at once; None if not done.

    Nobody available raises ``no_officer_available`` to the shift leader (once per case while
    open); the dispatch job tries again on each pass. A case someone else changed meanwhile is
    left alone (a lost race is no error).
    """
    case = session.get(Case, case_id, populate_existing=True)
    if case is None or (number is not None and case.number != number):
        return None  # another database's case (events are process-wide)
    if not case.is_emergency or case.state not in (CaseState.REPORTED, CaseState.REGISTERED):
        return None
    chosen = _best(
        session, case, now=now, context=context, exclude=passed_over(session, case_id=case.id)
    )
    if chosen is None:
        alert_no_officer(session, case, now=now)
        return None
    note = f"紧急案件自动派遣：{chosen.candidate.name}，预计 {chosen.eta_s / 60:.1f} 分钟到达"
    try:
        with session.begin_nested():
            return give(
                session, case, chosen, by=AUTO_DISPATCHER, now=now,
                expected_version=case.version, note=note,
            )  # fmt: skip
    except Conflict as exc:
        log.info("auto-dispatch of case %s lost to another change: %s", case_id, exc)
        return None


def time_out(
    session: Session, *, case: Case, now: datetime, context: DispatchContext
) -> Assignment | None:
    """The 5/10 mechanism for one late emergency: alert, and move it to the next officer.

    ``case`` is dispatched, an emergency, and past its RESPOND deadline. The officer's offer ends
    ``timed_out`` and the case is redispatched, both in one savepoint and only if this call still
    finds the offer pending and the case at the version it read (else another process won). With
    nobody else available the case stays with him and the shift leader hears of that too.
    """
    late_user = case.officer_id
    assert late_user is not None
    offer = open_offer(session, case=case, by=AUTO_DISPATCHER.ref, now=now)
    limit = _limit_text(case)
    raise_alert(
        session, kind=AlertKind.DISPATCH_TIMEOUT, at=now, severity=Severity.CRITICAL,
        title=f"紧急案件 {case.number} 派遣后 {limit}内未响应", user_id=late_user,
        case_id=case.id, grid_code=case.responsibility_grid_code, to_role=Role.SHIFT_LEADER.value,
        data={"attempt": offer.attempt, "respond_by": _iso(case.due_at)},
        dedupe_key=f"dispatch_timeout:{case.id}:{offer.attempt}",
    )  # fmt: skip
    exclude = {**passed_over(session, case_id=case.id), late_user: "timed_out"}
    chosen = _best(session, case, now=now, context=context, exclude=exclude)
    if chosen is None:
        alert_no_officer(session, case, now=now)
        return None
    reason = f"{limit}内未响应，自动改派给 {chosen.candidate.name}"
    version = case.version
    try:
        with session.begin_nested():
            if not close_offer(session, offer, outcome=OfferOutcome.TIMED_OUT, at=now):
                raise _LostRace
            return give(
                session, case, chosen, by=AUTO_DISPATCHER, now=now, expected_version=version,
                reason=reason,
            )  # fmt: skip
    except (Conflict, _LostRace):
        log.info("time-out of case %s already handled elsewhere", case.id)
        return None


class _LostRace(Exception):
    """Another process ended the offer first."""


def _limit_text(case: Case) -> str:
    """The running stage's limit in words, e.g. ``5 分钟``."""
    if case.stage_limit_amount is None or case.stage_limit_unit is None:
        return "时限"
    seconds = case.stage_limit_amount * LIMIT_UNIT_SECONDS[LimitUnit(case.stage_limit_unit)]
    if seconds < 3600:
        return f"{seconds / 60:g} 分钟"
    return f"{seconds / 3600:g} 小时"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def alert_no_officer(session: Session, case: Case, *, now: datetime) -> None:
    """Tell the shift leader that an emergency has nobody to go (once while the alert is open)."""
    raise_alert(
        session, kind=NO_OFFICER_AVAILABLE, at=now, severity=Severity.CRITICAL,
        title=f"紧急案件 {case.number} 无可派遣队员", case_id=case.id,
        grid_code=case.responsibility_grid_code, to_role=Role.SHIFT_LEADER.value,
        dedupe_key=f"no_officer_available:{case.id}",
    )  # fmt: skip


# --- following the case: offers and busy --------------------------------------------------------


def on_case_event(session: Session, *, event: CaseEvent) -> None:
    """Bring offers and duty status in line with a committed case change."""
    case = session.get(Case, event.case_id, populate_existing=True)
    if case is None or case.number != event.number:
        return  # another database's case
    offers = offers_of(session, case_id=case.id)
    for offer in offers:
        if offer.outcome is OfferOutcome.PENDING:
            outcome = _ended(case, offer)
            if outcome is not None:
                close_offer(session, offer, outcome=outcome, at=event.at)
    if case.state is CaseState.DISPATCHED and case.officer_id is not None:
        open_offer(session, case=case, by=_dispatcher_ref(session, case.id), now=event.at)
    users = {o.user_id for o in offers} | ({case.officer_id} if case.officer_id else set())
    sync_busy(session, user_ids=users, now=event.at)


def _ended(case: Case, offer: DispatchOffer) -> OfferOutcome | None:
    """How a pending offer ended, judging by the case now (None: it still waits)."""
    if case.officer_id == offer.user_id:
        if case.state is CaseState.DISPATCHED:
            return None
        if case.accepted_at is not None and case.accepted_at >= offer.offered_at:
            return OfferOutcome.ACCEPTED
        if case.state in (CaseState.REPORTED, CaseState.REGISTERED):
            return OfferOutcome.DECLINED
        return OfferOutcome.WITHDRAWN
    if case.state in (CaseState.REPORTED, CaseState.REGISTERED):
        return OfferOutcome.DECLINED  # returned (回退) before he took it
    return OfferOutcome.WITHDRAWN


def _dispatcher_ref(session: Session, case_id: int) -> str:
    """Who made the case's latest dispatch, from its timeline."""
    ref = session.scalar(
        select(TimelineEntry.actor_ref)
        .where(
            TimelineEntry.case_id == case_id,
            TimelineEntry.action.in_(("dispatch", "redispatch", "rework")),
        )
        .order_by(TimelineEntry.id.desc())
        .limit(1)
    )
    return ref or AUTO_DISPATCHER.ref


def reconcile_offers(session: Session, *, now: datetime, batch: int = 500) -> int:
    """End pending offers whose case moved on without us hearing of it; the count ended."""
    rows = session.execute(
        select(DispatchOffer, Case)
        .join(Case, Case.id == DispatchOffer.case_id)
        .where(
            DispatchOffer.outcome == OfferOutcome.PENDING,
            (Case.state != CaseState.DISPATCHED) | (Case.officer_id != DispatchOffer.user_id),
        )
        .order_by(DispatchOffer.id)
        .limit(batch)
    ).all()
    ended = 0
    for offer, case in rows:
        outcome = _ended(case, offer)
        if outcome is not None and close_offer(session, offer, outcome=outcome, at=now):
            ended += 1
    return ended


def sync_busy(session: Session, *, user_ids: Iterable[int], now: datetime) -> None:
    """``busy`` while an officer holds an accepted case, ``on_duty`` once he holds none."""
    for user_id in sorted(set(user_ids)):
        officer = session.scalar(
            select(Officer)
            .where(Officer.user_id == user_id)
            .execution_options(populate_existing=True)
        )
        if officer is None:
            continue
        working = session.scalar(
            select(exists().where(Case.officer_id == user_id, Case.state == CaseState.ACCEPTED))
        )
        if working and officer.duty_status is DutyStatus.ON_DUTY:
            target, why = DutyStatus.BUSY, "签收案件，处置中"
        elif not working and officer.duty_status is DutyStatus.BUSY:
            target, why = DutyStatus.ON_DUTY, "案件处置完毕"
        else:
            continue
        workforce.set_duty(
            session, officer=officer, status=target, reason=why, by=AUTO_DISPATCHER, now=now
        )
