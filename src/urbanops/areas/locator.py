"""Point → grid lookup (网格定位) through in-memory spatial indexes, one per area level.

Indexes live in a process-wide registry keyed by database URL. Every grid write changes the
random ``grids`` token of ``reference_revision`` (``kit.revision``); a lookup that reads a token
other than the one its indexes were built at rebuilds them first, so this process and every
other one see changes at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas.codes import AreaLevel
from urbanops.areas.models import (
    Area,
    ResponsibilityGrid,
    ResponsibilityGridUnit,
)
from urbanops.kit import revision
from urbanops.kit.geo import SpatialIndex, SpatialIndexHolder

#: Levels from the finest: a lookup fills the deepest hit first, then its ancestors.
FINEST_FIRST = (AreaLevel.UNIT_GRID, AreaLevel.COMMUNITY, AreaLevel.STREET, AreaLevel.DISTRICT)


@dataclass(frozen=True)
class AreaRef:
    """Code and name of an area, and its parent's code, as held beside the index."""

    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass
class GridIndexes:
    """The indexes of one database, the token they were built at, and the names they answer."""

    token: str | None = None
    holders: dict[AreaLevel, SpatialIndexHolder] = field(default_factory=dict)
    refs: dict[str, AreaRef] = field(default_factory=dict)
    responsibility: dict[str, AreaRef] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_registry: dict[str, GridIndexes] = {}
_registry_lock = threading.Lock()


def mark_changed(session: Session, *, now: datetime) -> None:
    """Record that grids changed, so every process rebuilds its indexes on its next lookup."""
    revision.mark_changed(session, kind=revision.GRIDS, now=now)


def current(session: Session) -> GridIndexes:
    """This database's indexes, rebuilt first when the stored token has moved on."""
    indexes = _indexes_for(session)
    token = revision.token(session, revision.GRIDS) or "none"
    if indexes.token == token:
        return indexes
    with indexes.lock:
        if indexes.token != token:
            _rebuild(session, indexes)
            indexes.token = token
    return indexes


def _indexes_for(session: Session) -> GridIndexes:
    key = revision.database_key(session)
    with _registry_lock:
        if key not in _registry:
            _registry[key] = GridIndexes()
        return _registry[key]


def _rebuild(session: Session, indexes: GridIndexes) -> None:
    """Load every current area (no end date) and publish fresh indexes for each level."""
    parent = Area.__table__.alias("parent")
    rows = session.execute(
        select(Area.code, Area.name, Area.level, Area.geometry, parent.c.code)
        .outerjoin(parent, parent.c.id == Area.parent_id)
        .where(Area.valid_to.is_(None), Area.geometry.is_not(None))
    ).all()
    refs = {code: AreaRef(code, name, level, up) for code, name, level, _g, up in rows}
    for level in AreaLevel:
        pairs = [(code, shapely.from_wkb(wkb)) for code, _n, lv, wkb, _p in rows if lv == level]
        _publish(indexes, level, SpatialIndex(pairs) if pairs else None)
    indexes.refs = refs
    indexes.responsibility = _responsibility_of_units(session)


def _publish(indexes: GridIndexes, level: AreaLevel, index: SpatialIndex | None) -> None:
    """Swap in a level's new index; a level with no areas has no index at all."""
    if index is None:
        indexes.holders.pop(level, None)
    elif level in indexes.holders:
        indexes.holders[level].replace(index)
    else:
        indexes.holders[level] = SpatialIndexHolder(index)


def _responsibility_of_units(session: Session) -> dict[str, AreaRef]:
    """Unit-grid code → its responsibility grid (责任网格)."""
    rows = session.execute(
        select(Area.code, ResponsibilityGrid.code, ResponsibilityGrid.name)
        .join(ResponsibilityGridUnit, ResponsibilityGridUnit.unit_grid_id == Area.id)
        .join(
            ResponsibilityGrid,
            ResponsibilityGrid.id == ResponsibilityGridUnit.responsibility_grid_id,
        )
    ).all()
    return {unit: AreaRef(code, name, "responsibility_grid", None) for unit, code, name in rows}


def hits(
    indexes: GridIndexes, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> list[dict[str, AreaRef]]:
    """For each point, the area of each level holding it (finest first, ancestors by code)."""
    found: list[dict[str, AreaRef]] = [{} for _ in range(lon.size)]
    for level in FINEST_FIRST:
        holder = indexes.holders.get(level)
        missing = np.array([level.value not in f for f in found], dtype=bool)
        if holder is None or not missing.any():
            continue
        keys = holder.get().locate_many(lon[missing], lat[missing])
        for position, key in zip(np.flatnonzero(missing).tolist(), keys.tolist(), strict=True):
            if key is not None:
                _fill_with_ancestors(found[position], indexes, key)
    for point in found:
        unit = point.get(AreaLevel.UNIT_GRID.value)
        if unit is not None and unit.code in indexes.responsibility:
            point["responsibility_grid"] = indexes.responsibility[unit.code]
    return found


def _fill_with_ancestors(point: dict[str, AreaRef], indexes: GridIndexes, code: str) -> None:
    ref: AreaRef | None = indexes.refs.get(code)
    while ref is not None and ref.level not in point:
        point[ref.level] = ref
        ref = indexes.refs.get(ref.parent_code) if ref.parent_code else None
