"""Measuring outlines and checking sibling grids for overlaps and gaps (拓扑检查).

Sizes are geodesic on the WGS84 ellipsoid (pyproj ``Geod``): exact anywhere, with no choice of
local projection to get wrong near a zone edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")
DEFAULT_TOLERANCE_M2 = 1.0


@dataclass(frozen=True)
class Outline:
    """What is stored beside a polygon: centre, size in m² and bounding box."""

    centre_lon: float
    centre_lat: float
    area_m2: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True)
class Overlap:
    """Two siblings sharing more than the tolerance."""

    first: str
    second: str
    area_m2: float


@dataclass(frozen=True)
class Gap:
    """A piece of the parent (or a hole among siblings) that no sibling covers."""

    area_m2: float
    centre_lon: float
    centre_lat: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class TopologyReport:
    """Overlaps and gaps among the children of one parent (or among top-level areas)."""

    parent: str | None
    level: str
    count: int
    overlaps: list[Overlap]
    gaps: list[Gap]


def area_m2(geometry: BaseGeometry) -> float:
    """Geodesic area of a (multi)polygon in square metres."""
    if geometry.is_empty:
        return 0.0
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    area, _perimeter = _GEOD.geometry_area_perimeter(oriented)
    return abs(float(area))


def outline_of(geometry: BaseGeometry) -> Outline:
    """Centre (a point guaranteed inside), size and bounding box of a WGS84 polygon."""
    centre = geometry.centroid
    if not geometry.contains(centre):
        centre = geometry.representative_point()
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    return Outline(centre.x, centre.y, area_m2(geometry), min_lon, min_lat, max_lon, max_lat)


def sibling_report(
    siblings: Sequence[tuple[str, BaseGeometry]],
    *,
    parent: tuple[str, BaseGeometry] | None,
    level: str,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
) -> TopologyReport:
    """Overlapping pairs and uncovered pieces among ``siblings``; reported, never refused."""
    return TopologyReport(
        parent=parent[0] if parent else None,
        level=level,
        count=len(siblings),
        overlaps=_overlaps(siblings, tolerance_m2),
        gaps=_gaps([g for _, g in siblings], parent[1] if parent else None, tolerance_m2),
    )


def _overlaps(siblings: Sequence[tuple[str, BaseGeometry]], tolerance_m2: float) -> list[Overlap]:
    geometries = [g for _, g in siblings]
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    found = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = area_m2(shapely.intersection(geometries[i], geometries[j]))
        if shared > tolerance_m2:
            found.append(Overlap(siblings[i][0], siblings[j][0], round(shared, 1)))
    return found


def _gaps(
    geometries: Sequence[BaseGeometry], parent: BaseGeometry | None, tolerance_m2: float
) -> list[Gap]:
    """Parent minus the siblings' union; with no parent, the holes enclosed by the union."""
    union = shapely.union_all(geometries) if geometries else shapely.Polygon()
    if parent is not None:
        uncovered = shapely.difference(parent, union)
    else:
        holes = [shapely.Polygon(ring) for part in _parts(union) for ring in part.interiors]
        uncovered = shapely.union_all(holes) if holes else shapely.Polygon()
    gaps = []
    for piece in _parts(uncovered):
        size = area_m2(piece)
        if size > tolerance_m2:
            centre = piece.representative_point()
            gaps.append(Gap(round(size, 1), centre.x, centre.y, tuple(piece.bounds)))
    return sorted(gaps, key=lambda gap: -gap.area_m2)


def _parts(geometry: BaseGeometry) -> list[shapely.Polygon]:
    """The polygons inside any geometry (collections are opened, lines and points dropped)."""
    parts = shapely.get_parts(shapely.get_parts(geometry))
    return [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty]
