"""Shared helpers for benchmark scripts: timing and the `BENCH {json}` line format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def best_of(repeats: int, work: Callable[[], T]) -> tuple[float, T]:
    """Run ``work`` a few times and return the fastest wall time with its (last) result."""
    best = float("inf")
    result: T | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def emit(
    name: str,
    *,
    value: float,
    reference: float,
    unit: str,
    target: float,
    lower_is_better: bool = False,
    absolute: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Print one measured figure as a `BENCH {json}` line.

    ``ratio`` is value / reference, or reference / value where lower is better (times, memory),
    so a higher ratio is always better. ``target`` is a ratio to reach, or with ``absolute`` a
    figure the value must reach (at least, or at most where lower is better).
    """
    if lower_is_better:
        ratio = reference / value if value else float("inf")
    else:
        ratio = value / reference if reference else float("inf")
    reached = value <= target if lower_is_better else value >= target
    met = reached if absolute else ratio >= target
    row = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "reference": round(reference, 3),
        "ratio": round(ratio, 3),
        "target": (f"≤ {target:g}" if lower_is_better else f"≥ {target:g}")
        + ("" if absolute else " × ref"),
        "met": bool(met),
        **extra,
    }
    print("BENCH " + json.dumps(row, ensure_ascii=False), flush=True)
    return row
