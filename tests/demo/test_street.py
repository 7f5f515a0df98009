"""The demo street as the database holds it, and as `urbanops demo` serves it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.areas.models import Area, ResponsibilityGrid
from urbanops.auth.models import User
from urbanops.demo.geometry import DemoStreet, build_guanhu
from urbanops.demo.street import DEMO_PASSWORD, seed_demo_street
from urbanops.kit.actor import Role
from urbanops.video.models import Camera
from urbanops.workforce.models import Device


def test_the_seeded_street_has_17_responsibility_grids_with_their_officers(db: Session) -> None:
    grids = db.scalars(select(ResponsibilityGrid)).all()
    assert len(grids) == 17
    assert db.scalar(select(func.count()).select_from(Area).where(Area.level == "unit_grid")) > 300
    assert db.scalar(select(func.count()).select_from(User)) >= 17 * 15
    assert db.scalar(select(func.count()).select_from(Camera)) >= 5
    assert db.scalar(select(func.count()).select_from(Device)) >= 10


def test_seeding_twice_changes_nothing(db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(User))
    seed_demo_street(db)
    assert db.scalar(select(func.count()).select_from(User)) == before


def test_locate_answers_the_right_grid_in_three_demo_grids_and_outside_in_futian(
    client: TestClient, guanhu: DemoStreet, auth_headers
) -> None:  # type: ignore[no-untyped-def]
    headers = auth_headers(Role.OPERATOR)
    points = guanhu.sample_points()
    inside = [p for p in points if p.responsibility_grid_code is not None]
    assert len({p.responsibility_grid_code for p in inside}) == 3
    for sample in inside:
        answer = client.get(
            "/api/locate", params={"lon": sample.point.x, "lat": sample.point.y}, headers=headers
        ).json()
        assert answer["inside"] is True, sample.name
        assert answer["unit_grid"]["code"] == sample.unit_grid_code
        assert answer["responsibility_grid"]["code"] == sample.responsibility_grid_code
        assert answer["street"]["code"] == "440309001"
    futian = next(p for p in points if p.responsibility_grid_code is None)
    response = client.get(
        "/api/locate", params={"lon": futian.point.x, "lat": futian.point.y}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["inside"] is False
    assert response.json()["reason"] == "outside_jurisdiction"


def test_a_demo_officer_signs_in_with_the_demo_password(client: TestClient) -> None:
    street = build_guanhu()
    officer = street.officers[0]
    response = client.post(
        "/api/auth/login", json={"username": officer.username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    me = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    ).json()
    assert officer.grid_code in str(me)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("URBANOPS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "urbanops.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"urbanops demo exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("urbanops demo did not answer within 90 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_urbanops_demo_serves_the_street_over_real_http(demo_server: str) -> None:
    login = httpx.post(
        f"{demo_server}/api/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    grids = httpx.get(f"{demo_server}/api/responsibility-grids", headers=headers)
    assert grids.status_code == 200
    assert "440309001-17" in grids.text
    sample = build_guanhu().sample_points()[0]
    located = httpx.get(
        f"{demo_server}/api/locate",
        params={"lon": sample.point.x, "lat": sample.point.y},
        headers=headers,
    ).json()
    assert located["responsibility_grid"]["code"] == sample.responsibility_grid_code
    assert httpx.get(f"{demo_server}/docs").status_code == 200
