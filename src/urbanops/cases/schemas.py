"""Pydantic shapes of the case registry: what comes in, and what each role may see going out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from urbanops.cases.models import CaseState, Light, Stage
from urbanops.kit.actor import Role


class ReportIn(BaseModel):
    """One report from any channel (the door every channel comes through)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str = Field(min_length=1, max_length=32, examples=["hotline_12345"])
    matter_code: str = Field(pattern=r"^\d{5}$", examples=["09006"])
    description: str = Field(min_length=1, max_length=4000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: str = "wgs84"
    address: str | None = Field(default=None, max_length=256)
    is_emergency: bool = False
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    reported_at: datetime | None = None  # when the channel received it; default now
    complainant_name: str | None = Field(default=None, max_length=64)
    complainant_phone: str | None = Field(default=None, max_length=32)
    caller_number: str | None = Field(default=None, max_length=32)
    letter_number: str | None = Field(default=None, max_length=64)
    source_ref: str | None = Field(default=None, max_length=128)
    extra: dict[str, Any] | None = None

    @field_validator("reported_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("reported_at needs a time zone (e.g. +08:00 or Z)")
        return value


class CaseFilter(BaseModel):
    """Filters of the case list; every one optional."""

    state: list[CaseState] | None = None
    channel: list[str] | None = None
    matter_code: list[str] | None = None
    grid: str | None = None  # unit grid, community or responsibility grid code
    officer_id: int | None = None
    light: list[Light] | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    emergency: bool | None = None
    supervised: bool | None = None
    q: str | None = None  # number or text in the description or address


# --- going out ---------------------------------------------------------------------------------

#: Roles that see complainants' personal data in full (受理、派遣、值班、领导、管理员、外部系统).
PII_ROLES = frozenset(
    {
        Role.OPERATOR,
        Role.SHIFT_LEADER,
        Role.DISPATCHER,
        Role.LEADER,
        Role.ADMIN,
        Role.INTEGRATION,
    }
)


class ReportOut(BaseModel):
    """One report of a case, with its complainant (个人信息).

    Personal data policy: operators, shift leaders, dispatchers, leaders, admins and integrations
    get the complainant's name, phone and the caller number in full. Everyone else (a grid
    officer, a squad leader, a legal reviewer, a device) gets them masked: the name keeps its
    first character (``张**``), a number keeps its first three and last four digits
    (``138****0001``), enough to confirm "the caller ending in 0001" on site and not enough to
    call. Any full number of the case's complainants is also masked wherever else it appears in
    the answer (a description, a note), and ``extra`` (free channel metadata) is left out.
    """

    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    description: str
    lon: float
    lat: float
    address: str | None
    reported_at: datetime
    reported_by: str
    complainant_name: str | None
    complainant_phone: str | None
    caller_number: str | None
    letter_number: str | None
    source_ref: str | None
    extra: dict[str, Any] | None = None


class TimelineOut(BaseModel):
    """One row of the case's history (流转记录)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_ref: str
    actor_name: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    note: str | None
    data: dict[str, Any] | None


class Deadlines(BaseModel):
    """The running stage's clock and the whole-case clocks (时限)."""

    stage: Stage | None
    stage_started_at: datetime | None
    stage_limit_amount: float | None
    stage_limit_unit: str | None
    warn_at: datetime | None
    due_at: datetime | None
    warned: bool
    missed: bool
    escalation_level: int
    contact_by: datetime | None
    contacted_at: datetime | None
    close_by: datetime | None
    suspended_at: datetime | None
    suspended_seconds: float


class CaseOut(BaseModel):
    """A case as a row of the list: its light computed now, the viewer's allowed actions."""

    id: int
    number: str
    state: CaseState
    channel: str
    matter_code: str
    is_emergency: bool
    description: str
    address: str | None
    lon: float
    lat: float
    inside_jurisdiction: bool
    unit_grid_code: str | None
    community_code: str | None
    street_code: str | None
    responsibility_grid_code: str | None
    officer_id: int | None
    stage: Stage | None
    warn_at: datetime | None
    due_at: datetime | None
    light: Light
    supervised: bool
    suspension_requested: bool
    report_count: int
    reported_at: datetime
    closed_at: datetime | None
    updated_at: datetime
    version: int
    allowed_actions: list[str]


class CaseDetail(CaseOut):
    """One case in full: every report, the timeline, the deadlines and the step times."""

    verification_required: bool
    verified_at: datetime | None
    registered_at: datetime | None
    dispatched_at: datetime | None
    accepted_at: datetime | None
    handled_at: datetime | None
    checked_at: datetime | None
    rejection_reason: str | None
    rework_count: int
    return_count: int
    reopen_count: int
    suspended_from: CaseState | None
    created_by: str
    deadlines: Deadlines
    reports: list[ReportOut]
    timeline: list[TimelineOut]


class ReportAnswer(CaseDetail):
    """The answer to a report: the case it made or joined (``merged``: joined a duplicate)."""

    report_id: int
    created: bool
    merged: bool


class CasePage(BaseModel):
    """One page of the case list."""

    items: list[CaseOut]
    total: int
    page: int
    size: int


class ActionIn(BaseModel):
    """What comes with a workflow action; ``expected_version`` guards against a stale screen."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=4000)
    officer_id: int | None = Field(default=None, ge=1)
    expected_version: int | None = Field(default=None, ge=1)


class ReclassifyIn(BaseModel):
    """Change the case's matter (改类), with a reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    matter_code: str = Field(pattern=r"^\d{5}$", examples=["09006"])
    reason: str = Field(min_length=1, max_length=2000)


class MergeIn(BaseModel):
    """Fold a duplicate case into this one (合并), keeping every report, with a reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    duplicate_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=2000)


class TransitionOut(BaseModel):
    """One row of the table of allowed transitions (流转规则), for the console."""

    action: str
    label: str
    from_states: list[CaseState]
    to_state: CaseState | None
    roles: list[Role]
    reason_required: bool
    starts_stage: Stage | None


class WorkflowOut(BaseModel):
    """The whole transition table, the states and the one-step-back (回退) targets."""

    states: list[CaseState]
    transitions: list[TransitionOut]
    return_to: dict[CaseState, CaseState]
