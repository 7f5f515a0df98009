"""FixMyStreet's servicerequestupdates: public steps go out, updates come in, both ways."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.conftest import People, make_report
from tests.open311.conftest import V2
from tests.open311.support import JSON_TYPE, spec_errors, valid_json, valid_xml, xml_items
from tests.open311.test_requests import close_inside_the_platform, post
from urbanops.auth import service as auth_service
from urbanops.cases import service
from urbanops.cases.models import Case, CaseState, TimelineEntry
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock

UPDATE_FIELDS = {
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
}


def updates(client: TestClient, fmt: str = "json", **params: str) -> httpx.Response:
    return client.get(f"{V2}/servicerequestupdates.{fmt}", params=params)


def push(client: TestClient, key: str | None, number: str, **fields: Any) -> httpx.Response:
    """POST an update as FixMyStreet does (upper-case status, the commenter's name and e-mail)."""
    body = {
        "service_request_id": number, "update_id": "fms-1", "status": "OPEN",
        "description": "Still there this morning", "updated_datetime": "2026-11-26T10:00:00Z",
        "first_name": "Bob", "last_name": "Mould", "email": "bob@example.org",
    }  # fmt: skip
    if key is not None:
        body["api_key"] = key
    return client.post(f"{V2}/servicerequestupdates.json", data=body | fields)


def test_public_steps_go_out_with_fixmystreet_statuses(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    close_inside_the_platform(db, clock, people, case.id)
    answer = updates(client)
    assert answer.headers["content-type"] == JSON_TYPE
    rows = answer.json()
    assert all(set(r) == UPDATE_FIELDS for r in rows)
    assert [r["status"] for r in rows] == [
        "open", "investigating", "action_scheduled", "action_scheduled", "in_progress",
        "in_progress", "in_progress", "fixed",
    ]  # fmt: skip
    assert rows[-1]["description"] == "已办结"
    assert {r["service_request_id"] for r in rows} == {case.number}
    assert [int(r["update_id"]) for r in rows] == sorted(int(r["update_id"]) for r in rows)
    root = valid_xml(updates(client, "xml"), "service_request_updates")
    items = xml_items(root)
    assert [i["update_id"] for i in items] == [r["update_id"] for r in rows]
    assert all(i["media_url"] == "" for i in items)


def test_internal_reasons_stay_inside(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    service.act(db, case_id=case.id, action="reject", by=people.operator, now=clock.now(),
                reason="内部：当事人是熟人")  # fmt: skip
    service.act(db, case_id=case.id, action="note", by=people.operator, now=clock.now(),
                note="内部备注")  # fmt: skip
    rows = updates(client).json()
    assert [r["description"] for r in rows] == ["已收到您的反映，等待受理", "经核实，不予立案"]
    assert rows[-1]["status"] == "closed"
    assert "熟人" not in updates(client, "xml").text


def test_the_updates_window_follows_the_90_day_rule(
    client: TestClient, db: Session, clock: ManualClock, people: People
) -> None:
    make_report(db, clock, people.officer)
    clock.advance(timedelta(days=91))
    assert updates(client).json() == []
    since = (clock.now() - timedelta(days=92)).isoformat()
    assert len(updates(client, start_date=since).json()) == 1
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    spec_errors(updates(client, "xml", **too_long), 400)
    spec_errors(updates(client, "json", start_date="yesterday"), 400, "json")


def test_an_update_from_fixmystreet_becomes_a_public_note(
    client: TestClient, db: Session, api_key: str
) -> None:
    [created] = post(client, api_key).json()
    number = created["service_request_id"]
    answer = push(client, api_key, number, status="OPEN")
    [posted] = answer.json()
    assert set(posted) == {"update_id"}
    [request] = valid_json(client.get(f"{V2}/requests/{number}.json"), "requests.json")
    assert request["status_notes"] == "Still there this morning"
    rows = updates(client).json()
    assert rows[-1]["update_id"] == posted["update_id"]
    assert rows[-1]["description"] == "Still there this morning"
    for text in ("Bob", "Mould", "bob@example.org"):
        assert text not in updates(client, "xml").text
    entry = db.get(TimelineEntry, int(posted["update_id"]))
    assert entry is not None and entry.action == "open311_update"
    assert "bob@example.org" not in str(entry.data)

    again = push(client, api_key, number, status="OPEN")
    assert again.json() == [posted]  # a retried update is the same update
    xml = client.post(
        f"{V2}/servicerequestupdates.xml",
        data={"api_key": api_key, "service_request_id": number, "update_id": "fms-2",
              "status": "in_progress", "description": "A second look"},
    )  # fmt: skip
    root = valid_xml(xml, "service_request_updates")
    [item] = xml_items(root)
    assert set(item) == {"update_id"} and item["update_id"] != posted["update_id"]


def test_bad_updates_are_refused_in_the_spec_format(
    client: TestClient, db: Session, api_key: str
) -> None:
    [created] = post(client, api_key).json()
    number = created["service_request_id"]
    before = db.scalars(select(TimelineEntry.id)).all()
    spec_errors(push(client, None, number), 403, "json")
    spec_errors(push(client, "uok_ffff_nope", number), 403, "json")
    spec_errors(push(client, api_key, "440309001-20261126-9999"), 404, "json")
    spec_errors(push(client, api_key, number, status="EXPLODED"), 400, "json")
    spec_errors(push(client, api_key, number, updated_datetime="today"), 400, "json")
    spec_errors(push(client, api_key, number, description="x" * 4001), 400, "json")
    assert db.scalars(select(TimelineEntry.id)).all() == before


def test_a_reopen_asked_by_fixmystreet_waits_for_the_staff(
    client: TestClient, db: Session, clock: ManualClock, people: People, api_key: str
) -> None:
    [created] = post(client, api_key).json()
    case = db.scalars(select(Case).where(Case.number == created["service_request_id"])).one()
    close_inside_the_platform(db, clock, people, case.id)
    push(client, api_key, case.number, status="OPEN", description="问题又出现了")
    assert case.state is CaseState.CLOSED
    note = db.scalars(
        select(TimelineEntry).where(
            TimelineEntry.case_id == case.id, TimelineEntry.action == "open311_update"
        )
    ).one()
    assert note.data is not None and note.data["reopen_requested"] is True
    [request] = client.get(f"{V2}/requests/{case.number}.json").json()
    assert request["status"] == "closed"


def test_a_key_that_may_reopen_reopens_the_case(
    client: TestClient, db: Session, clock: ManualClock, people: People, api_key: str
) -> None:
    _, operator_key = auth_service.create_api_key(
        db, name="FixMyStreet (may reopen)", principal_kind="integration",
        roles=[Role.INTEGRATION, Role.OPERATOR], by=SYSTEM, now=clock.now(),
    )  # fmt: skip
    [created] = post(client, api_key).json()
    case = db.scalars(select(Case).where(Case.number == created["service_request_id"])).one()
    close_inside_the_platform(db, clock, people, case.id)
    answer = push(client, operator_key, case.number, status="REOPEN", description="又出现了")
    assert answer.status_code == 200
    assert case.state is CaseState.REGISTERED and case.reopen_count == 1
    [request] = client.get(f"{V2}/requests/{case.number}.json").json()
    assert request["status"] == "open"
    assert updates(client).json()[-1]["description"] == "重新办理"
