"""REST routes of the alerts, and the wiring that makes the app raise them.

Staff of the command centre (operator, shift leader, dispatcher, leader, admin) see every alert;
a squad leader sees those of his grids. An officer sees his own record
(``/api/officers/{id}/alerts``) and nothing else. SOS comes in with a position: ``alarm=sos`` on
OsmAnd, ``"alarm": "sos"`` on a batch fix or on the officer's page (``POST /api/positions/me``).

While the app serves, its router lifespan hangs the field watch on the position ingest (geofence,
devices back online, SOS) and subscribes to the case sweeper's news (``DeadlineMissed``,
``CaseEscalated``) and to duty changes; all of it is undone at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from urbanops.alerts import service
from urbanops.alerts.models import Alert, AlertKind
from urbanops.alerts.schemas import AlertOut, AlertPage
from urbanops.alerts.tasks import store_case_alert
from urbanops.alerts.watch import FieldWatch
from urbanops.auth.deps import CurrentActor, require
from urbanops.cases.events import CaseEscalated, DeadlineMissed
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import Forbidden, NotFound
from urbanops.kit.events import Event, bus
from urbanops.kit.web import ClockDep, SessionDep
from urbanops.workforce import service as workforce
from urbanops.workforce.positions_api import ingest_of

WATCH_ROLES = (
    Role.OPERATOR,
    Role.SHIFT_LEADER,
    Role.DISPATCHER,
    Role.LEADER,
    Role.SQUAD_LEADER,
)
Watcher = Annotated[Actor, Depends(require(*WATCH_ROLES))]
Page = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=200)]
Id = Annotated[int, Query(ge=1, le=2**63 - 1)]


def install(app: FastAPI) -> Callable[[], None]:
    """Make ``app`` raise alerts; answers the function that undoes it."""
    settings = app.state.settings
    watch = FieldWatch(
        outside_fixes=settings.geofence_outside_fixes,
        outside_s=settings.geofence_outside_s,
        offline_after_s=settings.device_offline_after_s,
    )
    app.state.field_watch = watch
    ingest = ingest_of(app)
    ingest.after_write.append(watch.written)
    ingest.alarm_hooks.append(watch.alarm)
    factory = app.state.sessionmaker

    def on_case_news(event: Event) -> None:
        if isinstance(event, DeadlineMissed | CaseEscalated):
            store_case_alert(factory, event)

    unsubscribe = [
        bus.subscribe(DeadlineMissed.name, on_case_news),
        bus.subscribe(CaseEscalated.name, on_case_news),
        bus.subscribe("OfficerDutyChanged", lambda _event: watch.forget(), remote=True),
    ]

    def uninstall() -> None:
        for off in unsubscribe:
            off()
        ingest.after_write.remove(watch.written)
        ingest.alarm_hooks.remove(watch.alarm)

    return uninstall


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    uninstall = install(app)
    try:
        yield
    finally:
        uninstall()


router = APIRouter(tags=["alerts"], lifespan=_lifespan)


def _page(alerts: list[Alert], total: int, page: int, size: int) -> AlertPage:
    return AlertPage(items=[AlertOut.of(a) for a in alerts], total=total, page=page, size=size)


def _visible(session: Session, viewer: Actor, alert_id: int) -> Alert:
    """The alert, or 404 when it lies outside the viewer's grids (its existence is not told)."""
    alert = service.get_alert(session, alert_id=alert_id)
    if viewer.grid_scope is not None and not viewer.may_see_grid(alert.grid_code):
        raise NotFound(f"No alert {alert_id}", code="alert_not_found")
    return alert


@router.get("/api/alerts", operation_id="list_alerts")
def list_alerts(
    session: SessionDep,
    viewer: Watcher,
    open: bool = False,
    unacknowledged: bool = False,
    kind: Annotated[list[AlertKind] | None, Query()] = None,
    officer: Id | None = None,
    case: Id | None = None,
    device: Id | None = None,
    since: AwareDatetime | None = None,
    page: Page = 1,
    size: Size = 50,
) -> AlertPage:
    """Alerts newest first (告警列表): ``open`` keeps those not ended, ``since`` from an instant."""
    alerts, total = service.list_alerts(
        session, open_only=open, unacknowledged=unacknowledged, kind=kind, officer_id=officer,
        case_id=case, device_id=device, since=since, grid_codes=viewer.grid_scope,
        limit=size, offset=(page - 1) * size,
    )  # fmt: skip
    return _page(alerts, total, page, size)


@router.get("/api/alerts/{alert_id}", operation_id="get_alert")
def get_alert(session: SessionDep, viewer: Watcher, alert_id: int) -> AlertOut:
    """One alert."""
    return AlertOut.of(_visible(session, viewer, alert_id))


@router.post("/api/alerts/{alert_id}/acknowledge", operation_id="acknowledge_alert")
def acknowledge_alert(
    session: SessionDep, clock: ClockDep, viewer: Watcher, alert_id: int
) -> AlertOut:
    """Mark an alert seen (确认); an SOS or a late case's alert ends with it."""
    _visible(session, viewer, alert_id)
    return AlertOut.of(service.acknowledge(session, alert_id=alert_id, by=viewer, at=clock.now()))


@router.get("/api/officers/{officer_id}/alerts", operation_id="officer_alerts")
def officer_alerts(
    session: SessionDep,
    actor: CurrentActor,
    officer_id: int,
    open: bool = False,
    kind: Annotated[list[AlertKind] | None, Query()] = None,
    since: AwareDatetime | None = None,
    page: Page = 1,
    size: Size = 50,
) -> AlertPage:
    """An officer's alert record (离岗、离线、SOS …): for the command staff and for himself."""
    officer = workforce.get_officer(session, officer_id=officer_id)
    himself = actor.kind == "user" and actor.id == officer.user_id
    if not himself:
        if not (Role.ADMIN in actor.roles or actor.has(*WATCH_ROLES)):
            raise Forbidden("Only the command staff see another officer's record")
        if not actor.may_see_grid(officer.grid_code):
            raise NotFound(f"No officer {officer_id}", code="officer_not_found")
    alerts, total = service.list_alerts(
        session, officer_id=officer.id, open_only=open, kind=kind, since=since, limit=size,
        offset=(page - 1) * size,
    )  # fmt: skip
    return _page(alerts, total, page, size)
