"""The operator's home in a real browser: map, queue, alerts, all live, and nothing from outside.

One server for the module (the demo street, the console on, no tiles): the seeded officers'
devices report through the real batch ingestion, cases come in through the API, an SOS comes
with a fix. The page must show them without a reload, sort the red case first, sound and
acknowledge the alert, open a case from its pin, and ask nothing of any other server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.cases.api_support import hotline_body, report_body
from tests.support.browser import (
    DESKTOP,
    LiveStreet,
    OutsideRequests,
    live_street,
    screenshot,
    sign_in,
)
from urbanops.auth import service as auth
from urbanops.demo.geometry import build_guanhu
from urbanops.kit.actor import SYSTEM
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work
from urbanops.workforce.models import Device, Officer

pytestmark = [pytest.mark.slow]


class Street:
    """The live street, a platform key, and the seeded officers' devices with a place each."""

    def __init__(self, live: LiveStreet) -> None:
        self.live = live
        engine = make_engine(live.database_url)
        try:
            with unit_of_work(make_sessionmaker(engine)) as session:
                _, self.platform_key = auth.create_api_key(
                    session, name="定位平台（测试）", principal_kind="integration", roles=[],
                    by=SYSTEM, now=datetime.now(UTC),
                )  # fmt: skip
                rows = session.execute(
                    select(Device.identifier, Device.id, Device.user_id, Officer.grid_code)
                    .join(Officer, Officer.user_id == Device.user_id)
                    .order_by(Device.id)
                ).all()
        finally:
            engine.dispose()
        centres = {
            g.code: g.polygon.representative_point() for g in build_guanhu().responsibility_grids
        }
        self.devices = [
            (identifier, device_id, user_id, centres[grid].x + 0.0003 * (i % 3),
             centres[grid].y + 0.0003 * (i % 2))
            for i, (identifier, device_id, user_id, grid) in enumerate(rows)
            if grid in centres
        ]  # fmt: skip
        assert len(self.devices) >= 5

    def fixes(self, *fixes: dict[str, Any]) -> None:
        answer = httpx.post(
            f"{self.live.base_url}/api/positions/batch",
            json={"fixes": list(fixes)},
            headers={"X-API-Key": self.platform_key},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(fixes), answer.text

    def report(self, **body: Any) -> int:
        with self.live.api("op01") as client:
            answer = client.post("/api/cases", json=body)
        assert answer.status_code in (200, 201), answer.text
        case_id: int = answer.json()["id"]
        return case_id


def fix(device: str, lon: float, lat: float, ago_s: float = 0, **extra: Any) -> dict[str, Any]:
    at = int((time.time() - ago_s) * 1000)
    return {"device": device, "at": at, "lon": lon, "lat": lat, "accuracy_m": 8.0, **extra}


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Street]:
    with live_street(tmp_path_factory.mktemp("console-home")) as live:
        yield Street(live)


def home_map(page: Page, expression: str) -> Any:
    return page.evaluate(f"(() => {{ const m = UrbanopsMap.get('home'); return {expression}; }})()")


