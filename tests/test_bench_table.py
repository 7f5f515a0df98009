"""`make bench`'s table: every script's BENCH lines gathered, absolute and ratio targets judged."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def common(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return _load("_common")


def test_targets_are_judged_on_the_figure_or_on_the_ratio(
    common: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = common.emit("q", value=250.0, reference=25.0, unit="ms", target=200.0,
                       lower_is_better=True, absolute=True)  # fmt: skip
    fast = common.emit("r", value=3_500.0, reference=7_000.0, unit="req/s", target=0.25)
    assert (slow["met"], slow["ratio"], slow["target"]) == (False, 0.1, "≤ 200")
    assert (fast["met"], fast["ratio"], fast["target"]) == (True, 0.5, "≥ 0.25 × ref")
    assert capsys.readouterr().out.count("BENCH {") == 2


def test_the_table_gathers_every_scripts_lines_and_names_the_crashed(
    common: ModuleType, tmp_path: Path
) -> None:
    run_all = _load("run_all")
    script = tmp_path / "tiny.py"
    script.write_text(
        f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r})\n"
        "from _common import emit\n"
        "emit('tiny.figure', value=2.0, reference=4.0, unit='ms', target=3.0,\n"
        "     lower_is_better=True, absolute=True)\n"
        "raise SystemExit(3)\n",
        encoding="utf-8",
    )
    rows, status = run_all.run_script(script)
    assert status == 3
    assert rows == [{"name": "tiny.figure", "value": 2.0, "unit": "ms", "reference": 4.0,
                     "ratio": 2.0, "target": "≤ 3", "met": True, "script": "tiny.py"}]  # fmt: skip
    table = run_all.table(rows).splitlines()
    assert table[0].split() == ["name", "figure", "unit", "target", "reference", "ratio", "met"]
    assert table[2].split()[:2] == ["tiny.figure", "2"] and table[2].split()[-1] == "yes"
