"""REST routes of the case registry (案件): report, list, read, act, reclassify, merge.

A thin router: it parses, checks the viewer's grid (a case outside it is a 404, never a 403, so
its existence is not revealed), calls the service and shapes the answer for the viewer's role
(personal data masked as ``schemas.ReportOut`` says).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from urbanops.auth.deps import CurrentActor, current_actor, require
from urbanops.auth.service import request_credential
from urbanops.cases import intake, service, timeline, workflow
from urbanops.cases.models import Case, CaseReport, CaseState, Light, TimelineEntry
from urbanops.cases.schemas import (
    PII_ROLES,
    ActionIn,
    CaseDetail,
    CaseFilter,
    CaseOut,
    CasePage,
    Deadlines,
    MergeIn,
    ReclassifyIn,
    ReportAnswer,
    ReportIn,
    ReportOut,
    TimelineOut,
    TransitionOut,
    WorkflowOut,
)
from urbanops.config import Settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import WorkingCalendar, load_calendar
from urbanops.kit.db import unit_of_work
from urbanops.kit.errors import Conflict, InvalidInput, NotFound, Problem
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep, get_session

_writer_lock = threading.Lock()


def intake_writer(app: FastAPI) -> intake.IntakeWriter:
    """The app's intake writer, started on first use (one per app, so one per process)."""
    writer: intake.IntakeWriter | None = getattr(app.state, "intake", None)
    if writer is None:
        with _writer_lock:
            writer = getattr(app.state, "intake", None)
            if writer is None:
                factory, settings = app.state.sessionmaker, app.state.settings
                writer = intake.IntakeWriter(
                    write_scope=lambda: unit_of_work(factory),
                    read_scope=lambda: unit_of_work(factory, write=False),
                    calendar=lambda session: load_calendar(session, settings),
                ).start()
                app.state.intake = writer
    return writer


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, the intake writer stores what is queued and stops."""
    try:
        yield
    finally:
        writer: intake.IntakeWriter | None = getattr(app.state, "intake", None)
        if writer is not None:
            await run_in_threadpool(writer.stop)


router = APIRouter(prefix="/api", tags=["cases"], lifespan=_lifespan)

#: Who may report: staff, field officers, and machines with API keys.
REPORTERS = (
    Role.OPERATOR,
    Role.SHIFT_LEADER,
    Role.DISPATCHER,
    Role.GRID_OFFICER,
    Role.SQUAD_LEADER,
    Role.INTEGRATION,
    Role.DEVICE,
)
#: Who may read cases: every person's role and integrations (a device only reports).
READERS = tuple(r for r in Role if r is not Role.DEVICE)
#: Who may change a case's matter or fold duplicates together (受理员、值班长; admin passes).
EDITORS = (Role.OPERATOR, Role.SHIFT_LEADER)

may_report = require(*REPORTERS)
Reporter = Annotated[Actor, Depends(may_report)]
Reader = Annotated[Actor, Depends(require(*READERS))]
Editor = Annotated[Actor, Depends(require(*EDITORS))]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SORT_PATTERN = rf"^-?({'|'.join(sorted(service.SORTABLE))})$"
ACTION_PATTERN = r"^[a-z_]{1,32}$"
MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")

M = TypeVar("M", bound=BaseModel)


# --- personal data -----------------------------------------------------------------------------


def sees_personal_data(viewer: Actor) -> bool:
    """Whether the viewer's role needs complainants' names and numbers in full."""
    return viewer.has(*PII_ROLES)


def mask_number(value: str) -> str:
    """``13800000001`` → ``138****0001``; a short number is hidden whole."""
    digits = value.strip()
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


def mask_name(value: str) -> str:
    """``张三丰`` → ``张**``."""
    name = value.strip()
    return name[:1] + "*" * max(len(name) - 1, 1)


def _secrets(reports: Iterable[CaseReport]) -> dict[str, str]:
    """Each complainant's full name and numbers, mapped to their masked forms."""
    found: dict[str, str] = {}
    for r in reports:
        for number in (r.complainant_phone, r.caller_number):
            if number and len(number.strip()) >= 4:
                found[number.strip()] = mask_number(number)
        if r.complainant_name and len(r.complainant_name.strip()) >= 2:
            found[r.complainant_name.strip()] = mask_name(r.complainant_name)
    return found


