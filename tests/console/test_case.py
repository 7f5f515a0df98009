"""The case page per role: what each may see of the complainant and which actions it offers."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cases.api_support import point
from tests.support.browser import DESKTOP, LiveStreet, sign_in

pytestmark = [pytest.mark.slow]

PHONE = "13912340001"


@pytest.fixture(scope="module")
def case(street: LiveStreet) -> dict[str, Any]:
    lon, lat = point(0)
    body = {
        "channel": "hotline_12345", "matter_code": "09009", "description": "小区门口车辆乱停",
        "lon": lon, "lat": lat, "caller_number": PHONE, "complainant_name": "李女士",
    }  # fmt: skip
    answer = street.api("op01").post("/api/cases", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def open_case(browser: Browser, street: LiveStreet, username: str, case_id: int) -> Page:
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, street.base_url, username, next_path=f"/console/cases/{case_id}")
    expect(page.locator("#case-page")).to_be_visible()
    return page


def actions(page: Page) -> list[str]:
    return page.locator("#case-actions [data-action]").evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )


def test_a_leader_sees_the_caller_and_may_only_supervise_or_note(
    street: LiveStreet, browser: Browser, case: dict[str, Any]
) -> None:
    page = open_case(browser, street, "leader01", case["id"])
    expect(page.locator("[data-report]")).to_contain_text(PHONE)
    assert actions(page) == ["supervise", "note"]
    expect(page.locator("#case-recommend")).to_have_count(0)  # he does not dispatch
    page.click("#action-supervise")
    page.click("#action-confirm")  # no reason: refused, the dialog stays
    expect(page.get_by_text("请填写理由").first).to_be_visible()
    page.fill("#action-reason", "群众反映多次，请加快办理")
    page.click("#action-confirm")
    expect(page.get_by_text("督办", exact=True).first).to_be_visible()
    assert street.api("op01").get(f"/api/cases/{case['id']}").json()["supervised"] is True
    page.context.close()


def test_a_squad_leader_sees_the_caller_masked(
    street: LiveStreet, browser: Browser, case: dict[str, Any]
) -> None:
    page = open_case(browser, street, "squad01", case["id"])
    reports = page.locator("[data-report]")
    expect(reports).to_contain_text("139****0001")
    expect(reports).not_to_contain_text(PHONE)
    expect(reports).to_contain_text("李*")
    page.context.close()


def test_an_operator_is_told_why_registration_waits_and_nothing_changes(
    street: LiveStreet, browser: Browser, case: dict[str, Any]
) -> None:
    page = open_case(browser, street, "op02", case["id"])
    before = street.api("op01").get(f"/api/cases/{case['id']}").json()["version"]
    page.click("#action-register")  # 12345 is verified (核实) first
    expect(page.get_by_text("该渠道的案件需先核实再立案")).to_be_visible()
    after = street.api("op01").get(f"/api/cases/{case['id']}").json()
    assert after["state"] == "reported" and after["version"] == before
    page.context.close()


def test_an_unknown_case_says_so(street: LiveStreet, browser: Browser) -> None:
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, street.base_url, "op01", next_path="/console/cases/999999")
    expect(page.locator("#case-not-found")).to_be_visible()
    page.context.close()
