"""Benchmark: point → grid lookup of 1,000,000 points through `SpatialIndex` against raw Shapely.

The reference is what a developer would write without an index: for each polygon, in key order,
a prepared ``shapely.contains_xy(polygon, x, y)`` over all points, the first match winning. With
thousands of polygons that loop is too slow to run over all points, so its rate is measured on a
sample of the same points (``reference_points`` in the output); rates are points per second.
The index's answers are checked against the reference's on that sample.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from _common import best_of, emit  # benchmarks/ is on sys.path when a script runs
from urbanops.kit.geo import SpatialIndex

POINTS = 1_000_000
TARGET = 0.8
REFERENCE_PAIR_BUDGET = 60_000_000  # polygon × point tests the reference loop may spend per run
SEED = 20261126

Grids = list[tuple[str, BaseGeometry]]


def demo_street_grids() -> tuple[Grids, str]:
    """The demo street's unit grids, or a clipped ~500-cell lattice when the demo is not there."""
    try:
        geometry: Any = importlib.import_module("urbanops.demo.geometry")
        street = geometry.build_guanhu()
        grids = [(str(g.code), g.polygon) for g in street.unit_grids]
        return grids, "demo street unit grids (urbanops.demo.geometry.build_guanhu)"
    except (ImportError, AttributeError):
        return fallback_lattice(), "FALLBACK: urbanops.demo.geometry.build_guanhu() not available"


def demo_responsibility_grids() -> Grids:
    """The demo street's 17 responsibility grids, where the demo is there."""
    try:
        geometry: Any = importlib.import_module("urbanops.demo.geometry")
    except ImportError:
        return []
    return [(str(g.code), g.polygon) for g in geometry.build_guanhu().responsibility_grids]


def fallback_lattice() -> Grids:
    """About 500 square cells over lon 114.03–114.10, lat 22.70–22.76, clipped to a street shape."""
    boundary = shapely.Polygon(
        [(114.030, 22.712), (114.052, 22.700), (114.100, 22.703), (114.097, 22.742),
         (114.071, 22.760), (114.036, 22.755), (114.030, 22.712)]
    )  # fmt: skip
    xs, ys = np.linspace(114.03, 114.10, 27), np.linspace(22.70, 22.76, 24)
    grids: Grids = []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cell = shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]).intersection(boundary)
            if cell.area > 0 and cell.geom_type == "Polygon":
                grids.append((f"440309001001{len(grids) + 1:03d}", cell))
    return grids


def synthetic_lattice(n: int = 100) -> Grids:
    """An n × n lattice of slightly irregular quadrilaterals sharing their jittered corners."""
    rng = np.random.default_rng(SEED)
    xs, ys = np.meshgrid(np.linspace(113.9, 114.2, n + 1), np.linspace(22.5, 22.8, n + 1))
    step = 0.3 / n
    jitter = rng.uniform(-0.2 * step, 0.2 * step, size=(2, n + 1, n + 1))
    jitter[:, [0, -1], :] = 0.0  # keep the outer edge straight
    jitter[:, :, [0, -1]] = 0.0
    vx, vy = xs + jitter[0], ys + jitter[1]
    grids: Grids = []
    for r in range(n):
        for c in range(n):
            ring = [(vx[r, c], vy[r, c]), (vx[r, c + 1], vy[r, c + 1]),
                    (vx[r + 1, c + 1], vy[r + 1, c + 1]), (vx[r + 1, c], vy[r + 1, c])]  # fmt: skip
            grids.append((f"syn{r:03d}{c:03d}", shapely.Polygon(ring)))
    return grids


def raw_shapely_locate(
    grids: Sequence[tuple[str, BaseGeometry]], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """The straightforward loop: each polygon, prepared, tested against all points; first wins."""
    keys = np.array([key for key, _ in grids] + [None], dtype=object)
    found = np.full(x.size, -1, dtype=np.intp)
    for rank, (_, polygon) in enumerate(grids):
        found[shapely.contains_xy(polygon, x, y) & (found < 0)] = rank
    return keys[found]


def strtree_locate(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Raw Shapely's best bulk way: one STRtree query of all points; the lowest rank wins."""
    point_idx, poly_idx = tree.query(shapely.points(x, y), predicate="intersects")
    found = np.full(x.size, np.iinfo(np.intp).max, dtype=np.intp)
    np.minimum.at(found, point_idx, poly_idx)
    found[found == np.iinfo(np.intp).max] = -1
    return found


def measure(name: str, grids: Grids, note: str) -> dict[str, Any]:
    """Time index and reference on the same random points and check their answers agree."""
    grids = sorted(grids, key=lambda kv: kv[0])
    build_s, index = best_of(1, lambda: SpatialIndex(grids))
    min_x, min_y, max_x, max_y = index.bounds
    rng = np.random.default_rng(SEED)
    x, y = rng.uniform(min_x, max_x, POINTS), rng.uniform(min_y, max_y, POINTS)
    for _, polygon in grids:
        shapely.prepare(polygon)
    ref_points = min(POINTS, max(10_000, REFERENCE_PAIR_BUDGET // len(grids)))
    ref_s, ref_keys = best_of(
        3 if ref_points == POINTS else 1,
        lambda: raw_shapely_locate(grids, x[:ref_points], y[:ref_points]),
    )
    index_s, keys = best_of(3, lambda: index.locate_many(x, y))
    mismatch = int(np.count_nonzero(keys[:ref_points] != ref_keys))
    assert mismatch == 0, f"{name}: index disagrees with raw Shapely on {mismatch} points"
    tree = shapely.STRtree([polygon for _, polygon in grids])
    tree_s, ranks = best_of(3, lambda: strtree_locate(tree, x, y))
    assert np.array_equal(ranks, index.locate_ranks(x, y)), f"{name}: STRtree disagrees"
    emit(
        f"{name}.vs_strtree",
        value=POINTS / index_s,
        reference=POINTS / tree_s,
        unit="points/s",
        target=TARGET,
        grids=len(grids),
        points=POINTS,
        note="reference: one bulk STRtree.query(points, predicate='intersects')",
    )
    return emit(
        name,
        value=POINTS / index_s,
        reference=ref_points / ref_s,
        unit="points/s",
        target=TARGET,
        grids=len(grids),
        points=POINTS,
        reference_points=ref_points,
        outside_share=round(float(np.mean(keys == None)), 4),  # noqa: E711
        build_s=round(build_s, 3),
        note=note,
    )


def main() -> None:
    """Run both scenarios and print one BENCH line each."""
    demo, note = demo_street_grids()
    print(f"# demo grids: {note} ({len(demo)} grids)", flush=True)
    measure("locate.demo_street_1m_points", demo, note)
    responsibility = demo_responsibility_grids()
    if responsibility:
        measure(
            "locate.demo_17_responsibility_grids_1m_points",
            responsibility,
            "the demo's 17 responsibility grids (责任网格); reference runs on all points",
        )
    measure("locate.synthetic_10k_grids_1m_points", synthetic_lattice(), "100 × 100 jittered quads")


if __name__ == "__main__":
    main()
