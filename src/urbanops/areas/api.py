"""REST routes for areas (区/街道/社区/单元网格), responsibility grids and point lookup."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status

from urbanops.areas import gisio, service
from urbanops.areas.codes import AreaLevel
from urbanops.areas.schemas import (
    AreaPage,
    ImportOut,
    LocateBatchIn,
    LocateBatchOut,
    LocationOut,
    OfficersIn,
    ResponsibilityGridIn,
    ResponsibilityGridOut,
    ResponsibilityGridPage,
    ResponsibilityGridPatch,
    TopologyOut,
)
from urbanops.auth.deps import CurrentActor, require
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import InvalidInput, PayloadTooLarge
from urbanops.kit.web import ClockDep, SessionDep

router = APIRouter()

AdminActor = Annotated[Actor, Depends(require(Role.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
Tolerance = Annotated[float, Query(ge=0, le=1e9, description="smallest area reported, m²")]


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` as four numbers, or a 422 problem."""
    if text is None:
        return None
    try:
        a, b, c, d = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise InvalidInput(
            "bbox must be min_lon,min_lat,max_lon,max_lat", code="invalid_bbox"
        ) from exc
    return a, b, c, d


@router.get("/api/areas", tags=["areas"], operation_id="list_areas")
def list_areas(
    session: SessionDep,
    _actor: CurrentActor,
    level: AreaLevel | None = None,
    parent: str | None = None,
    bbox: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AreaPage:
    """Areas by level, parent code or map window, one page at a time."""
    items, total = service.list_areas(
        session, level=level, parent_code=parent, bbox=_bbox(bbox), limit=limit, offset=offset
    )
    return AreaPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/api/areas/import", tags=["areas"], operation_id="import_areas")
def import_areas(
    session: SessionDep,
    clock: ClockDep,
    actor: AdminActor,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile or GeoPackage")],
    crs: Annotated[str, Form(description="wgs84, cgcs2000, gcj02 or bd09")],
    level: Annotated[AreaLevel | None, Form()] = None,
) -> ImportOut:
    """Import districts, streets, communities or unit grids from a GIS file (all or nothing)."""
    data = file.file.read(gisio.MAX_FILE_BYTES + 1)
    if len(data) > gisio.MAX_FILE_BYTES:
        raise PayloadTooLarge(f"The file is larger than {gisio.MAX_FILE_BYTES // 2**20} MiB")
    return service.import_areas(
        session,
        data=data,
        filename=file.filename or "",
        crs=crs,
        level=level,
        by=actor,
        now=clock.now(),
    )


@router.get(
    "/api/areas/export",
    tags=["areas"],
    operation_id="export_areas",
    response_class=Response,
    responses={200: {"content": {m: {} for m in gisio.MEDIA_TYPES.values()}}},
)
def export_areas(
    session: SessionDep,
    _actor: CurrentActor,
    level: AreaLevel | None = None,
    parent: str | None = None,
    format: gisio.ExportFormat = "geojson",
    crs: str = "wgs84",
) -> Response:
    """Areas as a GeoJSON, zipped Shapefile or GeoPackage file (WGS84 unless asked otherwise)."""
    content = service.export_areas(session, fmt=format, level=level, parent_code=parent, crs=crs)
    filename = f"areas-{level.value if level else 'all'}.{gisio.EXTENSIONS[format]}"
    return Response(
        content,
        media_type=gisio.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/api/areas/topology", tags=["areas"], operation_id="district_topology")
def district_topology(
    session: SessionDep, _actor: CurrentActor, tolerance_m2: Tolerance = 1.0
) -> TopologyOut:
    """Overlaps among the top-level areas, and holes enclosed between them."""
    return service.top_level_topology(session, tolerance_m2=tolerance_m2)


@router.get("/api/areas/{code}", tags=["areas"], operation_id="get_area")
def get_area(code: str, session: SessionDep, _actor: CurrentActor) -> dict[str, Any]:
    """One area as a GeoJSON Feature with its attributes."""
    return service.area_feature(service.get_area(session, code=code))


@router.get("/api/areas/{code}/topology", tags=["areas"], operation_id="area_topology")
def area_topology(
    code: str, session: SessionDep, _actor: CurrentActor, tolerance_m2: Tolerance = 1.0
) -> TopologyOut:
    """Overlaps between the area's children and the parts of it no child covers."""
    return service.topology_of(session, code=code, tolerance_m2=tolerance_m2)


@router.get("/api/responsibility-grids", tags=["areas"], operation_id="list_responsibility_grids")
def list_responsibility_grids(
    session: SessionDep,
    _actor: CurrentActor,
    street: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ResponsibilityGridPage:
    """Responsibility grids (责任网格), optionally of one street."""
    items, total = service.list_responsibility_grids(
        session, street_code=street, limit=limit, offset=offset
    )
    return ResponsibilityGridPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/api/responsibility-grids",
    tags=["areas"],
    operation_id="create_responsibility_grid",
    status_code=status.HTTP_201_CREATED,
)
def create_responsibility_grid(
    body: ResponsibilityGridIn, session: SessionDep, clock: ClockDep, actor: AdminActor
) -> ResponsibilityGridOut:
    """Group unit grids of a street into a responsibility grid."""
    grid = service.create_responsibility_grid(
        session,
        code=body.code,
        name=body.name,
        street_code=body.street_code,
        unit_grid_codes=body.unit_grid_codes,
        by=actor,
        now=clock.now(),
    )
    return service.responsibility_grid_out(session, grid)


@router.get(
    "/api/responsibility-grids/topology",
    tags=["areas"],
    operation_id="responsibility_grid_topology",
)
def responsibility_grid_topology(
    session: SessionDep,
    _actor: CurrentActor,
    street: Annotated[str, Query(min_length=9, max_length=9)],
    tolerance_m2: Tolerance = 1.0,
) -> TopologyOut:
    """Overlaps and gaps among the responsibility grids of one street."""
    return service.responsibility_topology(session, street_code=street, tolerance_m2=tolerance_m2)


@router.get(
    "/api/responsibility-grids/{code}", tags=["areas"], operation_id="get_responsibility_grid"
)
def get_responsibility_grid(
    code: str, session: SessionDep, _actor: CurrentActor
) -> ResponsibilityGridOut:
    """One responsibility grid with its unit grids and officers."""
    grid = service.get_responsibility_grid(session, code=code)
    return service.responsibility_grid_out(session, grid)


@router.patch(
    "/api/responsibility-grids/{code}",
    tags=["areas"],
    operation_id="update_responsibility_grid",
)
def update_responsibility_grid(
    code: str,
    body: ResponsibilityGridPatch,
    session: SessionDep,
    clock: ClockDep,
    actor: AdminActor,
) -> ResponsibilityGridOut:
    """Rename a responsibility grid or replace its unit grids."""
    grid = service.update_responsibility_grid(
        session,
        code=code,
        name=body.name,
        unit_grid_codes=body.unit_grid_codes,
        by=actor,
        now=clock.now(),
    )
    return service.responsibility_grid_out(session, grid)


@router.put(
    "/api/responsibility-grids/{code}/officers",
    tags=["areas"],
    operation_id="set_responsibility_grid_officers",
)
def set_officers(
    code: str, body: OfficersIn, session: SessionDep, clock: ClockDep, actor: AdminActor
) -> ResponsibilityGridOut:
    """Set the officers (网格员) a responsibility grid carries."""
    grid = service.set_officers(
        session, code=code, officers=body.officers, by=actor, now=clock.now()
    )
    return service.responsibility_grid_out(session, grid)


@router.get("/api/locate", tags=["areas"], operation_id="locate_point")
def locate(
    session: SessionDep,
    _actor: CurrentActor,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: str = "wgs84",
) -> LocationOut:
    """Which grid holds a point; outside every grid answers ``outside_jurisdiction``."""
    return service.locate(session, lon=lon, lat=lat, crs=crs)


@router.post("/api/locate/batch", tags=["areas"], operation_id="locate_points")
def locate_batch(body: LocateBatchIn, session: SessionDep, _actor: CurrentActor) -> LocateBatchOut:
    """Which grid holds each of up to 10,000 points."""
    points = [(p.lon, p.lat) for p in body.points]
    return LocateBatchOut(results=service.locate_many(session, points=points, crs=body.crs))