def test_operator_watches_the_street_live_and_acknowledges_an_sos(
    street: Street, browser: Browser
) -> None:
    # dated a minute back, so the ~150 m move below is a walk, not an impossible jump
    street.fixes(*(fix(d, lon, lat, ago_s=60) for d, _, _, lon, lat in street.devices))
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    late = street.report(**hotline_body(0, reported_at=three_days_ago))  # red at once
    fresh = street.report(**report_body(1))

    page = browser.new_page(viewport=DESKTOP)
    outside = OutsideRequests(street.live.base_url).attach(page)
    sign_in(page, street.live.base_url, "op01")
    page.wait_for_function("window.UrbanopsMap && UrbanopsMap.get('home')", timeout=30_000)

    # the map: 17 grids shaded by load, the officers, the cases' pins, the cameras
    assert home_map(page, "Object.keys(m.grids).length") == 17
    expect(page.locator(".leaflet-marker-pane [data-case-id]")).to_have_count(2)
    page.wait_for_function(
        "n => UrbanopsMap.get('home').officerCount() >= n", arg=len(street.devices)
    )
    assert home_map(page, "document.querySelectorAll('.urbanops-camera').length") == 10
    loaded = home_map(page, "Object.values(m.grids).reduce((s, g) => s + g.load, 0)")
    assert loaded == 2

    # the queue: red first, counting down (here: overdue)
    queue = page.locator("#home-queue-list .queue-item")
    expect(queue).to_have_count(2)
    expect(queue.first).to_have_attribute("data-case-id", str(late))
    expect(queue.first).to_have_attribute("data-light", "red")
    expect(queue.first.locator(".queue-clock")).to_contain_text("超时")
    expect(queue.nth(1)).to_have_attribute("data-case-id", str(fresh))
    expect(queue.nth(1)).to_have_attribute("data-light", "green")
    expect(queue.nth(1).locator(".queue-clock")).to_contain_text("剩余")

    # live: a new case appears without a reload; an officer's marker moves
    newer = street.report(**report_body(2, description="垃圾桶满溢无人清理", matter_code="06042"))
    expect(queue).to_have_count(3)
    expect(page.locator(f'#home-queue-list [data-case-id="{newer}"]')).to_be_visible()
    identifier, _, user_id, lon, lat = street.devices[0]
    street.fixes(fix(identifier, lon + 0.001, lat + 0.001))
    page.wait_for_function(
        "([key, lat]) => Math.abs(UrbanopsMap.get('home').officer(key).lat - lat) < 1e-5",
        arg=[f"u{user_id}", round(lat + 0.001, 6)],
    )

    # an SOS stands out at the top of the alerts and sounds once sound is on
    page.click("#home-sound")
    expect(page.locator("#home-sound")).to_have_attribute("aria-pressed", "true")
    identifier, _, _, lon, lat = street.devices[1]
    street.fixes(fix(identifier, lon, lat, alarm="sos"))
    top = page.locator("#home-alerts-list .alert-item").first
    expect(top).to_have_attribute("data-kind", "sos")
    expect(top).to_have_class("alert-item severity-critical is-new")
    expect(page.locator("#home-alerts-count")).to_have_text("1")
    page.wait_for_function("UrbanopsHome.home.sounds >= 1")
    page.mouse.move(0, 0)
    screenshot(page, "console-home")

    # acknowledged from the panel: an SOS ends with it
    top.locator("button.ack").click()
    expect(page.locator("#home-alerts-list .alert-item")).to_have_count(0)
    expect(page.locator("#home-alerts-count")).to_have_text("0")

    # a case's pin opens the case page
    page.locator(f'.leaflet-marker-pane [data-case-id="{late}"]').click()
    page.wait_for_url(f"{street.live.base_url}/console/cases/{late}*")
    assert outside.seen == []
    page.close()


def test_home_speaks_english_and_hides_acknowledging_from_who_may_not(
    street: Street, browser: Browser
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    outside = OutsideRequests(street.live.base_url).attach(page)
    sign_in(page, street.live.base_url, "lawyer01")  # a legal reviewer sees, but may not ack
    page.wait_for_function("window.UrbanopsHome && UrbanopsHome.home", timeout=30_000)
    page.click("#lang-switch")
    page.wait_for_function("window.UrbanopsHome && UrbanopsHome.home", timeout=30_000)
    expect(page.locator("#home-queue h2")).to_have_text("Open cases")
    expect(page.locator("#home-sound")).to_have_text("Enable sound")
    assert page.evaluate("UrbanopsHome.home.config.may_acknowledge") is False
    identifier, _, _, lon, lat = street.devices[2]
    street.fixes(fix(identifier, lon, lat, alarm="sos"))
    alert = page.locator('#home-alerts-list .alert-item[data-kind="sos"]').first
    expect(alert).to_contain_text("SOS")
    expect(alert.locator("button.ack")).to_have_count(0)
    assert outside.seen == []
    page.close()


def test_home_refuses_a_grid_officer(street: Street) -> None:
    officer = street.live.bearer("gh0101")
    answer = httpx.get(f"{street.live.base_url}/console/", headers=officer, follow_redirects=False)
    assert answer.status_code == 403
