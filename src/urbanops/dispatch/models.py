"""The dispatch offer (派遣记录): who was asked to take a case, when, by when, and how it ended.

One row per attempt: every dispatch or redispatch of a case opens a ``pending`` offer to the
officer, with ``respond_by`` = the case's response deadline (the RESPOND stage's ``due_at``).
An offer ends ``accepted`` (he took the case), ``timed_out`` (the 5/10 mechanism moved the case
on after the response limit), ``declined`` (the case came back before he took it) or
``withdrawn`` (a person moved the case to someone else, or it was closed meanwhile).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Base, BigIntPK, UTCDateTime


class OfferOutcome(StrEnum):
    PENDING = "pending"  # 待响应
    ACCEPTED = "accepted"  # 已签收
    TIMED_OUT = "timed_out"  # 超时未响应, moved on automatically
    DECLINED = "declined"  # 回退: the case came back before he took it
    WITHDRAWN = "withdrawn"  # 改派 by a person, or the case ended meanwhile


class DispatchOffer(Base):
    """One dispatch of a case to one officer (user) and its outcome."""

    __tablename__ = "dispatch_offer"
    __table_args__ = (
        Index("uq_dispatch_offer_case_attempt", "case_id", "attempt", unique=True),
        Index("ix_dispatch_offer_outcome_respond_by", "outcome", "respond_by"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("case.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    attempt: Mapped[int] = mapped_column(Integer)  # 1 for the first dispatch of the case
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[OfferOutcome] = mapped_column(
        Enum(
            OfferOutcome,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    offered_by: Mapped[str] = mapped_column(String(64))  # actor ref
    #: The recommendation's estimate when the offer was made (None: chosen without one).
    eta_s: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
