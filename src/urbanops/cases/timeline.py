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
) -> TimelineEntry:
    """Append one row; ``from_state``/``to_state`` default to the case's state (no change).

    ``first`` marks the row that creates the case: it comes from no state.
    """
    entry = TimelineEntry(
        case_id=case.id,
        at=at,
        actor_ref=by.ref,
        actor_name=by.name,
        action=action,
        from_state=None if first else (from_state or case.state.value),
        to_state=to_state if to_state is not None else case.state.value,
        reason=reason,
        note=note,
        data=data,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, *, case_id: int) -> Sequence[TimelineEntry]:
    """The case's history in order."""
    query = select(TimelineEntry).where(TimelineEntry.case_id == case_id)
    return session.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)).all()
