"""The track and patrol-statistics endpoints on stored positions, on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import LineString, Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.workforce.tracks_support import polyline_length, walk
from urbanops.areas import service as areas_service
from urbanops.auth import service as auth_service
from urbanops.auth.models import User
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock
from urbanops.workforce.positions_models import position_table
from urbanops.workforce.tracks import GPX_NS, Fix

OFFICER = "gh0101"
DEVICE = 900_001  # the officer's radio
PHONE = 900_002  # his phone, which sent fewer fixes
DAY = "2026-11-26"
MORNING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def _officer(db: Session) -> User:
    user = db.scalar(select(User).where(User.username == OFFICER))
    assert user is not None
    return user


def _crossing(db: Session, user_id: int) -> tuple[str, list[tuple[float, float]]]:
    """The officer's grid and an east-west line crossing it end to end through its inside."""
    code = areas_service.grids_of_officer(db, user_id=user_id)[0]
    grid = areas_service.get_responsibility_grid(db, code=code)
    assert grid.geometry is not None
    outline = shapely.from_wkb(grid.geometry)
    inside = outline.representative_point()
    min_x, _, max_x, _ = outline.bounds
    across = LineString([(min_x - 0.01, inside.y), (max_x + 0.01, inside.y)]).intersection(outline)
    parts = getattr(across, "geoms", [across])
    piece = min(parts, key=lambda p: p.distance(Point(inside)))
    return code, [(float(x), float(y)) for x, y in piece.coords]


def _store(db: Session, *, device_id: int, user_id: int, fixes: Sequence[Fix]) -> None:
    """Write fixes as the ingestion does (daily partitions on PostgreSQL)."""
    if db.get_bind().dialect.name == "postgresql":
        from urbanops.workforce.positions import ensure_partitions

        ensure_partitions(db, {f.at.date() for f in fixes})
    rows = [
        {
            "device_id": device_id,
            "user_id": user_id,
            "at": f.at,
            "received_at": f.at,
            "lon": f.lon,
            "lat": f.lat,
            "speed_mps": f.speed_mps,
            "accuracy_m": f.accuracy_m,
            "source": "test",
            "unit_grid_code": None,
        }
        for f in fixes
    ]
    db.execute(position_table.insert(), rows)
    db.flush()


def _bearer(db: Session, clock: ManualClock, user: User) -> dict[str, str]:
    token = auth_service.issue_token(db, user=user, now=clock.now())
    return {"Authorization": f"Bearer {token}"}


def _utm_share(
    line: list[tuple[float, float]], outline: shapely.Geometry, buffer_m: float
) -> float:
    """Coverage computed independently, in UTM zone 50N."""
    utm = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)

    def to_utm(coords: np.ndarray) -> np.ndarray:
        x, y = utm.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    grid_m = shapely.transform(outline, to_utm)
    strip = shapely.transform(LineString(line), to_utm).buffer(buffer_m, quad_segs=16)
    return float(strip.intersection(grid_m).area / grid_m.area)


@pytest.fixture
def patrolled(db: Session) -> tuple[User, str, list[tuple[float, float]], list[Fix]]:
    """The officer walked across his grid this morning, stopping 10 minutes halfway."""
    user = _officer(db)
    code, line = _crossing(db, user.id)
    length = polyline_length(line)
    fixes = walk(line, stop_at_m=length / 2, stop_s=600.0, jitter_m=3.0, accuracy_m=8.0)
    _store(db, device_id=DEVICE, user_id=user.id, fixes=fixes)
    _store(db, device_id=PHONE, user_id=user.id, fixes=walk(line, every_s=60.0))
    yesterday = Fix(at=MORNING - timedelta(hours=9, seconds=1), lon=line[0][0], lat=line[0][1])
    _store(
        db, device_id=DEVICE, user_id=user.id, fixes=[yesterday]
    )  # 23:59:59 local, the day before
    return user, code, line, fixes


