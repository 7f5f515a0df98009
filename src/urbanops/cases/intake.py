"""The intake writer (受理写入): one thread per process stores many requests' reports per commit.

A report request hands its validated body to the writer and waits. The writer takes whatever has
queued up meanwhile (group commit: it never waits for a batch to fill) and prepares the batch in
one read transaction: who sent each report (authenticated once per credential and batch, so a
12345 gateway's key is looked up once, not per call; a 401/403 fails that report alone), then
``service.prepare_reports`` (the channel, the matter, one vectorised locate, the clocks; a bad
report fails alone with its 422). It stores the rest in one write transaction
(``service.store_reports``: one idempotency lookup, one duplicate query, one numbering upsert per
street and day, one INSERT per table), reads the cases' reports and timelines for the answers,
commits, and only then resolves each request's future: nothing is acknowledged before it is
durable. Events are delivered by the commit, as everywhere.

A batch whose write fails is rolled back and its reports are stored again one by one, each in its
own transaction, so a report the database refuses fails alone. See
docs/decisions/0008-intake-writer.md.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from urbanops.cases import service
from urbanops.cases.models import CaseReport, TimelineEntry
from urbanops.cases.schemas import ReportIn
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import WorkingCalendar
from urbanops.kit.db import connection_lost
from urbanops.kit.errors import Problem, ServiceUnavailable

log = logging.getLogger(__name__)

#: At most this many reports per transaction (a process admits far fewer requests at once).
MAX_BATCH = 64

SessionScope = Callable[[], AbstractContextManager[Session]]

#: What the answers show of the batch's cases: their reports and their timelines, in order.
_REPORTS_OF = (
    select(CaseReport)
    .where(CaseReport.case_id.in_(bindparam("ids", expanding=True)))
    .order_by(CaseReport.reported_at, CaseReport.id)
)
_TIMELINES_OF = (
    select(TimelineEntry)
    .where(TimelineEntry.case_id.in_(bindparam("ids", expanding=True)))
    .order_by(TimelineEntry.at, TimelineEntry.id)
)


@dataclass(frozen=True)
class Receipt:
    """A stored report as its sender sees it: the result, the case's reports and its timeline."""

    result: service.ReportResult
    reports: list[CaseReport]
    timeline: list[TimelineEntry]
    sender: Actor


def write(session: Session, items: Sequence[service.PreparedReport]) -> list[Receipt]:
    """Store ``items`` in the session's transaction and read what their answers show (no commit)."""
    results = service.store_reports(session, items)
    case_ids = list({r.case.id for r in results})
    reports: dict[int, list[CaseReport]] = {i: [] for i in case_ids}
    for report in session.scalars(_REPORTS_OF, {"ids": case_ids}):
        reports[report.case_id].append(report)
    entries: dict[int, list[TimelineEntry]] = {i: [] for i in case_ids}
    for entry in session.scalars(_TIMELINES_OF, {"ids": case_ids}):
        entries[entry.case_id].append(entry)
    return [
        Receipt(r, reports[r.case.id], entries[r.case.id], item.by)
        for r, item in zip(results, items, strict=True)
    ]


@dataclass(frozen=True)
class Unauthenticated:
    """A report whose sender the writer authenticates, once per ``credential`` and batch.

    ``authenticate`` answers the sender allowed to report, or raises 401/403 (a ``Problem``).
    """

    data: ReportIn
    now: datetime
    credential: Hashable
    authenticate: Callable[[Session], Actor]


@dataclass(frozen=True)
class _Job:
    report: service.IncomingReport | Unauthenticated
    future: Future[Receipt]


