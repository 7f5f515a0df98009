"""RequestLimit: at most ``limit`` requests at once, except on the paths it lets by."""

from __future__ import annotations

import asyncio
from typing import Any

from urbanops.kit.web import RequestLimit


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


async def _nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _ignore(message: dict[str, Any]) -> None:
    return None


def test_an_open_stream_takes_no_place_under_the_limit() -> None:
    async def scenario() -> list[str]:
        release = asyncio.Event()
        served: list[str] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            served.append(scope["path"])
            if scope["path"].startswith("/hold"):
                await release.wait()  # a stream, or a slow request, until released

        limited = RequestLimit(app, limit=1, exempt=("/hold/stream",))
        stream = asyncio.create_task(limited(_scope("/hold/stream"), _nothing, _ignore))
        await asyncio.sleep(0)
        await asyncio.wait_for(limited(_scope("/api/cases"), _nothing, _ignore), timeout=1)
        slow = asyncio.create_task(limited(_scope("/hold/slow"), _nothing, _ignore))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(limited(_scope("/api/alerts"), _nothing, _ignore))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the one place is taken by the slow request
        release.set()
        await asyncio.wait_for(asyncio.gather(stream, slow, waiting), timeout=1)
        return served

    assert asyncio.run(scenario()) == ["/hold/stream", "/api/cases", "/hold/slow", "/api/alerts"]
