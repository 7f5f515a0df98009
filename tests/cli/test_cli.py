"""The command line against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from urbanops.cli import app
from urbanops.config import get_settings
from urbanops.kit.db import make_engine

runner = CliRunner()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("URBANOPS_DATABASE_URL", url)
    monkeypatch.setenv("URBANOPS_MODE", "test")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_migrate_creates_every_table(sqlite_url: str) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    tables = set(inspect(make_engine(sqlite_url)).get_table_names())
    assert {"area", "catalog_entry", "user", "device", "camera"} <= tables


def test_create_user_then_refuse_a_short_password(sqlite_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    ok = runner.invoke(
        app, ["create-user", "wang.li", "--role", "operator", "--password", "s3cret-pass"]
    )
    assert ok.exit_code == 0, ok.output
    assert "created user wang.li" in ok.output
    short = runner.invoke(app, ["create-user", "li.wei", "--role", "operator", "--password", "x"])
    assert short.exit_code == 2
    unknown = runner.invoke(app, ["create-user", "li.wei", "--role", "boss", "--password", "x" * 9])
    assert unknown.exit_code == 2


def test_import_grids_reads_a_gcj02_file(sqlite_url: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    data = Path(__file__).parents[1] / "data" / "shenzhen-districts-440300.json"
    result = runner.invoke(app, ["import-grids", str(data), "--crs", "gcj02"])
    assert result.exit_code == 0, result.output
    assert "9" in result.output
    refused = runner.invoke(app, ["import-grids", str(data), "--crs", "mars"])
    assert refused.exit_code == 2
    assert "refused" in refused.output
