"""Open311 GeoReport v2 over the case registry: services, requests, tokens and updates.

Rules this facade adds (the specification leaves them to the server):

- Services are the catalogue's public matters (``is_public``) that have a case standard: the
  matters a citizen can report and the team has a handling standard for. ``group`` is the
  matter's major class (大类), ``description`` its default standard's registration condition.
  A matter with several standards (情形, e.g. 违法建设 being built / already built) has
  ``metadata=true`` and one required ``singlevaluelist`` attribute ``situation``; its answer is
  kept on the report for the operator (the handling limit still comes from the default standard
  until the operator reclassifies).
- ``service_request_id`` is the case number (案件编号). A request that joins an open case of the
  same problem nearby (a duplicate) answers that case's number.
- Every POSTed request gets a token, kept as its report's ``source_ref`` and (prefixed
  ``open311:``) as its idempotency key, so ``GET tokens/<token>`` always resolves it. With
  ``open311_request_type = "batch"`` the POST answers the token instead of the id.
- Location: ``lat`` + ``long``; else ``address_id``, the code of an area (单元网格, community,
  street), placed at its centre; else ``address_string``, placed at the centre of the most
  specific area whose name it contains. A place found from an address is marked approximate on
  the report; an address that names no area of ours is a 400 (no geocoder is consulted).
- Reporter fields go to the report's personal data (name, phone; e-mail, device and account id in
  ``extra``), never into any answer.
- GET requests: ``service_request_id`` overrides every other filter; otherwise the window on
  ``requested_datetime`` is at most 90 days (default: the last 90 days; one end given: 90 days
  from it) and a page holds at most 1,000 requests (``page``, ``page_size``: the pagination
  extension), newest first. Letters' cases are never listed (``cases.public.is_published``).
- FixMyStreet's ``servicerequestupdates``: GET lists the public steps of published cases in a
  window (same 90-day rule), oldest first. POST adds a public note (timeline action
  ``open311_update``; the sender's name and e-mail are not kept: answers go back through
  FixMyStreet). A status asking to reopen a closed case (``open``, ``reopen``) reopens it only
  when the API key itself may reopen (an operator's or shift leader's role, as the transition
  table says); otherwise the note carries ``reopen_requested`` for the staff to decide. Other
  statuses never move the workflow: closing needs 核查 by our own people.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from urbanops.areas.models import Area
from urbanops.cases import evidence, public, timeline, workflow
from urbanops.cases import service as cases
from urbanops.cases.models import (
    Case,
    CaseReport,
    CaseState,
    Evidence,
    EvidencePhase,
    TimelineEntry,
)
from urbanops.cases.schemas import ReportIn
from urbanops.catalog.models import CatalogEntry
from urbanops.config import Settings
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import LIMIT_UNIT_NAMES, LimitUnit
from urbanops.kit.errors import Forbidden, Problem
from urbanops.open311 import media
from urbanops.open311.formats import SpecError

CHANNEL = "open311"
TOKEN_KEY_PREFIX = "open311:"
SITUATION = "situation"  # the attribute naming a matter's 情形 (its case standard variant)
MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
MAX_DESCRIPTION = 4000
UPDATE_ACTION = "open311_update"
REOPEN_STATUSES = frozenset({"open", "reopen", "reopened"})
FMS_STATUSES = frozenset(s.value for s in public.FmsStatus) | {"reopen", "planned"}
#: Levels an address may name, the most specific first.
ADDRESS_LEVELS = ("unit_grid", "community", "street", "district")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")


class Invalid(Exception):
    """Several errors at once (the specification's error list allows it)."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("; ".join(e.description for e in errors))
        self.errors = errors


# --- services ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """One case standard of a matter: its 情形 and registration condition."""

    variant: str
    condition: str
    is_default: bool


@dataclass(frozen=True)
class Service:
    """One public matter as an Open311 service."""

    code: str
    name: str
    group: str
    keywords: str
    description: str
    handling_unit: str
    limit: str  # e.g. "2紧急工作时"
    situations: list[Situation]

    @property
    def metadata(self) -> bool:
        return len(self.situations) > 1


def list_services(session: Session) -> list[Service]:
    """Every public matter with a case standard, by code."""
    query = (
        select(CatalogEntry)
        .where(CatalogEntry.kind == "matter", CatalogEntry.is_public.is_(True))
        .where(CatalogEntry.standards.any())
        .options(selectinload(CatalogEntry.standards))
        .order_by(CatalogEntry.code)
    )
    return [_service(entry) for entry in session.scalars(query)]


def get_service(session: Session, *, code: str) -> Service:
    """The service ``code``; 404 when no public matter with a standard has that code."""
    query = (
        select(CatalogEntry)
        .where(CatalogEntry.kind == "matter", CatalogEntry.code == code)
        .options(selectinload(CatalogEntry.standards))
    )
    entry = session.scalars(query).one_or_none()
    if entry is None or not entry.is_public or not entry.standards:
        raise SpecError(404, f"service_code '{code}' was not found")
    return _service(entry)


def _service(entry: CatalogEntry) -> Service:
    standards = sorted(entry.standards, key=lambda s: (not s.is_default, s.id))
    default = standards[0]
    words = [w for w in entry.keywords.split("|") if w and w != entry.name]
    return Service(
        code=entry.code,
        name=entry.name,
        group=entry.major_name,
        keywords=", ".join(words),
        description=default.registration_condition,
        handling_unit=default.handling_unit,
        limit=_limit_text(default.limit_amount, default.limit_unit),
        situations=[
            Situation(s.variant, s.registration_condition, s.is_default) for s in standards
        ],
    )


def _limit_text(amount: Decimal, unit: str) -> str:
    number = f"{amount.normalize():f}"
    return f"{number}{LIMIT_UNIT_NAMES[LimitUnit(unit)]}"


def service_notice(service: Service, *, merged_into: str | None = None) -> str:
    """What the reporter is told to expect (the handling unit and its time limit)."""
    if merged_into is not None:
        return f"同一问题已在办理（案件{merged_into}），您的反映已并入该案件"
    return f"由{service.handling_unit}处置，处置时限{service.limit}（立案后起算）"


# --- POST requests ------------------------------------------------------------------------------


@dataclass
class NewRequest:
    """A POSTed service request, parsed but not yet checked against its service."""

    service_code: str | None = None
    lat: str | None = None
    lon: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    media_url: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)


