"""Dispatch inside an app: its context, its sessions, its event subscriptions and its job.

The handlers run after a commit, on the committing thread, each in a transaction of its own.
They are subscribed while the app serves (its lifespan) and only then, so the many apps a test
run creates never hear each other's news once stopped. Events are process-wide and carry no
database: a handler checks the case's number as well as its id, and does only what the dispatch
job would do anyway, so news of another database's case at worst makes it act a pass early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from urbanops.cases.events import CaseEvent, CaseReported
from urbanops.dispatch.service import DispatchContext, auto_dispatch, on_case_event
from urbanops.dispatch.tasks import DispatchReport, dispatch_job
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work
from urbanops.kit.events import Event, bus
from urbanops.kit.web import get_session
from urbanops.workforce.positions_api import ingest_of
from urbanops.workforce.service import DeviceBound, OfficerDutyChanged

_lock = threading.Lock()
#: Case events after which offers and duty status are brought in line.
FOLLOWED = ("CaseDispatched", "CaseAccepted", "CaseHandled", "CaseReturned")


def context_of(app: FastAPI) -> DispatchContext:
    """The app's dispatch context (its settings, roster and positions), made on first use."""
    context: DispatchContext | None = getattr(app.state, "dispatch", None)
    if context is None:
        with _lock:
            context = getattr(app.state, "dispatch", None)
            if context is None:
                context = DispatchContext.of(app.state.settings, positions=ingest_of(app))
                app.state.dispatch = context
    return context


@contextmanager
def app_session(app: FastAPI) -> Iterator[Session]:
    """A committed unit of work of the app's database.

    An app told to share an outside session (``get_session`` overridden: tests, an embedding
    host) gets a savepoint on that session's connection instead, so the handlers see what the
    outside transaction holds; the outside session's objects are expired afterwards to show it.
    """
    provider = app.dependency_overrides.get(get_session)
    if provider is None:
        with unit_of_work(app.state.sessionmaker) as session:
            yield session
        return
    outer_gen = provider()
    outer: Session = next(outer_gen)
    session = Session(
        bind=outer.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        outer_gen.close()
        if not outer.dirty and not outer.new:
            outer.expire_all()


def job_of(app: FastAPI) -> Callable[[sessionmaker[Session], Clock], DispatchReport]:
    """The dispatch job for the app's runner, with the app's context."""

    def dispatch(factory: sessionmaker[Session], clock: Clock) -> DispatchReport:
        return dispatch_job(factory, clock, context=context_of(app))

    return dispatch


def subscribe(app: FastAPI) -> Callable[[], None]:
    """Hear the news dispatch acts on; returns the function that stops listening."""
    context = context_of(app)

    def on_reported(event: Event) -> None:
        if isinstance(event, CaseReported) and event.emergency and not event.merged:
            with app_session(app) as session:
                auto_dispatch(
                    session,
                    case_id=event.case_id,
                    number=event.number,
                    now=app.state.clock.now(),
                    context=context,
                )

    def on_case(event: Event) -> None:
        if isinstance(event, CaseEvent):
            with app_session(app) as session:
                on_case_event(session, event=event)

    def on_duty(event: Event) -> None:
        if isinstance(event, OfficerDutyChanged):
            context.roster.note_duty(officer_id=event.officer_id, status=event.to_status)

    def on_device(event: Event) -> None:
        if isinstance(event, DeviceBound):
            context.roster.note_devices(user_id=event.user_id, device_ids=[event.device_id])

    stops: list[Callable[[], Any]] = [
        bus.subscribe("CaseReported", on_reported),
        *(bus.subscribe(name, on_case) for name in FOLLOWED),
        # the roster is a cache: news of any process keeps it right
        bus.subscribe("OfficerDutyChanged", on_duty, remote=True),
        bus.subscribe(DeviceBound.name, on_device, remote=True),
    ]

    def stop() -> None:
        for unsubscribe in stops:
            unsubscribe()

    return stop
