"""The leaders' board's figures (领导看板), as plain dicts, computed in SQL.

Every function takes a session, the instant "now" (or a window) and the local time zone, and
answers plain data the page draws and a benchmark can time. Each is a handful of queries that
filter on indexed columns (``reported_at``, ``closed_at``, ``state``, ``channel``,
``matter_code``, ``responsibility_grid_code``) and let the database count with ``GROUP BY``,
``CASE`` and aggregates: no Python loop touches individual cases, so the board costs the same
few round trips on the demo street and on a city's million cases.

Days are local days (midnight in ``zone``), their bounds computed here and bound as UTC instants,
so the same SQL runs on SQLite and PostgreSQL. "Today against the last 7 and 30 days" compares
like with like: today from midnight to now against the average of the same stretch (midnight to
the same clock time) of each earlier day.

The indicators follow the national evaluation formulas (domain-standards §1.6), with the
definitions this platform can support from its own records:

* 按期结案率 (on-time closure rate) = 按期结案数 / 应结案数. 应结案数 (cases that should be
  closed) = the cases closed in the window plus the open cases already overdue now (their
  running stage is red, or the channel's whole-case limit ``close_by`` has passed). A closure is
  on time when the case never missed a deadline (no ``deadline_missed`` row in its timeline) and
  it closed by ``close_by`` where the channel sets one.
* 结案率 (closure rate) = 结案数 / 应结案数.
* 返工率 (rework rate) = 返工数 / 处置数 over the cases closed in the window: each closed case
  was handled ``1 + rework_count`` times, of which ``rework_count`` were sent back at 核查.
* 平均处置时长 (mean handling time): dispatch to handled, over the cases closed in the window;
  平均结案时长 (mean closing time): reported to closed, less the suspended (挂账) time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from urbanops.areas.models import ResponsibilityGrid
from urbanops.cases.deadlines import STOPPED
from urbanops.cases.models import Case, CaseState, Light, TimelineEntry
from urbanops.cases.workflow import OPEN
from urbanops.catalog.channel_models import Channel
from urbanops.catalog.models import CatalogEntry

#: Dimensions the board counts by: name → the indexed case column.
DIMENSIONS: dict[str, InstrumentedAttribute[Any]] = {
    "channel": Case.channel,
    "matter": Case.matter_code,
    "grid": Case.responsibility_grid_code,
}
#: Cases that are not finished: open states and suspended (挂账) ones.
UNFINISHED = (*OPEN, CaseState.SUSPENDED)
#: How many matters the board lists (the rest are summed as "other").
TOP_MATTERS = 10
#: Placeholder key for cases outside every responsibility grid.
NO_GRID = "-"


@dataclass(frozen=True)
class Window:
    """A half-open stretch of time ``[start, end)`` (timezone-aware)."""

    start: datetime
    end: datetime


def local_midnight(at: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``at``'s local day in ``zone``."""
    local = at.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def today(now: datetime, zone: ZoneInfo) -> Window:
    """From local midnight to ``now``."""
    return Window(local_midnight(now, zone), now)


def last_days(now: datetime, zone: ZoneInfo, days: int) -> Window:
    """The last ``days`` whole local days and today so far."""
    midnight = local_midnight(now, zone)
    return Window(_days_before(midnight, days, zone), now)


