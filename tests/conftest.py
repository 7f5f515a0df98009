"""Shared fixtures.

Every test that asks for ``db`` (or anything built on it) runs twice: on SQLite and on
PostgreSQL (``URBANOPS_TEST_PG_URL``, default the local server's ``test`` database). Each run gets
a fresh database brought up by the real migrations; each test runs inside a transaction that is
rolled back at its end. With ``URBANOPS_REQUIRE_PG=1`` (``make test`` and CI) an unreachable
PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from urbanops import migrations
from urbanops.app import create_app
from urbanops.config import Settings
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_engine
from urbanops.kit.web import get_session

PG_URL = os.environ.get("URBANOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("URBANOPS_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"
DATA = Path(__file__).parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")

_db_outcomes: dict[str, dict[str, int]] = {}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_engine() -> Iterator[Engine]:
    url = make_url(PG_URL)
    name = f"urbanops_t_{_worker()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        message = f"PostgreSQL at {PG_URL} is not reachable: {exc}"
        if REQUIRE_PG:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite") / "urbanops.db"
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of each kind, seeded with the demo street, for the whole session."""
    gen = _sqlite_engine(tmp_path_factory) if request.param == "sqlite" else _postgres_engine()
    engine = next(gen)
    migrations.upgrade(engine)
    _seed(engine)
    yield engine
    with contextlib.suppress(StopIteration):
        next(gen)


def _seed(engine: Engine) -> None:
    """Build the demo street once per database, if the demo module provides it."""
    try:
        from urbanops.demo.street import seed_demo_street
    except ImportError:
        return
    from urbanops.kit.db import make_sessionmaker, unit_of_work

    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_demo_street(session)


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; commits are savepoints."""
    connection = db_engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def clock() -> ManualClock:
    """Thursday 26 November 2026, 09:00 in Shenzhen."""
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        mode="test",
        database_url="sqlite://",
        evidence_root=tmp_path / "evidence",
        sweeper_interval_s=0,  # tests run sweeps explicitly on the moved clock
        position_flush_interval_s=0,  # and flush the position buffer explicitly
    )


@pytest.fixture
def app(db_engine: Engine, db: Session, settings: Settings, clock: ManualClock):  # type: ignore[no-untyped-def]
    """The real application on the test database; its requests share the test's transaction."""
    application = create_app(settings, engine=db_engine, clock=clock)

    def _session() -> Iterator[Session]:
        yield db
        db.commit()

    application.dependency_overrides[get_session] = _session
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for kind in ("sqlite", "postgresql"):
        if (
            f"[{kind}" in report.nodeid
            or f"-{kind}]" in report.nodeid
            or f"-{kind}-" in report.nodeid
        ):
            counts = _db_outcomes.setdefault(kind, {})
            counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if hasattr(config, "workerinput"):
        return
    stats = terminalreporter.stats
    per_db: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped"):
        for rep in stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if getattr(rep, "when", "call") != "call" and outcome != "skipped":
                continue
            for kind in ("sqlite", "postgresql"):
                if f"[{kind}" in nodeid or f"-{kind}]" in nodeid or f"-{kind}-" in nodeid:
                    per_db.setdefault(kind, {}).setdefault(outcome, 0)
                    per_db[kind][outcome] += 1
    terminalreporter.write_sep("=", "database tests")
    for kind in ("sqlite", "postgresql"):
        counts = per_db.get(kind, {})
        terminalreporter.write_line(
            f"{kind:>10}: {counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
            f"{counts.get('skipped', 0)} skipped"
        )
    sqlite_ran = per_db.get("sqlite", {}).get("passed", 0)
    pg = per_db.get("postgresql", {})
    if REQUIRE_PG and sqlite_ran and (pg.get("passed", 0) == 0 or pg.get("skipped", 0)):
        terminalreporter.write_line(
            "PostgreSQL database tests did not run: failing the run", red=True
        )
        terminalreporter._session.exitstatus = 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    stats = session.config.pluginmanager.get_plugin("terminalreporter")
    if stats is None or not REQUIRE_PG:
        return
    skipped = [
        r for r in stats.stats.get("skipped", []) if "postgresql" in getattr(r, "nodeid", "")
    ]
    if skipped:
        session.exitstatus = 1


@pytest.fixture
def auth_headers(db: Session, clock: ManualClock, settings: Settings):  # type: ignore[no-untyped-def]
    """Factory: ``auth_headers(Role.DISPATCHER, grid_codes=[...])`` → a new user's bearer."""
    from urbanops.auth import service as auth_service
    from urbanops.kit.actor import SYSTEM, Role

    def _make(*roles: Role, grid_codes: list[str] | None = None) -> dict[str, str]:
        names = "-".join(r.value for r in roles) or "norole"
        machine = [k for k in ("device", "integration") if Role(k) in roles]
        if machine:  # devices and integrations authenticate with an API key, not a user
            _, key = auth_service.create_api_key(
                db,
                name=f"Test {names}",
                principal_kind=machine[0],
                roles=roles,
                by=SYSTEM,
                now=clock.now(),
            )
            return {"X-API-Key": key}
        user = auth_service.create_user(
            db,
            username=f"t{uuid.uuid4().hex[:10]}-{names}"[:64],
            password=None,
            display_name=f"Test {names}",
            roles=roles,
            grid_codes=grid_codes or (),
            by=SYSTEM,
            now=clock.now(),
        )
        token = auth_service.issue_token(
            db, user=user, now=clock.now(), ttl_s=settings.api_token_ttl_s
        )
        return {"Authorization": f"Bearer {token}"}

    return _make
