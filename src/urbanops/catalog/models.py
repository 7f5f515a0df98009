"""Tables of the national catalogue (GB/T 47678.5-2026) and the case standards of its matters."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from urbanops.kit.calendar import LimitUnit
from urbanops.kit.db import Audited, Base, BigIntPK

ENTRY_KINDS = ("component", "matter")


class CatalogEntry(Base):
    """A component (部件) or matter (事项) of the national catalogue, keyed by kind and code."""

    __tablename__ = "catalog_entry"
    __table_args__ = (
        UniqueConstraint("kind", "code"),
        CheckConstraint("kind IN ('component', 'matter')", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(5))
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    component_code: Mapped[str | None] = mapped_column(String(5))
    keywords: Mapped[str] = mapped_column(Text, default="")
    standard_ref: Mapped[str] = mapped_column(String(32))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    wuwu: Mapped[str | None] = mapped_column(String(16))

    standards: Mapped[list[CaseStandard]] = relationship(
        back_populates="matter", lazy="raise", order_by="CaseStandard.id"
    )


class CaseStandard(Audited, Base):
    """A case standard (立案/结案条件 and 处置时限) of one matter; one variant per situation."""

    __tablename__ = "case_standard"
    __table_args__ = (
        UniqueConstraint("matter_id", "variant"),
        CheckConstraint("limit_amount > 0", name="limit_positive"),
        Index(
            "uq_case_standard_one_default",
            "matter_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("catalog_entry.id"), index=True)
    variant: Mapped[str] = mapped_column(String(64))
    registration_condition: Mapped[str] = mapped_column(Text)
    closure_condition: Mapped[str] = mapped_column(Text)
    limit_amount: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    limit_unit: Mapped[LimitUnit] = mapped_column(
        Enum(
            LimitUnit,
            native_enum=False,
            create_constraint=True,
            length=16,
            name="limit_unit",
            values_callable=lambda units: [u.value for u in units],
        )
    )
    handling_unit: Mapped[str] = mapped_column(String(64))
    responsible_department: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_radius_m: Mapped[int] = mapped_column(Integer, default=50)
    dedupe_window_h: Mapped[int] = mapped_column(Integer, default=24)

    matter: Mapped[CatalogEntry] = relationship(back_populates="standards", lazy="raise")
