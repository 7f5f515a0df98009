"""A live demo street for browser tests: a real server with the console, and Chromium.

``live_street`` starts ``urbanops serve`` on a scratch SQLite database seeded with the demo
street, with the console on and no map tiles (so any request leaving the server is a bug);
``chromium`` launches Debian's ``/usr/bin/chromium`` through Playwright; ``sign_in`` signs a
demo account in through the real ``/login`` page; ``OutsideRequests`` records every request a
page makes to anywhere but the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.support.server import ServerProcess, scratch_database
from urbanops import migrations
from urbanops.auth import service as auth
from urbanops.demo.street import DEMO_PASSWORD, seed_demo_street
from urbanops.kit.clock import SystemClock
from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class LiveStreet:
    """The running server, its database, and bearer headers for API calls by demo accounts."""

    server: ServerProcess
    database_url: str
    _tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def bearer(self, username: str) -> dict[str, str]:
        """``Authorization`` headers of a demo account (a token issued straight in the DB)."""
        if username not in self._tokens:
            engine = make_engine(self.database_url)
            try:
                with unit_of_work(make_sessionmaker(engine)) as session:
                    user = auth.find_user(session, username=username)
                    assert user is not None, username
                    token = auth.issue_token(session, user=user, now=SystemClock().now())
            finally:
                engine.dispose()
            self._tokens[username] = {"Authorization": f"Bearer {token}"}
        return self._tokens[username]

    def api(self, username: str) -> httpx.Client:
        """An HTTP client speaking to the server as ``username``."""
        return httpx.Client(base_url=self.base_url, headers=self.bearer(username), timeout=30)


@contextmanager
def live_street(workdir: Path, *, env: dict[str, str] | None = None) -> Iterator[LiveStreet]:
    """The demo street served by a real process with the console on and no tiles."""
    with scratch_database("sqlite", workdir) as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        with unit_of_work(make_sessionmaker(engine)) as session:
            seed_demo_street(session)
        engine.dispose()
        server = ServerProcess(
            url,
            workdir,
            env={
                "URBANOPS_CONSOLE_ENABLED": "1",
                "URBANOPS_MAP_TILE_URL": "",
                "URBANOPS_SWEEPER_INTERVAL_S": "0",
                **(env or {}),
            },
            startup_timeout_s=120,  # a loaded CI machine may take a while to import the app
        )
        with server:
            yield LiveStreet(server=server, database_url=url)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, username: str, *, next_path: str = "/console/") -> None:
    """Sign ``username`` in through the real sign-in page and wait for ``next_path``."""
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}{next_path}*")


@dataclass
class OutsideRequests:
    """Every request ``page`` makes to a host other than the server's (attach before goto)."""

    base_url: str
    seen: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> OutsideRequests:
        here = urlsplit(self.base_url).netloc

        def note(request: Request) -> None:
            parts = urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != here:
                self.seen.append(request.url)

        page.on("request", note)
        return self


def screenshot(page: Page, name: str, **options: Any) -> Path:
    """Save a screenshot under docs/screenshots/ (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


# --- the grid officer's phone page (/officer/) -------------------------------------------------


def officer_username(street: LiveStreet, user_id: int) -> str:
    """The username of a user id (the ``officer_id`` a case was dispatched to), to sign him in."""
    engine = make_engine(street.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine), write=False) as session:
            return auth.get_user(session, user_id=user_id).username
    finally:
        engine.dispose()


def officer_accepts_and_handles(
    page: Page, base_url: str, case_id: int, photo_path: Path | str, *, note: str = "已处置完毕"
) -> None:
    """On the officer's page, already signed in as the assigned officer (``sign_in(page,
    base_url, username, next_path="/officer/")``): open the task, accept it, take an after-photo
    (``photo_path``, a real JPEG), write ``note`` and send the result; returns once the page
    says the case is handled (the photo is on the case, phase "after")."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/officer/task/{case_id}")
    if page.locator("#accept").count():
        page.click("#accept")
    expect(page.locator("#handle-form")).to_be_visible(timeout=15_000)
    page.set_input_files("#after-photos", str(photo_path))
    page.fill("#note", note)
    page.click("#handle")
    expect(page.locator("#handled")).to_be_visible(timeout=30_000)


@pytest.fixture(scope="module")
def street(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStreet]:
    """The live demo street of one test module: its own server and database."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with live_street(tmp_path_factory.mktemp(name)) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module."""
    with chromium() as b:
        yield b
