"""Intake in a real browser: a 12345 call typed with the keyboard alone, duplicates shown first.

The search helpers (matters by pinyin initials, places by name) are checked without a browser.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    DESKTOP,
    LiveStreet,
    OutsideRequests,
    screenshot,
    sign_in,
)
from urbanops.catalog.models import CatalogEntry
from urbanops.ui.console.intake import MatterChoice, Place, _choice, search_matters, search_places


def _entry(code: str, name: str, keywords: str) -> CatalogEntry:
    return CatalogEntry(
        kind="matter", code=code, major_code=code[:2], major_name="街面秩序类", name=name,
        keywords=keywords, standard_ref="GB/T 47678.5-2026",
    )  # fmt: skip


CHOICES: tuple[MatterChoice, ...] = tuple(
    _choice(e)
    for e in (
        _entry("09005", "店外经营", "店外经营"),
        _entry("09006", "占道经营", "占道经营"),
        _entry("09009", "机动车乱停放", "机动车乱停放|乱停车"),
        _entry("06010", "垃圾无人清理", "垃圾无人清理|暴露垃圾"),
    )
)


def test_matters_are_found_by_pinyin_initials_code_name_and_keyword() -> None:
    assert [c.code for c in search_matters(CHOICES, "zdjy")] == ["09006"]
    assert [c.code for c in search_matters(CHOICES, "ZDJY ")] == ["09006"]
    assert [c.code for c in search_matters(CHOICES, "0900")] == ["09005", "09006", "09009"]
    assert [c.code for c in search_matters(CHOICES, "经营")] == ["09005", "09006"]
    assert [c.code for c in search_matters(CHOICES, "乱停车")] == ["09009"]
    assert [c.code for c in search_matters(CHOICES, "bllj")] == ["06010"]  # 暴露垃圾, a keyword
    assert search_matters(CHOICES, "   ") == []


def test_places_are_found_by_name_or_initials_best_first() -> None:
    found = [
        Place("松元厦第一网格", 114.0, 22.7, "grid", "syxdywg"),
        Place("松元厦社区", 114.0, 22.7, "community", "syxsq"),
        Place("环观中路与松元路交汇处", 114.0, 22.7, "landmark", "hgzlysyljhc"),
    ]
    assert [p.name for p in search_places(found, "松元")] == [
        "松元厦第一网格", "松元厦社区", "环观中路与松元路交汇处",
    ]  # fmt: skip
    assert [p.name for p in search_places(found, "syxsq")] == ["松元厦社区"]


# --- in the browser ---------------------------------------------------------------------------


def enter_hotline_call(page: Page, *, caller: str, matter: str, text: str, place: str) -> None:
    """Type a 12345 call from the channel toggle on, with Tab and Enter only."""
    page.locator("#intake-caller_number").focus()
    page.keyboard.type(caller)
    page.keyboard.press("Tab")
    page.keyboard.type("王先生")
    page.keyboard.press("Tab")
    page.keyboard.type(caller)
    page.locator("#intake-matter").focus()
    page.keyboard.type(matter)
    expect(page.locator("#intake-matter-results")).to_be_visible()
    page.keyboard.press("Enter")  # the first match; the description gets the focus
    expect(page.locator("#intake-matter-chosen")).to_contain_text("09006")
    expect(
        page.locator("#intake-description textarea, textarea#intake-description")
    ).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Tab")
    page.keyboard.type(place)
    expect(page.locator("#intake-place-results")).to_be_visible()
    page.keyboard.press("Enter")  # the place; the address gets the focus
    expect(page.locator("#intake-point")).to_contain_text("网格")


@pytest.mark.slow
def test_operator_enters_a_hotline_call_with_the_keyboard(
    street: LiveStreet, browser: Browser
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    outside = OutsideRequests(street.base_url).attach(page)
    sign_in(page, street.base_url, "op01", next_path="/console/intake")
    expect(page.locator("#intake-title")).to_be_visible()
    enter_hotline_call(
        page, caller="13912345678", matter="zdjy", text="路口有人摆摊卖水果，占了人行道",
        place="松元厦第一",
    )  # fmt: skip
    expect(page.locator("#intake-duplicates-none")).to_be_visible()
    page.keyboard.press("Enter")  # saves
    page.wait_for_url(f"{street.base_url}/console/cases/*")
    case_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    case = street.api("op01").get(f"/api/cases/{case_id}").json()
    assert case["channel"] == "hotline_12345"
    assert case["matter_code"] == "09006"
    assert case["state"] == "reported"
    assert case["reports"][0]["caller_number"] == "13912345678"
    assert case["reports"][0]["complainant_name"] == "王先生"
    assert case["responsibility_grid_code"] is not None

    # The same problem at the same place again: the page says which case it would join.
    page.goto(f"{street.base_url}/console/intake")
    enter_hotline_call(
        page, caller="13800001111", matter="占道", text="还是那个水果摊", place="松元厦第一",
    )  # fmt: skip
    joins = page.locator('#intake-duplicates [data-joins="1"]')
    expect(joins).to_contain_text(case["number"])
    screenshot(page, "console-intake")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{street.base_url}/console/cases/{case_id}")
    again = street.api("op01").get(f"/api/cases/{case_id}").json()
    assert again["report_count"] == 2
    assert outside.seen == []
    page.close()


@pytest.mark.slow
def test_missing_channel_field_is_told_and_nothing_is_saved(
    street: LiveStreet, browser: Browser
) -> None:
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, street.base_url, "op02", next_path="/console/intake")
    before = street.api("op01").get("/api/cases").json()["total"]
    page.locator("#intake-matter").fill("zdjy")
    page.locator("#intake-matter").press("Enter")
    page.locator("#intake-description").fill("无来电号码")
    page.locator("#intake-map").click(position={"x": 200, "y": 150})
    expect(page.locator("#intake-point")).to_contain_text(",")
    page.locator("#intake-description").press("Enter")
    expect(page.get_by_text("请填写：来电号码")).to_be_visible()
    assert page.url.endswith("/console/intake")
    assert street.api("op01").get("/api/cases").json()["total"] == before
    page.close()


@pytest.mark.slow
def test_grid_officer_may_not_open_intake(street: LiveStreet) -> None:
    import httpx

    answer = httpx.get(f"{street.base_url}/console/intake", headers=street.bearer("gh0102"))
    assert answer.status_code == 403
