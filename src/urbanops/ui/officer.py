"""The grid officer's phone pages (网格员移动端): ``/officer/`` my tasks, a task, report a problem.

Server-rendered in the officer's language, so the task list shows on a slow 4G phone before any
script has run; ``static/officer.js`` (no framework) keeps the countdowns ticking, refreshes the
list from ``/officer/tasks`` (an HTML fragment with an ETag: a quiet poll costs a 304), and calls
the REST API to accept, to handle with after-photos, to return a task (回退) or ask to put it on
hold (申请挂账) with a reason, to report (巡查上报, channel ``grid_report``), to send the phone's
position and, from the SOS button of every page (紧急求助, two taps), an alarm with it
(``/api/positions/me``). The workflow's rules stay in the case service: the page offers what
``workflow.allowed_actions`` allows the officer.

Signed in with the session cookie of ``/login`` (``?next=/officer/``); other roles than grid
officers (and admin) get a 403 page in their language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.auth import service as auth
from urbanops.cases import service as cases
from urbanops.cases.api import case_out, redact, visible_case
from urbanops.cases.evidence import list_for_case
from urbanops.cases.models import CaseReport, CaseState, EvidencePhase, Light, Stage
from urbanops.cases.schemas import CaseFilter, CaseOut
from urbanops.catalog.models import CatalogEntry
from urbanops.citizen.service import COMMON_MATTERS, OTHER_MATTER
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import load_calendar
from urbanops.kit.errors import NotFound
from urbanops.kit.geo import wgs84_to_gcj02
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep
from urbanops.ui import messages
from urbanops.ui.web import page_language, render

router = APIRouter(include_in_schema=False)

BASE = "/officer/"
#: Who may open the pages (admin always may): the grid officer (网格员).
PAGE_ROLES: tuple[Role, ...] = (Role.GRID_OFFICER,)
#: A task is a case dispatched to me that I have not handled yet (rework comes back dispatched).
TASK_STATES = (CaseState.DISPATCHED, CaseState.ACCEPTED)
MAX_TASKS = 100
CHANNEL = "grid_report"  # 巡查上报: the grid officer's own channel (catalog.channels)
MAX_PHOTOS = 4
#: How the page's script behaves (rendered into the page, so a test can read them).
POLL_S = 15
POSITION_EVERY_S = 10
POSITION_MOVE_M = 20
#: The SOS button waits this long for the confirming second tap, then disarms.
SOS_CONFIRM_S = 5
#: Messages the page script needs (the rest is rendered on the server).
SCRIPT_PREFIXES = ("officer.js.", "officer.unit.", "officer.countdown.", "error.")
#: ``error.`` messages only the citizen's page can meet (left out of every officer page).
CITIZEN_ONLY = frozenset({"error.tracking_id_not_found", "error.followup_not_due",
                          "error.already_rated"})  # fmt: skip
AMAP_MARKER = "https://uri.amap.com/marker"


# --- who is here ------------------------------------------------------------------------------


def _signed_in(request: Request, session: Session, now: datetime) -> Actor | Response:
    """The officer behind the session cookie, or the answer instead of the page."""
    actor = auth.authenticate_request(session, request=request, now=now)
    if actor is None:
        query = f"?{request.url.query}" if request.url.query else ""
        target = quote(request.url.path + query, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if Role.ADMIN in actor.roles or actor.has(*PAGE_ROLES):
        return actor
    lang, remember = page_language(request)
    context = {"page": "forbidden", "script_messages": {}, "actor": actor}
    return render(
        request, "officer/forbidden.html", context, lang=lang, remember=remember, status_code=403
    )


# --- tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One case as the officer's list and task page show it."""

    id: int
    number: str
    state: CaseState
    matter: str
    description: str
    address: str | None
    lon: float  # WGS84, as stored
    lat: float
    is_emergency: bool
    rework: bool
    stage: Stage | None
    due_at: datetime | None
    light: Light
    version: int
    reported_at: datetime
    actions: tuple[str, ...]

    @property
    def due_ms(self) -> int | None:
        return int(self.due_at.timestamp() * 1000) if self.due_at else None


def matter_names(session: Session, codes: Sequence[str], lang: str) -> dict[str, str]:
    """Plain names of matters: the page's own wording where it has one, else the catalogue's."""
    names = {code: messages.t(f"matter.{code}", lang) for code in codes}
    unknown = [code for code, name in names.items() if name.startswith("matter.")]
    if unknown:
        query = select(CatalogEntry.code, CatalogEntry.name).where(
            CatalogEntry.kind == "matter", CatalogEntry.code.in_(unknown)
        )
        names.update({code: f"{name} ({code})" for code, name in session.execute(query)})
    return names


