"""Intake reads channels, SLA rules, standards and the calendar from a process cache: never stale.

Each scenario reports once (so the cache is warm), changes the reference data through its
service, reports again and checks that the new value was used; the last ones make the change in
another process, on committed data, and the first process must see it at once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.cases.conftest import People, at, make_report, report_in
from tests.conftest import ManualClock
from urbanops.cases import deadlines, service
from urbanops.cases.models import Stage
from urbanops.catalog import channels
from urbanops.catalog import service as catalog
from urbanops.catalog.schemas import StandardPatch
from urbanops.kit.calendar import LimitUnit, create_override, delete_override
from urbanops.kit.calendar_models import OverrideKind


def test_changed_sla_rule_sets_the_next_reports_limit(
    db: Session, clock: ManualClock, people: People
) -> None:
    first = make_report(db, clock, people.operator, 0).case
    assert (first.stage, first.stage_limit_amount) == (Stage.REGISTER, 1)
    channels.put_rule(
        db, profile="grid_report", stage="register", amount=3, unit=LimitUnit.WORK_HOUR,
        by=people.operator, now=clock.now(),
    )  # fmt: skip
    second = make_report(db, clock, people.operator, 1).case
    assert second.stage_limit_amount == 3
    assert second.due_at == at("2026-11-26 12:00")
    channels.delete_rule(
        db, profile="grid_report", stage="register", by=people.operator, now=clock.now()
    )
    assert make_report(db, clock, people.operator, 2).case.stage_limit_amount == 1


def test_changed_channel_flags_apply_to_the_next_report(
    db: Session, clock: ManualClock, people: People
) -> None:
    assert make_report(db, clock, people.operator, 0).case.stage is Stage.REGISTER
    channels.update_channel(
        db, code="grid_report", changes={"requires_verification": True}, by=people.operator,
        now=clock.now(),
    )  # fmt: skip
    assert make_report(db, clock, people.operator, 1).case.stage is Stage.VERIFY


def test_new_default_standard_and_its_limit_are_used_at_once(
    db: Session, clock: ManualClock, people: People
) -> None:
    before = make_report(db, clock, people.operator, 0).case
    old = catalog.standard_for(db, kind="matter", code="09006")
    assert old is not None and before.standard_id == old.id
    catalog.update_standard(
        db, standard_id=old.id, changes=StandardPatch(limit_amount=7, limit_unit="natural_day"),
        by=people.operator, now=clock.now(),
    )  # fmt: skip
    after = make_report(db, clock, people.operator, 1).case
    assert deadlines.stage_limit(db, case=after, stage=Stage.HANDLE) == (7, LimitUnit.NATURAL_DAY)


def test_calendar_override_moves_the_next_reports_deadline(
    db: Session, clock: ManualClock, people: People
) -> None:
    assert make_report(db, clock, people.operator, 0).case.due_at == at("2026-11-26 10:00")
    create_override(
        db, day=date(2026, 11, 26), kind=OverrideKind.HOLIDAY, name="test holiday",
        by=people.operator, now=clock.now(),
    )  # fmt: skip
    assert make_report(db, clock, people.operator, 1).case.due_at == at("2026-11-27 10:00")
    delete_override(db, day=date(2026, 11, 26))
    assert make_report(db, clock, people.operator, 2).case.due_at == at("2026-11-26 10:00")


def test_rolled_back_rule_change_is_not_served_afterwards(
    db_engine: Engine, clock: ManualClock
) -> None:
    with Session(db_engine) as session:
        by = _operator(session)
        channels.put_rule(
            session, profile="grid_report", stage="register", amount=4,
            unit=LimitUnit.WORK_HOUR, by=by, now=clock.now(),
        )  # fmt: skip
        changed = service.report(session, data=report_in(0), by=by, now=clock.now()).case
        assert changed.stage_limit_amount == 4
        session.rollback()
        again = service.report(session, data=report_in(1), by=by, now=clock.now()).case
        assert again.stage_limit_amount == 1
        session.rollback()


def test_rule_committed_by_another_process_is_used_at_once(
    db_engine: Engine, clock: ManualClock
) -> None:
    assert _register_limit(db_engine, clock) == 1  # the cache is warm now
    _in_other_process(db_engine, "put_rule", 6)
    try:
        assert _register_limit(db_engine, clock) == 6
        _in_other_process(db_engine, "override", 0)
        assert _register_due(db_engine, clock) == at("2026-11-27 17:00")
    finally:
        _in_other_process(db_engine, "restore", 0)
    assert _register_limit(db_engine, clock) == 1
    assert _register_due(db_engine, clock) == at("2026-11-26 10:00")


def _operator(session: Session):  # type: ignore[no-untyped-def]
    from tests.cases.conftest import actor

    return actor(session, "op01")


def _register_limit(engine: Engine, clock: ManualClock) -> float | None:
    """The register limit of a report made in a fresh session, rolled back after."""
    with Session(engine) as session:
        case = service.report(session, data=report_in(0), by=_operator(session), now=clock.now())
        limit = case.case.stage_limit_amount
        session.rollback()
    return limit


def _register_due(engine: Engine, clock: ManualClock):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        case = service.report(session, data=report_in(0), by=_operator(session), now=clock.now())
        due = case.case.due_at
        session.rollback()
    return due


_OTHER = """
import sys
from datetime import date, datetime, UTC
from urbanops.catalog import channels
from urbanops.kit.actor import SYSTEM
from urbanops.kit.calendar import LimitUnit, create_override, delete_override
from urbanops.kit.calendar_models import OverrideKind
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

url, what, amount = sys.argv[1], sys.argv[2], float(sys.argv[3])
now, day = datetime.now(UTC), date(2026, 11, 26)
with unit_of_work(make_sessionmaker(make_engine(url))) as s:
    if what == "put_rule":
        channels.put_rule(s, profile="grid_report", stage="register", amount=amount,
                          unit=LimitUnit.WORK_HOUR, by=SYSTEM, now=now)
    elif what == "override":
        create_override(s, day=day, kind=OverrideKind.HOLIDAY, name="x", by=SYSTEM, now=now)
    else:
        if channels.get_rule(s, profile="grid_report", stage="register") is not None:
            channels.delete_rule(s, profile="grid_report", stage="register", by=SYSTEM, now=now)
        from urbanops.kit.calendar import list_overrides
        if list_overrides(s, first=day, last=day):
            delete_override(s, day=day)
"""


def _in_other_process(engine: Engine, what: str, amount: float) -> None:
    """Change reference data from a separate Python process, committed."""
    url = engine.url.render_as_string(hide_password=False)
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_OTHER), url, what, str(amount)],
        check=True,
        timeout=120,
    )
