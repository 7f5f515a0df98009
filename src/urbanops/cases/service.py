"""Business operations of the case registry (案件登记): the only code that changes a case.

Services flush and never commit; the request (or job) commits. Contract used by the API:

- ``report(session, *, data, by, now) -> ReportResult``: locate → classify → idempotency →
  duplicates → store (``created=False`` for a repeated idempotency key; ``merged=True`` when the
  report joined an open case of the same matter nearby).
- ``act(session, *, case_id, action, by, now, reason, note, officer_id, expected_version, data)``:
  one transition of ``workflow.TRANSITIONS``; a lost race or a stale ``expected_version`` → 409
  ``concurrent_update`` with the current state and version.
- ``get_case``, ``get_by_number``, ``list_cases``, ``reclassify``, ``merge``, ``light_of``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from urbanops.areas.schemas import LocationOut
from urbanops.areas.service import locate_many
from urbanops.auth.models import User
from urbanops.auth.service import user_roles
from urbanops.cases import deadlines, duplicates, numbering, timeline, workflow
from urbanops.cases.events import (
    CaseAccepted,
    CaseChecked,
    CaseClosed,
    CaseDispatched,
    CaseEvent,
    CaseHandled,
    CaseRegistered,
    CaseReported,
    CaseReturned,
)
from urbanops.cases.models import Case, CaseReport, CaseState, Light, Stage, TimelineEntry
from urbanops.cases.schemas import CaseFilter, ReportIn
from urbanops.catalog import channels
from urbanops.catalog.channels import ChannelInfo
from urbanops.catalog.service import StandardInfo, matter_defaults
from urbanops.config import get_settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import WorkingCalendar, load_calendar
from urbanops.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from urbanops.kit.events import publish

FUTURE_TOLERANCE = timedelta(minutes=5)
OFFICER_ROLES = frozenset({Role.GRID_OFFICER, Role.SQUAD_LEADER})
EDITOR_ROLES = frozenset({Role.OPERATOR, Role.SHIFT_LEADER, Role.ADMIN})
#: The clock that runs while a case waits in a state (a return lands there again).
STAGE_OF_STATE: dict[CaseState, Stage] = {
    CaseState.REGISTERED: Stage.DISPATCH,
    CaseState.DISPATCHED: Stage.RESPOND,
    CaseState.ACCEPTED: Stage.HANDLE,
    CaseState.HANDLED: Stage.CHECK,
    CaseState.CHECKED: Stage.CLOSE,
}
STAMP_OF_ACTION = {
    "verify": "verified_at",
    "register": "registered_at",
    "dispatch": "dispatched_at",
    "redispatch": "dispatched_at",
    "rework": "dispatched_at",
    "accept": "accepted_at",
    "handle": "handled_at",
    "check": "checked_at",
    "close": "closed_at",
    "contact": "contacted_at",
}
SORTABLE = frozenset(
    {"reported_at", "due_at", "number", "state", "updated_at", "matter_code", "id", "channel"}
)


_BY_KEY = select(CaseReport).where(CaseReport.idempotency_key == bindparam("key"))
#: Intake's lookups, built once (building a statement costs more than running it).
_REPORTS_BY_KEYS = select(CaseReport).where(
    CaseReport.idempotency_key.in_(bindparam("keys", expanding=True))
)
_REPORTS_BY_IDS = select(CaseReport).where(CaseReport.id.in_(bindparam("ids", expanding=True)))
_CASES_BY_IDS = select(Case).where(Case.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class ReportResult:
    """What ``report`` did: the case, the stored report, a new case or not, merged or not."""

    case: Case
    report: CaseReport
    created: bool
    merged: bool


# --- reading ------------------------------------------------------------------------------------


def get_case(session: Session, *, case_id: int) -> Case:
    """The case with ``case_id``, or 404."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"No case with id {case_id}", code="case_not_found")
    return case


def get_by_number(session: Session, *, number: str) -> Case:
    """The case numbered ``number`` (案件编号), or 404."""
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise NotFound(f"No case numbered {number}", code="case_not_found")
    return case


def light_of(case: Case, now: datetime, calendar: WorkingCalendar | None = None) -> Light:
    """The case's status light at ``now`` (the calendar is already in its deadlines)."""
    return deadlines.light_of(case, now)


def calendar_of(session: Session, calendar: WorkingCalendar | None = None) -> WorkingCalendar:
    """``calendar``, or the configured working calendar with its overrides."""
    return calendar if calendar is not None else load_calendar(session, get_settings())


# --- report (上报) --------------------------------------------------------------------------------
#
# Intake in two steps, each for many reports at once. ``prepare_reports`` only reads: the channel
# and its required fields, the matter, the place (one vectorised locate), the clocks; a bad report
# is its own 422 and does not stop the others. ``store_reports`` writes prepared reports in the
# caller's transaction: one lookup of the idempotency keys, one query for open cases near any of
# them (and a look at the cases the same batch opens), one numbering upsert per street and day,
# one INSERT of cases, one of reports, one of timeline rows. ``report`` does both for one report;
# the intake writer (``cases.intake``) prepares a batch, then stores it in one transaction.


