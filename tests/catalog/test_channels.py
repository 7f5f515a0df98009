"""Intake channels (受理渠道) and their SLA profiles: defaults, lookups, editing over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.catalog import channels
from urbanops.catalog.channel_models import SlaRule
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LimitUnit, WorkingCalendar
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict, InvalidInput, NotFound

Headers = Callable[..., dict[str, str]]
ADMIN = Actor(kind="user", id=7, name="管理员", roles=frozenset({Role.ADMIN}))
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TEN_CHANNELS = {
    "video_patrol",
    "grid_report",
    "hotline_12345",
    "petition",
    "minxinqiao",
    "secretary_mailbox",
    "transfer_letter",
    "citizen",
    "ai_alarm",
    "open311",
}


def _limit(db: Session, channel: str, stage: str, emergency: bool = False) -> object:
    return channels.stage_limit(db, channel=channel, stage=stage, emergency=emergency)


def _rule_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(SlaRule)) or 0


# -- the shipped channels -----------------------------------------------------------------------


def test_the_ten_channels_exist_with_chinese_names(db: Session) -> None:
    found = channels.list_channels(db)
    assert {c.code for c in found} == TEN_CHANNELS
    assert all(CHINESE.search(c.name) for c in found), [c.name for c in found]
    names = {c.code: c.name for c in found}
    assert (names["petition"], names["minxinqiao"], names["secretary_mailbox"]) == (
        "信访",
        "民心桥",
        "书记信箱",
    )
    assert [c.sort_order for c in found] == sorted(c.sort_order for c in found)


def test_outside_reports_need_verification_and_our_own_do_not(db: Session) -> None:
    needs = {c.code for c in channels.list_channels(db) if c.requires_verification}
    assert needs == TEN_CHANNELS - {"video_patrol", "grid_report", "ai_alarm"}


def test_citizens_waiting_for_an_answer_and_emergency_channels(db: Session) -> None:
    found = channels.list_channels(db)
    assert {c.code for c in found if c.citizen_facing} == {
        "citizen",
        "open311",
        "hotline_12345",
        "minxinqiao",
        "secretary_mailbox",
    }
    assert {c.code for c in found if c.emergency_by_default} == {"ai_alarm"}


def test_each_channel_names_the_report_fields_it_cannot_do_without(db: Session) -> None:
    required = {c.code: c.required_fields for c in channels.list_channels(db)}
    assert required["hotline_12345"] == ["caller_number"]
    assert set(required["petition"]) == {"letter_number", "complainant_name"}
    assert set(required["transfer_letter"]) == {"letter_number", "source_ref"}
    assert required["ai_alarm"] == ["source_ref"]
    assert required["secretary_mailbox"] == ["letter_number"]
    assert required["grid_report"] == []
    hotline = channels.get_channel(db, code="hotline_12345")
    assert hotline is not None
    assert channels.missing_fields(hotline, {"caller_number": "  "}) == ["caller_number"]
    assert channels.missing_fields(hotline, {"caller_number": "13800000000"}) == []


def test_unknown_channel_is_none_and_404_when_required(db: Session) -> None:
    assert channels.get_channel(db, code="carrier_pigeon") is None
    with pytest.raises(NotFound):
        channels.require_channel(db, code="carrier_pigeon")


# -- SLA lookups ------------------------------------------------------------------------------


def test_hotline_12345_complainant_is_contacted_within_24_hours(db: Session) -> None:
    assert _limit(db, "hotline_12345", "contact") == (24.0, LimitUnit.URGENT_HOUR)
    assert _limit(db, "hotline_12345", "close") is None  # the matter's limit decides


def test_petition_is_accepted_in_15_days_and_answered_in_60(db: Session) -> None:
    assert _limit(db, "petition", "register") == (15.0, LimitUnit.NATURAL_DAY)
    assert _limit(db, "petition", "close") == (60.0, LimitUnit.NATURAL_DAY)


def test_emergency_responds_in_exactly_5_minutes_and_handles_in_10(
    db: Session, clock: ManualClock
) -> None:
    start, calendar = clock.now(), WorkingCalendar()
    respond = channels.stage_limit(db, channel="ai_alarm", stage="respond", emergency=True)
    handle = channels.stage_limit(db, channel="citizen", stage="handle", emergency=True)
    assert respond is not None and handle is not None
    assert respond[1] == handle[1] == LimitUnit.URGENT_HOUR
    assert calendar.add(start, *respond) - start == timedelta(minutes=5)
    assert calendar.add(start, *handle) - start == timedelta(minutes=10)


def test_emergency_falls_back_to_the_channel_then_the_default(db: Session) -> None:
    assert _limit(db, "hotline_12345", "contact", emergency=True) == (24.0, LimitUnit.URGENT_HOUR)
    assert _limit(db, "hotline_12345", "register", emergency=True) == (1.0, LimitUnit.WORK_HOUR)
    assert _limit(db, "hotline_12345", "respond", emergency=False) == (1.0, LimitUnit.WORK_HOUR)


def test_a_channel_without_rules_gets_the_default_and_untimed_stages_get_none(
    db: Session,
) -> None:
    assert _limit(db, "grid_report", "verify") == (2.0, LimitUnit.WORK_HOUR)
    assert _limit(db, "grid_report", "dispatch") == (0.5, LimitUnit.WORK_HOUR)
    assert _limit(db, "grid_report", "check") == (2.0, LimitUnit.WORK_HOUR)
    assert _limit(db, "grid_report", "handle") is None  # the matter's case standard decides
    assert _limit(db, "grid_report", "close") is None  # no whole-case deadline
    assert _limit(db, "grid_report", "contact") is None


def test_editing_a_rule_changes_the_limit_and_records_who(db: Session, clock: ManualClock) -> None:
    rule, created = channels.put_rule(
        db,
        profile="hotline_12345",
        stage="contact",
        amount=12,
        unit=LimitUnit.URGENT_HOUR,
        by=ADMIN,
        now=clock.now(),
    )
    assert created is False and rule.updated_by == "user:7"
    assert _limit(db, "hotline_12345", "contact") == (12.0, LimitUnit.URGENT_HOUR)


def test_a_channel_rule_beats_the_default_until_it_is_deleted(
    db: Session, clock: ManualClock
) -> None:
    rule, created = channels.put_rule(
        db,
        profile="video_patrol",
        stage="dispatch",
        amount=10 / 60,
        unit=LimitUnit.URGENT_HOUR,
        note="operator sees it live",
        by=ADMIN,
        now=clock.now(),
    )
    assert created is True and rule.created_by == "user:7"
    assert _limit(db, "video_patrol", "dispatch") == (10 / 60, LimitUnit.URGENT_HOUR)
    assert _limit(db, "grid_report", "dispatch") == (0.5, LimitUnit.WORK_HOUR)
    channels.delete_rule(db, profile="video_patrol", stage="dispatch", by=ADMIN, now=clock.now())
    assert _limit(db, "video_patrol", "dispatch") == (0.5, LimitUnit.WORK_HOUR)


def test_an_emergency_beats_the_channels_own_rule(db: Session, clock: ManualClock) -> None:
    channels.put_rule(
        db,
        profile="ai_alarm",
        stage="respond",
        amount=1,
        unit=LimitUnit.WORK_HOUR,
        by=ADMIN,
        now=clock.now(),
    )
    assert _limit(db, "ai_alarm", "respond", emergency=True) == (5 / 60, LimitUnit.URGENT_HOUR)
    assert _limit(db, "ai_alarm", "respond", emergency=False) == (1.0, LimitUnit.WORK_HOUR)


def test_effective_limits_name_the_profile_that_set_each_stage(db: Session) -> None:
    limits = channels.effective_limits(db, channel="petition", emergency=True)
    assert limits["register"] == (15.0, LimitUnit.NATURAL_DAY, "petition")
    assert limits["verify"] == (2.0, LimitUnit.WORK_HOUR, "default")
    assert limits["respond"][2] == "emergency"
    assert "contact" not in limits


@pytest.mark.parametrize(
    ("profile", "stage", "amount", "code"),
    [
        ("carrier_pigeon", "respond", 1.0, "unknown_sla_profile"),
        ("default", "lunch", 1.0, "unknown_sla_stage"),
        ("default", "respond", 0.0, "bad_amount"),
        ("default", "respond", -2.0, "bad_amount"),
        ("default", "respond", float("nan"), "bad_amount"),
    ],
)
def test_unsatisfiable_rule_is_refused_and_nothing_is_written(
    db: Session, clock: ManualClock, profile: str, stage: str, amount: float, code: str
) -> None:
    before = _rule_count(db)
    with pytest.raises(InvalidInput) as refused:
        channels.put_rule(
            db,
            profile=profile,
            stage=stage,
            amount=amount,
            unit=LimitUnit.WORK_HOUR,
            by=ADMIN,
            now=clock.now(),
        )
    assert refused.value.code == code
    assert _rule_count(db) == before
    assert _limit(db, "citizen", "respond") == (1.0, LimitUnit.WORK_HOUR)


def test_default_rules_cannot_be_deleted(db: Session, clock: ManualClock) -> None:
    with pytest.raises(Conflict):
        channels.delete_rule(db, profile="default", stage="verify", by=ADMIN, now=clock.now())
    with pytest.raises(NotFound):
        channels.delete_rule(db, profile="citizen", stage="verify", by=ADMIN, now=clock.now())


# -- over HTTP --------------------------------------------------------------------------------


def test_reading_channels_needs_a_sign_in(client: TestClient) -> None:
    assert client.get("/api/channels").status_code == 401
    assert client.get("/api/sla-rules").status_code == 401


def test_grid_officer_reads_channels_and_their_limits(
    client: TestClient, auth_headers: Headers
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["440309001-01"])
    listed = client.get("/api/channels", headers=officer)
    assert listed.status_code == 200
    assert {c["code"] for c in listed.json()} == TEN_CHANNELS
    detail = client.get("/api/channels/hotline_12345", headers=officer)
    assert detail.status_code == 200
    body = detail.json()
    assert body["name"] == "12345热线" and body["required_fields"] == ["caller_number"]
    assert [(r["stage"], r["amount"], r["unit"]) for r in body["rules"]] == [
        ("contact", 24.0, "urgent_hour")
    ]
    effective = {e["stage"]: e for e in body["effective"]}
    assert effective["contact"]["profile"] == "hotline_12345"
    assert effective["verify"] == {
        "stage": "verify",
        "amount": 2.0,
        "unit": "work_hour",
        "profile": "default",
    }
    assert client.get("/api/channels/fax", headers=officer).status_code == 404


def test_sla_rules_are_listed_by_profile(client: TestClient, auth_headers: Headers) -> None:
    headers = auth_headers(Role.OPERATOR)
    emergency = client.get("/api/sla-rules", params={"profile": "emergency"}, headers=headers)
    assert emergency.status_code == 200
    assert [(r["stage"], round(r["amount"] * 60)) for r in emergency.json()] == [
        ("respond", 5),
        ("handle", 10),
    ]
    assert len(client.get("/api/sla-rules", headers=headers).json()) == 12


def test_admin_puts_a_rule_and_the_channel_limit_follows(
    client: TestClient, auth_headers: Headers, db: Session
) -> None:
    admin = auth_headers(Role.ADMIN)
    created = client.put(
        "/api/sla-rules/citizen/contact",
        json={"amount": 48, "unit": "urgent_hour", "note": "app users get 2 days"},
        headers=admin,
    )
    assert created.status_code == 201
    assert created.json()["created_by"].startswith("user:")
    assert _limit(db, "citizen", "contact") == (48.0, LimitUnit.URGENT_HOUR)
    replaced = client.put(
        "/api/sla-rules/citizen/contact", json={"amount": 1, "unit": "work_day"}, headers=admin
    )
    assert replaced.status_code == 200
    assert replaced.json()["updated_by"] == created.json()["created_by"]
    assert _limit(db, "citizen", "contact") == (1.0, LimitUnit.WORK_DAY)
    deleted = client.delete("/api/sla-rules/citizen/contact", headers=admin)
    assert deleted.status_code == 204
    assert _limit(db, "citizen", "contact") is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/sla-rules/default/respond", {"amount": 0, "unit": "work_hour"}),
        ("/api/sla-rules/default/respond", {"amount": -1, "unit": "work_hour"}),
        ("/api/sla-rules/default/respond", {"amount": 1, "unit": "fortnight"}),
        ("/api/sla-rules/default/respond", {"amount": "soon", "unit": "work_hour"}),
        ("/api/sla-rules/default/respond", {"unit": "work_hour"}),
        ("/api/sla-rules/fax/respond", {"amount": 1, "unit": "work_hour"}),
        ("/api/sla-rules/default/lunch", {"amount": 1, "unit": "work_hour"}),
    ],
)
def test_bad_rule_is_answered_422_and_nothing_changes(
    client: TestClient, auth_headers: Headers, db: Session, path: str, body: dict[str, object]
) -> None:
    before = _rule_count(db)
    response = client.put(path, json=body, headers=auth_headers(Role.ADMIN))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _rule_count(db) == before
    assert _limit(db, "citizen", "respond") == (1.0, LimitUnit.WORK_HOUR)


def test_deleting_a_default_rule_is_refused(client: TestClient, auth_headers: Headers) -> None:
    admin = auth_headers(Role.ADMIN)
    refused = client.delete("/api/sla-rules/default/verify", headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "default_rule_protected"
    assert client.delete("/api/sla-rules/petition/verify", headers=admin).status_code == 404


def test_admin_changes_a_channel_and_the_row_records_who(
    client: TestClient, auth_headers: Headers, db: Session
) -> None:
    response = client.patch(
        "/api/channels/minxinqiao",
        json={"required_fields": ["complainant_phone", "source_ref"], "name": "民心桥节目"},
        headers=auth_headers(Role.ADMIN),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["required_fields"] == ["complainant_phone", "source_ref"]
    assert body["updated_by"].startswith("user:")
    stored = channels.get_channel(db, code="minxinqiao")
    assert stored is not None and stored.name == "民心桥节目"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"required_fields": ["favourite_colour"]}, "unknown_report_field"),
        ({"required_fields": ["source_ref", "source_ref"]}, "duplicate_report_field"),
        ({"citizen_facing": None}, "null_not_allowed"),
        ({"name": ""}, "invalid_input"),
        ({"colour": "red"}, "invalid_input"),
    ],
)
def test_bad_channel_change_is_answered_422_and_nothing_changes(
    client: TestClient, auth_headers: Headers, db: Session, body: dict[str, object], code: str
) -> None:
    response = client.patch("/api/channels/citizen", json=body, headers=auth_headers(Role.ADMIN))
    assert response.status_code == 422 and response.json()["code"] == code
    stored = channels.get_channel(db, code="citizen")
    assert stored is not None
    assert (stored.required_fields, stored.citizen_facing, stored.updated_by) == ([], True, None)


def test_grid_officer_may_not_edit_channels_or_rules(
    client: TestClient, auth_headers: Headers, db: Session
) -> None:
    officer = auth_headers(Role.GRID_OFFICER, grid_codes=["440309001-01"])
    put = client.put(
        "/api/sla-rules/default/respond", json={"amount": 9, "unit": "work_hour"}, headers=officer
    )
    patched = client.patch("/api/channels/citizen", json={"active": False}, headers=officer)
    deleted = client.delete("/api/sla-rules/petition/close", headers=officer)
    assert (put.status_code, patched.status_code, deleted.status_code) == (403, 403, 403)
    assert _limit(db, "citizen", "respond") == (1.0, LimitUnit.WORK_HOUR)
    assert _limit(db, "petition", "close") == (60.0, LimitUnit.NATURAL_DAY)
