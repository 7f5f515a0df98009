"""Routes of Open311 GeoReport v2 under ``/open311/v2`` and of public photos under ``/media``.

Every answer under ``/open311`` is XML or JSON by the path's suffix, errors included, in the
specification's format (never problem+json): 403 for a missing or wrong ``api_key``, 404 for what
does not exist, 400 for anything else the request got wrong. ``jurisdiction_id`` is optional (one
jurisdiction is served), and one naming another jurisdiction is a 404.

A POSTed request is committed before its ``media_url`` is fetched: the report is durable before
the slow part, and a fetch that fails only adds a timeline row. Writes run in a savepoint, so a
refused request or update changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from urbanops.auth import service as auth
from urbanops.cases import public
from urbanops.cases.evidence import EvidenceStore
from urbanops.catalog.models import CaseStandard
from urbanops.config import Settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import NotFound, Problem
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep
from urbanops.open311 import formats
from urbanops.open311 import service as o311
from urbanops.open311.formats import SpecError, Value

router = APIRouter(tags=["open311"])
V2 = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
Row = dict[str, Value]

T = TypeVar("T")


async def form_items(request: Request) -> list[tuple[str, str]]:
    """The query's and the url-encoded body's fields, in order (files are ignored)."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        items += [(k, v) for k, v in form.multi_items() if not isinstance(v, UploadFile)]
    return items


FormItems = Annotated[list[tuple[str, str]], Depends(form_items)]


# --- plumbing ------------------------------------------------------------------------------------


def _store_first(
    session: Session,
    request: Request,
    items: list[tuple[str, str]],
    now: datetime,
    write: Callable[[Actor], T],
) -> tuple[Actor, T]:
    """Authenticate the integration and write, then commit: what was posted is durable before
    any ``media_url`` is fetched (and the write lock is not held during the download)."""
    with session.begin_nested():
        by = _integration(session, request, items, now)
        result = write(by)
    session.commit()
    return by, result


def _answer(session: Session, suffix: str, build: Callable[[str], Response]) -> Response:
    """Run ``build`` in the requested format; any refusal becomes the spec's error answer."""
    fmt = formats.XML
    try:
        fmt = formats.parse_format(suffix)
        return build(fmt)
    except SpecError as exc:
        return formats.error_answer(fmt, [exc])
    except o311.Invalid as exc:
        return formats.error_answer(fmt, exc.errors)
    except Problem as exc:
        return formats.error_answer(fmt, [_from_problem(exc)])


def _from_problem(problem: Problem) -> SpecError:
    """A platform problem in the spec's terms: 403 and 404 stay, outages stay, the rest is 400."""
    status = problem.status if problem.status in (403, 404) or problem.status >= 500 else 400
    return SpecError(status, problem.detail or problem.title)


def _params(request: Request) -> dict[str, str | None]:
    """Query parameters, the empty ones as absent (the spec's "optional" rule)."""
    return {k: (v.strip() or None) for k, v in request.query_params.items()}


def _check_jurisdiction(settings: Settings, value: str | None) -> None:
    given = (value or "").strip()
    if given and given != settings.open311_jurisdiction_id:
        raise SpecError(404, f"jurisdiction_id '{given}' was not found")


def _integration(session: Session, request: Request, items: list[tuple[str, str]],
                 now: datetime) -> Actor:  # fmt: skip
    """The integration behind ``api_key`` (or the X-API-Key header); 403 otherwise."""
    key = next((v.strip() for k, v in items if k == "api_key" and v.strip()), None)
    key = key or request.headers.get(auth.API_KEY_HEADER, "").strip() or None
    if key is None:
        raise SpecError(403, "api_key was not provided")
    actor = auth.actor_for_api_key(session, key, now)
    if actor is None or not actor.has(Role.INTEGRATION):
        raise SpecError(403, "Invalid api_key received -- can't proceed")
    return actor


def _base_url(request: Request, settings: Settings) -> str:
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


def _w3(value: datetime | None, settings: Settings) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(settings.timezone)).isoformat(timespec="seconds")


def _first(items: list[tuple[str, str]], name: str) -> str | None:
    return next((v.strip() for k, v in items if k == name and v.strip()), None)


# --- discovery and services ----------------------------------------------------------------------


