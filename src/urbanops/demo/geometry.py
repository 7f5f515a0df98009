"""The demo street 观湖 (440309001): its areas, grids, people, cameras and devices, from code.

Only the Longhua district boundary is real. The street is cut from the north-east of it, and the
communities, grids and people inside are synthetic but deterministic (see
docs/decisions/0001-demo-street.md). Everything here is pure: no database, WGS84 out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import Point, Polygon, box, shape

from urbanops.demo.names import GUANHU_COMMUNITIES, ORDINALS, synthetic_names
from urbanops.kit.actor import Role
from urbanops.kit.geo import parse_crs, to_wgs84

DISTRICT_CODE = "440309"
DISTRICT_NAME = "龙华区"
STREET_CODE = "440309001"
STREET_NAME = "观湖街道"
# South-west corner (WGS84) of the region whose overlap with Longhua becomes the street.
STREET_SOUTH_WEST = (114.05, 22.695)
METRIC_CRS = "EPSG:32650"  # UTM zone 50N: metres for Shenzhen
CELL_SIZE_M = 250.0
SLIVER_AREA_M2 = 2_000.0
RESPONSIBILITY_GRID_COUNT = 17
OFFICERS_PER_GRID = 17
LLOYD_ROUNDS = 12
KMEANS_ROUNDS = 40
MIN_SHARED_BORDER_M = 1.0
MAX_EDGE_M = 50.0
FUTIAN_CBD = (114.055, 22.535)  # WGS84, far south of Longhua
SAMPLE_GRID_INDEXES = (0, 8, 16)  # responsibility grids -01, -09 and -17

_TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_WGS84 = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)

CAMERA_PLACES: tuple[str, ...] = (
    "观澜大道与环观南路交汇处",
    "环观中路与松元路交汇处",
    "鹭湖中心区广场",
    "樟坑径村口",
    "新田社区工业区门口",
    "大和路与观湖路交汇处",
    "樟溪路口",
    "润城花园东门",
    "观城市场北侧",
    "君子布公交总站",
)
CAMERA_KINDS: tuple[str, ...] = ("ptz", "fixed", "ptz", "solar_led", "fixed") * 2


@dataclass(frozen=True)
class Area:
    """An administrative area (区, 街道 or 社区) with its WGS84 polygon."""

    code: str
    name: str
    polygon: Polygon


@dataclass(frozen=True)
class UnitGrid:
    """A 单元网格: one lattice cell clipped to its community; row 0 is the northernmost row."""

    code: str
    community_code: str
    row: int
    column: int
    polygon: Polygon


@dataclass(frozen=True)
class ResponsibilityGrid:
    """A 城管网格 (responsibility grid): contiguous unit grids served by one team of officers."""

    code: str
    name: str
    community_code: str
    unit_grid_codes: tuple[str, ...]
    polygon: Polygon


@dataclass(frozen=True)
class Officer:
    """A grid officer (网格执法队员); those without a certificate are auxiliaries (协管员)."""

    username: str
    name: str
    phone: str
    grid_code: str
    is_grid_leader: bool
    certificate_no: str | None
    role: Role = Role.GRID_OFFICER


@dataclass(frozen=True)
class StaffMember:
    """A member of the command centre or team leadership; squad leaders list their grids."""

    username: str
    name: str
    phone: str
    role: Role
    grid_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Camera:
    """A street camera (视频监控点); `kind` is ptz, fixed or solar_led."""

    code: str
    name: str
    kind: str
    point: Point
    bearing_deg: float
    unit_grid_code: str


@dataclass(frozen=True)
class Device:
    """A field device (对讲机, 执法记录仪, 无人机, 车载终端) bound to an officer or a vehicle."""

    identifier: str
    kind: str
    name: str
    username: str | None
    vehicle_plate: str | None


@dataclass(frozen=True)
class SamplePoint:
    """A named WGS84 point and the grids that must contain it (None: outside the street)."""

    name: str
    point: Point
    unit_grid_code: str | None
    responsibility_grid_code: str | None


@dataclass(frozen=True)
class DemoStreet:
    """The whole demo street 观湖街道, ready for the seeding glue to store."""

    district: Area
    street: Area
    communities: tuple[Area, ...]
    unit_grids: tuple[UnitGrid, ...]
    responsibility_grids: tuple[ResponsibilityGrid, ...]
    officers: tuple[Officer, ...]
    staff: tuple[StaffMember, ...]
    cameras: tuple[Camera, ...]
    devices: tuple[Device, ...]

    def sample_points(self) -> tuple[SamplePoint, ...]:
        """Three points inside three different responsibility grids, then one in Futian."""
        by_code = {grid.code: grid for grid in self.unit_grids}
        samples = [
            _sample_in(self.responsibility_grids[index], by_code) for index in SAMPLE_GRID_INDEXES
        ]
        futian = SamplePoint("福田中心区（福田区，辖区外）", Point(*FUTIAN_CBD), None, None)
        return (*samples, futian)


@dataclass(frozen=True)
class _Piece:
    """A lattice cell clipped to a community, in metres, before it gets its code."""

    row: int
    column: int
    polygon: Polygon
    anchor_area: float  # area of the lattice-cell part whose row and column the piece keeps


def build_guanhu(seed: int = 440309001) -> DemoStreet:
    """Build the demo street 观湖 deterministically from the real Longhua boundary and a seed."""
    rng = np.random.default_rng(seed)
    district = load_longhua()
    street = _cut_street(district)
    street_m = _to_metric(street)
    communities_m = _communities(street_m, rng=rng)
    community_codes = [f"{STREET_CODE}{n:03d}" for n in range(1, len(communities_m) + 1)]
    units_m = _unit_grids(street_m, communities_m, community_codes)
    groups = _responsibility_groups(units_m, communities_m, rng=rng)
    unit_grids = tuple(
        UnitGrid(u.code, u.community_code, u.row, u.column, _to_wgs84(u.polygon)) for u in units_m
    )
    responsibility_grids = _responsibility_grids(groups, units_m, community_codes)
    officers, staff = _people(responsibility_grids, seed=seed)
    return DemoStreet(
        district=Area(DISTRICT_CODE, DISTRICT_NAME, district),
        street=Area(STREET_CODE, STREET_NAME, street),
        communities=tuple(
            Area(code, f"{name}社区", _to_wgs84(polygon))
            for code, name, polygon in zip(
                community_codes, GUANHU_COMMUNITIES, communities_m, strict=True
            )
        ),
        unit_grids=unit_grids,
        responsibility_grids=responsibility_grids,
        officers=officers,
        staff=staff,
        cameras=_cameras(responsibility_grids, unit_grids, rng=rng),
        devices=_devices(officers, staff),
    )


def load_longhua() -> Polygon:
    """Read the real Longhua district boundary shipped in the package and convert it to WGS84."""
    text = resources.files("urbanops.demo").joinpath("data/longhua-district-440309.json")
    feature = json.loads(text.read_text(encoding="utf-8"))[0]
    return _largest_polygon(to_wgs84(shape(feature["geometry"]), parse_crs("gcj02")))


# --- geometry helpers -------------------------------------------------------------------------


def _to_metric(geometry: Any) -> Any:
    """Project WGS84 longitude/latitude to UTM 50N metres."""
    return shapely.transform(geometry, _TO_METRIC.transform, interleaved=False)


def _to_wgs84(geometry: Any) -> Any:
    """Project UTM 50N metres back to WGS84 longitude/latitude."""
    return shapely.transform(geometry, _TO_WGS84.transform, interleaved=False)


def _polygon_parts(geometry: Any) -> list[Polygon]:
    """The non-empty polygons inside any geometry (overlays may add points or lines)."""
    parts = shapely.get_parts(geometry)
    polygons: list[Polygon] = []
    for part in parts:
        if isinstance(part, Polygon):
            polygons.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            polygons.extend(_polygon_parts(part))
    return [polygon for polygon in polygons if polygon.area > 0]


def _largest_polygon(geometry: Any) -> Polygon:
    """The largest polygon of a geometry, dropping specks left by overlays."""
    return max(_polygon_parts(geometry), key=lambda polygon: polygon.area)


def _shared_border(first: Polygon, second: Polygon) -> float:
    """Length of the boundary two polygons share (0 when they only touch at points)."""
    return float(shapely.length(shapely.intersection(first.boundary, second.boundary)))


def _union(polygons: Sequence[Polygon]) -> Polygon:
    """Union of edge-sharing polygons as one polygon."""
    return _largest_polygon(shapely.union_all(polygons))


def _cut_street(district: Polygon) -> Polygon:
    """The north-east of the district, cut by a box whose south-west corner is fixed."""
    west, south = STREET_SOUTH_WEST
    _, _, east, north = district.bounds
    region = box(west, south, east + 1.0, north + 1.0)
    return shapely.normalize(_largest_polygon(shapely.intersection(district, region)))


# --- communities ------------------------------------------------------------------------------


def _communities(street_m: Polygon, *, rng: np.random.Generator) -> list[Polygon]:
    """Partition the street into one polygon per community (Voronoi cells, Lloyd-relaxed)."""
    seeds = _random_points_in(street_m, count=len(GUANHU_COMMUNITIES), rng=rng)
    for _ in range(LLOYD_ROUNDS):
        cells = _voronoi_cells(street_m, seeds)
        seeds = np.array([_largest_polygon(cell).centroid.coords[0] for cell in cells])
    cells = _voronoi_cells(street_m, _north_west_first(seeds))
    # Short edges stay straight enough in both projections for grids to nest in communities.
    return [shapely.segmentize(cell, MAX_EDGE_M) for cell in _single_part_cells(cells)]


def _random_points_in(area: Polygon, *, count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random points inside a polygon."""
    west, south, east, north = area.bounds
    found: list[np.ndarray] = []
    while sum(len(batch) for batch in found) < count:
        xs = rng.uniform(west, east, 256)
        ys = rng.uniform(south, north, 256)
        inside = shapely.contains_xy(area, xs, ys)
        found.append(np.column_stack([xs[inside], ys[inside]]))
    return np.concatenate(found)[:count]


