"""Pydantic shapes of the field-force API: what comes in, what goes out."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from urbanops.workforce.models import DeviceKind, DutyStatus, ShiftKind, TravelMode

CODE = r"^[A-Za-z0-9_.-]{1,32}$"
PHONE = r"^\+?[0-9 -]{3,32}$"
CERTIFICATE = r"^[A-Za-z0-9-]{4,32}$"
PLATE = r"^\S{2,16}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SquadIn(_In):
    """A new squad (中队)."""

    code: str = Field(pattern=CODE, examples=["SQ01"])
    name: str = Field(min_length=1, max_length=64, examples=["第一中队"])
    leader_user_id: int | None = Field(default=None, ge=1)


class SquadOut(BaseModel):
    """A squad with the home grids of its officers."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    leader_user_id: int | None
    grid_codes: list[str] = []
    officers: int = 0


class OfficerIn(_In):
    """A workforce record for an existing user."""

    user_id: int = Field(ge=1)
    certificate_no: str | None = Field(default=None, pattern=CERTIFICATE)
    squad_code: str | None = Field(default=None, pattern=CODE)
    grid_code: str | None = Field(default=None, pattern=CODE)
    phone: str | None = Field(default=None, pattern=PHONE)
    travel_mode: TravelMode = TravelMode.WALK
    duty_status: DutyStatus = DutyStatus.OFF_DUTY


class OfficerPatch(_In):
    """Changes to an officer; omitted fields stay, ``null`` clears a clearable one."""

    certificate_no: str | None = Field(default=None, pattern=CERTIFICATE)
    squad_code: str | None = Field(default=None, pattern=CODE)
    grid_code: str | None = Field(default=None, pattern=CODE)
    phone: str | None = Field(default=None, pattern=PHONE)
    travel_mode: TravelMode | None = None


class OfficerOut(BaseModel):
    """An officer as answered."""

    id: int
    user_id: int
    username: str
    name: str
    certificate_no: str | None
    squad_code: str | None
    grid_code: str | None
    phone: str | None
    travel_mode: TravelMode
    duty_status: DutyStatus
    duty_since: datetime


class DutyIn(_In):
    """A duty status to set, with a reason for the history."""

    status: DutyStatus
    reason: str = Field(default="", max_length=200)


class DutyChangeOut(BaseModel):
    """One row of an officer's duty history."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_status: DutyStatus | None
    to_status: DutyStatus
    reason: str
    by: str


class ShiftIn(_In):
    """A shift for one officer; instants carry their offset."""

    officer_id: int = Field(ge=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    kind: ShiftKind


class ShiftOut(BaseModel):
    """A shift as answered."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    officer_id: int
    starts_at: datetime
    ends_at: datetime
    kind: ShiftKind


class DeviceIn(_In):
    """A new device, bound to a user (officer), to a vehicle, or to nothing yet (in stock)."""

    identifier: str = Field(pattern=r"^[A-Za-z0-9_.:-]{3,64}$", examples=["864403090000017"])
    kind: DeviceKind
    name: str = Field(min_length=1, max_length=100)
    user_id: int | None = Field(default=None, ge=1)
    vehicle_plate: str | None = Field(default=None, pattern=PLATE)


class DevicePatch(_In):
    """Changes to a device; omitted fields stay, ``null`` unbinds."""

    kind: DeviceKind | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    user_id: int | None = Field(default=None, ge=1)
    vehicle_plate: str | None = Field(default=None, pattern=PLATE)


class DeviceOut(BaseModel):
    """A device with its online state at the time of the answer."""

    id: int
    identifier: str
    kind: DeviceKind
    name: str
    user_id: int | None
    vehicle_plate: str | None
    last_fix_at: datetime | None
    online: bool
    has_api_key: bool


class DeviceKeyOut(BaseModel):
    """A device's new API key: shown once, never stored in clear."""

    device: DeviceOut
    api_key: str
    key_prefix: str