_REQUEST_FIELDS = frozenset(NewRequest.__dataclass_fields__) - {"attributes", "lon"}


def parse_request(items: Iterable[tuple[str, str]]) -> NewRequest:
    """The request's fields from form items; empty values count as absent."""
    req = NewRequest()
    for key, raw in items:
        value = raw.strip()
        if not value:
            continue
        match = _ATTRIBUTE.match(key)
        if match:
            req.attributes.setdefault(match[1], []).append(value)
        elif key == "long":
            req.lon = value
        elif key in _REQUEST_FIELDS:
            setattr(req, key, value)
    return req


@dataclass(frozen=True)
class Created:
    """What a POST made: the case (new or joined), the report, its token, and the notice."""

    case: Case
    report: CaseReport
    token: str
    merged: bool
    notice: str


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    approximate: bool


def create_request(session: Session, *, req: NewRequest, by: Actor, now: datetime) -> Created:
    """Check a POSTed request and report it on the ``open311`` channel (400/404 when bad)."""
    if not req.service_code:
        raise SpecError(400, "service_code was not provided")
    service = get_service(session, code=req.service_code)
    errors = _check_fields(req) + _check_attributes(service, req.attributes)
    place = None
    try:
        place = _place(session, req)
    except SpecError as exc:
        errors.append(exc)
    if errors or place is None:
        raise Invalid(errors)
    token = "t" + secrets.token_urlsafe(15)
    data = _report_in(req, service, place, token)
    result = cases.report(session, data=data, by=by, now=now)
    notice = service_notice(service, merged_into=result.case.number if result.merged else None)
    return Created(result.case, result.report, token, result.merged, notice)


