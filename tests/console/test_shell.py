"""The console's frame in a real browser: sign-in, the way back to /login, role checks."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import LiveStreet, OutsideRequests, sign_in

pytestmark = [pytest.mark.slow]


def test_anonymous_visitor_is_sent_to_sign_in(street: LiveStreet) -> None:
    answer = httpx.get(f"{street.base_url}/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/console/"


def test_operator_signs_in_and_sees_the_frame(street: LiveStreet, browser: Browser) -> None:
    page = browser.new_page()
    outside = OutsideRequests(street.base_url).attach(page)
    sign_in(page, street.base_url, "op01")
    expect(page.locator("#console-title")).to_have_text("城管执法指挥中心")
    expect(page.locator('[data-nav="/console/intake"]')).to_be_visible()
    expect(page.locator('[data-nav="/console/admin"]')).to_have_count(0)
    page.click("#lang-switch")
    expect(page.locator("#console-title")).to_have_text("Urban management command centre")
    assert outside.seen == []
    page.close()


def test_wrong_password_is_told_and_stays(street: LiveStreet, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{street.base_url}/login?next=/console/&lang=zh-CN")
    page.fill("#username", "op01")
    page.fill("#password", "wrong")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("用户名或密码不正确")
    assert page.url.startswith(f"{street.base_url}/login")
    page.close()


def test_console_pages_refuse_roles_that_may_not_open_them(street: LiveStreet) -> None:
    officer = street.bearer("op01")
    assert httpx.get(f"{street.base_url}/console/admin", headers=officer).status_code == 403
