"""REST routes of the follow-up (回访) for staff: record a phone rating, the queue, the counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from urbanops.auth.deps import require
from urbanops.cases import followup
from urbanops.cases.api import visible_case
from urbanops.cases.followup_models import Outcome, Rating, RatingMethod
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import InvalidInput
from urbanops.kit.web import ClockDep, SessionDep

router = APIRouter(prefix="/api", tags=["followup"])

#: Who calls complainants back and records their ratings (受理员、值班长; admin passes).
CALLERS = (Role.OPERATOR, Role.SHIFT_LEADER)
#: Who reads follow-ups and their counts.
READERS = (Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.LEADER)
Caller = Annotated[Actor, Depends(require(*CALLERS))]
Reader = Annotated[Actor, Depends(require(*READERS))]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class FollowupOut(BaseModel):
    """One follow-up: the closure it rates, and its rating once given."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    round: int
    channel: str
    closed_at: datetime
    rating: Rating | None
    method: RatingMethod | None
    rated_at: datetime | None
    rated_by: str | None
    rated_by_name: str | None
    comment: str | None
    outcome: Outcome | None


class PendingOut(FollowupOut):
    number: str
    description: str


class PendingPageOut(BaseModel):
    items: list[PendingOut]
    total: int
    page: int
    size: int


class PhoneRatingIn(BaseModel):
    """A rating the complainant gave on the phone (电话回访)."""

    model_config = ConfigDict(extra="forbid")

    rating: Rating
    comment: str | None = Field(default=None, max_length=1000)


class RatingCounts(BaseModel):
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    total: int


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (e.g. +08:00 or Z)", code="naive_datetime")
    return value


@router.post(
    "/cases/{case_id}/followup",
    operation_id="record_followup",
    responses={409: {"description": "not closed, no follow-up for its channel, already rated"}},
)
def record_followup(
    session: SessionDep, clock: ClockDep, by: Caller, case_id: CaseId, body: PhoneRatingIn
) -> FollowupOut:
    """Record the complainant's rating after a call; unsatisfied reopens the case (不满意重办)."""
    case = visible_case(session, case_id=case_id, viewer=by)
    row = followup.rate(
        session, case_id=case.id, rating=body.rating, method=RatingMethod.PHONE, by=by,
        now=clock.now(), comment=body.comment,
    )  # fmt: skip
    return FollowupOut.model_validate(row)


@router.get("/cases/{case_id}/followup", operation_id="list_case_followups")
def case_followups(session: SessionDep, by: Reader, case_id: CaseId) -> list[FollowupOut]:
    """Every follow-up of the case, first closure first."""
    case = visible_case(session, case_id=case_id, viewer=by)
    return [FollowupOut.model_validate(f) for f in followup.for_case(session, case_id=case.id)]


@router.get("/followups/pending", operation_id="pending_followups")
def pending_followups(
    session: SessionDep,
    by: Reader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PendingPageOut:
    """The 回访 queue: closed cases whose complainant has not rated the result yet."""
    found = followup.pending(session, page=page, size=size)
    items = [
        PendingOut(
            **FollowupOut.model_validate(f).model_dump(), number=c.number, description=c.description
        )
        for f, c in found.items
        if by.may_see_grid(c.responsibility_grid_code)
    ]
    return PendingPageOut(items=items, total=found.total, page=page, size=size)


@router.get("/followups/counts", operation_id="followup_counts")
def followup_counts(
    session: SessionDep,
    by: Reader,
    rated_from: datetime | None = None,
    rated_to: datetime | None = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> RatingCounts:
    """How many ratings of each kind in a period (满意度 for the statistics)."""
    counts = followup.rating_counts(
        session, rated_from=_aware(rated_from, "rated_from"),
        rated_to=_aware(rated_to, "rated_to"), channel=channel,
    )  # fmt: skip
    return RatingCounts(**{r.value: n for r, n in counts.items()}, total=sum(counts.values()))
