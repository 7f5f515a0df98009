"""Emergencies: dispatched at once, moved on after 5 minutes unanswered (the 5/10 mechanism)."""

from __future__ import annotations

from datetime import timedelta

from tests.dispatch.conftest import Street, near
from urbanops.alerts.models import AlertKind
from urbanops.cases.models import Stage
from urbanops.dispatch.models import OfferOutcome
from urbanops.workforce.models import DutyStatus

NEAREST, SECOND, THIRD = "gh0103", "gh0102", "gh0104"


def three_officers(street: Street) -> None:
    """gh0103 at 80 m, gh0102 at 300 m, gh0104 at 700 m: all walkers of grid 01."""
    street.place(NEAREST, at=near(0, east_m=80))
    street.place(SECOND, at=near(0, north_m=300))
    street.place(THIRD, at=near(0, east_m=-700))


def alarm(street: Street, **fields: object) -> int:
    case = street.report(0, channel="ai_alarm", description="AI告警：占道经营", **fields)
    assert case["is_emergency"]
    return int(case["id"])


def test_an_ai_alarm_is_dispatched_at_once_to_the_best_officer(street: Street) -> None:
    three_officers(street)

    case_id = alarm(street)

    case = street.case(case_id)
    assert case["state"] == "dispatched"
    assert case["officer_id"] == street.user_id(NEAREST)
    rows = [(r.action, r.actor_name) for r in street.timeline(case_id)]
    assert rows[-2:] == [("register", "自动派遣"), ("dispatch", "自动派遣")]
    [offer] = street.offers(case_id)
    assert (offer.user_id, offer.outcome, offer.attempt) == (
        street.user_id(NEAREST),
        OfferOutcome.PENDING,
        1,
    )
    assert offer.respond_by == street.now() + timedelta(minutes=5)
    assert offer.eta_s is not None and offer.eta_s < 120


def test_an_emergency_from_a_channel_that_verifies_skips_the_check_and_says_so(
    street: Street,
) -> None:
    three_officers(street)

    case = street.report(0, channel="citizen", is_emergency=True, description="井盖缺失")

    rows = street.timeline(case["id"])
    assert [r.action for r in rows][-3:] == ["verify", "register", "dispatch"]
    assert rows[-3].data == {"skipped_for_emergency": True}
    assert street.case(case["id"])["officer_id"] == street.user_id(NEAREST)


def test_not_accepted_in_5_minutes_it_goes_to_the_next_officer_and_the_shift_leader_hears(
    street: Street,
) -> None:
    three_officers(street)
    case_id = alarm(street)

    street.clock.advance(timedelta(minutes=4, seconds=59))
    assert street.run_job().redispatched == 0
    assert street.case(case_id)["officer_id"] == street.user_id(NEAREST)

    street.clock.advance(timedelta(seconds=1))  # 5 minutes after the dispatch
    report = street.run_job()

    assert (report.late, report.redispatched) == (1, 1)
    case = street.case(case_id)
    assert case["state"] == "dispatched" and case["officer_id"] == street.user_id(SECOND)
    last = street.timeline(case_id)[-1]
    assert (last.action, last.actor_name) == ("redispatch", "自动派遣")
    assert last.reason is not None and last.reason.startswith("5 分钟内未响应，自动改派")
    assert [(o.user_id, o.outcome) for o in street.offers(case_id)] == [
        (street.user_id(NEAREST), OfferOutcome.TIMED_OUT),
        (street.user_id(SECOND), OfferOutcome.PENDING),
    ]
    [alert] = street.alerts(case_id)
    assert (alert.kind, alert.to_role) == (AlertKind.DISPATCH_TIMEOUT, "shift_leader")
    assert alert.user_id == street.user_id(NEAREST)
    assert street.stored_case(case_id).due_at == street.now() + timedelta(minutes=5)

    # five more minutes unanswered: the third officer, never the first again
    street.clock.advance(timedelta(minutes=5))
    three_officers(street)  # their devices keep reporting
    street.run_job()
    assert street.case(case_id)["officer_id"] == street.user_id(THIRD)
    assert len(street.alerts(case_id)) == 2
    assert street.run_job().changes == 0  # a pass with nothing due does nothing