@dataclass(frozen=True)
class IncomingReport:
    """A report as received: its body, who sent it, and when it arrived."""

    data: ReportIn
    by: Actor
    now: datetime


@dataclass(frozen=True)
class PreparedReport:
    """A report checked, located and classified, not yet stored.

    ``case`` is the case the report opens if it is neither a repeat nor a duplicate, never added
    to a session (a template, only read): everything but its number set, its first stage's clock
    and the whole-case clocks running from ``reported_at``.
    """

    data: ReportIn
    by: Actor
    now: datetime
    reported_at: datetime
    case: Case
    number_prefix: str
    radius_m: float
    window_h: float


class _Kind(Enum):
    NEW = "new"  # opens its case
    MERGE = "merge"  # joins an open case of the same problem
    REPEAT = "repeat"  # its idempotency key is known: the earlier report's case


@dataclass
class _Plan:
    """What ``store_reports`` does with one prepared report, and what it got."""

    item: PreparedReport
    kind: _Kind
    case: Case | None = None  # the case it lands on (loaded once stored)
    into: _Plan | None = None  # the plan of this batch whose case it joins, or whose key it repeats
    joined: int = 0  # a new case: how many reports of the same batch join it
    number: str | None = None
    case_id: int | None = None
    report_id: int | None = None
    entry: CaseReport | None = None  # its stored report (a repeat: the earlier one)


def report(
    session: Session,
    *,
    data: ReportIn,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar | None = None,
) -> ReportResult:
    """Take one report from any channel: the same case for a repeated key, a merge or a new case."""
    [prepared] = prepare_reports(session, [IncomingReport(data, by, now)], calendar=calendar)
    if isinstance(prepared, Problem):
        raise prepared
    try:
        with session.begin_nested():
            return store_reports(session, [prepared])[0]
    except IntegrityError:  # another transaction stored the same key meanwhile
        repeated = _repeated(session, data.idempotency_key)
        if repeated is None:
            raise
        return repeated


def prepare_reports(
    session: Session,
    reports: Sequence[IncomingReport],
    *,
    calendar: WorkingCalendar | None = None,
) -> list[PreparedReport | Problem]:
    """Check reports and work out the cases they would open, reading only.

    Each report answers its prepared form or its own problem (422 for bad input), in order.
    """
    out: list[PreparedReport | Problem | None] = [None] * len(reports)
    checked: list[tuple[int, ChannelInfo, StandardInfo | None]] = []
    for n, incoming in enumerate(reports):
        try:
            channel = _channel(session, incoming.data)
            checked.append((n, channel, _standard(session, incoming.data.matter_code)))
        except Problem as exc:
            out[n] = exc
    places = _places(session, [reports[n].data for n, _c, _s in checked])
    cal = calendar_of(session, calendar)
    for (n, channel, standard), where in zip(checked, places, strict=True):
        try:
            if isinstance(where, Problem):
                raise where
            out[n] = _prepared(session, reports[n], channel, standard, where, cal)
        except Problem as exc:
            out[n] = exc
    done = [p for p in out if p is not None]
    assert len(done) == len(reports)  # every report answered, in order
    return done


def _places(session: Session, reports: Sequence[ReportIn]) -> list[LocationOut | Problem]:
    """Where each report lies: one vectorised lookup per coordinate system named."""
    out: list[LocationOut | Problem | None] = [None] * len(reports)
    by_crs: dict[str, list[int]] = {}
    for n, data in enumerate(reports):
        by_crs.setdefault(data.crs, []).append(n)
    for crs, numbers in by_crs.items():
        points = [(reports[n].lon, reports[n].lat) for n in numbers]
        try:
            found: Sequence[LocationOut | Problem] = locate_many(session, points=points, crs=crs)
        except Problem as exc:  # e.g. an unknown coordinate system: those reports only
            found = [exc] * len(numbers)
        for n, where in zip(numbers, found, strict=True):
            out[n] = where
    return [w for w in out if w is not None]


def _prepared(
    session: Session,
    incoming: IncomingReport,
    channel: ChannelInfo,
    standard: StandardInfo | None,
    where: LocationOut,
    cal: WorkingCalendar,
) -> PreparedReport:
    data, now = incoming.data, incoming.now
    reported_at = _reported_at(data, now)
    case = _new_case(session, data, channel, standard, where, reported_at, incoming.by, now, cal)
    return PreparedReport(
        data=data, by=incoming.by, now=now, reported_at=reported_at, case=case,
        number_prefix=numbering.prefix(street_code=case.street_code,
                                       day=now.astimezone(cal.zone).date()),
        radius_m=standard.dedupe_radius_m if standard else duplicates.DEFAULT_RADIUS_M,
        window_h=standard.dedupe_window_h if standard else duplicates.DEFAULT_WINDOW_H,
    )  # fmt: skip