def _scrub(value: Any, secrets: dict[str, str]) -> Any:
    """Mask every known secret and every mobile number in every string of ``value``."""
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, secrets[secret])
        return MOBILE.sub(r"\1****\2", value)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def redact(model: M, *, viewer: Actor, reports: Iterable[CaseReport]) -> M:
    """The answer as the viewer may see it: personal data masked unless his role needs it."""
    if sees_personal_data(viewer):
        return model
    data = _scrub(model.model_dump(mode="json"), _secrets(reports))
    return type(model).model_validate(data)


def report_out(report: CaseReport, viewer: Actor) -> ReportOut:
    """One report; its channel metadata (``extra``) only for roles that see personal data."""
    out = ReportOut.model_validate(report)
    if sees_personal_data(viewer):
        return out
    return out.model_copy(
        update={
            "complainant_name": report.complainant_name and mask_name(report.complainant_name),
            "complainant_phone": report.complainant_phone and mask_number(report.complainant_phone),
            "caller_number": report.caller_number and mask_number(report.caller_number),
            "extra": None,
        }
    )


# --- shaping answers ---------------------------------------------------------------------------


def _reports_of(session: Session, case_ids: Sequence[int]) -> list[CaseReport]:
    if not case_ids:
        return []
    query = select(CaseReport).where(CaseReport.case_id.in_(case_ids))
    return list(session.scalars(query.order_by(CaseReport.reported_at, CaseReport.id)))


def _row(case: Case, viewer: Actor, light: Light) -> dict[str, Any]:
    fields = {name: getattr(case, name) for name in CaseOut.model_fields if hasattr(case, name)}
    return {
        **fields,
        "light": light,
        "allowed_actions": workflow.allowed_actions(
            case.state, viewer, verified=case.verified_at is not None
        ),
    }


def case_out(case: Case, viewer: Actor, light: Light) -> CaseOut:
    """A case as a list row."""
    return CaseOut.model_validate(_row(case, viewer, light))


_DEADLINES = tuple(Deadlines.model_fields)
#: Columns of a case shown in full only (beyond the list row's).
_DETAIL_ONLY = tuple(
    n for n in CaseDetail.model_fields if n not in CaseOut.model_fields and hasattr(Case, n)
)


def _detail(
    case: Case,
    *,
    viewer: Actor,
    now: datetime,
    reports: Sequence[CaseReport],
    entries: Sequence[TimelineEntry],
) -> dict[str, Any]:
    """The fields of a case in full, its reports and timeline given."""
    return {
        **_row(case, viewer, service.light_of(case, now)),
        **{n: getattr(case, n) for n in _DETAIL_ONLY},
        "deadlines": Deadlines.model_validate({n: getattr(case, n) for n in _DEADLINES}),
        "reports": [report_out(r, viewer) for r in reports],
        "timeline": [TimelineOut.model_validate(e) for e in entries],
    }


def case_detail(
    session: Session, case: Case, *, viewer: Actor, now: datetime, calendar: WorkingCalendar
) -> CaseDetail:
    """A case in full, shaped and redacted for the viewer."""
    reports = _reports_of(session, [case.id])
    entries = timeline.entries(session, case_id=case.id)
    fields = _detail(case, viewer=viewer, now=now, reports=reports, entries=entries)
    return redact(CaseDetail.model_validate(fields), viewer=viewer, reports=reports)


def report_answer(receipt: intake.Receipt, *, viewer: Actor, now: datetime) -> ReportAnswer:
    """The answer to a report: its case in full as committed, shaped and redacted for the sender."""
    return redact(_report_answer(receipt, viewer, now), viewer=viewer, reports=receipt.reports)