def _check_fields(req: NewRequest) -> list[SpecError]:
    errors = []
    if req.description is not None and len(req.description) > MAX_DESCRIPTION:
        errors.append(SpecError(400, f"description is longer than {MAX_DESCRIPTION} characters"))
    if len(_name(req) or "") > 64:
        errors.append(SpecError(400, "first_name and last_name are longer than 64 characters"))
    if req.phone is not None and len(req.phone) > 32:
        errors.append(SpecError(400, "phone is longer than 32 characters"))
    for key in ("email", "device_id", "account_id", "address_id"):
        value = getattr(req, key)
        if value is not None and len(value) > 256:
            errors.append(SpecError(400, f"{key} is longer than 256 characters"))
    if req.address_string is not None and len(req.address_string) > 256:
        errors.append(SpecError(400, "address_string is longer than 256 characters"))
    if req.media_url is not None and len(req.media_url) > 2048:
        errors.append(SpecError(400, "media_url is longer than 2048 characters"))
    return errors


def _check_attributes(service: Service, given: dict[str, list[str]]) -> list[SpecError]:
    """The ``situation`` a multi-standard matter needs: present, one value, from its list."""
    if not service.metadata:
        return []
    values = given.get(SITUATION)
    allowed = {s.variant for s in service.situations}
    if not values:
        return [SpecError(400, f"attribute[{SITUATION}] is required for this service_code")]
    if len(values) > 1 or values[0] not in allowed:
        return [SpecError(400, f"attribute[{SITUATION}] must be one of: {', '.join(allowed)}")]
    return []


def _place(session: Session, req: NewRequest) -> Place:
    """Where the request is: its coordinates, or an area named by address_id / address_string."""
    if req.lat is not None or req.lon is not None:
        return _coordinates(req.lat, req.lon)
    if req.address_id is not None:
        area = session.scalars(select(Area).where(Area.code == req.address_id)).one_or_none()
        if area is None or area.centre_lon is None or area.centre_lat is None:
            raise SpecError(400, f"address_id '{req.address_id}' is not an area of this server")
        return Place(area.centre_lon, area.centre_lat, approximate=True)
    if req.address_string is not None:
        return _place_of_address(session, req.address_string)
    raise SpecError(400, "a location was not provided: send lat and long, or address_string")


def _coordinates(lat: str | None, lon: str | None) -> Place:
    if lat is None or lon is None:
        missing = "long" if lon is None else "lat"
        raise SpecError(400, f"lat and long go together: {missing} was not provided")
    try:
        y, x = float(lat), float(lon)
    except ValueError as exc:
        raise SpecError(400, "lat and long must be decimal degrees (WGS84)") from exc
    if not (-90 <= y <= 90 and -180 <= x <= 180):
        raise SpecError(400, "lat must lie within ±90 and long within ±180")
    return Place(x, y, approximate=False)


def _place_of_address(session: Session, address: str) -> Place:
    """The centre of the most specific area whose name the address contains."""
    rows = session.execute(
        select(Area.level, Area.name, Area.centre_lon, Area.centre_lat).where(
            Area.centre_lon.is_not(None), Area.centre_lat.is_not(None)
        )
    ).all()
    named = [r for r in rows if r.name and r.name in address and r.level in ADDRESS_LEVELS]
    if not named:
        raise SpecError(
            400, "address_string names no street, community or grid of this server; send lat/long"
        )
    best = min(named, key=lambda r: (ADDRESS_LEVELS.index(r.level), -len(r.name)))
    return Place(float(best.centre_lon), float(best.centre_lat), approximate=True)


def _name(req: NewRequest) -> str | None:
    parts = [p for p in (req.first_name, req.last_name) if p]
    return " ".join(parts) if parts else None


