"""The citizen's report (市民上报), its tracking id, the public view of the case and the rating.

A citizen reports through the one door every channel uses (``cases.service.report``, channel
``citizen``), with photos stored as evidence (处置前). The answer is a tracking id: the case
number and a secret of 12 characters (60 bits) from an alphabet without look-alikes. Only the
secret's SHA-256 is stored; the secret alone finds the report, the number is there for people.
Nobody can list or guess another citizen's case, and the public view shows no personal data.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.cases import evidence, followup, public
from urbanops.cases import service as cases
from urbanops.cases.followup_models import Followup, Rating, RatingMethod
from urbanops.cases.models import Case, CaseReport, Evidence, EvidencePhase
from urbanops.cases.schemas import ReportIn
from urbanops.citizen.models import TrackingToken
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import WorkingCalendar
from urbanops.kit.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge

CHANNEL = "citizen"
#: The citizen as an actor: anonymous, the same for everyone (the report keeps who it was).
CITIZEN = Actor(kind="citizen", id=None, name="市民")
SECRET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0/O, 1/I
SECRET_LENGTH = 12
MAX_PHOTOS = 4
PHOTO_MAX_BYTES = 10 * evidence.MiB
IDEMPOTENCY_PREFIX = "citizen:"

#: Matters a citizen picks from, by their catalogue code (the page names them plainly), and the
#: code an "other" report takes until an operator reclassifies it (改类): 乱堆杂物, the broadest.
COMMON_MATTERS: tuple[str, ...] = (
    "09006",  # 占道经营
    "09005",  # 店外经营
    "09009",  # 机动车乱停放
    "09010",  # 非机动车乱停放
    "06010",  # 暴露垃圾
    "06042",  # 垃圾站（箱）满溢
    "07001",  # 非法小广告
    "06028",  # 噪声扰民
    "06027",  # 油烟污染
    "06029",  # 露天烧烤
    "08001",  # 施工扰民
    "06013",  # 道路破损
    "06001",  # 私搭乱建
)
OTHER = "other"
OTHER_MATTER = "06036"


@dataclass(frozen=True)
class Photo:
    """One photo as it arrives."""

    upload: evidence.Upload
    size: int


@dataclass(frozen=True)
class CitizenReport:
    """What the citizen page sends."""

    description: str
    lon: float
    lat: float
    matter: str = OTHER
    address: str | None = None
    name: str | None = None
    phone: str | None = None
    idempotency_key: str | None = None
    photos: Sequence[Photo] = ()


@dataclass(frozen=True)
class Submitted:
    """The stored report: its case, the tracking id to give the citizen, the photos kept."""

    case: Case
    report: CaseReport
    tracking_id: str
    created: bool
    merged: bool
    photos: list[Evidence]


@dataclass(frozen=True)
class Tracked:
    """A tracking id resolved: the citizen's report and the case it belongs to now."""

    report: CaseReport
    case: Case


# --- reporting ----------------------------------------------------------------------------------


def matter_code_of(choice: str) -> str:
    """The catalogue code of the citizen's choice; 422 for anything off the list."""
    if choice == OTHER:
        return OTHER_MATTER
    if choice not in COMMON_MATTERS:
        raise InvalidInput(
            f"Choose one of the listed problems or '{OTHER}'",
            code="unknown_matter",
            allowed=[*COMMON_MATTERS, OTHER],
        )
    return choice


def check_photos(photos: Sequence[Photo]) -> None:
    """At most ``MAX_PHOTOS`` photos, each a real photo no larger than ``PHOTO_MAX_BYTES``.

    Judged from the bytes (``cases.evidence``) before anything is stored: a video, a document or
    a file whose bytes belie its name is refused (415), and so is a photo too large (413).
    """
    if len(photos) > MAX_PHOTOS:
        raise InvalidInput(
            f"At most {MAX_PHOTOS} photos per report", code="too_many_photos", max=MAX_PHOTOS
        )
    for photo in photos:
        if photo.size > PHOTO_MAX_BYTES:
            raise PayloadTooLarge(
                f"A photo may have at most {PHOTO_MAX_BYTES // evidence.MiB} MiB",
                code="too_large",
                max_bytes=PHOTO_MAX_BYTES,
            )
        _check_photo_bytes(photo.upload)


def _check_photo_bytes(upload: evidence.Upload) -> None:
    stream = upload.stream
    head = stream.read(evidence.HEAD_BYTES)
    stream.seek(0)
    media_type = evidence.sniff(head)
    if media_type not in evidence.TYPES or (
        evidence.TYPES[media_type].kind is not evidence.EvidenceKind.PHOTO
    ):
        raise evidence.UnsupportedMediaType(
            "Only photos (JPEG, PNG, WebP, HEIC, GIF) may be sent here",
            code="not_a_photo",
            detected_type=media_type,
        )
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    name = evidence.clean_filename(upload.filename) or ""
    evidence.check_declaration(
        media_type, declared=declared, extension=os.path.splitext(name)[1].lower()
    )


