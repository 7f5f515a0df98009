"""The leaders' board in a real browser: its counts follow cases made and closed through the API,
the big-screen mode, and who may open it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cases.api_support import hotline_body, report_body
from tests.support.browser import (
    DESKTOP,
    LiveStreet,
    OutsideRequests,
    screenshot,
    sign_in,
)
from urbanops.auth import service as auth
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

pytestmark = [pytest.mark.slow]


def _user_id(street: LiveStreet, username: str) -> int:
    engine = make_engine(street.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            user = auth.find_user(session, username=username)
            assert user is not None
            return user.id
    finally:
        engine.dispose()


def _number(page: Page, selector: str) -> int:
    text = page.locator(selector).inner_text().strip()
    assert text.isdigit(), text
    return int(text)


def _channel_count(page: Page, channel: str) -> int:
    chip = page.locator(f'[data-channel="{channel}"]')
    if chip.count() == 0:
        return 0
    return int(chip.get_attribute("data-count") or 0)


def _board(browser: Browser, street: LiveStreet, path: str = "/console/board") -> Page:
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, street.base_url, "leader01", next_path=path)
    expect(page.locator("#board-reported-today")).to_have_text(
        re.compile(r"^\d+$")
    )  # first figures drawn
    return page


def test_board_counts_follow_cases_made_and_closed_through_the_api(
    street: LiveStreet, browser: Browser
) -> None:
    page = _board(browser, street)
    outside = OutsideRequests(street.base_url).attach(page)
    reported = _number(page, "#board-reported-today")
    closed = _number(page, "#board-closed-today")
    hotline = _channel_count(page, "hotline_12345")
    grid_reports = _channel_count(page, "grid_report")

    operator, officer = street.api("op01"), street.api("gh0101")
    made = [
        operator.post("/api/cases", json=hotline_body(0, matter_code="09009")),
        operator.post("/api/cases", json=hotline_body(1, matter_code="06010")),
        officer.post("/api/cases", json=report_body(2, matter_code="09006")),
    ]
    assert all(r.status_code in (200, 201) for r in made), [r.text for r in made]
    expect(page.locator("#board-reported-today")).to_have_text(str(reported + 3), timeout=20_000)
    expect(page.locator('[data-channel="hotline_12345"]')).to_have_attribute(
        "data-count", str(hotline + 2)
    )
    expect(page.locator('[data-channel="grid_report"]')).to_have_attribute(
        "data-count", str(grid_reports + 1)
    )

    case_id = made[2].json()["id"]
    gh0101 = _user_id(street, "gh0101")
    steps = [
        ("duty01", "register", {}),
        ("dispatch01", "dispatch", {"officer_id": gh0101}),
        ("gh0101", "accept", {}),
        ("gh0101", "handle", {}),
        ("op01", "check", {}),
        ("duty01", "close", {}),
    ]
    for who, action, body in steps:
        answer = street.api(who).post(f"/api/cases/{case_id}/actions/{action}", json=body)
        assert answer.status_code == 200, answer.text
    expect(page.locator("#board-closed-today")).to_have_text(str(closed + 1), timeout=20_000)
    expect(page.locator("#board-chart-trend canvas").first).to_be_visible()
    screenshot(page, "console-board")
    assert outside.seen == []
    page.close()


def test_the_window_switch_and_the_english_board(street: LiveStreet, browser: Browser) -> None:
    page = _board(browser, street)
    page.locator("#board-window").get_by_text("近30天").click()
    expect(page.locator("#board-title")).to_have_text("领导看板")
    page.click("#lang-switch")
    expect(page.locator("#board-title")).to_have_text("Leaders' board")
    expect(page.locator("#kpi-on-time-rate")).to_contain_text("On-time closure rate")
    page.close()


def test_big_screen_mode_has_no_header_and_large_type(street: LiveStreet, browser: Browser) -> None:
    page = _board(browser, street, "/console/board?screen=1")
    expect(page.locator("#board")).to_have_attribute("data-screen", "1")
    expect(page.locator("#console-title")).to_be_hidden()
    assert page.evaluate("document.body.classList.contains('board-screen')")
    size = page.locator("#board-closed-today").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert size >= 48, size
    screenshot(page, "console-board-screen")
    page.click("#board-screen-exit")
    expect(page.locator("#console-title")).to_be_visible()
    page.close()


def test_the_board_is_for_leaders_only(street: LiveStreet) -> None:
    url = f"{street.base_url}/console/board"
    assert httpx.get(url, headers=street.bearer("leader01")).status_code == 200
    assert httpx.get(url, headers=street.bearer("op01")).status_code == 403
    assert httpx.get(url, headers=street.bearer("gh0101")).status_code == 403
