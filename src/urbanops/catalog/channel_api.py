"""REST routes of the intake channels (受理渠道) and their SLA rules; an administrator edits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from urbanops.auth.deps import CurrentActor, require
from urbanops.catalog import channels
from urbanops.catalog.channel_models import Channel, SlaRule
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.web import ClockDep, SessionDep

router = APIRouter(tags=["channels"])
AdminActor = Annotated[Actor, Depends(require(Role.ADMIN))]


class SlaRuleOut(BaseModel):
    """One stage's time limit in one profile."""

    model_config = ConfigDict(from_attributes=True)

    profile: str
    stage: str
    amount: float
    unit: LimitUnit
    note: str
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    updated_by: str | None


class SlaRuleIn(BaseModel):
    """The limit to set for a stage of a profile."""

    model_config = ConfigDict(extra="forbid")

    amount: float = Field(gt=0, le=100_000, allow_inf_nan=False, examples=[24])
    unit: LimitUnit
    note: str = Field(default="", max_length=500)


class EffectiveLimit(BaseModel):
    """The limit a report on a channel gets for a stage, and the profile it comes from."""

    stage: str
    amount: float
    unit: LimitUnit
    profile: str


class ChannelOut(BaseModel):
    """One intake channel."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    requires_verification: bool
    citizen_facing: bool
    emergency_by_default: bool
    required_fields: list[str]
    active: bool
    sort_order: int
    note: str
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    updated_by: str | None


class ChannelDetail(ChannelOut):
    """A channel with its own SLA rules and the limits its reports get (not an emergency)."""

    rules: list[SlaRuleOut]
    effective: list[EffectiveLimit]


class ChannelPatch(BaseModel):
    """Changes to a channel; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=32)
    name_en: str | None = Field(default=None, min_length=1, max_length=64)
    requires_verification: bool | None = None
    citizen_facing: bool | None = None
    emergency_by_default: bool | None = None
    required_fields: list[str] | None = Field(
        default=None, max_length=len(channels.METADATA_FIELDS)
    )
    active: bool | None = None
    sort_order: int | None = Field(default=None, ge=0, le=100_000)
    note: str | None = Field(default=None, max_length=500)


def rule_out(rule: SlaRule) -> SlaRuleOut:
    """A rule as answered."""
    return SlaRuleOut.model_validate(rule)


def channel_detail(session: Session, channel: Channel) -> ChannelDetail:
    """A channel with its rules and effective limits."""
    limits = channels.effective_limits(session, channel=channel.code, emergency=False)
    return ChannelDetail(
        **ChannelOut.model_validate(channel).model_dump(),
        rules=[rule_out(r) for r in channels.list_rules(session, profile=channel.code)],
        effective=[
            EffectiveLimit(stage=stage, amount=amount, unit=unit, profile=profile)
            for stage, (amount, unit, profile) in limits.items()
        ],
    )


@router.get("/api/channels", operation_id="list_channels")
def list_channels(
    session: SessionDep, _: CurrentActor, active_only: bool = False
) -> list[ChannelOut]:
    """Every intake channel in display order."""
    found = channels.list_channels(session, active_only=active_only)
    return [ChannelOut.model_validate(c) for c in found]


@router.get("/api/channels/{code}", operation_id="get_channel")
def get_channel(session: SessionDep, _: CurrentActor, code: str) -> ChannelDetail:
    """One channel with its SLA rules and the limits its reports get."""
    return channel_detail(session, channels.require_channel(session, code=code))


@router.patch("/api/channels/{code}", operation_id="update_channel")
def update_channel(
    session: SessionDep, clock: ClockDep, by: AdminActor, code: str, body: ChannelPatch
) -> ChannelDetail:
    """Change a channel's names, flags or required report fields."""
    changes = body.model_dump(exclude_unset=True)
    channel = channels.update_channel(session, code=code, changes=changes, by=by, now=clock.now())
    return channel_detail(session, channel)


@router.get("/api/sla-rules", operation_id="list_sla_rules")
def list_sla_rules(
    session: SessionDep, _: CurrentActor, profile: str | None = None
) -> list[SlaRuleOut]:
    """Every SLA rule, optionally of one profile."""
    return [rule_out(r) for r in channels.list_rules(session, profile=profile)]


@router.put("/api/sla-rules/{profile}/{stage}", operation_id="put_sla_rule")
def put_sla_rule(
    session: SessionDep,
    clock: ClockDep,
    by: AdminActor,
    response: Response,
    profile: str,
    stage: str,
    body: SlaRuleIn,
) -> SlaRuleOut:
    """Set the limit of a stage in a profile (201 when the rule is new)."""
    rule, created = channels.put_rule(
        session,
        profile=profile,
        stage=stage,
        amount=body.amount,
        unit=body.unit,
        note=body.note,
        by=by,
        now=clock.now(),
    )
    response.status_code = 201 if created else 200
    return rule_out(rule)


@router.delete("/api/sla-rules/{profile}/{stage}", status_code=204, operation_id="delete_sla_rule")
def delete_sla_rule(
    session: SessionDep, clock: ClockDep, by: AdminActor, profile: str, stage: str
) -> Response:
    """Remove a rule so the next profile applies; rules of ``default`` cannot be removed."""
    channels.delete_rule(session, profile=profile, stage=stage, by=by, now=clock.now())
    return Response(status_code=204)