def _report_answer(receipt: intake.Receipt, viewer: Actor, now: datetime) -> ReportAnswer:
    result = receipt.result
    fields = _detail(
        result.case, viewer=viewer, now=now, reports=receipt.reports, entries=receipt.timeline
    )
    return ReportAnswer.model_validate(
        {**fields, "report_id": result.report.id, "created": result.created,
         "merged": result.merged}
    )  # fmt: skip


def report_answer_json(receipt: intake.Receipt, *, viewer: Actor, now: datetime) -> bytes:
    """``report_answer`` as the JSON body, written once.

    The answer is built and checked as a ``ReportAnswer`` once; for a viewer who may not see
    personal data it is masked in its JSON form (as ``redact`` does) and not validated and
    dumped again, and FastAPI does not validate and serialise it a third time. orjson writes
    what the standard library would (UTF-8, compact), several times faster.
    """
    answer = _report_answer(receipt, viewer, now)
    if sees_personal_data(viewer):
        return answer.model_dump_json().encode()
    return orjson.dumps(_scrub(answer.model_dump(mode="json"), _secrets(receipt.reports)))


def _timeline(session: Session, case_id: int) -> list[TimelineOut]:
    return [TimelineOut.model_validate(e) for e in timeline.entries(session, case_id=case_id)]


def visible_case(session: Session, *, case_id: int, viewer: Actor) -> Case:
    """The case, or a 404 when it does not exist or lies outside the viewer's grids."""
    return _visible(lambda: service.get_case(session, case_id=case_id), viewer, f"id {case_id}")


def _visible(find: Callable[[], Case], viewer: Actor, what: str) -> Case:
    """One and the same 404 for a missing case and a case the viewer may not see."""
    try:
        case: Case | None = find()
    except NotFound:
        case = None
    if case is None or not may_see(viewer, case):
        raise NotFound(f"No case has the {what}", code="case_not_found")
    return case


def may_see(viewer: Actor, case: Case) -> bool:
    """A case in the viewer's grids, or one dispatched to him (as ``service.list_cases`` does)."""
    mine = viewer.kind == "user" and viewer.id is not None and case.officer_id == viewer.id
    return mine or viewer.may_see_grid(case.responsibility_grid_code)


def _agreed(header: Any, body: Any, *, name: str, code: str) -> Any:
    """The value given in a header, the body, or both (then they must be equal)."""
    if header is None:
        return body
    if body is not None and body != header:
        raise InvalidInput(f"The {name} header and the body disagree", code=code)
    return header


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: 3``, ``"3"`` or ``W/"3"`` → 3."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        raise InvalidInput('If-Match must be the case\'s version, e.g. "3"', code="bad_if_match")
    return int(text)


def _etag(response: Response, case: Case) -> None:
    response.headers["ETag"] = f'"{case.version}"'


def _answer(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    viewer: Actor,
    now: datetime,
    response: Response,
) -> CaseDetail:
    """The case in full for the viewer, with its version as the ETag."""
    _etag(response, case)
    calendar = load_calendar(session, settings)
    return case_detail(session, case, viewer=viewer, now=now, calendar=calendar)


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/cases",
    status_code=201,
    operation_id="report_case",
    response_model=ReportAnswer,
    responses={200: {"model": ReportAnswer, "description": "A repeated idempotency key"}},
)
async def report_case(
    request: Request,
    body: ReportIn,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)
    ] = None,
) -> Response:
    """Report a problem (上报) from any channel; a repeated idempotency key gives the same case.

    Answered once the report is committed: 201 with a new or joined (``merged``) case, 200 with
    the earlier case for a repeated key. Staff, field officers and API keys of machines report.
    """
    key = _agreed(
        idempotency_key,
        body.idempotency_key,
        name="Idempotency-Key",
        code="idempotency_key_mismatch",
    )
    data = body.model_copy(update={"idempotency_key": key})
    app = request.app
    if get_session in app.dependency_overrides:
        incoming, receipt = await run_in_threadpool(_report_here, request, data)
    else:
        incoming = _from(request, data)
        receipt = await asyncio.wrap_future(intake_writer(app).submit(incoming))
    result = receipt.result
    response = Response(
        report_answer_json(receipt, viewer=receipt.sender, now=incoming.now),
        status_code=201 if result.created or result.merged else 200,
        headers={"Location": f"/api/cases/{result.case.id}"},
        media_type="application/json",
    )
    _etag(response, result.case)
    return response


