"""Shapes in and out of the catalogue API: entries (部件/事项) and case standards (处置标准)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from urbanops.kit.calendar import LimitUnit

LimitAmount = Annotated[
    Decimal,
    Field(gt=0, max_digits=8, decimal_places=2, description="处置时限, in ``limit_unit``"),
    PlainSerializer(float, return_type=float),
]
Text64 = Annotated[str, Field(min_length=1, max_length=64)]
Condition = Annotated[str, Field(min_length=1, max_length=2000)]


class EntryKind(StrEnum):
    """Component (部件) or matter (事项)."""

    COMPONENT = "component"
    MATTER = "matter"


class EntryOut(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: EntryKind
    code: str
    major_code: str
    major_name: str
    name: str
    component_code: str | None
    keywords: list[str]
    standard_ref: str
    is_public: bool
    wuwu: str | None

    @field_validator("keywords", mode="before")
    @classmethod
    def _split_keywords(cls, value: object) -> object:
        """Keywords are stored ``|``-separated and answered as a list."""
        return [w for w in value.split("|") if w] if isinstance(value, str) else value


class EntryPage(BaseModel):
    """A page of catalogue entries matching a search."""

    items: list[EntryOut]
    total: int
    page: int
    size: int


class StandardOut(BaseModel):
    """A case standard with the code and name of its matter."""

    id: int
    matter_code: str
    matter_name: str
    variant: str
    registration_condition: str
    closure_condition: str
    limit_amount: LimitAmount
    limit_unit: LimitUnit
    handling_unit: str
    responsible_department: str
    is_default: bool
    dedupe_radius_m: int
    dedupe_window_h: int
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    updated_by: str | None


class EntryDetail(EntryOut):
    """An entry with its case standards (only matters have any)."""

    standards: list[StandardOut]


class LegacyMapping(BaseModel):
    """A GB/T 30428.2-2013 event code and the 2026 matter it became."""

    legacy_code: str
    entry: EntryOut


class StandardCreate(BaseModel):
    """A new case standard for a matter (by its 2026 code)."""

    model_config = ConfigDict(extra="forbid")

    matter_code: str = Field(pattern=r"^\d{5}$")
    variant: Text64
    registration_condition: Condition
    closure_condition: Condition
    limit_amount: LimitAmount
    limit_unit: LimitUnit
    handling_unit: Text64
    responsible_department: Text64
    is_default: bool = False
    dedupe_radius_m: int = Field(default=50, gt=0, le=10_000)
    dedupe_window_h: int = Field(default=24, gt=0, le=24 * 365)


class StandardPatch(BaseModel):
    """Changes to a case standard; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    variant: Text64 | None = None
    registration_condition: Condition | None = None
    closure_condition: Condition | None = None
    limit_amount: LimitAmount | None = None
    limit_unit: LimitUnit | None = None
    handling_unit: Text64 | None = None
    responsible_department: Text64 | None = None
    is_default: bool | None = None
    dedupe_radius_m: int | None = Field(default=None, gt=0, le=10_000)
    dedupe_window_h: int | None = Field(default=None, gt=0, le=24 * 365)


class ImportReport(BaseModel):
    """What an XLSX import changed."""

    created: int
    updated: int
