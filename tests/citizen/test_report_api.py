"""The citizen's report through the API: what it keeps, what it refuses, and abuse limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.api_support import assert_problem, counts
from tests.cases.evidence_files import jpeg, padded, png
from tests.citizen.support import (
    NAME,
    PHONE,
    case_id_of,
    citizen_reports,
    photo,
    report_fields,
    send_report,
    staff,
)
from urbanops.cases.models import CaseReport, Evidence, EvidencePhase
from urbanops.citizen import service
from urbanops.citizen.limits import CitizenLimits, RateLimiter
from urbanops.citizen.models import TrackingToken
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock

MiB = 1024 * 1024


def _stored(db: Session) -> tuple[int, ...]:
    """Cases, reports, timeline rows, evidence rows and tracking ids in the database."""
    evidence = db.scalar(select(func.count()).select_from(Evidence)) or 0
    tokens = db.scalar(select(func.count()).select_from(TrackingToken)) or 0
    return (*counts(db), evidence, tokens)


def _blobs(settings: Settings) -> list[Path]:
    root = settings.evidence_root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_report_is_stored_with_its_photos_as_evidence_and_the_contact_kept_private(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any, settings: Settings
) -> None:
    files = [photo("a.jpg"), photo("b.png", png(), "image/png")]
    answer = send_report(client, report_fields(), files)
    assert answer.status_code == 201, answer.text
    sent = answer.json()
    assert sent["photos"] == 2 and sent["created"] is True and sent["merged"] is False
    assert PHONE not in answer.text and NAME not in answer.text

    people = staff(db, clock, auth_headers)
    case_id = case_id_of(client, people, sent["number"])
    case = client.get(f"/api/cases/{case_id}", headers=people.operator).json()
    assert (case["channel"], case["matter_code"], case["state"]) == ("citizen", "09006", "reported")
    assert case["responsibility_grid_code"] == "440309001-01"
    assert case["reports"][0]["complainant_name"] == NAME
    assert case["reports"][0]["reported_by"] == "citizen"
    photos = db.scalars(select(Evidence).where(Evidence.case_id == case_id)).all()
    assert [(e.phase, e.media_type, e.created_by) for e in photos] == [
        (EvidencePhase.BEFORE, "image/jpeg", "citizen"),
        (EvidencePhase.BEFORE, "image/png", "citizen"),
    ]
    assert len(_blobs(settings)) == 2
    # Only the secret's hash is kept, never the tracking id itself.
    token = db.scalars(select(TrackingToken)).one()
    assert sent["tracking_id"].rsplit("-", 1)[1] not in token.secret_sha256


def test_other_problems_and_reports_without_photos_or_contact_are_taken(
    client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    fields = report_fields(1, matter="other", name=None, phone=None, address=None)
    answer = send_report(client, fields, files=[])
    assert answer.status_code == 201, answer.text
    assert answer.json()["photos"] == 0
    people = staff(db, clock, auth_headers)
    case = client.get(
        f"/api/cases/{case_id_of(client, people, answer.json()['number'])}",
        headers=people.operator,
    ).json()
    assert case["matter_code"] == service.OTHER_MATTER  # the operator reclassifies it


def test_a_repeated_submission_is_the_same_report_with_a_second_tracking_id(
    client: TestClient, db: Session
) -> None:
    fields = report_fields(idempotency_key="9f1c2b7e4d3a4e5f")
    first = send_report(client, fields)
    again = send_report(client, fields)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == again.json()["number"]
    assert first.json()["tracking_id"] != again.json()["tracking_id"]
    assert again.json()["photos"] == 0  # the photos came with the first one
    assert db.scalar(select(func.count()).select_from(CaseReport)) == 1
    assert db.scalar(select(func.count()).select_from(Evidence)) == 1
    for answer in (first, again):
        followed = client.get(f"/api/citizen/reports/{answer.json()['tracking_id']}")
        assert followed.json()["number"] == first.json()["number"]


def test_a_citizen_key_never_reaches_another_channels_report(
    client: TestClient, db: Session, auth_headers: Any
) -> None:
    from tests.cases.api_support import hotline_body, report
    from urbanops.kit.actor import Role

    hotline = report(
        client, auth_headers(Role.OPERATOR), **hotline_body(2, idempotency_key="12345-abcdefgh")
    )
    answer = send_report(client, report_fields(idempotency_key="12345-abcdefgh"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["number"] != hotline["number"]


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"description": None}, 422, "description_required"),
        ({"description": "   "}, 422, "description_required"),
        ({"lon": None}, 422, "position_required"),
        ({"lat": "91"}, 422, "invalid_input"),
        ({"matter": "01001"}, 422, "unknown_matter"),
        ({"matter": "street stall"}, 422, "invalid_input"),
        ({"phone": "call me maybe"}, 422, "invalid_input"),
        ({"description": "x" * 4001}, 422, "invalid_input"),
    ],
)
def test_a_bad_report_is_refused_and_nothing_is_stored(
    client: TestClient,
    db: Session,
    settings: Settings,
    fields: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = _stored(db)
    assert_problem(send_report(client, report_fields(**fields)), status, code)
    assert _stored(db) == before
    assert _blobs(settings) == []


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ([photo("big.jpg", padded(jpeg(), 10 * MiB + 1))], 413, "too_large"),
        ([photo("note.jpg", "路口有人摆摊".encode(), "image/jpeg")], 415, "not_a_photo"),
        ([photo("letter.pdf", b"%PDF-1.7\n" + b"0" * 64, "application/pdf")], 415, "not_a_photo"),
        ([photo("stall.png", jpeg(), "image/png")], 415, "type_mismatch"),
        ([photo(f"p{i}.jpg") for i in range(5)], 422, "too_many_photos"),
        ([photo("ok.jpg"), photo("bad.jpg", b"MZ\x90\x00" * 20, "image/jpeg")], 415, "not_a_photo"),
    ],
)
def test_a_bad_photo_refuses_the_whole_report_and_nothing_is_stored(
    client: TestClient,
    db: Session,
    settings: Settings,
    files: list[Any],
    status: int,
    code: str,
) -> None:
    before = _stored(db)
    assert_problem(send_report(client, report_fields(), files), status, code)
    assert _stored(db) == before
    assert _blobs(settings) == []


def test_an_address_may_send_only_so_many_reports_in_a_while(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    app.state.citizen_limits = CitizenLimits(
        reports=RateLimiter(limit=2, window=timedelta(minutes=10))
    )
    citizen_reports(client, description="第一处")
    citizen_reports(client, description="第二处")
    before = _stored(db)
    refused = assert_problem(send_report(client, report_fields()), 429, "too_many_requests")
    assert 0 < refused["retry_after_s"] <= 600
    assert _stored(db) == before
    clock.advance(timedelta(minutes=10))
    citizen_reports(client, description="第三处")


def test_looking_up_tracking_ids_is_limited_too(app: FastAPI, client: TestClient) -> None:
    app.state.citizen_limits = CitizenLimits(
        lookups=RateLimiter(limit=3, window=timedelta(minutes=1))
    )
    for _ in range(3):
        assert client.get("/api/citizen/reports/ABCDEFGHJKLM").status_code == 404
    assert_problem(client.get("/api/citizen/reports/ABCDEFGHJKLM"), 429, "too_many_requests")
