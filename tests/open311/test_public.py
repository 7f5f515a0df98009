"""The public face of a case: statuses, FixMyStreet statuses, masking and media addresses."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy.orm import Session

from tests.cases.conftest import People, make_report
from tests.cases.evidence_files import jpeg
from urbanops.cases import evidence as evidence_service
from urbanops.cases import public, service
from urbanops.cases.models import CaseState, EvidencePhase
from urbanops.kit.clock import ManualClock

BASE = "https://guanhu.example.cn"
SECRET = "test-secret"


def test_a_fresh_report_is_open_and_shows_no_personal_data(
    db: Session, clock: ManualClock, people: People
) -> None:
    result = make_report(
        db, clock, people.operator, channel="hotline_12345",
        description="张三反映：路口有摊贩，电话13800000001，邮箱 zs@example.com",
    )  # fmt: skip
    view = public.public_case(db, result.case, base_url=BASE, secret_key=SECRET)
    assert view.status == "open"
    assert view.fms_status == "open"
    assert view.number == result.case.number
    assert view.matter_name
    assert view.agency_responsible == "街道综合行政执法队"
    assert "13800000001" not in view.description
    assert "张三" not in view.description
    assert "zs@example.com" not in view.description
    assert [n.text for n in view.notes] == [public.PUBLIC_WORDING["report"]]
    assert view.expected_at == result.case.due_at


def test_statuses_follow_the_workflow_to_closure(
    db: Session, clock: ManualClock, people: People
) -> None:
    case = make_report(db, clock, people.officer).case
    steps = [
        ("register", people.operator, {}, "action_scheduled"),
        ("dispatch", people.dispatcher, {"officer_id": people.officer.id}, "action_scheduled"),
        ("accept", people.officer, {}, "in_progress"),
        ("handle", people.officer, {}, "in_progress"),
        ("check", people.squad_leader, {}, "in_progress"),
        ("close", people.shift_leader, {}, "fixed"),
    ]
    for action, by, extra, fms in steps:
        service.act(db, case_id=case.id, action=action, by=by, now=clock.now(), **extra)
        assert public.fms_status(case) == fms, action
    assert public.public_status(case) == "closed"
    view = public.public_case(db, case, base_url=BASE, secret_key=SECRET)
    assert view.notes[-1].text == public.PUBLIC_WORDING["close"]
    assert view.updated_at == case.closed_at
    assert view.expected_at is None


def test_rejected_and_merged_cases_are_closed_with_their_fms_status(
    db: Session, clock: ManualClock, people: People
) -> None:
    rejected = make_report(db, clock, people.officer, index=1).case
    service.act(
        db, case_id=rejected.id, action="reject", by=people.operator, now=clock.now(),
        reason="内部原因：举报人是城管的亲戚",
    )  # fmt: skip
    assert (public.public_status(rejected), public.fms_status(rejected)) == ("closed", "closed")
    view = public.public_case(db, rejected, base_url=BASE, secret_key=SECRET)
    assert all("亲戚" not in n.text for n in view.notes)

    first = make_report(db, clock, people.officer, index=0).case
    twin = make_report(db, clock, people.officer, index=2).case
    service.merge(
        db, case_id=first.id, duplicate_id=twin.id, by=people.operator, now=clock.now(),
        reason="同一摊贩",
    )  # fmt: skip
    assert twin.state is CaseState.REJECTED
    assert public.fms_status(twin) == "duplicate"


def test_public_photo_address_is_unguessable_and_documents_are_not_public(
    db: Session, clock: ManualClock, people: People, tmp_path: Path
) -> None:
    case = make_report(db, clock, people.officer).case
    store = evidence_service.EvidenceStore(tmp_path)
    photo = evidence_service.attach(
        db, store=store, case_id=case.id, phase=EvidencePhase.AFTER, by=people.officer,
        now=clock.now(), upload=evidence_service.Upload(io.BytesIO(jpeg()), "after.jpg"),
    )  # fmt: skip
    document = evidence_service.attach(
        db, store=store, case_id=case.id, phase=EvidencePhase.BEFORE, by=people.officer,
        now=clock.now(), upload=evidence_service.Upload(io.BytesIO(b"%PDF-1.4\n%%EOF"), "a.pdf"),
    )  # fmt: skip
    url = public.public_media_url(db, photo, base_url=BASE, secret_key=SECRET)
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"{BASE}/media/") and url.endswith(".jpg")
    assert public.evidence_for_token(db, token, secret_key=SECRET) is photo
    assert public.evidence_for_token(db, token, secret_key="another") is None
    forged = f"{photo.id}-{'A' * 24}.jpg"
    assert public.evidence_for_token(db, forged, secret_key=SECRET) is None
    assert not public.is_public_media(document)
    view = public.public_case(db, case, base_url=BASE, secret_key=SECRET)
    assert view.after_photo_urls == [url]
    assert view.report_photo_urls == []
