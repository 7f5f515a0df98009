"""Tables of the case registry.

A case (案件) is one problem at one place. Every report of it, from any channel, is a
``CaseReport`` on that case (duplicates merge into one case, keeping every complainant). Every
change is one append-only ``TimelineEntry``. Evidence files hang on the case or on a timeline step.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from urbanops.kit.db import Base, BigIntPK, UTCDateTime


def _enum(cls: type[StrEnum], length: int = 24) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class CaseState(StrEnum):
    """States of a case, one name each, used everywhere (ARCHITECTURE.md, "The flow of a case")."""

    REPORTED = "reported"  # 上报, waiting for 立案 (and for 核实 where the channel needs it)
    REGISTERED = "registered"  # 立案
    REJECTED = "rejected"  # 不予立案 / 作废, with a reason
    DISPATCHED = "dispatched"  # 派遣
    ACCEPTED = "accepted"  # 签收 / 响应
    HANDLED = "handled"  # 处置完毕, waiting for 核查
    CHECKED = "checked"  # 核查通过, waiting for 结案
    CLOSED = "closed"  # 结案
    SUSPENDED = "suspended"  # 挂账, approved by a shift leader; its time is not counted


class Stage(StrEnum):
    """Clocked stages; each has a start, a limit and a deadline while it runs."""

    VERIFY = "verify"  # 核实 before registration (per channel)
    REGISTER = "register"  # 立案 decision
    DISPATCH = "dispatch"  # 派遣
    RESPOND = "respond"  # officer accepts (响应)
    HANDLE = "handle"  # 处置
    CHECK = "check"  # 核查
    CLOSE = "close"  # 结案


class Light(StrEnum):
    """Status light of the running stage: green < 80 % used, yellow to 100 %, red overdue."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    NONE = "none"  # no clock running (closed, rejected, suspended)


class Case(Base):
    """A problem at a place, from its first report to its closure."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. 440309001-20261126-0001
    state: Mapped[CaseState] = mapped_column(_enum(CaseState), index=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)  # channel of the first report
    is_emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    matter_code: Mapped[str] = mapped_column(String(8), index=True)  # 事项代码 (kind matter)
    standard_id: Mapped[int | None] = mapped_column(BigInteger)  # case_standard variant used
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    lon: Mapped[float] = mapped_column(Float)  # WGS84
    lat: Mapped[float] = mapped_column(Float)
    inside_jurisdiction: Mapped[bool] = mapped_column(Boolean)
    unit_grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(9))
    responsibility_grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    officer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # assigned user
    verification_required: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())  # ix_case_reported_dims
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # The running stage's clock: light = green before warn_at, yellow before due_at, red after.
    stage: Mapped[Stage | None] = mapped_column(_enum(Stage))
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stage_limit_amount: Mapped[float | None] = mapped_column(Float)
    stage_limit_unit: Mapped[str | None] = mapped_column(String(16))
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 1 shift leader, 2 squad
    # Whole-case clocks from the channel profile (e.g. 12345 contact in 24 h; 信访 answer in 60 d).
    contact_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contact_missed: Mapped[bool] = mapped_column(Boolean, default=False)
    close_missed: Mapped[bool] = mapped_column(Boolean, default=False)
    # 挂账: the state to return to, and the paused time so far.
    suspended_from: Mapped[CaseState | None] = mapped_column(_enum(CaseState))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)  # 返工
    return_count: Mapped[int] = mapped_column(Integer, default=0)  # 回退
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)  # 督办
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_case_matter_reported", "matter_code", "reported_at"),
        # The board's counts of a period by channel, matter and grid, from the index alone.
        Index(
            "ix_case_reported_dims",
            "reported_at",
            "channel",
            "matter_code",
            "responsibility_grid_code",
        ),
        # The console's live counts of open cases, from the index alone (migration 0015).
        Index("ix_case_state_grid", "state", "responsibility_grid_code"),
        Index("ix_case_state_due_warn", "state", "due_at", "warn_at"),
        # What the sweeper still has to mark (migration 0015): (flag, deadline) of running clocks.
        *(
            Index(name, flag, deadline, postgresql_where=where, sqlite_where=where)
            for name, flag, deadline, where in (
                ("ix_case_warn_pending", "warned", "warn_at", text("warn_at IS NOT NULL")),
                ("ix_case_due_pending", "missed", "due_at", text("due_at IS NOT NULL")),
                (
                    "ix_case_escalation_pending",
                    "escalation_level",
                    "due_at",
                    text("due_at IS NOT NULL"),
                ),
            )
        ),
        *(
            Index(
                name,
                "state",
                deadline,
                postgresql_where=text(where.format(false="false")),
                sqlite_where=text(where.format(false="0")),
            )
            for name, deadline, where in (
                (
                    "ix_case_contact_pending",
                    "contact_by",
                    "contact_by IS NOT NULL AND contacted_at IS NULL AND contact_missed IS {false}",
                ),
                (
                    "ix_case_close_by",
                    "close_by",
                    "close_by IS NOT NULL",
                ),
            )
        ),
    )


class CaseNumberCounter(Base):
    """The last serial handed out for one street and local day, so case numbers never collide."""

    __tablename__ = "case_number_counter"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # <street>-<YYYYMMDD>
    last: Mapped[int] = mapped_column(Integer)


class CaseReport(Base):
    """One report of a case from one channel, with its complainant (personal data)."""

    __tablename__ = "case_report"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(256))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_by: Mapped[str] = mapped_column(String(64))  # actor ref of whoever entered it
    complainant_name: Mapped[str | None] = mapped_column(String(64))
    complainant_phone: Mapped[str | None] = mapped_column(String(32))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    letter_number: Mapped[str | None] = mapped_column(String(64))  # 信访件号 / 转办函号
    source_ref: Mapped[str | None] = mapped_column(String(128))  # id in the source system
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TimelineEntry(Base):
    """One append-only row of a case's history: who, when, from which state to which, why."""

    __tablename__ = "case_timeline"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_ref: Mapped[str] = mapped_column(String(64))

    __table_args__ = (  # which cases ever missed a deadline (the board's on-time rate)
        Index(
            "ix_case_timeline_missed",
            "case_id",
            postgresql_where=text("action = 'deadline_missed'"),
            sqlite_where=text("action = 'deadline_missed'"),
        ),
    )
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EvidencePhase(StrEnum):
    BEFORE = "before"  # 处置前
    AFTER = "after"  # 处置后
    CHECK = "check"  # 核查
    OTHER = "other"


class Evidence(Base):
    """A photo, video or document stored content-addressed (SHA-256) under the evidence root."""

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    timeline_entry_id: Mapped[int | None] = mapped_column(ForeignKey("case_timeline.id"))
    phase: Mapped[EvidencePhase] = mapped_column(_enum(EvidencePhase, 16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))  # OOXML types are over 64 characters
    filename: Mapped[str | None] = mapped_column(String(256))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # from EXIF
    taken_lon: Mapped[float | None] = mapped_column(Float)
    taken_lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))


@event.listens_for(Session, "before_flush")
def _timeline_is_append_only(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, TimelineEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("the case timeline is append-only")