@router.get("/open311/discovery.{fmt}", operation_id="open311_discovery")
@router.get(V2 + "/discovery.{fmt}", operation_id="open311_v2_discovery")
def discovery(request: Request, session: SessionDep, settings: SettingsDep, fmt: str) -> Response:
    """Service Discovery: where GeoReport v2 lives here and in which formats."""

    def build(f: str) -> Response:
        changed = session.scalar(
            select(func.max(func.coalesce(CaseStandard.updated_at, CaseStandard.created_at)))
        )
        changeset = _w3(changed, settings)
        body: Row = {
            "changeset": changeset,
            "contact": "城管执法指挥平台 Open311 接口；API 密钥向系统管理员申请",
            "key_service": "API keys (integration keys) are issued by the platform administrator",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": _base_url(request, settings) + V2,
                    "changeset": changeset,
                    "type": "production" if settings.mode == "production" else "test",
                    "formats": list(formats.MEDIA_TYPES.values()),
                }
            ],
        }
        return formats.object_answer(f, "discovery", body)

    return _answer(session, fmt, build)


@router.get(V2 + "/services.{fmt}", operation_id="open311_services")
def services(request: Request, session: SessionDep, settings: SettingsDep, fmt: str) -> Response:
    """The service list: the catalogue's public matters, grouped by major class."""

    def build(f: str) -> Response:
        _check_jurisdiction(settings, request.query_params.get("jurisdiction_id"))
        rows = [_service_row(s, settings) for s in o311.list_services(session)]
        return formats.list_answer(f, "services", "service", rows)

    return _answer(session, fmt, build)


def _service_row(service: o311.Service, settings: Settings) -> Row:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": settings.open311_request_type,
        "keywords": service.keywords,
        "group": service.group,
    }


@router.get(V2 + "/services/{service_code}.{fmt}", operation_id="open311_service_definition")
def service_definition(
    request: Request, session: SessionDep, settings: SettingsDep, service_code: str, fmt: str
) -> Response:
    """A service definition: the attributes a request of this service takes."""

    def build(f: str) -> Response:
        _check_jurisdiction(settings, request.query_params.get("jurisdiction_id"))
        service = o311.get_service(session, code=service_code)
        attributes: list[Value] = []
        if service.metadata:
            attributes.append(
                {
                    "variable": True,
                    "code": o311.SITUATION,
                    "datatype": "singlevaluelist",
                    "required": True,
                    "datatype_description": "选择一项",
                    "order": 1,
                    "description": "现场属于哪种情形？",
                    "values": [
                        {"key": s.variant, "name": f"{s.variant}：{s.condition}"}
                        for s in service.situations
                    ],
                }
            )
        body: Row = {"service_code": service.code, "attributes": attributes}
        return formats.object_answer(f, "service_definition", body)

    return _answer(session, fmt, build)


# --- requests ------------------------------------------------------------------------------------


@router.post(V2 + "/requests.{fmt}", operation_id="open311_post_request")
def post_request(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    items: FormItems,
    fmt: str,
) -> Response:
    """Create a service request (form-encoded; ``api_key`` required)."""

    def build(f: str) -> Response:
        now = clock.now()
        _check_jurisdiction(settings, _first(items, "jurisdiction_id"))
        req = o311.parse_request(items)
        by, created = _store_first(
            session, request, items, now,
            lambda by: o311.create_request(session, req=req, by=by, now=now),
        )  # fmt: skip
        if req.media_url is not None:
            o311.keep_media(
                session, case=created.case, url=req.media_url, by=by, now=now, settings=settings
            )
        row: Row = (
            {"token": created.token}
            if settings.open311_request_type == "batch"
            else {"service_request_id": created.case.number}
        )
        row["service_notice"] = created.notice
        return formats.list_answer(f, "service_requests", "request", [row])

    return _answer(session, fmt, build)


@router.get(V2 + "/requests.{fmt}", operation_id="open311_get_requests")
def get_requests(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, fmt: str
) -> Response:
    """Service requests by id, or by service, status and date window (90 days, 1,000 a page)."""

    def build(f: str) -> Response:
        params = _params(request)
        _check_jurisdiction(settings, params.get("jurisdiction_id"))
        query = o311.parse_query(params, clock.now())
        found = o311.find_requests(session, query=query)
        return _requests_answer(f, session, request, settings, found)

    return _answer(session, fmt, build)


@router.get(V2 + "/requests/{service_request_id}.{fmt}", operation_id="open311_get_request")
def get_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    service_request_id: str,
    fmt: str,
) -> Response:
    """One service request, answered as a list of one (as the specification says)."""

    def build(f: str) -> Response:
        _check_jurisdiction(settings, request.query_params.get("jurisdiction_id"))
        case = o311.get_request(session, number=service_request_id)
        return _requests_answer(f, session, request, settings, [case])

    return _answer(session, fmt, build)


def _requests_answer(
    fmt: str, session: Session, request: Request, settings: Settings, found: list[Any]
) -> Response:
    views = public.public_cases(
        session, found, base_url=_base_url(request, settings), secret_key=settings.secret_key
    )
    rows = [_request_row(v, settings) for v in views]
    return formats.list_answer(fmt, "service_requests", "request", rows)


