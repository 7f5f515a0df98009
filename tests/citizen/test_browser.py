"""The citizen's pages in a real browser on a phone-sized screen, against a real server.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/ensure-browser``)
on a 390×844 viewport against ``urbanops serve`` on a scratch SQLite database with the demo street.
The citizen reports with a photo and the phone's position, keeps the tracking id, follows the
case; the command centre handles and closes it through the API; the citizen rates it. A second
citizen without location permission picks the place on the street map.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from tests.cases.api_support import GRID_01, demo_officer, point
from tests.cases.evidence_files import jpeg
from tests.support.server import ServerProcess, scratch_database
from urbanops import migrations
from urbanops.auth import service as auth
from urbanops.demo.street import seed_demo_street
from urbanops.kit.clock import SystemClock
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

pytestmark = [pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TRACKING_ID = re.compile(r"^\d{9}-\d{8}-\d{4}-[2-9A-HJ-NP-Z]{12}$")


@dataclass(frozen=True)
class Live:
    """The running server and bearer headers of the staff who handle cases."""

    base_url: str
    operator: dict[str, str]
    dispatcher: dict[str, str]
    shift_leader: dict[str, str]
    officer: dict[str, str]
    officer_id: int


def _bearer(session: Any, username: str) -> dict[str, str]:
    user = auth.find_user(session, username=username)
    assert user is not None, username
    token = auth.issue_token(session, user=user, now=SystemClock().now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("citizen-browser")
    with scratch_database("sqlite", workdir) as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            seed_demo_street(session)
            officer = demo_officer(session, GRID_01)
            people = {
                "operator": _bearer(session, "op01"),
                "dispatcher": _bearer(session, "dispatch01"),
                "shift_leader": _bearer(session, "duty01"),
                "officer": _bearer(session, officer.username),
            }
            officer_id = officer.id
        engine.dispose()
        server = ServerProcess(
            url, workdir, env={"URBANOPS_SWEEPER_INTERVAL_S": "0"}, startup_timeout_s=120
        )  # a loaded CI machine may take a while to import the app
        with server:
            yield Live(base_url=server.base_url, officer_id=officer_id, **people)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser", pytrace=False)
    expect.set_options(timeout=20_000)  # a loaded machine answers slowly; nothing here sleeps
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _phone(browser: Browser, live: Live, *, geolocation: bool) -> BrowserContext:
    lon, lat = point(0)
    options: dict[str, Any] = {
        "base_url": live.base_url,
        "viewport": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "zh-CN",
    }
    if geolocation:
        options["geolocation"] = {"longitude": lon, "latitude": lat}
        options["permissions"] = ["geolocation"]
    return browser.new_context(**options)


def _handle_and_close(live: Live, number: str) -> None:
    """The command centre's part, through the API: verify … close, with an after-photo."""
    with httpx.Client(base_url=live.base_url, timeout=10) as api:
        found = api.get(f"/api/cases/by-number/{number}", headers=live.operator)
        assert found.status_code == 200, found.text
        case_id = found.json()["id"]

        def act(headers: dict[str, str], action: str, **body: Any) -> None:
            answer = api.post(f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers)
            assert answer.status_code == 200, answer.text

        act(live.operator, "verify")
        act(live.operator, "register")
        act(live.dispatcher, "dispatch", officer_id=live.officer_id)
        act(live.officer, "accept")
        act(live.officer, "handle", note="摊位已清理")
        after = api.post(
            f"/api/cases/{case_id}/evidence",
            files={"file": ("after.jpg", jpeg(colour=(40, 160, 70)), "image/jpeg")},
            data={"phase": "after"},
            headers=live.officer,
        )
        assert after.status_code == 201, after.text
        act(live.operator, "check")
        act(live.shift_leader, "close")


def test_a_citizen_reports_from_a_phone_follows_the_case_and_rates_it(
    browser: Browser, live: Live, tmp_path: Path
) -> None:
    photo = tmp_path / "stall.jpg"
    photo.write_bytes(jpeg())
    context = _phone(browser, live, geolocation=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/citizen")
    expect(page.locator("#report-form h1")).to_have_text("反映一个问题")
    expect(page.locator("#map path.grid")).to_have_count(17)
    page.select_option("#matter", "09006")
    page.fill("#description", "小区门口有人摆摊卖水果，占了盲道")
    page.set_input_files("#photos", str(photo))
    expect(page.locator("#previews img")).to_have_count(1)
    page.click("#locate")
    expect(page.locator("#position-status")).to_contain_text("已选位置")
    expect(page.locator("#map .marker")).to_have_count(1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "citizen-report.png"), full_page=True)

    page.click("#submit")
    expect(page.locator("#done")).to_be_visible()
    tracking_id = page.locator("#tracking-id").inner_text().strip()
    assert TRACKING_ID.match(tracking_id), tracking_id

    page.click("#track-link")
    expect(page.locator("#case-status")).to_have_text("已受理")
    number = page.locator("#case-number").inner_text().strip()
    assert tracking_id.startswith(number)
    expect(page.locator("#rating-form")).to_have_count(0)

    _handle_and_close(live, number)

    page.reload()
    expect(page.locator("#case-status")).to_have_text("已办结")
    expect(page.locator("#after-photos img")).to_have_count(1)
    expect(page.locator("#rating-form")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "citizen-track.png"), full_page=True)

    page.fill("#comment", "处理得很及时")
    page.click("button[value=satisfied]")
    expect(page.locator("#my-ratings")).to_contain_text("满意")
    expect(page.locator("#rating-form")).to_have_count(0)

    # The tracking id is kept on the phone: the look-up page lists it.
    page.goto("/citizen/track")
    expect(page.locator("#mine-list a")).to_have_text(tracking_id)
    own = (live.base_url, f"blob:{live.base_url}")  # blob: the photo previews on the phone
    assert all(url.startswith(own) for url in requests), requests
    context.close()


def test_without_a_position_fix_the_citizen_picks_the_place_on_the_map_in_english(
    browser: Browser, live: Live
) -> None:
    context = _phone(browser, live, geolocation=False)
    page = context.new_page()
    page.goto("/citizen")
    page.click("#lang-switch")
    expect(page.locator("#report-form h1")).to_have_text("Report a problem")
    page.fill("#description", "Rubbish piled up next to the bus stop")
    page.click("#submit")
    expect(page.locator("#form-error")).to_have_text("Please mark the place first")

    page.click("#locate")
    expect(page.locator("#position-status")).to_contain_text("not available")
    expect(page.locator("#map path.grid")).to_have_count(17)
    grid = page.locator("#map path.grid").nth(8).bounding_box()
    assert grid is not None
    page.mouse.click(grid["x"] + grid["width"] / 2, grid["y"] + grid["height"] / 2)
    expect(page.locator("#position-status")).to_contain_text("Place chosen")
    lon = float(page.locator("#lon").input_value())
    lat = float(page.locator("#lat").input_value())
    assert 113.9 < lon < 114.2 and 22.6 < lat < 22.8

    page.click("#submit")
    expect(page.locator("#done")).to_be_visible()
    tracking_id = page.locator("#tracking-id").inner_text().strip()
    with httpx.Client(base_url=live.base_url, timeout=10) as api:
        followed = api.get(f"/api/citizen/reports/{tracking_id}").json()
    assert followed["status"] == "open"
    assert abs(followed["lon"] - lon) < 1e-5 and abs(followed["lat"] - lat) < 1e-5
    context.close()
