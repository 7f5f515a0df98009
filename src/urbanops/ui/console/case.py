"""The console's case page(s)."""

from __future__ import annotations
