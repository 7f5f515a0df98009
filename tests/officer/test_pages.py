"""The officer's phone pages as the server renders them: who may open them, my tasks most urgent
first with countdowns, the list fragment the page polls (304 when quiet), one task with its map
links and the actions the workflow allows (return and ask to put on hold on his open tasks), the
SOS button on every page, the report form; small enough for a slow phone."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.cases.api_support import (
    GRID_01,
    PHONE,
    act,
    demo_officer,
    hotline_body,
    login_as,
    point,
    report,
    report_body,
)
from urbanops.auth import service as auth_service
from urbanops.auth.models import User
from urbanops.demo.street import DEMO_PASSWORD
from urbanops.kit.clock import ManualClock
from urbanops.kit.geo import wgs84_to_gcj02

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)
ASSETS = re.compile(r"(/static/officer\.(?:js|css)\?v=[0-9a-f]{12})")


def user(db: Session, username: str) -> User:
    found = auth_service.find_user(db, username=username)
    assert found is not None, username
    return found


def dispatched(
    client: TestClient, db: Session, clock: ManualClock, officer: User, **body: Any
) -> dict[str, Any]:
    """A grid report registered by an operator and dispatched to ``officer``."""
    case = report(client, login_as(db, clock, user(db, "op01")), **(report_body() | body))
    dispatcher = login_as(db, clock, user(db, "dispatch01"))
    if case["state"] == "dispatched":  # an emergency is dispatched at once, maybe to another
        if case["officer_id"] == officer.id:
            return case
        return act(client, dispatcher, case["id"], "redispatch", officer_id=officer.id)
    act(client, login_as(db, clock, user(db, "op01")), case["id"], "register")
    return act(client, dispatcher, case["id"], "dispatch", officer_id=officer.id)


def test_anonymous_visitor_is_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/officer/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/officer/"
    task = client.get("/officer/task/12?lang=en", follow_redirects=False)
    assert task.headers["location"] == "/login?next=/officer/task/12%3Flang%3Den"
    assert client.get("/officer/tasks").status_code == 401  # the page's poll: no redirect
    assert client.get("/officer", follow_redirects=False).headers["location"] == "/officer/"


def test_other_roles_get_a_clear_refusal_in_their_language(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    operator = login_as(db, clock, user(db, "op01"))
    for path in ("/officer/", "/officer/report", "/officer/task/1", "/officer/tasks"):
        answer = client.get(path, headers=operator)
        assert answer.status_code == 403, path
        assert "此页面仅供网格员使用" in answer.text and 'id="forbidden"' in answer.text
    english = client.get("/officer/?lang=en", headers=operator)
    assert english.status_code == 403 and "This page is for grid officers" in english.text
    admin = login_as(db, clock, user(db, "admin"))
    assert client.get("/officer/", headers=admin).status_code == 200


def test_the_session_cookie_of_the_sign_in_page_opens_the_page(client: TestClient) -> None:
    signed = client.post("/api/auth/login", json={"username": "gh0101", "password": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.text
    page = client.get("/officer/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and "暂无待办任务" in page.text


def test_my_tasks_most_urgent_first_with_countdowns(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    headers = login_as(db, clock, officer)
    calm = dispatched(client, db, clock, officer, description="人行道上堆放杂物")
    clock.advance(timedelta(minutes=20))
    urgent = dispatched(
        client, db, clock, officer, is_emergency=True, matter_code="09009",
        description="消防通道被机动车堵塞",
    )  # fmt: skip
    page = client.get("/officer/", headers=headers)
    assert page.status_code == 200
    html = page.text
    assert html.index(urgent["number"]) < html.index(calm["number"])  # 5 minutes beat an hour
    assert "待签收" in html and "签收时限" in html and "紧急" in html
    due = urgent["deadlines"]["due_at"]
    assert urgent["deadlines"]["stage"] == "respond"
    assert re.search(r'data-due="\d{13}">剩余\d+分\d+秒<', html), html
    assert f'href="/officer/task/{urgent["id"]}"' in html
    # the phone's clock may be wrong: the page carries the server's now for the countdowns
    assert f'data-now="{int(clock.now().timestamp() * 1000)}"' in html
    clock.advance(timedelta(minutes=10))
    late = client.get("/officer/", headers=headers).text
    assert "已超时" in late and due  # the emergency's 5 minutes are over
    english = client.get("/officer/?lang=en", headers=headers).text
    assert "To accept" in english and "Accept within" in english and "overdue" in english


def test_someone_elses_tasks_are_not_mine(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    mine = dispatched(client, db, clock, user(db, "gh0101"))
    other = client.get("/officer/", headers=login_as(db, clock, user(db, "gh0102")))
    assert other.status_code == 200
    assert mine["number"] not in other.text and "暂无待办任务" in other.text


def test_the_poll_answers_304_until_the_list_changes(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    headers = login_as(db, clock, officer)
    first = client.get("/officer/tasks", headers=headers)
    assert first.status_code == 200 and "暂无待办任务" in first.text
    assert "<html" not in first.text  # a fragment, not a page
    etag = first.headers["etag"]
    quiet = client.get("/officer/tasks", headers=headers | {"If-None-Match": etag})
    assert quiet.status_code == 304 and quiet.content == b""
    case = dispatched(client, db, clock, officer)
    news = client.get("/officer/tasks", headers=headers | {"If-None-Match": etag})
    assert news.status_code == 200 and case["number"] in news.text
    assert news.headers["etag"] != etag
    page = client.get("/officer/", headers=headers)
    assert f'data-etag="{news.headers["etag"].replace(chr(34), "&#34;")}"' in page.text
    act(client, headers, case["id"], "accept")
    accepted = client.get(
        "/officer/tasks", headers=headers | {"If-None-Match": news.headers["etag"]}
    )
    assert accepted.status_code == 200 and "处置中" in accepted.text and "处置时限" in accepted.text
    act(client, headers, case["id"], "handle", note="已劝离")
    done = client.get("/officer/tasks", headers=headers)
    assert case["number"] not in done.text


def test_the_task_page_offers_accept_then_handle_and_opens_the_map_app(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    headers = login_as(db, clock, officer)
    case = dispatched(client, db, clock, officer)
    page = client.get(f"/officer/task/{case['id']}", headers=headers)
    assert page.status_code == 200
    html = page.text
    assert 'id="accept"' in html and 'id="handle-form"' not in html
    lon, lat = point(0)
    assert f'href="geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}(' in html
    gx, gy = wgs84_to_gcj02([lon], [lat])
    amap = f"https://uri.amap.com/marker?position={float(gx[0]):.6f},{float(gy[0]):.6f}&amp;"
    assert amap in html
    assert abs(float(gx[0]) - lon) > 1e-3  # GCJ-02 is not WGS84: the shift is real
    assert [m for m in EXTERNAL.findall(html)] == ['href="https://']  # the AMap link only
    act(client, headers, case["id"], "accept")
    accepted = client.get(f"/officer/task/{case['id']}", headers=headers).text
    assert 'id="accept"' not in accepted and 'id="handle-form"' in accepted
    assert 'accept="image/*" capture="environment" multiple' in accepted
    act(client, headers, case["id"], "handle", note="已劝离")
    handled = client.get(f"/officer/task/{case['id']}", headers=headers).text
    assert 'id="handle-form"' not in handled and "已提交处置结果" in handled


def test_another_officer_sees_the_case_but_may_not_act_on_it(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    case = dispatched(client, db, clock, user(db, "gh0101"))
    page = client.get(
        f"/officer/task/{case['id']}", headers=login_as(db, clock, user(db, "gh0102"))
    )
    assert page.status_code == 200
    assert 'id="accept"' not in page.text and 'id="handle-form"' not in page.text


def test_a_case_outside_my_grid_or_unknown_is_not_found(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    far = report(client, login_as(db, clock, user(db, "op01")), **report_body(2))
    headers = login_as(db, clock, user(db, "gh0101"))
    assert client.get(f"/officer/task/{far['id']}", headers=headers).status_code == 404
    missing = client.get("/officer/task/999999999", headers=headers)
    assert missing.status_code == 404 and "没有这个任务" in missing.text
    assert client.get("/officer/task/0", headers=headers).status_code == 422


def test_complainants_stay_masked_on_the_officers_phone(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    operator = login_as(db, clock, user(db, "op01"))
    case = report(client, operator, **hotline_body())
    act(client, operator, case["id"], "verify")
    act(client, operator, case["id"], "register")
    act(client, login_as(db, clock, user(db, "dispatch01")), case["id"], "dispatch",
        officer_id=officer.id)  # fmt: skip
    headers = login_as(db, clock, officer)
    listed = client.get("/officer/", headers=headers).text
    assert case["number"] in listed and PHONE not in listed
    html = client.get(f"/officer/task/{case['id']}", headers=headers).text
    assert case["number"] in html and PHONE not in html and "138****0001" in html


def test_the_report_form_uses_the_grid_officers_channel(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    headers = login_as(db, clock, user(db, "gh0101"))
    page = client.get("/officer/report", headers=headers)
    assert page.status_code == 200
    html = page.text
    assert 'data-channel="grid_report"' in html and 'data-phase="before"' in html
    assert '<option value="09006">路边摆摊</option>' in html
    assert '<option value="06036">其他问题</option>' in html
    assert 'capture="environment"' in html and not EXTERNAL.search(html)
    assert "Street stall" in client.get("/officer/report?lang=en", headers=headers).text


CONTROLS = ('id="return-open"', 'id="return-form"', 'id="suspend-open"', 'id="suspend-form"')


def test_the_sos_button_is_on_every_officer_page(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    case = dispatched(client, db, clock, officer)
    headers = login_as(db, clock, officer)
    for path in ("/officer/", "/officer/report", f"/officer/task/{case['id']}"):
        html = client.get(path, headers=headers).text
        header = html[html.index("<header") : html.index("</header>")]
        assert '<button type="button" id="sos"' in header and ">SOS</button>" in header, path
        assert (
            'title="紧急求助：连按两次发出"' in header
            and 'data-confirm="再按一次 SOS 发出求助"' in header
        )
        assert 'id="sos-status"' in header
        assert 'data-sos-confirm-s="5"' in html
    english = client.get("/officer/?lang=en", headers=headers).text
    assert (
        'title="Emergency: tap twice to send"' in english
        and 'data-confirm="Tap SOS again to send it"' in english
    )
    forbidden = client.get("/officer/", headers=login_as(db, clock, user(db, "op01")))
    assert forbidden.status_code == 403 and 'id="sos"' not in forbidden.text


def test_return_and_hold_are_offered_on_my_open_tasks_only(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    headers = login_as(db, clock, officer)
    case = dispatched(client, db, clock, officer)
    path = f"/officer/task/{case['id']}"
    html = client.get(path, headers=headers).text
    assert all(control in html for control in CONTROLS), html
    assert ">回退</button>" in html and ">申请挂账</button>" in html
    assert 'id="return-reason" name="reason" rows="3" maxlength="2000" required' in html
    assert 'data-action="return"' in html and 'data-action="request_suspension"' in html
    other = login_as(db, clock, user(db, "gh0102" if officer.username != "gh0102" else "gh0101"))
    theirs = client.get(path, headers=other).text
    assert not any(control in theirs for control in CONTROLS)
    act(client, headers, case["id"], "accept")
    accepted = client.get(path, headers=headers).text
    assert all(control in accepted for control in CONTROLS)
    english = client.get(f"{path}?lang=en", headers=headers).text
    assert ">Return</button>" in english and ">Ask to put on hold</button>" in english
    assert "Please give the reason" in english  # the page's refusal of an empty reason
    act(client, headers, case["id"], "handle", note="已劝离")
    handled = client.get(path, headers=headers).text
    assert not any(control in handled for control in CONTROLS)  # no longer his open task


def test_a_requested_hold_shows_the_note_instead_of_the_button(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    headers = login_as(db, clock, officer)
    case = dispatched(client, db, clock, officer)
    path = f"/officer/task/{case['id']}"
    before = client.get(path, headers=headers).text
    assert '<p id="suspend-done" class="ok" role="status" hidden>' in before
    act(client, headers, case["id"], "request_suspension", reason="需产权单位配合")
    after = client.get(path, headers=headers).text
    assert '<p id="suspend-done" class="ok" role="status">已申请挂账，等待值班长审批</p>' in after
    assert 'id="suspend-open"' not in after and 'id="return-open"' in after


def test_the_task_list_is_small_enough_for_a_slow_phone(
    client: TestClient, db: Session, clock: ManualClock
) -> None:
    officer = demo_officer(db, GRID_01)
    for n, code in enumerate(("09006", "09009", "06010")):
        dispatched(client, db, clock, officer, matter_code=code, description=f"问题 {n}")
    headers = login_as(db, clock, officer)
    page = client.get("/officer/", headers=headers)
    assert not EXTERNAL.search(page.text)
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assets = ASSETS.findall(page.text)
    assert len(assets) == 2
    total = len(page.content) + sum(len(client.get(a).content) for a in assets)
    assert total < 30 * 1024, total