def submit(
    session: Session,
    *,
    data: CitizenReport,
    store: evidence.EvidenceStore,
    now: datetime,
    local_tz: ZoneInfo,
    calendar: WorkingCalendar | None = None,
) -> Submitted:
    """Store the citizen's report and photos as one unit, and issue its tracking id.

    Everything is checked before anything is written; a failure while writing rolls the whole
    report back. A repeated idempotency key answers the same report with a fresh tracking id.
    """
    matter = matter_code_of(data.matter)
    check_photos(data.photos)
    report_in = _report_in(data, matter)
    with session.begin_nested():
        result = cases.report(session, data=report_in, by=CITIZEN, now=now, calendar=calendar)
        if result.report.channel != CHANNEL:
            raise Conflict("This idempotency key belongs to another report", code="key_reused")
        repeated = not (result.created or result.merged)
        photos = [] if repeated else _attach(session, result.case, data, store, now, local_tz)
        tracking_id = issue_tracking_id(session, report=result.report, case=result.case, now=now)
    return Submitted(result.case, result.report, tracking_id, result.created, result.merged, photos)


def _report_in(data: CitizenReport, matter: str) -> ReportIn:
    """The report as the case registry takes it; a value it refuses is a 422 here."""
    key = data.idempotency_key and f"{IDEMPOTENCY_PREFIX}{data.idempotency_key}"
    try:
        return ReportIn(
            channel=CHANNEL, matter_code=matter, description=data.description,
            lon=data.lon, lat=data.lat, address=data.address or None,
            complainant_name=data.name or None, complainant_phone=data.phone or None,
            idempotency_key=key or None,
        )  # fmt: skip
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidInput(
            "The report is not valid: " + ", ".join(fields), code="invalid_report", fields=fields
        ) from exc


def _attach(
    session: Session,
    case: Case,
    data: CitizenReport,
    store: evidence.EvidenceStore,
    now: datetime,
    local_tz: ZoneInfo,
) -> list[Evidence]:
    """Store the photos as the case's 处置前 evidence, each with its timeline row."""
    stored = []
    for photo in data.photos:
        found = evidence.attach(
            session, store=store, case_id=case.id, upload=photo.upload,
            phase=EvidencePhase.BEFORE, by=CITIZEN, now=now, local_tz=local_tz,
        )  # fmt: skip
        stored.append(found)
    return stored


# --- tracking ids -------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_tracking_id(session: Session, *, report: CaseReport, case: Case, now: datetime) -> str:
    """A new tracking id of ``report``: ``<case number>-<secret>``; the secret's hash is kept."""
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    session.add(TrackingToken(secret_sha256=_digest(secret), report_id=report.id, created_at=now))
    session.flush()
    return f"{case.number}-{secret}"


def secret_of(tracking_id: str) -> str | None:
    """The secret part of a tracking id as typed (any case, spaces ignored), or None."""
    text = "".join(tracking_id.split()).upper()
    secret = text.rsplit("-", 1)[-1]
    if len(secret) != SECRET_LENGTH or any(c not in SECRET_ALPHABET for c in secret):
        return None
    return secret


def track(session: Session, *, tracking_id: str) -> Tracked:
    """The report and case a tracking id names; the same 404 for a malformed or unknown id."""
    secret = secret_of(tracking_id)
    token = None
    if secret is not None:
        query = select(TrackingToken).where(TrackingToken.secret_sha256 == _digest(secret))
        token = session.scalars(query).first()
    if token is None:
        raise NotFound("No report has this tracking id", code="tracking_id_not_found")
    report = session.get(CaseReport, token.report_id)
    assert report is not None  # a foreign key holds it
    return Tracked(report=report, case=cases.get_case(session, case_id=report.case_id))


# --- the citizen's view -------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenView:
    """The public view of the case, and where its follow-up stands."""

    case: public.PublicCase
    rating_due: bool
    ratings: list[Followup]


def view(
    session: Session, *, tracked: Tracked, base_url: str, secret_key: str | None = None
) -> CitizenView:
    """What the tracking page shows: the public case, whether a rating is due, earlier ratings."""
    case = tracked.case
    rated = [f for f in followup.for_case(session, case_id=case.id) if f.rating is not None]
    return CitizenView(
        case=public.public_case(session, case, base_url=base_url, secret_key=secret_key),
        rating_due=followup.is_due(session, case),
        ratings=rated,
    )


def rate(
    session: Session, *, tracked: Tracked, rating: Rating, comment: str | None, now: datetime
) -> Followup:
    """The citizen's rating of the closed case, given on the page."""
    return followup.rate(
        session, case_id=tracked.case.id, rating=rating, method=RatingMethod.PAGE, by=CITIZEN,
        now=now, comment=comment,
    )  # fmt: skip
