"""The intake writer: many requests' reports in one transaction, each answered as if alone.

These tests commit for real (the writer has its own sessions), on the session's database of each
kind, and remove what they wrote afterwards. Reports submitted before the writer starts all go
into its first batch, which makes "the same batch" a fact rather than a race.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, wait
from functools import cache
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.conftest import actor, report_in
from tests.support.cleanup import delete_cases
from urbanops.app import create_app
from urbanops.auth import service as auth_service
from urbanops.auth.models import ApiKey, AuditLog
from urbanops.cases import intake, numbering
from urbanops.cases.events import CaseReported
from urbanops.cases.models import Case, CaseNumberCounter, CaseReport, TimelineEntry
from urbanops.cases.service import IncomingReport
from urbanops.config import Settings
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import SYSTEM, Actor, Role
from urbanops.kit.calendar import load_calendar
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker, unit_of_work
from urbanops.kit.errors import InvalidInput, Unauthorized
from urbanops.kit.events import Event, bus

WAIT_S = 60


class Written:
    """Rows committed by a test (cases, reports, timeline, case numbers), removed after it."""

    def __init__(self, engine: Engine) -> None:
        self.factory = make_sessionmaker(engine)
        with self.factory() as session:
            self.last_case = session.scalar(select(func.max(Case.id))) or 0
            counters = session.execute(select(CaseNumberCounter.key, CaseNumberCounter.last))
            self.counters = {str(key): int(last) for key, last in counters}

    def cases(self) -> list[Case]:
        with self.factory() as session:
            query = select(Case).where(Case.id > self.last_case).order_by(Case.id)
            return list(session.scalars(query))

    def reports_of(self, case_id: int) -> list[CaseReport]:
        with self.factory() as session:
            return list(session.scalars(select(CaseReport).where(CaseReport.case_id == case_id)))

    def actions_of(self, case_id: int) -> list[str]:
        with self.factory() as session:
            query = select(TimelineEntry.action).where(TimelineEntry.case_id == case_id)
            return list(session.scalars(query.order_by(TimelineEntry.id)))

    def remove(self) -> None:
        with self.factory.begin() as session:
            new = list(session.scalars(select(Case.id).where(Case.id > self.last_case)))
            delete_cases(session, new)
            session.execute(
                delete(CaseNumberCounter).where(CaseNumberCounter.key.not_in(self.counters))
            )
            for key, last in self.counters.items():
                row = session.get(CaseNumberCounter, key)
                if row is not None:
                    row.last = last


@pytest.fixture
def written(db_engine: Engine) -> Iterator[Written]:
    rows = Written(db_engine)
    yield rows
    rows.remove()


def _writer(engine: Engine, settings: Settings, **options: Any) -> intake.IntakeWriter:
    """A writer on the committed database, not started yet."""
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    return intake.IntakeWriter(
        write_scope=lambda: unit_of_work(factory),
        read_scope=lambda: unit_of_work(factory, write=False),
        calendar=lambda session: load_calendar(session, settings),
        **options,
    )


@pytest.fixture
def writer(db_engine: Engine, settings: Settings) -> Iterator[intake.IntakeWriter]:
    started = _writer(db_engine, settings)
    yield started
    started.stop()


@pytest.fixture
def officer(db_engine: Engine) -> Actor:
    with Session(db_engine) as session:
        return actor(session, "gh0101")


def _results(futures: list[Future[intake.Receipt]]) -> list[intake.Receipt]:
    _done, pending = wait(futures, timeout=WAIT_S)
    assert not pending, "the writer did not answer"
    return [f.result() for f in futures]


def test_many_reports_of_one_problem_in_one_batch_make_one_case_with_every_report(
    writer: intake.IntakeWriter, written: Written, officer: Actor, clock: ManualClock
) -> None:
    heard: list[Event] = []
    stop = bus.subscribe(CaseReported.name, heard.append)
    try:
        futures = [
            writer.submit(IncomingReport(report_in(0, description=f"第{n}次有人摆摊"), officer,
                                         clock.now()))
            for n in range(12)
        ]  # fmt: skip
        writer.start()
        receipts = _results(futures)
    finally:
        stop()

    assert writer.batches == 1
    [case] = written.cases()
    assert {r.result.case.id for r in receipts} == {case.id}
    assert [(r.result.created, r.result.merged) for r in receipts] == [(True, False)] + [
        (False, True)
    ] * 11
    assert case.report_count == 12 and len(written.reports_of(case.id)) == 12
    assert written.actions_of(case.id) == ["report"] + ["merge_report"] * 11
    assert [r.result.report.id for r in receipts] == sorted(r.id for r in receipts[-1].reports)
    assert [e.merged for e in heard if isinstance(e, CaseReported)] == [False] + [True] * 11


def test_a_key_repeated_within_one_batch_is_one_case_and_one_report(
    writer: intake.IntakeWriter, written: Written, officer: Actor, clock: ManualClock
) -> None:
    body = report_in(1, idempotency_key=f"app-{uuid.uuid4().hex}")
    futures = [writer.submit(IncomingReport(body, officer, clock.now())) for _ in range(3)]
    writer.start()
    first, *again = _results(futures)

    [case] = written.cases()
    assert first.result.created and first.result.case.id == case.id
    for receipt in again:
        assert (receipt.result.created, receipt.result.merged) == (False, False)
        assert receipt.result.case.id == case.id
        assert receipt.result.report.id == first.result.report.id
    assert len(written.reports_of(case.id)) == 1 and case.report_count == 1


def test_bad_reports_in_a_batch_fail_alone_and_the_others_are_stored(
    writer: intake.IntakeWriter, written: Written, officer: Actor, clock: ManualClock
) -> None:
    def refuse(_session: Session) -> Actor:
        raise Unauthorized("Sign in, or send a bearer token or an API key")

    unknown_matter = report_in(1, matter_code="99999")
    not_json = report_in(2, extra={"captured": object()})  # no database can store this
    stranger = intake.Unauthenticated(
        data=report_in(1), now=clock.now(), credential=("api_key", "nonsense"),
        authenticate=refuse,
    )  # fmt: skip
    futures = [
        writer.submit(IncomingReport(report_in(0), officer, clock.now())),
        writer.submit(IncomingReport(unknown_matter, officer, clock.now())),
        writer.submit(IncomingReport(not_json, officer, clock.now())),
        writer.submit(stranger),
        writer.submit(IncomingReport(report_in(1), officer, clock.now())),
    ]
    writer.start()
    wait(futures, timeout=WAIT_S)

    assert isinstance(futures[1].exception(), InvalidInput)
    assert futures[1].exception().code == "unknown_matter"  # type: ignore[union-attr]
    assert futures[2].exception() is not None
    assert isinstance(futures[3].exception(), Unauthorized)
    stored = [futures[0].result().result.case.id, futures[4].result().result.case.id]
    assert [c.id for c in written.cases()] == stored


def test_case_numbers_are_consecutive_and_unique_with_writers_in_many_threads(
    db_engine: Engine, settings: Settings, written: Written, officer: Actor, clock: ManualClock
) -> None:
    writers = [_writer(db_engine, settings).start() for _ in range(2)]  # as two processes would
    futures: list[Future[intake.Receipt]] = []
    lock = threading.Lock()

    def send(thread: int) -> None:
        lon, lat = _grid_points()[thread]
        for n in range(10):  # a grid per thread, ten matters: no two reports are duplicates
            body = report_in(0, lon=lon, lat=lat, matter_code=MATTERS[n], description=f"{n}")
            future = writers[thread % 2].submit(IncomingReport(body, officer, clock.now()))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        receipts = _results(futures)
    finally:
        for each in writers:
            each.stop()

    numbers = [r.result.case.number for r in receipts]
    assert len(set(numbers)) == len(numbers) == 60
    prefix = numbering.prefix(street_code="440309001", day=clock.now().date())
    serials = sorted(int(n.removeprefix(f"{prefix}-")) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + 60))
    assert sorted(c.number for c in written.cases()) == sorted(numbers)


@cache
def _grid_points() -> list[tuple[float, float]]:
    """A point inside each unit grid of the demo street."""
    grids = build_guanhu().unit_grids
    return [(p.x, p.y) for p in (g.polygon.representative_point() for g in grids)]


MATTERS = ("09006", "09005", "06010", "07001", "09001", "09002", "09004", "06001", "06007", "07002")


def test_concurrent_reports_through_the_api_at_one_place_make_one_case(
    db_engine: Engine, settings: Settings, clock: ManualClock, written: Written
) -> None:
    app = create_app(settings, engine=db_engine, clock=clock)  # no session override: the writer
    with unit_of_work(make_sessionmaker(db_engine)) as session:
        key_row, key = auth_service.create_api_key(
            session, name="12345 gateway", principal_kind="integration",
            roles=[Role.INTEGRATION], by=SYSTEM, now=clock.now(),
        )  # fmt: skip
        key_id = key_row.id
    answers: list[Any] = []
    try:
        with TestClient(app) as client:

            def post(n: int) -> None:
                body = _hotline(n)
                answers.append(client.post("/api/cases", json=body, headers={"X-API-Key": key}))

            threads = [threading.Thread(target=post, args=(n,)) for n in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            again = client.post("/api/cases", json=_hotline(3), headers={"X-API-Key": key})
            stranger = client.post("/api/cases", json=_hotline(99))
    finally:
        with unit_of_work(make_sessionmaker(db_engine)) as session:
            session.execute(delete(AuditLog).where(AuditLog.entity == "api_key",
                                                   AuditLog.entity_id == str(key_id)))  # fmt: skip
            session.execute(delete(ApiKey).where(ApiKey.id == key_id))

    assert all(a.status_code == 201 for a in answers), [a.text for a in answers][:3]
    [case] = written.cases()
    assert {a.json()["id"] for a in answers} == {case.id}
    assert sorted(a.json()["created"] for a in answers) == [False] * 15 + [True]
    assert case.report_count == 16
    assert again.status_code == 200 and again.json()["id"] == case.id
    assert again.json()["report_count"] == 16 and len(again.json()["reports"]) == 16
    assert stranger.status_code == 401


def _hotline(n: int) -> dict[str, Any]:
    lon, lat = report_in(0).lon, report_in(0).lat
    return {
        "channel": "hotline_12345",
        "matter_code": "09009",
        "description": f"市民来电反映机动车乱停放 ({n})",
        "lon": lon,
        "lat": lat,
        "idempotency_key": f"call-{n}-{_RUN}",
        "caller_number": "075512345678",
        "complainant_name": "张三",
    }


_RUN = uuid.uuid4().hex[:8]
