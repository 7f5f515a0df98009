"""Area operations: import and export grid files, list and read areas, topology, responsibility
grids (责任网格) and their officers, and point → grid lookup. Services flush; the caller commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from urbanops.areas import gisio, locator
from urbanops.areas.codes import (
    LENGTH_BY_LEVEL,
    LEVEL_BY_LENGTH,
    AreaLevel,
    parent_code_of,
    validate_child,
    validate_code,
    validate_responsibility_code,
)
from urbanops.areas.models import (
    Area,
    ResponsibilityGrid,
    ResponsibilityGridOfficer,
    ResponsibilityGridUnit,
)
from urbanops.areas.schemas import (
    AreaOut,
    AreaRefOut,
    ImportOut,
    LocationOut,
    OfficerIn,
    OfficerOut,
    ResponsibilityGridOut,
    TopologyOut,
)
from urbanops.areas.topology import (
    DEFAULT_TOLERANCE_M2,
    TopologyReport,
    outline_of,
    sibling_report,
)
from urbanops.auth.service import audit
from urbanops.kit.actor import Actor
from urbanops.kit.errors import Conflict, InvalidInput, NotFound
from urbanops.kit.geo import parse_crs, to_wgs84_xy

# --- reading areas ------------------------------------------------------------------------


def get_area(session: Session, *, code: str) -> Area:
    """The area with ``code``, or a 404 problem."""
    area = session.scalar(select(Area).where(Area.code == code))
    if area is None:
        raise NotFound(f"No area has the code {code!r}", code="area_not_found")
    return area


def list_areas(
    session: Session,
    *,
    level: AreaLevel | None = None,
    parent_code: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AreaOut], int]:
    """A page of areas by level, parent or map window (bounding boxes that intersect it)."""
    parent = aliased(Area)
    query = select(Area, parent.code).outerjoin(parent, parent.id == Area.parent_id)
    if level is not None:
        query = query.where(Area.level == level.value)
    if parent_code is not None:
        query = query.where(parent.code == parent_code)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        query = query.where(
            Area.max_lon >= min_lon,
            Area.min_lon <= max_lon,
            Area.max_lat >= min_lat,
            Area.min_lat <= max_lat,
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Area.code).limit(limit).offset(offset)).all()
    return [area_out(area, up) for area, up in rows], total


def area_out(area: Area, parent_code: str | None) -> AreaOut:
    """An area as the API shows it, without its outline."""
    bbox = None
    if area.min_lon is not None:
        bbox = (area.min_lon, area.min_lat, area.max_lon, area.max_lat)
    return AreaOut(
        code=area.code,
        name=area.name,
        level=area.level,
        parent_code=parent_code,
        centre_lon=area.centre_lon,
        centre_lat=area.centre_lat,
        area_m2=area.area_m2,
        bbox=bbox,
        valid_from=area.valid_from,
        valid_to=area.valid_to,
    )


def area_feature(area: Area) -> dict[str, Any]:
    """An area as a GeoJSON Feature (WGS84) with its attributes as properties."""
    geometry = shapely.from_wkb(area.geometry) if area.geometry else None
    properties = area_out(area, parent_code_of(area.code)).model_dump(mode="json")
    return {
        "type": "Feature",
        "id": area.code,
        "geometry": shapely.geometry.mapping(geometry) if geometry is not None else None,
        "properties": properties,
    }


# --- import -------------------------------------------------------------------------------


def import_areas(
    session: Session,
    *,
    data: bytes,
    filename: str,
    crs: str,
    level: AreaLevel | None,
    by: Actor,
    now: datetime,
) -> ImportOut:
    """Import a grid file all or nothing: every feature is checked before anything is written."""
    features = gisio.read_features(data, filename, crs)
    planned = _plan(session, features, level)
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    by_code: dict[str, Area] = {}
    for feature, feature_level in planned:
        area, is_new = _upsert(session, feature, feature_level, by_code, by=by, now=now)
        by_code[area.code] = area
        (created if is_new else updated)[feature_level.value] += 1
    session.flush()
    _refresh_responsibility_outlines(session, [a.id for a in by_code.values()], by=by, now=now)
    locator.mark_changed(session, now=now)
    audit(
        session, actor=by, action="areas.import", entity="area", entity_id=None, now=now,
        detail={"filename": filename, "crs": crs, "created": dict(created),
                "updated": dict(updated)},
    )  # fmt: skip
    return ImportOut(
        created=dict(created),
        updated=dict(updated),
        total=len(planned),
        topology=[_topology_out(r) for r in _reports_for(session, list(by_code.values()))],
    )


def _plan(
    session: Session, features: Sequence[gisio.Feature], level: AreaLevel | None
) -> list[tuple[gisio.Feature, AreaLevel]]:
    """Check codes, levels, parents and duplicates; answer features ordered parents first."""
    planned = [(f, _feature_level(f, level)) for f in features]
    seen: set[str] = set()
    for feature, _level in planned:
        assert feature.code is not None
        if feature.code in seen:
            raise InvalidInput(
                f"{feature.label}: the code {feature.code} appears twice in the file",
                code="duplicate_code",
            )
        seen.add(feature.code)
    _check_parents_exist(session, planned, seen)
    return sorted(planned, key=lambda pair: LENGTH_BY_LEVEL[pair[1]])


def _feature_level(feature: gisio.Feature, declared: AreaLevel | None) -> AreaLevel:
    """A feature's level from its code, checked against its own and the form's level."""
    if feature.code is None:
        raise InvalidInput(
            f"{feature.label} has no code (property code, adcode or grid_code)",
            code="missing_code",
        )
    try:
        parent = feature.parent_code or parent_code_of(feature.code)
        level = validate_child(feature.code, parent_code=parent)
    except InvalidInput as exc:
        exc.detail = f"{feature.label}: {exc.detail}"
        raise
    stated = feature.level if feature.level in {lv.value for lv in AreaLevel} else None
    for expected in (stated, declared):
        if expected is not None and expected != level.value:
            raise InvalidInput(
                f"{feature.label}: a {len(feature.code)}-digit code is a {level.value}, "
                f"not a {expected}",
                code="level_mismatch",
            )
    return level


def _check_parents_exist(
    session: Session, planned: Sequence[tuple[gisio.Feature, AreaLevel]], in_file: set[str]
) -> None:
    """Every street, community or unit grid needs its parent in the file or the database."""
    wanted = {parent_code_of(f.code) for f, _ in planned if f.code} - {None} - in_file
    known = set(session.scalars(select(Area.code).where(Area.code.in_(wanted))).all())
    for feature, _level in planned:
        parent = parent_code_of(feature.code or "")
        if parent is not None and parent not in in_file and parent not in known:
            raise InvalidInput(
                f"{feature.label}: its parent area {parent} is neither in the file "
                "nor already imported",
                code="unknown_parent",
            )


def _upsert(
    session: Session,
    feature: gisio.Feature,
    level: AreaLevel,
    by_code: dict[str, Area],
    *,
    by: Actor,
    now: datetime,
) -> tuple[Area, bool]:
    """Create the area, or update the outline and name of the one with that code."""
    assert feature.code is not None
    parent_code = parent_code_of(feature.code)
    parent = (
        by_code.get(parent_code) or get_area(session, code=parent_code) if parent_code else None
    )
    area = session.scalar(select(Area).where(Area.code == feature.code))
    is_new = area is None
    if area is None:
        area = Area(code=feature.code, level=level.value)
        area.stamp_created(by.ref, now)
    else:
        area.stamp_updated(by.ref, now)
    area.parent_id = parent.id if parent is not None else None
    area.name = feature.name or feature.code
    area.valid_from = _date_property(feature, "valid_from")
    area.valid_to = _date_property(feature, "valid_to")
    _set_outline(area, feature.geometry)
    session.add(area)
    session.flush()
    return area, is_new


def _date_property(feature: gisio.Feature, key: str) -> date | None:
    value = next((v for k, v in feature.properties.items() if k.lower() == key), None)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidInput(
            f"{feature.label}: {key} {value!r} is not a date (YYYY-MM-DD)", code="invalid_date"
        ) from exc


def _set_outline(row: Area | ResponsibilityGrid, geometry: BaseGeometry | None) -> None:
    """Store a WGS84 outline with its centre, size and bounding box (or clear them all)."""
    if geometry is None or geometry.is_empty:
        row.geometry = None
        row.centre_lon = row.centre_lat = row.area_m2 = None
        row.min_lon = row.min_lat = row.max_lon = row.max_lat = None
        return
    row.geometry = shapely.to_wkb(geometry)
    for name, value in asdict(outline_of(geometry)).items():
        setattr(row, name, value)


# --- topology -----------------------------------------------------------------------------


def topology_of(
    session: Session, *, code: str, tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> TopologyOut:
    """Overlaps and gaps among the children of the area ``code``."""
    parent = get_area(session, code=code)
    return _topology_out(_children_report(session, parent, tolerance_m2))


def top_level_topology(
    session: Session, *, tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> TopologyOut:
    """Overlaps, and holes enclosed between them, among the districts."""
    districts = session.scalars(select(Area).where(Area.parent_id.is_(None))).all()
    report = sibling_report(
        _outlines(districts), parent=None, level="district", tolerance_m2=tolerance_m2
    )
    return _topology_out(report)


def _reports_for(session: Session, touched: Sequence[Area]) -> list[TopologyReport]:
    """One report per sibling group that an import touched (districts form one group)."""
    parent_ids = sorted({a.parent_id for a in touched if a.parent_id is not None})
    reports = []
    if any(a.parent_id is None for a in touched):
        districts = session.scalars(select(Area).where(Area.parent_id.is_(None))).all()
        reports.append(sibling_report(_outlines(districts), parent=None, level="district"))
    for parent_id in parent_ids:
        parent = session.get(Area, parent_id)
        assert parent is not None
        reports.append(_children_report(session, parent, DEFAULT_TOLERANCE_M2))
    return reports


def _children_report(session: Session, parent: Area, tolerance_m2: float) -> TopologyReport:
    children = session.scalars(select(Area).where(Area.parent_id == parent.id)).all()
    outline = shapely.from_wkb(parent.geometry) if parent.geometry else None
    level = children[0].level if children else _child_level(parent.level)
    return sibling_report(
        _outlines(children),
        parent=(parent.code, outline) if outline is not None else None,
        level=level,
        tolerance_m2=tolerance_m2,
    )


def _child_level(level: str) -> str:
    length = LENGTH_BY_LEVEL[AreaLevel(level)] + 3
    return LEVEL_BY_LENGTH[length].value if length in LEVEL_BY_LENGTH else level


def _outlines(rows: Sequence[Area | ResponsibilityGrid]) -> list[tuple[str, BaseGeometry]]:
    return [(row.code, shapely.from_wkb(row.geometry)) for row in rows if row.geometry]


def _topology_out(report: TopologyReport) -> TopologyOut:
    return TopologyOut.model_validate(asdict(report))


# --- export -------------------------------------------------------------------------------


def export_areas(
    session: Session,
    *,
    fmt: gisio.ExportFormat,
    level: AreaLevel | None = None,
    parent_code: str | None = None,
    crs: str = "wgs84",
) -> bytes:
    """Areas of a level (or under a parent) as a GIS file, for the city's GIS or a base map."""
    parse_crs(crs)
    query = select(Area).where(Area.geometry.is_not(None)).order_by(Area.code)
    if level is not None:
        query = query.where(Area.level == level.value)
    if parent_code is not None:
        query = query.where(Area.parent_id == get_area(session, code=parent_code).id)
    rows = [_export_row(area) for area in session.scalars(query)]
    return gisio.write_features(rows, fmt, crs)


