"""Batches read column by column: the same fixes and refusals as one by one, written in bulk."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import Session

from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import Actor, Role
from urbanops.kit.clock import ManualClock
from urbanops.workforce.models import Device
from urbanops.workforce.positions import Fix, FixBlock, FixError, PositionIngest
from urbanops.workforce.positions_api import _batch_block, _batch_fix, ingest_of
from urbanops.workforce.positions_models import position_latest_table, position_table

STREET = build_guanhu()
RADIO, OTHER = STREET.devices[0].identifier, STREET.devices[1].identifier
POINT = STREET.sample_points()[0]
LON, LAT = round(POINT.point.x, 6), round(POINT.point.y, 6)
PLATFORM = Actor(kind="integration", id=1, name="platform", roles=frozenset({Role.INTEGRATION}))

GOOD: dict[str, Any] = {"device": RADIO, "at": 1795654800, "lat": LAT, "lon": LON}
#: One change to a good fix each: plain, odd but readable, or wrong.
VARIANTS: list[dict[str, Any]] = [
    {},
    {"at": 1795654800123},  # milliseconds
    {"at": 1795654800.25},
    {"at": "2026-11-26T09:00:00+08:00"},
    {"at": "2026-11-26 01:00:00"},
    {"at": None},  # now
    {"at": "yesterday"},
    {"at": -5},
    {"at": True},
    {"at": 10**20},
    {"at": [1]},
    {"lat": "22.65"},
    {"lat": True},
    {"lat": None},
    {"lat": "north"},
    {"lat": math.nan},
    {"lat": math.inf},
    {"lat": 91},
    {"lon": 181.5},
    {"lon": 10**400},
    {"speed_mps": "3.5", "course": 270, "altitude": -12.5, "accuracy_m": 0, "battery": 99},
    {"speed_mps": ""},
    {"speed_mps": "fast"},
    {"course": [1]},
    {"battery": 10**400},
    {"accuracy_m": math.nan},
    {"attributes": {"seq": 1, "名": "值"}},
    {"attributes": "nope"},
    {"attributes": []},
    {"alarm": "SOS "},
    {"alarm": ""},
    {"alarm": 5},
    {"device": OTHER},
    {"device": "000000000000000"},
    {"device": ""},
    {"device": None},
    {"device": 123},
    {"device": ["x"]},
]


def items() -> list[Any]:
    """Every variant once, at its own time (no two alike), and a few items that are no object."""
    out: list[Any] = []
    for n, change in enumerate(VARIANTS):
        item = {**GOOD, "at": GOOD["at"] + n, **change}
        if "lat" not in change:
            item["lat"] = LAT + n * 1e-6
        out.append({k: v for k, v in item.items() if v is not None or k in change})
    return [*out, "junk", 5, None, []]


def record(fix: Fix) -> tuple[Any, ...]:
    return FixBlock.from_fixes([fix]).records()[0]


def test_each_field_of_a_batch_reads_as_the_one_by_one_check_reads_it(
    db: Session, clock: ManualClock
) -> None:
    batch, now = items(), clock.now()
    block, checked = _batch_block(db, PositionIngest(), PLATFORM, batch, now)
    in_columns: dict[int, Any] = dict(zip(block.index.tolist(), block.records(), strict=True))
    in_columns |= {i: (f.reason, f.detail) for i, f in checked.items() if isinstance(f, FixError)}

    one_by_one: dict[int, Any] = {}
    for i, item in enumerate(batch):
        try:
            one_by_one[i] = record(_batch_fix(db, PositionIngest(), PLATFORM, item, now, {}))
        except FixError as exc:
            one_by_one[i] = (exc.reason, exc.detail)
    assert in_columns == one_by_one
    # plain JSON numbers and every time format are read in columns; the rest one by one
    in_bulk = sorted(set(block.index.tolist()) - set(checked))
    assert [VARIANTS[i] for i in in_bulk] == [VARIANTS[i] for i in (0, 1, 2, 3, 4, 5, 26, 32)]
    assert len(block) == 13


def test_a_device_key_posts_its_own_fixes_only(db: Session, clock: ManualClock) -> None:
    radio = Actor(kind="device", id=2, name="radio", roles=frozenset({Role.DEVICE}),
                  device_ref=RADIO)  # fmt: skip
    batch = [{"at": 1795654800, "lat": LAT, "lon": LON},
             {"device": OTHER, "at": 1795654801, "lat": LAT, "lon": LON}]  # fmt: skip
    block, checked = _batch_block(db, PositionIngest(), radio, batch, clock.now())
    assert block.index.tolist() == [0]
    assert isinstance(checked[1], FixError) and checked[1].reason == "device_not_allowed"


def walk(
    start: datetime, devices: list[str], per_device: int, spread: float = 1e-3
) -> list[dict[str, Any]]:
    """Each device walks north ~1 m every 10 s (``spread``° apart), the batch interleaving them."""
    return [
        {"device": device, "at": (start + timedelta(seconds=10 * step)).isoformat(),
         "lat": round(LAT + d * spread + step * 1e-5, 7), "lon": LON, "accuracy_m": 5}
        for step in range(per_device)
        for d, device in enumerate(devices)
    ]  # fmt: skip


def test_one_devices_bad_fixes_in_a_batch_cost_only_themselves(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    devices = [d.identifier for d in STREET.devices[:20]]
    fixes = walk(clock.now() - timedelta(hours=1), devices, 50)  # 1,000 fixes
    jump, dup, coarse = 20 * 10 + 3, 20 * 30 + 3, 20 * 40 + 3  # device 3's 11th, 31st, 41st
    fixes[jump]["lat"] += 0.05  # ~5.5 km in 10 s
    fixes[dup]["at"] = fixes[dup - 20]["at"]  # the time of its previous fix
    fixes[coarse]["accuracy_m"] = 500
    answer = client.post("/api/positions/batch", json={"fixes": fixes},
                         headers=auth_headers(Role.INTEGRATION))  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert [(r["index"], r["reason"]) for r in answer.json()["rejected"]] == [
        (jump, "impossible_speed"), (dup, "duplicate"), (coarse, "poor_accuracy")]  # fmt: skip
    assert answer.json()["accepted"] == 997
    assert ingest_of(app).flush(db) == 997

    ids = dict(db.execute(select(Device.identifier, Device.id)).all())
    third = db.scalars(
        select(position_table.c.lat)
        .where(position_table.c.device_id == ids[devices[3]])
        .order_by(position_table.c.at)
    ).all()
    assert len(third) == 47 and fixes[jump]["lat"] not in third
    latest = db.execute(select(position_latest_table)).all()
    assert len(latest) == 20
    assert {r.lat for r in latest} == {f["lat"] for f in fixes[-20:]}
    memory = ingest_of(app).latest(ids[devices[3]])
    assert memory is not None and memory.lat == fixes[-17]["lat"]


def test_the_stored_latest_position_only_moves_forward_across_flushes(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    headers = auth_headers(Role.INTEGRATION)
    ingest = ingest_of(app)

    def send(at: datetime, lat: float) -> None:
        fixes = [{"device": RADIO, "at": at.isoformat(), "lat": lat, "lon": LON}]
        assert client.post("/api/positions/batch", json={"fixes": fixes},
                           headers=headers).json()["accepted"] == 1  # fmt: skip
        assert ingest.flush(db) == 1

    def stored_latest() -> tuple[datetime, float]:
        row = db.execute(select(position_latest_table.c.at, position_latest_table.c.lat)).one()
        return row.at, row.lat

    t0 = clock.now().astimezone(UTC).replace(microsecond=0) - timedelta(minutes=10)
    send(t0, LAT)
    send(t0 - timedelta(minutes=5), LAT + 1e-4)  # a late, older fix: history only
    assert stored_latest() == (t0, LAT)
    send(t0 + timedelta(seconds=30), LAT + 2e-4)
    assert stored_latest() == (t0 + timedelta(seconds=30), LAT + 2e-4)
    assert len(db.execute(select(position_table.c.at)).all()) == 3


def test_write_hooks_see_the_newest_fix_of_each_device_with_its_grid(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock, auth_headers: Any
) -> None:
    seen: list[list[Fix]] = []
    ingest = ingest_of(app)
    ingest.after_write.append(lambda _session, fixes: seen.append(list(fixes)))
    fixes = walk(clock.now() - timedelta(days=1), [RADIO, OTHER], 5, spread=0)
    fixes[-2]["lat"], fixes[-2]["lon"] = 39.9042, 116.4074  # RADIO's newest: in Beijing, no grid
    fixes[-2]["at"] = (clock.now() - timedelta(minutes=1)).isoformat()  # a day's drive later
    third = STREET.devices[2].identifier
    client.get("/osmand", params={"id": third, "lat": LAT, "lon": LON,
                                  "timestamp": int(clock.now().timestamp()) - 60})  # fmt: skip
    client.post("/api/positions/batch", json={"fixes": fixes},
                headers=auth_headers(Role.INTEGRATION))  # fmt: skip
    assert ingest.flush(db) == 11
    (written,) = seen
    ids = dict(db.execute(select(Device.identifier, Device.id)).all())
    by_device = {f.device_id: f for f in written}
    assert len(written) == 3 and set(by_device) == {ids[RADIO], ids[OTHER], ids[third]}
    radio, other = by_device[ids[RADIO]], by_device[ids[OTHER]]
    assert (radio.lat, radio.unit_grid_code, radio.source) == (39.9042, None, "batch")
    assert other.lat == fixes[-1]["lat"] and other.unit_grid_code == POINT.unit_grid_code
    assert other.at == datetime.fromisoformat(fixes[-1]["at"]).astimezone(UTC)
    assert by_device[ids[third]].source == "osmand"


@pytest.mark.parametrize("count", [0, 1, 2])
def test_a_write_that_fails_keeps_its_fixes_for_the_next_flush(
    count: int, db: Session, clock: ManualClock
) -> None:
    ingest, now = PositionIngest(), clock.now()
    radio = ingest.device(db, RADIO)
    assert radio is not None
    fixes = [Fix(device=radio, at=now - timedelta(seconds=60 - i), received_at=now, lon=LON,
                 lat=LAT, source="osmand") for i in range(count)]  # fmt: skip
    ingest.submit(fixes, now=now)
    late = Fix(device=radio, at=now - timedelta(seconds=30), received_at=now, lon=LON, lat=LAT,
               source="batch")  # fmt: skip
    block = FixBlock.from_fixes([late])
    ingest.submit_block(block, now=now)
    with pytest.raises(UnboundExecutionError):  # a session bound to no database: the write fails …
        ingest.flush(Session())
    assert ingest.waiting == count + 1  # … and every fix waits for the next one
    assert ingest.flush(db) == count + 1