def _tasks_of(
    session: Session, rows: Sequence[CaseOut], actor: Actor, lang: str, reworked: set[int]
) -> list[Task]:
    """The rows as tasks, complainants masked as the case API masks them for the actor."""
    if not rows:
        return []
    names = matter_names(session, sorted({r.matter_code for r in rows}), lang)
    query = select(CaseReport).where(CaseReport.case_id.in_([r.id for r in rows]))
    reports = list(session.scalars(query))
    return [
        Task(
            id=r.id,
            number=r.number,
            state=r.state,
            matter=names.get(r.matter_code, r.matter_code),
            description=r.description,
            address=r.address,
            lon=r.lon,
            lat=r.lat,
            is_emergency=r.is_emergency,
            rework=r.id in reworked,
            stage=r.stage,
            due_at=r.due_at,
            light=r.light,
            version=r.version,
            reported_at=r.reported_at,
            actions=tuple(r.allowed_actions),
        )
        for r in (redact(row, viewer=actor, reports=reports) for row in rows)
    ]


def _urgency(task: Task) -> tuple[Any, ...]:
    """Soonest deadline first (overdue ones at the top), emergencies before the rest on a tie."""
    due = task.due_at.timestamp() if task.due_at else float("inf")
    return (due, not task.is_emergency, task.id)


def my_tasks(session: Session, actor: Actor, now: datetime, lang: str) -> list[Task]:
    """The cases dispatched to ``actor`` and not yet handled, most urgent first."""
    filters = CaseFilter(state=list(TASK_STATES), officer_id=actor.id or 0)
    found, _ = cases.list_cases(
        session, filters=filters, viewer=actor, now=now, size=MAX_TASKS, sort="due_at"
    )
    calendar = cases.calendar_of(session)
    rows = [case_out(c, actor, cases.light_of(c, now, calendar)) for c in found]
    tasks = _tasks_of(session, rows, actor, lang, {c.id for c in found if c.rework_count})
    return sorted(tasks, key=_urgency)


def tasks_etag(tasks: Sequence[Task], lang: str) -> str:
    """Changes when the list would look different (a new task, a state, a deadline)."""
    text = lang + "|" + ";".join(f"{t.id}:{t.version}:{t.due_ms}:{t.light}" for t in tasks)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


# --- what the templates need -------------------------------------------------------------------


def countdown(due: datetime | None, now: datetime, lang: str) -> str:
    """``剩余 4分30秒`` / ``已超时 2分`` as the page shows it before its script ticks."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    key = "officer.countdown.left" if seconds >= 0 else "officer.countdown.over"
    return messages.t(key, lang).replace("{t}", duration(abs(seconds), lang))


def duration(seconds: int, lang: str) -> str:
    """Two units at most: days and hours, hours and minutes, or minutes and seconds."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, "d"), (hours, "h")]
    elif hours:
        parts = [(hours, "h"), (minutes, "m")]
    else:
        parts = [(minutes, "m"), (secs, "s")]
    return "".join(f"{n}{messages.t('officer.unit.' + u, lang)}" for n, u in parts).strip()


def map_links(task: Task, lang: str) -> dict[str, str]:
    """The phone's map app at the case: ``geo:`` (WGS84) and AMap's marker URI (GCJ-02)."""
    label = quote(f"{task.number} {task.matter}", safe="")
    geo = f"geo:{task.lat:.6f},{task.lon:.6f}?q={task.lat:.6f},{task.lon:.6f}({label})"
    x, y = wgs84_to_gcj02([task.lon], [task.lat])
    amap = (
        f"{AMAP_MARKER}?position={float(x[0]):.6f},{float(y[0]):.6f}&name={label}"
        f"&src=urbanops&coordinate=gaode&callnative=1"
    )
    return {"geo": geo, "amap": amap}


def matter_choices(lang: str) -> list[tuple[str, str]]:
    """(catalogue code, plain name) of the common matters an officer reports, "other" last."""
    choices = [(code, messages.t(f"matter.{code}", lang)) for code in COMMON_MATTERS]
    return [*choices, (OTHER_MATTER, messages.t("matter.other", lang))]


