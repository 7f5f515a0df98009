"""Open boards share one reading of the figures per period, until news or a couple of seconds."""

from __future__ import annotations

from typing import Any

from urbanops.ui.console.board import SharedFigures


def counter() -> tuple[list[int], Any]:
    calls: list[int] = []

    def read() -> dict[str, Any]:
        calls.append(1)
        return {"reading": len(calls)}

    return calls, read


def test_boards_asking_together_share_one_reading_per_period() -> None:
    shared, (calls, read) = SharedFigures(share_s=60.0), counter()
    assert shared.get(0, read) == shared.get(0, read) == {"reading": 1}
    assert shared.get(30, read) == {"reading": 2}  # another period is read on its own
    assert len(calls) == shared.readings == 2


def test_news_makes_the_next_board_read_again() -> None:
    shared, (_, read) = SharedFigures(share_s=60.0), counter()
    shared.get(0, read)
    shared.changed()
    assert shared.get(0, read) == {"reading": 2}
    assert shared.get(0, read) == {"reading": 2}


def test_an_old_reading_is_not_shared() -> None:
    shared, (_, read) = SharedFigures(share_s=0.0), counter()
    shared.get(7, read)
    assert shared.get(7, read) == {"reading": 2}
