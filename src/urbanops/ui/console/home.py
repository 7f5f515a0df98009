"""The operator's home (指挥调度): the live map, the queue of open cases, the alerts.

The map is NiceGUI's bundled Leaflet (``ui.leaflet``) driven by ``static/console-map.js``; the
queue and the alerts are drawn by ``static/console-home.js``. NiceGUI elements would cost one
websocket update per marker and per row; here the server sends whole batches (``map.py`` shapes
them) and the browser draws them: 1,000 officers moving every 5 s are a few small JavaScript
calls a second, and the countdowns tick in the browser, not over the websocket.

Live news comes through ``live.follow``: every position flush (``PositionsMoved``) moves the
markers in one call; a case's news reloads the queue, the pins and the grids' load; an alert's
news reloads the alerts panel, whose script sounds the new ones. Acknowledging an alert goes
through ``alerts.service.acknowledge`` as the signed-in user.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from nicegui import events as ui_events
from nicegui import ui
from sqlalchemy.orm import Session

from urbanops.alerts import service as alerts
from urbanops.alerts.api import WATCH_ROLES
from urbanops.alerts.events import AlertAcknowledged, AlertRaised, AlertResolved
from urbanops.alerts.models import Alert
from urbanops.cases.events import CaseEvent
from urbanops.kit.errors import Forbidden, NotFound, Problem
from urbanops.kit.events import BusResumed, Event
from urbanops.ui import messages
from urbanops.ui.console import live
from urbanops.ui.console import map as console_map
from urbanops.ui.console.shell import HOME_ROLES, ConsoleContext, console_page
from urbanops.ui.web import static_url
from urbanops.workforce.moves import PositionsMoved
from urbanops.workforce.positions_api import ingest_of
from urbanops.workforce.service import OfficerDutyChanged

log = logging.getLogger(__name__)

#: Open alerts shown at most (the newest; the panel scrolls).
ALERTS_SHOWN = 100
MAP_NAME = "home"


def _event_names(base: type[Event]) -> list[str]:
    """Wire names of ``base`` and of every concrete subclass defined so far."""
    found: list[str] = []
    stack = [base]
    while stack:
        cls = stack.pop()
        if "name" in cls.__dict__:
            found.append(cls.name)
        stack.extend(cls.__subclasses__())
    return found


CASE_NEWS = frozenset(_event_names(CaseEvent))
ALERT_NEWS = frozenset({AlertRaised.name, AlertAcknowledged.name, AlertResolved.name})


def _js(value: Any) -> str:
    """A value as a JavaScript literal (JSON; ``</`` cannot close a script)."""
    return orjson.dumps(value).decode().replace("</", "<\\/")


class HomePage:
    """One view of the home page: its map element, its client and what it last sent."""

    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        self.projection = console_map.projection(ctx.settings)
        self.client = ui.context.client
        self.started = False
        self._cases_asked = 0
        self._alerts_asked = 0
        self.map: ui.leaflet | None = None

    # --- layout --------------------------------------------------------------------------------

    def build(self) -> None:
        ui.add_head_html(
            f'<link rel="stylesheet" href="{static_url("console-home.css")}">'
            f'<script src="{static_url("console-map.js")}"></script>'
            f'<script src="{static_url("console-home.js")}"></script>'
        )
        ui.query(".nicegui-content").classes("p-2")
        with (
            ui.row()
            .classes("w-full no-wrap gap-2 items-stretch")
            .style("height: calc(100vh - 72px)")
            .props('id="home"')
        ):
            self.map = (
                ui.leaflet(
                    center=(22.727, 114.08),
                    zoom=13,
                    options={"preferCanvas": True, "attributionControl": True, "zoomSnap": 0.25},
                )
                .classes("grow h-full home-panel")
                .style("min-width: 400px")
            )
            self.map.clear_layers()  # no default OSM layer: tiles come from the settings, or none
            self.map.on("init", self._start)
            with ui.column().classes("h-full no-wrap gap-2").style("width: 440px; flex: none"):
                self._alerts_panel()
                self._queue_panel()
        ui.on("home-ack", self._acknowledge)
        live.follow(
            [PositionsMoved.name, OfficerDutyChanged.name, *CASE_NEWS, *ALERT_NEWS], self._news
        )

    def _alerts_panel(self) -> None:
        t = self.ctx.t
        ui.html(
            '<section id="home-alerts" class="home-panel p-2 flex flex-col w-full" '
            'style="max-height: 40vh; min-height: 120px">'
            '<div class="flex items-center gap-2 pb-1">'
            f'<h2>{t("home.alerts")}</h2><span id="home-alerts-count" class="home-badge">0</span>'
            '<span class="grow"></span>'
            '<button type="button" id="home-sound" aria-pressed="false">'
            f"{t('home.js.sound_off')}</button></div>"
            '<div id="home-alerts-list"></div></section>',
            sanitize=False,
        ).classes("w-full")

    def _queue_panel(self) -> None:
        t = self.ctx.t
        ui.html(
            '<section id="home-queue" class="home-panel p-2 flex flex-col h-full w-full">'
            '<div class="flex items-center gap-2 pb-1">'
            f'<h2>{t("home.queue")}</h2><span id="home-queue-count" class="home-badge">0</span>'
            '</div><div id="home-queue-list"></div></section>',
            sanitize=False,
        ).classes("w-full grow").style("min-height: 0; overflow: hidden; display: flex")

    # --- the first picture ---------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        """Everything the page shows, read in one transaction."""
        ctx, proj = self.ctx, self.projection
        now = ctx.clock.now()
        latest = ingest_of(ctx.app).latest_all()
        with ctx.session() as session:
            return {
                "grids": console_map.grids(session, proj, ctx.actor),
                "load": console_map.grid_load(session, ctx.actor),
                "officers": console_map.officers(session, proj, latest),
                "cameras": console_map.cameras(session, proj),
                "cases": self._cases(session),
                "alerts": self._alerts(session),
                "now": console_map.ms(now),
            }

    def _config(self, server_now: int | None) -> dict[str, Any]:
        ctx = self.ctx
        return {
            **console_map.base_map(ctx.settings),
            "server_now": server_now,
            "offline_after_s": ctx.settings.device_offline_after_s,
            "may_acknowledge": ctx.may(*WATCH_ROLES),
            "text": {
                key.removeprefix("home.js."): value
                for key, value in messages.subset(ctx.lang, ["home.js."]).items()
            },
        }

    async def _start(self) -> None:
        """The map is ready in the browser: draw everything, then let the news in."""
        if self.map is None:
            return
        try:
            snapshot = await asyncio.to_thread(self._snapshot)
        except Exception:
            log.exception("the home page could not load its map")
            return
        config = self._config(snapshot["now"])
        self._run(
            f"(function(){{var m=UrbanopsMap.attach({_js(MAP_NAME)},getElement({self.map.id}).map,"
            f"{_js(config)});m.setGrids({_js(snapshot['grids'])},{_js(snapshot['load'])});"
            f"m.setCameras({_js(snapshot['cameras'])});m.setOfficers({_js(snapshot['officers'])});"
            f"m.setCases({_js(snapshot['cases'])});var h=UrbanopsHome.init({_js(config)});"
            f"h.cases({_js(snapshot['cases'])});h.alerts({_js(snapshot['alerts'])});}})()"
        )
        self.started = True

    def _run(self, code: str) -> None:
        if not self.client.is_deleted:
            self.client.run_javascript(code)

    # --- reads ---------------------------------------------------------------------------------

    def _cases(self, session: Session) -> list[dict[str, Any]]:
        now = self.ctx.clock.now()
        rows = console_map.open_cases(session, self.ctx.actor, now)
        return console_map.case_items(session, rows, self.projection, now)

    def _alerts(self, session: Session) -> list[dict[str, Any]]:
        rows, _ = alerts.list_alerts(
            session, open_only=True, grid_codes=self.ctx.actor.grid_scope, limit=ALERTS_SHOWN
        )
        return [_alert_item(a) for a in rows]

    def _read_cases(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        with self.ctx.session() as session:
            return self._cases(session), console_map.grid_load(session, self.ctx.actor)

    def _read_alerts(self) -> list[dict[str, Any]]:
        with self.ctx.session() as session:
            return self._alerts(session)

    # --- live news -----------------------------------------------------------------------------

    async def _news(self, events: list[Event]) -> None:
        """One burst of news: move markers at once, then reload what the other news changed."""
        if not self.started:
            return  # the first picture, read after this news, already shows it
        moved = [e for e in events if isinstance(e, PositionsMoved)]
        if moved:
            cols = console_map.moves_payload(moved, self.projection)
            self._run(f"UrbanopsMap.get({_js(MAP_NAME)}).move({_js(cols)})")
        duty = {e.user_id: e.to_status for e in events if isinstance(e, OfficerDutyChanged)}
        if duty:
            self._run(f"UrbanopsMap.get({_js(MAP_NAME)}).setStatus({_js(duty)})")
        resumed = any(isinstance(e, BusResumed) for e in events)
        if resumed or any(e.name in CASE_NEWS for e in events):
            await self.refresh_cases()
        if resumed or any(e.name in ALERT_NEWS for e in events):
            await self.refresh_alerts()

    async def refresh_cases(self) -> None:
        """Reload the queue, the pins and the grids' load (the newest request wins)."""
        self._cases_asked += 1
        asked = self._cases_asked
        items, load = await asyncio.to_thread(self._read_cases)
        if asked != self._cases_asked:
            return  # a later reload is on its way
        name = _js(MAP_NAME)
        self._run(
            f"(function(c,l){{var m=UrbanopsMap.get({name});if(m){{m.setCases(c);m.setLoad(l);}}"
            f"UrbanopsHome.home&&UrbanopsHome.home.cases(c);}})({_js(items)},{_js(load)})"
        )

    async def refresh_alerts(self) -> None:
        """Reload the alerts panel (its script sounds the alerts it has not seen)."""
        self._alerts_asked += 1
        asked = self._alerts_asked
        items = await asyncio.to_thread(self._read_alerts)
        if asked != self._alerts_asked:
            return
        self._run(f"UrbanopsHome.home&&UrbanopsHome.home.alerts({_js(items)})")

    # --- acknowledging -------------------------------------------------------------------------

    async def _acknowledge(self, event: ui_events.GenericEventArguments) -> None:
        """The panel's "acknowledge" button: through the alerts service, as the signed-in user."""
        ctx = self.ctx
        args = event.args if isinstance(event.args, dict) else {}
        alert_id = args.get("id")
        if not isinstance(alert_id, int) or isinstance(alert_id, bool) or alert_id < 1:
            ui.notify(ctx.t("home.ack.failed"), type="negative")
            return
        try:
            await asyncio.to_thread(self._acknowledge_in_db, alert_id)
        except Problem as problem:
            key = {
                "forbidden": "home.ack.not_allowed",
                "alert_not_found": "home.ack.not_found",
            }.get(problem.code, "home.ack.failed")
            ui.notify(ctx.t(key), type="negative")
        else:
            ui.notify(ctx.t("home.ack.done"), type="positive")
        await self.refresh_alerts()

    def _acknowledge_in_db(self, alert_id: int) -> None:
        ctx = self.ctx
        if not ctx.may(*WATCH_ROLES):
            raise Forbidden("Only the command staff acknowledge alerts")
        with ctx.session(write=True) as session:
            alert = alerts.get_alert(session, alert_id=alert_id)
            if not ctx.actor.may_see_grid(alert.grid_code):
                raise NotFound(f"No alert {alert_id}", code="alert_not_found")
            alerts.acknowledge(session, alert_id=alert_id, by=ctx.actor, at=ctx.clock.now())


def _alert_item(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "at": console_map.ms(alert.at),
        "acknowledged": alert.acknowledged_at is not None,
        "case_id": alert.case_id,
        "officer_id": alert.officer_id,
    }


@console_page("/", roles=HOME_ROLES)
def home(ctx: ConsoleContext) -> None:
    HomePage(ctx).build()