def _from(request: Request, data: ReportIn) -> intake.Unauthenticated:
    """The report for the intake writer, which authenticates its sender (401/403) in its batch."""
    clock = request.app.state.clock
    return intake.Unauthenticated(
        data=data,
        now=clock.now(),
        credential=request_credential(request),
        authenticate=lambda session: may_report(current_actor(request, session, clock)),
    )


def _report_here(request: Request, data: ReportIn) -> tuple[intake.Unauthenticated, intake.Receipt]:
    """The report stored in the request's own session, as a batch of one.

    Used where the app's session provider is overridden: tests share their transaction (which the
    writer's sessions cannot see) with the requests.
    """
    app = request.app
    report = _from(request, data)
    with contextmanager(app.dependency_overrides[get_session])() as session:
        incoming = service.IncomingReport(data, report.authenticate(session), report.now)
        calendar = load_calendar(session, app.state.settings)
        [item] = service.prepare_reports(session, [incoming], calendar=calendar)
        if isinstance(item, Problem):
            raise item
        return report, intake.write(session, [item])[0]


@router.get("/cases", operation_id="list_cases")
def list_cases(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: Reader,
    state: Annotated[list[CaseState] | None, Query()] = None,
    channel: Annotated[list[str] | None, Query(max_length=50)] = None,
    matter: Annotated[list[Annotated[str, Query(pattern=r"^\d{5}$")]] | None, Query()] = None,
    grid: Annotated[str | None, Query(min_length=2, max_length=32)] = None,
    officer: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    light: Annotated[list[Light] | None, Query()] = None,
    reported_from: datetime | None = None,
    reported_to: datetime | None = None,
    emergency: bool | None = None,
    supervised: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "-reported_at",
) -> CasePage:
    """Cases in the viewer's grids, filtered, sorted and paged; lights computed now."""
    filters = CaseFilter(
        state=state, channel=channel, matter_code=matter, grid=grid, officer_id=officer,
        light=light, reported_from=_aware(reported_from, "reported_from"),
        reported_to=_aware(reported_to, "reported_to"), emergency=emergency,
        supervised=supervised, q=q,
    )  # fmt: skip
    now = clock.now()
    cases, total = service.list_cases(
        session, filters=filters, viewer=viewer, now=now, page=page, size=size, sort=sort
    )
    calendar = load_calendar(session, settings)
    items = [case_out(c, viewer, service.light_of(c, now, calendar)) for c in cases]
    answer = CasePage(items=items, total=total, page=page, size=size)
    if sees_personal_data(viewer):
        return answer
    return redact(answer, viewer=viewer, reports=_reports_of(session, [c.id for c in cases]))


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. +08:00 or Z)", code="naive_datetime")
    return value


@router.get("/cases/by-number/{number}", operation_id="get_case_by_number")
def get_case_by_number(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: Reader,
    number: Annotated[str, Path(min_length=1, max_length=32)],
    response: Response,
) -> CaseDetail:
    """One case by its number (案件编号), e.g. 440309001-20261126-0001."""
    case = _visible(lambda: service.get_by_number(session, number=number), viewer, "number")
    return _answer(session, settings, case, viewer=viewer, now=clock.now(), response=response)


@router.get("/cases/{case_id}", operation_id="get_case")
def get_case(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: Reader,
    case_id: CaseId,
    response: Response,
) -> CaseDetail:
    """One case with its reports, timeline, deadlines, light and the viewer's allowed actions."""
    case = visible_case(session, case_id=case_id, viewer=viewer)
    return _answer(session, settings, case, viewer=viewer, now=clock.now(), response=response)


