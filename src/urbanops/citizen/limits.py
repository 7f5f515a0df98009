"""Abuse limits of the citizen page: so many requests per client address per window.

Counted in the process, on the app's clock (tests move it). Several processes each keep their own
count, so the real limit is per process; the point is to stop a script, not to meter people.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from urbanops.kit.errors import Problem


class TooManyRequests(Problem):
    status, code, title = 429, "too_many_requests", "Too many requests"


@dataclass
class RateLimiter:
    """At most ``limit`` hits per key within any ``window``; the oldest keys are forgotten first."""

    limit: int
    window: timedelta
    max_keys: int = 10_000
    _hits: OrderedDict[str, deque[datetime]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str, now: datetime) -> None:
        """Count one hit of ``key`` at ``now``, or refuse it (429 with ``retry_after_s``)."""
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently used last
            if len(hits) >= self.limit:
                wait = (hits[0] + self.window - now).total_seconds()
                raise TooManyRequests(
                    "Too many requests from this address; try again later",
                    retry_after_s=max(1, math.ceil(wait)),
                )
            hits.append(now)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)


@dataclass
class CitizenLimits:
    """The citizen page's limits: reports, and look-ups of tracking ids (with ratings)."""

    reports: RateLimiter = field(
        default_factory=lambda: RateLimiter(limit=10, window=timedelta(minutes=10))
    )
    lookups: RateLimiter = field(
        default_factory=lambda: RateLimiter(limit=60, window=timedelta(minutes=1))
    )
