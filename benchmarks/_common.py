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
    name: str, *, value: float, reference: float, unit: str, target: float, **extra: Any
) -> dict[str, Any]:
    """Print one measured figure as a `BENCH {json}` line (ratio = value / reference)."""
    ratio = value / reference if reference else float("inf")
    row = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "reference": round(reference, 3),
        "ratio": round(ratio, 3),
        "target": target,
        "met": bool(ratio >= target),
        **extra,
    }
    print("BENCH " + json.dumps(row, ensure_ascii=False), flush=True)
    return row
