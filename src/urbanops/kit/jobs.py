"""Periodic jobs (定时任务): a background thread that runs each job every few seconds.

A job is a function of the app's sessionmaker and clock; it owns its transactions. Jobs must be
idempotent and safe in several processes at once (every API process runs the same runner), so
the runner needs no leader election. Tests call ``run_once()`` instead of waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from urbanops.kit.clock import Clock

log = logging.getLogger(__name__)

Job = Callable[[sessionmaker[Session], Clock], Any]


@dataclass(frozen=True)
class JobOutcome:
    """What one run of one job gave: its result, or the error it raised."""

    name: str
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class PeriodicRunner:
    """Runs its jobs every ``interval_s`` seconds on one daemon thread until stopped."""

    def __init__(self, *, factory: sessionmaker[Session], clock: Clock, interval_s: float) -> None:
        if interval_s < 0:
            raise ValueError("interval_s must be zero (disabled) or positive")
        self.factory = factory
        self.clock = clock
        self.interval_s = interval_s
        self._jobs: dict[str, Job] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add(self, name: str, job: Job) -> None:
        """Register ``job`` under a unique ``name``."""
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        self._jobs[name] = job

    def run_once(self) -> list[JobOutcome]:
        """Run every job once, now, in this thread; a failing job is logged, not raised."""
        outcomes = []
        with self._run_lock:  # the thread and an explicit call never overlap in one process
            for name, job in self._jobs.items():
                try:
                    outcomes.append(JobOutcome(name, result=job(self.factory, self.clock)))
                except Exception as exc:
                    log.exception("periodic job %s failed", name)
                    outcomes.append(JobOutcome(name, error=exc))
        return outcomes

    def start(self) -> None:
        """Start the thread unless disabled or running; the first run comes one interval later."""
        if not self.enabled or self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="urbanops-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for the job in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()