def _export_row(area: Area) -> gisio.ExportRow:
    return gisio.ExportRow(
        geometry=shapely.from_wkb(area.geometry),
        properties={
            "code": area.code,
            "name": area.name,
            "level": area.level,
            "parent": parent_code_of(area.code),
            "area_m2": area.area_m2,
            "valid_from": area.valid_from.isoformat() if area.valid_from else None,
            "valid_to": area.valid_to.isoformat() if area.valid_to else None,
        },
    )


# --- responsibility grids -----------------------------------------------------------------


def get_responsibility_grid(session: Session, *, code: str) -> ResponsibilityGrid:
    """The responsibility grid with ``code``, or a 404 problem."""
    grid = session.scalar(select(ResponsibilityGrid).where(ResponsibilityGrid.code == code))
    if grid is None:
        raise NotFound(
            f"No responsibility grid has the code {code!r}", code="responsibility_grid_not_found"
        )
    return grid


def list_responsibility_grids(
    session: Session, *, street_code: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[ResponsibilityGridOut], int]:
    """A page of responsibility grids, optionally of one street."""
    query = select(ResponsibilityGrid)
    if street_code is not None:
        street = get_area(session, code=street_code)
        query = query.where(ResponsibilityGrid.street_id == street.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    grids = session.scalars(query.order_by(ResponsibilityGrid.code).limit(limit).offset(offset))
    return [responsibility_grid_out(session, grid) for grid in grids], total


def responsibility_grid_out(session: Session, grid: ResponsibilityGrid) -> ResponsibilityGridOut:
    """A responsibility grid with its unit-grid codes and officers."""
    street = session.get(Area, grid.street_id)
    units = session.scalars(
        select(Area.code)
        .join(ResponsibilityGridUnit, ResponsibilityGridUnit.unit_grid_id == Area.id)
        .where(ResponsibilityGridUnit.responsibility_grid_id == grid.id)
        .order_by(Area.code)
    ).all()
    officers = session.scalars(
        select(ResponsibilityGridOfficer)
        .where(ResponsibilityGridOfficer.responsibility_grid_id == grid.id)
        .order_by(ResponsibilityGridOfficer.user_id)
    ).all()
    return ResponsibilityGridOut(
        code=grid.code,
        name=grid.name,
        street_code=street.code if street else "",
        unit_grid_codes=list(units),
        officers=[OfficerOut(user_id=o.user_id, role=o.role) for o in officers],
        centre_lon=grid.centre_lon,
        centre_lat=grid.centre_lat,
        area_m2=grid.area_m2,
    )


def create_responsibility_grid(
    session: Session,
    *,
    code: str,
    name: str,
    street_code: str,
    unit_grid_codes: Sequence[str],
    by: Actor,
    now: datetime,
) -> ResponsibilityGrid:
    """Group unit grids of one street into a new responsibility grid (责任网格)."""
    street = _street(session, street_code)
    validate_responsibility_code(code, street_code=street.code)
    if session.scalar(select(ResponsibilityGrid.id).where(ResponsibilityGrid.code == code)):
        raise Conflict(
            f"A responsibility grid with the code {code} already exists",
            code="responsibility_grid_exists",
        )
    grid = ResponsibilityGrid(code=code, name=name, street_id=street.id)
    grid.stamp_created(by.ref, now)
    session.add(grid)
    session.flush()
    _set_units(session, grid, street, unit_grid_codes)
    locator.mark_changed(session, now=now)
    return grid


def update_responsibility_grid(
    session: Session,
    *,
    code: str,
    name: str | None,
    unit_grid_codes: Sequence[str] | None,
    by: Actor,
    now: datetime,
) -> ResponsibilityGrid:
    """Rename a responsibility grid or replace its unit grids."""
    grid = get_responsibility_grid(session, code=code)
    if name is not None:
        grid.name = name
    if unit_grid_codes is not None:
        street = session.get(Area, grid.street_id)
        assert street is not None
        _set_units(session, grid, street, unit_grid_codes)
    grid.stamp_updated(by.ref, now)
    session.flush()
    locator.mark_changed(session, now=now)
    return grid


def set_officers(
    session: Session,
    *,
    code: str,
    officers: Sequence[OfficerIn],
    by: Actor,
    now: datetime,
) -> ResponsibilityGrid:
    """Replace the officers (网格员) a responsibility grid carries; at most one leader."""
    grid = get_responsibility_grid(session, code=code)
    user_ids = [o.user_id for o in officers]
    if len(set(user_ids)) != len(user_ids):
        raise InvalidInput("An officer is listed twice", code="duplicate_officer")
    if sum(o.role == "leader" for o in officers) > 1:
        raise InvalidInput("A responsibility grid has at most one leader", code="several_leaders")
    session.execute(
        delete(ResponsibilityGridOfficer).where(
            ResponsibilityGridOfficer.responsibility_grid_id == grid.id
        )
    )
    for officer in officers:
        session.add(
            ResponsibilityGridOfficer(
                responsibility_grid_id=grid.id,
                user_id=officer.user_id,
                role=officer.role,
                assigned_at=now,
                assigned_by=by.ref,
            )
        )
    grid.stamp_updated(by.ref, now)
    session.flush()
    return grid


def grids_of_officer(session: Session, *, user_id: int) -> list[str]:
    """Codes of the responsibility grids an officer is carried by."""
    return list(
        session.scalars(
            select(ResponsibilityGrid.code)
            .join(
                ResponsibilityGridOfficer,
                ResponsibilityGridOfficer.responsibility_grid_id == ResponsibilityGrid.id,
            )
            .where(ResponsibilityGridOfficer.user_id == user_id)
            .order_by(ResponsibilityGrid.code)
        )
    )


def responsibility_topology(
    session: Session, *, street_code: str, tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> TopologyOut:
    """Overlaps and gaps among the responsibility grids of one street."""
    street = _street(session, street_code)
    grids = session.scalars(
        select(ResponsibilityGrid).where(ResponsibilityGrid.street_id == street.id)
    ).all()
    outline = shapely.from_wkb(street.geometry) if street.geometry else None
    report = sibling_report(
        _outlines(grids),
        parent=(street.code, outline) if outline is not None else None,
        level="responsibility_grid",
        tolerance_m2=tolerance_m2,
    )
    return _topology_out(report)


def _street(session: Session, code: str) -> Area:
    validate_code(code)
    street = get_area(session, code=code)
    if street.level != AreaLevel.STREET:
        raise InvalidInput(f"{code} is a {street.level}, not a street", code="not_a_street")
    return street


def _set_units(
    session: Session, grid: ResponsibilityGrid, street: Area, codes: Sequence[str]
) -> None:
    """Make ``codes`` the grid's unit grids: each of its street and in no other grid."""
    units = [_unit_grid_of_street(session, code, street) for code in dict.fromkeys(codes)]
    taken = session.execute(
        select(Area.code, ResponsibilityGrid.code)
        .join(ResponsibilityGridUnit, ResponsibilityGridUnit.unit_grid_id == Area.id)
        .join(
            ResponsibilityGrid,
            ResponsibilityGrid.id == ResponsibilityGridUnit.responsibility_grid_id,
        )
        .where(Area.id.in_([u.id for u in units]), ResponsibilityGrid.id != grid.id)
    ).first()
    if taken is not None:
        raise Conflict(
            f"Unit grid {taken[0]} already belongs to responsibility grid {taken[1]}",
            code="unit_grid_taken",
        )
    session.execute(
        delete(ResponsibilityGridUnit).where(
            ResponsibilityGridUnit.responsibility_grid_id == grid.id
        )
    )
    for unit in units:
        session.add(ResponsibilityGridUnit(unit_grid_id=unit.id, responsibility_grid_id=grid.id))
    session.flush()
    _set_outline(grid, _union([u.geometry for u in units]))


def _unit_grid_of_street(session: Session, code: str, street: Area) -> Area:
    validate_code(code)
    unit = session.scalar(select(Area).where(Area.code == code))
    if unit is None or unit.level != AreaLevel.UNIT_GRID:
        raise InvalidInput(f"{code} is not a known unit grid", code="unknown_unit_grid")
    if not code.startswith(street.code):
        raise InvalidInput(
            f"Unit grid {code} lies outside street {street.code}",
            code="unit_grid_outside_street",
        )
    return unit


def _union(outlines: Sequence[bytes | None]) -> BaseGeometry | None:
    geometries = [shapely.from_wkb(g) for g in outlines if g]
    if not geometries:
        return None
    union = shapely.union_all(geometries)
    return union if union.geom_type in ("Polygon", "MultiPolygon") else None


def _refresh_responsibility_outlines(
    session: Session, area_ids: Sequence[int], *, by: Actor, now: datetime
) -> None:
    """Recompute the outline of every responsibility grid holding one of the changed areas."""
    grid_ids = set(
        session.scalars(
            select(ResponsibilityGridUnit.responsibility_grid_id).where(
                ResponsibilityGridUnit.unit_grid_id.in_(area_ids)
            )
        )
    )
    for grid_id in grid_ids:
        grid = session.get(ResponsibilityGrid, grid_id)
        assert grid is not None
        outlines = session.scalars(
            select(Area.geometry)
            .join(ResponsibilityGridUnit, ResponsibilityGridUnit.unit_grid_id == Area.id)
            .where(ResponsibilityGridUnit.responsibility_grid_id == grid_id)
        ).all()
        _set_outline(grid, _union(outlines))
        grid.stamp_updated(by.ref, now)


# --- locate -------------------------------------------------------------------------------


def locate(session: Session, *, lon: float, lat: float, crs: str = "wgs84") -> LocationOut:
    """The unit grid, community, street, district and responsibility grid holding a point."""
    return locate_many(session, points=[(lon, lat)], crs=crs)[0]


def locate_many(
    session: Session, *, points: Sequence[tuple[float, float]], crs: str = "wgs84"
) -> list[LocationOut]:
    """``locate`` for many points at once, through one vectorised index pass per level."""
    source = parse_crs(crs)
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    lon, lat = to_wgs84_xy(xs, ys, source)
    found = locator.hits(locator.current(session), lon, lat)
    return [_location(x, y, f) for x, y, f in zip(lon.tolist(), lat.tolist(), found, strict=True)]


def _location(lon: float, lat: float, found: dict[str, locator.AreaRef]) -> LocationOut:
    if not found:
        return LocationOut(inside=False, lon=lon, lat=lat, reason="outside_jurisdiction")
    refs = {level: AreaRefOut(code=ref.code, name=ref.name) for level, ref in found.items()}
    return LocationOut(inside=True, lon=lon, lat=lat, **refs)