def _report_in(req: NewRequest, service: Service, place: Place, token: str) -> ReportIn:
    extra: dict[str, object] = {
        k: v
        for k, v in (("email", req.email), ("device_id", req.device_id),
                     ("account_id", req.account_id), ("address_id", req.address_id))
        if v is not None
    }  # fmt: skip
    if req.attributes:
        extra["attributes"] = {k: v if len(v) > 1 else v[0] for k, v in req.attributes.items()}
    if place.approximate:
        extra["location_approximate"] = True
    try:
        return ReportIn(
            channel=CHANNEL,
            matter_code=service.code,
            description=req.description or f"市民通过Open311反映：{service.name}",
            lon=place.lon,
            lat=place.lat,
            address=req.address_string,
            idempotency_key=TOKEN_KEY_PREFIX + token,
            complainant_name=_name(req),
            complainant_phone=req.phone,
            source_ref=token,
            extra=extra or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise SpecError(400, f"{where}: {first.get('msg', 'invalid')}") from exc


def case_of_token(session: Session, *, token: str) -> Case:
    """The case a token's request is on (404 when no request had that token)."""
    report = session.scalars(
        select(CaseReport).where(CaseReport.idempotency_key == TOKEN_KEY_PREFIX + token)
    ).one_or_none()
    if report is None:
        raise SpecError(404, f"token '{token}' was not found")
    return cases.get_case(session, case_id=report.case_id)


# --- GET requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, checked."""

    ids: list[str] | None
    service_codes: list[str] | None
    statuses: list[str] | None
    start: datetime
    end: datetime
    page: int
    page_size: int


def parse_w3(name: str, value: str | None) -> datetime | None:
    """A W3C date-time with its time zone (``Z`` or ``±hh:mm``); 400 when it is not one."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError as exc:
        raise SpecError(
            400, f"{name} must be a w3 date-time, e.g. 2026-11-26T09:00:00+08:00"
        ) from exc
    if parsed.tzinfo is None or "T" not in value:
        raise SpecError(400, f"{name} needs a date, a time and a time zone (Z or +08:00)")
    return parsed


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The searched span: at most 90 days; by default the last 90 days."""
    if start is not None and end is not None:
        if end < start:
            raise SpecError(400, "end_date lies before start_date")
        if end - start > MAX_SPAN:
            raise SpecError(400, "start_date and end_date may not span more than 90 days")
        return start, end
    if start is not None:
        return start, start + MAX_SPAN
    if end is not None:
        return end - MAX_SPAN, end
    return now - MAX_SPAN, now


def paging(page: str | None, page_size: str | None) -> tuple[int, int]:
    """``page`` ≥ 1 and 1 ≤ ``page_size`` ≤ 1,000 (default 1, 1,000)."""
    try:
        number = int(page) if page is not None else 1
        size = int(page_size) if page_size is not None else MAX_PAGE_SIZE
    except ValueError as exc:
        raise SpecError(400, "page and page_size must be whole numbers") from exc
    if number < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise SpecError(400, f"page must be at least 1 and page_size between 1 and {MAX_PAGE_SIZE}")
    return number, size


def _csv(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def parse_query(params: dict[str, str | None], now: datetime) -> RequestQuery:
    """GET requests' filters from the query string (empty ones count as absent)."""
    statuses = _csv(params.get("status"))
    if statuses and not set(statuses) <= {s.value for s in public.PublicStatus}:
        raise SpecError(400, "status must be open, closed or both (comma-separated)")
    ids = _csv(params.get("service_request_id"))
    if ids and len(ids) > MAX_PAGE_SIZE:
        raise SpecError(400, f"at most {MAX_PAGE_SIZE} service_request_id at once")
    start = parse_w3("start_date", params.get("start_date"))
    end = parse_w3("end_date", params.get("end_date"))
    span = window(start, end, now)
    page, size = paging(params.get("page"), params.get("page_size"))
    return RequestQuery(ids, _csv(params.get("service_code")), statuses, *span, page, size)


def find_requests(session: Session, *, query: RequestQuery) -> list[Case]:
    """The published cases matching the query: the ids asked for, else one page of the window."""
    base = select(Case).where(Case.channel.not_in(public.UNPUBLISHED_CHANNELS))
    if query.ids is not None:
        found = session.scalars(base.where(Case.number.in_(query.ids))).all()
        order = {number: i for i, number in enumerate(query.ids)}
        return sorted(found, key=lambda c: order[c.number])
    filtered = _filtered(base, query)
    offset = (query.page - 1) * query.page_size
    ordered = filtered.order_by(Case.reported_at.desc(), Case.id.desc())
    return list(session.scalars(ordered.offset(offset).limit(query.page_size)))


def _filtered(base: Select[Any], query: RequestQuery) -> Select[Any]:
    base = base.where(Case.reported_at >= query.start, Case.reported_at <= query.end)
    if query.service_codes:
        base = base.where(Case.matter_code.in_(query.service_codes))
    if query.statuses and len(set(query.statuses)) == 1:
        closed = Case.state.in_(public.CLOSED_STATES)
        base = base.where(closed if query.statuses[0] == "closed" else ~closed)
    return base


def get_request(session: Session, *, number: str) -> Case:
    """The published case numbered ``number``; 404 otherwise."""
    case = session.scalars(select(Case).where(Case.number == number)).one_or_none()
    if case is None or not public.is_published(case):
        raise SpecError(404, f"service_request_id '{number}' was not found")
    return case


# --- FixMyStreet: servicerequestupdates ----------------------------------------------------------


@dataclass(frozen=True)
class UpdateQuery:
    start: datetime
    end: datetime
    page: int
    page_size: int


def parse_update_query(params: dict[str, str | None], now: datetime) -> UpdateQuery:
    """The window and page of GET servicerequestupdates."""
    start = parse_w3("start_date", params.get("start_date"))
    end = parse_w3("end_date", params.get("end_date"))
    page, size = paging(params.get("page"), params.get("page_size"))
    return UpdateQuery(*window(start, end, now), page, size)


def public_updates(
    session: Session, *, query: UpdateQuery, base_url: str, secret_key: str
) -> list[tuple[public.PublicCase, public.PublicNote]]:
    """The public steps of published cases within the window, oldest first, one page."""
    candidates = (
        select(TimelineEntry.id, TimelineEntry.case_id)
        .join(Case, Case.id == TimelineEntry.case_id)
        .where(Case.channel.not_in(public.UNPUBLISHED_CHANNELS))
        .where(TimelineEntry.at >= query.start, TimelineEntry.at <= query.end)
        .where(TimelineEntry.action.in_(public.candidate_actions()))
        .order_by(TimelineEntry.at, TimelineEntry.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    rows = session.execute(candidates).all()
    case_ids = list(dict.fromkeys(r.case_id for r in rows))
    found = session.scalars(select(Case).where(Case.id.in_(case_ids))).all() if case_ids else []
    views = {
        c.id: v
        for c, v in zip(
            found,
            public.public_cases(session, found, base_url=base_url, secret_key=secret_key),
            strict=True,
        )
    }
    answer = []
    for row_id, case_id in rows:
        view = views[case_id]
        note = next((n for n in view.notes if n.update_id == str(row_id)), None)
        if note is not None:
            answer.append((view, note))
    return answer


@dataclass
class NewUpdate:
    """A POSTed update from FixMyStreet."""

    service_request_id: str | None = None
    update_id: str | None = None
    status: str | None = None
    description: str | None = None
    updated_datetime: str | None = None
    media_url: str | None = None


def parse_update(items: Iterable[tuple[str, str]]) -> NewUpdate:
    """The update's fields (personal ones — names, e-mail — are read and dropped)."""
    update = NewUpdate()
    names = set(NewUpdate.__dataclass_fields__)
    for key, raw in items:
        value = raw.strip()
        if value and key in names:
            setattr(update, key, value)
    return update


@dataclass(frozen=True)
class Posted:
    entry: TimelineEntry
    case: Case
    created: bool


def post_update(session: Session, *, update: NewUpdate, by: Actor, now: datetime) -> Posted:
    """Add a FixMyStreet update as a public note; reopen where the key may (see module doc)."""
    errors = []
    if not update.service_request_id:
        errors.append(SpecError(400, "service_request_id was not provided"))
    status = (update.status or "").lower()
    if status and status not in FMS_STATUSES:
        errors.append(SpecError(400, f"status '{update.status}' is not a known status"))
    if update.description is not None and len(update.description) > MAX_DESCRIPTION:
        errors.append(SpecError(400, f"description is longer than {MAX_DESCRIPTION} characters"))
    if update.update_id is not None and len(update.update_id) > 128:
        errors.append(SpecError(400, "update_id is longer than 128 characters"))
    try:
        sent_at = parse_w3("updated_datetime", update.updated_datetime)
    except SpecError as exc:
        errors.append(exc)
        sent_at = None
    if errors:
        raise Invalid(errors)
    assert update.service_request_id is not None
    case = get_request(session, number=update.service_request_id)
    earlier = _earlier_update(session, case, update.update_id)
    if earlier is not None:
        return Posted(earlier, case, created=False)
    reopen = status in REOPEN_STATUSES and case.state is CaseState.CLOSED
    may_reopen = reopen and _may(by, "reopen", case.state)
    text = update.description or _status_wording(status)
    data: dict[str, object] = {"public": True, "source": "fixmystreet"}
    for key, value in (("fms_update_id", update.update_id), ("fms_status", status or None),
                       ("sent_at", sent_at.isoformat() if sent_at else None)):  # fmt: skip
        if value is not None:
            data[key] = value
    if reopen and not may_reopen:
        data["reopen_requested"] = True
    entry = timeline.record(session, case, by=by, action=UPDATE_ACTION, at=now, note=text,
                            data=data)  # fmt: skip
    if may_reopen:
        cases.act(session, case_id=case.id, action="reopen", by=by, now=now,
                  reason=f"FixMyStreet: {text}")  # fmt: skip
    return Posted(entry, case, created=True)


def _may(by: Actor, action: str, state: CaseState) -> bool:
    try:
        workflow.require(action, state, by, reason="check")
    except (Forbidden, Problem):
        return False
    return True


def _earlier_update(session: Session, case: Case, update_id: str | None) -> TimelineEntry | None:
    """The note an earlier POST of the same FixMyStreet update made (a retry is harmless)."""
    if update_id is None:
        return None
    rows = session.scalars(
        select(TimelineEntry).where(
            TimelineEntry.case_id == case.id, TimelineEntry.action == UPDATE_ACTION
        )
    )
    return next((r for r in rows if (r.data or {}).get("fms_update_id") == update_id), None)


def _status_wording(status: str) -> str:
    return f"FixMyStreet 更新：{status}" if status else "FixMyStreet 更新"


# --- media_url ----------------------------------------------------------------------------------


def keep_media(
    session: Session,
    *,
    case: Case,
    url: str,
    by: Actor,
    now: datetime,
    settings: Settings,
    timeline_entry_id: int | None = None,
) -> Evidence | None:
    """Fetch ``url`` and keep the photo as evidence (处置前) on the case; None when it failed.

    Call it with no transaction open: the fetch may take seconds and holds nothing. A failure
    (unreachable, too large, not a photo, a private address in production) is one timeline row
    ``media_fetch_failed``; the request itself stays as it is.
    """
    try:
        fetched = media.fetch(
            url, allow_private=settings.mode != "production",
            max_bytes=evidence.LIMITS[evidence.EvidenceKind.PHOTO],
        )  # fmt: skip
        with session.begin_nested():
            return _attach_photo(session, case, fetched, by, now, settings, timeline_entry_id)
    except media.FetchFailed as exc:
        code, message = exc.code, str(exc)
    except Problem as exc:
        code, message = exc.code, exc.detail or exc.title
    timeline.record(
        session, case, by=by, action="media_fetch_failed", at=now, reason=message,
        data={"media_url": url, "error": code},
    )  # fmt: skip
    return None


def _attach_photo(
    session: Session,
    case: Case,
    fetched: media.Fetched,
    by: Actor,
    now: datetime,
    settings: Settings,
    timeline_entry_id: int | None,
) -> Evidence:
    detected = evidence.sniff(fetched.data[: evidence.HEAD_BYTES])
    if detected is None or evidence.media_kind(detected) is not evidence.EvidenceKind.PHOTO:
        raise media.FetchFailed("not_a_photo", "media_url does not point at a photo")
    name = evidence.clean_filename(fetched.filename)
    extension = os.path.splitext(name or "")[1].lower()
    if extension not in evidence.TYPES[detected].extensions:
        name = None  # a URL's last segment (``photo.php``) says nothing about the bytes
    upload = evidence.Upload(io.BytesIO(fetched.data), filename=name, declared_type=None)
    return evidence.attach(
        session, store=evidence.EvidenceStore.for_settings(settings), case_id=case.id,
        upload=upload, phase=EvidencePhase.BEFORE, by=by, now=now,
        timeline_entry_id=timeline_entry_id, local_tz=ZoneInfo(settings.timezone),
    )  # fmt: skip
