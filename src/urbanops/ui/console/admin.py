"""The console's admin page(s)."""

from __future__ import annotations
