"""Tables of the area hierarchy (区/街道/社区/单元网格) and responsibility grids (责任网格).

One ``area`` table holds all four levels: they share every column (code, name, outline, centre,
size, validity) and a parent link, so one query, one index and one import path serve them all;
``level`` says which one a row is. Geometry is WKB in WGS84 so SQLite needs no extension; the
bounding-box columns are indexed for map queries.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from urbanops.kit.db import Audited, Base, BigIntPK, UTCDateTime


class Outlined:
    """Columns of anything with an outline: WKB polygon, centre, size and bounding box."""

    geometry: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    centre_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    centre_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    area_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_lat: Mapped[float | None] = mapped_column(Float, nullable=True)


class Area(Outlined, Audited, Base):
    """A district, street, community or unit grid (单元网格), keyed by its 6/9/12/15-digit code."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(15), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("area.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)  # 初始日期
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)  # 终止日期

    __table_args__ = (
        CheckConstraint(
            "level IN ('district', 'street', 'community', 'unit_grid')", name="level_known"
        ),
        Index("ix_area_level_parent", "level", "parent_id"),
        Index("ix_area_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    )


class ResponsibilityGrid(Outlined, Audited, Base):
    """A responsibility grid (责任网格): unit grids of one street grouped under named officers.

    Its outline is the union of its unit grids, recomputed whenever they change.
    """

    __tablename__ = "responsibility_grid"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    street_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("area.id", ondelete="RESTRICT"), nullable=False, index=True
    )

    __table_args__ = (
        Index("ix_responsibility_grid_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    )


class ResponsibilityGridUnit(Base):
    """A unit grid's membership of a responsibility grid; the key makes it at most one at a time."""

    __tablename__ = "responsibility_grid_unit"

    unit_grid_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("area.id", ondelete="CASCADE", name="fk_responsibility_grid_unit_area"),
        primary_key=True,
    )
    responsibility_grid_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey(
            "responsibility_grid.id", ondelete="CASCADE", name="fk_responsibility_grid_unit_grid"
        ),
        nullable=False,
        index=True,
    )


class ResponsibilityGridOfficer(Base):
    """An officer (网格员) carried by a responsibility grid, with a role such as leader or member.

    ``user_id`` is the auth module's ``user.id`` without a foreign key: the auth tables are
    created by a later migration and auth must not depend on areas, so neither side adds one.
    """

    __tablename__ = "responsibility_grid_officer"

    responsibility_grid_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey(
            "responsibility_grid.id",
            ondelete="CASCADE",
            name="fk_responsibility_grid_officer_grid",
        ),
        primary_key=True,
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    assigned_by: Mapped[str] = mapped_column(String(64), nullable=False)
