"""The whole story through HTTP: a citizen reports with a photo, the command centre handles and
closes the case, the citizen is unsatisfied (不满意重办), then unsatisfied again (督办), and the
operator finally records a satisfied rating after a call; the timeline shows every step."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.api_support import act
from tests.citizen.support import (
    NAME,
    PHONE,
    TRACKING_ID,
    Staff,
    case_id_of,
    citizen_reports,
    handle_and_close,
    staff,
)
from urbanops.alerts.models import Alert
from urbanops.kit.clock import ManualClock


def _follow(client: TestClient, tracking_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/citizen/reports/{tracking_id}")
    assert answer.status_code == 200, answer.text
    assert PHONE not in answer.text and NAME not in answer.text  # never shown back publicly
    data: dict[str, Any] = answer.json()
    return data


def _rate(client: TestClient, tracking_id: str, rating: str, comment: str) -> dict[str, Any]:
    answer = client.post(
        f"/api/citizen/reports/{tracking_id}/rating", json={"rating": rating, "comment": comment}
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _case(client: TestClient, people: Staff, case_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/cases/{case_id}", headers=people.operator)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _register(client: TestClient, people: Staff, case_id: int) -> None:
    act(client, people.operator, case_id, "verify", note="电话核实属实")
    act(client, people.operator, case_id, "register")


def test_a_citizens_report_is_handled_closed_reopened_when_unsatisfied_and_supervised_after(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    people = staff(db, clock, auth_headers)

    # 1. The citizen reports with a photo and gets a tracking id.
    sent = citizen_reports(client)
    tracking_id = sent["tracking_id"]
    assert TRACKING_ID.match(tracking_id)
    assert tracking_id.startswith(sent["number"] + "-")
    assert sent["photos"] == 1 and sent["status"] == "open"
    assert sent["track_url"] == f"/citizen/track?id={tracking_id}"

    # 2. It reaches the operators' queue, with the complainant's contact for the operator.
    queue = client.get("/api/cases", params={"channel": "citizen"}, headers=people.operator)
    assert [c["number"] for c in queue.json()["items"]] == [sent["number"]]
    case_id = case_id_of(client, people, sent["number"])
    detail = _case(client, people, case_id)
    assert detail["state"] == "reported" and detail["verification_required"]
    assert detail["reports"][0]["complainant_phone"] == PHONE

    # 3. Verified, registered, dispatched, handled with an after-photo, checked and closed.
    clock.advance(timedelta(minutes=10))
    _register(client, people, case_id)
    closed = handle_and_close(client, clock, people, case_id, after_photo=True)
    assert closed["state"] == "closed"

    # 4. The citizen sees it closed, with the photos, and may rate it.
    seen = _follow(client, tracking_id)
    assert seen["status"] == "closed" and seen["fms_status"] == "fixed"
    assert seen["rating_due"] is True and seen["ratings"] == []
    assert len(seen["report_photo_urls"]) == 1 and len(seen["after_photo_urls"]) == 1
    assert "/media/" in seen["after_photo_urls"][0]

    # 5. Unsatisfied: the case reopens (不满意重办) with fresh clocks.
    clock.advance(timedelta(hours=2))
    rated = _rate(client, tracking_id, "unsatisfied", "摊贩第二天又来了")
    assert rated["status"] == "open" and rated["rating_due"] is False
    assert [r["rating"] for r in rated["ratings"]] == ["unsatisfied"]
    reopened = _case(client, people, case_id)
    assert reopened["state"] == "registered" and reopened["reopen_count"] == 1
    assert reopened["supervised"] is False
    clocks = reopened["deadlines"]
    assert clocks["stage"] == "dispatch"
    assert _at(clocks["stage_started_at"]) == clock.now()
    assert _at(clocks["due_at"]) > clock.now() and reopened["light"] == "green"
    assert reopened["closed_at"] is None

    # 6. Handled again, closed again; unsatisfied again: not reopened a second time, but
    #    supervised (督办) for the shift leader, who decides and reopens it himself.
    closed = handle_and_close(client, clock, people, case_id, after_photo=False)
    clock.advance(timedelta(hours=1))
    _rate(client, tracking_id, "unsatisfied", "还是没有解决")
    supervised = _case(client, people, case_id)
    assert supervised["state"] == "closed" and supervised["supervised"] is True
    assert supervised["reopen_count"] == 1
    alerts = db.scalars(select(Alert).where(Alert.case_id == case_id)).all()
    assert [(a.kind, a.to_role) for a in alerts] == [("followup_unsatisfied", "shift_leader")]
    board = client.get("/api/cases", params={"supervised": "true"}, headers=people.shift_leader)
    assert [c["id"] for c in board.json()["items"]] == [case_id]
    reopen = client.post(
        f"/api/cases/{case_id}/actions/reopen",
        json={"reason": "值班长督办：重新处置"},
        headers=people.shift_leader,
    )
    assert reopen.status_code == 200, reopen.text

    # 7. The third time the operator calls; satisfied: the case stays closed.
    handle_and_close(client, clock, people, case_id, after_photo=False)
    phone = client.post(
        f"/api/cases/{case_id}/followup",
        json={"rating": "satisfied", "comment": "电话回访，市民表示满意"},
        headers=people.operator,
    )
    assert phone.status_code == 200, phone.text
    assert phone.json()["method"] == "phone" and phone.json()["outcome"] == "none"
    assert _case(client, people, case_id)["state"] == "closed"
    assert _follow(client, tracking_id)["rating_due"] is False

    # 8. Every follow-up is on record, and the counts feed the statistics.
    rounds = client.get(f"/api/cases/{case_id}/followup", headers=people.operator).json()
    assert [(f["round"], f["rating"], f["method"], f["outcome"]) for f in rounds] == [
        (1, "unsatisfied", "page", "reopened"),
        (2, "unsatisfied", "page", "supervised"),
        (3, "satisfied", "phone", "none"),
    ]
    counts = client.get("/api/followups/counts", headers=people.operator).json()
    assert counts == {"satisfied": 1, "basically_satisfied": 0, "unsatisfied": 2, "total": 3}

    # 9. The timeline shows every step, in order.
    timeline = client.get(f"/api/cases/{case_id}/timeline", headers=people.operator).json()
    cycle = ["dispatch", "accept", "handle"]
    assert [e["action"] for e in timeline] == [
        "report", "evidence", "verify", "register",
        *cycle, "evidence", "check", "close", "followup", "reopen",
        *cycle, "check", "close", "followup", "supervise", "reopen",
        *cycle, "check", "close", "followup",
    ]  # fmt: skip
    ratings = [e for e in timeline if e["action"] == "followup"]
    assert [(e["actor_ref"], e["data"]["rating"]) for e in ratings] == [
        ("citizen", "unsatisfied"),
        ("citizen", "unsatisfied"),
        (ratings[2]["actor_ref"], "satisfied"),
    ]
    assert ratings[2]["actor_ref"].startswith("user:")
    reopen = next(e for e in timeline if e["action"] == "reopen")
    assert (reopen["from_state"], reopen["to_state"], reopen["reason"]) == (
        "closed",
        "registered",
        "不满意重办",
    )

    # 10. The citizen's page lists the public steps, ratings included.
    final = _follow(client, tracking_id)
    texts = [n["text"] for n in final["notes"]]
    assert texts[0] == "已收到您的反映，等待受理"
    assert texts.count("回访评价：不满意") == 2 and texts[-1] == "回访评价：满意"
    assert [r["rating"] for r in final["ratings"]] == ["unsatisfied", "unsatisfied", "satisfied"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)
