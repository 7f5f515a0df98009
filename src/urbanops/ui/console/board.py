"""The console's board page(s)."""

from __future__ import annotations
