"""Administration in a real browser: only admins get in; an admin edits a channel's limit and
imports a grid file in GCJ-02; bad input is told and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from playwright.sync_api import Browser, Page, expect
from shapely.geometry import mapping
from sqlalchemy import select

from tests.support.browser import (
    DESKTOP,
    LiveStreet,
    OutsideRequests,
    screenshot,
    sign_in,
)
from urbanops.areas.models import Area
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work
from urbanops.kit.geo import from_wgs84

pytestmark = [pytest.mark.slow]

PAGES = ("", "/grids", "/users", "/catalog", "/channels", "/calendar", "/devices")


@pytest.fixture
def admin_page(street: LiveStreet, browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, street.base_url, "admin", next_path="/console/admin")
    yield page
    page.close()


def _field(page: Page, element_id: str) -> Any:
    """The text box of a form field (its attributes land on the box; NiceGUI owns its id)."""
    return page.locator(f'input[data-field="{element_id}"]')


def _do(page: Page, action: str | Callable[[], None], told: str) -> None:
    """Click ``action`` (a selector) or call it; wait for the status line to tell the outcome."""
    seq = page.locator("#admin-status").get_attribute("data-seq")
    if isinstance(action, str):
        page.click(action)
    else:
        action()
    page.wait_for_function(
        f"document.querySelector('#admin-status').dataset.seq !== '{seq}'", timeout=15_000
    )
    expect(page.locator("#admin-status")).to_contain_text(told)


def _unit_grid(street: LiveStreet) -> tuple[str, str, Any]:
    """Code, name and WGS84 outline of one unit grid of the demo street, from the database."""
    engine = make_engine(street.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            area = session.scalars(
                select(Area).where(Area.level == "unit_grid").order_by(Area.code)
            ).first()
            assert area is not None and area.geometry is not None
            return area.code, area.name, shapely.from_wkb(area.geometry)
    finally:
        engine.dispose()


def _centre(street: LiveStreet, code: str) -> tuple[float, float]:
    engine = make_engine(street.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            area = session.scalars(select(Area).where(Area.code == code)).one()
            assert area.centre_lon is not None and area.centre_lat is not None
            return area.centre_lon, area.centre_lat
    finally:
        engine.dispose()


def test_only_admins_open_the_administration_pages(street: LiveStreet) -> None:
    for path in PAGES:
        url = f"{street.base_url}/console/admin{path}"
        assert httpx.get(url, headers=street.bearer("admin")).status_code == 200, path
        for who in ("op01", "gh0101", "leader01"):
            answer = httpx.get(url, headers=street.bearer(who))
            assert answer.status_code == 403, (who, path)
            assert "无权访问" in answer.text


def test_admin_edits_a_channel_limit_and_a_bad_one_changes_nothing(
    street: LiveStreet, admin_page: Page
) -> None:
    page = admin_page
    outside = OutsideRequests(street.base_url).attach(page)
    page.goto(f"{street.base_url}/console/admin/channels?profile=hotline_12345")
    expect(page.locator("#admin-sla-rules")).to_have_attribute("data-profile", "hotline_12345")
    _field(page, "sla-amount-handle").fill("3")
    _field(page, "sla-note-handle").fill("接诉即办：3个工作时内处置")
    _do(page, "#sla-save-handle", "已保存")
    expect(page.locator("#sla-effective-handle")).to_contain_text("3 工作时")

    admin = street.api("admin")
    rules = {r["stage"]: r for r in admin.get("/api/sla-rules?profile=hotline_12345").json()}
    assert (rules["handle"]["amount"], rules["handle"]["unit"]) == (3, "work_hour")

    _field(page, "sla-amount-handle").fill("0")
    _do(page, "#sla-save-handle", "操作失败")
    expect(page.locator("#admin-status")).to_contain_text("时限必须是大于0的数")  # in Chinese
    rules = {r["stage"]: r for r in admin.get("/api/sla-rules?profile=hotline_12345").json()}
    assert rules["handle"]["amount"] == 3

    audit = admin.get("/api/audit", params={"action": "sla_rule.put"}).json()
    assert [row["detail"]["stage"] for row in audit] == ["handle"]
    page.reload()
    expect(_field(page, "sla-amount-handle")).to_have_value("3")
    screenshot(page, "console-admin-channels", full_page=True)
    assert outside.seen == []


def test_admin_imports_a_grid_file_in_gcj02(
    street: LiveStreet, admin_page: Page, tmp_path: Path
) -> None:
    code, name, outline = _unit_grid(street)
    before = _centre(street, code)
    shifted = from_wgs84(outline, "gcj02")  # as AMap would give it: ~500 m off in Shenzhen
    assert shifted.centroid.distance(outline.centroid) > 0.002
    feature = {"type": "Feature", "properties": {"code": code, "name": name},
               "geometry": mapping(shifted)}  # fmt: skip
    path = tmp_path / "grid-gcj02.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    page = admin_page
    page.goto(f"{street.base_url}/console/admin/grids")
    expect(page.locator("#admin-grid-map path")).not_to_have_count(0)
    page.click("#admin-import-crs")
    page.get_by_role("option", name="GCJ-02（高德/腾讯）").click()
    page.locator("#admin-import-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#admin-import-result")).to_have_text("导入完成：新增0个，更新1个")
    after = _centre(street, code)
    assert after == pytest.approx(before, abs=2e-6)  # converted back to WGS84 on import
    screenshot(page, "console-admin-grids", full_page=True)

    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    upload = page.locator("#admin-import-upload input[type=file]")
    _do(page, lambda: upload.set_input_files(str(broken)), "操作失败")
    assert _centre(street, code) == after


def test_admin_creates_a_user_and_changes_his_roles(street: LiveStreet, admin_page: Page) -> None:
    page = admin_page
    page.goto(f"{street.base_url}/console/admin/users")
    _field(page, "admin-user-new-username").fill("op07")
    _field(page, "admin-user-new-name").fill("新受理员")
    _field(page, "admin-user-new-password").fill("a-long-enough-password")
    page.click("#admin-user-new-roles")
    page.get_by_role("option", name="受理员").click()
    page.keyboard.press("Escape")
    _do(page, "#admin-user-create", "已保存")
    admin = street.api("admin")
    users = {u["username"]: u for u in admin.get("/api/users").json()}
    assert users["op07"]["roles"] == ["operator"]

    # the same name again: the service's 409 is told (in the page's language), nothing new
    _do(page, "#admin-user-create", "用户名已被使用")

    _field(page, "admin-user-edit-username").fill("op07")
    page.click("#admin-user-edit-roles")
    page.get_by_role("option", name="派遣员").click()
    page.keyboard.press("Escape")
    _do(page, "#admin-user-save-roles", "已保存")
    users = {u["username"]: u for u in admin.get("/api/users").json()}
    assert users["op07"]["roles"] == ["dispatcher"]
    _do(page, "#admin-user-disable", "已保存")
    users = {u["username"]: u for u in admin.get("/api/users").json()}
    assert users["op07"]["is_active"] is False
    _field(page, "admin-user-search").fill("op0")
    expect(page.locator("#admin-user-table")).to_contain_text("新受理员")
    screenshot(page, "console-admin-users")


def test_the_other_admin_pages_draw(street: LiveStreet, admin_page: Page) -> None:
    page = admin_page
    expect(page.locator('[data-admin-card="grids"]')).to_be_visible()
    screenshot(page, "console-admin")
    page.goto(f"{street.base_url}/console/admin/catalog")
    _field(page, "admin-catalog-search").fill("09006")
    page.locator('[data-matter="09006"]').click()
    expect(page.locator("#admin-catalog-matter")).to_contain_text("09006")
    screenshot(page, "console-admin-catalog")
    page.goto(f"{street.base_url}/console/admin/calendar")
    expect(page.locator("#admin-calendar-days")).to_be_visible()
    _field(page, "admin-calendar-new-day").fill("not-a-date")
    _field(page, "admin-calendar-new-name").fill("测试")
    _do(page, "#admin-calendar-add", "操作失败")
    screenshot(page, "console-admin-calendar")
    page.goto(f"{street.base_url}/console/admin/devices")
    expect(page.locator("#admin-device-table")).to_be_visible()
    screenshot(page, "console-admin-devices")
