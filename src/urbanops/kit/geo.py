"""Coordinate systems of Chinese maps and the point → grid spatial index.

Everything is stored in WGS84 (EPSG:4326) longitude/latitude. Sources arrive in CGCS2000 (the
city's GIS), GCJ-02 (AMap/Tencent base maps, phones) or BD-09 (Baidu); `to_wgs84*` brings them in,
`from_wgs84*` takes WGS84 out for a base map. See docs/decisions/0002-spatial-index.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from urbanops.kit.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
Geom = TypeVar("Geom", bound=BaseGeometry)


class Crs(StrEnum):
    """Coordinate reference systems accepted from clients and GIS files (坐标系)."""

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


_CRS_ALIASES: dict[str, Crs] = {
    "wgs84": Crs.WGS84,
    "wgs-84": Crs.WGS84,
    "epsg:4326": Crs.WGS84,
    "4326": Crs.WGS84,
    "gps": Crs.WGS84,
    "cgcs2000": Crs.CGCS2000,
    "cgcs-2000": Crs.CGCS2000,
    "epsg:4490": Crs.CGCS2000,
    "4490": Crs.CGCS2000,
    "gcj02": Crs.GCJ02,
    "gcj-02": Crs.GCJ02,
    "gcj": Crs.GCJ02,
    "bd09": Crs.BD09,
    "bd-09": Crs.BD09,
    "bd09ll": Crs.BD09,
}


def parse_crs(name: str | Crs) -> Crs:
    """Read a CRS name (case-insensitive, common aliases such as EPSG:4490) or refuse it clearly."""
    if isinstance(name, Crs):
        return name
    crs = _CRS_ALIASES.get(str(name).strip().lower())
    if crs is None:
        accepted = [c.value for c in Crs]
        raise InvalidInput(
            f"Unknown coordinate system {name!r}; accepted: {', '.join(accepted)} "
            "(or EPSG:4326, EPSG:4490).",
            code="unknown_crs",
            accepted=accepted,
        )
    return crs


# --- GCJ-02 and BD-09: the published formulas, vectorised -------------------------------------

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_STEPS = 30


def _as_float(values: npt.ArrayLike) -> FloatArray:
    """Coordinates as a float64 array (a copy, so callers' arrays are never changed)."""
    return np.array(values, dtype=np.float64, copy=True)


def _inside_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    """The rough rectangle where the GCJ-02 offset applies; outside it GCJ-02 equals WGS84."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset in degrees at WGS84 positions (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += waves
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += waves
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi
    )
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = _inside_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Apply the GCJ-02 (火星坐标) offset to WGS84 positions."""
    lon_a, lat_a = _as_float(lon), _as_float(lat)
    d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    return lon_a + d_lon, lat_a + d_lat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Invert a near-identity forward transform by fixed-point iteration to 1e-9 degrees."""
    guess_lon, guess_lat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_STEPS):
        fwd_lon, fwd_lat = forward(guess_lon, guess_lat)
        err_lon, err_lat = fwd_lon - lon, fwd_lat - lat
        guess_lon -= err_lon
        guess_lat -= err_lat
        if _worst(err_lon, err_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return guess_lon, guess_lat


def _worst(*errors: FloatArray) -> float:
    """The largest finite absolute error (NaN input stays NaN and does not hold the loop)."""
    return max(float(np.max(np.abs(e), initial=0.0, where=np.isfinite(e))) for e in errors)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Remove the GCJ-02 offset precisely (iterated, not the one-step approximation)."""
    return _invert(wgs84_to_gcj02, _as_float(lon), _as_float(lat))


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Apply Baidu's BD-09 (百度坐标) rotation-and-shift to GCJ-02 positions."""
    x, y = _as_float(lon), _as_float(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Undo BD-09 back to GCJ-02 precisely (iterated)."""
    return _invert(gcj02_to_bd09, _as_float(lon), _as_float(lat))


_transformers = threading.local()


def _cgcs2000_transformer(inverse: bool) -> Transformer:
    """This thread's pyproj transformer between CGCS2000 and WGS84 (lon/lat order)."""
    cache: dict[bool, Transformer] = _transformers.__dict__.setdefault("by_direction", {})
    if inverse not in cache:
        source, target = ("EPSG:4326", "EPSG:4490") if inverse else ("EPSG:4490", "EPSG:4326")
        cache[inverse] = Transformer.from_crs(source, target, always_xy=True)
    return cache[inverse]


def _pyproj(inverse: bool, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Run the CGCS2000 transformer on arrays."""
    out_lon, out_lat = _cgcs2000_transformer(inverse).transform(lon, lat)
    return np.asarray(out_lon, dtype=np.float64), np.asarray(out_lat, dtype=np.float64)


def to_wgs84_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: str | Crs
) -> tuple[FloatArray, FloatArray]:
    """Convert longitude/latitude arrays from ``crs`` to WGS84, the stored system."""
    source = parse_crs(crs)
    lon, lat = _as_float(x), _as_float(y)
    if source is Crs.WGS84:
        return lon, lat
    if source is Crs.CGCS2000:
        return _pyproj(False, lon, lat)
    if source is Crs.BD09:
        lon, lat = bd09_to_gcj02(lon, lat)
    return gcj02_to_wgs84(lon, lat)


def from_wgs84_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: str | Crs
) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 longitude/latitude arrays to ``crs``, e.g. to draw on a GCJ-02 base map."""
    target = parse_crs(crs)
    lon, lat = _as_float(x), _as_float(y)
    if target is Crs.WGS84:
        return lon, lat
    if target is Crs.CGCS2000:
        return _pyproj(True, lon, lat)
    lon, lat = wgs84_to_gcj02(lon, lat)
    if target is Crs.BD09:
        return gcj02_to_bd09(lon, lat)
    return lon, lat


def _transform_geometry(
    geom: Geom, convert: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
) -> Geom:
    """Apply a vectorised lon/lat conversion to every vertex of a geometry."""

    def over_coords(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    result: Geom = shapely.transform(geom, over_coords)
    return result


def to_wgs84(geom: Geom, crs: str | Crs) -> Geom:
    """Convert a Shapely geometry from ``crs`` to WGS84."""
    source = parse_crs(crs)
    if source is Crs.WGS84:
        return geom
    return _transform_geometry(geom, lambda lon, lat: to_wgs84_xy(lon, lat, source))


def from_wgs84(geom: Geom, crs: str | Crs) -> Geom:
    """Convert a Shapely geometry from WGS84 to ``crs``."""
    target = parse_crs(crs)
    if target is Crs.WGS84:
        return geom
    return _transform_geometry(geom, lambda lon, lat: from_wgs84_xy(lon, lat, target))


# --- The spatial index -------------------------------------------------------------------------

_TARGET_CELLS_PER_POLYGON = 256
_MIN_CELLS = 1 << 16
_MAX_CELLS = 1 << 20
_CELL_MARGIN = 1e-6  # edges are widened by this share of a cell so rounding cannot misplace
_NO_OWNER = -1  # the cell needs a point-in-polygon test against its candidates
_EMPTY = -2  # no polygon touches the cell: outside jurisdiction


class SpatialIndex:
    """An immutable point → grid index (网格定位): a uniform bin grid over Shapely polygons.

    Cells wholly covered by one grid answer without any geometry test; the other cells keep a
    short candidate list tested with prepared ``intersects_xy``. A point on a shared boundary
    belongs to the first key in sort order; a point in no polygon gets ``None``.
    """

    def __init__(self, items: Iterable[tuple[str, BaseGeometry]]) -> None:
        pairs = sorted(_checked_items(items), key=lambda kv: kv[0])
        self._keys: tuple[str, ...] = tuple(key for key, _ in pairs)
        self._key_array = np.array([*self._keys, None], dtype=object)  # rank -1 → None
        self._polygons = np.array([geom for _, geom in pairs], dtype=object)
        for polygon in self._polygons:
            shapely.prepare(polygon)
        self._bounds = _total_bounds(self._polygons)
        self._build_cells()
        self._warm_up()

    @property
    def keys(self) -> tuple[str, ...]:
        """The grid keys, in sort order."""
        return self._keys

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of all polygons."""
        return self._bounds

    def __len__(self) -> int:
        return len(self._keys)

    def geometry(self, key: str) -> BaseGeometry:
        """The polygon indexed under ``key``."""
        rank = self._keys.index(key)
        geom: BaseGeometry = self._polygons[rank]
        return geom

    def locate(self, lon: float, lat: float) -> str | None:
        """The key of the grid holding the point, or None when it lies outside jurisdiction."""
        found = self.locate_many(np.array([lon], dtype=np.float64), np.array([lat]))
        key: str | None = found[0]
        return key

    def locate_many(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Keys (object array, None outside every grid) for arrays of WGS84 positions."""
        ranks = self.locate_ranks(lon, lat)
        result: npt.NDArray[np.object_] = self._key_array[ranks]
        return result

    def locate_ranks(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Positions in ``keys`` (−1 outside) for arrays of WGS84 positions."""
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise InvalidInput("Longitude and latitude arrays differ in length.", code="bad_shape")
        ranks = np.full(x.shape, -1, dtype=np.intp)
        if len(self._keys) == 0 or x.size == 0:
            return ranks
        cell = self._cells_of(x, y)
        owner = self._cell_owner[cell]
        ranks[owner >= 0] = owner[owner >= 0]
        pending = np.flatnonzero(owner == _NO_OWNER)
        if pending.size:
            ranks[pending] = self._test_candidates(x[pending], y[pending], cell[pending])
        return ranks

    # -- building --------------------------------------------------------------------------

    def _build_cells(self) -> None:
        """Choose the bin grid and classify every cell: owned by one grid, to test, or empty."""
        min_x, min_y, max_x, max_y = self._bounds
        width, height = max(max_x - min_x, 1e-9), max(max_y - min_y, 1e-9)
        wanted = min(max(_TARGET_CELLS_PER_POLYGON * len(self._keys), _MIN_CELLS), _MAX_CELLS)
        self._nx = int(np.clip(round(np.sqrt(wanted * width / height)), 1, wanted))
        self._ny = int(np.clip(round(wanted / self._nx), 1, wanted))
        self._dx, self._dy = width / self._nx, height / self._ny
        n_cells = self._nx * self._ny
        if not self._keys:
            self._cand_start = np.zeros(n_cells + 1, dtype=np.int64)
            self._cand_poly = np.zeros(0, dtype=np.int64)
            self._cell_owner = np.full(n_cells + 1, _EMPTY, dtype=np.int32)
            return
        edge_cell, edge_poly = self._edge_pairs()
        inner_cell, inner_poly = self._interior_pairs(edge_cell, edge_poly)
        cell = np.concatenate([edge_cell, inner_cell])
        poly = np.concatenate([edge_poly, inner_poly])
        whole = np.concatenate([np.zeros(edge_cell.size, bool), np.ones(inner_cell.size, bool)])
        order = np.lexsort((poly, cell))
        cell, poly, whole = cell[order], poly[order], whole[order]
        # After a grid that covers the whole cell, later (higher-ranked) candidates never win.
        keep = _before_first_whole(cell, whole)
        cell, poly, whole = cell[keep], poly[keep], whole[keep]
        counts = np.bincount(cell, minlength=n_cells)
        self._cand_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._cand_poly = poly.astype(np.int64)
        # One extra, empty cell at the end answers every point beyond the bounds.
        owner = np.where(np.append(counts, 0) > 0, _NO_OWNER, _EMPTY).astype(np.int32)
        single = whole & (counts[cell] == 1)
        owner[cell[single]] = poly[single]
        self._cell_owner = owner

    def _col_row(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Bin-grid column and row of positions, clipped to the grid (the one rounding rule)."""
        min_x, min_y = self._bounds[0], self._bounds[1]
        with np.errstate(invalid="ignore"):  # NaN and far-away points are masked by the caller
            ix = ((x - min_x) / self._dx).astype(np.int64, copy=False)
            iy = ((y - min_y) / self._dy).astype(np.int64, copy=False)
        return np.clip(ix, 0, self._nx - 1), np.clip(iy, 0, self._ny - 1)

    def _cells_in_boxes(
        self, lo_x: FloatArray, lo_y: FloatArray, hi_x: FloatArray, hi_y: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every cell overlapping each box, as (box number, cell) pairs."""
        ix0, iy0 = self._col_row(lo_x, lo_y)
        ix1, iy1 = self._col_row(hi_x, hi_y)
        width, height = ix1 - ix0 + 1, iy1 - iy0 + 1
        n = width * height
        owner = np.repeat(np.arange(n.size, dtype=np.int64), n)
        local = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        ix = ix0[owner] + local % width[owner]
        iy = iy0[owner] + local // width[owner]
        return owner, iy * self._nx + ix

    def _edge_pairs(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(cell, polygon) pairs where a polygon's boundary passes through or near the cell."""
        parts, part_poly = shapely.get_parts(self._polygons, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        rings = shapely.segmentize(rings, max_segment_length=min(self._dx, self._dy))
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same = coord_ring[1:] == coord_ring[:-1]
        start, end = coords[:-1][same], coords[1:][same]
        seg_poly = part_poly[ring_part[coord_ring[:-1][same]]]
        mx, my = self._dx * _CELL_MARGIN, self._dy * _CELL_MARGIN
        seg, cell = self._cells_in_boxes(
            np.minimum(start[:, 0], end[:, 0]) - mx,
            np.minimum(start[:, 1], end[:, 1]) - my,
            np.maximum(start[:, 0], end[:, 0]) + mx,
            np.maximum(start[:, 1], end[:, 1]) + my,
        )
        pair = np.sort(cell * len(self._keys) + seg_poly[seg])
        pair = pair[np.concatenate([[True], pair[1:] != pair[:-1]])]  # sorted and unique
        return pair // len(self._keys), pair % len(self._keys)

    def _interior_pairs(
        self, edge_cell: npt.NDArray[np.int64], edge_poly: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(cell, polygon) pairs where the polygon covers the whole cell.

        A cell in a polygon's envelope that no edge comes near lies wholly inside or wholly
        outside it, so testing the cell's centre decides.
        """
        b = shapely.bounds(self._polygons)
        poly, cell = self._cells_in_boxes(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        n = len(self._keys)
        clear = ~_sorted_contains(edge_cell * n + edge_poly, cell * n + poly)
        poly, cell = poly[clear], cell[clear]
        centre_x = self._bounds[0] + (cell % self._nx + 0.5) * self._dx
        centre_y = self._bounds[1] + (cell // self._nx + 0.5) * self._dy
        inside = shapely.intersects_xy(self._polygons[poly], centre_x, centre_y)
        return cell[inside], poly[inside]

    def _warm_up(self) -> None:
        """Run one prepared test per polygon so GEOS builds its lazy indexes before any reader."""
        if len(self._keys):
            points = shapely.point_on_surface(self._polygons)
            shapely.intersects_xy(self._polygons, shapely.get_x(points), shapely.get_y(points))

    # -- querying --------------------------------------------------------------------------

    def _cells_of(self, x: FloatArray, y: FloatArray) -> npt.NDArray[np.int64]:
        """Bin-grid cell of each point; points beyond the bounds (or NaN) get the empty cell."""
        min_x, min_y, max_x, max_y = self._bounds
        inside = (x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y)
        ix, iy = self._col_row(x, y)
        cell: npt.NDArray[np.int64] = np.where(inside, iy * self._nx + ix, self._nx * self._ny)
        return cell

    def _test_candidates(
        self, x: FloatArray, y: FloatArray, cell: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.intp]:
        """Test points against their cells' candidates; the lowest-ranked hit wins."""
        start = self._cand_start[cell]
        count = self._cand_start[cell + 1] - start
        point = np.repeat(np.arange(x.size), count)
        offset = np.arange(point.size) - np.repeat(np.cumsum(count) - count, count)
        poly = self._cand_poly[start[point] + offset]
        hit = shapely.intersects_xy(self._polygons[poly], x[point], y[point])
        point, poly = point[hit], poly[hit]
        first = np.ones(point.size, dtype=bool)
        first[1:] = point[1:] != point[:-1]
        ranks = np.full(x.size, -1, dtype=np.intp)
        ranks[point[first]] = poly[first]
        return ranks


def _sorted_contains(
    haystack: npt.NDArray[np.int64], needles: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Whether each needle occurs in the sorted ``haystack`` (a fast ``np.isin``)."""
    if haystack.size == 0:
        return np.zeros(needles.size, dtype=bool)
    at = np.minimum(np.searchsorted(haystack, needles), haystack.size - 1)
    found: npt.NDArray[np.bool_] = haystack[at] == needles
    return found


def _before_first_whole(
    cell: npt.NDArray[np.int64], whole: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Within each cell's run of pairs, keep those up to and including the first whole one."""
    wholes = np.cumsum(whole)
    group_start = np.ones(cell.size, dtype=bool)
    group_start[1:] = cell[1:] != cell[:-1]
    before_group = np.maximum.accumulate(np.where(group_start, wholes - whole, 0))
    wholes_before = wholes - whole - before_group
    keep: npt.NDArray[np.bool_] = wholes_before == 0
    return keep


def _checked_items(items: Iterable[tuple[str, BaseGeometry]]) -> list[tuple[str, BaseGeometry]]:
    """Refuse duplicate keys and anything that is not a non-empty (multi)polygon."""
    checked: dict[str, BaseGeometry] = {}
    for key, geom in items:
        if key in checked:
            raise InvalidInput(f"Grid key {key!r} appears twice.", code="duplicate_grid_key")
        if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
            raise InvalidInput(
                f"Grid {key!r} is not a non-empty polygon.", code="grid_not_polygon", key=key
            )
        checked[key] = geom
    return list(checked.items())


def _total_bounds(polygons: npt.NDArray[np.object_]) -> tuple[float, float, float, float]:
    """The envelope of all polygons (zeros for an empty index)."""
    if polygons.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    b = shapely.total_bounds(polygons)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


class SpatialIndexHolder:
    """The current index, swapped whole when grids change; readers never see a half-built one."""

    def __init__(self, index: SpatialIndex | None = None) -> None:
        self._lock = threading.Lock()
        self._current: tuple[int, SpatialIndex] = (1, index or SpatialIndex([]))

    def get(self) -> SpatialIndex:
        """The index to read now (an immutable object, safe to share between threads)."""
        return self._current[1]

    def snapshot(self) -> tuple[int, SpatialIndex]:
        """The version and index, read together."""
        return self._current

    @property
    def version(self) -> int:
        """Increases by one at every replace."""
        return self._current[0]

    def replace(self, new_index: SpatialIndex) -> int:
        """Publish a fully built index and return its version."""
        with self._lock:
            version = self._current[0] + 1
            self._current = (version, new_index)
        return version
