"""Messages of the officer pages (merged into the one catalogue by ui.messages)."""

from __future__ import annotations

ENTRIES: dict[str, tuple[str, str]] = {}
