"""Tables of the follow-up (回访): one row per closure of a case from a citizen-facing channel.

A case closes, a follow-up is due: the complainant rates the result on the citizen page, or an
operator records the rating after a call. A reopened case that closes again gets a new row (its
``round`` is the case's ``reopen_count`` + 1 at that closure), so every rating stays on record.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.cases.models import _enum
from urbanops.kit.db import Base, BigIntPK, UTCDateTime


class Rating(StrEnum):
    """The complainant's verdict on the result (满意度)."""

    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class RatingMethod(StrEnum):
    """How the rating reached us."""

    PAGE = "page"  # the complainant, on the citizen page
    PHONE = "phone"  # an operator, after calling the complainant (电话回访)


class Outcome(StrEnum):
    """What the rating did to the case."""

    NONE = "none"
    REOPENED = "reopened"  # 不满意重办: back to registered with fresh clocks
    SUPERVISED = "supervised"  # a later 不满意: reopened under supervision (督办)


class Followup(Base):
    """The follow-up of one closure of a case: pending until rated, then rated once."""

    __tablename__ = "case_followup"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)  # 1 for the first closure, 2 after one reopening …
    channel: Mapped[str] = mapped_column(String(32))  # the case's channel, for the statistics
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rating: Mapped[Rating | None] = mapped_column(_enum(Rating))
    method: Mapped[RatingMethod | None] = mapped_column(_enum(RatingMethod, 16))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rated_by: Mapped[str | None] = mapped_column(String(64))  # actor ref (user:12, citizen)
    rated_by_name: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, 16))

    __table_args__ = (
        UniqueConstraint("case_id", "round"),
        Index("ix_case_followup_rated_at", "rated_at"),
    )
