"""The console's live map under 1,000 officers reporting every 5 s (issue 6, "must be shown").

Runs the browser measurement of ``tests/console/test_map_latency.py`` on one live demo street
(a real ``urbanops serve`` process, Debian's Chromium on the operator's home): the delay from a
fix being sent through the real batch ingestion to the painted frame that shows its marker
moved. Reference, in the same run on the same server and page: ONE officer moving (a fix every
second for 20 s, so that the reference has enough samples), which is the pipeline's floor (the
writer's flush period, the event, the websocket, the frame) with no load. Target: p95 < 1 s.

    python benchmarks/console_map.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.console.test_map_latency import (
    OFFICERS_PER_GRID,
    PERIOD_S,
    SLICES,
    measure,
    open_home,
    post,
    staff,
)
from tests.support.browser import chromium, live_street

from _common import emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the 1,000 run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, live_street(Path(tmp)) as street:
        fleet = staff(street, OFFICERS_PER_GRID)
        everyone = np.arange(len(fleet.identifiers))
        with httpx.Client(
            base_url=street.base_url, headers={"X-API-Key": fleet.platform_key}, timeout=30
        ) as client:
            post(client, fleet, everyone)
        with chromium() as browser:
            page = open_home(browser, street, len(everyone))
            one = measure(
                street, page, fleet, rows=everyone[:1], period_s=1.0, slices=1, duration_s=20
            )
            many = measure(
                street, page, fleet, rows=everyone, period_s=PERIOD_S, slices=SLICES,
                duration_s=args.seconds,
            )  # fmt: skip
            page.close()
    emit(
        f"console_map_latency_p95_{many.officers}_officers",
        value=many.percentile(95),
        reference=one.percentile(95),
        unit="ms",
        target=1000,
        lower_is_better=True,
        absolute=True,
        p50_ms=round(many.percentile(50), 1),
        reference_p50_ms=round(one.percentile(50), 1),
        fixes=many.sent,
        missing=many.missing,
        reference_fixes=one.sent,
        reference_is="one officer moving, same server and page",
    )


if __name__ == "__main__":
    main()