def test_accepted_in_time_the_handling_clock_runs_10_minutes_from_acceptance(
    street: Street,
) -> None:
    three_officers(street)
    case_id = alarm(street)

    street.clock.advance(timedelta(minutes=3))
    street.act(case_id, "accept", by=NEAREST)

    case = street.stored_case(case_id)
    assert case.stage is Stage.HANDLE
    assert case.due_at == street.now() + timedelta(minutes=10)
    assert [o.outcome for o in street.offers(case_id)] == [OfferOutcome.ACCEPTED]
    assert street.duty(NEAREST) is DutyStatus.BUSY
    street.clock.advance(timedelta(minutes=3))  # past the first 5 minutes: nothing moves
    assert street.run_job().late == 0
    assert street.case(case_id)["officer_id"] == street.user_id(NEAREST)

    street.act(case_id, "handle", by=NEAREST, note="已劝离")

    assert street.duty(NEAREST) is DutyStatus.ON_DUTY


def test_an_officer_who_returns_an_accepted_case_is_free_again(street: Street) -> None:
    three_officers(street)
    case_id = alarm(street)
    street.act(case_id, "accept", by=NEAREST)
    assert street.duty(NEAREST) is DutyStatus.BUSY

    street.act(case_id, "return", by=NEAREST, reason="非本人负责区域")

    assert street.duty(NEAREST) is DutyStatus.ON_DUTY
    # 退单: back to the dispatcher, not to him; the next pass gives it to the next officer
    case = street.case(case_id)
    assert (case["state"], case["officer_id"]) == ("registered", None)
    street.run_job()
    case = street.case(case_id)
    assert case["state"] == "dispatched"
    assert case["officer_id"] in (street.user_id(SECOND), street.user_id(THIRD))


def test_busy_is_never_set_over_training_or_leave(street: Street) -> None:
    three_officers(street)
    case_id = alarm(street)
    street.act(case_id, "accept", by=NEAREST)
    street.set_duty(NEAREST, DutyStatus.TRAINING)  # called away to training mid-case

    street.act(case_id, "handle", by=NEAREST, note="已处置")

    assert street.duty(NEAREST) is DutyStatus.TRAINING


def test_an_officer_asked_an_emergency_is_not_asked_another_until_he_answers(
    street: Street,
) -> None:
    three_officers(street)
    first = alarm(street)

    second = alarm(street, source_ref="CAM-0002-ALARM-9", lon=near(0, east_m=60)[0])

    assert street.case(first)["officer_id"] == street.user_id(NEAREST)
    assert street.case(second)["officer_id"] == street.user_id(SECOND)
    third = street.report(0, matter_code="09001", description="游商")
    why = {o["user_id"]: o["reason"] for o in street.recommend(third["id"])["unavailable"]}
    assert why[street.user_id(NEAREST)] == "pending_offer"


def test_with_nobody_available_the_shift_leader_is_alerted_and_the_job_dispatches_later(
    street: Street,
) -> None:
    case_id = alarm(street)

    assert street.case(case_id)["state"] == "reported"
    [alert] = street.alerts(case_id)
    assert (alert.kind, alert.to_role) == ("no_officer_available", "shift_leader")
    assert street.run_job().auto_dispatched == 0  # still nobody; no second alert
    assert len(street.alerts(case_id)) == 1

    street.clock.advance(timedelta(minutes=1))
    street.place(SECOND, at=near(0, east_m=200))
    report = street.run_job()

    assert report.auto_dispatched == 1
    assert street.case(case_id)["officer_id"] == street.user_id(SECOND)


def test_a_duplicate_alarm_joins_the_case_and_dispatches_nobody_else(street: Street) -> None:
    three_officers(street)
    first = alarm(street)

    again = street.report(
        0, channel="ai_alarm", description="AI告警：占道经营", source_ref="CAM-0001-ALARM-2"
    )

    assert again["id"] == first and again["merged"]
    assert len(street.offers(first)) == 1
