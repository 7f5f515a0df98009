"""Photos by ``media_url``: fetched over real HTTP, kept as evidence, served at a secret address."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.cases.conftest import People, make_report
from tests.open311.conftest import V2, PhotoServer
from tests.open311.support import valid_json
from tests.open311.test_requests import post
from tests.open311.test_updates import push, updates
from urbanops.app import create_app
from urbanops.cases import evidence as evidence_service
from urbanops.cases import public
from urbanops.cases.models import Case, Evidence, EvidencePhase, TimelineEntry
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock
from urbanops.kit.web import get_session
from urbanops.open311 import media

MiB = 1024 * 1024


def _case(db: Session, number: str) -> Case:
    return db.scalars(select(Case).where(Case.number == number)).one()


def _failures(db: Session, case: Case) -> list[TimelineEntry]:
    return list(
        db.scalars(
            select(TimelineEntry).where(
                TimelineEntry.case_id == case.id, TimelineEntry.action == "media_fetch_failed"
            )
        )
    )


def assert_same_picture_without_exif(served: bytes, original: bytes) -> None:
    """The public copy shows the same picture and carries none of the phone's metadata."""
    with Image.open(io.BytesIO(original)) as sent:
        assert sent.getexif()  # the sender's photo did carry time and position
        size = sent.size
    with Image.open(io.BytesIO(served)) as public_copy:
        assert public_copy.format == "JPEG" and public_copy.size == size
        assert not public_copy.getexif()


def test_a_photo_sent_by_url_is_kept_and_served_at_an_unguessable_address(
    client: TestClient, db: Session, api_key: str, photo_server: PhotoServer
) -> None:
    [created] = post(client, api_key, media_url=photo_server.url("/photo.jpg")).json()
    case = _case(db, created["service_request_id"])
    [kept] = db.scalars(select(Evidence).where(Evidence.case_id == case.id)).all()
    assert kept.phase is EvidencePhase.BEFORE and kept.media_type == "image/jpeg"
    assert kept.filename == "photo.jpg"

    [request] = valid_json(client.get(f"{V2}/requests/{case.number}.json"), "requests.json")
    url = request["media_url"]
    assert url.startswith("http://testserver/media/") and url.endswith(".jpg")
    assert photo_server.url("") not in url  # our address, not the sender's
    answer = client.get(url)
    assert answer.status_code == 200
    assert_same_picture_without_exif(answer.content, photo_server.photo)
    assert answer.headers["content-type"] == "image/jpeg"

    token = url.rsplit("/", 1)[1]
    forged = f"{kept.id}-{'A' * 24}.jpg"
    assert client.get(f"/media/{forged}").status_code == 404
    assert client.get(f"/media/{kept.id + 1}-{token.split('-', 1)[1]}").status_code == 404
    assert client.get("/media/nothing").status_code == 404


def test_a_redirect_is_followed_to_the_photo(
    client: TestClient, db: Session, api_key: str, photo_server: PhotoServer
) -> None:
    [created] = post(client, api_key, media_url=photo_server.url("/moved")).json()
    case = _case(db, created["service_request_id"])
    assert db.scalars(select(Evidence).where(Evidence.case_id == case.id)).one()
    assert photo_server.hits == ["/moved", "/photo.jpg"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/missing.jpg", "http_error"),
        ("/page.html", "not_a_photo"),
        ("/huge.jpg", "too_large"),
    ],
)
def test_a_failed_fetch_keeps_the_report_and_says_why_on_the_timeline(
    client: TestClient,
    db: Session,
    api_key: str,
    photo_server: PhotoServer,
    path: str,
    code: str,
) -> None:
    answer = post(client, api_key, media_url=photo_server.url(path))
    [created] = valid_json(answer, "swagger:RequestResponse[]")
    case = _case(db, created["service_request_id"])
    [failure] = _failures(db, case)
    assert failure.data is not None and failure.data["error"] == code
    assert db.scalars(select(Evidence).where(Evidence.case_id == case.id)).all() == []
    [request] = client.get(f"{V2}/requests/{case.number}.json").json()
    assert request["media_url"] is None


