"""The street's outline and its grids, light enough for a phone to draw as a picking map.

With no tile server the citizen page draws these outlines itself (SVG); a tap on them is the
problem's position. Outlines are simplified to about 10 m and rounded to 6 decimals (0.1 m).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas.codes import AreaLevel
from urbanops.areas.models import Area, ResponsibilityGrid

SIMPLIFY_DEG = 0.0001  # about 10 m


def _rings(wkb: bytes | None) -> list[list[list[float]]]:
    """Exterior rings of a (multi)polygon as [[lon, lat], …] lists."""
    if not wkb:
        return []
    geometry: BaseGeometry = shapely.from_wkb(wkb).simplify(SIMPLIFY_DEG, preserve_topology=True)
    polygons = getattr(geometry, "geoms", [geometry])
    return [
        [[round(x, 6), round(y, 6)] for x, y in polygon.exterior.coords]
        for polygon in polygons
        if polygon.geom_type == "Polygon" and not polygon.is_empty
    ]


def _union(boxes: list[tuple[float, float, float, float]]) -> list[float] | None:
    """The smallest box holding every box, or None for none."""
    if not boxes:
        return None
    min_lons, min_lats, max_lons, max_lats = zip(*boxes, strict=True)
    return [min(min_lons), min(min_lats), max(max_lons), max(max_lats)]


def street_map(session: Session) -> dict[str, Any]:
    """Streets and responsibility grids as outlines, with the box that holds them all."""
    streets = session.scalars(select(Area).where(Area.level == AreaLevel.STREET.value)).all()
    grids = session.scalars(select(ResponsibilityGrid).order_by(ResponsibilityGrid.code)).all()
    outlined: list[Area | ResponsibilityGrid] = [*streets, *grids]
    boxes = [
        (a.min_lon, a.min_lat, a.max_lon, a.max_lat)
        for a in outlined
        if a.min_lon is not None
        and a.min_lat is not None
        and a.max_lon is not None
        and a.max_lat is not None
    ]
    bbox = _union(boxes)
    return {
        "bbox": bbox,
        "streets": [{"code": s.code, "name": s.name, "rings": _rings(s.geometry)} for s in streets],
        "grids": [{"code": g.code, "name": g.name, "rings": _rings(g.geometry)} for g in grids],
    }
