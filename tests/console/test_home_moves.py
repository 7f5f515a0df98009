"""``PositionsMoved``: one event per position flush with each device's newest fix; the live feed
hands bus news to a page's loop in batches; coordinates leave converted for the tiles in use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.alerts.conftest import flush, osmand_fix
from tests.cases.api_support import point
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock
from urbanops.kit.events import Event, EventBus, bus, event_from_payload
from urbanops.kit.geo import wgs84_to_gcj02
from urbanops.ui.console import map as console_map
from urbanops.ui.console.live import LiveFeed
from urbanops.workforce.models import Device
from urbanops.workforce.moves import PositionsMoved, moved

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    received: list[Event] = []
    off = bus.subscribe(PositionsMoved.name, received.append)
    yield received
    off()


def _devices(db: Session, count: int) -> list[Device]:
    devices = list(
        db.scalars(
            select(Device).where(Device.user_id.is_not(None)).order_by(Device.id).limit(count)
        )
    )
    assert len(devices) == count
    return devices


def test_one_event_per_flush_carries_each_devices_newest_fix(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, heard: list[Event]
) -> None:
    first, second = _devices(db, 2)
    lon, lat = point(0)
    start = clock.now()
    osmand_fix(client, first.identifier, (lon, lat), start)
    osmand_fix(client, first.identifier, (lon + 0.0001, lat), start + timedelta(seconds=10))
    osmand_fix(client, second.identifier, (lon, lat + 0.0001), start + timedelta(seconds=5))
    assert heard == []  # buffered, not written: no news yet
    assert flush(app, db) == 3

    (event,) = heard
    assert isinstance(event, PositionsMoved)
    assert len(event) == 2
    newest = {m.device_id: m for m in event.moves()}
    assert newest[first.id].lon == pytest.approx(lon + 0.0001)
    assert newest[first.id].at == start + timedelta(seconds=10)
    assert newest[first.id].user_id == first.user_id
    assert newest[second.id].lat == pytest.approx(lat + 0.0001)
    assert event.fix_ms[event.device_ids.index(second.id)] == round(
        (start + timedelta(seconds=5)).timestamp() * 1000
    )

    assert flush(app, db) == 0  # nothing written, nothing said
    assert len(heard) == 1


def test_positions_moved_crosses_processes_as_json() -> None:
    fixes = [
        SimpleNamespace(device_id=1, user_id=7, lon=114.05, lat=22.7, at=NOW, received_at=NOW),
        SimpleNamespace(device_id=2, user_id=None, lon=114.06, lat=22.71, at=NOW, received_at=NOW),
    ]
    event = moved(fixes, at=NOW)  # type: ignore[arg-type]
    assert event.fix_ms == (round(NOW.timestamp() * 1000),) * 2
    assert event_from_payload(orjson.loads(orjson.dumps(event.payload()))) == event


def test_the_live_feed_hands_a_burst_to_the_page_in_one_call() -> None:
    own_bus = EventBus()
    calls: list[list[Event]] = []

    class _Client:
        is_deleted = False

        def __enter__(self) -> _Client:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        feed = LiveFeed(
            [PositionsMoved.name], calls.append, client=_Client(), loop=loop, event_bus=own_bus
        )
        burst = [
            PositionsMoved(
                at=NOW, device_ids=(i,), user_ids=(None,), lons=(1.0,), lats=(2.0,), fix_ms=(i,)
            )
            for i in range(50)
        ]

        def publish() -> None:  # the committing thread
            for event in burst:
                own_bus.deliver(event)

        thread = threading.Thread(target=publish)
        thread.start()
        thread.join()
        await asyncio.sleep(0.05)
        assert calls == [burst]  # fifty events, one call

        own_bus.deliver(burst[0])
        await asyncio.sleep(0.05)
        assert calls[-1] == [burst[0]]

        feed.close()
        own_bus.deliver(burst[1])
        await asyncio.sleep(0.05)
        assert len(calls) == 2  # closed: no more news
        assert own_bus._subscribers(PositionsMoved.name, remote_only=False) == []

    asyncio.run(scenario())


@pytest.mark.parametrize("tiles", ["", "https://tiles.example/{z}/{x}/{y}.png"])
def test_coordinates_leave_converted_for_gcj02_tiles_and_untouched_without_tiles(
    tiles: str,
) -> None:
    settings = Settings(mode="test", map_tile_url=tiles, map_tile_crs="gcj02")
    proj = console_map.projection(settings)
    lon, lat = point(0)
    x, y = proj.xy([lon], [lat])
    if tiles:
        gx, gy = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
        assert (x[0], y[0]) == (round(float(gx[0]), 6), round(float(gy[0]), 6))
        assert abs(x[0] - lon) > 1e-4  # GCJ-02 is a few hundred metres off in Shenzhen
        assert console_map.base_map(settings)["tiles"] == tiles
    else:
        assert (x[0], y[0]) == (round(lon, 6), round(lat, 6))
        assert console_map.base_map(settings) == {"tiles": "", "attribution": "", "crs": "wgs84"}


def test_moves_go_out_as_columns_converted_for_the_tiles() -> None:
    settings = Settings(mode="test", map_tile_url="https://t/{z}/{x}/{y}", map_tile_crs="gcj02")
    proj = console_map.projection(settings)
    events = [
        PositionsMoved(
            at=NOW,
            device_ids=(1, 2),
            user_ids=(7, None),
            lons=(114.05, 114.06),
            lats=(22.7, 22.71),
            fix_ms=(1000, 2000),
        ),
        PositionsMoved(
            at=NOW, device_ids=(1,), user_ids=(7,), lons=(114.051,), lats=(22.7,), fix_ms=(3000,)
        ),
    ]
    cols = console_map.moves_payload(events, proj)
    assert cols["d"] == [1, 2, 1] and cols["u"] == [7, 0, 7] and cols["t"] == [1000, 2000, 3000]
    gx, gy = wgs84_to_gcj02(np.array([114.05, 114.06, 114.051]), np.array([22.7, 22.71, 22.7]))
    assert cols["x"] == np.round(gx, 6).tolist() and cols["y"] == np.round(gy, 6).tolist()
