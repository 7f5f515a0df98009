"""Evidence on a case through the real API, on SQLite and PostgreSQL, with a real store on disk."""

from __future__ import annotations

import hashlib
import io
import itertools
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.evidence_files import MiB, jpeg, padded, png, tiny_disk, xlsx
from urbanops.cases.evidence import EvidenceStore
from urbanops.cases.models import Case, CaseState, Evidence, TimelineEntry
from urbanops.config import Settings
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock

GRID_01 = "440309001-01"
GRID_09 = "440309001-09"
_numbers = itertools.count(1)
Headers = Callable[..., dict[str, str]]


def make_case(db: Session, clock: ManualClock, grid: str = GRID_01) -> Case:
    """A dispatched case in ``grid``, written directly (the intake service is tested elsewhere)."""
    now = clock.now()
    case = Case(
        number=f"EV-{now:%Y%m%d}-{next(_numbers):05d}",
        state=CaseState.DISPATCHED,
        channel="grid_report",
        matter_code="09006",
        description="路口有人占道经营水果摊",
        lon=114.02,
        lat=22.71,
        inside_jurisdiction=True,
        responsibility_grid_code=grid,
        reported_at=now,
        created_by=SYSTEM.ref,
        updated_at=now,
    )
    db.add(case)
    db.flush()
    return case


def upload(
    client: TestClient,
    case_id: int,
    data: bytes,
    headers: dict[str, str],
    *,
    name: str = "IMG_0001.jpg",
    content_type: str = "image/jpeg",
    phase: str = "before",
    **form: Any,
) -> Any:
    return client.post(
        f"/api/cases/{case_id}/evidence",
        files={"file": (name, data, content_type)},
        data={"phase": phase, **form},
        headers=headers,
    )


def counts(db: Session, case_id: int) -> tuple[int, int]:
    """(evidence rows, timeline rows) of a case."""
    evidence = db.scalar(select(func.count()).where(Evidence.case_id == case_id))
    steps = db.scalar(select(func.count()).where(TimelineEntry.case_id == case_id))
    return evidence or 0, steps or 0


@pytest.fixture
def officer(auth_headers: Headers) -> dict[str, str]:
    return auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01])


@pytest.fixture
def store(settings: Settings) -> EvidenceStore:
    return EvidenceStore(settings.evidence_root)


def test_officer_uploads_a_before_photo_and_reads_it_back(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case = make_case(db, clock)
    data = jpeg()
    answer = upload(client, case.id, data, officer)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["size"], body["media_type"], body["kind"]) == (len(data), "image/jpeg", "photo")
    assert (body["phase"], body["filename"]) == ("before", "IMG_0001.jpg")

    listed = client.get(f"/api/cases/{case.id}/evidence", headers=officer).json()
    assert [e["id"] for e in listed] == [body["id"]]

    content = client.get(body["content_url"], headers=officer)
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/jpeg"
    assert content.headers["etag"] == f'"{body["sha256"]}"'
    again = client.get(
        body["content_url"], headers={**officer, "If-None-Match": content.headers["etag"]}
    )
    assert again.status_code == 304

    step = db.scalars(select(TimelineEntry).where(TimelineEntry.case_id == case.id)).one()
    assert step.action == "evidence" and step.data is not None
    assert step.data["evidence_id"] == body["id"] and step.note == "IMG_0001.jpg"


def test_the_same_photo_on_two_cases_is_two_rows_and_one_file(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    store: EvidenceStore,
) -> None:
    first, second = make_case(db, clock), make_case(db, clock)
    data = jpeg()
    a = upload(client, first.id, data, officer).json()
    b = upload(client, second.id, data, officer, phase="after").json()
    assert a["sha256"] == b["sha256"] and a["id"] != b["id"]
    assert store.files() == [store.path_of(a["sha256"])]


def test_exif_capture_time_and_gps_position_are_kept(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case = make_case(db, clock)
    data = jpeg(taken="2026:11:26 08:47:03", gps=(114.0212, 22.7133))  # no offset: Beijing time
    body = upload(client, case.id, data, officer, phase="after").json()
    taken = datetime.fromisoformat(body["taken_at"].replace("Z", "+00:00"))
    assert taken == datetime(2026, 11, 26, 0, 47, 3, tzinfo=UTC)
    assert body["taken_lon"] == pytest.approx(114.0212, abs=1e-6)
    assert body["taken_lat"] == pytest.approx(22.7133, abs=1e-6)


def test_a_tampered_file_is_refused_on_read(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    store: EvidenceStore,
) -> None:
    case = make_case(db, clock)
    body = upload(client, case.id, jpeg(), officer).json()
    path = store.path_of(body["sha256"])
    path.write_bytes(path.read_bytes().replace(b"\xff\xd9", b"\xff\xd8"))
    answer = client.get(body["content_url"], headers=officer)
    assert answer.status_code == 409
    assert answer.json()["code"] == "evidence_corrupted"


def test_a_photo_over_20_mib_is_refused_and_nothing_is_kept(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    store: EvidenceStore,
) -> None:
    case = make_case(db, clock)
    upload(client, case.id, jpeg(colour=(1, 2, 3)), officer)
    files, rows = store.files(), counts(db, case.id)
    answer = upload(client, case.id, padded(jpeg(), 20 * MiB + 1), officer)
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
    assert store.files() == files
    assert counts(db, case.id) == rows == (1, 1)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("photo.pdf", "image/png"), ("photo.png", "application/pdf"), ("scan.pdf", "application/pdf")],
)
def test_a_png_passed_off_as_a_pdf_is_refused_and_nothing_is_kept(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    store: EvidenceStore,
    name: str,
    content_type: str,
) -> None:
    case = make_case(db, clock)
    answer = upload(client, case.id, png(), officer, name=name, content_type=content_type)
    assert answer.status_code == 415
    assert answer.json()["code"] == "type_mismatch"
    assert answer.json()["detected_type"] == "image/png"
    assert store.files() == []
    assert counts(db, case.id) == (0, 0)


