"""Pydantic shapes of dispatch: recommendations, the one-call assignment, offers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from urbanops.cases.schemas import CaseDetail
from urbanops.dispatch.models import OfferOutcome
from urbanops.dispatch.recommend import Ranked
from urbanops.dispatch.service import Unavailable
from urbanops.workforce.models import TravelMode


class RankedOut(BaseModel):
    """An available officer: tier 0 own grid, 1 neighbouring grid, 2 elsewhere."""

    officer_id: int
    user_id: int
    name: str
    grid_code: str | None
    tier: int
    travel_mode: TravelMode
    distance_m: float
    eta_s: float
    lon: float
    lat: float
    fix_at: datetime
    position_age_s: float

    @classmethod
    def of(cls, ranked: Ranked, *, now: datetime) -> RankedOut:
        c = ranked.candidate
        return cls(
            officer_id=c.officer_id, user_id=c.user_id, name=c.name, grid_code=c.grid_code,
            tier=ranked.tier, travel_mode=c.travel_mode, distance_m=round(ranked.distance_m, 1),
            eta_s=round(ranked.eta_s, 1), lon=c.lon, lat=c.lat, fix_at=c.fix_at,
            position_age_s=max(0.0, round((now - c.fix_at).total_seconds(), 1)),
        )  # fmt: skip


class UnavailableOut(BaseModel):
    """An officer of the case's grids who cannot go now, and why."""

    officer_id: int
    user_id: int
    name: str
    grid_code: str | None
    reason: str

    @classmethod
    def of(cls, item: Unavailable) -> UnavailableOut:
        return cls(
            officer_id=item.officer_id, user_id=item.user_id, name=item.name,
            grid_code=item.grid_code, reason=item.reason,
        )  # fmt: skip


class RecommendationOut(BaseModel):
    case_id: int
    grid_code: str | None
    neighbours: list[str]
    response_limit_s: float | None
    officers: list[RankedOut]
    unavailable: list[UnavailableOut]


class AssignIn(BaseModel):
    """Give the case to one officer (``officer_user_id``) or to the best one (``auto``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    officer_user_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    auto: bool = False
    expected_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_choice(self) -> AssignIn:
        if (self.officer_user_id is None) == (not self.auto):
            raise ValueError('give either "officer_user_id" or "auto": true, not both')
        return self


class OfferOut(BaseModel):
    """One dispatch of the case to one officer and how it ended."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    user_id: int
    attempt: int
    offered_at: datetime
    respond_by: datetime | None
    outcome: OfferOutcome
    closed_at: datetime | None
    offered_by: str
    eta_s: float | None
    distance_m: float | None


class AssignOut(BaseModel):
    """What the assignment did: dispatch or redispatch, to whom, and the case now."""

    action: str
    officer: RankedOut
    offer: OfferOut
    case: CaseDetail
