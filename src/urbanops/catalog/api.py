"""REST routes of the catalogue (部件/事项) and its case standards; reads for anyone signed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, UploadFile

from urbanops.auth.deps import CurrentActor, require
from urbanops.catalog import service, xlsx
from urbanops.catalog.models import CaseStandard, CatalogEntry
from urbanops.catalog.schemas import (
    EntryDetail,
    EntryKind,
    EntryOut,
    EntryPage,
    ImportReport,
    LegacyMapping,
    StandardCreate,
    StandardOut,
    StandardPatch,
)
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import PayloadTooLarge
from urbanops.kit.web import ClockDep, SessionDep

router = APIRouter(prefix="/api/catalog", tags=["catalog"])
AdminActor = Annotated[Actor, Depends(require(Role.ADMIN))]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def standard_out(standard: CaseStandard) -> StandardOut:
    """A standard with its matter's code and name."""
    return StandardOut.model_validate(
        {
            **{c: getattr(standard, c) for c in StandardOut.model_fields if hasattr(standard, c)},
            "matter_code": standard.matter.code,
            "matter_name": standard.matter.name,
        }
    )


def entry_detail(entry: CatalogEntry) -> EntryDetail:
    """An entry and its standards."""
    base = EntryOut.model_validate(entry).model_dump()
    return EntryDetail(**base, standards=[standard_out(s) for s in entry.standards])


@router.get("", operation_id="search_catalog")
def search_catalog(
    session: SessionDep,
    _: CurrentActor,
    kind: EntryKind | None = None,
    major: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    q: Annotated[str | None, Query(max_length=50)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryPage:
    """Search components and matters by code prefix, name or keyword."""
    items, total = service.search_entries(
        session, kind=kind, major=major, q=q, page=page, size=size
    )
    return EntryPage(
        items=[EntryOut.model_validate(e) for e in items], total=total, page=page, size=size
    )


@router.get("/legacy/{old}", operation_id="map_legacy_event_code")
def map_legacy_event_code(session: SessionDep, _: CurrentActor, old: str) -> LegacyMapping:
    """The 2026 matter that a GB/T 30428.2-2013 event code (e.g. 04-05) became."""
    entry = service.resolve_legacy(session, old=old)
    return LegacyMapping(legacy_code=old.strip(), entry=EntryOut.model_validate(entry))


@router.get("/standards", operation_id="list_case_standards")
def list_case_standards(
    session: SessionDep,
    _: CurrentActor,
    matter_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
) -> list[StandardOut]:
    """All case standards, optionally of one matter."""
    return [standard_out(s) for s in service.list_standards(session, matter_code=matter_code)]


@router.get(
    "/standards.xlsx",
    operation_id="export_case_standards",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
def export_case_standards(session: SessionDep, _: CurrentActor) -> Response:
    """Every case standard as an Excel sheet with Chinese headers."""
    return Response(
        xlsx.export_standards(session),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="case-standards.xlsx"'},
    )


@router.post("/standards/import", operation_id="import_case_standards")
async def import_case_standards(
    session: SessionDep, clock: ClockDep, by: AdminActor, file: UploadFile
) -> ImportReport:
    """Upsert standards from an Excel sheet; a single bad row refuses the whole sheet."""
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("The workbook is larger than 5 MiB", code="xlsx_too_large")
    return xlsx.import_standards(session, content=content, by=by, now=clock.now())


@router.post("/standards", status_code=201, operation_id="create_case_standard")
def create_case_standard(
    session: SessionDep, clock: ClockDep, by: AdminActor, body: StandardCreate
) -> StandardOut:
    """Add a case standard (a situation with its conditions and limit) to a matter."""
    return standard_out(service.create_standard(session, data=body, by=by, now=clock.now()))


@router.patch("/standards/{standard_id}", operation_id="update_case_standard")
def update_case_standard(
    session: SessionDep, clock: ClockDep, by: AdminActor, standard_id: int, body: StandardPatch
) -> StandardOut:
    """Change a case standard; the row records who changed it and when."""
    standard = service.update_standard(
        session, standard_id=standard_id, changes=body, by=by, now=clock.now()
    )
    return standard_out(standard)


@router.delete("/standards/{standard_id}", status_code=204, operation_id="delete_case_standard")
def delete_case_standard(
    session: SessionDep, clock: ClockDep, by: AdminActor, standard_id: int
) -> Response:
    """Remove a case standard; another situation of the matter becomes its default."""
    service.delete_standard(session, standard_id=standard_id, by=by, now=clock.now())
    return Response(status_code=204)


@router.get("/{kind}/{code}", operation_id="get_catalog_entry")
def get_catalog_entry(
    session: SessionDep, _: CurrentActor, kind: EntryKind, code: str
) -> EntryDetail:
    """One component or matter with its case standards."""
    return entry_detail(service.entry_with_standards(session, kind=kind, code=code))