def _north_west_first(points: np.ndarray) -> np.ndarray:
    """Points ordered north to south by 1 km bands, west to east within a band."""
    order = sorted(range(len(points)), key=lambda i: (-(points[i][1] // 1000), points[i][0]))
    return points[order]


def _voronoi_cells(area: Polygon, seeds: np.ndarray) -> list[Any]:
    """Voronoi cells of the seeds clipped to the area, in the order of the seeds."""
    regions = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area, ordered=True)
    return [shapely.intersection(region, area) for region in shapely.get_parts(regions)]


def _single_part_cells(cells: list[Any]) -> list[Polygon]:
    """Give every stray part of a cell to the neighbour sharing most border with it."""
    mains = [_largest_polygon(cell) for cell in cells]
    extras: list[list[Polygon]] = [[] for _ in cells]
    for index, cell in enumerate(cells):
        for stray in _polygon_parts(cell):
            if stray.equals(mains[index]):
                continue
            borders = [(_shared_border(stray, main), j) for j, main in enumerate(mains)]
            extras[max(borders)[1]].append(stray)
    return [_union([main, *extra]) for main, extra in zip(mains, extras, strict=True)]


# --- unit grids -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """A coded unit grid, still in metres."""

    code: str
    community_code: str
    row: int
    column: int
    polygon: Polygon


def _unit_grids(
    street_m: Polygon, communities_m: list[Polygon], community_codes: list[str]
) -> list[_Unit]:
    """Cut every community by the street-wide lattice and code the cells W→E, N→S."""
    west, _, _, north = street_m.bounds
    origin = (
        math.floor(west / CELL_SIZE_M) * CELL_SIZE_M,
        math.ceil(north / CELL_SIZE_M) * CELL_SIZE_M,
    )
    units: list[_Unit] = []
    for community_code, community in zip(community_codes, communities_m, strict=True):
        pieces = _merge_slivers(_lattice_pieces(community, origin))
        pieces.sort(key=lambda p: (p.row, p.column, p.polygon.centroid.x, -p.polygon.centroid.y))
        units.extend(
            _Unit(f"{community_code}{serial:03d}", community_code, p.row, p.column, p.polygon)
            for serial, p in enumerate(pieces, start=1)
        )
    return units


def _lattice_pieces(community: Polygon, origin: tuple[float, float]) -> list[_Piece]:
    """The lattice cells over a community, clipped to it; a cell cut in two gives two pieces."""
    x0, top = origin
    west, south, east, north = community.bounds
    rows = np.arange(
        math.floor((top - north) / CELL_SIZE_M), math.ceil((top - south) / CELL_SIZE_M)
    )
    columns = np.arange(math.floor((west - x0) / CELL_SIZE_M), math.ceil((east - x0) / CELL_SIZE_M))
    row_grid, column_grid = np.meshgrid(rows, columns, indexing="ij")
    cells = shapely.box(
        x0 + column_grid * CELL_SIZE_M,
        top - (row_grid + 1) * CELL_SIZE_M,
        x0 + (column_grid + 1) * CELL_SIZE_M,
        top - row_grid * CELL_SIZE_M,
    )
    shapely.prepare(community)
    clipped = shapely.intersection(cells, community)
    return [
        _Piece(int(row), int(column), part, part.area)
        for row, column, cell in zip(row_grid.flat, column_grid.flat, clipped.flat, strict=True)
        for part in _polygon_parts(cell)
    ]


def _merge_slivers(pieces: list[_Piece]) -> list[_Piece]:
    """Merge pieces under the sliver area, smallest first, into the neighbour they border most."""
    pieces = list(pieces)
    while merge := _next_sliver_merge(pieces):
        sliver, target = merge
        pieces.remove(sliver)
        pieces.remove(target)
        pieces.append(_merged(target, sliver))
    return pieces


def _next_sliver_merge(pieces: list[_Piece]) -> tuple[_Piece, _Piece] | None:
    """The smallest sliver that has a neighbour to join, with that neighbour."""
    for sliver in sorted(pieces, key=lambda piece: piece.polygon.area):
        if sliver.polygon.area >= SLIVER_AREA_M2:
            return None
        borders = [
            (_shared_border(sliver.polygon, other.polygon), other.polygon.area, index)
            for index, other in enumerate(pieces)
            if other is not sliver and sliver.polygon.intersects(other.polygon)
        ]
        length, _, index = max(borders, default=(0.0, 0.0, -1))
        if length > 0:
            return sliver, pieces[index]
    return None


def _merged(first: _Piece, second: _Piece) -> _Piece:
    """One piece of two; it keeps the lattice position of the larger lattice cell part."""
    anchor = first if first.anchor_area >= second.anchor_area else second
    polygon = _union([first.polygon, second.polygon])
    return _Piece(anchor.row, anchor.column, polygon, anchor.anchor_area)


# --- responsibility grids ---------------------------------------------------------------------


def _responsibility_groups(
    units: list[_Unit], communities_m: list[Polygon], *, rng: np.random.Generator
) -> list[list[int]]:
    """Group unit grids (by index) into contiguous clusters, each inside one community."""
    counts = _allocate([c.area for c in communities_m], total=RESPONSIBILITY_GRID_COUNT)
    community_codes = list(dict.fromkeys(u.community_code for u in units))
    groups: list[list[int]] = []
    for community_code, count in zip(community_codes, counts, strict=True):
        members = [i for i, u in enumerate(units) if u.community_code == community_code]
        adjacency = _adjacency([units[i].polygon for i in members], keys=members)
        labels = _contiguous(_kmeans(units, members, count=count, rng=rng), adjacency)
        clusters = sorted(
            ([i for i in members if labels[i] == label] for label in set(labels.values())),
            key=min,
        )
        groups.extend(clusters)
    return groups


def _allocate(areas: list[float], *, total: int) -> list[int]:
    """Split `total` grids among communities in proportion to area, at least one each."""
    quotas = [total * area / sum(areas) for area in areas]
    counts = [max(1, math.floor(quota)) for quota in quotas]
    while sum(counts) < total:
        counts[max(range(len(counts)), key=lambda i: quotas[i] - counts[i])] += 1
    while sum(counts) > total:
        spare = [i for i in range(len(counts)) if counts[i] > 1]
        counts[min(spare, key=lambda i: quotas[i] - counts[i])] -= 1
    return counts


def _adjacency(polygons: list[Polygon], *, keys: list[int]) -> dict[int, list[int]]:
    """Which polygons (named by their keys) share a border, not just a corner, with which."""
    shapes = np.array(polygons, dtype=object)
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    left, right = left[left < right], right[left < right]
    borders = shapely.intersection(shapely.boundary(shapes[left]), shapely.boundary(shapes[right]))
    adjacency: dict[int, list[int]] = {key: [] for key in keys}
    for i, j, length in zip(left, right, shapely.length(borders), strict=True):
        if length >= MIN_SHARED_BORDER_M:
            adjacency[keys[i]].append(keys[j])
            adjacency[keys[j]].append(keys[i])
    return adjacency


def _kmeans(
    units: list[_Unit], members: list[int], *, count: int, rng: np.random.Generator
) -> dict[int, int]:
    """Area-weighted k-means of unit-grid centroids (numpy only, k-means++ start)."""
    points = np.array([units[i].polygon.centroid.coords[0] for i in members])
    weights = np.array([units[i].polygon.area for i in members])
    centres = _kmeans_plus_plus(points, count=count, rng=rng)
    labels = np.zeros(len(points), dtype=int)
    for _ in range(KMEANS_ROUNDS):
        distances = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = distances.argmin(axis=1)
        mass = np.bincount(labels, weights=weights, minlength=count)
        for axis in (0, 1):
            moment = np.bincount(labels, weights=weights * points[:, axis], minlength=count)
            centres[mass > 0, axis] = moment[mass > 0] / mass[mass > 0]
        centres[mass == 0] = points[distances.min(axis=1).argmax()]
    return {unit: int(label) for unit, label in zip(members, labels, strict=True)}


def _kmeans_plus_plus(points: np.ndarray, *, count: int, rng: np.random.Generator) -> np.ndarray:
    """Initial k-means centres spread out by the k-means++ rule."""
    centres = [points[rng.integers(len(points))]]
    while len(centres) < count:
        distances = ((points[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2).min(axis=1)
        centres.append(points[rng.choice(len(points), p=distances / distances.sum())])
    return np.array(centres, dtype=float)


def _contiguous(labels: dict[int, int], adjacency: dict[int, list[int]]) -> dict[int, int]:
    """Hand every detached patch of a cluster to the touching cluster it borders most."""
    labels = dict(labels)
    for _ in range(len(labels)):
        patch = _first_detached_patch(labels, adjacency)
        if patch is None:
            break
        neighbours = [
            labels[n] for i in patch for n in adjacency[i] if n in labels and n not in patch
        ]
        if not neighbours:
            break
        new_label = max(sorted(set(neighbours)), key=neighbours.count)
        labels.update(dict.fromkeys(patch, new_label))
    return labels


def _first_detached_patch(
    labels: dict[int, int], adjacency: dict[int, list[int]]
) -> list[int] | None:
    """A connected patch of a cluster that is not the cluster's largest patch, if any."""
    for label in sorted(set(labels.values())):
        patches = _components([i for i in labels if labels[i] == label], adjacency)
        if len(patches) > 1:
            return sorted(patches, key=lambda patch: (-len(patch), min(patch)))[1]
    return None


def _components(nodes: list[int], adjacency: dict[int, list[int]]) -> list[list[int]]:
    """Connected components of a node subset of the adjacency graph."""
    remaining = set(nodes)
    components: list[list[int]] = []
    for start in sorted(nodes):
        if start not in remaining:
            continue
        remaining.discard(start)
        stack, component = [start], [start]
        while stack:
            for n in adjacency[stack.pop()]:
                if n in remaining:
                    remaining.discard(n)
                    stack.append(n)
                    component.append(n)
        components.append(sorted(component))
    return components


def _responsibility_grids(
    groups: list[list[int]], units: list[_Unit], community_codes: list[str]
) -> tuple[ResponsibilityGrid, ...]:
    """Code and name the groups: -01 … -17, and 松元厦第一网格 style names."""
    names = dict(zip(community_codes, GUANHU_COMMUNITIES, strict=True))
    grids: list[ResponsibilityGrid] = []
    per_community: dict[str, int] = {}
    for number, group in enumerate(groups, start=1):
        community_code = units[group[0]].community_code
        ordinal = per_community[community_code] = per_community.get(community_code, 0) + 1
        grids.append(
            ResponsibilityGrid(
                code=f"{STREET_CODE}-{number:02d}",
                name=f"{names[community_code]}第{ORDINALS[ordinal - 1]}网格",
                community_code=community_code,
                unit_grid_codes=tuple(units[i].code for i in group),
                polygon=_to_wgs84(_union([units[i].polygon for i in group])),
            )
        )
    return tuple(grids)


# --- people, cameras, devices -----------------------------------------------------------------

_STAFF_PLAN: tuple[tuple[str, Role], ...] = (
    *((f"op{n:02d}", Role.OPERATOR) for n in range(1, 7)),
    ("duty01", Role.SHIFT_LEADER),
    ("duty02", Role.SHIFT_LEADER),
    ("dispatch01", Role.DISPATCHER),
    *((f"squad{n:02d}", Role.SQUAD_LEADER) for n in range(1, 4)),
    ("lawyer01", Role.LEGAL_REVIEWER),
    ("leader01", Role.LEADER),
    ("admin", Role.ADMIN),
)
AUXILIARY_EVERY = 6  # every sixth member is an auxiliary (协管员) without a certificate


def _people(
    grids: Sequence[ResponsibilityGrid], *, seed: int
) -> tuple[tuple[Officer, ...], tuple[StaffMember, ...]]:
    """Grid officers (about 17 a grid) and the command-centre staff, with synthetic names."""
    team_sizes = _team_sizes(len(grids), rng=np.random.default_rng(seed + 1))
    names = iter(synthetic_names(count=sum(team_sizes) + len(_STAFF_PLAN), seed=seed))
    phones = (f"1380000{n:04d}" for n in range(1, 10_000))
    certificates = (f"44030900{n:04d}" for n in range(1, 10_000))
    officers = [
        Officer(
            username=f"gh{g:02d}{m:02d}",
            name=next(names),
            phone=next(phones),
            grid_code=grid.code,
            is_grid_leader=m == 1,
            certificate_no=None if m % AUXILIARY_EVERY == 0 else next(certificates),
        )
        for g, (grid, size) in enumerate(zip(grids, team_sizes, strict=True), start=1)
        for m in range(1, size + 1)
    ]
    squads = iter(_squads([grid.code for grid in grids], squad_count=3))
    staff = [
        StaffMember(
            username,
            next(names),
            next(phones),
            role,
            next(squads) if role is Role.SQUAD_LEADER else (),
        )
        for username, role in _STAFF_PLAN
    ]
    return tuple(officers), tuple(staff)


def _team_sizes(grid_count: int, *, rng: np.random.Generator) -> list[int]:
    """Officers per grid: 15 to 19, summing to 17 per grid on average."""
    sizes = [int(size) for size in rng.integers(15, 20, size=grid_count)]
    target = OFFICERS_PER_GRID * grid_count
    while sum(sizes) != target:
        step = 1 if sum(sizes) < target else -1
        movable = [i for i, size in enumerate(sizes) if 15 <= size + step <= 19]
        sizes[movable[int(rng.integers(len(movable)))]] += step
    return sizes


def _squads(grid_codes: list[str], *, squad_count: int) -> list[tuple[str, ...]]:
    """Split the grids, in code order, into squads of nearly equal size (中队)."""
    chunks = np.array_split(np.arange(len(grid_codes)), squad_count)
    return [tuple(grid_codes[i] for i in chunk) for chunk in chunks]


def _cameras(
    grids: Sequence[ResponsibilityGrid],
    unit_grids: Sequence[UnitGrid],
    *,
    rng: np.random.Generator,
) -> tuple[Camera, ...]:
    """Ten cameras, each in a different responsibility grid, at a unit grid's inner point."""
    by_code = {unit.code: unit for unit in unit_grids}
    chosen = sorted(rng.choice(len(grids), size=len(CAMERA_PLACES), replace=False).tolist())
    cameras = []
    for n, (grid_index, place, kind) in enumerate(
        zip(chosen, CAMERA_PLACES, CAMERA_KINDS, strict=True), start=1
    ):
        codes = grids[grid_index].unit_grid_codes
        unit = by_code[codes[int(rng.integers(len(codes)))]]
        cameras.append(
            Camera(
                code=f"44030900001320{n:06d}",
                name=place,
                kind=kind,
                point=_inner_point(unit.polygon),
                bearing_deg=float(rng.integers(0, 360)),
                unit_grid_code=unit.code,
            )
        )
    return tuple(cameras)


def _devices(officers: Sequence[Officer], staff: Sequence[StaffMember]) -> tuple[Device, ...]:
    """Radios and body cameras for grid leaders, a drone for a squad leader, two patrol cars."""
    leaders = [officer.username for officer in officers if officer.is_grid_leader]
    drone_pilot = next(member.username for member in staff if member.role is Role.SQUAD_LEADER)
    devices = [
        *(
            Device(_imei(n), "radio", f"GPS对讲机 {u}", u, None)
            for n, u in enumerate(leaders[:9], 1)
        ),
        *(
            Device(_imei(100 + n), "body_camera", f"执法记录仪 {u}", u, None)
            for n, u in enumerate(leaders[9:], 1)
        ),
        Device(_imei(200), "drone", "无人机 1号", drone_pilot, None),
        Device(_imei(301), "vehicle", "巡查车 1号车载终端", None, "粤B0C001"),
        Device(_imei(302), "vehicle", "巡查车 2号车载终端", None, "粤B0C002"),
    ]
    return tuple(devices)


def _imei(serial: int) -> str:
    """A synthetic 15-digit IMEI-like identifier with a valid Luhn check digit."""
    body = f"86{440309:06d}{serial:06d}"
    digits = [int(d) for d in body]
    total = sum(d if i % 2 == 0 else (2 * d if d < 5 else 2 * d - 9) for i, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)


def _inner_point(polygon: Polygon) -> Point:
    """A point well inside a polygon, rounded to 1e-6 degrees (about 0.1 m)."""
    inner = polygon.buffer(-polygon.length / 100) if polygon.area > 0 else polygon
    candidate = (inner if not inner.is_empty else polygon).representative_point()
    return Point(round(candidate.x, 6), round(candidate.y, 6))


def _sample_in(grid: ResponsibilityGrid, unit_grids: dict[str, UnitGrid]) -> SamplePoint:
    """A point inside the largest unit grid of a responsibility grid."""
    unit = max((unit_grids[code] for code in grid.unit_grid_codes), key=lambda u: u.polygon.area)
    return SamplePoint(grid.name, _inner_point(unit.polygon), unit.code, grid.code)
