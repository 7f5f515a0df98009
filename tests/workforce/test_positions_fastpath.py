"""The OsmAnd fast path: everyday fixes answered before the router, the rest handed on whole."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.demo.geometry import build_guanhu
from urbanops.kit.clock import ManualClock
from urbanops.workforce.positions_api import OsmandFastPath, ingest_of
from urbanops.workforce.positions_models import position_table

STREET = build_guanhu()
RADIO = STREET.devices[0].identifier
POINT = STREET.sample_points()[0]
LON, LAT = round(POINT.point.x, 6), round(POINT.point.y, 6)
HANDED_ON = 599  # what the app behind answers in these tests


class AppBehind:
    """The app behind the fast path: records what reaches it, with the body it reads."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": HANDED_ON, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def call(app: FastAPI, behind: AppBehind, method: str, query: dict[str, Any], body: bytes = b"",
         content_type: bytes = b"") -> tuple[int, dict[bytes, bytes]]:  # fmt: skip
    """One request through ``OsmandFastPath`` in front of ``behind``, for ``app``'s ingest."""
    scope = {"type": "http", "method": method, "path": "/osmand", "app": app,
             "query_string": urlencode(query).encode(),
             "headers": [(b"content-type", content_type)] if content_type else []}  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.update(status=message["status"], headers=dict(message["headers"]))

    asyncio.run(OsmandFastPath(behind)(scope, receive, send))
    return answer["status"], answer["headers"]


@pytest.fixture
def warm(app: FastAPI, db: Session) -> FastAPI:
    """The app with its device cache filled (as after any first request)."""
    assert ingest_of(app).device(db, RADIO) is not None
    return app


def fix(clock: ManualClock, seconds_ago: int = 30, **extra: Any) -> dict[str, Any]:
    at = int((clock.now() - timedelta(seconds=seconds_ago)).timestamp())
    return {"id": RADIO, "lat": LAT, "lon": LON, "timestamp": at, **extra}


def test_a_fix_of_a_cached_device_is_taken_without_the_router(
    warm: FastAPI, db: Session, clock: ManualClock
) -> None:
    behind = AppBehind()
    assert call(warm, behind, "GET", fix(clock, speed=10)) == (200, {b"content-length": b"0"})
    assert call(warm, behind, "GET", fix(clock)) == (
        200, {b"content-length": b"0", b"x-fix-dropped": b"duplicate"})  # fmt: skip
    form = urlencode({k: v for k, v in fix(clock, 20).items() if k != "id"}).encode()
    status, _ = call(warm, behind, "POST", {"id": RADIO}, form,
                     b"application/x-www-form-urlencoded")  # fmt: skip
    assert status == 200
    assert call(warm, behind, "GET", fix(clock, 10, valid="false"))[1][b"x-fix-dropped"] == (
        b"not_valid")  # fmt: skip
    assert behind.bodies == []  # nothing reached the router
    assert ingest_of(warm).flush(db) == 2
    assert db.scalars(select(position_table.c.speed_mps)).all() == [
        pytest.approx(10 * 1852 / 3600), None]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "query", "body", "content_type"),
    [
        ("an unknown device", {"id": "000000000000000", "lat": LAT, "lon": LON}, b"", b""),
        ("a refused fix", {"id": RADIO, "lat": 91, "lon": LON}, b"", b""),
        (
            "a fix from 2036",
            {"id": RADIO, "lat": LAT, "lon": LON, "timestamp": 2_100_000_000},
            b"",
            b"",
        ),
        ("an alarm", {"id": RADIO, "lat": LAT, "lon": LON, "alarm": "sos"}, b"", b""),
        ("a JSON body", {}, b'{"device_id": "x"}', b"application/json"),
        ("a form without a device", {}, b"lat=22.6&lon=114.0", b"text/plain"),
    ],
)
def test_anything_else_goes_on_to_the_route_with_its_body(
    warm: FastAPI, db: Session, what: str, query: dict[str, Any], body: bytes,
    content_type: bytes,
) -> None:  # fmt: skip
    behind = AppBehind()
    assert call(warm, behind, "POST", query, body, content_type) == (HANDED_ON, {}), what
    assert behind.bodies == [body]
    assert ingest_of(warm).waiting == 0


def test_a_cold_cache_goes_on_to_the_route_which_fills_it(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    behind = AppBehind()
    assert call(app, behind, "GET", fix(clock, 40))[0] == HANDED_ON
    assert client.get("/osmand", params=fix(clock, 40)).status_code == 200  # the route
    assert call(app, behind, "GET", fix(clock, 30))[0] == 200  # now cached
    assert ingest_of(app).flush(db) == 2


def test_through_http_a_warm_cache_answers_as_the_route_does(
    app: FastAPI, client: TestClient, db: Session, clock: ManualClock
) -> None:
    client.get("/osmand", params=fix(clock, 300))  # the route; the device is cached after it
    refused = client.get("/osmand", params=fix(clock, lat=91))
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "invalid_coordinates"
    future = client.get("/osmand", params=fix(clock, -3600))
    assert (future.status_code, future.json()["code"]) == (400, "future_time")
    jump = client.get("/osmand", params=fix(clock, 290, lat=LAT + 0.05))
    assert jump.headers["X-Fix-Dropped"] == "impossible_speed"
    assert client.post("/osmand", params=fix(clock, 280)).status_code == 200
    assert ingest_of(app).flush(db) == 2