def _page_context(
    actor: Actor, lang: str, now: datetime, zone: ZoneInfo, page: str
) -> dict[str, Any]:
    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%m-%d %H:%M") if at else ""

    return {
        "page": page,
        "actor": actor,
        "now_ms": int(now.timestamp() * 1000),
        "zone": zone.key,
        "countdown": lambda due: countdown(due, now, lang),
        "local": local,
        "poll_s": POLL_S,
        "position_every_s": POSITION_EVERY_S,
        "position_move_m": POSITION_MOVE_M,
        "sos_confirm_s": SOS_CONFIRM_S,
        "script_messages": {
            k: v for k, v in messages.subset(lang, SCRIPT_PREFIXES).items() if k not in CITIZEN_ONLY
        },
    }


# --- routes ------------------------------------------------------------------------------------


@router.get("/officer", include_in_schema=False)
def officer_root() -> RedirectResponse:
    return RedirectResponse(BASE, status_code=307)


@router.get(BASE, response_class=HTMLResponse)
def tasks_page(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """My tasks, most urgent first, with countdowns; the script keeps it fresh."""
    now = clock.now()
    actor = _signed_in(request, session, now)
    if isinstance(actor, Response):
        return actor
    lang, remember = page_language(request)
    tasks = my_tasks(session, actor, now, lang)
    context = _page_context(actor, lang, now, ZoneInfo(settings.timezone), "tasks")
    context |= {"tasks": tasks, "etag": tasks_etag(tasks, lang)}
    return render(request, "officer/tasks.html", context, lang=lang, remember=remember)


@router.get("/officer/tasks", response_class=HTMLResponse)
def tasks_fragment(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """The task list alone (what the page's poll replaces); 304 when nothing changed."""
    now = clock.now()
    actor = _signed_in(request, session, now)
    if isinstance(actor, Response):
        if isinstance(actor, RedirectResponse):  # a script cannot sign in: tell it plainly
            return Response(status_code=401)
        return actor
    lang, _ = page_language(request)
    tasks = my_tasks(session, actor, now, lang)
    etag = tasks_etag(tasks, lang)
    headers = {"ETag": etag, "Cache-Control": "no-store"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    context = _page_context(actor, lang, now, ZoneInfo(settings.timezone), "tasks")
    context |= {"tasks": tasks, "etag": etag}
    response = render(request, "officer/_tasks.html", context, lang=lang, remember=False)
    response.headers.update(headers)
    return response


@router.get("/officer/task/{case_id}", response_class=HTMLResponse)
def task_page(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    case_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    """One case: what, where (map app links), its photos, and the actions allowed: accept, handle,
    return (回退) and request suspension (申请挂账), the last two on his open tasks only."""
    now = clock.now()
    actor = _signed_in(request, session, now)
    if isinstance(actor, Response):
        return actor
    lang, remember = page_language(request)
    zone = ZoneInfo(settings.timezone)
    try:
        case = visible_case(session, case_id=case_id, viewer=actor)
    except NotFound:
        context = _page_context(actor, lang, now, zone, "task") | {"task": None}
        return render(
            request, "officer/task.html", context, lang=lang, remember=remember, status_code=404
        )
    calendar = load_calendar(session, settings)
    row = case_out(case, actor, cases.light_of(case, now, calendar))
    [task] = _tasks_of(session, [row], actor, lang, {case.id} if case.rework_count else set())
    mine = case.officer_id == actor.id or Role.ADMIN in actor.roles
    open_task, asked = mine and case.state in TASK_STATES, case.suspension_requested
    photos = [
        f"/api/cases/{case.id}/evidence/{e.id}/content"
        for e in list_for_case(session, case_id=case.id)
        if e.media_type.startswith("image/")
    ]
    context = _page_context(actor, lang, now, zone, "task") | {
        "task": task,
        "links": map_links(task, lang),
        "photos": photos,
        "may_accept": mine and "accept" in task.actions,
        "may_handle": mine and "handle" in task.actions,
        "max_photos": MAX_PHOTOS,
        "may_return": open_task and "return" in task.actions,
        "may_request_suspension": open_task and "request_suspension" in task.actions and not asked,
        "suspension_requested": asked,
        "handled": case.state is CaseState.HANDLED,
    }
    return render(request, "officer/task.html", context, lang=lang, remember=remember)


@router.get("/officer/report", response_class=HTMLResponse)
def report_page(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """Report a problem found on patrol (巡查上报): matter, description, photo, position."""
    now = clock.now()
    actor = _signed_in(request, session, now)
    if isinstance(actor, Response):
        return actor
    lang, remember = page_language(request)
    context = _page_context(actor, lang, now, ZoneInfo(settings.timezone), "report") | {
        "matters": matter_choices(lang),
        "channel": CHANNEL,
        "max_photos": MAX_PHOTOS,
        "photo_phase": EvidencePhase.BEFORE.value,
    }
    return render(request, "officer/report.html", context, lang=lang, remember=remember)
