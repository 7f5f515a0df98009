"""Shapes of the areas API: areas, responsibility grids, import answers, topology, lookups."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OfficerRole = Literal["leader", "member"]


class AreaOut(BaseModel):
    """A district, street, community or unit grid (单元网格) without its outline."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: str
    parent_code: str | None
    centre_lon: float | None
    centre_lat: float | None
    area_m2: float | None
    bbox: tuple[float, float, float, float] | None
    valid_from: date | None
    valid_to: date | None


class AreaPage(BaseModel):
    items: list[AreaOut]
    total: int
    limit: int
    offset: int


class OverlapOut(BaseModel):
    first: str
    second: str
    area_m2: float


class GapOut(BaseModel):
    area_m2: float
    centre_lon: float
    centre_lat: float
    bbox: tuple[float, float, float, float]


class TopologyOut(BaseModel):
    """Overlaps and gaps among siblings (拓扑检查); a report, never a refusal."""

    model_config = ConfigDict(from_attributes=True)

    parent: str | None
    level: str
    count: int
    overlaps: list[OverlapOut]
    gaps: list[GapOut]


class ImportOut(BaseModel):
    """What an import wrote, per level, and the topology of every sibling group it touched."""

    created: dict[str, int]
    updated: dict[str, int]
    total: int
    topology: list[TopologyOut]


class OfficerIn(BaseModel):
    user_id: int = Field(gt=0)
    role: OfficerRole = "member"


class OfficerOut(OfficerIn):
    pass


class OfficersIn(BaseModel):
    """The whole set of officers a responsibility grid carries (replaces the previous set)."""

    officers: list[OfficerIn] = Field(max_length=200)


class ResponsibilityGridIn(BaseModel):
    code: str = Field(min_length=1, max_length=16, examples=["440309001-01"])
    name: str = Field(min_length=1, max_length=100)
    street_code: str = Field(min_length=9, max_length=9)
    unit_grid_codes: list[str] = Field(default_factory=list, max_length=5000)


class ResponsibilityGridPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    unit_grid_codes: list[str] | None = Field(default=None, max_length=5000)


class ResponsibilityGridOut(BaseModel):
    """A responsibility grid (责任网格): its unit grids and officers."""

    code: str
    name: str
    street_code: str
    unit_grid_codes: list[str]
    officers: list[OfficerOut]
    centre_lon: float | None
    centre_lat: float | None
    area_m2: float | None


class ResponsibilityGridPage(BaseModel):
    items: list[ResponsibilityGridOut]
    total: int
    limit: int
    offset: int


class AreaRefOut(BaseModel):
    code: str
    name: str


class LocationOut(BaseModel):
    """Where a point lies; ``inside`` false with reason ``outside_jurisdiction`` is not an error."""

    inside: bool
    lon: float
    lat: float
    reason: str | None = None
    unit_grid: AreaRefOut | None = None
    community: AreaRefOut | None = None
    street: AreaRefOut | None = None
    district: AreaRefOut | None = None
    responsibility_grid: AreaRefOut | None = None


class PointIn(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class LocateBatchIn(BaseModel):
    crs: str = "wgs84"
    points: list[PointIn] = Field(max_length=10_000)


class LocateBatchOut(BaseModel):
    results: list[LocationOut]


GeoJsonFeature = dict[str, Any]