@router.get("/cases/{case_id}/timeline", operation_id="get_case_timeline")
def get_case_timeline(session: SessionDep, viewer: Reader, case_id: CaseId) -> list[TimelineOut]:
    """The case's history (流转记录), oldest first."""
    case = visible_case(session, case_id=case_id, viewer=viewer)
    rows = _timeline(session, case.id)
    if sees_personal_data(viewer):
        return rows
    secrets = _secrets(_reports_of(session, [case.id]))
    return [TimelineOut.model_validate(_scrub(r.model_dump(mode="json"), secrets)) for r in rows]


@router.post("/cases/{case_id}/actions/{action}", operation_id="act_on_case")
def act_on_case(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: CurrentActor,
    case_id: CaseId,
    action: Annotated[str, Path(pattern=ACTION_PATTERN)],
    response: Response,
    body: ActionIn | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> CaseDetail:
    """Run one workflow action (立案、派遣、签收 …); 409 with the current state if it may not."""
    if action not in workflow.BY_ACTION:
        raise NotFound(
            f"There is no action '{action}'", code="unknown_action",
            actions=list(workflow.BY_ACTION),
        )  # fmt: skip
    body = body or ActionIn()
    expected = _agreed(
        parse_if_match(if_match), body.expected_version, name="If-Match", code="if_match_mismatch"
    )
    case = visible_case(session, case_id=case_id, viewer=by)
    now = clock.now()
    with _current_state_on_conflict(case, by):
        case = service.act(
            session, case_id=case.id, action=action, by=by, now=now, reason=body.reason,
            note=body.note, officer_id=body.officer_id, expected_version=expected,
            calendar=load_calendar(session, settings),
        )  # fmt: skip
    return _answer(session, settings, case, viewer=by, now=now, response=response)


@contextmanager
def _current_state_on_conflict(case: Case, viewer: Actor) -> Iterator[None]:
    """Make sure every 409 carries the case's ``state``, ``version`` and the ``allowed`` actions."""
    state, version = case.state, case.version
    try:
        yield
    except Conflict as exc:
        current = CaseState(exc.extra.setdefault("state", state.value))
        exc.extra.setdefault("version", version)
        exc.extra.setdefault("allowed", workflow.allowed_actions(current, viewer))
        raise


@router.post("/cases/{case_id}/reclassify", operation_id="reclassify_case")
def reclassify_case(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: Editor,
    case_id: CaseId,
    body: ReclassifyIn,
    response: Response,
) -> CaseDetail:
    """Change the case's matter (改类); its limits follow the new matter's standard."""
    case = visible_case(session, case_id=case_id, viewer=by)
    now = clock.now()
    with _current_state_on_conflict(case, by):
        case = service.reclassify(
            session, case_id=case.id, matter_code=body.matter_code, by=by, now=now,
            reason=body.reason, calendar=load_calendar(session, settings),
        )  # fmt: skip
    return _answer(session, settings, case, viewer=by, now=now, response=response)


@router.post("/cases/{case_id}/merge", operation_id="merge_case")
def merge_case(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: Editor,
    case_id: CaseId,
    body: MergeIn,
    response: Response,
) -> CaseDetail:
    """Fold a duplicate case into this one (合并): its reports and complainants move here."""
    case = visible_case(session, case_id=case_id, viewer=by)
    visible_case(session, case_id=body.duplicate_id, viewer=by)
    now = clock.now()
    with _current_state_on_conflict(case, by):
        case = service.merge(
            session, case_id=case.id, duplicate_id=body.duplicate_id, by=by, now=now,
            reason=body.reason,
        )  # fmt: skip
    return _answer(session, settings, case, viewer=by, now=now, response=response)


@router.get("/workflow", operation_id="get_workflow")
def get_workflow(_: CurrentActor) -> WorkflowOut:
    """The table of allowed transitions (流转规则): who may do what, from which state."""
    order = list(CaseState)
    return WorkflowOut(
        states=order,
        transitions=[
            TransitionOut(
                action=t.action,
                label=t.label,
                from_states=sorted(t.sources, key=order.index),
                to_state=t.target,
                roles=sorted(t.roles, key=list(Role).index),
                reason_required=t.reason_required,
                starts_stage=t.stage,
            )
            for t in workflow.TRANSITIONS
        ],
        return_to=dict(workflow.RETURN_TO),
    )