def test_patrol_stats_of_a_walk_across_the_officers_grid(
    client: TestClient,
    db: Session,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user, code, line, fixes = patrolled

    answer = client.get(
        f"/api/officers/{user.id}/patrol-stats",
        params={"date": DAY},
        headers=auth_headers(Role.SHIFT_LEADER),
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    length = polyline_length(line)
    assert body["device_id"] == DEVICE
    assert body["fixes"] == len(fixes)
    assert body["distance_m"] == pytest.approx(length, rel=0.01)
    assert body["moving_s"] == pytest.approx(length / 1.4, rel=0.01)
    assert [s["duration_s"] for s in body["stops"]] == [pytest.approx(600.0, abs=10.0)]
    grid = areas_service.get_responsibility_grid(db, code=code)
    unit_codes = set(areas_service.responsibility_grid_out(db, grid).unit_grid_codes)
    visited = {g["code"] for g in body["grids"]}
    assert visited and visited <= unit_codes
    assert sum(g["fixes"] for g in body["grids"]) == len(fixes)
    coverage = body["coverage"]
    assert coverage["grid_code"] == code
    assert coverage["grid_m2"] == pytest.approx(grid.area_m2, rel=0.01)
    outline = shapely.from_wkb(grid.geometry)
    assert coverage["share"] == pytest.approx(_utm_share(line, outline, 30.0), rel=0.01)


def test_wider_coverage_buffer_covers_more(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user = patrolled[0]
    headers = auth_headers(Role.SHIFT_LEADER)
    url = f"/api/officers/{user.id}/patrol-stats"

    narrow = client.get(url, params={"date": DAY}, headers=headers).json()
    wide = client.get(url, params={"date": DAY, "coverage_buffer_m": 60}, headers=headers).json()

    assert wide["coverage"]["buffer_m"] == 60
    assert wide["coverage"]["share"] > narrow["coverage"]["share"] * 1.5


def test_officer_reads_his_own_track_as_geojson(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user, _, _, fixes = patrolled

    answer = client.get(f"/api/officers/{user.id}/track", headers=_bearer(db, clock, user))

    assert answer.status_code == 200, answer.text
    feature = answer.json()
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    assert len(feature["geometry"]["coordinates"]) == len(fixes)
    assert feature["properties"]["date"] == DAY  # today, from the clock
    assert feature["properties"]["coordinate_times"][0] == "2026-11-26T01:00:00Z"
    assert feature["properties"]["statistics"]["fixes"] == len(fixes)


def test_track_as_gpx_parses_back(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user, _, _, fixes = patrolled

    answer = client.get(
        f"/api/officers/{user.id}/track",
        params={"date": DAY, "format": "gpx"},
        headers=auth_headers(Role.DISPATCHER),
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/gpx+xml")
    assert f"track-{user.id}-{DAY}.gpx" in answer.headers["content-disposition"]
    root = ET.fromstring(answer.content)
    points = root.findall(f".//{{{GPX_NS}}}trkpt")
    assert len(points) == len(fixes)


def test_the_phone_track_is_chosen_by_device_id(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user = patrolled[0]

    body = client.get(
        f"/api/officers/{user.id}/patrol-stats",
        params={"date": DAY, "device_id": PHONE},
        headers=auth_headers(Role.SHIFT_LEADER),
    ).json()

    assert body["device_id"] == PHONE
    assert body["stops"] == []


def test_a_day_without_fixes_is_an_empty_track(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user = patrolled[0]
    headers = auth_headers(Role.SHIFT_LEADER)

    stats = client.get(
        f"/api/officers/{user.id}/patrol-stats", params={"date": "2026-11-24"}, headers=headers
    ).json()
    track = client.get(
        f"/api/officers/{user.id}/track", params={"date": "2026-11-24"}, headers=headers
    ).json()

    assert stats["fixes"] == 0 and stats["distance_m"] == 0 and stats["device_id"] is None
    assert stats["coverage"]["share"] == 0
    assert track["geometry"] is None


def test_the_last_second_of_the_day_before_belongs_to_the_day_before(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user = patrolled[0]

    body = client.get(
        f"/api/officers/{user.id}/patrol-stats",
        params={"date": "2026-11-25"},
        headers=auth_headers(Role.SHIFT_LEADER),
    ).json()

    assert body["fixes"] == 1
    assert body["device_id"] == DEVICE


def test_other_officers_and_foreign_squad_leaders_may_not_read_a_track(
    client: TestClient,
    db: Session,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user, code, _, _ = patrolled
    other_grid = next(g for g in (f"440309001-{n:02d}" for n in range(1, 18)) if g != code)
    url = f"/api/officers/{user.id}/track"

    peer = client.get(url, headers=auth_headers(Role.GRID_OFFICER, grid_codes=[code]))
    foreign = client.get(url, headers=auth_headers(Role.SQUAD_LEADER, grid_codes=[other_grid]))
    own = client.get(url, headers=auth_headers(Role.SQUAD_LEADER, grid_codes=[code]))
    anonymous = client.get(url)

    assert peer.status_code == 403 and peer.json()["code"] == "track_not_yours"
    assert foreign.status_code == 403 and foreign.json()["code"] == "grid_out_of_scope"
    assert own.status_code == 200
    assert anonymous.status_code == 401


def test_bad_requests_get_clear_answers(
    client: TestClient,
    auth_headers: Any,
    patrolled: tuple[User, str, list[tuple[float, float]], list[Fix]],
) -> None:
    user = patrolled[0]
    headers = auth_headers(Role.SHIFT_LEADER)

    unknown = client.get("/api/officers/987654321/track", headers=headers)
    bad_date = client.get(f"/api/officers/{user.id}/track?date=2026-13-01", headers=headers)
    bad_format = client.get(f"/api/officers/{user.id}/track?format=kml", headers=headers)
    bad_buffer = client.get(
        f"/api/officers/{user.id}/patrol-stats?coverage_buffer_m=-5", headers=headers
    )

    assert unknown.status_code == 404 and unknown.json()["code"] == "officer_not_found"
    assert bad_date.status_code == 422
    assert bad_format.status_code == 422
    assert bad_buffer.status_code == 422