def test_an_unreachable_or_odd_url_is_a_recorded_failure_too(
    client: TestClient, db: Session, api_key: str
) -> None:
    for url, code in (("http://127.0.0.1:9/photo.jpg", "unreachable"),
                      ("ftp://example.org/photo.jpg", "unsupported_url")):  # fmt: skip
        [created] = post(client, api_key, media_url=url).json()
        failure = _failures(db, _case(db, created["service_request_id"]))[-1]  # a duplicate
        assert failure.data is not None and failure.data["error"] == code


def test_production_refuses_private_addresses(
    db_engine: Engine,
    db: Session,
    clock: ManualClock,
    tmp_path: Path,
    api_key: str,
    photo_server: PhotoServer,
) -> None:
    settings = Settings(
        mode="production", secret_key="a-long-random-production-secret-0123456789",
        database_url="sqlite://", evidence_root=tmp_path / "evidence", sweeper_interval_s=0,
        position_flush_interval_s=0,
    )  # fmt: skip
    app = create_app(settings, engine=db_engine, clock=clock)

    def _session():  # type: ignore[no-untyped-def]
        yield db
        db.commit()

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as client:
        [created] = post(client, api_key, media_url=photo_server.url("/photo.jpg")).json()
    [failure] = _failures(db, _case(db, created["service_request_id"]))
    assert failure.data is not None and failure.data["error"] == "address_not_allowed"
    assert photo_server.hits == []  # refused before any connection


def test_the_fetcher_checks_every_address_and_pins_the_one_it_checked(
    photo_server: PhotoServer,
) -> None:
    port = photo_server.base_url.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost", "[::1]", "10.0.0.1", "169.254.169.254"):
        with pytest.raises(media.FetchFailed) as refused:
            media.fetch(f"http://{host}:{port}/photo.jpg", allow_private=False, max_bytes=MiB)
        assert refused.value.code == "address_not_allowed", host
    fetched = media.fetch(f"http://localhost:{port}/photo.jpg", allow_private=True, max_bytes=MiB)
    assert fetched.data == photo_server.photo and fetched.filename == "photo.jpg"
    with pytest.raises(media.FetchFailed) as small:
        media.fetch(photo_server.url("/photo.jpg"), allow_private=True, max_bytes=100)
    assert small.value.code == "too_large"


def test_an_update_photo_goes_out_with_the_update(
    client: TestClient, db: Session, api_key: str, photo_server: PhotoServer
) -> None:
    [created] = post(client, api_key).json()
    [posted] = push(
        client, api_key, created["service_request_id"], media_url=photo_server.url("/photo.jpg")
    ).json()
    [kept] = db.scalars(select(Evidence)).all()[-1:]
    assert kept.timeline_entry_id == int(posted["update_id"])
    row = next(r for r in updates(client).json() if r["update_id"] == posted["update_id"])
    assert row["media_url"]
    assert_same_picture_without_exif(client.get(row["media_url"]).content, photo_server.photo)


def test_documents_and_videos_are_never_served(
    client: TestClient, db: Session, clock: ManualClock, people: People, settings: Settings
) -> None:
    case = make_report(db, clock, people.officer).case
    store = evidence_service.EvidenceStore(settings.evidence_root)
    document = evidence_service.attach(
        db, store=store, case_id=case.id, phase=EvidencePhase.BEFORE, by=people.officer,
        now=clock.now(), upload=evidence_service.Upload(io.BytesIO(b"%PDF-1.4\n%%EOF"), "a.pdf"),
    )  # fmt: skip
    token = public.media_token(document, secret_key=settings.secret_key)
    assert client.get(f"/media/{token}").status_code == 404
    with pytest.raises(ValueError, match="not public-able"):
        public.public_media_url(db, document, base_url="http://x", secret_key="k")
