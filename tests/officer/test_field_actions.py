"""What a field officer needs besides accept and handle, in a real browser (Chromium, phone
viewport): the SOS button on every page (two taps, his position, an ``sos`` alert for the shift
leader; with no position at all it still goes, and tells him to call), returning a task (回退)
with a reason, asking to put one on hold (申请挂账) with a reason; an empty reason is refused on
the page, and a case changed meanwhile is told and the page reloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from tests.cases.api_support import point
from tests.officer.test_browser import dispatch_to, user_id
from tests.support.browser import PHONE, LiveStreet, OutsideRequests, screenshot, sign_in

pytestmark = [pytest.mark.slow]

OFFICER = "gh0101"  # a grid officer of grid 440309001-01, where point(0) lies
OTHER = "gh0102"  # another one of the same grid
# Each test reports its own matter at point(0): the same matter there would merge as a duplicate.


def phone_context(browser: Browser, *, located: bool) -> BrowserContext:
    """A phone in Shenzhen at point(0), with the location granted or not."""
    lon, lat = point(0)
    where: dict[str, Any] = {
        "geolocation": {"longitude": lon, "latitude": lat, "accuracy": 10},
        "permissions": ["geolocation"],
    }
    return browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        timezone_id="Asia/Shanghai", **(where if located else {}),
    )  # fmt: skip


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = phone_context(browser, located=True)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def unlocated_phone(browser: Browser) -> Iterator[BrowserContext]:
    context = phone_context(browser, located=False)
    try:
        yield context
    finally:
        context.close()


def sos_alerts(street: LiveStreet, officer_id: int) -> list[dict[str, Any]]:
    """The SOS alerts of the officer, as the shift leader sees them."""
    with street.api("duty01") as api:
        answer = api.get("/api/alerts", params={"kind": "sos"})
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json()["items"] if a["user_id"] == officer_id]


def case_of(street: LiveStreet, case_id: int) -> dict[str, Any]:
    with street.api("dispatch01") as api:
        answer = api.get(f"/api/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def actions_sent(page: Page) -> list[str]:
    """Every workflow action the page posts from now on (its URL)."""
    sent: list[str] = []

    def note(request: Request) -> None:
        if request.method == "POST" and "/actions/" in request.url:
            sent.append(request.url)

    page.on("request", note)
    return sent


def test_sos_takes_a_second_tap_and_reaches_the_shift_leader(
    street: LiveStreet, phone: BrowserContext
) -> None:
    officer_id = user_id(street, OFFICER)
    page = phone.new_page()
    outside = OutsideRequests(street.base_url).attach(page)
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    expect(page.locator("#position-status")).to_contain_text("位置已上报", timeout=15_000)
    sos = page.locator("#sos")
    expect(sos).to_be_visible()
    expect(sos).to_have_text("SOS")
    assert sos.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(180, 35, 24)"

    # one tap only arms it; left alone, it disarms after a few seconds and sends nothing
    status = page.locator("#sos-status")
    sos.click()
    expect(sos).to_have_class("armed")
    expect(status).to_have_text("再按一次 SOS 发出求助")
    expect(sos).not_to_have_class("armed", timeout=8_000)
    expect(status).to_be_hidden()
    assert sos_alerts(street, officer_id) == []

    # two taps send it with his position
    sos.click()
    sos.click()
    expect(status).to_have_text("已发出求助，指挥中心已收到您的位置", timeout=15_000)
    expect(status).to_have_class("ok")
    [alert] = sos_alerts(street, officer_id)
    lon, lat = point(0)
    assert alert["severity"] == "critical" and alert["open"] and alert["to_role"] == "shift_leader"
    assert abs(alert["data"]["lon"] - lon) < 1e-6 and abs(alert["data"]["lat"] - lat) < 1e-6
    assert alert["data"]["source"] == "browser"
    page.click("#sos-status")  # he taps the answer away
    expect(page.locator("#sos-status")).to_be_hidden()
    assert outside.seen == []
    page.close()


def test_sos_without_any_position_still_goes_and_tells_him_to_call(
    street: LiveStreet, unlocated_phone: BrowserContext
) -> None:
    officer_id = user_id(street, OTHER)
    page = unlocated_phone.new_page()
    sign_in(page, street.base_url, OTHER, next_path="/officer/report")
    page.click("#sos")
    page.click("#sos")
    status = page.locator("#sos-status")
    expect(status).to_have_text(
        "已发出求助，但无法定位！请立即打电话告知指挥中心您的位置", timeout=15_000
    )
    expect(status).to_have_class("error")
    expect(page.locator("#sos")).to_be_enabled()  # he may press it again
    [alert] = sos_alerts(street, officer_id)  # the centre hears it, without a place
    assert alert["severity"] == "critical" and alert["open"]
    assert alert["data"].get("lon") is None
    page.close()


def test_the_officer_returns_a_task_with_a_reason(
    street: LiveStreet, phone: BrowserContext
) -> None:
    officer_id = user_id(street, OFFICER)
    case = dispatch_to(street, officer_id, matter_code="06010", description="路边有废弃家具")
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    expect(page.locator(f'.task[data-id="{case["id"]}"]')).to_be_visible()
    page.goto(f"{street.base_url}/officer/task/{case['id']}")
    sent = actions_sent(page)
    expect(page.locator("#return-form")).to_be_hidden()
    page.click("#return-open")
    expect(page.locator("#return-form")).to_be_visible()
    expect(page.locator("#return-reason")).to_be_focused()
    page.fill("#return-reason", "该位置属于相邻网格，请改派")
    screenshot(page, "officer-task-actions", full_page=True)

    # an empty reason (spaces only) is refused on the page: nothing is sent
    page.fill("#return-reason", "   ")
    page.click("#return-submit")
    expect(page.locator("#task-error")).to_have_text("请填写原因")
    page.wait_for_timeout(300)
    assert sent == []
    assert case_of(street, case["id"])["version"] == case["version"]

    page.fill("#return-reason", "该位置属于相邻网格，请改派")
    page.click("#return-submit")
    expect(page.locator("#return-done")).to_have_text("已回退，正在返回任务列表…")
    page.wait_for_url(f"{street.base_url}/officer/", timeout=10_000)
    expect(page.locator("h1")).to_have_text("我的任务")
    expect(page.locator(f'.task[data-id="{case["id"]}"]')).to_have_count(0)
    returned = case_of(street, case["id"])
    assert returned["state"] == "registered" and returned["officer_id"] is None
    last = returned["timeline"][-1]
    assert last["action"] == "return" and last["reason"] == "该位置属于相邻网格，请改派"
    assert (last["from_state"], last["to_state"]) == ("dispatched", "registered")
    assert len(sent) == 1 and sent[0].endswith(f"/api/cases/{case['id']}/actions/return")
    page.close()


def test_the_officer_asks_to_put_a_task_on_hold(street: LiveStreet, phone: BrowserContext) -> None:
    officer_id = user_id(street, OFFICER)
    case = dispatch_to(
        street, officer_id, matter_code="07001", description="违规广告牌需产权单位拆除"
    )
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    page.goto(f"{street.base_url}/officer/task/{case['id']}")
    page.click("#accept")
    expect(page.locator("#task-state")).to_have_text("处置中")
    page.click("#suspend-open")
    page.click("#suspend-submit")
    expect(page.locator("#task-error")).to_have_text("请填写原因")
    page.fill("#suspend-reason", "需产权单位配合拆除，暂时无法处置")
    page.click("#suspend-submit")
    expect(page.locator("#suspend-done")).to_have_text("已申请挂账，等待值班长审批")
    expect(page.locator("#suspend-form")).to_be_hidden()
    expect(page.locator("#suspend-open")).to_be_hidden()
    asked = case_of(street, case["id"])
    assert asked["state"] == "accepted" and asked["suspension_requested"] is True
    last = asked["timeline"][-1]
    assert last["action"] == "request_suspension"
    assert last["reason"] == "需产权单位配合拆除，暂时无法处置"
    # the page knows the new version: he can still return the task without a conflict
    page.click("#return-open")
    expect(page.locator("#suspend-form")).to_be_hidden()
    page.fill("#return-reason", "产权单位要求由街道统一处理")
    page.click("#return-submit")
    page.wait_for_url(f"{street.base_url}/officer/", timeout=10_000)
    assert case_of(street, case["id"])["timeline"][-1]["action"] == "return"
    page.close()


def test_a_case_changed_meanwhile_is_told_and_the_page_reloads(
    street: LiveStreet, phone: BrowserContext
) -> None:
    officer_id = user_id(street, OFFICER)
    case = dispatch_to(street, officer_id, matter_code="09010", description="共享单车乱停放")
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    page.goto(f"{street.base_url}/officer/task/{case['id']}")
    with street.api("dispatch01") as api:  # the dispatcher sends it again meanwhile
        again = api.post(
            f"/api/cases/{case['id']}/actions/redispatch", json={"officer_id": officer_id}
        )
    assert again.status_code == 200, again.text
    version = again.json()["version"]
    page.click("#return-open")
    page.fill("#return-reason", "不属于本网格")
    page.click("#return-submit")
    expect(page.locator("#task-error")).to_have_text("任务已被他人更新，页面即将刷新…")
    expect(page.locator("#task")).to_have_attribute("data-version", str(version), timeout=10_000)
    expect(page.locator("#task-error")).to_have_text("")
    assert case_of(street, case["id"])["timeline"][-1]["action"] == "redispatch"

    english = page.goto(f"{street.base_url}/officer/task/{case['id']}?lang=en")
    assert english is not None and english.ok
    expect(page.locator("#return-open")).to_have_text("Return")
    expect(page.locator("#suspend-open")).to_have_text("Ask to put on hold")
    expect(page.locator("#sos")).to_have_text("SOS")
    page.goto(f"{street.base_url}/officer/?lang=zh-CN")
    page.close()