class IntakeWriter:
    """The process's intake writer: ``submit`` a received report, wait for its future.

    ``write_scope`` opens a write transaction and ``read_scope`` a read-only one (each commits on
    success and rolls back on error); ``calendar`` gives the working calendar in a session.
    """

    def __init__(
        self,
        *,
        write_scope: SessionScope,
        read_scope: SessionScope,
        calendar: Callable[[Session], WorkingCalendar],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write_scope = write_scope
        self._read_scope = read_scope
        self._calendar = calendar
        self._max_batch = max_batch
        self._queue: deque[_Job] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # write transactions committed (diagnostics and tests)

    def start(self) -> IntakeWriter:
        """Start the writer thread (reports submitted before go into its first batch)."""
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
                self._thread.start()
        return self

    def submit(self, report: service.IncomingReport | Unauthenticated) -> Future[Receipt]:
        """Queue a report; its future is resolved once it is committed, or with its error."""
        future: Future[Receipt] = Future()
        with self._wake:
            if self._stopping:
                raise ServiceUnavailable("Intake is shutting down; retry", code="intake_stopping")
            self._queue.append(_Job(report, future))
            self._wake.notify()
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
                count = min(self._max_batch, len(self._queue))
                taken = [self._queue.popleft() for _ in range(count)]
            # A request that went away before its turn was never acknowledged: skip it.
            batch = [job for job in taken if job.future.set_running_or_notify_cancel()]
            if batch:
                self._take(batch)

    def _take(self, batch: list[_Job]) -> None:
        """Authenticate and prepare the batch (a bad report fails here, alone), store the rest."""
        try:
            try:
                prepared = self._prepare(batch, self._read_scope)
            except OperationalError:
                # SQLite: authentication's once-a-minute "last used" stamp cannot write from a
                # read transaction that a writer has moved past; again, as a write transaction.
                prepared = self._prepare(batch, self._write_scope)
        except Exception as exc:  # e.g. the database is unreachable: every request hears it
            for job in batch:
                job.future.set_exception(exc)
            return
        ready: list[tuple[service.PreparedReport, Future[Receipt]]] = []
        for job, item in zip(batch, prepared, strict=True):
            if isinstance(item, Problem):
                job.future.set_exception(item)
            else:
                ready.append((item, job.future))
        if ready:
            self._store(ready)

    def _prepare(
        self, batch: list[_Job], scope: SessionScope
    ) -> list[service.PreparedReport | Problem]:
        with scope() as session:
            senders: dict[Hashable, Actor | Problem] = {}
            incoming: list[service.IncomingReport | Problem] = []
            for job in batch:
                report = job.report
                if isinstance(report, service.IncomingReport):
                    incoming.append(report)
                    continue
                sender = senders.get(report.credential)
                if sender is None:
                    sender = senders[report.credential] = _sender(session, report)
                incoming.append(
                    sender
                    if isinstance(sender, Problem)
                    else service.IncomingReport(report.data, sender, report.now)
                )
            ok = [i for i in incoming if not isinstance(i, Problem)]
            prepared = iter(service.prepare_reports(session, ok, calendar=self._calendar(session)))
            return [i if isinstance(i, Problem) else next(prepared) for i in incoming]

    def _store(self, ready: list[tuple[service.PreparedReport, Future[Receipt]]]) -> None:
        """One transaction for the batch; if it fails, each report again in its own."""
        try:
            receipts = self._commit([item for item, _ in ready])
        except Exception as exc:
            if connection_lost(exc):
                # The database went away: its COMMIT may or may not have happened, so storing
                # again could store twice (reports without a key). Every request hears 503; its
                # client retries, with the idempotency key if it sent one.
                for _, future in ready:
                    future.set_exception(exc)
                return
            # A unique-key conflict is another process storing the same idempotency key
            # meanwhile: alone, the report finds that key and answers its case.
            if len(ready) == 1 and not isinstance(exc, IntegrityError):
                ready[0][1].set_exception(exc)
                return
            if len(ready) > 1:
                log.warning("intake batch of %d failed (%r); storing one by one", len(ready), exc)
            for item, future in ready:
                self._store_alone(item, future)
            return
        for (_, future), receipt in zip(ready, receipts, strict=True):
            future.set_result(receipt)

    def _store_alone(self, item: service.PreparedReport, future: Future[Receipt]) -> None:
        try:
            receipt = self._commit([item])[0]
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(receipt)

    def _commit(self, items: list[service.PreparedReport]) -> list[Receipt]:
        with self._write_scope() as session:
            receipts = write(session, items)
        self.batches += 1
        return receipts


def _sender(session: Session, report: Unauthenticated) -> Actor | Problem:
    try:
        return report.authenticate(session)
    except Problem as exc:
        return exc
