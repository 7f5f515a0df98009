"""What the console's live map draws, read from the database and shaped for ``console-map.js``.

Everything is stored in WGS84 (``kit.geo``); the base map's tiles may be drawn in another system
(``map_tile_crs``: OSM and Tianditu in WGS84/CGCS2000, AMap in GCJ-02, Baidu in BD-09), so every
coordinate leaves here converted for the tiles in use, in one vectorised step per batch. With no
tiles (``map_tile_url`` empty) the map is a plain background and nothing is converted.

The browser gets compact JSON: ``[lat, lon]`` rounded to 6 decimals (about 0.1 m), times as epoch
milliseconds, and positions as columns (see ``moves_payload``), so that a flush of 1,000 moved
officers is one small message and one JavaScript call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.areas.models import ResponsibilityGrid
from urbanops.auth.models import User
from urbanops.cases import deadlines
from urbanops.cases.models import Case, CaseState
from urbanops.config import Settings
from urbanops.kit.actor import Actor
from urbanops.kit.geo import from_wgs84_xy
from urbanops.video.models import Camera
from urbanops.workforce.models import Device, Officer
from urbanops.workforce.moves import PositionsMoved
from urbanops.workforce.positions import Fix
from urbanops.workforce.positions_models import position_latest_table

#: Cases no longer open: not on the queue, not on the map, not counted in a grid's load.
FINISHED = (CaseState.CLOSED, CaseState.REJECTED)
UNFINISHED = tuple(s for s in CaseState if s not in FINISHED)
DECIMALS = 6


def ms(at: datetime | None) -> int | None:
    """An instant as epoch milliseconds (what the page's clocks count in)."""
    return None if at is None else round(at.timestamp() * 1000)


@dataclass(frozen=True)
class Projection:
    """Stored WGS84 → the tiles' system (``wgs84`` for none: Leaflet draws lon/lat as given)."""

    crs: str

    def xy(
        self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
    ) -> tuple[list[float], list[float]]:
        """Longitudes and latitudes converted and rounded, as lists."""
        x, y = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        if self.crs != "wgs84" and len(x):
            x, y = from_wgs84_xy(x, y, self.crs)
        return np.round(x, DECIMALS).tolist(), np.round(y, DECIMALS).tolist()

    def latlng(self, lon: float, lat: float) -> list[float]:
        x, y = self.xy([lon], [lat])
        return [y[0], x[0]]


def projection(settings: Settings) -> Projection:
    """The projection for this app's tiles (none configured: no conversion)."""
    return Projection(settings.map_tile_crs if settings.map_tile_url else "wgs84")


def base_map(settings: Settings) -> dict[str, Any]:
    """The base map's settings for the page: tile URL (empty: none), attribution, CRS."""
    return {
        "tiles": settings.map_tile_url,
        "attribution": settings.map_attribution if settings.map_tile_url else "",
        "crs": projection(settings).crs,
    }


# --- grids ---------------------------------------------------------------------------------------


def _rings(geometry: Any, proj: Projection) -> list[list[list[list[float]]]]:
    """Polygons as Leaflet wants them: [polygon][ring][vertex] = [lat, lon]."""
    polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    out = []
    for polygon in polygons:
        if not isinstance(polygon, Polygon) or polygon.is_empty:
            continue
        rings = []
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.asarray(ring.coords)
            x, y = proj.xy(coords[:, 0], coords[:, 1])
            rings.append([[b, a] for a, b in zip(x, y, strict=True)])
        out.append(rings)
    return out


def grids(session: Session, proj: Projection, viewer: Actor) -> list[dict[str, Any]]:
    """The responsibility grids the viewer may see, with their outlines (simplified to ~1 m)."""
    rows = session.scalars(select(ResponsibilityGrid).order_by(ResponsibilityGrid.code)).all()
    out = []
    for grid in rows:
        if grid.geometry is None or not viewer.may_see_grid(grid.code):
            continue
        outline = shapely.from_wkb(grid.geometry).simplify(1e-5, preserve_topology=True)
        out.append({"code": grid.code, "name": grid.name, "rings": _rings(outline, proj)})
    return out


def grid_load(session: Session, viewer: Actor) -> dict[str, int]:
    """Open cases per responsibility grid (what shades the grids)."""
    query = (
        select(Case.responsibility_grid_code, func.count())
        .where(Case.state.in_(UNFINISHED), Case.responsibility_grid_code.is_not(None))
        .group_by(Case.responsibility_grid_code)
    )
    if viewer.grid_scope is not None:
        query = query.where(Case.responsibility_grid_code.in_(sorted(viewer.grid_scope)))
    return {str(code): int(count) for code, count in session.execute(query).all()}


# --- officers ------------------------------------------------------------------------------------


def officers(
    session: Session, proj: Projection, latest: dict[int, Fix] | None = None
) -> list[dict[str, Any]]:
    """Every device with a known position: its officer, duty status and last fix.

    ``latest``: the process's in-memory newest fixes (fresher than the stored ones by up to one
    flush), preferred where newer.
    """
    rows = session.execute(
        select(
            Device.id,
            Device.user_id,
            Device.kind,
            position_latest_table.c.lon,
            position_latest_table.c.lat,
            position_latest_table.c.at,
            Officer.duty_status,
            Officer.grid_code,
            User.display_name,
        )
        .join(position_latest_table, position_latest_table.c.device_id == Device.id)
        .outerjoin(Officer, Officer.user_id == Device.user_id)
        .outerjoin(User, User.id == Device.user_id)
        .order_by(Device.id)
    ).all()
    latest = latest or {}
    found = []
    for row in rows:
        lon, lat, at = row.lon, row.lat, row.at
        fresher = latest.get(row.id)
        if fresher is not None and fresher.at > at:
            lon, lat, at = fresher.lon, fresher.lat, fresher.at
        found.append((row, lon, lat, at))
    x, y = proj.xy([f[1] for f in found], [f[2] for f in found])
    return [
        {
            "device": row.id,
            "user": row.user_id,
            "kind": str(row.kind),
            "name": row.display_name or "",
            "grid": row.grid_code or "",
            "status": str(row.duty_status) if row.duty_status is not None else "",
            "lat": y[i],
            "lon": x[i],
            "at": ms(at),
        }
        for i, (row, _lon, _lat, at) in enumerate(found)
    ]


def moves_payload(events: Iterable[PositionsMoved], proj: Projection) -> dict[str, list[Any]]:
    """The moves of one or more ``PositionsMoved`` as columns: device, user (0: none), lat, lon,
    fix time (ms). Several events of one burst go out as one payload; the page keeps the newest
    fix of each marker."""
    device: list[int] = []
    user: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    at: list[int] = []
    for event in events:
        device += event.device_ids
        user += [u or 0 for u in event.user_ids]
        lon += event.lons
        lat += event.lats
        at += event.fix_ms
    x, y = proj.xy(lon, lat)
    return {"d": device, "u": user, "y": y, "x": x, "t": at}


# --- cases and cameras ---------------------------------------------------------------------------


def open_cases(session: Session, viewer: Actor, now: datetime, *, limit: int = 500) -> list[Case]:
    """The open cases the viewer may see, most urgent first: red (most overdue first), then by
    the time left of the running stage; cases without a running clock (suspended) last."""
    query = select(Case).where(Case.state.in_(UNFINISHED))
    if viewer.grid_scope is not None:
        query = query.where(Case.responsibility_grid_code.in_(sorted(viewer.grid_scope)))
    rows = session.scalars(  # in deadline order straight from an index: no sort of them all
        query.order_by(Case.due_at.asc().nulls_last(), Case.id.asc()).limit(limit)
    ).all()
    return list(rows)


def cases_in_box(
    session: Session,
    viewer: Actor,
    box: tuple[float, float, float, float],
    *,
    states: Sequence[CaseState] | None = None,
    limit: int = 2000,
) -> list[Case]:
    """Open cases (or those in ``states``) inside ``box`` = (min lon, min lat, max lon, max lat)
    in stored coordinates: what the map shows when the operator looks at part of the district."""
    min_lon, min_lat, max_lon, max_lat = box
    wanted = list(states) if states else list(UNFINISHED)
    query = select(Case).where(
        Case.state.in_(wanted),
        Case.lon.between(min_lon, max_lon),
        Case.lat.between(min_lat, max_lat),
    )
    if viewer.grid_scope is not None:
        query = query.where(Case.responsibility_grid_code.in_(sorted(viewer.grid_scope)))
    return list(session.scalars(query.order_by(Case.id).limit(limit)).all())


def matter_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of the catalogue's matters (事项) by code."""
    from urbanops.catalog.models import CatalogEntry

    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(
        select(CatalogEntry.code, CatalogEntry.name).where(
            CatalogEntry.kind == "matter", CatalogEntry.code.in_(wanted)
        )
    ).all()
    return {code: name for code, name in rows}


def case_items(
    session: Session, cases: Sequence[Case], proj: Projection, now: datetime
) -> list[dict[str, Any]]:
    """Cases for the queue and the map: place, light, the running stage's clock."""
    names = matter_names(session, (c.matter_code for c in cases))
    x, y = proj.xy([c.lon for c in cases], [c.lat for c in cases])
    return [
        {
            "id": c.id,
            "number": c.number,
            "state": str(c.state),
            "stage": str(c.stage) if c.stage is not None else "",
            "matter": names.get(c.matter_code, c.matter_code),
            "address": c.address or "",
            "grid": c.responsibility_grid_code or "",
            "emergency": bool(c.is_emergency),
            "supervised": bool(c.supervised),
            "light": str(deadlines.light_of(c, now)),
            "warn": ms(c.warn_at),
            "due": ms(c.due_at),
            "lat": y[i],
            "lon": x[i],
        }
        for i, c in enumerate(cases)
    ]


def cameras(session: Session, proj: Projection) -> list[dict[str, Any]]:
    """The street's cameras (视频监控点)."""
    rows = session.scalars(select(Camera).order_by(Camera.code)).all()
    x, y = proj.xy([c.lon for c in rows], [c.lat for c in rows])
    return [
        {"code": c.code, "name": c.name, "kind": str(c.kind), "lat": y[i], "lon": x[i]}
        for i, c in enumerate(rows)
    ]
