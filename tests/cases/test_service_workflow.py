"""The case loop through the service: every channel from report to close, with exact deadlines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.cases.conftest import CHANNEL_FIELDS, People, at, make_report
from urbanops.cases import service, timeline
from urbanops.cases.models import Case, CaseState, Light, Stage
from urbanops.cases.schemas import CaseFilter
from urbanops.kit.actor import Actor
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict, Forbidden, InvalidInput


def _act(db: Session, clock: ManualClock, case: Case, action: str, by: Actor, **kw: object) -> Case:
    return service.act(db, case_id=case.id, action=action, by=by, now=clock.now(), **kw)  # type: ignore[arg-type]


def _rows(db: Session, case: Case) -> list[tuple[str, str | None, str | None]]:
    return [(e.action, e.from_state, e.to_state) for e in timeline.entries(db, case_id=case.id)]


def _dispatched(
    db: Session, clock: ManualClock, people: People, *, by: Actor | None = None, **report: Any
) -> Case:
    """A case the officer reported (or ``by``), registered and dispatched to him."""
    case = make_report(db, clock, by or people.officer, **report).case
    _act(db, clock, case, "register", people.shift_leader)
    return _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.officer.id)


def _run_to_close(db: Session, clock: ManualClock, p: People, case: Case) -> None:
    """Verify where needed, register, dispatch, accept, handle, check, close; 10 min apart."""
    steps: list[tuple[str, Actor, dict[str, object]]] = [
        ("register", p.shift_leader, {}),
        ("dispatch", p.dispatcher, {"officer_id": p.officer.id}),
        ("accept", p.officer, {}),
        ("handle", p.officer, {}),
        ("check", p.operator, {}),
        ("close", p.shift_leader, {}),
    ]
    if case.verification_required:
        steps.insert(0, ("verify", p.officer, {}))
    for action, by, kw in steps:
        clock.advance(timedelta(minutes=10))
        _act(db, clock, case, action, by, **kw)


@pytest.mark.parametrize("channel", sorted(CHANNEL_FIELDS))
def test_every_channel_runs_from_report_to_close_with_one_timeline_row_a_step(
    db: Session, clock: ManualClock, people: People, channel: str
) -> None:
    result = make_report(db, clock, people.operator, channel=channel, matter_code="07002")
    case = result.case
    assert result.created and case.state is CaseState.REPORTED
    _run_to_close(db, clock, people, case)
    verify = [("verify", "reported", "reported")] if case.verification_required else []
    assert _rows(db, case) == [
        ("report", None, "reported"),
        *verify,
        ("register", "reported", "registered"),
        ("dispatch", "registered", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("handle", "accepted", "handled"),
        ("check", "handled", "checked"),
        ("close", "checked", "closed"),
    ]
    assert case.closed_at == clock.now() and case.stage is None
    assert service.light_of(case, clock.now()) is Light.NONE


def test_grid_report_deadlines_follow_default_profile_and_the_matters_urgent_hours(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case  # 09006: 2 urgent hours to handle
    assert (case.stage, case.due_at, case.warn_at) == (
        Stage.REGISTER, at("2026-11-26 10:00"), at("2026-11-26 09:48"),
    )  # fmt: skip
    clock.set(at("2026-11-26 09:30"))
    _act(db, clock, case, "register", people.shift_leader)
    assert (case.stage, case.due_at) == (Stage.DISPATCH, at("2026-11-26 10:00"))
    clock.set(at("2026-11-26 09:40"))
    _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.officer.id)
    assert (case.stage, case.due_at) == (Stage.RESPOND, at("2026-11-26 10:40"))
    clock.set(at("2026-11-26 10:00"))
    _act(db, clock, case, "accept", people.officer)
    assert (case.stage, case.warn_at, case.due_at) == (
        Stage.HANDLE, at("2026-11-26 11:36"), at("2026-11-26 12:00"),
    )  # fmt: skip
    clock.set(at("2026-11-26 11:00"))
    _act(db, clock, case, "handle", people.officer)
    assert (case.stage, case.due_at) == (Stage.CHECK, at("2026-11-26 15:00"))  # lunch break


def test_work_day_standard_is_counted_with_the_working_calendar(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer, matter_code="07001").case  # 1 工作日
    for action, by, kw in (
        ("register", people.shift_leader, {}),
        ("dispatch", people.dispatcher, {"officer_id": people.officer.id}),
        ("accept", people.officer, {}),
    ):
        _act(db, clock, case, action, by, **kw)
    assert case.due_at == at("2026-11-27 18:00")  # end of the next working day (Friday)
    assert case.warn_at == at("2026-11-27 16:36")  # 80 % of its 7 working hours


def test_hotline_12345_must_contact_the_complainant_within_24_hours_and_is_verified_first(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.operator, channel="hotline_12345").case
    assert case.contact_by == at("2026-11-27 09:00")
    assert (case.stage, case.due_at) == (Stage.VERIFY, at("2026-11-26 11:00"))
    with pytest.raises(Conflict) as refused:
        _act(db, clock, case, "register", people.shift_leader)
    assert refused.value.code == "verification_pending"
    clock.set(at("2026-11-26 10:00"))
    _act(db, clock, case, "contact", people.operator)
    _act(db, clock, case, "verify", people.officer)
    assert case.contacted_at == clock.now() and case.verified_at == clock.now()
    assert (case.stage, case.due_at) == (Stage.REGISTER, at("2026-11-26 11:00"))


def test_petition_is_accepted_within_15_days_and_answered_within_60(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.operator, channel="petition").case
    assert case.close_by == at("2027-01-25 09:00")
    _act(db, clock, case, "verify", people.officer)
    assert (case.stage, case.due_at) == (Stage.REGISTER, at("2026-12-11 09:00"))


def test_ai_alarm_is_an_emergency_responded_in_5_minutes_and_handled_in_10(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.operator, channel="ai_alarm").case
    assert case.is_emergency and not case.verification_required
    _act(db, clock, case, "register", people.shift_leader)
    _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.officer.id)
    assert case.due_at == clock.now() + timedelta(minutes=5)
    assert case.warn_at == clock.now() + timedelta(minutes=4)
    clock.advance(timedelta(minutes=3))
    _act(db, clock, case, "accept", people.officer)
    assert case.due_at == clock.now() + timedelta(minutes=10)


def test_the_light_turns_yellow_at_80_percent_and_red_at_100_percent(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(db, clock, people, channel="ai_alarm")
    expected = [(0, Light.GREEN), (239, Light.GREEN), (240, Light.YELLOW), (300, Light.RED)]
    for seconds, light in expected:
        assert case.dispatched_at is not None
        now = case.dispatched_at + timedelta(seconds=seconds)
        assert service.light_of(case, now) is light
        found, _ = service.list_cases(
            db, filters=CaseFilter(light=[light]), viewer=people.shift_leader, now=now
        )
        assert case in found


def test_rework_sends_a_checked_case_back_to_the_officer_and_counts(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    for action, by, kw in (
        ("register", people.shift_leader, {}),
        ("dispatch", people.dispatcher, {"officer_id": people.officer.id}),
        ("accept", people.officer, {}),
        ("handle", people.officer, {}),
    ):
        _act(db, clock, case, action, by, **kw)
    with pytest.raises(InvalidInput):
        _act(db, clock, case, "rework", people.operator)
    _act(db, clock, case, "rework", people.operator, reason="摊点仍在")
    assert (case.state, case.rework_count, case.stage) == (
        CaseState.DISPATCHED, 1, Stage.RESPOND,
    )  # fmt: skip
    assert _rows(db, case)[-1] == ("rework", "handled", "dispatched")


def test_return_goes_one_step_back_only_with_a_reason(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(db, clock, people)
    with pytest.raises(InvalidInput) as refused:
        _act(db, clock, case, "return", people.officer)
    assert refused.value.code == "reason_required"
    assert case.state is CaseState.DISPATCHED
    _act(db, clock, case, "return", people.officer, reason="非本网格事项")
    assert (case.state, case.return_count, case.officer_id) == (CaseState.REGISTERED, 1, None)
    assert timeline.entries(db, case_id=case.id)[-1].reason == "非本网格事项"


def test_an_officer_returns_only_his_own_task_and_it_goes_back_to_the_dispatcher(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(db, clock, people)
    _act(db, clock, case, "accept", people.officer)
    for action in ("return", "request_suspension"):  # not his: refused, nothing changes
        with pytest.raises(Forbidden) as refused:
            _act(db, clock, case, action, people.other_officer, reason="不是我的")
        assert refused.value.code == "not_assigned_officer"
    assert (case.state, case.return_count, case.suspension_requested) == (
        CaseState.ACCEPTED, 0, False,
    )  # fmt: skip
    _act(db, clock, case, "return", people.officer, reason="非本网格事项")  # 退单
    assert (case.state, case.officer_id, case.return_count) == (CaseState.REGISTERED, None, 1)
    assert _rows(db, case)[-1] == ("return", "accepted", "registered")


def test_staff_return_an_accepted_case_one_step_back(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(db, clock, people)
    _act(db, clock, case, "accept", people.officer)
    _act(db, clock, case, "return", people.shift_leader, reason="签收有误")
    assert (case.state, case.officer_id) == (CaseState.DISPATCHED, people.officer.id)


def test_suspended_time_is_not_counted_the_due_time_moves_by_exactly_the_pause(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(db, clock, people, channel="ai_alarm")
    due, warn = case.due_at, case.warn_at
    _act(db, clock, case, "request_suspension", people.officer, reason="当事人不在场")
    assert case.suspension_requested
    _act(db, clock, case, "suspend", people.shift_leader, reason="同意挂账")
    assert service.light_of(case, clock.now() + timedelta(hours=5)) is Light.NONE
    clock.advance(timedelta(hours=3))
    _act(db, clock, case, "resume", people.shift_leader)
    assert case.state is CaseState.DISPATCHED and case.suspended_from is None
    assert case.due_at == due + timedelta(hours=3)  # type: ignore[operator]
    assert case.warn_at == warn + timedelta(hours=3)  # type: ignore[operator]
    assert case.suspended_seconds == 3 * 3600
    assert [r[0] for r in _rows(db, case)][-3:] == ["request_suspension", "suspend", "resume"]


def test_a_closed_case_is_reopened_with_fresh_clocks(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    _run_to_close(db, clock, people, case)
    clock.advance(timedelta(days=1))
    _act(db, clock, case, "reopen", people.operator, reason="市民回访不满意")
    assert (case.state, case.reopen_count, case.closed_at) == (CaseState.REGISTERED, 1, None)
    assert case.stage is Stage.DISPATCH and case.stage_started_at == clock.now()


def test_supervision_flags_the_case_with_a_note(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    _act(db, clock, case, "supervise", people.shift_leader, reason="督办", note="今日内办结")
    assert case.supervised
    assert timeline.entries(db, case_id=case.id)[-1].note == "今日内办结"


def test_a_transition_the_role_may_not_make_is_refused_and_nothing_changes(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    with pytest.raises(Forbidden) as refused:
        _act(db, clock, case, "register", people.officer)
    assert refused.value.code == "role_not_allowed"
    with pytest.raises(Conflict) as wrong_state:
        _act(db, clock, case, "close", people.shift_leader)
    assert wrong_state.value.code == "transition_not_allowed"
    assert case.state is CaseState.REPORTED and len(_rows(db, case)) == 1


def test_only_the_assigned_officer_accepts_and_dispatch_needs_an_officer(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    _act(db, clock, case, "register", people.shift_leader)
    with pytest.raises(InvalidInput) as no_officer:
        _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.operator.id)
    assert no_officer.value.code == "officer_not_eligible"
    _act(db, clock, case, "dispatch", people.dispatcher, officer_id=people.officer.id)
    with pytest.raises(Forbidden):
        _act(db, clock, case, "accept", people.other_officer)
    _act(db, clock, case, "accept", people.squad_leader)
    assert case.state is CaseState.ACCEPTED


def test_a_stale_expected_version_is_409_with_the_current_state(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    version = case.version
    _act(db, clock, case, "register", people.shift_leader)
    with pytest.raises(Conflict) as stale:
        _act(db, clock, case, "note", people.operator, expected_version=version)
    assert stale.value.code == "concurrent_update"
    assert stale.value.extra["state"] == "registered"


def test_the_officer_who_handled_the_case_may_not_check_his_own_work(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = _dispatched(
        db, clock, people, by=people.operator, channel="grid_report", matter_code="07002"
    )
    _act(db, clock, case, "accept", people.officer)
    _act(db, clock, case, "handle", people.officer)
    with pytest.raises(Forbidden) as refused:
        _act(db, clock, case, "check", people.officer)
    assert refused.value.code == "own_work_check"
    assert case.state is CaseState.HANDLED
    _act(db, clock, case, "check", people.operator)
    assert case.state is CaseState.CHECKED