def _request_row(view: public.PublicCase, settings: Settings) -> Row:
    return {
        "service_request_id": view.number,
        "status": view.status,
        "status_notes": view.status_notes,
        "service_name": view.matter_name,
        "service_code": view.matter_code,
        "description": view.description,
        "agency_responsible": view.agency_responsible,
        "service_notice": None,
        "requested_datetime": _w3(view.requested_at, settings),
        "updated_datetime": _w3(view.updated_at, settings),
        "expected_datetime": _w3(view.expected_at, settings),
        "address": view.address,
        "address_id": view.unit_grid_code,
        "zipcode": None,
        "lat": view.lat,
        "long": view.lon,
        "media_url": view.media_url,
    }


@router.get(V2 + "/tokens/{token}.{fmt}", operation_id="open311_token")
def token_lookup(
    request: Request, session: SessionDep, settings: SettingsDep, token: str, fmt: str
) -> Response:
    """The service_request_id behind a token a POST answered."""

    def build(f: str) -> Response:
        _check_jurisdiction(settings, request.query_params.get("jurisdiction_id"))
        case = o311.case_of_token(session, token=token)
        row: Row = {"service_request_id": case.number, "token": token}
        return formats.list_answer(f, "service_requests", "request", [row])

    return _answer(session, fmt, build)


# --- FixMyStreet: servicerequestupdates ----------------------------------------------------------


@router.get(V2 + "/servicerequestupdates.{fmt}", operation_id="open311_get_updates")
def get_updates(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, fmt: str
) -> Response:
    """Public updates of requests in a window (FixMyStreet's extension), oldest first."""

    def build(f: str) -> Response:
        params = _params(request)
        _check_jurisdiction(settings, params.get("jurisdiction_id"))
        query = o311.parse_update_query(params, clock.now())
        found = o311.public_updates(
            session,
            query=query,
            base_url=_base_url(request, settings),
            secret_key=settings.secret_key,
        )
        rows: list[Row] = [
            {
                "update_id": note.update_id,
                "service_request_id": view.number,
                "status": note.fms_status,
                "updated_datetime": _w3(note.at, settings),
                "description": note.text,
                "media_url": note.media_urls[0] if note.media_urls else None,
            }
            for view, note in found
        ]
        return formats.list_answer(f, "service_request_updates", "request_update", rows)

    return _answer(session, fmt, build)


@router.post(V2 + "/servicerequestupdates.{fmt}", operation_id="open311_post_update")
def post_update(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    items: FormItems,
    fmt: str,
) -> Response:
    """Add an update to a request from FixMyStreet (``api_key`` required)."""

    def build(f: str) -> Response:
        now = clock.now()
        _check_jurisdiction(settings, _first(items, "jurisdiction_id"))
        update = o311.parse_update(items)
        by, posted = _store_first(
            session, request, items, now,
            lambda by: o311.post_update(session, update=update, by=by, now=now),
        )  # fmt: skip
        if posted.created and update.media_url is not None:
            o311.keep_media(
                session, case=posted.case, url=update.media_url, by=by, now=now,
                settings=settings, timeline_entry_id=posted.entry.id,
            )  # fmt: skip
        row: Row = {"update_id": str(posted.entry.id)}
        return formats.list_answer(f, "service_request_updates", "request_update", [row])

    return _answer(session, fmt, build)


# --- anything else under /open311, and public photos ---------------------------------------------


@router.api_route(
    "/open311/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def not_found(rest: str) -> Response:
    """A path or method the interface does not have, in the spec's error format."""
    fmt = formats.JSON if rest.lower().endswith(".json") else formats.XML
    return formats.error_answer(fmt, [SpecError(404, f"/open311/{rest} is not a resource here")])


@router.get(
    public.MEDIA_PATH + "{token}",
    operation_id="public_media",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
    tags=["public"],
)
def public_media(session: SessionDep, settings: SettingsDep, token: str) -> Response:
    """A case's public photo by its unguessable address, verified against its SHA-256 first."""
    found = public.evidence_for_token(session, token, secret_key=settings.secret_key)
    if found is None:
        raise NotFound("No such photo", code="media_not_found")
    path = EvidenceStore(settings.evidence_root).verify(found.sha256, size=found.size)
    cache = Path(settings.evidence_root) / "public"
    path = public.stripped_photo(
        path, sha256=found.sha256, media_type=found.media_type, cache_dir=cache
    )
    return FileResponse(
        path,
        media_type=found.media_type,
        headers={
            "ETag": f'"{found.sha256}"',
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )
