"""The officer's phone page in a real browser (Chromium, phone viewport, granted position): a
dispatched task appears without reload, he opens it, checks the map links, accepts, handles with
an after-photo; he reports a new problem with a photo and his position; the page sends his
position as he moves; nothing is fetched from outside the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.cases.api_support import point
from tests.cases.evidence_files import jpeg
from tests.support.browser import (
    PHONE,
    LiveStreet,
    OutsideRequests,
    officer_accepts_and_handles,
    screenshot,
    sign_in,
)
from urbanops.kit.geo import wgs84_to_gcj02

pytestmark = [pytest.mark.slow]

OFFICER = "gh0101"  # a grid officer of grid 440309001-01, where point(0) lies


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    lon, lat = point(0)
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="UTC",
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 10},
        permissions=["geolocation"],
    )
    try:
        yield context
    finally:
        context.close()


def user_id(street: LiveStreet, username: str) -> int:
    with street.api(username) as api:
        me = api.get("/api/auth/me")
        assert me.status_code == 200, me.text
        return int(me.json()["id"])


def dispatch_to(street: LiveStreet, officer_id: int, **body: Any) -> dict[str, Any]:
    """A grid report at point(0), registered and dispatched to the officer, through the API."""
    lon, lat = point(0)
    report = {
        "channel": "grid_report", "matter_code": "09006", "lon": lon, "lat": lat,
        "description": "松元厦路口有流动摊贩占道经营水果", "address": "观湖街道松元厦路口",
    } | body  # fmt: skip
    with street.api("op01") as op, street.api("dispatch01") as dispatcher:
        case = op.post("/api/cases", json=report)
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]
        assert op.post(f"/api/cases/{case_id}/actions/register").status_code == 200
        sent = dispatcher.post(
            f"/api/cases/{case_id}/actions/dispatch", json={"officer_id": officer_id}
        )
        assert sent.status_code == 200, sent.text
        data: dict[str, Any] = sent.json()
        return data


def latest_position(street: LiveStreet, officer_id: int) -> tuple[float, float] | None:
    with street.api("dispatch01") as api:
        answer = api.get("/api/positions/latest")
    if answer.status_code == 503:  # "retry shortly" (SQLite busy while positions are flushed)
        return None
    assert answer.status_code == 200, answer.text
    mine = [r for r in answer.json() if r["user_id"] == officer_id]
    return (mine[0]["lon"], mine[0]["lat"]) if mine else None


def wait_for_position(
    street: LiveStreet, officer_id: int, lon: float, lat: float, page: Any
) -> None:
    """Poll the API (the page posts in the background) until the officer is at (lon, lat)."""
    found = None
    for _ in range(100):
        found = latest_position(street, officer_id)
        if found and abs(found[0] - lon) < 1e-6 and abs(found[1] - lat) < 1e-6:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the officer's latest position is {found}, not {(lon, lat)}")


def test_anonymous_phone_is_sent_to_sign_in(street: LiveStreet) -> None:
    answer = httpx.get(f"{street.base_url}/officer/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/officer/"


def test_the_officer_works_a_task_and_reports_a_problem(
    street: LiveStreet, phone: BrowserContext, tmp_path: Path
) -> None:
    officer_id = user_id(street, OFFICER)
    page = phone.new_page()
    outside = OutsideRequests(street.base_url).attach(page)
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    expect(page.locator("h1")).to_have_text("我的任务")
    expect(page.locator(".empty")).to_have_text("暂无待办任务")

    # the page sends his position as soon as it has one, and again when he has moved
    lon, lat = point(0)
    wait_for_position(street, officer_id, lon, lat, page)
    expect(page.locator("#position-status")).to_have_text(re.compile(r"^位置已上报 \d\d:\d\d$"))
    shown = page.locator("#position-status").inner_text()[-5:]
    street_now = datetime.now(ZoneInfo("Asia/Shanghai"))  # the phone is set to UTC
    assert shown in {(street_now - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}
    # about 30 m away (the page sends at once from 20 m), a second later: a walk, where 70 m
    # straight after the first fix read as an impossible 250 km/h and was refused
    moved = (lon + 0.0002, lat + 0.0002)
    page.wait_for_timeout(1000)
    phone.set_geolocation({"longitude": moved[0], "latitude": moved[1], "accuracy": 10})
    wait_for_position(street, officer_id, moved[0], moved[1], page)

    # a task dispatched to him shows up without a reload (the page polls), with its countdown
    case = dispatch_to(street, officer_id)
    task = page.locator(f'.task[data-id="{case["id"]}"]')
    expect(task).to_be_visible(timeout=30_000)
    expect(page.locator("#news")).to_be_visible()
    expect(task.locator(".state")).to_have_text("待签收")
    first = task.locator(".countdown").inner_text()
    assert first.startswith("剩余"), first
    assert "officer." not in first  # every unit has its words
    screenshot(page, "officer-tasks")
    # it ticks every second on the server's clock: a deadline 90 s away counts down by seconds
    task.locator(".countdown").evaluate(
        "el => el.setAttribute('data-due', String(Date.now() + 90500))"
    )
    expect(task.locator(".countdown")).to_have_text(re.compile(r"^剩余1分(30|29|28)秒$"))
    expect(task.locator(".countdown")).to_have_text(re.compile(r"^剩余1分2[0-7]秒$"), timeout=6_000)

    # the task: the map app links point at the case (geo: in WGS84, AMap in GCJ-02)
    task.locator("a").click()
    page.wait_for_url(f"{street.base_url}/officer/task/{case['id']}")
    expect(page.locator("#task-number")).to_have_text(case["number"])
    geo = page.locator("#map-geo").get_attribute("href")
    assert geo is not None and geo.startswith(f"geo:{case['lat']:.6f},{case['lon']:.6f}?q=")
    gx, gy = wgs84_to_gcj02([case["lon"]], [case["lat"]])
    amap = page.locator("#map-amap").get_attribute("href")
    assert amap is not None
    assert amap.startswith(f"https://uri.amap.com/marker?position={gx[0]:.6f},{gy[0]:.6f}&")

    # accept, then handle with a photo from the "camera" and a note
    page.click("#accept")
    expect(page.locator("#task-state")).to_have_text("处置中")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg(colour=(30, 160, 60)))
    page.set_input_files("#after-photos", str(photo))
    expect(page.locator("#previews img")).to_have_count(1)
    page.fill("#note", "摊贩已劝离，路面已清理")
    screenshot(page, "officer-task", full_page=True)
    page.click("#handle")
    expect(page.locator("#handled")).to_be_visible(timeout=30_000)
    with street.api("dispatch01") as api:
        handled = api.get(f"/api/cases/{case['id']}").json()
        evidence = api.get(f"/api/cases/{case['id']}/evidence").json()
    assert handled["state"] == "handled"
    assert handled["timeline"][-1]["note"] == "摊贩已劝离，路面已清理"
    assert [e["phase"] for e in evidence] == ["after"]
    page.goto(f"{street.base_url}/officer/")
    expect(page.locator(f'.task[data-id="{case["id"]}"]')).to_have_count(0)

    # report a new problem (巡查上报) with a photo at his position
    page.click("#nav-report")
    expect(page.locator("#here")).to_contain_text(f"{moved[1]:.5f}")
    page.select_option("#matter", "09009")
    page.fill("#description", "消防通道被一辆白色轿车占用")
    shot = tmp_path / "problem.jpg"
    shot.write_bytes(jpeg(colour=(200, 200, 30)))
    page.set_input_files("#report-photos", str(shot))
    expect(page.locator("#previews img")).to_have_count(1)
    screenshot(page, "officer-report", full_page=True)
    page.click("#submit")
    expect(page.locator("#done")).to_be_visible(timeout=30_000)
    number = page.locator("#done-number").inner_text()
    with street.api("op01") as api:
        reported = api.get(f"/api/cases/by-number/{number}").json()
        photos = api.get(f"/api/cases/{reported['id']}/evidence").json()
    assert reported["channel"] == "grid_report" and reported["matter_code"] == "09009"
    assert abs(reported["lon"] - moved[0]) < 1e-6 and abs(reported["lat"] - moved[1]) < 1e-6
    assert reported["reports"][0]["description"] == "消防通道被一辆白色轿车占用"
    assert [p["phase"] for p in photos] == ["before"]

    assert outside.seen == []
    page.close()


def test_the_helper_for_the_whole_flow(
    street: LiveStreet, phone: BrowserContext, tmp_path: Path
) -> None:
    officer_id = user_id(street, OFFICER)
    case = dispatch_to(street, officer_id, matter_code="06010", description="路边垃圾无人清理")
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    photo = tmp_path / "after.jpg"
    photo.write_bytes(jpeg())
    officer_accepts_and_handles(page, street.base_url, case["id"], photo)
    with street.api("dispatch01") as api:
        assert api.get(f"/api/cases/{case['id']}").json()["state"] == "handled"
    page.close()


def test_english_on_the_phone(street: LiveStreet, phone: BrowserContext) -> None:
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("My tasks")
    page.goto(f"{street.base_url}/officer/report")
    expect(page.locator("#report-form h1")).to_have_text("Report a problem")
    page.goto(f"{street.base_url}/officer/?lang=zh-CN")
    page.close()


def test_a_dispatcher_is_refused_the_officers_page(street: LiveStreet) -> None:
    answer = httpx.get(f"{street.base_url}/officer/", headers=street.bearer("dispatch01"))
    assert answer.status_code == 403 and "此页面仅供网格员使用" in answer.text


def test_offline_is_told_and_nothing_is_sent_twice(
    street: LiveStreet, phone: BrowserContext
) -> None:
    page = phone.new_page()
    sign_in(page, street.base_url, OFFICER, next_path="/officer/")
    page.goto(f"{street.base_url}/officer/report")
    expect(page.locator("#here")).to_contain_text("当前位置")
    page.select_option("#matter", "06028")
    page.fill("#description", "断网时上报")
    phone.set_offline(True)
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_contain_text("网络已断开")
    page.click("#submit")
    expect(page.locator("#form-error")).to_have_text("网络不畅，请稍后再试。")
    expect(page.locator("#submit")).to_be_enabled()
    phone.set_offline(False)
    expect(page.locator("#offline")).to_be_hidden()
    # back online, a double tap sends one report (the button is disabled while it is sent)
    page.locator("#submit").dblclick()
    expect(page.locator("#done")).to_be_visible(timeout=30_000)
    number = page.locator("#done-number").inner_text()
    with street.api("op01") as api:
        case = api.get(f"/api/cases/by-number/{number}").json()
        found = api.get("/api/cases", params={"q": "断网时上报"}).json()
    assert [c["number"] for c in found["items"]] == [number]
    assert [r["description"] for r in case["reports"]] == ["断网时上报"]
    page.close()