def store_reports(session: Session, items: Sequence[PreparedReport]) -> list[ReportResult]:
    """Store prepared reports in order in the session's transaction; never commits.

    A known key (stored, or earlier in ``items``) answers that report's case and writes nothing; a
    report near an open case of its matter (stored, or opened earlier in ``items``) joins it; any
    other opens a numbered case. One ``CaseReported`` event per stored report.
    """
    plans = _plan(session, items)
    fresh = [p for p in plans if p.kind is _Kind.NEW]
    _insert_cases(session, fresh)
    stored = [p for p in plans if p.kind is not _Kind.REPEAT]
    for p in stored:
        if p.into is not None:
            p.case_id = p.into.case_id
    _insert_reports(session, stored)
    _count_merged(session, [p for p in stored if p.kind is _Kind.MERGE and p.into is None])
    _insert_timeline(session, stored)
    _load(session, plans)
    for p in stored:
        assert p.case is not None
        merged = p.kind is _Kind.MERGE
        channel = p.item.data.channel if merged else None
        publish(session, _reported(p.case, p.item.now, merged=merged, channel=channel))
    return [_result(p) for p in plans]


def _plan(session: Session, items: Sequence[PreparedReport]) -> list[_Plan]:
    """Decide, in order, which reports repeat a key, join an open case, or open their own."""
    earlier = _earlier_reports(session, [i.data.idempotency_key for i in items])
    probes = [_probe(i) for i in items]
    fresh = [p for p, i in zip(probes, items, strict=True) if i.data.idempotency_key not in earlier]
    stored = duplicates.open_cases_near(session, fresh)
    plans: list[_Plan] = []
    opened: dict[int, _Plan] = {}  # id() of a new case's template → its plan
    by_key: dict[str, _Plan] = {}
    for item, probe in zip(items, probes, strict=True):
        key = item.data.idempotency_key
        if key is not None and key in earlier:
            report, case = earlier[key]
            plans.append(_Plan(item, _Kind.REPEAT, case=case, case_id=case.id, entry=report))
            continue
        if key is not None and key in by_key:
            plans.append(_Plan(item, _Kind.REPEAT, into=by_key[key]))
            continue
        candidates = [*stored.get(probe, ()), *(p.item.case for p in opened.values())]
        twin = duplicates.nearest(probe, candidates)
        if twin is None:
            plan = opened[id(item.case)] = _Plan(item, _Kind.NEW)
        elif id(twin) in opened:  # a case this batch opens
            host = opened[id(twin)]
            host.joined += 1
            plan = _Plan(item, _Kind.MERGE, into=host)
        else:
            plan = _Plan(item, _Kind.MERGE, case=twin, case_id=twin.id)
        if key is not None:
            by_key[key] = plan
        plans.append(plan)
    return plans


def _probe(item: PreparedReport) -> duplicates.Probe:
    case = item.case
    return duplicates.Probe(
        matter_code=case.matter_code, lon=case.lon, lat=case.lat, at=item.reported_at,
        radius_m=item.radius_m, window_h=item.window_h,
    )  # fmt: skip


def _earlier_reports(
    session: Session, keys: Sequence[str | None]
) -> dict[str, tuple[CaseReport, Case]]:
    """Stored reports with one of ``keys``, with their cases, by key (one query each)."""
    wanted = {k for k in keys if k is not None}
    if not wanted:
        return {}
    found = list(session.scalars(_REPORTS_BY_KEYS, {"keys": list(wanted)}))
    if not found:
        return {}
    ids = {r.case_id for r in found}
    cases = {c.id: c for c in session.scalars(_CASES_BY_IDS, {"ids": list(ids)})}
    return {str(r.idempotency_key): (r, cases[r.case_id]) for r in found}


def _repeated(session: Session, key: str | None) -> ReportResult | None:
    """The earlier result of a report with this idempotency key, if any."""
    if key is None:
        return None
    found = session.scalars(_BY_KEY, {"key": key}).first()
    if found is None:
        return None
    return ReportResult(get_case(session, case_id=found.case_id), found, False, False)


#: Values of the columns the ORM would fill on insert (Python-side defaults).
_CASE_DEFAULTS: dict[str, Any] = {
    c.key: c.default.arg
    for c in Case.__table__.columns
    if c.default is not None and c.default.is_scalar
}


