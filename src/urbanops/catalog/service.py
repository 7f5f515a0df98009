"""Catalogue operations: find components (部件) and matters (事项), map old codes, edit standards.

The national catalogue and the default standards are inserted by migration ``0002_catalog`` (see
``urbanops.catalog.defaults``); this module only reads the catalogue and edits case standards.
A matter that has standards always has exactly one default among them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, contains_eager, selectinload

from urbanops.auth.service import audit
from urbanops.catalog.models import CaseStandard, CatalogEntry
from urbanops.catalog.schemas import StandardCreate, StandardPatch
from urbanops.kit import revision
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.errors import Conflict, InvalidInput, NotFound

LEGACY_CODE = re.compile(r"(0[1-5])-(\d{2})")
MATTER_CODE = re.compile(r"(0[6-9]|10)0(\d{2})")
#: Old class 05 突发事件 has no 2026 class; only two subclasses live on under 10 其他事项.
EMERGENCY_SUCCESSORS = {"05-07": "10001", "05-08": "10002"}


@dataclass(frozen=True)
class StandardInfo:
    """What intake needs of a matter's default standard, detached (held in the process cache)."""

    id: int
    limit_amount: Decimal
    limit_unit: LimitUnit
    dedupe_radius_m: int
    dedupe_window_h: int


def _load_matters(session: Session) -> dict[str, StandardInfo | None]:
    """Every matter's code and its default standard, if it has one (two queries)."""
    matters: dict[str, StandardInfo | None] = dict.fromkeys(
        session.scalars(select(CatalogEntry.code).where(CatalogEntry.kind == "matter"))
    )
    defaults = session.execute(
        select(CatalogEntry.code, CaseStandard)
        .join(CaseStandard.matter)
        .where(CatalogEntry.kind == "matter", CaseStandard.is_default.is_(True))
        .order_by(CaseStandard.id)
    )
    for code, s in defaults:
        if matters.get(code) is None:
            matters[code] = StandardInfo(
                s.id, s.limit_amount, LimitUnit(s.limit_unit), s.dedupe_radius_m, s.dedupe_window_h
            )
    return matters


_matters: revision.RevisionCache[dict[str, StandardInfo | None]] = revision.RevisionCache(
    revision.CATALOG, _load_matters
)


def matter_defaults(session: Session) -> dict[str, StandardInfo | None]:
    """Matter code → its default standard (None without one), from the process cache."""
    return _matters.get(session)


def default_standard(session: Session, *, code: str) -> StandardInfo | None:
    """The cached default standard of the matter ``code`` (what ``standard_for`` answers)."""
    return matter_defaults(session).get(code)


def mark_changed(session: Session, *, now: datetime) -> None:
    """Tell every process that standards changed (in the writer's transaction)."""
    revision.mark_changed(session, kind=revision.CATALOG, now=now)


def get_entry(session: Session, *, kind: str, code: str) -> CatalogEntry | None:
    """The catalogue entry (部件 or 事项) with this kind and code, if the catalogue lists it."""
    query = select(CatalogEntry).where(CatalogEntry.kind == kind, CatalogEntry.code == code)
    return session.scalars(query).one_or_none()


def require_entry(session: Session, *, kind: str, code: str) -> CatalogEntry:
    """The catalogue entry with this kind and code, or a 404 problem."""
    entry = get_entry(session, kind=kind, code=code)
    if entry is None:
        raise NotFound(
            f"GB/T 47678.5-2026 lists no {kind} with code {code}", code="catalog_entry_not_found"
        )
    return entry


def entry_with_standards(session: Session, *, kind: str, code: str) -> CatalogEntry:
    """An entry with its case standards loaded, for the detail page."""
    query = (
        select(CatalogEntry)
        .where(CatalogEntry.kind == kind, CatalogEntry.code == code)
        .options(selectinload(CatalogEntry.standards).selectinload(CaseStandard.matter))
    )
    entry = session.scalars(query).one_or_none()
    if entry is None:
        raise NotFound(
            f"GB/T 47678.5-2026 lists no {kind} with code {code}", code="catalog_entry_not_found"
        )
    return entry


