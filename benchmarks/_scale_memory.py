"""The memory probe of benchmarks/scale.py: one process serving the large district.

``full``: the app (console included) on the scale database, through its real HTTP routes: the
console's queue, the 10,000 officers' latest positions posted in batches (held in memory), and
a dispatch recommendation (which loads the roster of all officers). ``bare``: the same process
with the app created and started, nothing asked of it. Prints one JSON line with the RSS.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main(url: str, mode: str) -> dict[str, Any]:
    from urbanops.app import create_app
    from urbanops.auth import service as auth
    from urbanops.config import Settings
    from urbanops.kit.clock import ManualClock
    from urbanops.kit.db import make_engine, make_sessionmaker, unit_of_work

    now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    settings = Settings(
        mode="test",
        database_url=url,
        console_enabled=True,
        sweeper_interval_s=0,
        position_flush_interval_s=0,
        evidence_root="/tmp/urbanops-scale-evidence",
    )
    engine = make_engine(url)
    app = create_app(settings, engine=engine, clock=ManualClock(now))
    with unit_of_work(make_sessionmaker(engine)) as session:
        admin = auth.find_user(session, username="admin")
        assert admin is not None
        token = auth.issue_token(session, user=admin, now=now)
    headers = {"Authorization": f"Bearer {token}"}
    result: dict[str, Any] = {"mode": mode}
    with TestClient(app) as client:
        if mode == "full":
            open_states = "&".join(f"state={s}" for s in ("registered", "dispatched"))
            queue = client.get(f"/api/cases?{open_states}&sort=due_at&size=50", headers=headers)
            queue.raise_for_status()
            with engine.connect() as conn:
                devices = conn.execute(
                    text("SELECT identifier FROM device WHERE identifier LIKE 'scale-%'")
                ).scalars()
                identifiers = list(devices)
                case_id = conn.execute(
                    text("""SELECT id FROM "case" WHERE state = 'registered' LIMIT 1""")
                ).scalar_one()
                cases = conn.execute(text('SELECT count(*) FROM "case"')).scalar_one()
            for start in range(0, len(identifiers), 1000):
                fixes = [
                    {
                        "device": ident,
                        "lat": 22.65 + (i % 100) * 1e-4,
                        "lon": 114.03 + (i // 100 % 100) * 1e-4,
                        "at": (now - timedelta(seconds=5)).isoformat(),
                    }
                    for i, ident in enumerate(identifiers[start : start + 1000])
                ]
                client.post("/api/positions/batch", json={"fixes": fixes}, headers=headers)
            recommended = client.get(f"/api/cases/{case_id}/recommendations", headers=headers)
            result.update(
                cases=int(cases),
                queue_total=int(queue.json().get("total", 0)),
                officers=len(identifiers),
                recommend_status=recommended.status_code,
            )
        result["rss_mb"] = round(rss_mb(), 1)
    engine.dispose()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