def _insert(
    session: Session, table: Any, rows: list[dict[str, Any]], *, returning: Any = None
) -> list[Any]:
    """Insert ``rows`` (all with the same keys) into ``table``; the ``returning`` column's
    values (the primary key) in the order of the rows.

    On PostgreSQL the keys are drawn from the table's sequence first (one query) and the rows
    go to the driver's ``executemany``, which psycopg sends in pipeline mode: one round trip
    for the batch. A many-row ``INSERT … RETURNING`` would need pages of at most 50 parameters
    (psycopg converts longer statements anew on every call), one round trip per case.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        keys: list[Any] = []
        if returning is not None:
            keys = _next_ids(session, table, len(rows))
            rows = [{**row, returning.key: key} for row, key in zip(rows, keys, strict=True)]
        session.execute(insert(table), rows)
        return keys
    statement = insert(table)
    if returning is not None:
        statement = statement.returning(returning, sort_by_parameter_order=True)
    result = session.execute(statement, rows)
    return list(result.scalars()) if returning is not None else []


def _next_ids(session: Session, table: Any, count: int) -> list[int]:
    """``count`` fresh ids from ``table``'s ``id`` sequence (PostgreSQL), in increasing order."""
    name = session.get_bind().dialect.identifier_preparer.format_table(table)
    query = text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
        "FROM generate_series(1, :n) ORDER BY 1"
    )
    return list(session.scalars(query, {"table": name, "n": count}))


def _insert_cases(session: Session, fresh: Sequence[_Plan]) -> None:
    """Number the new cases (one counter upsert per street and day) and insert them at once."""
    by_prefix: dict[str, list[_Plan]] = {}
    for p in fresh:
        by_prefix.setdefault(p.item.number_prefix, []).append(p)
    for prefix, plans in by_prefix.items():
        numbers = numbering.take(session, prefix=prefix, count=len(plans))
        for p, number in zip(plans, numbers, strict=True):
            p.number = number
    rows = [
        {
            **_CASE_DEFAULTS,
            **{k: v for k, v in vars(p.item.case).items() if not k.startswith("_")},
            "number": p.number, "report_count": 1 + p.joined, "version": 1,
        }
        for p in fresh
    ]  # fmt: skip
    keys = set().union(*rows) if rows else set()
    rows = [{k: row.get(k) for k in keys} for row in rows]
    for p, case_id in zip(fresh, _insert(session, Case.__table__, rows, returning=Case.id),
                          strict=True):  # fmt: skip
        p.case_id = case_id


def _insert_reports(session: Session, stored: Sequence[_Plan]) -> None:
    """The reports themselves, with the complainants' data, in one INSERT."""
    rows = [_report_row(p) for p in stored]
    ids = _insert(session, CaseReport.__table__, rows, returning=CaseReport.id)
    for p, report_id in zip(stored, ids, strict=True):
        p.report_id = report_id


def _report_row(p: _Plan) -> dict[str, Any]:
    data, item = p.item.data, p.item
    return {
        "case_id": p.case_id, "channel": data.channel, "idempotency_key": data.idempotency_key,
        "description": data.description, "lon": item.case.lon, "lat": item.case.lat,
        "address": data.address, "reported_at": item.reported_at, "reported_by": item.by.ref,
        "complainant_name": data.complainant_name, "complainant_phone": data.complainant_phone,
        "caller_number": data.caller_number, "letter_number": data.letter_number,
        "source_ref": data.source_ref, "extra": data.extra,
    }  # fmt: skip


def _insert_timeline(session: Session, stored: Sequence[_Plan]) -> None:
    """Each report's timeline row: ``report`` opens the case, ``merge_report`` joins it."""
    rows = []
    for p in stored:
        assert p.case_id is not None
        item = p.item
        if p.kind is _Kind.NEW:
            rows.append(timeline.row(
                case_id=p.case_id, state=CaseState.REPORTED.value, by=item.by, action="report",
                at=item.now, data={"report_id": p.report_id}, first=True,
            ))  # fmt: skip
            continue
        state = p.case.state.value if p.case is not None else CaseState.REPORTED.value
        rows.append(timeline.row(
            case_id=p.case_id, state=state, by=item.by, action="merge_report", at=item.now,
            data={"report_id": p.report_id, "channel": item.data.channel},
        ))  # fmt: skip
    _insert(session, TimelineEntry.__table__, rows)


def _load(session: Session, plans: Sequence[_Plan]) -> None:
    """Load the new cases and reports (one query each) and hand each plan its case and report."""
    new_ids = [p.case_id for p in plans if p.kind is _Kind.NEW]
    cases = {c.id: c for c in session.scalars(_CASES_BY_IDS, {"ids": new_ids})} if new_ids else {}
    report_ids = [p.report_id for p in plans if p.report_id is not None]
    found = session.scalars(_REPORTS_BY_IDS, {"ids": report_ids}) if report_ids else ()
    reports = {r.id: r for r in found}
    for p in plans:  # in order: a plan's ``into`` comes earlier
        if p.kind is _Kind.NEW:
            assert p.case_id is not None
            p.case = cases[p.case_id]
        elif p.into is not None:
            p.case = p.into.case
        if p.report_id is not None:
            p.entry = reports[p.report_id]
        elif p.into is not None:
            p.entry = p.into.entry


