"""Run every benchmark script, gather their `BENCH {json}` lines into one table and a JSON file.

Exits non-zero when a script crashes; an unmet target is reported in the table, not as a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = ROOT / "bench-results.json"
COLUMNS = ("name", "value", "unit", "target", "reference", "ratio", "met")
HEADERS = ("name", "figure", "unit", "target", "reference", "ratio", "met")


def scripts() -> list[Path]:
    """Benchmark scripts: every benchmarks/*.py except this one and helpers starting with `_`."""
    return sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )


def run_script(script: Path) -> tuple[list[dict[str, Any]], int]:
    """Run one script with this interpreter; return its BENCH rows and exit status."""
    print(f"== {script.name}", flush=True)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    rows = [
        {**json.loads(line.removeprefix("BENCH ")), "script": script.name}
        for line in proc.stdout.splitlines()
        if line.startswith("BENCH ")
    ]
    if proc.returncode != 0:
        print(f"!! {script.name} exited with {proc.returncode}\n{proc.stderr[-4000:]}", flush=True)
    return rows, proc.returncode


def cell(row: dict[str, Any], column: str) -> str:
    """One table cell: figures in engineering-friendly notation."""
    value = row.get(column, "")
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of all rows."""
    body = [[cell(row, c) for c in COLUMNS] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def main() -> int:
    """Run all scripts, print the table, write bench-results.json; non-zero if any crashed."""
    rows: list[dict[str, Any]] = []
    crashed: list[str] = []
    for script in scripts():
        script_rows, status = run_script(script)
        rows += script_rows
        if status != 0:
            crashed.append(script.name)
    print(table(rows) if rows else "(no BENCH lines)")
    RESULTS.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
