"""The timeline: the case's audit trail, one append-only row per change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.cases.models import Case, TimelineEntry
from urbanops.kit.actor import Actor


def record(
    session: Session,
    case: Case,
    *,
    by: Actor,
    action: str,
    at: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    first: bool = False,
    flush: bool = True,
) -> TimelineEntry:
    """Append one row; ``from_state``/``to_state`` default to the case's state (no change).

    ``first`` marks the row that creates the case: it comes from no state. ``flush=False``
    leaves the row pending, so that many rows go to the database in one statement (the
    sweeper's pass).
    """
    entry = TimelineEntry(
        **row(
            case_id=case.id, state=case.state.value, by=by, action=action, at=at,
            from_state=from_state, to_state=to_state, reason=reason, note=note, data=data,
            first=first,
        )
    )  # fmt: skip
    session.add(entry)
    if flush:
        session.flush()
    return entry


def row(
    *,
    case_id: int,
    state: str,
    by: Actor,
    action: str,
    at: datetime,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    first: bool = False,
) -> dict[str, Any]:
    """The column values of a row for a case now in ``state``: what ``record`` appends, for a
    caller that inserts many rows at once (intake's batches)."""
    return {
        "case_id": case_id,
        "at": at,
        "actor_ref": by.ref,
        "actor_name": by.name,
        "action": action,
        "from_state": None if first else (from_state or state),
        "to_state": to_state if to_state is not None else state,
        "reason": reason,
        "note": note,
        "data": data,
    }


def entries(session: Session, *, case_id: int) -> Sequence[TimelineEntry]:
    """The case's history in order."""
    query = select(TimelineEntry).where(TimelineEntry.case_id == case_id)
    return session.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)).all()