_ADD_REPORTS = (
    update(Case)
    .where(Case.id == bindparam("twin_id"))
    .values(report_count=Case.report_count + bindparam("added"))
    .returning(Case.report_count)
)


def _count_merged(session: Session, merged: Sequence[_Plan]) -> None:
    """Count the reports that joined stored cases (the count, never the version: no 409)."""
    added: dict[int, tuple[Case, int]] = {}
    for p in merged:
        assert p.case is not None
        case, n = added.get(p.case.id, (p.case, 0))
        added[case.id] = (case, n + 1)
    for case, n in added.values():
        count = session.execute(
            _ADD_REPORTS, {"twin_id": case.id, "added": n},
            execution_options={"synchronize_session": False},
        ).scalar_one()  # fmt: skip
        set_committed_value(case, "report_count", count)


def _result(p: _Plan) -> ReportResult:
    assert p.case is not None and p.entry is not None
    return ReportResult(p.case, p.entry, p.kind is _Kind.NEW, p.kind is _Kind.MERGE)


def _channel(session: Session, data: ReportIn) -> ChannelInfo:
    """The report's channel, with every field it requires present; else 422."""
    channel = channels.channel_info(session, code=data.channel)
    if channel is None or not channel.active:
        raise InvalidInput(f"No intake channel {data.channel!r}", code="unknown_channel")
    values = {**(data.extra or {}), **data.model_dump(exclude={"extra"})}
    missing = channels.missing_fields(channel, values)
    if missing:
        raise InvalidInput(
            f"Channel {channel.code} needs {missing[0]}",
            code="missing_channel_field",
            field=missing[0],
            fields=missing,
        )
    return channel


def _standard(session: Session, matter_code: str) -> StandardInfo | None:
    """The matter's default standard; 422 when the catalogue lists no such matter."""
    matters = matter_defaults(session)
    if matter_code not in matters:
        raise InvalidInput(
            f"GB/T 47678.5-2026 lists no matter with code {matter_code}", code="unknown_matter"
        )
    return matters[matter_code]


def _reported_at(data: ReportIn, now: datetime) -> datetime:
    """When the channel received the report; not in the future."""
    at = data.reported_at or now
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput("reported_at lies in the future", code="reported_at_in_future")
    return at


def _new_case(
    session: Session,
    data: ReportIn,
    channel: ChannelInfo,
    standard: StandardInfo | None,
    where: LocationOut,
    reported_at: datetime,
    by: Actor,
    now: datetime,
    cal: WorkingCalendar,
) -> Case:
    """The case a report opens, not added to the session: clocks running, no number yet."""
    case = Case(
        state=CaseState.REPORTED, channel=channel.code,
        is_emergency=data.is_emergency or channel.emergency_by_default,
        matter_code=data.matter_code, standard_id=standard.id if standard else None,
        description=data.description, address=data.address, lon=where.lon, lat=where.lat,
        inside_jurisdiction=where.inside, street_code=where.street.code if where.street else None,
        unit_grid_code=where.unit_grid.code if where.unit_grid else None,
        community_code=where.community.code if where.community else None,
        responsibility_grid_code=(
            where.responsibility_grid.code if where.responsibility_grid else None
        ),
        verification_required=channel.requires_verification, reported_at=reported_at,
        report_count=1, created_by=by.ref, updated_at=now,
    )  # fmt: skip
    first = Stage.VERIFY if case.verification_required else Stage.REGISTER
    deadlines.start_stage(case, first, now=reported_at, calendar=cal, session=session)
    _whole_case_clocks(session, case, start=reported_at, cal=cal)
    return case


def _whole_case_clocks(
    session: Session, case: Case, *, start: datetime, cal: WorkingCalendar
) -> None:
    """``contact_by`` and ``close_by`` from the channel's profile (None where it sets none)."""
    for rule, column in (("contact", "contact_by"), ("close", "close_by")):
        at = deadlines.whole_case_deadline(session, case=case, rule=rule, start=start, calendar=cal)
        setattr(case, column, at)


def _reported(case: Case, now: datetime, *, merged: bool, channel: str | None = None) -> CaseEvent:
    return CaseReported(
        at=now, case_id=case.id, number=case.number, state=case.state.value,
        channel=channel or case.channel, matter_code=case.matter_code, merged=merged,
        emergency=case.is_emergency,
    )  # fmt: skip


# --- the workflow (流转) --------------------------------------------------------------------------


@dataclass
class _Step:
    """One action being applied: its inputs, and the data its timeline row records."""

    session: Session
    case: Case
    transition: workflow.Transition
    by: Actor
    now: datetime
    cal: WorkingCalendar
    reason: str | None
    note: str | None
    officer_id: int | None
    data: dict[str, Any]
    target: CaseState | None = None
    restart: Stage | None = None


