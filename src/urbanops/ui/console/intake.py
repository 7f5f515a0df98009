"""The console's intake page(s)."""

from __future__ import annotations
