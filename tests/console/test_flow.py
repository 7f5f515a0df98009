"""The whole loop in real browsers: a 12345 call taken, dispatched, handled on the phone, checked,
closed, and counted on the leaders' board; and an officer kept out of the console's admin pages.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.cases.api_support import demo_officer, point
from tests.console.test_intake import enter_hotline_call
from tests.support.browser import (
    DESKTOP,
    PHONE,
    LiveStreet,
    OutsideRequests,
    screenshot,
    sign_in,
)
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

pytestmark = [pytest.mark.slow]

GRID = "440309001-01"  # 松元厦第一网格, which the intake's place search finds


def officer_of(street: LiveStreet, grid_code: str) -> tuple[str, int]:
    """The username and id of an on-duty demo officer of ``grid_code``."""
    engine = make_engine(street.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine), write=False) as session:
            user = demo_officer(session, grid_code)
            return user.username, user.id
    finally:
        engine.dispose()


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 160, 90)).save(out, format="JPEG")
    return out.getvalue()


def state_of(page: Page) -> str:
    return page.locator("#case-page").get_attribute("data-state") or ""


def test_a_hotline_call_from_intake_to_the_board(street: LiveStreet, browser: Browser) -> None:
    # A grid officer of 松元厦第一网格 is out on patrol with his phone's position on.
    username, user_id = officer_of(street, GRID)
    lon, lat = point(0)
    fix = {"lon": lon + 0.002, "lat": lat + 0.001, "accuracy": 8, "timestamp": time.time() * 1000}
    answer = street.api(username).post("/api/positions/me", json=fix)
    assert answer.status_code == 200 and answer.json()["accepted"], answer.text

    # The operator takes the call.
    operator = browser.new_context(viewport=DESKTOP).new_page()
    outside = OutsideRequests(street.base_url).attach(operator)
    sign_in(operator, street.base_url, "op01", next_path="/console/intake")
    enter_hotline_call(
        operator, caller="13712345678", matter="zdjy", text="地铁口有流动摊贩占道卖水果",
        place="松元厦第一",
    )  # fmt: skip
    operator.keyboard.press("Enter")
    operator.wait_for_url(f"{street.base_url}/console/cases/*")
    case_id = int(operator.url.rstrip("/").rsplit("/", 1)[1])
    case = street.api("op01").get(f"/api/cases/{case_id}").json()
    assert case["channel"] == "hotline_12345" and case["state"] == "reported"
    expect(operator.locator("#case-state")).to_have_attribute("data-state", "reported")
    expect(operator.locator('[data-field="channel"]')).to_have_text("12345热线")
    expect(operator.locator("[data-report]")).to_contain_text("13712345678")  # operators see it
    # Only what an operator may do now: 核实, 立案, 不予立案 … never 结案.
    expect(operator.locator("#action-verify")).to_be_visible()
    expect(operator.locator("#action-close")).to_have_count(0)

    # The officer of the grid, whose phone was on, is recommended with an arrival estimate.
    assert case["responsibility_grid_code"] == GRID
    operator.click("#action-verify")  # 核实 (12345 asks for it before 立案)
    row = operator.locator(f'#case-recommend [data-user-id="{user_id}"]')
    expect(row).to_be_visible(timeout=20_000)
    assert int(row.locator("[data-eta-s]").get_attribute("data-eta-s") or "0") > 0
    screenshot(operator, "console-case")
    operator.click(f"#dispatch-{user_id}")
    expect(operator.locator("#case-state")).to_have_attribute("data-state", "dispatched")
    expect(operator.locator('[data-field="officer"]')).not_to_have_text("—")

    # The officer accepts on his phone and handles it with a photo.
    phone = browser.new_context(viewport=PHONE).new_page()
    phone_outside = OutsideRequests(street.base_url).attach(phone)
    sign_in(phone, street.base_url, username, next_path="/officer/")
    phone.goto(f"{street.base_url}/officer/task/{case_id}")
    phone.click("#accept")
    expect(phone.locator("#handle-form")).to_be_visible(timeout=15_000)
    phone.set_input_files(
        "#after-photos", files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
    )
    phone.fill("#note", "已劝离，现场已清理")
    phone.click("#handle")
    expect(phone.locator("#handled")).to_be_visible(timeout=15_000)

    # The operator's page follows by itself; he checks (核查: not the handler's own work).
    expect(operator.locator("#case-state")).to_have_attribute(
        "data-state", "handled", timeout=15_000
    )
    expect(operator.locator('[data-phase="after"] img')).to_have_count(1)
    expect(operator.locator("#action-close")).to_have_count(0)
    operator.click("#action-check")
    expect(operator.locator("#case-state")).to_have_attribute("data-state", "checked")
    expect(operator.locator("#action-close")).to_have_count(0)  # 结案 is the shift leader's

    # The shift leader closes it.
    leader = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(leader, street.base_url, "duty01", next_path=f"/console/cases/{case_id}")
    leader.click("#action-close")
    expect(leader.locator("#case-state")).to_have_attribute("data-state", "closed")
    timeline = [
        a for a in leader.locator("#case-timeline [data-action]").evaluate_all(
            "rows => rows.map(r => r.dataset.action)"
        )
    ]  # fmt: skip
    for step in ("report", "verify", "register", "dispatch", "accept", "handle", "check", "close"):
        assert step in timeline, timeline
    assert street.api("op01").get(f"/api/cases/{case_id}").json()["state"] == "closed"

    # The leaders' board counts it.
    leader.goto(f"{street.base_url}/console/board")
    expect(leader.locator("#board-closed-today")).to_have_text("1", timeout=15_000)
    expect(leader.locator("#board-reported-today")).to_have_text("1")

    assert outside.seen == [] and phone_outside.seen == []
    for page in (operator, phone, leader):
        page.context.close()


def test_an_officer_cannot_open_the_console_admin_pages(
    street: LiveStreet, browser: Browser
) -> None:
    engine_user, _ = officer_of(street, GRID)
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in(page, street.base_url, engine_user, next_path="/officer/")
    answer = page.goto(f"{street.base_url}/console/admin")
    assert answer is not None and answer.status == 403
    expect(page.locator("#forbidden")).to_be_visible()
    case_page = page.goto(f"{street.base_url}/console/cases/1")
    assert case_page is not None and case_page.status == 403
    page.context.close()
