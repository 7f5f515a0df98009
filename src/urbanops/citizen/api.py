"""REST routes of the citizen page (no login): report with photos, follow by tracking id, rate.

Abuse limits: photos are judged from their bytes and size before anything is stored, and each
client address may send so many reports and look up so many tracking ids per window
(``citizen.limits``). Answers carry no personal data: only the public view of the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.cases import evidence
from urbanops.cases.followup_models import Followup, Rating, RatingMethod
from urbanops.cases.public import fms_status, public_status
from urbanops.catalog.models import CatalogEntry
from urbanops.citizen import service, streetmap
from urbanops.citizen.limits import CitizenLimits
from urbanops.kit.calendar import load_calendar
from urbanops.kit.errors import InvalidInput
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/citizen", tags=["citizen"])

TrackingId = Annotated[str, Path(min_length=1, max_length=64)]
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{4,30}$"


def citizen_limits(request: Request) -> CitizenLimits:
    """The app's limits, made on first use (tests may put their own on ``app.state``)."""
    state = request.app.state
    if not hasattr(state, "citizen_limits"):
        state.citizen_limits = CitizenLimits()
    limits: CitizenLimits = state.citizen_limits
    return limits


LimitsDep = Annotated[CitizenLimits, Depends(citizen_limits)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- shapes -------------------------------------------------------------------------------------


class MatterChoice(BaseModel):
    """A problem a citizen may pick: its catalogue code and the catalogue's name."""

    code: str
    name: str


class Submitted(BaseModel):
    """The answer to a report: the tracking id to keep, and where to follow the case."""

    tracking_id: str
    number: str
    status: str
    fms_status: str
    created: bool
    merged: bool
    photos: int
    track_url: str


class NoteOut(BaseModel):
    at: datetime
    status: str
    fms_status: str
    text: str
    media_urls: list[str]


class RatingOut(BaseModel):
    round: int
    rating: Rating
    method: RatingMethod
    rated_at: datetime


class CitizenCase(BaseModel):
    """The case as the citizen follows it: public facts, steps, photos, and the follow-up."""

    number: str
    status: str
    fms_status: str
    matter_code: str
    matter_name: str
    description: str
    address: str | None
    lon: float
    lat: float
    reported_at: datetime
    updated_at: datetime
    expected_at: datetime | None
    agency_responsible: str | None
    notes: list[NoteOut]
    report_photo_urls: list[str]
    after_photo_urls: list[str]
    rating_due: bool
    ratings: list[RatingOut]


class RatingIn(BaseModel):
    rating: Rating
    comment: str | None = Field(default=None, max_length=1000)


def citizen_case(view: service.CitizenView) -> CitizenCase:
    """The citizen's view as the API answers it."""
    case = view.case
    return CitizenCase(
        number=case.number, status=case.status, fms_status=case.fms_status,
        matter_code=case.matter_code, matter_name=case.matter_name,
        description=case.description, address=case.address, lon=case.lon, lat=case.lat,
        reported_at=case.requested_at, updated_at=case.updated_at, expected_at=case.expected_at,
        agency_responsible=case.agency_responsible,
        notes=[NoteOut(at=n.at, status=n.status, fms_status=n.fms_status, text=n.text,
                       media_urls=n.media_urls) for n in case.notes],
        report_photo_urls=case.report_photo_urls, after_photo_urls=case.after_photo_urls,
        rating_due=view.rating_due, ratings=[_rating_out(f) for f in view.ratings],
    )  # fmt: skip


def _rating_out(row: Followup) -> RatingOut:
    assert row.rating is not None and row.method is not None and row.rated_at is not None
    return RatingOut(round=row.round, rating=row.rating, method=row.method, rated_at=row.rated_at)


def follow_view(session: Session, request: Request, tracked: service.Tracked) -> CitizenCase:
    """The citizen's view with public media addresses under this server."""
    settings = request.app.state.settings
    base_url = getattr(settings, "public_base_url", None) or str(request.base_url)
    view = service.view(session, tracked=tracked, base_url=base_url, secret_key=settings.secret_key)
    return citizen_case(view)


# --- routes -------------------------------------------------------------------------------------


@router.get("/matters", operation_id="citizen_matters")
def matters(session: SessionDep) -> list[MatterChoice]:
    """The common problems a citizen picks from, then ``other`` (an operator reclassifies it)."""
    names = dict(
        session.execute(
            select(CatalogEntry.code, CatalogEntry.name).where(
                CatalogEntry.kind == "matter", CatalogEntry.code.in_(service.COMMON_MATTERS)
            )
        ).all()
    )
    listed = [MatterChoice(code=c, name=names[c]) for c in service.COMMON_MATTERS if c in names]
    return [*listed, MatterChoice(code=service.OTHER, name="其他")]


@router.get("/map", operation_id="citizen_map")
def street_map(session: SessionDep) -> dict[str, Any]:
    """Outlines of the streets and grids, to pick a position on when the phone has no fix."""
    return streetmap.street_map(session)


def _photos(files: list[UploadFile] | None) -> list[service.Photo]:
    """The uploaded photos; a browser's empty file field is no photo."""
    photos = []
    for f in files or []:
        size = f.size if f.size is not None else _measure(f)
        if size == 0 and not f.filename:
            continue
        upload = evidence.Upload(stream=f.file, filename=f.filename, declared_type=f.content_type)
        photos.append(service.Photo(upload=upload, size=size))
    return photos


def _measure(f: UploadFile) -> int:
    f.file.seek(0, 2)
    size = f.file.tell()
    f.file.seek(0)
    return size


def _required_text(value: str | None, code: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} is required", code=code)
    return text


@router.post(
    "/reports",
    status_code=201,
    operation_id="citizen_report",
    responses={
        200: {"model": Submitted, "description": "A repeated idempotency key"},
        413: {"description": "a photo too large"},
        415: {"description": "not a photo"},
        429: {"description": "too many reports from this address"},
    },
)
def report(
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    limits: LimitsDep,
    description: Annotated[str | None, Form(max_length=4000)] = None,
    lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    matter: Annotated[str, Form(pattern=r"^(\d{5}|other)$")] = service.OTHER,
    address: Annotated[str | None, Form(max_length=256)] = None,
    name: Annotated[str | None, Form(max_length=64)] = None,
    phone: Annotated[str | None, Form(max_length=32, pattern=PHONE_PATTERN)] = None,
    idempotency_key: Annotated[str | None, Form(min_length=8, max_length=100)] = None,
    photos: Annotated[list[UploadFile] | None, File(description="photos of the problem")] = None,
) -> Submitted:
    """Report a problem (市民上报) with photos and position; answers the tracking id to keep."""
    now = clock.now()
    text = _required_text(description, "description_required", "A description")
    if lon is None or lat is None:
        raise InvalidInput(
            "The problem's position (lon, lat) is required", code="position_required"
        )
    data = service.CitizenReport(
        description=text, lon=lon, lat=lat, matter=matter, address=address, name=name,
        phone=phone, idempotency_key=idempotency_key, photos=_photos(photos),
    )  # fmt: skip
    service.check_photos(data.photos)  # refuse before counting a report against the address
    limits.reports.hit(client_address(request), now)
    submitted = service.submit(
        session, data=data, store=evidence.EvidenceStore.for_settings(settings), now=now,
        local_tz=ZoneInfo(settings.timezone), calendar=load_calendar(session, settings),
    )  # fmt: skip
    response.status_code = 201 if submitted.created or submitted.merged else 200
    return Submitted(
        tracking_id=submitted.tracking_id, number=submitted.case.number,
        status=public_status(submitted.case), fms_status=fms_status(submitted.case),
        created=submitted.created, merged=submitted.merged, photos=len(submitted.photos),
        track_url=f"/citizen/track?id={submitted.tracking_id}",
    )  # fmt: skip


@router.get("/reports/{tracking_id}", operation_id="citizen_follow")
def follow(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    limits: LimitsDep,
    tracking_id: TrackingId,
) -> CitizenCase:
    """Follow a case by its tracking id: status, public steps, photos, whether to rate it."""
    limits.lookups.hit(client_address(request), clock.now())
    tracked = service.track(session, tracking_id=tracking_id)
    return follow_view(session, request, tracked)


@router.post(
    "/reports/{tracking_id}/rating",
    operation_id="citizen_rate",
    responses={409: {"description": "not closed, or already rated"}},
)
def rate(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    limits: LimitsDep,
    tracking_id: TrackingId,
    body: RatingIn,
) -> CitizenCase:
    """Rate the result of a closed case (回访): satisfied, basically satisfied or unsatisfied."""
    now = clock.now()
    limits.lookups.hit(client_address(request), now)
    tracked = service.track(session, tracking_id=tracking_id)
    service.rate(session, tracked=tracked, rating=body.rating, comment=body.comment, now=now)
    return follow_view(session, request, tracked)