def search_entries(
    session: Session,
    *,
    kind: str | None = None,
    major: str | None = None,
    q: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[Sequence[CatalogEntry], int]:
    """Entries whose code starts with, or whose name or keywords contain, ``q``; and their count."""
    query = select(CatalogEntry)
    if kind:
        query = query.where(CatalogEntry.kind == kind)
    if major:
        query = query.where(CatalogEntry.major_code == major)
    if q and q.strip():
        text = q.strip()
        query = query.where(
            CatalogEntry.code.startswith(text, autoescape=True)
            | CatalogEntry.name.contains(text, autoescape=True)
            | CatalogEntry.keywords.contains(text, autoescape=True)
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(CatalogEntry.kind.desc(), CatalogEntry.code)
    items = session.scalars(ordered.offset((page - 1) * size).limit(size)).all()
    return items, total


def legacy_to_new(old: str) -> str:
    """The 2026 matter code of a GB/T 30428.2-2013 event code ``MM-NN``: classes 01–05 → 06–10.

    The subclass number is kept (01-36 → 06036); class 05 突发事件 keeps only 05-07 and 05-08.
    """
    match = LEGACY_CODE.fullmatch(old.strip())
    if match is None:
        raise InvalidInput(
            f"{old!r} is not a GB/T 30428.2-2013 event code: expected MM-NN with MM 01–05",
            code="invalid_legacy_code",
        )
    major, minor = match.groups()
    if major != "05":
        return f"{int(major) + 5:02d}0{minor}"
    if match.group(0) in EMERGENCY_SUCCESSORS:
        return EMERGENCY_SUCCESSORS[match.group(0)]
    raise NotFound(
        f"Legacy emergency event {match.group(0)} has no matter in GB/T 47678.5-2026",
        code="legacy_code_not_in_catalogue",
    )


def new_to_legacy(code: str) -> str:
    """The GB/T 30428.2-2013 event code ``MM-NN`` of a 2026 matter of classes 06–10."""
    match = MATTER_CODE.fullmatch(code.strip())
    if match is None:
        raise InvalidInput(
            f"{code!r} is not a 2026 matter code of classes 06–10 (e.g. 09005)",
            code="invalid_matter_code",
        )
    major, minor = match.groups()
    if major != "10":
        return f"{int(major) - 5:02d}-{minor}"
    for old, new in EMERGENCY_SUCCESSORS.items():
        if new == match.group(0):
            return old
    raise NotFound(f"Matter {code} has no legacy event code", code="no_legacy_counterpart")


def resolve_legacy(session: Session, *, old: str) -> CatalogEntry:
    """The 2026 matter a legacy event code maps to; 404 when the 2026 list dropped it."""
    code = legacy_to_new(old)
    entry = get_entry(session, kind="matter", code=code)
    if entry is None:
        raise NotFound(
            f"Legacy event code {old.strip()} maps to {code}, absent from GB/T 47678.5-2026",
            code="legacy_code_not_in_catalogue",
            mapped_code=code,
        )
    return entry


def _standards_query() -> Any:
    return (
        select(CaseStandard)
        .join(CaseStandard.matter)
        .options(contains_eager(CaseStandard.matter))
        .order_by(CatalogEntry.code, CaseStandard.id)
    )


def list_standards(session: Session, *, matter_code: str | None = None) -> Sequence[CaseStandard]:
    """All case standards (处置标准), in matter-code order, optionally of one matter."""
    query = _standards_query()
    if matter_code:
        query = query.where(CatalogEntry.code == matter_code)
    result: Sequence[CaseStandard] = session.scalars(query).all()
    return result


def get_standard(session: Session, *, standard_id: int) -> CaseStandard:
    """One case standard with its matter, or a 404 problem."""
    standard = session.scalars(_standards_query().where(CaseStandard.id == standard_id)).first()
    if standard is None:
        raise NotFound(f"No case standard with id {standard_id}", code="case_standard_not_found")
    result: CaseStandard = standard
    return result


def standard_for(
    session: Session, *, kind: str, code: str, variant: str | None = None
) -> CaseStandard | None:
    """The standard a case of this matter follows: the named variant, else the matter's default."""
    if kind != "matter":
        return None
    query = _standards_query().where(CatalogEntry.kind == "matter", CatalogEntry.code == code)
    if variant is None:
        query = query.where(CaseStandard.is_default.is_(True))
    else:
        query = query.where(CaseStandard.variant == variant)
    found: CaseStandard | None = session.scalars(query).first()
    return found


def create_standard(
    session: Session, *, data: StandardCreate, by: Actor, now: datetime
) -> CaseStandard:
    """Add a case standard (one variant) to a matter; the first one of a matter is its default."""
    matter = get_entry(session, kind="matter", code=data.matter_code)
    if matter is None:
        raise InvalidInput(
            f"GB/T 47678.5-2026 lists no matter with code {data.matter_code}",
            code="unknown_matter",
        )
    _refuse_taken_variant(session, matter_id=matter.id, variant=data.variant)
    fields = data.model_dump(exclude={"matter_code", "is_default"})
    standard = CaseStandard(matter=matter, is_default=False, **fields)
    standard.stamp_created(by.ref, now)
    session.add(standard)
    session.flush()
    if data.is_default:
        _make_default(session, standard)
    else:
        ensure_default(session, matter_id=matter.id)
    mark_changed(session, now=now)
    return standard


def update_standard(
    session: Session, *, standard_id: int, changes: StandardPatch, by: Actor, now: datetime
) -> CaseStandard:
    """Change a case standard; the actor and time are recorded on the row."""
    standard = get_standard(session, standard_id=standard_id)
    fields = changes.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in fields.items() if value is None)
    if nulls:
        raise InvalidInput(
            "These fields cannot be null: " + ", ".join(nulls),
            code="null_not_allowed",
            fields=nulls,
        )
    wants_default = fields.pop("is_default", None)
    if fields.get("variant", standard.variant) != standard.variant:
        _refuse_taken_variant(session, matter_id=standard.matter_id, variant=fields["variant"])
    for name, value in fields.items():
        setattr(standard, name, value)
    standard.stamp_updated(by.ref, now)
    session.flush()
    if wants_default is not None:
        set_default_flag(session, standard=standard, is_default=wants_default)
    mark_changed(session, now=now)
    audit(
        session, actor=by, action="case_standard.update", entity="case_standard",
        entity_id=standard.id, detail=changes.model_dump(mode="json", exclude_unset=True), now=now,
    )  # fmt: skip
    return standard


def delete_standard(session: Session, *, standard_id: int, by: Actor, now: datetime) -> None:
    """Remove a case standard; if it was the default, another variant of the matter takes over."""
    standard = get_standard(session, standard_id=standard_id)
    matter_id, label = standard.matter_id, f"{standard.matter.code} {standard.variant}"
    session.delete(standard)
    session.flush()
    ensure_default(session, matter_id=matter_id)
    mark_changed(session, now=now)
    audit(
        session, actor=by, action="case_standard.delete", entity="case_standard",
        entity_id=standard_id, detail={"standard": label}, now=now,
    )  # fmt: skip


def set_default_flag(session: Session, *, standard: CaseStandard, is_default: bool) -> None:
    """Make a standard its matter's default, or hand the default to another variant."""
    if is_default:
        _make_default(session, standard)
    elif standard.is_default:
        standard.is_default = False
        session.flush()
        ensure_default(session, matter_id=standard.matter_id, avoid_id=standard.id)


def find_standard(session: Session, *, matter_id: int, variant: str) -> CaseStandard | None:
    """The standard of a matter with this variant name, if any."""
    query = select(CaseStandard).where(
        CaseStandard.matter_id == matter_id, CaseStandard.variant == variant
    )
    return session.scalars(query).one_or_none()


def _refuse_taken_variant(session: Session, *, matter_id: int, variant: str) -> None:
    if find_standard(session, matter_id=matter_id, variant=variant) is not None:
        raise Conflict(
            f"This matter already has a standard for the situation {variant!r}",
            code="case_standard_variant_exists",
        )


def _make_default(session: Session, standard: CaseStandard) -> None:
    """Clear the matter's other default first, so the one-default index never sees two."""
    session.execute(
        update(CaseStandard)
        .where(
            CaseStandard.matter_id == standard.matter_id,
            CaseStandard.id != standard.id,
            CaseStandard.is_default.is_(True),
        )
        .values(is_default=False)
    )
    standard.is_default = True
    session.flush()


def ensure_default(session: Session, *, matter_id: int, avoid_id: int | None = None) -> None:
    """Give a matter without a default one: its oldest variant, ``avoid_id`` only as last resort."""
    query = select(CaseStandard).where(CaseStandard.matter_id == matter_id)
    standards = session.scalars(query.order_by(CaseStandard.id)).all()
    if not standards or any(s.is_default for s in standards):
        return
    others = [s for s in standards if s.id != avoid_id]
    (others or standards)[0].is_default = True
    session.flush()