def _plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("说明.txt", "不是 Word 文件")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        ("现场情况说明：摊贩已离开。".encode() * 50, "photo.jpg", "image/jpeg"),
        (_plain_zip(), "整改报告.docx", "application/octet-stream"),
    ],
)
def test_a_text_file_called_photo_jpg_is_refused(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    store: EvidenceStore,
    data: bytes,
    name: str,
    content_type: str,
) -> None:
    case = make_case(db, clock)
    answer = upload(client, case.id, data, officer, name=name, content_type=content_type)
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_type"
    assert store.files() == [] and counts(db, case.id) == (0, 0)


def test_a_rectification_ledger_in_excel_is_a_document(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case = make_case(db, clock)
    sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    answer = upload(
        client, case.id, xlsx(), officer, name="整改台账.xlsx", content_type=sheet, phase="other"
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["media_type"], answer.json()["kind"]) == (sheet, "document")
    content = client.get(answer.json()["content_url"], headers=officer)
    assert "%E6%95%B4%E6%94%B9" in content.headers["content-disposition"]


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0" * 4096


@pytest.mark.parametrize(
    ("data", "name", "content_type", "media_type", "kind"),
    [
        (_ftyp(b"qt  ", b"qt  "), "IMG_4021.MOV", "video/quicktime", "video/quicktime", "video"),
        (_ftyp(b"isom", b"isom", b"mp42"), "执法记录.mp4", "video/mp4", "video/mp4", "video"),
        (_ftyp(b"heic", b"mif1", b"heic"), "IMG_4022.HEIC", "image/heic", "image/heic", "photo"),
        (
            b"%PDF-1.7\n" + b"0" * 2048,
            "告知书.pdf",
            "application/pdf",
            "application/pdf",
            "document",
        ),
    ],
)
def test_phone_videos_heic_photos_and_pdfs_are_accepted(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    data: bytes,
    name: str,
    content_type: str,
    media_type: str,
    kind: str,
) -> None:
    case = make_case(db, clock)
    answer = upload(client, case.id, data, officer, name=name, content_type=content_type)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["media_type"], answer.json()["kind"]) == (media_type, kind)
    assert client.get(answer.json()["content_url"], headers=officer).content == data


def test_a_photo_hangs_on_a_step_of_its_own_case_only(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case, other = make_case(db, clock), make_case(db, clock)
    step = upload(client, case.id, jpeg(), officer).json()
    entry_id = db.scalars(select(TimelineEntry.id).where(TimelineEntry.case_id == case.id)).one()
    on_step = upload(
        client,
        case.id,
        png(),
        officer,
        name="a.png",
        content_type="image/png",
        timeline_entry_id=str(entry_id),
    )
    assert on_step.status_code == 201 and on_step.json()["timeline_entry_id"] == entry_id
    wrong = upload(
        client,
        other.id,
        png(),
        officer,
        name="a.png",
        content_type="image/png",
        timeline_entry_id=str(entry_id),
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "timeline_entry_not_on_case"
    assert step["id"] != on_step.json()["id"]


def test_an_officer_cannot_touch_evidence_of_another_grid(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case = make_case(db, clock, grid=GRID_09)
    assert upload(client, case.id, jpeg(), officer).json()["code"] == "grid_out_of_scope"
    assert client.get(f"/api/cases/{case.id}/evidence", headers=officer).status_code == 403


def test_unknown_cases_and_files_answer_404_and_strangers_401(
    client: TestClient, db: Session, clock: ManualClock, officer: dict[str, str]
) -> None:
    case = make_case(db, clock)
    assert upload(client, 987654321, jpeg(), officer).status_code == 404
    missing = client.get(f"/api/cases/{case.id}/evidence/987654321/content", headers=officer)
    assert missing.json()["code"] == "evidence_not_found"
    assert upload(client, case.id, jpeg(), {}).status_code == 401


def test_a_full_store_answers_507_and_keeps_no_row(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The evidence root is a real 128 KiB tmpfs; a 1 MiB photo does not fit (ENOSPC)."""
    case = make_case(db, clock)
    with tiny_disk(settings.evidence_root) as mounted:
        if not mounted:
            pytest.skip("mounting a tmpfs needs root; the store-level test covers ENOSPC")
        answer = upload(client, case.id, padded(jpeg(), 1 * MiB), officer)
        assert answer.status_code == 507
        assert answer.json()["code"] == "evidence_store_full"
        assert EvidenceStore(settings.evidence_root).files() == []
    assert counts(db, case.id) == (0, 0)
