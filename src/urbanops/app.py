"""The application factory: one FastAPI app with every module's router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, text

from urbanops import __version__
from urbanops.alerts.api import router as alerts_router
from urbanops.alerts.tasks import device_watch_job
from urbanops.areas.api import router as areas_router
from urbanops.auth.api import router as auth_router
from urbanops.cases.api import router as cases_router
from urbanops.cases.evidence_api import router as evidence_router
from urbanops.cases.followup import followup_job
from urbanops.cases.followup_api import router as followup_router
from urbanops.cases.tasks import sweep_job
from urbanops.catalog.api import router as catalog_router
from urbanops.catalog.channel_api import router as channel_router
from urbanops.citizen.api import router as citizen_router
from urbanops.config import Settings, get_settings
from urbanops.dispatch.api import router as dispatch_router
from urbanops.dispatch.wiring import job_of as dispatch_job_of
from urbanops.kit.calendar_api import router as calendar_router
from urbanops.kit.clock import Clock, SystemClock
from urbanops.kit.db import make_engine, make_sessionmaker
from urbanops.kit.errors import ServiceUnavailable
from urbanops.kit.events import bus
from urbanops.kit.events_api import EVENTS_PATH
from urbanops.kit.events_api import router as events_router
from urbanops.kit.jobs import PeriodicRunner
from urbanops.kit.transports import transport_for
from urbanops.kit.web import RequestLimit, install_problem_handlers
from urbanops.open311.api import router as open311_router
from urbanops.ui.citizen import router as citizen_pages_router
from urbanops.ui.login import router as login_router
from urbanops.ui.officer import router as officer_pages_router
from urbanops.ui.web import install_static
from urbanops.workforce import moves
from urbanops.workforce.api import router as workforce_router
from urbanops.workforce.positions_api import OsmandFastPath
from urbanops.workforce.positions_api import router as positions_router
from urbanops.workforce.tracks_api import router as tracks_router


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    limit = settings.max_concurrent_requests
    engine = engine or make_engine(settings.database_url, pool_size=limit, max_overflow=limit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        transport = app.state.event_transport  # the bus across processes (event_bus=local: none)
        if transport is not None:
            await asyncio.to_thread(transport.start, bus)
        app.state.jobs.start()  # periodic jobs run while the app serves (interval 0: never)
        try:
            yield
        finally:
            app.state.jobs.stop()
            if transport is not None:
                await asyncio.to_thread(transport.stop)

    app = FastAPI(
        title="urbanops",
        version=__version__,
        description="城管执法指挥平台 — command platform for street-level urban management",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.clock = clock or SystemClock()
    app.state.event_transport = transport_for(settings, clock=app.state.clock)
    app.state.jobs = PeriodicRunner(
        factory=app.state.sessionmaker,
        clock=app.state.clock,
        interval_s=settings.sweeper_interval_s,
    )
    app.state.jobs.add("sweep_deadlines", sweep_job)
    app.state.jobs.add("dispatch", dispatch_job_of(app))
    app.state.jobs.add("open_followups", followup_job)
    app.state.jobs.add("device_watch", device_watch_job(settings))
    install_problem_handlers(app)
    app.add_middleware(RequestLimit, limit=limit, exempt=(EVENTS_PATH,))
    app.add_middleware(OsmandFastPath)  # everyday OsmAnd fixes skip the router

    @app.get("/health", tags=["system"], operation_id="health")
    def health() -> dict[str, Any]:
        """Liveness and database reachability."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("database not reachable", code="database_unavailable") from exc
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    app.include_router(auth_router)
    app.include_router(areas_router)
    app.include_router(catalog_router)
    app.include_router(channel_router)
    app.include_router(calendar_router)
    app.include_router(cases_router)
    app.include_router(evidence_router)
    app.include_router(followup_router)
    app.include_router(citizen_router)
    app.include_router(citizen_pages_router)
    install_static(app)
    app.include_router(positions_router)
    moves.install(app)  # one PositionsMoved per position flush, for the console's map
    app.include_router(workforce_router)
    app.include_router(tracks_router)
    app.include_router(dispatch_router)
    app.include_router(alerts_router)
    app.include_router(events_router)
    app.include_router(open311_router)
    app.include_router(login_router)
    app.include_router(officer_pages_router)
    if settings.console_on:
        from urbanops.ui.console import mount_console

        mount_console(app)  # last: it mounts at /console, after every route of the API
    return app
