"""REST routes of dispatch: recommendations for a case, the one-call assignment, its offers.

The router's lifespan subscribes the app to the news dispatch acts on (emergency reports, case
changes, duty changes) while the app serves; see ``wiring``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response

from urbanops.auth.deps import require
from urbanops.cases.api import case_detail, visible_case
from urbanops.dispatch import service
from urbanops.dispatch.schemas import (
    AssignIn,
    AssignOut,
    OfferOut,
    RankedOut,
    RecommendationOut,
    UnavailableOut,
)
from urbanops.dispatch.wiring import context_of, subscribe
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import load_calendar
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    stop = subscribe(app)
    try:
        yield
    finally:
        stop()


router = APIRouter(prefix="/api", tags=["dispatch"], lifespan=_lifespan)

#: The command centre and team leaders (admin always passes).
Staff = Annotated[
    Actor,
    Depends(
        require(Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.SQUAD_LEADER, Role.LEADER)
    ),
]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get(
    "/cases/{case_id}/recommendations",
    response_model=RecommendationOut,
    operation_id="recommend_officers",
)
def recommend_officers(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    viewer: Staff,
    case_id: CaseId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> RecommendationOut:
    """Available officers ranked by arrival time (own grid, neighbours, others), and who is not."""
    case = visible_case(session, case_id=case_id, viewer=viewer)
    now = clock.now()
    found = service.recommend(
        session, case=case, now=now, context=context_of(request.app), limit=limit
    )
    return RecommendationOut(
        case_id=case.id,
        grid_code=found.grid_code,
        neighbours=sorted(found.neighbours),
        response_limit_s=found.response_limit_s,
        officers=[RankedOut.of(r, now=now) for r in found.ranked],
        unavailable=[UnavailableOut.of(u) for u in found.unavailable],
    )


@router.post("/cases/{case_id}/assign", response_model=AssignOut, operation_id="assign_case")
def assign_case(
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    by: Staff,
    case_id: CaseId,
    body: AssignIn,
) -> AssignOut:
    """One call: register if still reported, dispatch (or redispatch) to the officer or the best."""
    visible_case(session, case_id=case_id, viewer=by)
    now = clock.now()
    done = service.assign(
        session, case_id=case_id, by=by, now=now, context=context_of(request.app),
        officer_user_id=body.officer_user_id, expected_version=body.expected_version,
        note=body.note,
    )  # fmt: skip
    response.headers["ETag"] = f'"{done.case.version}"'
    calendar = load_calendar(session, settings)
    return AssignOut(
        action=done.action,
        officer=RankedOut.of(done.officer, now=now),
        offer=OfferOut.model_validate(done.offer),
        case=case_detail(session, done.case, viewer=by, now=now, calendar=calendar),
    )


@router.get(
    "/cases/{case_id}/offers", response_model=list[OfferOut], operation_id="list_case_offers"
)
def list_case_offers(session: SessionDep, viewer: Staff, case_id: CaseId) -> list[OfferOut]:
    """Who was asked to take the case, when, by when, and how each offer ended."""
    visible_case(session, case_id=case_id, viewer=viewer)
    return [OfferOut.model_validate(o) for o in service.offers_of(session, case_id=case_id)]