def act(
    session: Session,
    *,
    case_id: int,
    action: str,
    by: Actor,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
    officer_id: int | None = None,
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    calendar: WorkingCalendar | None = None,
) -> Case:
    """Run one action of the transition table on a case; 409 if someone changed it meanwhile."""
    case = get_case(session, case_id=case_id)
    if expected_version is not None and expected_version != case.version:
        raise _concurrent(case.state, case.version)
    transition = workflow.require(action, case.state, by, reason=reason)
    step = _Step(
        session, case, transition, by, now, calendar_of(session, calendar), reason, note,
        officer_id, dict(data or {}), target=transition.target, restart=transition.stage,
    )  # fmt: skip
    before = case.state
    with _guard(session, case):
        with session.no_autoflush:  # one UPDATE (and one version) per action
            EFFECTS.get(action, _no_effect)(step)
            _arrive(step)
        session.flush()
        timeline.record(
            session, case, by=by, action=action, at=now, from_state=before.value,
            to_state=case.state.value, reason=reason, note=note, data=step.data or None,
        )  # fmt: skip
    _announce(session, step)
    return case


def _arrive(step: _Step) -> None:
    """Move to the target state, stamp the action's time and start the next clock."""
    case = step.case
    if step.target is not None:
        case.state = step.target
    stamp = STAMP_OF_ACTION.get(step.transition.action)
    if stamp is not None:
        setattr(case, stamp, step.now)
    if step.restart is not None:
        deadlines.start_stage(
            case, step.restart, now=step.now, calendar=step.cal, session=step.session
        )
    case.updated_at = step.now


