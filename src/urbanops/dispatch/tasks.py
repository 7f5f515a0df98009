"""The 5/10 mechanism as a periodic job (派遣巡检), safe in any number of processes at once.

Each pass, in committed transactions:

1. emergencies still reported or registered and not dispatched are dispatched now (the catch-up
   after a crash, or when nobody was available at report time);
2. emergencies dispatched and not accepted by their RESPOND deadline (5 minutes by default; set
   per channel by the SLA rules) go to the next best officer, excluding those who already timed
   out on or declined the case; the late officer's offer ends ``timed_out``, the timeline says
   why (``redispatch`` with the reason) and the shift leader gets a ``dispatch_timeout`` alert;
   the handling clock (10 minutes) then runs from the next officer's acceptance, as the case
   workflow starts the HANDLE stage on ``accept``;
3. offers whose case moved on without this process hearing of it are ended.

Two passes at once do each thing once: candidates are taken ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer; ``BEGIN IMMEDIATE`` serialises passes), an offer ends by a
conditional UPDATE (``... WHERE outcome = 'pending'``) and the redispatch carries the case version
it read, so the loser of any race changes nothing and reports no error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from urbanops.cases.models import Case, CaseState, Stage
from urbanops.config import get_settings
from urbanops.dispatch.service import (
    DispatchContext,
    auto_dispatch,
    reconcile_offers,
    time_out,
)
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class DispatchReport:
    """What one pass did (only what this process won)."""

    auto_dispatched: int = 0
    late: int = 0
    redispatched: int = 0
    offers_ended: int = 0

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    @property
    def changes(self) -> int:
        return self.auto_dispatched + self.redispatched + self.offers_ended


def run_pass(
    session: Session, *, now: datetime, context: DispatchContext, batch: int = BATCH
) -> DispatchReport:
    """One bounded pass; flushes, never commits."""
    report = DispatchReport()
    for case in _undispatched_emergencies(session, batch=batch):
        if auto_dispatch(session, case_id=case.id, now=now, context=context) is not None:
            report.auto_dispatched += 1
    for case in _late_emergencies(session, now=now, batch=batch):
        report.late += 1
        if time_out(session, case=case, now=now, context=context) is not None:
            report.redispatched += 1
    report.offers_ended = reconcile_offers(session, now=now, batch=batch)
    return report


def _undispatched_emergencies(session: Session, *, batch: int) -> list[Case]:
    query = (
        select(Case)
        .where(
            Case.is_emergency.is_(True),
            Case.state.in_((CaseState.REPORTED, CaseState.REGISTERED)),
        )
        .order_by(Case.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def _late_emergencies(session: Session, *, now: datetime, batch: int) -> list[Case]:
    query = (
        select(Case)
        .where(
            Case.is_emergency.is_(True),
            Case.state == CaseState.DISPATCHED,
            Case.stage == Stage.RESPOND,
            Case.officer_id.is_not(None),
            Case.due_at <= now,
        )
        .order_by(Case.due_at, Case.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def run_dispatch(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    context: DispatchContext,
    batch: int = BATCH,
    attempts: int = 5,
) -> DispatchReport:
    """One pass in its own transaction, retried when it loses a lock race."""
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work(factory) as session:  # BEGIN IMMEDIATE on SQLite
                return run_pass(session, now=now, context=context, batch=batch)
        except OperationalError:  # SQLite busy, PostgreSQL deadlock: retry the pass
            if attempt == attempts:
                raise
            log.info("dispatch pass lost a lock race (attempt %d); retrying", attempt)
            time.sleep(0.05 * attempt)  # lock back-off, not a deadline: the clock is not read
    raise AssertionError("unreachable")


def dispatch_job(
    factory: sessionmaker[Session], clock: Clock, *, context: DispatchContext | None = None
) -> DispatchReport:
    """The periodic job (``kit.jobs``); the app passes its context (positions, roster)."""
    context = context or DispatchContext.of(get_settings())
    report = run_dispatch(factory, now=clock.now(), context=context)
    if report.changes or report.late:
        log.info("dispatch pass: %s", report)
    return report
