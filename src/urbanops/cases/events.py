"""Events of the case registry, published on the EventBus after the transaction commits."""

from __future__ import annotations

from dataclasses import dataclass

from urbanops.kit.events import Event


@dataclass(frozen=True, kw_only=True)
class CaseEvent(Event):
    case_id: int
    number: str
    state: str


@dataclass(frozen=True, kw_only=True)
class CaseReported(CaseEvent):
    name = "CaseReported"
    channel: str
    matter_code: str
    merged: bool = False  # True when the report joined an existing case as a duplicate
    emergency: bool = False  # the case is an emergency (dispatched automatically)


@dataclass(frozen=True, kw_only=True)
class CaseRegistered(CaseEvent):
    name = "CaseRegistered"


@dataclass(frozen=True, kw_only=True)
class CaseDispatched(CaseEvent):
    name = "CaseDispatched"
    officer_id: int | None


@dataclass(frozen=True, kw_only=True)
class CaseAccepted(CaseEvent):
    name = "CaseAccepted"
    officer_id: int | None


@dataclass(frozen=True, kw_only=True)
class CaseHandled(CaseEvent):
    name = "CaseHandled"


@dataclass(frozen=True, kw_only=True)
class CaseChecked(CaseEvent):
    name = "CaseChecked"


@dataclass(frozen=True, kw_only=True)
class CaseClosed(CaseEvent):
    name = "CaseClosed"


@dataclass(frozen=True, kw_only=True)
class CaseReturned(CaseEvent):
    name = "CaseReturned"
    reason: str


@dataclass(frozen=True, kw_only=True)
class DeadlineWarned(CaseEvent):
    name = "DeadlineWarned"
    stage: str


@dataclass(frozen=True, kw_only=True)
class DeadlineMissed(CaseEvent):
    name = "DeadlineMissed"
    stage: str


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(CaseEvent):
    name = "CaseEscalated"
    level: int  # 1 shift leader (值班长), 2 squad leader (中队长)
    to_role: str