@contextmanager
def _guard(session: Session, case: Case) -> Iterator[None]:
    """Apply a change in a savepoint; a concurrent writer's win becomes 409 concurrent_update."""
    case_id = case.id
    try:
        with session.begin_nested():
            yield
    except (StaleDataError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not _lost_race(exc):
            raise
        state, version = _current(session, case_id)
        raise _concurrent(state, version) from exc


def _lost_race(exc: OperationalError) -> bool:
    """SQLite's answer to a writer whose snapshot went stale or who waited too long for the lock."""
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def _current(session: Session, case_id: int) -> tuple[CaseState, int]:
    """The committed state and version (a fresh connection: SQLite's snapshot here is stale)."""
    query = select(Case.state, Case.version).where(Case.id == case_id)
    bind = session.get_bind()
    row = None
    if bind.dialect.name == "sqlite":
        with bind.engine.connect() as conn:
            row = conn.execute(query).first()
    if row is None:
        row = session.execute(query).first()
    assert row is not None
    return CaseState(row[0]), int(row[1])


def _concurrent(state: CaseState, version: int) -> Conflict:
    return Conflict(
        f"The case was changed meanwhile; it is now {state.value} (version {version})",
        code="concurrent_update",
        state=state.value,
        version=version,
    )


def _no_effect(step: _Step) -> None:
    return None


def _verify(step: _Step) -> None:
    if step.case.verified_at is not None:
        raise Conflict("The report is already verified", code="already_verified")


def _register(step: _Step) -> None:
    if step.case.verification_required and step.case.verified_at is None:
        raise Conflict(
            "This channel's reports are verified (核实) before registration",
            code="verification_pending",
        )


def _reject(step: _Step) -> None:
    step.case.rejection_reason = step.reason
    step.restart = None
    deadlines.stop_clock(step.case)


def _dispatch(step: _Step) -> None:
    step.case.officer_id = _eligible_officer(step.session, step.officer_id)
    step.data["officer_id"] = step.case.officer_id


def _eligible_officer(session: Session, officer_id: int | None) -> int:
    """``officer_id`` if it names an active grid officer or squad leader; else 422."""
    if officer_id is None:
        raise InvalidInput("Dispatch needs the officer's id", code="officer_required")
    user = session.get(User, officer_id)
    if user is None or not user.is_active or not (user_roles(session, user.id) & OFFICER_ROLES):
        raise InvalidInput(
            f"User {officer_id} is not an active grid officer or squad leader",
            code="officer_not_eligible",
            officer_id=officer_id,
        )
    return user.id


def _by_assigned_officer(step: _Step) -> None:
    """Accept and handle: the assigned officer, a squad leader or the staff."""
    by = step.by
    if by.has(Role.SQUAD_LEADER, Role.ADMIN, *workflow.STAFF) or by.id == step.case.officer_id:
        return
    raise Forbidden("Only the assigned officer may do this", code="not_assigned_officer")


def _check(step: _Step) -> None:
    """核查 is someone else's look at the work: the officer who handled it may not check it."""
    if step.by.id is not None and step.by.id == step.case.officer_id:
        raise Forbidden(
            "The officer who handled the case may not check (核查) his own work",
            code="own_work_check",
        )


def _rework(step: _Step) -> None:
    step.case.rework_count += 1
    step.data["officer_id"] = step.case.officer_id


def _in_the_field(by: Actor) -> bool:
    """A grid officer or squad leader acting as such (no staff or admin role beside it)."""
    return not by.has(Role.ADMIN, *workflow.STAFF)


def _return(step: _Step) -> None:
    """回退: one step back; from the field, only the assigned officer (or a squad leader), and a
    task he was given goes back to the dispatcher (退单), not to himself one step earlier."""
    case = step.case
    target = workflow.RETURN_TO[case.state]
    if _in_the_field(step.by):
        _by_assigned_officer(step)
        if case.state in (CaseState.DISPATCHED, CaseState.ACCEPTED):
            target = CaseState.REGISTERED
            step.data["returned_by_officer"] = case.officer_id  # not offered it again by itself
    step.target, step.restart = target, _stage_waiting_in(case, target)
    case.return_count += 1
    if target in (CaseState.REPORTED, CaseState.REGISTERED):
        case.officer_id = None


def _stage_waiting_in(case: Case, state: CaseState) -> Stage:
    if state is CaseState.REPORTED:
        pending = case.verification_required and case.verified_at is None
        return Stage.VERIFY if pending else Stage.REGISTER
    return STAGE_OF_STATE[state]


def _request_suspension(step: _Step) -> None:
    """申请挂账: from the field, only the officer the case is with (or a squad leader)."""
    if _in_the_field(step.by) and step.case.officer_id is not None:
        _by_assigned_officer(step)
    step.case.suspension_requested = True


def _suspend(step: _Step) -> None:
    case = step.case
    case.suspended_from, case.suspended_at = case.state, step.now
    case.suspension_requested = False


def _resume(step: _Step) -> None:
    case = step.case
    assert case.suspended_from is not None and case.suspended_at is not None
    paused_from = case.suspended_at
    deadlines.extend_for_pause(case, paused_from=paused_from, now=step.now, cal=step.cal)
    case.suspended_seconds += (step.now - paused_from).total_seconds()
    step.target = case.suspended_from
    step.data["paused_seconds"] = (step.now - paused_from).total_seconds()
    case.suspended_from, case.suspended_at = None, None


def _supervise(step: _Step) -> None:
    step.case.supervised = True


def _reopen(step: _Step) -> None:
    case = step.case
    case.reopen_count += 1
    case.closed_at, case.contacted_at = None, None
    _whole_case_clocks(step.session, case, start=step.now, cal=step.cal)


def _close(step: _Step) -> None:
    deadlines.stop_clock(step.case)


EFFECTS: dict[str, Callable[[_Step], None]] = {
    "verify": _verify,
    "register": _register,
    "reject": _reject,
    "dispatch": _dispatch,
    "redispatch": _dispatch,
    "accept": _by_assigned_officer,
    "handle": _by_assigned_officer,
    "check": _check,
    "rework": _rework,
    "return": _return,
    "request_suspension": _request_suspension,
    "suspend": _suspend,
    "resume": _resume,
    "supervise": _supervise,
    "reopen": _reopen,
    "close": _close,
}

EVENTS: dict[str, type[CaseEvent]] = {
    "register": CaseRegistered,
    "reopen": CaseRegistered,
    "dispatch": CaseDispatched,
    "redispatch": CaseDispatched,
    "rework": CaseDispatched,
    "accept": CaseAccepted,
    "handle": CaseHandled,
    "check": CaseChecked,
    "close": CaseClosed,
    "return": CaseReturned,
}


def _announce(session: Session, step: _Step) -> None:
    """Publish the action's event, if it has one."""
    kind = EVENTS.get(step.transition.action)
    if kind is None:
        return
    case = step.case
    base: dict[str, Any] = {
        "at": step.now, "case_id": case.id, "number": case.number, "state": case.state.value,
    }  # fmt: skip
    if kind in (CaseDispatched, CaseAccepted):
        base["officer_id"] = case.officer_id
    if kind is CaseReturned:
        base["reason"] = step.reason or ""
    publish(session, kind(**base))


# --- operator's corrections: reclassify (改类) and merge (合并) ----------------------------------


def _require_editor(by: Actor, what: str) -> None:
    if not by.has(*EDITOR_ROLES):
        raise Forbidden(f"Your role may not {what} a case", code="role_not_allowed")


def _require_unresolved(case: Case) -> None:
    if case.state not in duplicates.UNRESOLVED:
        raise Conflict(
            f"Case {case.number} is {case.state.value}", code="case_not_open",
            state=case.state.value, version=case.version,
        )  # fmt: skip


def reclassify(
    session: Session,
    *,
    case_id: int,
    matter_code: str,
    by: Actor,
    now: datetime,
    reason: str,
    calendar: WorkingCalendar | None = None,
) -> Case:
    """Change the case's matter; a running handling clock takes the new matter's limit."""
    _require_editor(by, "reclassify")
    case = get_case(session, case_id=case_id)
    _require_unresolved(case)
    standard = _standard(session, matter_code)
    old = case.matter_code
    with _guard(session, case):
        case.matter_code, case.standard_id = matter_code, standard.id if standard else None
        if case.stage is Stage.HANDLE and case.stage_started_at is not None:
            cal = calendar_of(session, calendar)
            deadlines.start_stage(case, Stage.HANDLE, now=case.stage_started_at, calendar=cal,
                                  session=session)  # fmt: skip
        case.updated_at = now
        session.flush()
        timeline.record(
            session, case, by=by, action="reclassify", at=now, reason=reason,
            data={"from_matter": old, "to_matter": matter_code},
        )  # fmt: skip
    return case


def merge(
    session: Session, *, case_id: int, duplicate_id: int, by: Actor, now: datetime, reason: str
) -> Case:
    """Fold a duplicate case into this one: its reports move here, it is rejected as merged."""
    _require_editor(by, "merge")
    if case_id == duplicate_id:
        raise InvalidInput("A case cannot be merged into itself", code="merge_into_itself")
    case, twin = get_case(session, case_id=case_id), get_case(session, case_id=duplicate_id)
    _require_unresolved(case)
    _require_unresolved(twin)
    with _guard(session, case):
        moved = _move_reports(session, source=twin, target=case)
        case.report_count += moved
        case.updated_at = now
        twin_from = twin.state
        twin.state, twin.rejection_reason = CaseState.REJECTED, f"merged into {case.number}"
        twin.report_count, twin.updated_at = 0, now
        deadlines.stop_clock(twin)
        session.flush()
        note = {"duplicate": twin.number, "duplicate_id": twin.id, "reports": moved}
        timeline.record(session, case, by=by, action="merge", at=now, reason=reason, data=note)
        timeline.record(
            session, twin, by=by, action="merged", at=now, from_state=twin_from.value,
            to_state=CaseState.REJECTED.value, reason=reason,
            data={"into": case.number, "into_id": case.id},
        )  # fmt: skip
    return case


def _move_reports(session: Session, *, source: Case, target: Case) -> int:
    """Re-point the source case's reports at the target; answers how many moved."""
    result = session.execute(
        update(CaseReport).where(CaseReport.case_id == source.id).values(case_id=target.id),
        execution_options={"synchronize_session": "fetch"},
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the list ----------------------------------------------------------------------------------


def list_cases(
    session: Session,
    *,
    filters: CaseFilter,
    viewer: Actor,
    now: datetime,
    page: int = 1,
    size: int = 50,
    sort: str = "-reported_at",
) -> tuple[list[Case], int]:
    """One page of the cases the viewer may see, filtered and sorted; and how many match."""
    if page < 1 or not 1 <= size <= 500:
        raise InvalidInput("page ≥ 1 and 1 ≤ size ≤ 500", code="invalid_page")
    query = _filtered(select(Case), filters, viewer, now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(_order(sort), Case.id.desc())
    return list(session.scalars(ordered.offset((page - 1) * size).limit(size))), total


def _filtered(query: Select[Any], f: CaseFilter, viewer: Actor, now: datetime) -> Select[Any]:
    """Apply the viewer's grid scope and every given filter."""
    conditions: list[ColumnElement[bool]] = []
    if viewer.grid_scope is not None:
        scope = Case.responsibility_grid_code.in_(viewer.grid_scope)
        conditions.append(or_(scope, Case.officer_id == viewer.id) if viewer.id else scope)
    simple = (
        (f.state, Case.state), (f.channel, Case.channel), (f.matter_code, Case.matter_code),
    )  # fmt: skip
    conditions += [column.in_(values) for values, column in simple if values]
    if f.grid:
        conditions.append(
            or_(Case.unit_grid_code == f.grid, Case.community_code == f.grid,
                Case.responsibility_grid_code == f.grid, Case.street_code == f.grid)
        )  # fmt: skip
    if f.officer_id is not None:
        conditions.append(Case.officer_id == f.officer_id)
    if f.light:
        conditions.append(or_(*(deadlines.light_clause(light, now) for light in f.light)))
    if f.reported_from is not None:
        conditions.append(Case.reported_at >= f.reported_from)
    if f.reported_to is not None:
        conditions.append(Case.reported_at < f.reported_to)
    if f.emergency is not None:
        conditions.append(Case.is_emergency.is_(f.emergency))
    if f.supervised is not None:
        conditions.append(Case.supervised.is_(f.supervised))
    if f.q:
        conditions.append(
            or_(Case.number.contains(f.q, autoescape=True),
                Case.description.contains(f.q, autoescape=True),
                Case.address.contains(f.q, autoescape=True))
        )  # fmt: skip
    return query.where(*conditions)


def _order(sort: str) -> Any:
    """The ORDER BY of a whitelisted ``field`` or ``-field``; else 422."""
    name = sort.removeprefix("-")
    if name not in SORTABLE:
        raise InvalidInput(
            f"Cannot sort by {sort!r}", code="invalid_sort", allowed=sorted(SORTABLE)
        )
    column = getattr(Case, name)
    return column.desc() if sort.startswith("-") else column.asc()
