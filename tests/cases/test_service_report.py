"""report(): validation, idempotency, duplicates, numbering, and reports outside the street."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.conftest import People, make_report, report_in
from urbanops.cases import service, timeline
from urbanops.cases.models import Case, CaseReport, CaseState
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import InvalidInput


def _counts(db: Session) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(Case)) or 0,
        db.scalar(select(func.count()).select_from(CaseReport)) or 0,
    )


def test_a_new_case_is_numbered_by_street_and_day_and_located_in_its_grid(
    db: Session, clock: ManualClock, people: People
) -> None:
    first = make_report(db, clock, people.officer).case
    second = make_report(db, clock, people.officer, 1).case
    prefix = "440309001-20261126-"
    assert first.number.startswith(prefix) and second.number.startswith(prefix)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1
    assert first.responsibility_grid_code == "440309001-01" and first.inside_jurisdiction
    assert first.unit_grid_code is not None and first.community_code is not None


def test_a_repeated_idempotent_report_is_the_same_case_and_writes_nothing(
    db: Session, clock: ManualClock, people: People
) -> None:
    first = make_report(db, clock, people.officer, idempotency_key="app-42")
    before = _counts(db)
    again = make_report(db, clock, people.officer, idempotency_key="app-42")
    assert (again.case.id, again.report.id, again.created) == (
        first.case.id,
        first.report.id,
        False,
    )
    assert _counts(db) == before


def test_two_complainants_of_one_problem_are_merged_on_one_case(
    db: Session, clock: ManualClock, people: People
) -> None:
    first = make_report(db, clock, people.operator, channel="hotline_12345", matter_code="09009")
    clock.advance(timedelta(hours=2))
    second = make_report(
        db, clock, people.operator, channel="hotline_12345", matter_code="09009",
        complainant_name="赵六", caller_number="075587654321",
    )  # fmt: skip
    assert second.merged and not second.created and second.case.id == first.case.id
    assert second.case.report_count == 2
    names = db.scalars(
        select(CaseReport.complainant_name).where(CaseReport.case_id == first.case.id)
    )
    assert sorted(n or "" for n in names) == ["张三", "赵六"]
    assert [e.action for e in timeline.entries(db, case_id=first.case.id)] == [
        "report", "merge_report",
    ]  # fmt: skip


def test_a_report_after_the_dedupe_window_or_of_another_matter_opens_a_new_case(
    db: Session, clock: ManualClock, people: People
) -> None:
    first = make_report(db, clock, people.officer)
    other_matter = make_report(db, clock, people.officer, matter_code="09005")
    clock.advance(timedelta(hours=25))
    later = make_report(db, clock, people.officer)
    assert other_matter.created and later.created
    assert len({first.case.id, other_matter.case.id, later.case.id}) == 3


def test_the_operator_merges_a_duplicate_case_into_another(
    db: Session, clock: ManualClock, people: People
) -> None:
    keep = make_report(db, clock, people.officer).case
    twin = make_report(db, clock, people.officer, 1).case
    service.merge(
        db, case_id=keep.id, duplicate_id=twin.id, by=people.operator, now=clock.now(),
        reason="同一摊点",
    )  # fmt: skip
    assert keep.report_count == 2 and twin.state is CaseState.REJECTED
    assert twin.rejection_reason == f"merged into {keep.number}"
    assert timeline.entries(db, case_id=twin.id)[-1].action == "merged"


def test_reclassifying_a_case_in_handling_recomputes_its_limit(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case  # 09006: 2 urgent hours
    for action, by, kw in (
        ("register", people.shift_leader, {}),
        ("dispatch", people.dispatcher, {"officer_id": people.officer.id}),
        ("accept", people.officer, {}),
    ):
        service.act(db, case_id=case.id, action=action, by=by, now=clock.now(), **kw)  # type: ignore[arg-type]
    assert case.due_at == clock.now() + timedelta(hours=2)
    service.reclassify(
        db, case_id=case.id, matter_code="07001", by=people.operator, now=clock.now(),
        reason="实为小广告",
    )  # fmt: skip
    assert case.matter_code == "07001" and case.due_at != clock.now() + timedelta(hours=2)
    assert timeline.entries(db, case_id=case.id)[-1].action == "reclassify"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"matter_code": "99999"}, "unknown_matter"),
        ({"channel": "carrier_pigeon"}, "unknown_channel"),
        ({"channel": "petition", "letter_number": None}, "missing_channel_field"),
        ({"crs": "mars"}, "unknown_crs"),
    ],
)
def test_bad_reports_are_refused_with_422_and_nothing_is_written(
    db: Session, clock: ManualClock, people: People, overrides: dict[str, Any], code: str
) -> None:
    before = _counts(db)
    with pytest.raises(InvalidInput) as refused:
        make_report(db, clock, people.operator, **overrides)
    assert refused.value.code == code
    assert _counts(db) == before


def test_coordinates_out_of_range_are_refused_before_the_service() -> None:
    with pytest.raises(ValidationError):
        report_in(lon=181.0)
    with pytest.raises(ValidationError):
        report_in(lat=-90.5)


def test_a_report_outside_every_grid_is_kept_and_flagged(
    db: Session, clock: ManualClock, people: People
) -> None:
    result = make_report(db, clock, people.operator, 3)
    assert result.created and not result.case.inside_jurisdiction
    assert result.case.number.startswith("000000000-20261126-")
    assert result.case.responsibility_grid_code is None