def _days_before(midnight: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Local midnight ``days`` days before ``midnight`` (calendar days, not 24-hour steps)."""
    day = midnight.astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=zone)


def _in(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.start, column < window.end)


# --- counts --------


def counts(session: Session, *, window: Window) -> dict[str, dict[str, int]]:
    """Cases reported in ``window`` by channel, by matter and by grid (``DIMENSIONS``), each
    largest first: one pass over the period's index, grouped by the three together and summed
    here over the groups (a few hundred), not over cases."""
    columns = list(DIMENSIONS.values())
    query = select(*columns, func.count()).where(_in(Case.reported_at, window)).group_by(*columns)
    sums: dict[str, dict[str, int]] = {name: {} for name in DIMENSIONS}
    for *keys, n in session.execute(query):
        for name, key in zip(DIMENSIONS, keys, strict=True):
            label = key if key is not None else NO_GRID
            sums[name][label] = sums[name].get(label, 0) + n
    return {
        name: dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))
        for name, found in sums.items()
    }


def counts_by(session: Session, *, dimension: str, window: Window) -> dict[str, int]:
    """Cases reported in ``window`` by channel, matter or grid (``DIMENSIONS``), largest first."""
    return counts(session, window=window)[dimension]


def lights(session: Session, *, now: datetime) -> dict[str, int]:
    """Unfinished cases by their light now (green, yellow, red; none for suspended ones)."""
    running = and_(Case.state.not_in(STOPPED), Case.warn_at.is_not(None), Case.due_at.is_not(None))
    light = case(
        (and_(running, Case.warn_at > now), Light.GREEN.value),
        (and_(running, Case.due_at > now), Light.YELLOW.value),
        (running, Light.RED.value),
        else_=Light.NONE.value,
    )
    query = select(light, func.count()).where(Case.state.in_(UNFINISHED)).group_by(light)
    found = {str(key): n for key, n in session.execute(query)}
    return {item.value: found.get(item.value, 0) for item in Light}


def open_by_grid(session: Session) -> dict[str, int]:
    """Unfinished cases by responsibility grid (the load on each grid now)."""
    column = Case.responsibility_grid_code
    query = (
        select(column, func.count())
        .where(Case.state.in_(UNFINISHED))
        .group_by(column)
        .order_by(func.count().desc(), column)
    )
    return {(key if key is not None else NO_GRID): n for key, n in session.execute(query)}


# --- today against earlier days --------


def daily(
    session: Session, *, now: datetime, zone: ZoneInfo, days: int = 30
) -> dict[str, list[tuple[int, int]]]:
    """Reported and closed per local day, oldest first, over the last ``days`` days and today:
    for each day (total, the part before today's clock time). One query a measure: the day of
    each row is a ``CASE`` over the day bounds computed here (exact for any time zone, the same
    on both databases), and whether it came before the clock time a second ``CASE``.
    """
    midnight = local_midnight(now, zone)
    elapsed = now - midnight
    starts = [_days_before(midnight, back, zone) for back in range(days, -1, -1)]
    series: dict[str, list[tuple[int, int]]] = {}
    for name, column in (("reported", Case.reported_at), ("closed", Case.closed_at)):
        bucket = case(
            *((column < bound, i) for i, bound in enumerate(starts[1:])),
            else_=len(starts) - 1,
        )
        at = column.type  # the values bound as the column stores them (text on SQLite)
        cutoff = case(  # the day's start plus today's clock time, for the row's day
            *((column < bound, literal(start + elapsed, at)) for start, bound in pairwise(starts)),
            else_=literal(starts[-1] + elapsed, at),
        )
        early = column < cutoff
        query = (
            select(bucket, func.count(), func.count().filter(early))
            .where(column >= starts[0], column < now)
            .group_by(bucket)
        )
        found = [(0, 0)] * len(starts)
        for index, total, before in session.execute(query):
            found[int(index)] = (int(total), int(before or 0))
        series[name] = found
    return series


def compare_days(
    session: Session,
    *,
    now: datetime,
    zone: ZoneInfo,
    series: dict[str, list[tuple[int, int]]] | None = None,
) -> dict[str, dict[str, float]]:
    """Reported and closed today against the daily average of the last 7 and 30 days.

    Each earlier day counts only its stretch from midnight to today's clock time, so a board
    looked at in the morning compares mornings (``series``: ``daily``'s answer, if at hand).
    """
    series = series or daily(session, now=now, zone=zone)
    answer: dict[str, dict[str, float]] = {}
    for name, days in series.items():
        before = [early for _total, early in days]
        sum7, sum30 = sum(before[-8:-1]), sum(before[-31:-1])
        answer[name] = {
            "today": before[-1],
            "sum7": sum7,
            "sum30": sum30,
            "avg7": round(sum7 / 7, 1),
            "avg30": round(sum30 / 30, 1),
        }
    return answer


def trend(
    session: Session,
    *,
    now: datetime,
    zone: ZoneInfo,
    days: int = 30,
    series: dict[str, list[tuple[int, int]]] | None = None,
) -> dict[str, Any]:
    """Reported and closed per local day over the last ``days`` days and today (oldest first)."""
    series = series or daily(session, now=now, zone=zone, days=days)
    midnight = local_midnight(now, zone)
    labels = [_days_before(midnight, back, zone).date().isoformat() for back in range(days, -1, -1)]
    return {"days": labels, **{name: [t for t, _ in found] for name, found in series.items()}}


# --- indicators --------


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """``later - earlier`` in seconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def indicators(session: Session, *, window: Window, now: datetime) -> dict[str, Any]:
    """The evaluation indicators of ``window`` (see the module's docstring for definitions)."""
    closed = _in(Case.closed_at, window)
    # the cases that ever missed a deadline, as one set the database hashes once (a correlated
    # EXISTS would probe the timeline once per closed case)
    missed = Case.id.in_(
        select(TimelineEntry.case_id).where(TimelineEntry.action == "deadline_missed")
    )
    on_time = and_(closed, ~missed, or_(Case.close_by.is_(None), Case.closed_at <= Case.close_by))
    handled = and_(closed, Case.dispatched_at.is_not(None), Case.handled_at.is_not(None))
    query = select(
        func.count(),
        func.count().filter(on_time),
        func.coalesce(func.sum(Case.rework_count), 0),
        func.avg(case((handled, _seconds(session, Case.handled_at, Case.dispatched_at)))),
        func.avg(_seconds(session, Case.closed_at, Case.reported_at) - Case.suspended_seconds),
    ).where(closed)
    n_closed, n_on_time, reworks, mean_handle, mean_close = session.execute(query).one()
    # Open and overdue now: past the running stage's deadline, or else past the whole case's.
    # Two counts instead of one OR, so that each is a range of an index, not a read of every
    # open case; cases reported after the window (only for windows in the past) are left out.
    later = [Case.reported_at < window.end] if window.end < now else []
    stage_late = and_(Case.state.in_(OPEN), Case.due_at <= now, *later)
    case_late = and_(
        Case.state.in_(OPEN),
        Case.close_by <= now,
        or_(Case.due_at.is_(None), Case.due_at > now),
        *later,
    )
    overdue_open = sum(
        session.scalar(select(func.count()).where(late)) or 0 for late in (stage_late, case_late)
    )
    due = n_closed + overdue_open
    handlings = n_closed + int(reworks)
    return {
        "closed": n_closed,
        "due": due,
        "on_time": n_on_time,
        "overdue_open": overdue_open,
        "on_time_rate": _rate(n_on_time, due),
        "closure_rate": _rate(n_closed, due),
        "reworks": int(reworks),
        "rework_rate": _rate(int(reworks), handlings),
        "mean_handle_s": None if mean_handle is None else round(float(mean_handle), 1),
        "mean_close_s": None if mean_close is None else round(float(mean_close), 1),
    }


def _rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage with one decimal; None when there is nothing to rate."""
    return None if whole == 0 else round(100.0 * part / whole, 1)


# --- names for the keys --------


def names(
    session: Session, *, channels: Sequence[str], matters: Sequence[str], grids: Sequence[str]
) -> dict[str, dict[str, tuple[str, str]]]:
    """Display names (zh, en) of the channel, matter and grid codes a board shows."""
    answer: dict[str, dict[str, tuple[str, str]]] = {"channel": {}, "matter": {}, "grid": {}}
    if channels:
        query = select(Channel.code, Channel.name, Channel.name_en).where(
            Channel.code.in_(channels)
        )
        answer["channel"] = {code: (zh, en) for code, zh, en in session.execute(query)}
    if matters:
        query2 = select(CatalogEntry.code, CatalogEntry.name).where(
            CatalogEntry.kind == "matter", CatalogEntry.code.in_(matters)
        )
        answer["matter"] = {code: (name, name) for code, name in session.execute(query2)}
    if grids:
        query3 = select(ResponsibilityGrid.code, ResponsibilityGrid.name).where(
            ResponsibilityGrid.code.in_(grids)
        )
        answer["grid"] = {code: (name, name) for code, name in session.execute(query3)}
    return answer


# --- everything the page shows --------

#: A read transaction of the board's database, opened once for each part run concurrently.
ReadSession = Callable[[], AbstractContextManager[Session]]
#: Threads that compute the parts of boards side by side (shared by every board of a process).
_PARTS_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="board")


def _parts(*, now: datetime, zone: ZoneInfo, days: int) -> dict[str, Callable[[Session], Any]]:
    """The board's independent queries, by name: each needs only a session."""
    window = _board_window(now, zone, days)
    month = last_days(now, zone, 30)
    parts: dict[str, Callable[[Session], Any]] = {
        "counts": lambda session: counts(session, window=window),
        "load": open_by_grid,
        "month": lambda session: indicators(session, window=month, now=now),
        "per_day": lambda session: daily(session, now=now, zone=zone),
        "lights": lambda session: lights(session, now=now),
    }
    if days != 30:
        parts["in_window"] = lambda session: indicators(session, window=window, now=now)
    return parts


def _board_window(now: datetime, zone: ZoneInfo, days: int) -> Window:
    return today(now, zone) if days == 0 else last_days(now, zone, days)


def board(session: Session, *, now: datetime, zone: ZoneInfo, days: int = 0) -> dict[str, Any]:
    """The whole board: counts over today (``days=0``) or the last ``days`` days, and the rest."""
    found = {name: part(session) for name, part in _parts(now=now, zone=zone, days=days).items()}
    return _assemble(session, found, now=now, zone=zone, days=days)


def board_concurrently(
    read: ReadSession, *, now: datetime, zone: ZoneInfo, days: int = 0
) -> dict[str, Any]:
    """``board``, its independent queries run side by side, each in its own read transaction
    from ``read``: the page waits for the slowest query instead of their sum (on a month of a
    million cases, about 180 → 125 ms on two cores). Each part sees the database as of its own
    start, like the separate panels of any dashboard; a refresh follows every change."""

    def run(part: Callable[[Session], Any]) -> Any:
        with read() as session:
            return part(session)

    pending = {
        name: _PARTS_POOL.submit(run, part)
        for name, part in _parts(now=now, zone=zone, days=days).items()
    }
    found = {name: future.result() for name, future in pending.items()}
    with read() as session:
        return _assemble(session, found, now=now, zone=zone, days=days)


def _assemble(
    session: Session, found: dict[str, Any], *, now: datetime, zone: ZoneInfo, days: int
) -> dict[str, Any]:
    """The board's dict from its parts' answers (and the display names of what they show)."""
    window = _board_window(now, zone, days)
    by, load, month, per_day = found["counts"], found["load"], found["month"], found["per_day"]
    matters = dict(list(by["matter"].items())[:TOP_MATTERS])
    rest = sum(by["matter"].values()) - sum(matters.values())
    return {
        "now": now.isoformat(),
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "days": days,
        "compare": compare_days(session, now=now, zone=zone, series=per_day),
        "lights": found["lights"],
        "by_channel": by["channel"],
        "by_matter": matters,
        "other_matters": rest,
        "by_grid": by["grid"],
        "open_by_grid": load,
        "indicators": month,
        "indicators_window": found.get("in_window", month),
        "trend": trend(session, now=now, zone=zone, series=per_day),
        "names": names(
            session,
            channels=list(by["channel"]),
            matters=list(matters),
            grids=sorted({*by["grid"], *load} - {NO_GRID}),
        ),
    }
