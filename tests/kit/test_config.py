"""Settings come from URBANOPS_* variables; a default secret is refused outside demo/dev."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from urbanops.config import DEFAULT_SECRET, Settings


def test_defaults_run_the_street_on_sqlite_in_shenzhen_time() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.map_tile_crs == "wgs84"


def test_environment_variables_use_the_urbanops_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANOPS_DATABASE_URL", "postgresql+psycopg://u@db/city")
    monkeypatch.setenv("URBANOPS_MAP_TILE_CRS", "gcj02")
    monkeypatch.setenv("URBANOPS_EVIDENCE_ROOT", "/srv/evidence")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg://u@db/city"
    assert settings.map_tile_crs == "gcj02"
    assert str(settings.evidence_root) == "/srv/evidence"


@pytest.mark.parametrize("mode", ["production"])
def test_default_secret_is_refused_in_production(mode: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(mode=mode, secret_key=DEFAULT_SECRET, _env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("mode", ["demo", "dev", "test"])
def test_default_secret_is_accepted_in_demo_and_development(mode: str) -> None:
    assert Settings(mode=mode, _env_file=None).mode == mode  # type: ignore[call-arg]


def test_a_real_secret_runs_in_production() -> None:
    settings = Settings(mode="production", secret_key="x" * 48, _env_file=None)  # type: ignore[call-arg]
    assert settings.mode == "production"


def test_an_unknown_tile_crs_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(map_tile_crs="mars", _env_file=None)  # type: ignore[arg-type, call-arg]


def test_bad_working_hours_and_time_zone_are_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(working_hours="18:00-09:00", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(timezone="Mars/Olympus", _env_file=None)  # type: ignore[call-arg]
