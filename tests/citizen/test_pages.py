"""The citizen's pages as the server renders them: Chinese first, English on request, nothing
fetched from elsewhere; the tracking page shows the case; the picking map and the matter list."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.citizen.support import NAME, PHONE, citizen_reports
from urbanops.cases.followup import RATING_WORDING
from urbanops.cases.public import PUBLIC_WORDING, FmsStatus
from urbanops.catalog.service import matter_defaults
from urbanops.citizen import service
from urbanops.ui import messages

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def test_the_report_page_is_chinese_by_default_and_loads_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    page = client.get("/citizen")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="zh-CN">' in html
    assert "反映一个问题" in html and "使用我的位置" in html and 'capture="environment"' in html
    assert "路边摆摊" in html and "其他问题" in html
    assert not EXTERNAL.search(html)
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    for asset in re.findall(r"(/static/citizen\.(?:js|css)\?v=[0-9a-f]{12})", html):
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 500


def test_english_is_one_click_away_and_remembered(client: TestClient) -> None:
    english = client.get("/citizen", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Report a problem" in english.text
    assert "Street stall" in english.text
    assert english.cookies.get("lang") == "en"
    again = client.get("/citizen/track")
    assert '<html lang="en">' in again.text and "Enter your tracking id" in again.text
    back = client.get("/citizen", params={"lang": "zh-CN"})
    assert '<html lang="zh-CN">' in back.text


def test_the_tracking_page_shows_the_case_without_personal_data(client: TestClient) -> None:
    sent = citizen_reports(client)
    page = client.get("/citizen/track", params={"id": sent["tracking_id"]})
    assert page.status_code == 200
    html = page.text
    assert sent["number"] in html and "已受理" in html
    assert "已收到您的反映，等待受理" in html
    assert PHONE not in html and NAME not in html
    assert 'id="rating-form"' not in html  # not closed yet: nothing to rate
    assert "/media/" in html  # the citizen's own photo, at its public address
    english = client.get("/citizen/track", params={"id": sent["tracking_id"], "lang": "en"})
    assert "Received" in english.text and "Your report was received" in english.text
    assert f"id={sent['tracking_id']}" in english.text.replace("&amp;", "&")


def test_an_unknown_tracking_id_shows_the_lookup_form_with_a_message(client: TestClient) -> None:
    page = client.get("/citizen/track", params={"id": "440309001-20261126-0001-ABCDEFGHJKLM"})
    assert page.status_code == 404
    assert "没有找到这个查询码" in page.text and 'id="lookup-form"' in page.text


def test_the_picking_map_has_the_street_and_its_grids(client: TestClient) -> None:
    answer = client.get("/api/citizen/map")
    assert answer.status_code == 200
    data = answer.json()
    min_lon, min_lat, max_lon, max_lat = data["bbox"]
    assert 113.9 < min_lon < max_lon < 114.2 and 22.6 < min_lat < max_lat < 22.8
    assert [s["code"] for s in data["streets"]] == ["440309001"]
    assert len(data["grids"]) == 17
    assert all(len(ring) >= 4 for g in data["grids"] for ring in g["rings"])
    assert len(answer.content) < 200_000  # light enough for a phone


def test_the_matter_list_names_catalogue_matters_and_other(client: TestClient, db: Session) -> None:
    answer = client.get("/api/citizen/matters").json()
    assert [m["code"] for m in answer] == [*service.COMMON_MATTERS, "other"]
    catalogue = matter_defaults(db)
    assert all(code in catalogue for code in [*service.COMMON_MATTERS, service.OTHER_MATTER])


def test_every_page_string_exists_in_both_languages() -> None:
    for key, (zh, en) in messages.ENTRIES.items():
        assert zh.strip() and en.strip(), key
    for code in [*service.COMMON_MATTERS, service.OTHER]:
        assert f"matter.{code}" in messages.ENTRIES
    for status in FmsStatus:
        assert f"fms.{status.value}" in messages.ENTRIES
    # The Chinese of every public step is the registry's own wording, so English can follow it.
    for action, wording in PUBLIC_WORDING.items():
        assert messages.ENTRIES[f"note.{action}"][0] == wording
    for rating, wording in RATING_WORDING.items():
        assert messages.ENTRIES[f"note.followup.{rating.value}"][0] == wording
        assert f"rating.{rating.value}" in messages.ENTRIES
    assert messages.t("no.such.key", "en") == "no.such.key"
