"""Tables of the citizen page: the tracking ids handed to citizens, kept only as hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Base, BigIntPK, UTCDateTime


class TrackingToken(Base):
    """The secret part of a tracking id, as its SHA-256, pointing at one citizen report.

    The report, not the case: a report keeps its complainant when an operator merges its case
    into another, so a tracking id follows the problem wherever it goes.
    """

    __tablename__ = "citizen_tracking"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("case_report.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
